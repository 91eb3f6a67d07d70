"""A real Prometheus (Debian's ``prometheus``) serving what exporters would have scraped.

The contract spoken is Prometheus' own HTTP API (``/api/v1/query``, ``/api/v1/query_range``,
``/-/ready``): the binary itself answers, over TSDB blocks written from a simulated cluster
(``tests/fakes/gpu_cluster.py``) — no scraping, no fake responses.

``write_openmetrics()`` renders what DCGM exporter (``DCGM_FI_DEV_GPU_UTIL``), AMD's
device-metrics-exporter (``gpu_gfx_activity``, pod labels as ``exported_pod``/
``exported_namespace`` next to the exporter's own ``pod``/``namespace``, resource
``amd_com_gpu``) and kube-state-metrics would have exposed at every minute; both vendors' copies
describe the same pods, so one TSDB serves both. ``backfill()`` turns it into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics`` (``build()`` does both) and
``PrometheusServer`` serves them on a free 127.0.0.1 port::

    with PrometheusServer(build(gpu_cluster.generate(), tmp_path)) as prom:
        httpx.get(prom.url + "/api/v1/query", params={"query": "up"})
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from tests.fakes import free_port
from tests.fakes.gpu_cluster import Dataset, Pod

# -- OpenMetrics -------------------------------------------------------------------------------


def _labels(**kv) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items() if v is not None) + "}"


def _gpu_segments(ds: Dataset) -> dict[tuple[str, int], list[tuple[int, int, Pod | None]]]:
    """Per GPU, its time line as (start, end, pod or None) segments within the data."""
    busy: dict[tuple[str, int], list[tuple[int, int, Pod]]] = defaultdict(list)
    for pod in ds.pods:
        if pod.run_start is None or pod.gpus == 0:
            continue
        for gi, gpu in enumerate(pod.gpu_ids):
            busy[(pod.node, gpu)].append((pod.run_start, min(pod.run_end, ds.minutes), pod))
    out = {}
    for node in ds.nodes:
        for gpu in range(node.gpus):
            segs, t = [], node.start
            for s, e, pod in sorted(busy[(node.name, gpu)], key=lambda x: x[0]):
                if s > t:
                    segs.append((t, s, None))
                if e > s:
                    segs.append((s, e, pod))
                t = max(t, e)
            if t < ds.minutes:
                segs.append((t, ds.minutes, None))
            out[(node.name, gpu)] = segs
    return out


def write_openmetrics(ds: Dataset, path: Path, vendors: tuple[str, ...] = ("nvidia", "amd"),
                      window: tuple[int, int] | None = None) -> int:
    """Write the metrics of ``ds`` (only minutes in ``window``, default all) as OpenMetrics
    text; returns the number of samples."""
    count = 0
    ts = [ds.ts(m) for m in range(ds.minutes + 1)]
    first, end = window or (0, ds.minutes)
    end = min(end, ds.minutes)

    with open(path, "w", buffering=1 << 20) as f:
        w = f.write

        def series(prefix: str, start: int, stop: int, value) -> None:
            nonlocal count
            start, stop = max(start, first), min(stop, end)
            if stop <= start:
                return
            if callable(value):
                w("".join(f"{prefix} {value(m)} {ts[m]}\n" for m in range(start, stop)))
            else:
                w("".join(f"{prefix} {value} {ts[m]}\n" for m in range(start, stop)))
            count += stop - start

        segments = _gpu_segments(ds)
        for vendor in vendors:
            if vendor == "nvidia":
                w("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n")
            else:
                w("# TYPE gpu_gfx_activity gauge\n")
            for (node, gpu), segs in segments.items():
                for s, e, pod in segs:
                    k8s = {}
                    if pod is not None:
                        gi = pod.gpu_ids.index(gpu)
                        k8s = {"namespace": pod.namespace, "pod": pod.name,
                               "container": pod.gpu_container(gi)}
                    if vendor == "nvidia":
                        prefix = "DCGM_FI_DEV_GPU_UTIL" + _labels(
                            gpu=str(gpu), UUID=f"GPU-{node}-{gpu}", device=f"nvidia{gpu}",
                            modelName="NVIDIA H100 80GB HBM3", Hostname=node,
                            job="dcgm-exporter", instance=f"{node}:9400", **k8s)
                    else:
                        prefix = "gpu_gfx_activity" + _labels(
                            gpu_id=str(gpu), hostname=node, card_model="MI300X",
                            serial_number=f"SN-{node}-{gpu}", job="amd-device-metrics-exporter",
                            namespace="kube-amd-gpu", pod=f"amd-metrics-{node}",
                            exported_namespace=k8s.get("namespace"),
                            exported_pod=k8s.get("pod"),
                            exported_container=k8s.get("container"))
                    if pod is None:
                        series(prefix, s, e, 0)
                    else:
                        series(prefix, s, e, lambda m, p=pod, g=gi: p.util(g, m))

        ksm = {"job": "kube-state-metrics", "instance": "ksm:8080"}
        resources = {"nvidia": "nvidia_com_gpu", "amd": "amd_com_gpu"}
        w("# TYPE kube_node_status_capacity gauge\n")
        for node in ds.nodes:
            for vendor in vendors:
                series("kube_node_status_capacity" + _labels(node=node.name, resource=resources[vendor],
                                                             unit="integer", **ksm),
                       node.start, end, node.gpus)
            series("kube_node_status_capacity" + _labels(node=node.name, resource="cpu",
                                                         unit="core", **ksm), node.start, end, 96)

        # like kube-state-metrics, `node` is empty until the pod is scheduled: a new series then
        w("# TYPE kube_pod_container_resource_requests gauge\n")
        for pod in ds.pods:
            scheduled = pod.run_start if pod.run_start is not None else pod.deleted
            for container, g in pod.containers:
                for node, s0, s1 in ((None, pod.created, scheduled),
                                     (pod.node or None, scheduled, pod.deleted)):
                    base = dict(namespace=pod.namespace, pod=pod.name, uid=pod.uid,
                                container=container, node=node)
                    series("kube_pod_container_resource_requests" +
                           _labels(**base, resource="cpu", unit="core", **ksm), s0, s1, 4)
                    if g:
                        for vendor in vendors:
                            series("kube_pod_container_resource_requests" +
                                   _labels(**base, resource=resources[vendor], unit="integer",
                                           **ksm), s0, s1, g)

        w("# TYPE kube_pod_status_phase gauge\n")
        for pod in ds.pods:
            for phase in ("Pending", "Running", "Succeeded", "Failed", "Unknown"):
                series("kube_pod_status_phase" + _labels(namespace=pod.namespace, pod=pod.name,
                                                         uid=pod.uid, phase=phase, **ksm),
                       pod.created, pod.deleted,
                       lambda m, p=pod, ph=phase: 1 if p.phase(m) == ph else 0)

        w("# TYPE kube_pod_owner gauge\n")
        for pod in ds.pods:
            ctl = "<none>" if pod.owner_kind == "<none>" else "true"
            series("kube_pod_owner" + _labels(namespace=pod.namespace, pod=pod.name, uid=pod.uid,
                                              owner_kind=pod.owner_kind, owner_name=pod.owner_name,
                                              owner_is_controller=ctl, **ksm),
                   pod.created, pod.deleted, 1)

        w("# TYPE kube_replicaset_owner gauge\n")
        for rs in ds.replicasets:
            owner = ("Deployment", rs.deployment, "true") if rs.deployment else ("<none>", "<none>", "<none>")
            series("kube_replicaset_owner" + _labels(namespace=rs.namespace, replicaset=rs.name,
                                                     owner_kind=owner[0], owner_name=owner[1],
                                                     owner_is_controller=owner[2], **ksm),
                   rs.created, rs.deleted, 1)

        w("# TYPE kube_pod_annotations gauge\n")
        for pod in ds.pods:
            series("kube_pod_annotations" + _labels(
                namespace=pod.namespace, pod=pod.name, uid=pod.uid,
                annotation_primus_safe_user_name=pod.user, annotation_project=pod.project, **ksm),
                pod.created, pod.deleted, 1)

        w("# TYPE kube_pod_labels gauge\n")
        for pod in ds.pods:
            series("kube_pod_labels" + _labels(namespace=pod.namespace, pod=pod.name, uid=pod.uid,
                                               label_team=pod.team, **ksm),
                   pod.created, pod.deleted, 1)
        w("# EOF\n")
    return count


def backfill(om_path: Path, tsdb_dir: Path, max_block: str = "162h") -> None:
    """``promtool tsdb create-blocks-from openmetrics`` into ``tsdb_dir``.

    promtool cuts blocks at multiples of the block range (2h, 6h, 18h, 54h, 162h, ...) and
    parses the whole file once per block, so a large range keeps it to one or two passes.
    """
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics",
         f"--max-block-duration={max_block}", str(om_path), str(tsdb_dir)],
        capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool failed: {proc.stderr.strip()[-2000:]}")


class PrometheusServer:
    """The Debian ``prometheus`` binary on 127.0.0.1, no scrape targets, over a TSDB dir."""

    def __init__(self, tsdb_dir: Path, lookback: str = "1m", port: int | None = None,
                 scrape_targets: dict[str, str] | None = None, scrape_interval: str = "1m"):
        """``scrape_targets``: job name -> ``host:port`` whose ``/metrics`` it scrapes every
        ``scrape_interval`` (none by default: the backfilled TSDB is the data)."""
        self.scrape_targets = dict(scrape_targets or {})
        self.scrape_interval = scrape_interval
        self.tsdb_dir = Path(tsdb_dir)
        self.lookback = lookback
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self._work = Path(tempfile.mkdtemp(prefix="prom-"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "PrometheusServer":
        import httpx

        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        cfg = self._work / "prometheus.yml"
        jobs = "".join(f"  - job_name: {job}\n    static_configs: [{{targets: ['{target}']}}]\n"
                       for job, target in self.scrape_targets.items())
        cfg.write_text(f"global:\n  scrape_interval: {self.scrape_interval}\n"
                       f"  scrape_timeout: {self.scrape_interval}\n"
                       + (f"scrape_configs:\n{jobs}" if jobs else "scrape_configs: []\n"))
        self._log = open(self._work / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={self.tsdb_dir}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             f"--query.lookback-delta={self.lookback}",
             "--storage.tsdb.retention.time=100y", "--query.timeout=5m"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return (self._work / "prometheus.log").read_text()[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self._work, ignore_errors=True)

    def __enter__(self) -> "PrometheusServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def build(ds: Dataset, workdir: Path, vendors: tuple[str, ...] = ("nvidia", "amd")) -> Path:
    """OpenMetrics + backfill into ``workdir/tsdb``; the text file is removed afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    om = workdir / "metrics.om"
    write_openmetrics(ds, om, vendors)
    tsdb = workdir / "tsdb"
    backfill(om, tsdb)
    os.unlink(om)
    return tsdb
