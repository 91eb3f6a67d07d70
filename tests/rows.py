"""Rows added to a copy of a demo store, to build the cases the demo does not script."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path


def add_namespace_hours(db: Path, cluster: str, namespace: str,
                        weeks: list[tuple[datetime, float]], hours: int = 10) -> None:
    """Write ``hours`` hourly rows of one GPU at the given utilization from each week's start."""
    rows = []
    for week, util in weeks:
        for h in range(hours):
            hour = (week + timedelta(hours=h)).strftime("%Y-%m-%d %H:%M:%S.%f")
            rows.append((cluster, namespace, hour, 0, 1.0, util, util, util, 1, hour, hour))
    with sqlite3.connect(db) as con:
        con.executemany(
            "INSERT INTO namespace_gpu_hourly_stats (cluster_name, namespace, stat_hour, "
            "total_gpu_capacity, allocated_gpu_count, avg_utilization, max_utilization, "
            "min_utilization, active_workload_count, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
