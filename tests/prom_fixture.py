"""A synthetic GPU cluster as Prometheus would have scraped it, and a real Prometheus over it.

``generate()`` simulates pods minute by minute on nodes of 8 GPUs: Deployments (through
ReplicaSets, with a rollout mid-hour), Jobs of 1-8 GPUs starting and stopping mid-hour, one with
two GPU containers, PyTorchJobs of several 8-GPU workers, pods without an owner, a ReplicaSet
without a Deployment, CPU-only pods, pods that wait Pending for GPUs and linger Succeeded after
they end, users as the annotation ``primus-safe.user.name`` (some pods have none), a ``team``
label and a ``project`` annotation, and a node that joins mid-hour.

``write_openmetrics()`` renders what DCGM exporter (``DCGM_FI_DEV_GPU_UTIL``), AMD's
device-metrics-exporter (``gpu_gfx_activity``, pod labels as ``exported_pod``/
``exported_namespace`` next to the exporter's own ``pod``/``namespace``, resource
``amd_com_gpu``) and kube-state-metrics would have exposed at every minute; both vendors' copies
describe the same pods, so one TSDB serves both. ``backfill()`` turns it into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics`` and ``PrometheusServer`` serves them.

``expected()`` computes the hourly figures straight from the simulated pods (not from the
metrics text, not through PromQL): what the ingest must reproduce.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

UTC = timezone.utc
ANCHOR = datetime(2026, 11, 14, tzinfo=UTC)  # a Saturday, in the past of the test clock
USER_KEY = "primus-safe.user.name"
NAMESPACES = {
    "ml-team": ["alice", "bob", "carol"],
    "cv-team": ["dave", "erin"],
    "nlp-team": ["frank", "grace", "heidi"],
    "research": ["ivan", "judy"],
}


@dataclass
class Node:
    name: str
    gpus: int
    start: int  # first minute it reports capacity


@dataclass
class Pod:
    namespace: str
    name: str
    owner_kind: str  # what kube_pod_owner says: ReplicaSet, Job, PyTorchJob, <none>
    owner_name: str
    workload_kind: str  # the top-level workload the ingest must find
    workload_name: str
    containers: list[tuple[str, int]]  # (container, GPUs); a CPU-only pod has 0 GPUs
    created: int  # minutes since the anchor; the pod exists in [created, deleted)
    run_start: int | None  # Running in [run_start, run_end); None = never scheduled
    run_end: int
    deleted: int
    user: str | None = None
    team: str | None = None
    project: str | None = None
    node: str = ""
    gpu_ids: list[int] = field(default_factory=list)
    base: float = 50.0
    seed: int = 0

    @property
    def gpus(self) -> int:
        return sum(g for _, g in self.containers)

    @property
    def uid(self) -> str:
        return hashlib.md5(f"{self.namespace}/{self.name}".encode()).hexdigest()

    def util(self, gi: int, minute: int) -> int:
        """Utilization (integer percent) of the pod's gi-th GPU at a minute; deterministic."""
        wave = 8.0 * math.sin((minute + self.seed % 97) / 37.0 + gi)
        noise = ((minute * 2654435761 + gi * 40503 + self.seed * 977) >> 7) % 2001 / 100.0 - 10.0
        return max(0, min(100, int(round(self.base + wave + noise))))

    def running(self, minute: int) -> bool:
        return self.run_start is not None and self.run_start <= minute < self.run_end

    def phase(self, minute: int) -> str:
        if self.run_start is None or minute < self.run_start:
            return "Pending"
        return "Running" if minute < self.run_end else "Succeeded"

    def gpu_container(self, gi: int) -> str:
        for name, g in self.containers:
            if gi < g:
                return name
            gi -= g
        return self.containers[-1][0]


@dataclass
class ReplicaSet:
    namespace: str
    name: str
    deployment: str | None
    created: int
    deleted: int


@dataclass
class Dataset:
    start: datetime
    minutes: int
    nodes: list[Node]
    pods: list[Pod]
    replicasets: list[ReplicaSet]
    step: int = 60

    def ts(self, minute: int) -> int:
        return int(self.start.timestamp()) + minute * self.step

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.minutes * self.step)

    @property
    def total_gpus(self) -> int:
        return sum(n.gpus for n in self.nodes)

    def hours(self) -> list[datetime]:
        return [self.start + timedelta(hours=h) for h in range(self.minutes // 60)]


def _suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


class _Scheduler:
    """First fit onto nodes; a pod that does not fit waits (Pending) for GPUs to free up."""

    def __init__(self, nodes: list[Node], horizon: int):
        self.nodes = nodes
        self.horizon = horizon
        self.free_at = {n.name: [n.start] * n.gpus for n in nodes}

    def place(self, pod: Pod, want: int, duration: int | None) -> None:
        need = pod.gpus
        if need == 0:
            pod.run_start = want
            pod.run_end = want + duration if duration else self.horizon
            return
        best = None
        for node in self.nodes:
            free = sorted(range(node.gpus), key=lambda i: (self.free_at[node.name][i], i))
            chosen = free[:need]
            if len(chosen) < need:
                continue
            at = max(want, max(self.free_at[node.name][i] for i in chosen))
            if best is None or at < best[0]:
                best = (at, node.name, sorted(chosen))
        if best is None or best[0] >= self.horizon:
            pod.run_start = None  # never scheduled within the data
            pod.run_end = pod.deleted
            return
        at, node, chosen = best
        pod.node, pod.gpu_ids, pod.run_start = node, chosen, at
        pod.run_end = min(at + duration, self.horizon + 10_000) if duration else self.horizon + 10_000
        for i in chosen:
            self.free_at[node][i] = pod.run_end


def generate(*, gpus: int = 48, days: float = 3.5, seed: int = 7,
             start: datetime = ANCHOR) -> Dataset:
    """A deterministic cluster of ``gpus`` GPUs (8 per node) over ``days`` days at 1 minute."""
    rng = random.Random(seed)
    minutes = int(days * 24 * 60)
    n_nodes = max(2, math.ceil(gpus / 8))
    nodes = [Node(f"gpu-node-{i:03d}", 8, 0) for i in range(n_nodes)]
    nodes[-1].start = minutes // 3 + 27  # joins mid-hour, a day or so in
    sched = _Scheduler(nodes, minutes)
    pods: list[Pod] = []
    replicasets: list[ReplicaSet] = []
    scale = gpus / 48.0

    def new_pod(ns, name, owner_kind, owner_name, wk, wn, containers, want, duration,
                user, base, linger=None, pending_before=None) -> Pod:
        created = max(0, want - (pending_before if pending_before is not None else rng.randint(0, 3)))
        pod = Pod(namespace=ns, name=name, owner_kind=owner_kind, owner_name=owner_name,
                  workload_kind=wk, workload_name=wn, containers=containers, created=created,
                  run_start=None, run_end=0, deleted=0, user=user,
                  team=None if rng.random() < 0.15 else ns.split("-")[0],
                  project=rng.choice(["llm", "vision", "speech", None]),
                  base=base, seed=rng.randint(0, 10**6))
        pod.deleted = minutes + 10_000
        sched.place(pod, want, duration)
        if pod.run_start is not None and pod.run_end < minutes + 10_000:
            pod.deleted = pod.run_end + (linger if linger is not None else rng.randint(1, 6))
        pods.append(pod)
        return pod

    def base_util() -> float:
        r = rng.random()
        return rng.uniform(1, 6) if r < 0.2 else rng.uniform(25, 60) if r < 0.5 else rng.uniform(70, 95)

    # Deployments: long-running inference, rolled out once mid-hour (new ReplicaSet, new pods)
    n_deploy = max(2, round(3 * scale))
    for d in range(n_deploy):
        ns = list(NAMESPACES)[d % len(NAMESPACES)]
        dep = f"serve-{ns.split('-')[0]}-{d}"
        user = rng.choice(NAMESPACES[ns]) if d % 3 else None
        replicas, per_pod = rng.choice([(1, 1), (2, 1), (2, 2)]), None
        replicas, per_pod = replicas
        rollout = rng.randint(minutes // 4, 3 * minutes // 4) // 60 * 60 + rng.randint(5, 50)
        base = base_util()
        rs_old = ReplicaSet(ns, f"{dep}-{_suffix(rng, 9)}", dep, 0, rollout + 5)
        rs_new = ReplicaSet(ns, f"{dep}-{_suffix(rng, 9)}", dep, rollout, minutes + 10_000)
        replicasets += [rs_old, rs_new]
        for _ in range(replicas):
            new_pod(ns, f"{rs_old.name}-{_suffix(rng)}", "ReplicaSet", rs_old.name, "Deployment",
                    dep, [("server", per_pod)], 0, rollout + 2, user, base, linger=1,
                    pending_before=0)
            new_pod(ns, f"{rs_new.name}-{_suffix(rng)}", "ReplicaSet", rs_new.name, "Deployment",
                    dep, [("server", per_pod)], rollout, None, user, base)

    # a ReplicaSet nobody owns: the ReplicaSet is the workload
    rs_orphan = ReplicaSet("research", f"scratch-{_suffix(rng, 9)}", None, 100, minutes + 10_000)
    replicasets.append(rs_orphan)
    new_pod("research", f"{rs_orphan.name}-{_suffix(rng)}", "ReplicaSet", rs_orphan.name,
            "ReplicaSet", rs_orphan.name, [("main", 1)], 130, 600, "judy", base_util())

    # Jobs: arrivals through the whole period, mid-hour starts, 10 min .. 9 h
    job_id = 0
    t = 0
    mean_gap = 45 / scale
    while t < minutes:
        t += max(1, int(rng.expovariate(1 / mean_gap)))
        if t >= minutes:
            break
        ns = rng.choice(list(NAMESPACES))
        user = rng.choice(NAMESPACES[ns]) if rng.random() > 0.1 else None
        job_id += 1
        name = f"train-{ns.split('-')[0]}-{job_id:04d}"
        gpus_job = rng.choice([1, 1, 2, 4, 8])
        containers = [("trainer", gpus_job)]
        if job_id % 9 == 0 and gpus_job >= 2:
            containers = [("trainer", gpus_job // 2), ("evaluator", gpus_job - gpus_job // 2)]
        duration = rng.choice([10, 17, 25, 40, 70, 95, 180, 300, 540])
        new_pod(ns, f"{name}-{_suffix(rng)}", "Job", name, "Job", name, containers, t,
                duration, user, base_util())
        if job_id % 11 == 0:  # a CPU-only pod: must never count
            new_pod(ns, f"prep-{job_id:04d}-{_suffix(rng)}", "Job", f"prep-{job_id:04d}",
                    "Job", f"prep-{job_id:04d}", [("prep", 0)], t, 30, user, 0)

    # PyTorchJobs: several 8-GPU workers owned directly by the PyTorchJob
    n_pt = max(2, round(days * scale))
    for k in range(n_pt):
        ns = rng.choice(["ml-team", "nlp-team"])
        user = rng.choice(NAMESPACES[ns])
        name = f"pretrain-{k:03d}"
        want = rng.randint(0, minutes - 300)
        duration = rng.randint(120, 600)
        base = base_util()
        for w in range(rng.choice([2, 3])):
            new_pod(ns, f"{name}-worker-{w}", "PyTorchJob", name, "PyTorchJob", name,
                    [("pytorch", 8)], want, duration, user, base)

    # bare pods: no owner, the pod is the workload
    for k in range(max(2, round(2 * scale))):
        ns = rng.choice(list(NAMESPACES))
        name = f"notebook-{k}"
        new_pod(ns, name, "<none>", "<none>", "Pod", name, [("jupyter", 1)],
                rng.randint(0, minutes - 200), rng.randint(60, 400), rng.choice(NAMESPACES[ns]),
                rng.uniform(1, 10))

    return Dataset(start=start, minutes=minutes, nodes=nodes, pods=pods, replicasets=replicasets)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrometheusServer:
    """The Debian ``prometheus`` binary on 127.0.0.1, no scrape targets, over a TSDB dir."""

    def __init__(self, tsdb_dir: Path, lookback: str = "1m", port: int | None = None):
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
        cfg.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n")
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


# -- the figures the ingest must reproduce ---------------------------------------------------


@dataclass
class Acc:
    """GPU-samples and utilization sums of one entity in one hour, plus per-minute ratios."""

    gpu_samples: float = 0.0
    util_sum: float = 0.0
    util_count: int = 0
    pod_samples: int = 0
    per_minute: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0, 0, 0]))

    def add(self, minute: int, gpus: int, utils: list[int]) -> None:
        self.gpu_samples += gpus
        self.util_sum += sum(utils)
        self.util_count += len(utils)
        self.pod_samples += 1
        pm = self.per_minute[minute]
        pm[0] += sum(utils)
        pm[1] += len(utils)
        pm[2] += 1
        pm[3] += gpus

    def row(self, n: int = 60, grid: int = 5) -> dict:
        """Means over all 60 samples; max/min of the GPU-weighted utilization over the samples
        at minutes grid-1, 2·grid-1, ... of the hour (the ingest's 5-minute spread grid),
        widened to include the mean, or the mean when the grid saw nothing."""
        util = self.util_sum / self.util_count if self.util_count else 0.0
        ratios = [s / c for m, (s, c, _, _) in self.per_minute.items() if c and m % grid == grid - 1]
        pods = [p for _, _, p, _ in self.per_minute.values()]
        return {
            "allocated": self.gpu_samples / n, "util": util,
            "umax": max(ratios + [util]), "umin": min(ratios + [util]),
            "pods": self.pod_samples / n, "samples": len(self.per_minute),
            "rmax": max(pods, default=0), "rmin": min(pods, default=0),
        }


def expected(ds: Dataset, label_keys: tuple[str, ...] = ("team",),
             annotation_keys: tuple[str, ...] = ("project",)) -> dict:
    """Hourly figures per entity computed from the simulated pods (60 samples per hour)."""
    hours = len(ds.hours())
    cluster = defaultdict(Acc)
    namespace = defaultdict(Acc)
    workload = defaultdict(Acc)
    label = defaultdict(Acc)
    users = defaultdict(lambda: defaultdict(float))
    for pod in ds.pods:
        if pod.run_start is None or pod.gpus == 0:
            continue
        for m in range(pod.run_start, min(pod.run_end, hours * 60)):
            h = m // 60
            utils = [pod.util(gi, m) for gi in range(pod.gpus)]
            cluster[h].add(m, pod.gpus, utils)
            namespace[(h, pod.namespace)].add(m, pod.gpus, utils)
            wkey = (h, pod.namespace, pod.workload_kind, pod.workload_name)
            workload[wkey].add(m, pod.gpus, utils)
            users[wkey][pod.user or ""] += pod.gpus
            dims = [("annotation", USER_KEY, pod.user)]
            dims += [("annotation", k, getattr(pod, k)) for k in annotation_keys]
            dims += [("label", k, getattr(pod, k)) for k in label_keys]
            for dtype, key, value in dims:
                label[(h, dtype, key, value or "unknown")].add(m, pod.gpus, utils)
    capacity = {}
    for h in range(hours):
        per_minute = [sum(n.gpus for n in ds.nodes if n.start <= m) for m in range(h * 60, h * 60 + 60)]
        capacity[h] = int(sum(per_minute) / 60)

    def dominant(wkey):
        named = [(v, u) for u, v in users[wkey].items() if u]
        return min(named, key=lambda x: (-x[0], x[1]))[1] if named else None

    return {
        "hours": ds.hours(),
        "capacity": capacity,
        "cluster": {h: a.row() for h, a in cluster.items()},
        "namespace": {k: a.row() for k, a in namespace.items()},
        "workload": {k: {**a.row(), "user": dominant(k)} for k, a in workload.items()},
        "label": {k: a.row() for k, a in label.items()},
    }
