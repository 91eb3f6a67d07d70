"""Benchmark: ``gpureport serve`` under load — N rule-path questions at concurrency C.

Starts ``gpureport serve`` on the small demo store (seed 42, now = Thursday 2026-11-19 12:00
UTC, built under /tmp/gpureport-serve-bench unless ``--db`` names one) as a separate process,
or loads a server that is already running (``--url``, with ``--pid`` for its memory). Then
sends N requests, C at a time, cycling through rule-path questions (realtime, trend, ranking,
drill-down, compare, in English and Chinese; no LLM), to ``/api/gpu-analysis/chat`` or to
``/chat/stream`` (a stream counts as done at its ``done`` event; its time to the first event is
reported too). Prints throughput, P50/P95/P99 latency, errors and the server's peak RSS
(``VmHWM`` of its process and workers), the server's CPU time per request (``/proc``: a
figure that holds on a machine other work shares, where throughput and latency do not), and
— from the server's own ``/metrics`` — how many milliseconds of a request went to data-source
calls and to each tool (the agent's work, as against the service's); writes the same as JSON
with ``--json``.

    python bench/serve_load.py [-n 1000] [-c 16] [--path chat|stream|both] [--workers 1]
                               [--no-save] [--url URL --pid PID] [--json FILE]

Only 127.0.0.1 is loaded; every run is bounded by N and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-11-19T12:00:00Z"
QUESTIONS = [
    ("How many GPUs are in use right now?", "gpu-east"),
    ("What is the GPU utilization trend over the last 7 days?", "gpu-west"),
    ("Which namespaces wasted the most GPU hours last week?", None),
    ("Why is ml-team's utilization lower this week than last week?", "gpu-east"),
    ("现在集群有多少GPU在使用？", None),
    ("Compare GPU usage between ml-team and cv-team", "gpu-east"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_store(path: Path) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "reporter.cli", "--now", NOW, "demo", "--seed", "42",
                        "--profile", "small", "--reset"], check=True, cwd=ROOT,
                       env={**os.environ, "GPUREPORT_HOME": str(path.parent),
                            "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    return path


def start_server(db: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    home = db.parent
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GPUREPORT_HOME": str(home),
           "GPUREPORT_DATABASE_URL": f"sqlite:///{db}",
           "GPUREPORT_STATE_DATABASE_URL": f"sqlite:///{home / 'bench-state.db'}",
           "GPUREPORT_SERVER_THREADS": os.environ.get("GPUREPORT_SERVER_THREADS", "8")}
    log = open(home / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "reporter.cli", "--now", NOW, "serve", "--port",
                             str(port), "--workers", str(workers)], env=env, cwd=home,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not become ready; see {home / 'serve.log'}")


def server_pids(pid: int) -> list[int]:
    """``pid`` and its children (uvicorn's workers)."""
    try:
        return [pid, *(int(p) for p in
                       Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server's processes so far: what a request costs, whatever
    else the machine is running (its wall-clock figures are not)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in server_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def peak_rss_mb(pid: int) -> float:
    """VmHWM of ``pid`` and its children (uvicorn's workers), in MiB."""
    total = 0
    for p in server_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


async def one(client: httpx.AsyncClient, url: str, path: str, i: int, save: bool) -> tuple:
    query, cluster = QUESTIONS[i % len(QUESTIONS)]
    body = {"query": query, "save_history": save}
    if cluster:
        body["cluster_name"] = cluster
    started = time.perf_counter()
    first = None
    try:
        if path == "chat":
            r = await client.post(url + "/api/gpu-analysis/chat", json=body)
            ok = r.status_code == 200 and bool(r.json().get("answer"))
        else:
            ok = False
            async with client.stream("POST", url + "/api/gpu-analysis/chat/stream",
                                     json=body) as r:
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        first = first or time.perf_counter() - started
                        event = json.loads(line[6:])
                        if event["type"] == "error":
                            break
                        if event["type"] == "done":
                            ok = r.status_code == 200
        return ok, time.perf_counter() - started, first, i % len(QUESTIONS)
    except httpx.HTTPError:
        return False, time.perf_counter() - started, first, i % len(QUESTIONS)


async def load(url: str, path: str, n: int, concurrency: int, save: bool) -> dict:
    results: list[tuple] = []
    queue = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        async def worker() -> None:
            for i in queue:
                results.append(await one(client, url, path, i, save))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    times = sorted(t for ok, t, _, _ in results if ok)
    firsts = sorted(f for ok, _, f, _ in results if ok and f is not None)

    def q(values: list[float], p: float) -> float | None:
        return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1) if values else None

    return {"path": path, "requests": n, "concurrency": concurrency,
            "errors": sum(1 for ok, _, _, _ in results if not ok), "wall_s": round(wall, 2),
            "throughput_rps": round(n / wall, 1), "p50_ms": q(times, 0.50),
            "p95_ms": q(times, 0.95), "p99_ms": q(times, 0.99),
            "mean_ms": round(statistics.fmean(times) * 1000, 1) if times else None,
            "first_event_p50_ms": q(firsts, 0.50),
            # which questions make the tail: P50/P95 of each question of the cycle
            "per_question": {QUESTIONS[k][0]: {"p50_ms": q(ts, 0.50), "p95_ms": q(ts, 0.95)}
                             for k in range(len(QUESTIONS))
                             for ts in [sorted(t for ok, t, _, j in results if ok and j == k)]}}


def scrape(url: str) -> dict[str, float]:
    """``name{labels}`` -> value of the server's ``/metrics`` (sums and counts only)."""
    out: dict[str, float] = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line.startswith("gpureport_") and ("_sum" in line or "_count" in line):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def breakdown(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """Mean milliseconds per request spent in data-source calls (all methods) and in each
    tool, from the server's own histograms: what of a request is the agent's work."""
    def per_request(prefix: str) -> dict[str, float]:
        got: dict[str, float] = {}
        for key, value in after.items():
            if key.startswith(prefix) and "_sum" in key:
                label = key[key.index("{") + 1:-1].split('"')[1] if "{" in key else ""
                got[label] = got.get(label, 0.0) + value - before.get(key, 0.0)
        return {k: round(v * 1000 / n, 1) for k, v in sorted(got.items()) if v > 0}

    return {"source_ms_per_request": round(sum(per_request("gpureport_source_seconds").values()), 1),
            "tool_ms_per_request": per_request("gpureport_tool_seconds"),
            "request_ms_mean": round(sum(per_request("gpureport_request_seconds").values()), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("--path", choices=("chat", "stream", "both"), default="both")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-save", action="store_true", help="save_history=false (no checkpoints)")
    ap.add_argument("--db", type=Path, default=Path("/tmp/gpureport-serve-bench/gpureport.db"))
    ap.add_argument("--url", help="load this running server instead of starting one")
    ap.add_argument("--pid", type=int, help="the running server's pid (for its memory)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if not 1 <= args.n <= 100_000 or not 1 <= args.concurrency <= 256:
        raise SystemExit("-n must be 1..100000 and -c 1..256")

    proc = None
    url, pid = args.url, args.pid
    if url is None:
        proc, url = start_server(demo_store(args.db), args.workers)
        pid = proc.pid
    elif not url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("only a server on this machine is loaded")
    out = []
    try:
        asyncio.run(load(url, "chat", min(20, args.n), 4, not args.no_save))  # warm-up
        for path in (("chat", "stream") if args.path == "both" else (args.path,)):
            before, cpu = scrape(url), cpu_seconds(pid) if pid else None
            mine = time.process_time()
            result = asyncio.run(load(url, path, args.n, args.concurrency, not args.no_save))
            result["client_cpu_ms_per_request"] = round((time.process_time() - mine) * 1000
                                                        / args.n, 1)
            result["server"] = breakdown(before, scrape(url), args.n)
            if pid:
                result["server"]["cpu_ms_per_request"] = round(
                    (cpu_seconds(pid) - cpu) * 1000 / args.n, 1)
            result["load_average"] = os.getloadavg()[0]
            result["save_history"] = not args.no_save
            result["workers"] = args.workers
            result["server_peak_rss_mb"] = round(peak_rss_mb(pid), 1) if pid else None
            out.append(result)
            print(f"{path:6} n={result['requests']} c={result['concurrency']}: "
                  f"{result['throughput_rps']} req/s, P50 {result['p50_ms']} ms, "
                  f"P95 {result['p95_ms']} ms, P99 {result['p99_ms']} ms, "
                  f"errors {result['errors']}, server peak RSS {result['server_peak_rss_mb']} MiB"
                  + (f", first event P50 {result['first_event_p50_ms']} ms"
                     if path == "stream" else ""))
            print(f"{'':6} server, per request: {result['server'].get('cpu_ms_per_request')} ms "
                  f"of CPU, {result['server']['request_ms_mean']} ms in all, "
                  f"{result['server']['source_ms_per_request']} ms in data-source calls; "
                  f"tools {result['server']['tool_ms_per_request']}; this client "
                  f"{result['client_cpu_ms_per_request']} ms of CPU per request; load average "
                  f"{result['load_average']:.2f}")
            for question, figures in result["per_question"].items():
                print(f"{'':6} P50 {figures['p50_ms']:>7} ms, P95 {figures['p95_ms']:>7} ms  {question}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0 if all(r["errors"] == 0 for r in out) else 1


if __name__ == "__main__":
    sys.exit(main())
