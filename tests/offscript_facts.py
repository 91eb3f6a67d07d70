"""Plain facts about a demo store for the off-script set (tests/test_offscript.py): names,
aggregates, daily averages, coverage and workload lists by SQL over the SQLite file, following
product.md §4 word for word and nothing of gpureport's code, so that expectations are computed
independently of the implementation under test.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

SQL_TS = "%Y-%m-%d %H:%M:%S.%f"  # how the SQLite demo store keeps naive-UTC timestamps


def ts(text: str) -> datetime:
    """An ISO 8601 instant (``Z`` or an offset) as aware UTC."""
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(timezone.utc)


def sql_ts(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(tzinfo=None).strftime(SQL_TS)


class Facts:
    """Names and figures of one store, by SQL. Follows product.md §4 word for word."""

    def __init__(self, path: Path):
        self.path = path
        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def rows(self, sql: str, *args) -> list[tuple]:
        return self.con.execute(sql, args).fetchall()

    @cached_property
    def names(self) -> dict[str, set[str]]:
        users = {r[0] for r in self.rows(
            "SELECT DISTINCT json_extract(annotations, '$.\"primus-safe.user.name\"') FROM gpu_workload "
            "WHERE coalesce(parent_uid, '') = ''") if r[0]}
        return {
            "users": users | {"(unknown)", "unknown"},
            "namespaces": {r[0] for r in self.rows("SELECT DISTINCT namespace FROM namespace_gpu_hourly_stats")},
            "workloads": {r[0] for r in self.rows("SELECT DISTINCT workload_name FROM workload_gpu_hourly_stats")},
        }

    def is_name(self, kind: str, name: Any) -> bool:
        if not isinstance(name, str):
            return False
        if kind == "workloads" and "*" in name:  # a family: its stem starts >= 2 real workloads
            stem = name.split("*", 1)[0]
            return bool(stem) and sum(w.startswith(stem) for w in self.names[kind]) >= 2
        return name in self.names[kind]

    def aggregate(self, cluster: str, namespace: str | None, start: datetime, end: datetime) -> dict:
        """GPU-hours, GPU-hour weighted utilization, allocation rate, idle GPU-hours, rows."""
        span = (sql_ts(start), sql_ts(end))
        if namespace:
            (n, a, au, u), = self.rows(
                "SELECT count(*), sum(allocated_gpu_count), sum(allocated_gpu_count * avg_utilization), "
                "sum(avg_utilization) FROM namespace_gpu_hourly_stats WHERE cluster_name = ? AND "
                "namespace = ? AND stat_hour >= ? AND stat_hour < ?", cluster, namespace, *span)
        else:
            (n, a, au, u), = self.rows(
                "SELECT count(*), sum(allocated_gpu_count), sum(allocated_gpu_count * avg_utilization), "
                "sum(avg_utilization) FROM cluster_gpu_hourly_stats WHERE cluster_name = ? AND "
                "stat_hour >= ? AND stat_hour < ?", cluster, *span)
        (cap,), = self.rows("SELECT sum(total_gpu_capacity) FROM cluster_gpu_hourly_stats WHERE "
                            "cluster_name = ? AND stat_hour >= ? AND stat_hour < ?", cluster, *span)
        if not n:
            return {"rows": 0, "gpu_hours": None, "avg_utilization": None, "allocation_rate": None,
                    "idle_gpu_hours": None}
        util = au / a if a else u / n
        return {"rows": n, "gpu_hours": a, "avg_utilization": util,
                "allocation_rate": a / cap * 100 if cap else None,
                "idle_gpu_hours": a - au / 100}

    def daily(self, cluster: str, namespace: str | None, start: datetime, end: datetime
              ) -> list[tuple[str, float]]:
        """(YYYY-MM-DD, average utilization) of every full UTC day inside [start, end)."""
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if day < start:
            day += timedelta(days=1)
        out = []
        while day + timedelta(days=1) <= end:
            f = self.aggregate(cluster, namespace, day, day + timedelta(days=1))
            if f["avg_utilization"] is not None:
                out.append((day.date().isoformat(), f["avg_utilization"]))
            day += timedelta(days=1)
        return out

    def coverage_hours(self, cluster: str, start: datetime | None = None,
                       end: datetime | None = None) -> int:
        where, args = "cluster_name = ?", [cluster]
        if start is not None:
            where, args = where + " AND stat_hour >= ? AND stat_hour < ?", args + [sql_ts(start), sql_ts(end)]
        (n,), = self.rows(f"SELECT count(DISTINCT stat_hour) FROM cluster_gpu_hourly_stats WHERE {where}", *args)
        return n

    def workloads(self, spec: dict, period: tuple[datetime, datetime] | None, now: datetime) -> list[dict]:
        """Top-level workloads (gpu_workload, lens.md §8) matching a history spec; the cluster of a
        workload is the cluster of its hourly rows (the demo keeps every cluster in one store)."""
        rows = self.rows(
            "SELECT g.name, g.namespace, g.kind, g.status, g.created_at, g.end_at, "
            "json_extract(g.annotations, '$.\"primus-safe.user.name\"'), "
            "(SELECT min(w.cluster_name) FROM workload_gpu_hourly_stats w "
            " WHERE w.namespace = g.namespace AND w.workload_name = g.name) "
            "FROM gpu_workload g WHERE coalesce(g.parent_uid, '') = ''")
        out = []
        for name, ns, kind, status, created, ended, user, cluster in rows:
            created = datetime.fromisoformat(created).replace(tzinfo=timezone.utc)
            ended = datetime.fromisoformat(ended).replace(tzinfo=timezone.utc) if ended else None
            if created > now or (spec.get("cluster") and cluster != spec["cluster"]) \
                    or (spec.get("namespace") and ns != spec["namespace"]) \
                    or (spec.get("kind") and kind != spec["kind"]) \
                    or (spec.get("status") and status != spec["status"]) \
                    or (spec.get("user") and user != spec["user"]):
                continue
            window = spec.get("window", "ran")
            if window != "now":
                start, end = period
                if window == "ended" and not (ended is not None and start <= ended < end):
                    continue
                if window == "started" and not start <= created < end:
                    continue
                if window == "ran" and not (created < end and (ended is None or ended > start)):
                    continue
            out.append({"name": name, "namespace": ns, "kind": kind, "status": status,
                        "cluster": cluster, "user": user,
                        "duration_hours": ((ended or now) - created).total_seconds() / 3600})
        if spec.get("sort") == "gpu_hours" and out:
            start, end = period
            hours = dict(((r[0], r[1]), r[2]) for r in self.rows(
                "SELECT namespace, workload_name, sum(allocated_gpu_count) FROM workload_gpu_hourly_stats "
                "WHERE stat_hour >= ? AND stat_hour < ? GROUP BY 1, 2", sql_ts(start), sql_ts(end)))
            for w in out:
                w["gpu_hours"] = hours.get((w["namespace"], w["name"]), 0.0)
        return out
