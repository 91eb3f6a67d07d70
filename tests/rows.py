"""Rows added to a copy of a demo store, to build the cases the demo does not script."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import sqlite_path


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


def add_idle_workload(db_url: str, name: str) -> None:
    """A copy of llm-eval-server's hours (1.5% utilization) under ``name``, on 64 GPUs: the
    most idle workload of gpu-east this week."""
    con = sqlite3.connect(sqlite_path(db_url))
    rows = con.execute("SELECT * FROM workload_gpu_hourly_stats WHERE workload_name='llm-eval-server'").fetchall()
    cols = [c[1] for c in con.execute("PRAGMA table_info(workload_gpu_hourly_stats)")]
    for row in rows:
        d = dict(zip(cols, row))
        d.pop("id")
        d["workload_name"] = name
        d["allocated_gpu_count"] = 64
        con.execute(f"INSERT INTO workload_gpu_hourly_stats ({','.join(d)}) VALUES ({','.join('?' * len(d))})",
                    list(d.values()))
    con.commit()
    con.close()
