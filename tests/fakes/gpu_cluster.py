"""A simulated Kubernetes GPU cluster, minute by minute, and the hourly figures it implies.

What the Prometheus fake (``tests/fakes/prometheus.py``) serves is scraped from this cluster;
what ``gpureport ingest prometheus`` must write is computed here from the pods themselves.

``generate()`` simulates pods minute by minute on nodes of 8 GPUs: Deployments (through
ReplicaSets, with a rollout mid-hour), Jobs of 1-8 GPUs starting and stopping mid-hour, one with
two GPU containers, PyTorchJobs of several 8-GPU workers, pods without an owner, a ReplicaSet
without a Deployment, CPU-only pods, pods that wait Pending for GPUs and linger Succeeded after
they end, users as the annotation ``primus-safe.user.name`` (some pods have none), a ``team``
label and a ``project`` annotation, and a node that joins mid-hour. It is deterministic for a
seed.

``expected()`` computes the hourly figures straight from the simulated pods (not from the
metrics text, not through PromQL): what the ingest must reproduce.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

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
