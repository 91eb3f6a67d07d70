"""Lens rows from workloads: hourly workload, namespace, label and cluster rows, snapshots and
the ``gpu_workload`` table, all derived from the same workload list so that the tables agree
hour by hour (namespace = Σ workloads, cluster = Σ namespaces, user/team = Σ their workloads).

A partial hour (start or stop at a 5-minute mark) carries ``allocated = GPUs × minutes/60``
and ``sample_count = minutes/5``. Snapshots: one per hour at HH:30, plus every 5 minutes over
the last ``RECENT_HOURS`` hours, where per-pod lists are filled in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from agent.sources import schema
from reporter.demo.clusters import GROUP_VERSION, Cluster
from reporter.demo.sink import Sink, dumps
from reporter.demo.workloads import Workload, mix

USER_KEY = "primus-safe.user.name"
UNKNOWN_VALUE = "unknown"  # Lens' default_value for a missing annotation
CHUNK_ROWS = 100_000
RECENT_HOURS = 3

ProgressFn = Callable[[str], None]

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


def gpu_workload_rows(sink: Sink, ws: Iterable[Workload], span_start: datetime,
                       now_h: datetime) -> list[tuple]:
    """Top-level rows plus one child Pod per workload (parent_uid = the top-level uid)."""
    rows = []
    aware = span_start.replace(tzinfo=timezone.utc)
    for w in ws:
        created = aware + timedelta(minutes=w.created)
        ended = None if w.end is None else aware + timedelta(minutes=w.end)
        updated = ended or now_h.replace(tzinfo=timezone.utc)
        labels = dumps({"team": w.team, "app": w.app})
        annotations = dumps({USER_KEY: w.user} if w.user else {})
        c, u, e = sink.tstz(created), sink.tstz(updated), sink.tstz(ended)
        rows.append((GROUP_VERSION[w.kind], w.kind, w.ns, w.name, w.uid, "", w.gpus, c, u, None,
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


def _snapshot(running: list[Workload], util: dict[str, float],
              full: bool) -> tuple[int, str]:
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
    return total, dumps({"namespaces": nss, "annotations": ann, "workloads": wls})


def emit_hours(cluster: Cluster, ws: list[Workload], sink: Sink, span_start: datetime,
               hours: int, cluster_seed: int, progress: ProgressFn) -> None:
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
    r = mix(seed + k)
    u1, u2, u3 = (((r >> s) & 0xFFFF) / 65535.0 for s in (0, 16, 32))
    spread = 1.0 + 3.0 * u1
    mx = min(100.0, avg + spread * (0.6 + 0.4 * u2))
    mn = max(0.0, avg - spread * (0.6 + 0.4 * u3))
    p95 = avg + 0.75 * (mx - avg)
    p50 = min(p95, max(mn, avg + (u1 - 0.5) * 0.3 * spread))
    return (name, sh, cap, alloc, alloc / cap * 100.0, avg, mx, mn, p50, p95, 12, written,
            written)


__all__ = ["emit_hours", "gpu_workload_rows", "CHUNK_ROWS", "USER_KEY", "ProgressFn"]
