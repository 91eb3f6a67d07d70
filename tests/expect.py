"""Expected figures computed straight from the rows, independently of gpureport's code.

product.md §4 word for word, in plain Python over rows fetched with sqlite3.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone


def _ts(value) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


def raw_rows(db_url: str, sql: str, *args) -> list[tuple]:
    con = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def expected(db_url: str, table: str, where: str, args: tuple, start: datetime, end: datetime,
             cluster: str = "gpu-east") -> dict:
    """Σ allocated, GPU-hour weighted utilization, allocation rate vs cluster capacity, idle."""
    rows = [r for r in raw_rows(db_url, f"SELECT stat_hour, allocated_gpu_count, avg_utilization "
                                        f"FROM {table} WHERE {where}", *args)
            if start <= _ts(r[0]) < end]
    cap = sum(r[1] for r in raw_rows(db_url, "SELECT stat_hour, total_gpu_capacity FROM "
                                             "cluster_gpu_hourly_stats WHERE cluster_name = ?", cluster)
              if start <= _ts(r[0]) < end)
    gpu_hours = sum(r[1] for r in rows)
    utilized = sum(r[1] * r[2] / 100 for r in rows)
    util = utilized / gpu_hours * 100 if gpu_hours else (sum(r[2] for r in rows) / len(rows) if rows else 0.0)
    return {"gpu_hours": gpu_hours, "avg_utilization": util, "allocation_rate": gpu_hours / cap * 100,
            "idle_gpu_hours": gpu_hours - utilized}
