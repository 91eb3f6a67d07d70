"""The synthetic demo cluster: Lens-shaped rows with scripted scenarios (product.md §3).

``gpureport demo`` fills a database with what a Lens deployment would have written over about
five weeks (lens.md §5–§8), so that every question, report and alert has something real to
find. The data is built the way Lens builds it, top down from *workloads*: each workload has a
start, an end, a GPU count and a utilization model; hourly rows, snapshots and the
``gpu_workload`` table are all derived from that one list, so the tables agree with each other
hour by hour (namespace = Σ workloads, cluster = Σ namespaces, user/team = Σ their workloads).

Decisions, and why:

* **Determinism.** One ``random.Random(seed)`` draws every structural choice in a fixed order.
  Per-hour jitter comes from a splitmix64 hash of a per-workload seed (itself drawn from that
  ``Random``) and the hour index, so an hour's values do not depend on the order in which they
  are computed (the snapshot pass and the hourly pass agree). No global ``random``, no clock in
  the Lens rows: ``created_at``/``updated_at`` are derived from ``stat_hour``. Only the marker's
  ``generated_at`` is the wall clock: it records when the store was filled and is not Lens data.
* **Stationary background.** Week-over-week questions must find ml-team and nothing else, so
  every other namespace is a set of *slots* with a fixed GPU count and a fixed utilization level
  (a team that always trains on 8 GPUs), refilled by a chain of jobs with short gaps. Weekly and
  diurnal cycles repeat identically every week, so week-over-week changes are small noise.
* **Start/stop at 5-minute marks** (Lens samples every 5 minutes): a partial hour carries
  ``allocated = GPUs × minutes/60`` and ``sample_count = minutes/5`` exactly.
* **Snapshots**: one per cluster per hour at HH:30, plus every 5 minutes over the 3 hours up to
  and including the current hour's start. Per-pod lists and the top-level ``workloads`` map are
  filled only in those recent snapshots (older ones keep namespace and annotation aggregates and
  ``[]``/``{}``): the realtime view needs them, history does not, and the large profile would
  otherwise store hundreds of MB of JSON.
* **Label rows**: annotation ``primus-safe.user.name`` (``unknown`` without one, Lens'
  ``default_value``) and label ``team``. Lens' current job never persists label rows (lens.md §9.6);
  the demo writes them so label questions have data.
* **Writes**: one transaction per chunk (~100k rows of one cluster, cut at an hour boundary) with
  raw ``executemany`` on SQLite and ``COPY`` on PostgreSQL; only workload definitions stay in
  memory, never all rows. Secondary indexes are dropped for the load and rebuilt from
  ``schema.py`` at the end, then ``ANALYZE`` runs so readers' joins get sane plans.
* The marker (``reporter.store_marker``: table ``gpureport_store``, one row per cluster with
  owner ``demo`` and the seed, profile and status as details) is gpureport's own. It is written
  *before* the data, so an interrupted run is still recognised as demo data and ``--reset`` can
  clean it up; a store ingest owns, or a Lens database, is refused.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from agent.errors import DemoError
from agent.periods import floor_hour, week_start
from agent.sources import schema
from agent.text import mask_url, one_line
from reporter import store_marker

USER_KEY = "primus-safe.user.name"
UNKNOWN_VALUE = "unknown"  # Lens' default_value for a missing annotation
MARKER_TABLE = store_marker.MARKER_TABLE
PROFILES = ("small", "large")
CHUNK_ROWS = 100_000
RECENT_HOURS = 3
SCENARIO_NAMESPACE = "ml-team"
SCENARIO_CLUSTER = "gpu-east"
IDLE_SERVER = "llm-eval-server"

ProgressFn = Callable[[str], None]


@dataclass
class DemoSummary:
    """What ``generate`` wrote. ``namespaces`` counts (cluster, namespace) pairs; ``gpus`` is the
    summed capacity of all clusters; ``end`` is the exclusive end of the hourly data (the start of
    the hour containing now); times are aware UTC."""

    clusters: list[str]
    namespaces: int
    gpus: int
    rows: dict[str, int]
    start: datetime
    end: datetime
    scenario_week: datetime


# --------------------------------------------------------------------------------------------
# The cluster as data
# --------------------------------------------------------------------------------------------

TRAIN, INFER, DEV, IDLE, STEADY = "train", "infer", "dev", "idle", "steady"
# class -> (clamp low, clamp high, hourly noise ±, spread above avg, spread below avg)
_CLASS = {
    TRAIN: (70.0, 95.0, 2.0, 4.0, 12.0),
    INFER: (20.0, 70.0, 2.5, 10.0, 10.0),
    DEV: (5.0, 20.0, 2.0, 25.0, 5.0),
    IDLE: (0.0, 3.0, 0.4, 2.0, 1.5),
    STEADY: (40.0, 70.0, 1.0, 6.0, 8.0),
}
_GROUP_VERSION = {
    "PyTorchJob": "kubeflow.org/v1",
    "Job": "batch/v1",
    "Deployment": "apps/v1",
    "Workload": "amd.com/v1",
    "Notebook": "kubeflow.org/v1",
}


@dataclass(frozen=True)
class _Slot:
    """A recurring GPU consumer of a namespace.

    ``always``: one workload that runs through the whole span (a Deployment, a forgotten
    notebook). ``chain``: back-to-back jobs of ``hours`` duration with 5–90 min gaps (longer
    gaps on weekends when ``weekend_quiet``). ``workday``: one interactive session per weekday
    from about 08:00, occasionally one on a weekend day.
    """

    cls: str
    kind: str
    gpus: int
    pattern: str
    count: int = 1
    hours: tuple[int, int] = (12, 48)
    app: str = "job"
    weekend_quiet: bool = False


@dataclass(frozen=True)
class _Ns:
    name: str
    team: str
    users: tuple[str, ...]
    slots: tuple[_Slot, ...]


@dataclass(frozen=True)
class _Cluster:
    name: str
    capacity: int
    namespaces: tuple[_Ns, ...]


def _slot(cls: str, kind: str, gpus: int, pattern: str, count: int = 1, hours=(12, 48),
          app: str = "job", weekend_quiet: bool = False) -> _Slot:
    return _Slot(cls, kind, gpus, pattern, count, tuple(hours), app, weekend_quiet)


_EAST_NAMED = (
    # ml-team's slots are the scripted scenario (see _ml_team); the team label is still needed
    _Ns("ml-team", "ml", ("user_a", "user_b", "user_c"), ()),
    _Ns("cv-team", "cv", ("alice", "bob", "carol", "user_d"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 2, (12, 48), "resnet-train"),
        _slot(TRAIN, "Job", 4, "chain", 2, (3, 12), "detector-eval", weekend_quiet=True),
        _slot(INFER, "Deployment", 4, "always", 1, app="vision-api"),
        _slot(DEV, "Notebook", 1, "workday", 3, app="jupyter"),
    )),
    _Ns("nlp-team", "nlp", ("dave", "erin", "frank", "user_e"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 3, (12, 60), "llama-sft"),
        _slot(INFER, "Deployment", 8, "always", 1, app="vllm-serve"),
        _slot(DEV, "Workload", 2, "workday", 2, app="dev-box"),
    )),
    _Ns("ml-training", "ml-platform", ("grace", "heidi", "ivan"), (
        _slot(TRAIN, "PyTorchJob", 16, "chain", 2, (24, 72), "pretrain"),
        _slot(TRAIN, "PyTorchJob", 8, "chain", 2, (12, 48), "distill"),
        _slot(TRAIN, "Workload", 4, "chain", 2, (6, 24), "sweep"),
    )),
    _Ns("research", "research", ("judy", "mallory", "alice", "olivia"), (
        _slot(IDLE, "Notebook", 4, "always", 1, app="research-notebook"),
        _slot(DEV, "Notebook", 2, "workday", 3, app="explore"),
        _slot(TRAIN, "Job", 4, "chain", 2, (6, 30), "ablation"),
    )),
    _Ns("inference", "serving", ("peggy", "rupert", "user_f"), (
        _slot(INFER, "Deployment", 4, "always", 2, app="chat-api"),
        _slot(INFER, "Deployment", 8, "always", 1, app="embedding-api"),
        _slot(INFER, "Deployment", 2, "always", 1, app="rerank-api"),
        _slot(IDLE, "Deployment", 2, "always", 1, app="canary-api"),
    )),
    _Ns("data-eng", "data", ("sybil", "trent", "bob"), (
        _slot(TRAIN, "Job", 2, "chain", 4, (1, 6), "etl-embed", weekend_quiet=True),
        _slot(DEV, "Workload", 1, "workday", 3, app="pipeline-dev"),
    )),
    _Ns("recsys", "recsys", ("victor", "walter", "erin"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 2, (12, 36), "ctr-model"),
        _slot(INFER, "Deployment", 4, "always", 1, app="ranker"),
    )),
    _Ns("speech", "speech", ("niaj", "olivia", "frank"), (
        _slot(TRAIN, "PyTorchJob", 4, "chain", 3, (8, 40), "whisper-ft"),
        _slot(DEV, "Notebook", 1, "workday", 2, app="jupyter"),
    )),
    _Ns("platform-tools", "platform", ("trent", "user_d"), (
        _slot(IDLE, "Deployment", 1, "always", 2, app="gpu-probe"),
        _slot(TRAIN, "Job", 1, "chain", 3, (1, 4), "burn-in"),
    )),
)

_WEST = _Cluster("gpu-west", 256, (
    _Ns("cv-team", "cv", ("alice", "carol", "user_d"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 5, (12, 48), "segment-train"),
        _slot(INFER, "Deployment", 4, "always", 1, app="vision-api"),
        _slot(DEV, "Notebook", 1, "workday", 2, app="jupyter"),
    )),
    _Ns("nlp-team", "nlp", ("dave", "user_e"), (
        _slot(TRAIN, "PyTorchJob", 8, "chain", 4, (12, 48), "bert-finetune"),
        _slot(DEV, "Workload", 2, "workday", 2, app="dev-box"),
    )),
    _Ns("inference", "serving", ("peggy", "rupert"), (
        _slot(INFER, "Deployment", 4, "always", 4, app="chat-api"),
        _slot(IDLE, "Deployment", 2, "always", 1, app="shadow-api"),
    )),
    _Ns("robotics", "robotics", ("ivan", "heidi", "user_g"), (
        _slot(TRAIN, "Workload", 8, "chain", 3, (8, 36), "policy-rl"),
        _slot(TRAIN, "Job", 2, "chain", 2, (2, 8), "sim-eval", weekend_quiet=True),
    )),
    _Ns("genomics", "genomics", ("grace", "sybil"), (
        _slot(TRAIN, "Job", 4, "chain", 5, (4, 20), "fold-batch"),
        _slot(DEV, "Notebook", 2, "workday", 2, app="jupyter"),
    )),
    _Ns("batch-eval", "eval", ("walter", "victor"), (
        _slot(TRAIN, "Job", 2, "chain", 4, (1, 5), "bench", weekend_quiet=True),
        _slot(IDLE, "Notebook", 2, "always", 1, app="eval-notebook"),
    )),
))

_LAB = _Cluster("gpu-lab", 64, (
    _Ns("research", "research", ("judy", "olivia"), (
        _slot(TRAIN, "Job", 4, "chain", 4, (6, 24), "ablation"),
        _slot(DEV, "Notebook", 2, "workday", 2, app="explore"),
    )),
    _Ns("student-lab", "edu", ("student_1", "student_2", "student_3"), (
        _slot(DEV, "Notebook", 1, "workday", 6, app="course"),
        _slot(TRAIN, "Job", 2, "chain", 3, (2, 10), "homework"),
    )),
    _Ns("sandbox", "sandbox", ("mallory", "niaj"), (
        _slot(IDLE, "Notebook", 2, "always", 1, app="scratch"),
        _slot(TRAIN, "Job", 1, "chain", 3, (1, 6), "smoke-test", weekend_quiet=True),
    )),
))

_AREAS = ("vision", "speech", "nlp", "rl", "bio", "chem", "search", "ads", "robotics", "fraud",
          "maps", "health", "finance", "video", "audio", "music", "games", "weather", "retail",
          "legal", "code", "math", "agents", "safety", "translation", "ocr", "ranking",
          "forecast", "sensors", "climate")
_SUFFIXES = ("lab", "train", "serve", "exp", "dev")
_LARGE_USERS = tuple(f"{n}{i}" for i in range(1, 9) for n in
                     ("amir", "bea", "chen", "dana", "eli", "fay", "gus", "hana", "ion", "jun"))


def _large_namespaces(rng: random.Random) -> tuple[_Ns, ...]:
    """About 145 generated namespaces of many small (1–2 GPU) consumers, for ≥1.5 M rows."""
    out = []
    for area, suffix in [(a, s) for a in _AREAS for s in _SUFFIXES][:145]:
        users = tuple(rng.sample(_LARGE_USERS, 4))
        idle = (_slot(IDLE, "Notebook", 1, "always", 1, app="notebook"),) \
            if rng.random() < 0.3 else ()
        slots = (
            _slot(TRAIN, rng.choice(("PyTorchJob", "Job")), 1, "chain", 7, (4, 24),
                  f"{area}-train"),
            _slot(TRAIN, "PyTorchJob", 2, "chain", 3, (8, 36), f"{area}-big"),
            _slot(TRAIN, "Job", 1, "chain", 3, (1, 4), f"{area}-eval", weekend_quiet=True),
            _slot(INFER, "Deployment", 1, "always", 4, app=f"{area}-api"),
            _slot(DEV, rng.choice(("Notebook", "Workload")), 1, "workday", 3, app="dev"),
            *idle,
        )
        out.append(_Ns(f"{area}-{suffix}", area, users, slots))
    return tuple(out)


def _clusters(profile: str, rng: random.Random) -> tuple[_Cluster, ...]:
    if profile == "large":
        east = _Cluster(SCENARIO_CLUSTER, 4608, _EAST_NAMED + _large_namespaces(rng))
    else:
        east = _Cluster(SCENARIO_CLUSTER, 384, _EAST_NAMED)
    return (east, _WEST, _LAB)


# --------------------------------------------------------------------------------------------
# Workloads
# --------------------------------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64: a cheap, pure per-(workload, hour) random source."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class _W:
    """One top-level workload. Times are minutes from the span start; ``end`` None = running."""

    __slots__ = ("uid", "name", "ns", "kind", "gpus", "start", "end", "user", "team", "app",
                 "cls", "base", "amp", "seed", "status", "pod_uid", "pod_name", "created")

    def stats(self, k: int) -> tuple[float, float, float, float, float]:
        """avg, max, min, p50, p95 utilization of hour index ``k`` (pure in (seed, k))."""
        lo, hi, noise, up, down = _CLASS[self.cls]
        r = _mix(self.seed + k)
        u1 = (r & 0xFFFF) / 65535.0
        u2 = ((r >> 16) & 0xFFFF) / 65535.0
        u3 = ((r >> 32) & 0xFFFF) / 65535.0
        u4 = (r >> 48) / 65535.0
        level = self.base
        if self.cls == INFER:  # diurnal: peak at 15:00 UTC (span starts at 00:00)
            level += self.amp * math.cos(2.0 * math.pi * ((k % 24) - 15) / 24.0)
        avg = level + noise * (2.0 * u1 - 1.0)
        avg = hi if avg > hi else lo if avg < lo else avg
        mx = min(100.0, avg + up * (0.4 + 0.6 * u2))
        mn = max(0.0, avg - down * (0.4 + 0.6 * u3))
        p95 = avg + 0.7 * (mx - avg)
        p50 = min(p95, max(mn, avg + (u4 - 0.5) * 0.2 * (mx - mn)))
        return avg, mx, mn, p50, p95


_K8S_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def _suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(_K8S_CHARS) for _ in range(n))


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class _Builder:
    """Turns slot specs into workloads for one cluster, drawing from the shared Random."""

    def __init__(self, rng: random.Random, span_start: datetime, hours: int,
                 names: set[tuple[str, str]]):
        self.rng, self.span_start, self.hours = rng, span_start, hours
        self.end_min = hours * 60
        self.out: list[_W] = []
        # (namespace, name) taken in *any* cluster: the demo store holds every cluster in one
        # database and gpu_workload has no cluster column, so readers that find a workload's
        # user by namespace and name (lens.md §8) need that pair to be unique store-wide.
        self.names = names

    def add(self, ns: _Ns, kind: str, gpus: int, start: int, end: int | None, user: str | None,
            cls: str, base: float, app: str, name: str | None = None, amp: float = 0.0,
            may_fail: bool = False) -> _W:
        rng = self.rng
        if name is None or (ns.name, name) in self.names:
            stem = name or app
            name = f"{stem}-{_suffix(rng)}"
            while (ns.name, name) in self.names:
                name = f"{stem}-{_suffix(rng)}"
        self.names.add((ns.name, name))
        w = _W()
        w.uid, w.name, w.ns, w.kind, w.gpus = _uid(rng), name, ns.name, kind, gpus
        w.start = start
        w.end = end if end is not None and end <= self.end_min else None
        w.user, w.team, w.app, w.cls, w.base, w.amp = user, ns.team, app, cls, base, amp
        w.seed = rng.getrandbits(62)
        w.created = start
        if w.end is None:
            w.status = "Running"
        else:
            w.status = "Failed" if may_fail and rng.random() < 0.07 else "Done"
        w.pod_uid = _uid(rng)
        w.pod_name = {
            "PyTorchJob": f"{name}-master-0",
            "Notebook": f"{name}-0",
            "Deployment": f"{name}-{_suffix(rng, 10)}-{_suffix(rng)}",
            "Workload": f"{name}-worker-0",
        }.get(kind, f"{name}-{_suffix(rng)}")
        self.out.append(w)
        return w

    def user(self, ns: _Ns) -> str | None:
        """A user of the namespace; about 5% of workloads carry no user annotation."""
        return None if self.rng.random() < 0.05 else self.rng.choice(ns.users)

    def slot(self, ns: _Ns, slot: _Slot) -> None:
        rng = self.rng
        for i in range(1, slot.count + 1):
            if slot.pattern == "always":
                base = self._base(slot.cls)
                amp = rng.uniform(10.0, 18.0) if slot.cls == INFER else 0.0
                name = slot.app if slot.count == 1 else f"{slot.app}-{i}"
                start = -rng.randrange(2, 60) * 1440 - rng.randrange(0, 288) * 5
                self.add(ns, slot.kind, slot.gpus, start, None, self.user(ns), slot.cls, base,
                         slot.app, name=name, amp=amp)
            elif slot.pattern == "chain":
                level = rng.uniform(76.0, 90.0)
                for s, e in self._chain(slot):
                    base = (level + rng.uniform(-2.0, 2.0) if slot.cls == TRAIN
                            else self._base(slot.cls))
                    self.add(ns, slot.kind, slot.gpus, s, e, self.user(ns), slot.cls, base,
                             slot.app, may_fail=True)
            else:  # workday
                for s, e in self._workdays():
                    self.add(ns, slot.kind, slot.gpus, s, e, self.user(ns), slot.cls,
                             self._base(slot.cls), slot.app)

    def _base(self, cls: str) -> float:
        return {TRAIN: lambda: self.rng.uniform(76.0, 90.0),
                INFER: lambda: self.rng.uniform(40.0, 48.0),
                DEV: lambda: self.rng.uniform(8.0, 16.0),
                IDLE: lambda: self.rng.uniform(0.8, 2.4)}[cls]()

    def _chain(self, slot: _Slot) -> Iterable[tuple[int, int]]:
        rng = self.rng
        lo, hi = slot.hours
        t = -1440 - rng.randrange(0, hi * 12 + 1) * 5
        while t < self.end_min:
            dur = rng.randint(lo * 12, hi * 12) * 5
            if t + dur > 0:
                yield t, t + dur
            t += dur
            gap = rng.randint(1, 18) * 5
            if slot.weekend_quiet and _weekday(t + gap) >= 5:
                gap = rng.randint(12, 72) * 5  # fewer jobs on weekends
            t += gap

    def _workdays(self) -> Iterable[tuple[int, int]]:
        rng = self.rng
        for day in range(-1, self.hours // 24 + 1):
            weekend = _weekday(day * 1440) >= 5
            if weekend and rng.random() >= 0.08:
                continue
            s = day * 1440 + 8 * 60 + rng.randrange(0, 31) * 5
            e = s + rng.randrange(48, 121) * 5
            if e > 0 and s < self.end_min:
                yield s, e


def _weekday(minute: int) -> int:
    """ISO weekday index (0 = Monday) of a minute offset; the span starts on a Monday."""
    return (minute // 1440) % 7


def _ml_team(b: _Builder, ns: _Ns, scenario_min: int) -> None:
    """The scripted drop (product.md §3): user_a 28 → 12 two-GPU jobs a week at ~88%, a new idle
    8-GPU ``llm-eval-server`` of user_b from week S, user_b/user_c steady at 52–56%."""
    rng = b.rng
    week = 7 * 1440
    for w0 in range(0, b.end_min, week):
        iso = (b.span_start + timedelta(minutes=w0)).isocalendar().week
        n_a = 28 if w0 < scenario_min else 12
        for i in range(1, n_a + 1):
            b.add(ns, "PyTorchJob", 2, w0, w0 + week, "user_a", TRAIN,
                  88.0 + rng.uniform(-0.5, 0.5), "llm-pretrain",
                  name=f"user-a-train-w{iso:02d}-{i:02d}")
        for i in range(1, 3):
            b.add(ns, "PyTorchJob", 4, w0, w0 + week, "user_b", STEADY, 52.0, "finetune",
                  name=f"user-b-finetune-w{iso:02d}-{i:02d}")
        for i in range(1, 5):
            b.add(ns, "Workload", 4, w0, w0 + week, "user_c", STEADY, 56.0, "rlhf",
                  name=f"user-c-rlhf-w{iso:02d}-{i:02d}")
    b.add(ns, "Deployment", 8, scenario_min, None, "user_b", IDLE, 1.5, IDLE_SERVER,
          name=IDLE_SERVER)


def _build(cluster: _Cluster, rng: random.Random, span_start: datetime, hours: int,
           scenario_min: int, names: set[tuple[str, str]]) -> list[_W]:
    b = _Builder(rng, span_start, hours, names)
    for ns in cluster.namespaces:
        if cluster.name == SCENARIO_CLUSTER and ns.name == SCENARIO_NAMESPACE:
            _ml_team(b, ns, scenario_min)
        for slot in ns.slots:
            b.slot(ns, slot)
    return b.out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

WORKLOAD_COLS = ("cluster_name", "namespace", "workload_name", "workload_type", "stat_hour",
                 "allocated_gpu_count", "requested_gpu_count", "avg_utilization",
                 "max_utilization", "min_utilization", "p50_utilization", "p95_utilization",
                 "avg_gpu_memory_used", "max_gpu_memory_used", "avg_gpu_memory_total",
                 "avg_replica_count", "max_replica_count", "min_replica_count",
                 "workload_status", "sample_count", "owner_uid", "owner_name", "labels",
                 "annotations", "created_at", "updated_at")
NAMESPACE_COLS = ("cluster_name", "namespace", "stat_hour", "total_gpu_capacity",
                  "allocated_gpu_count", "avg_utilization", "max_utilization", "min_utilization",
                  "active_workload_count", "created_at", "updated_at")
LABEL_COLS = ("cluster_name", "dimension_type", "dimension_key", "dimension_value", "stat_hour",
              "allocated_gpu_count", "avg_utilization", "max_utilization", "min_utilization",
              "active_workload_count", "created_at", "updated_at")
CLUSTER_COLS = ("cluster_name", "stat_hour", "total_gpu_capacity", "allocated_gpu_count",
                "allocation_rate", "avg_utilization", "max_utilization", "min_utilization",
                "p50_utilization", "p95_utilization", "sample_count", "created_at", "updated_at")
SNAPSHOT_COLS = ("cluster_name", "snapshot_time", "dimension_type", "dimension_key",
                 "dimension_value", "total_gpu_capacity", "allocated_gpu_count",
                 "allocation_details", "created_at")
GPU_WORKLOAD_COLS = ("group_version", "kind", "namespace", "name", "uid", "parent_uid",
                     "gpu_request", "created_at", "updated_at", "deleted_at", "end_at", "status",
                     "source", "labels", "annotations")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class _Sink:
    """Bulk inserts, one transaction per call: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

    Values arrive already in the driver's form (see ``ts``/``tstz``), because bypassing
    SQLAlchemy's per-row type processing is what makes a million rows take seconds.
    """

    def __init__(self, engine):
        from sqlalchemy import DateTime

        self.engine = engine
        self.pg = engine.dialect.name == "postgresql"
        self.rows: dict[str, int] = {}
        self._sql: dict[tuple, str] = {}
        if not self.pg:
            self._dt = DateTime().dialect_impl(engine.dialect).bind_processor(engine.dialect)

    def ts(self, dt: datetime) -> Any:
        """A naive-UTC timestamp parameter (SQLite stores SQLAlchemy's text form)."""
        return dt if self.pg else self._dt(dt)

    def tstz(self, dt: datetime | None) -> Any:
        if dt is None:
            return None
        return dt if self.pg else self._dt(dt.replace(tzinfo=None))

    def write(self, batches: Sequence[tuple[Any, Sequence[str], list[tuple]]]) -> None:
        batches = [b for b in batches if b[2]]
        if not batches:
            return
        with self.engine.begin() as conn:
            for table, cols, rows in batches:
                if self.pg:
                    self._copy(conn, table, cols, rows)
                else:
                    key = (table.name, tuple(cols))
                    if key not in self._sql:
                        self._sql[key] = str(table.insert().compile(
                            dialect=self.engine.dialect, column_keys=list(cols)))
                    conn.exec_driver_sql(self._sql[key], rows)
                self.rows[table.name] = self.rows.get(table.name, 0) + len(rows)

    @staticmethod
    def _copy(conn, table, cols, rows) -> None:
        from psycopg import sql

        raw = conn.connection.driver_connection
        stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in cols))
        with raw.cursor() as cur, cur.copy(stmt) as cp:
            for r in rows:
                cp.write_row(r)


def _gpu_workload_rows(sink: _Sink, ws: Iterable[_W], span_start: datetime,
                       now_h: datetime) -> list[tuple]:
    """Top-level rows plus one child Pod per workload (parent_uid = the top-level uid)."""
    rows = []
    aware = span_start.replace(tzinfo=timezone.utc)
    for w in ws:
        created = aware + timedelta(minutes=w.created)
        ended = None if w.end is None else aware + timedelta(minutes=w.end)
        updated = ended or now_h.replace(tzinfo=timezone.utc)
        labels = _dumps({"team": w.team, "app": w.app})
        annotations = _dumps({USER_KEY: w.user} if w.user else {})
        c, u, e = sink.tstz(created), sink.tstz(updated), sink.tstz(ended)
        rows.append((_GROUP_VERSION[w.kind], w.kind, w.ns, w.name, w.uid, "", w.gpus, c, u, None,
                     e, w.status, "k8s", labels, annotations))
        rows.append(("v1", "Pod", w.ns, w.pod_name, w.pod_uid, w.uid, w.gpus, c, u, None, e,
                     w.status, "k8s", labels, "{}"))
    return rows


class _Acc:
    """GPU-weighted sums of one bucket (namespace, user or team) in one hour."""

    __slots__ = ("alloc", "util", "mx", "mn", "n")

    def __init__(self) -> None:
        self.alloc = self.util = self.mx = self.mn = 0.0
        self.n = 0

    def add(self, alloc: float, avg: float, mx: float, mn: float) -> None:
        self.alloc += alloc
        self.util += alloc * avg
        self.mx += alloc * mx
        self.mn += alloc * mn
        self.n += 1

    def row(self) -> tuple[float, float, float, float, int]:
        a = self.alloc
        return a, self.util / a, self.mx / a, self.mn / a, self.n


def _snapshot_times(hours: int) -> list[int]:
    """HH:30 of every hour, plus every 5 minutes over the last 3 hours up to now's hour start."""
    end = hours * 60
    recent = set(range(end - RECENT_HOURS * 60 + 5, end + 1, 5))
    return sorted(recent | {k * 60 + 30 for k in range(hours)})


def _snapshot(running: list[_W], util: dict[str, float], full: bool) -> tuple[int, str]:
    nss: dict[str, dict] = {}
    ann: dict[str, list] = {}
    wls: dict[str, dict] = {}
    total = 0
    for w in running:
        u = util[w.uid]
        total += w.gpus
        ns = nss.get(w.ns)
        if ns is None:
            ns = nss[w.ns] = {"allocatedGpu": 0, "utilization": 0.0, "workloadCount": 0,
                              "workloads": []}
        ns["allocatedGpu"] += w.gpus
        ns["utilization"] += u * w.gpus
        ns["workloadCount"] += 1
        key = f"{USER_KEY}:{w.user or UNKNOWN_VALUE}"
        a = ann.get(key)
        if a is None:
            a = ann[key] = {"allocatedGpu": 0, "utilization": 0.0, "workloadCount": 0}
        a["allocatedGpu"] += w.gpus
        a["utilization"] += u * w.gpus
        a["workloadCount"] += 1
        if full:
            ns["workloads"].append({"uid": w.pod_uid, "name": w.pod_name, "namespace": w.ns,
                                    "kind": w.kind, "allocatedGpu": w.gpus, "utilization": u})
            wls[w.uid] = {"uid": w.uid, "name": w.name, "namespace": w.ns, "kind": w.kind,
                          "allocatedGpu": w.gpus, "utilization": u}
    for d in (*nss.values(), *ann.values()):
        d["utilization"] = d["utilization"] / d["allocatedGpu"] if d["allocatedGpu"] else 0.0
    return total, _dumps({"namespaces": nss, "annotations": ann, "workloads": wls})


def _emit(cluster: _Cluster, ws: list[_W], sink: _Sink, span_start: datetime, hours: int,
          cluster_seed: int, progress: ProgressFn) -> None:
    """Hourly rows and snapshots of one cluster, flushed every ~CHUNK_ROWS rows (at an hour
    boundary) in one transaction each, so memory stays flat whatever the profile."""
    order = sorted(ws, key=lambda w: w.start)
    pos, active = 0, []
    snap_times = _snapshot_times(hours)
    si = 0
    recent_from = (hours - RECENT_HOURS) * 60
    name, cap = cluster.name, cluster.capacity
    empty = "{}"
    wrows: list[tuple] = []
    nrows: list[tuple] = []
    lrows: list[tuple] = []
    crows: list[tuple] = []
    srows: list[tuple] = []

    def flush(done: int) -> None:
        sink.write([(schema.workload_hourly, WORKLOAD_COLS, wrows),
                    (schema.namespace_hourly, NAMESPACE_COLS, nrows),
                    (schema.label_hourly, LABEL_COLS, lrows),
                    (schema.cluster_hourly, CLUSTER_COLS, crows),
                    (schema.snapshots, SNAPSHOT_COLS, srows)])
        for rows in (wrows, nrows, lrows, crows, srows):
            rows.clear()
        progress(f"{name}: {done}/{hours} hours")

    for k in range(hours):
        h0, h1 = k * 60, k * 60 + 60
        while pos < len(order) and order[pos].start < h1:
            active.append(order[pos])
            pos += 1
        active = [w for w in active if w.end is None or w.end > h0]
        hour = span_start + timedelta(hours=k)
        sh = sink.ts(hour)
        written = sink.ts(hour + timedelta(hours=1, minutes=3))  # Lens aggregates at ~HH+1:03
        by_ns: dict[str, _Acc] = {}
        by_user: dict[str, _Acc] = {}
        by_team: dict[str, _Acc] = {}
        util: dict[str, float] = {}
        for w in active:
            s = w.start if w.start > h0 else h0
            e = h1 if w.end is None or w.end > h1 else w.end
            minutes = e - s
            alloc = w.gpus * minutes / 60.0
            avg, mx, mn, p50, p95 = w.stats(k)
            util[w.uid] = avg
            wrows.append((name, w.ns, w.name, w.kind, sh, alloc, 0.0, avg, mx, mn, p50, p95,
                          0.0, 0.0, 0.0, 1.0, 1, 1, "", minutes // 5, "", "", empty, empty,
                          written, written))
            for key, d in ((w.ns, by_ns), (w.user or UNKNOWN_VALUE, by_user), (w.team, by_team)):
                acc = d.get(key)
                if acc is None:
                    acc = d[key] = _Acc()
                acc.add(alloc, avg, mx, mn)
        tot = _Acc()
        for ns, acc in by_ns.items():
            a, u, mx, mn, n = acc.row()
            nrows.append((name, ns, sh, 0, a, u, mx, mn, n, written, written))
            tot.alloc += a
            tot.util += a * u
        for dtype, dkey, d in (("annotation", USER_KEY, by_user), ("label", "team", by_team)):
            for value, acc in d.items():
                a, u, mx, mn, n = acc.row()
                lrows.append((name, dtype, dkey, value, sh, a, u, mx, mn, n, written, written))
        crows.append(_cluster_row(name, cap, sh, written, tot, cluster_seed, k))
        while si < len(snap_times) and snap_times[si] < h1:
            t = snap_times[si]
            si += 1
            running = [w for w in active if w.start <= t and (w.end is None or w.end > t)]
            total, details = _snapshot(running, util, t > recent_from)
            st = sink.ts(span_start + timedelta(minutes=t))
            srows.append((name, st, "cluster", "", "", cap, total, details, st))
        if len(wrows) + len(lrows) >= CHUNK_ROWS:
            flush(k + 1)
    # the snapshot at the start of the current hour: what is running "now"
    end = hours * 60
    running = [w for w in active if w.end is None]
    running += [w for w in order[pos:] if w.start <= end and w.end is None]
    total, details = _snapshot(running, {w.uid: w.stats(hours)[0] for w in running}, True)
    st = sink.ts(span_start + timedelta(minutes=end))
    srows.append((name, st, "cluster", "", "", cap, total, details, st))
    flush(hours)


def _cluster_row(name: str, cap: int, sh: Any, written: Any, tot: _Acc, seed: int,
                 k: int) -> tuple:
    """Cluster row; min/max/pXX spread a little around the hour's GPU-weighted mean."""
    alloc = tot.alloc
    if alloc <= 0:
        return (name, sh, cap, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12, written, written)
    avg = tot.util / alloc
    r = _mix(seed + k)
    u1, u2, u3 = (((r >> s) & 0xFFFF) / 65535.0 for s in (0, 16, 32))
    spread = 1.0 + 3.0 * u1
    mx = min(100.0, avg + spread * (0.6 + 0.4 * u2))
    mn = max(0.0, avg - spread * (0.6 + 0.4 * u3))
    p95 = avg + 0.75 * (mx - avg)
    p50 = min(p95, max(mn, avg + (u1 - 0.5) * 0.3 * spread))
    return (name, sh, cap, alloc, alloc / cap * 100.0, avg, mx, mn, p50, p95, 12, written,
            written)


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def span(now: datetime) -> tuple[datetime, datetime, datetime]:
    """(start, end, scenario week S) as aware UTC: start = Monday 4 ISO weeks before now's week,
    end = now truncated to the hour (exclusive), S = Monday of the week containing now − 3 days."""
    now = floor_hour(now)
    return week_start(now) - timedelta(weeks=4), now, week_start(now - timedelta(days=3))


def _engine(url: str):
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception as exc:  # noqa: BLE001
        raise DemoError(f"invalid database URL: {one_line(exc)}") from None
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") \
            and not u.database.startswith("file:"):
        parent = Path(u.database).expanduser().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(f"cannot create {parent}: {exc.strerror or exc}") from None
    engine = create_engine(u)
    if u.get_backend_name() == "sqlite":
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _bulk_pragmas(dbapi_conn, _record) -> None:
            # Per-connection only: skip fsync (an application crash still cannot corrupt the
            # file; a power loss mid-run may, and --reset rebuilds a demo store anyway). The
            # setting does not persist in the file.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous = OFF")
            cur.close()
    return engine


def _prepare(engine, reset: bool, clusters: list[str], values: dict[str, str]) -> None:
    """Refuse foreign data, clear a previous demo when asked, create tables, write the marker."""
    from sqlalchemy import inspect, literal_column, select, text

    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        marks = store_marker.read_marks(conn) or {}
        has_marker = any(m.owner == "demo" for m in marks.values()) or \
            store_marker.LEGACY_DEMO_TABLE in existing
        lens = [t for t in schema.metadata.sorted_tables if t.name in existing]
        filled = [t.name for t in lens
                  if conn.execute(select(literal_column("1")).select_from(t).limit(1)).first()]
        if filled and not has_marker:
            raise DemoError(f"refusing to write demo data: table {filled[0]} already holds rows "
                            "and this is not a gpureport demo store (it may be a real Lens "
                            "database)")
        others = sorted(c for c, m in marks.items() if m.owner != "demo")
        if others:
            raise DemoError(f"refusing to write demo data: the store holds cluster "
                            f"'{others[0]}' ingested from Prometheus; use a database of its own "
                            "for the demo")
        if has_marker and not reset:
            raise DemoError("the store already holds demo data; pass --reset to replace it")
        if lens:
            if engine.dialect.name == "postgresql":
                prep = engine.dialect.identifier_preparer
                conn.execute(text("TRUNCATE " + ", ".join(prep.format_table(t) for t in lens)
                                  + " RESTART IDENTITY"))
            else:
                for t in lens:
                    conn.execute(t.delete())
        schema.metadata.create_all(conn)
        # Bulk load without secondary indexes, then build them once (_build_indexes): sorting
        # millions of rows into an index beats updating seven B-trees row by row. The indexes
        # are recreated from schema.py at the end, and again by the next --reset if a run died.
        for t in schema.metadata.sorted_tables:
            for idx in t.indexes:
                idx.drop(conn, checkfirst=True)
        store_marker.forget(conn, "demo")
        store_marker.write_marks(conn, "demo", clusters, values)


def generate(url: str, *, seed: int = 42, profile: str = "small", now: datetime,
             reset: bool = False, progress: ProgressFn | None = None) -> DemoSummary:
    """Fill ``url`` with the demo clusters; see the module docstring for what and why.

    Raises ``DemoError`` (one line) when the store holds foreign Lens rows, holds demo data and
    ``reset`` is False, or cannot be reached.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if profile not in PROFILES:
        raise DemoError(f"unknown demo profile '{profile}' (choose small or large)")
    if not isinstance(now, datetime):
        raise DemoError("now must be a datetime")
    progress = progress or (lambda _msg: None)
    start, end, scenario = span(now)
    hours = int((end - start).total_seconds() // 3600)
    span_start = start.replace(tzinfo=None)
    scenario_min = int((scenario - start).total_seconds() // 60)
    rng = random.Random(seed)
    clusters = _clusters(profile, rng)
    engine = _engine(url)
    try:
        _prepare(engine, reset, [c.name for c in clusters], {
            "seed": str(seed), "profile": profile, "now": end.isoformat(),
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": "incomplete"})
        sink = _Sink(engine)
        names: set[tuple[str, str]] = set()
        for cluster in clusters:
            ws = _build(cluster, rng, span_start, hours, scenario_min, names)
            cluster_seed = rng.getrandbits(62)
            progress(f"{cluster.name}: {len(ws)} workloads")
            for i in range(0, len(ws), CHUNK_ROWS // 2):
                rows = _gpu_workload_rows(sink, ws[i:i + CHUNK_ROWS // 2], span_start,
                                          end.replace(tzinfo=None))
                sink.write([(schema.gpu_workload, GPU_WORKLOAD_COLS, rows)])
            _emit(cluster, ws, sink, span_start, hours, cluster_seed, progress)
        progress("building indexes")
        with engine.begin() as conn:
            for t in schema.metadata.sorted_tables:
                for idx in t.indexes:
                    idx.create(conn, checkfirst=True)
            # planner statistics: without them SQLite joins gpu_workload to the hourly rows by
            # namespace alone, which turns the user lookup of lens.md §8 quadratic
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
            store_marker.update_details(conn, "demo", status="complete")
    except DemoError:
        raise
    except SQLAlchemyError as exc:
        raise DemoError(f"demo store {mask_url(url)}: {one_line(exc)}") from None
    finally:
        engine.dispose()
    ns_count = sum(len(c.namespaces) for c in clusters)
    return DemoSummary(clusters=[c.name for c in clusters], namespaces=ns_count,
                       gpus=sum(c.capacity for c in clusters), rows=dict(sink.rows),
                       start=start, end=end, scenario_week=scenario)
