"""A small Lens store with a known anomaly, for `ask`, the digest and the `anomaly` alert.

One cluster ``lab`` (capacity 32) with two namespaces, the same every week:

* ``alpha``: ``train-a`` (4 GPUs, ~80 %) and ``serve-a`` (4 GPUs, ~40 %);
* ``beta``: ``train-b`` (8 GPUs, ~70 %).

Utilization follows a small daily wave, identical every week, so the weekly baseline is exact.
With ``inject``, ``train-a`` falls to 5 % for the 6 hours ``EPISODE`` (Wednesday of NOW's week,
10:00–16:00 UTC): ``alpha`` goes from 60 % to 22.5 % (−37.5 pp on its 8 GPUs) and the cluster
from 65 % to 46.25 % (−18.75 pp on 16 GPUs) — 18 utilized GPU-hours lost either way. The rows
of every level are written as Lens writes them: cluster and namespace rows are the GPU-weighted
sums of their workloads' rows.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert

from agent.sources import schema as S
from tests.conftest import NOW

CLUSTER, CAPACITY = "lab", 32
EPISODE = (datetime(2026, 11, 18, 10, tzinfo=NOW.tzinfo), datetime(2026, 11, 18, 16, tzinfo=NOW.tzinfo))
WORKLOADS = (("alpha", "train-a", "PyTorchJob", 4, 80.0, 3.0),
             ("alpha", "serve-a", "Deployment", 4, 40.0, 5.0),
             ("beta", "train-b", "PyTorchJob", 8, 70.0, 2.0))
DROPPED_TO = 5.0
HOUR = timedelta(hours=1)


def utilization(workload: str, t: datetime, inject: bool) -> float:
    ns, name, kind, gpus, level, wave = next(w for w in WORKLOADS if w[1] == workload)
    if inject and workload == "train-a" and EPISODE[0] <= t < EPISODE[1]:
        return DROPPED_TO
    return level + wave * math.sin(2 * math.pi * t.hour / 24)


def build_store(path: Path, *, weeks_of_history: int = 5, inject: bool = True,
                end: datetime = NOW, cluster: str = CLUSTER) -> str:
    """The store at ``path`` (SQLite), hours from ``weeks_of_history`` weeks before NOW's ISO
    week to ``end``; returns its URL. Called again with another ``cluster``, it adds that
    cluster to the same store."""
    monday = (NOW - timedelta(days=NOW.weekday())).replace(hour=0)
    t = monday - timedelta(weeks=weeks_of_history)
    wl, ns_rows, cl = [], [], []
    while t < end:
        hour = t.replace(tzinfo=None)
        sums: dict[str, list[float]] = {}
        for ns, name, kind, gpus, _, _ in WORKLOADS:
            u = utilization(name, t, inject)
            wl.append({"cluster_name": cluster, "namespace": ns, "workload_name": name,
                       "workload_type": kind, "stat_hour": hour, "allocated_gpu_count": gpus,
                       "requested_gpu_count": gpus, "avg_utilization": u, "max_utilization": u,
                       "min_utilization": u, "p50_utilization": u, "p95_utilization": u,
                       "sample_count": 60, "avg_replica_count": 1, "max_replica_count": 1,
                       "min_replica_count": 1, "workload_status": "Running"})
            s = sums.setdefault(ns, [0.0, 0.0, 0])
            s[0] += gpus
            s[1] += gpus * u
            s[2] += 1
        for ns, (gpus, weighted, n) in sums.items():
            u = weighted / gpus
            ns_rows.append({"cluster_name": cluster, "namespace": ns, "stat_hour": hour,
                            "total_gpu_capacity": CAPACITY, "allocated_gpu_count": gpus,
                            "avg_utilization": u, "max_utilization": u, "min_utilization": u,
                            "active_workload_count": n})
        gpus = sum(s[0] for s in sums.values())
        u = sum(s[1] for s in sums.values()) / gpus
        cl.append({"cluster_name": cluster, "stat_hour": hour, "total_gpu_capacity": CAPACITY,
                   "allocated_gpu_count": gpus, "allocation_rate": gpus / CAPACITY * 100.0,
                   "avg_utilization": u, "max_utilization": u, "min_utilization": u,
                   "p50_utilization": u, "p95_utilization": u, "sample_count": 60})
        t += HOUR
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    S.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(S.workload_hourly), wl)
        conn.execute(insert(S.namespace_hourly), ns_rows)
        conn.execute(insert(S.cluster_hourly), cl)
    engine.dispose()
    return url
