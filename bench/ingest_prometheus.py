"""Benchmark: `gpureport ingest prometheus` over N GPUs × D days of backfilled 1-minute data.

    python bench/ingest_prometheus.py --gpus 1000 --days 7            # the issue's target size
    python bench/ingest_prometheus.py --gpus 200 --days 7 --keep /tmp/bench-prom   # reuse later

Steps, each timed: generate the cluster (tests/fakes/gpu_cluster.py: Deployments, Jobs, PyTorchJobs,
...), write OpenMetrics and backfill it with promtool in 18-hour windows (one TSDB block each, so
promtool never holds more than 18 h of text), start Debian's Prometheus over the blocks, run the
ingest into a fresh SQLite store. Printed: wall time of the ingest, the share of it during which
a query to Prometheus was in flight, Prometheus' CPU seconds (from /proc), rows written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes import gpu_cluster, prometheus  # noqa: E402

WINDOW_H = 18  # promtool block range for --max-block-duration=18h


def prometheus_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build_tsdb(ds: gpu_cluster.Dataset, work: Path) -> Path:
    """OpenMetrics + promtool per 18 h window aligned to promtool's block boundaries."""
    tsdb = work / "tsdb"
    t0 = int(ds.start.timestamp())
    window_s = WINDOW_H * 3600
    first = t0 // window_s * window_s
    last = int(ds.end.timestamp())
    b = first
    while b < last:
        m0 = max(0, (b - t0) // 60)
        m1 = min(ds.minutes, (b + window_s - t0) // 60)
        om = work / f"window-{b}.om"
        n = prometheus.write_openmetrics(ds, om, ("nvidia",), window=(m0, m1))
        size = om.stat().st_size / 1e6
        t = time.perf_counter()
        prometheus.backfill(om, tsdb, max_block=f"{WINDOW_H}h")
        om.unlink()
        print(f"  window {m0 // 60:>4}h..{m1 // 60:>4}h: {n:>11,} samples, {size:>7,.0f} MB text, "
              f"promtool {time.perf_counter() - t:5.1f} s", flush=True)
        b += window_s
    return tsdb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gpus", type=int, default=1000)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="work directory to keep (and reuse if it holds a TSDB)")
    ap.add_argument("--chunk-hours", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=None)
    args = ap.parse_args()

    from agent.settings import PrometheusSettings
    from reporter.ingest.prometheus import ingest_prometheus

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-prom-"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    ds = gpu_cluster.generate(gpus=args.gpus, days=args.days, seed=args.seed)
    print(f"cluster: {ds.total_gpus} GPUs on {len(ds.nodes)} nodes, {len(ds.pods):,} pods, "
          f"{ds.minutes // 60} hours at 1 minute (generated in {time.perf_counter() - t:.1f} s)")
    tsdb = work / "tsdb"
    if tsdb.is_dir() and any(tsdb.iterdir()):
        print(f"reusing {tsdb}")
    else:
        t = time.perf_counter()
        build_tsdb(ds, work)
        print(f"backfilled in {time.perf_counter() - t:.1f} s")

    settings = PrometheusSettings(label_keys=["team"], annotation_keys=["project"],
                                  cluster_name="bench")
    if args.chunk_hours:
        settings.chunk_hours = args.chunk_hours
    if args.concurrency:
        settings.concurrency = args.concurrency
    db = work / "store.db"
    if db.exists():
        db.unlink()
    try:
        with prometheus.PrometheusServer(tsdb, lookback="1m") as server:
            cpu0 = prometheus_cpu_seconds(server.proc.pid)
            result = ingest_prometheus(settings, f"sqlite:///{db}", ds.end, url=server.url,
                                       since=ds.start.isoformat(), until=ds.end.isoformat())
            cpu = prometheus_cpu_seconds(server.proc.pid) - cpu0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = ", ".join(f"{v:,} {k}" for k, v in result.rows.items())
    hours = result.hours_written
    print(f"ingest: {hours} hours × {ds.total_gpus} GPUs in {result.seconds:.1f} s "
          f"({result.seconds / max(hours, 1) * 1000:.0f} ms per hour), {result.queries} queries, "
          f"chunks of {result.chunk_hours} h, concurrency {settings.concurrency}")
    print(f"  waiting on Prometheus: {result.prometheus_seconds:.1f} s "
          f"= {result.prometheus_share * 100:.0f} % of the ingest; Prometheus CPU {cpu:.1f} s "
          f"on {os.cpu_count()} cores")
    print(f"  rows: {rows}")


if __name__ == "__main__":
    main()
