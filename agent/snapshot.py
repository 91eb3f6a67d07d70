"""The realtime figures of product.md §4: the latest allocation snapshot, now
(``agent.figures.realtime`` is this function).

With no cluster named and several clusters, each cluster's snapshot is read and its namespaces
stay rows of their own with their ``cluster`` (answers.md §4): gpu-east's cv-team 31 and
gpu-west's cv-team 46 are two rows, not one "cv-team 77"; the totals are labelled all clusters.
"""

from __future__ import annotations

from datetime import datetime

from agent import workers
from agent.periods import iso
from agent.sources.base import Source
from agent.sources.snapshots import Snapshot, merge_snapshots


def realtime(source: Source, cluster: str | None, now: datetime) -> dict:
    names = source.clusters() if cluster is None else []
    if len(names) > 1:  # answers.md §4: each cluster's namespaces are rows of their own
        found: list = [None] * len(names)
        for i, snap in workers.run_all([lambda c=c: source.latest_snapshot(c, now)
                                        for c in names], 6):
            found[i] = snap
        snaps = [s for s in found if s is not None]
        merged = merge_snapshots(snaps, None)
        if merged is not None:
            out = _realtime(merged, now)
            out["cluster"] = None
            out["by_namespace"] = sorted(
                ({"name": a.namespace, "namespace": a.namespace, "cluster": sn.cluster,
                  "allocated_gpus": a.allocated_gpus, "utilization": a.utilization,
                  "workload_count": a.workload_count}
                 for sn in snaps for a in sn.by_namespace),
                key=lambda r: (-r["allocated_gpus"], r["cluster"], r["namespace"]))
            out["by_cluster"] = [{"cluster": sn.cluster, "name": sn.cluster, "time": iso(sn.time),
                                  "total_gpus": sn.total_gpus,
                                  "allocated_gpus": sn.allocated_gpus,
                                  "idle_gpus": sn.total_gpus - sn.allocated_gpus,
                                  "allocation_rate": sn.allocation_rate} for sn in snaps]
            return out
    snap = source.latest_snapshot(cluster, now)
    return _realtime(snap, now)


def _realtime(snap: Snapshot | None, now: datetime) -> dict:
    if snap is None:
        return {"time": None, "total_gpus": 0, "allocated_gpus": 0, "allocation_rate": 0.0,
                "by_namespace": [], "age_minutes": None}
    return {
        "time": iso(snap.time),
        "cluster": snap.cluster,
        "total_gpus": snap.total_gpus,
        "allocated_gpus": snap.allocated_gpus,
        "idle_gpus": snap.total_gpus - snap.allocated_gpus,
        "allocation_rate": snap.allocation_rate,
        "age_minutes": (now - snap.time).total_seconds() / 60.0,
        "by_namespace": [
            {"name": a.namespace, "namespace": a.namespace, "allocated_gpus": a.allocated_gpus,
             "utilization": a.utilization, "workload_count": a.workload_count}
            for a in snap.by_namespace
        ],
    }
