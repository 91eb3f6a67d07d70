"""Over time on the ``sql`` source: workload history and daily series (issue 12 item 6).

Workload history: one statement over ``gpu_workload`` (the top-level
workloads: kind, status, start, end, the user annotation) joined to each workload's GPU-hours
in the period from ``workload_gpu_hourly_stats`` — filters, sort, limit and the total count
(``count(*) OVER ()``) all in SQL.

``gpu_workload`` has no cluster column (lens.md §8): a workload's cluster is the cluster of its
hourly rows, so a workload that never ran (no hourly row) belongs to no cluster and is listed
only when no cluster is asked for.

Daily series: the hourly sums of ``sql_queries.series`` grouped by UTC day in SQL (``date()`` on
SQLite, ``date_trunc`` on PostgreSQL), with the hours holding rows that day.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from sqlalchemy import Select, and_, case, distinct, func, literal, or_, select

from agent.periods import naive, utc
from agent.sources import schema as s
from agent.sources import sql_queries as q
from agent.sources.base import UNKNOWN_USER, DailyPoint, HistoryFilter, Scope, WorkloadRun


class Databases(Protocol):
    """What these functions use of ``SqlSource`` (its databases and how it reads them), said
    here so that this module need not import the source that imports it."""

    user_annotation: str

    def _targets(self, cluster: str | None) -> list: ...

    def _rows(self, target, statement) -> list: ...


def history(f: HistoryFilter, cf: str | None, user_annotation: str, start: datetime | None,
            end: datetime, now: datetime, dialect: str) -> Select:
    """Rows (name, namespace, kind, status, created_at, end_at, user, cluster, gpu_hours,
    duration_s, total) of the workloads matching ``f``, sorted, at most ``f.limit``."""
    g, w = s.gpu_workload, s.workload_hourly
    lo = naive(start) if start is not None else None
    in_period = [w.c.stat_hour < naive(end)] + ([w.c.stat_hour >= lo] if lo is not None else [])
    hours = select(w.c.cluster_name.label("cluster"), w.c.namespace.label("ns"),
                   w.c.workload_name.label("nm"),
                   func.coalesce(func.sum(case((and_(*in_period), w.c.allocated_gpu_count),
                                               else_=0.0)), 0.0).label("gpu_hours"))
    if cf is not None:
        hours = hours.where(w.c.cluster_name == cf)
    if f.namespace is not None:
        hours = hours.where(w.c.namespace == f.namespace)
    h = hours.group_by(w.c.cluster_name, w.c.namespace, w.c.workload_name).subquery("h")

    user = func.coalesce(func.nullif(g.c.annotations[user_annotation].as_string(), ""),
                         literal(UNKNOWN_USER))
    stop = func.coalesce(g.c.end_at, naive(now))
    if dialect == "sqlite":
        duration = (func.julianday(stop) - func.julianday(g.c.created_at)) * 86400.0
    else:
        duration = func.extract("epoch", stop - g.c.created_at)
    conds = [func.coalesce(g.c.parent_uid, "") == "", g.c.created_at <= naive(now)]
    for col, value in ((g.c.namespace, f.namespace), (g.c.kind, f.kind), (g.c.status, f.status),
                       (user, f.user)):
        if value is not None:
            conds.append(col == value)
    if f.window == "ended":
        conds += [g.c.end_at.is_not(None), g.c.end_at >= lo, g.c.end_at < naive(end)]
    elif f.window == "started":
        conds += [g.c.created_at >= lo, g.c.created_at < naive(end)]
    elif f.window == "ran":
        conds += [g.c.created_at < naive(end), or_(g.c.end_at.is_(None), g.c.end_at > lo)]
    join = g.join(h, and_(h.c.ns == g.c.namespace, h.c.nm == g.c.name)) if cf is not None \
        else g.outerjoin(h, and_(h.c.ns == g.c.namespace, h.c.nm == g.c.name))
    order = {"gpu_hours": [func.coalesce(h.c.gpu_hours, 0.0).desc()],
             "duration": [duration.desc()]}.get(
        f.sort, [g.c.end_at.desc()] if f.window == "ended" else [g.c.created_at.desc()])
    return (select(g.c.name, g.c.namespace, g.c.kind, g.c.status, g.c.created_at, g.c.end_at,
                   user.label("user"), h.c.cluster,
                   func.coalesce(h.c.gpu_hours, 0.0).label("gpu_hours"),
                   duration.label("duration_s"), func.count().over().label("total"))
            .select_from(join).where(*conds)
            .order_by(*order, g.c.name).limit(f.limit))

def workload_history(src: Databases, f: HistoryFilter, start: datetime | None, end: datetime,
                     now: datetime) -> tuple[int, list[WorkloadRun]]:
    """``Source.workload_history`` over every database of the source (counts added, rows merged)."""
    total, runs = 0, []
    for t in src._targets(f.cluster):
        rows = src._rows(t, history(f, t.cluster_filter, src.user_annotation, start, end, now,
                                    t.engine.dialect.name))
        total += int(rows[0].total) if rows else 0
        runs += [WorkloadRun(r.name, r.namespace, r.kind or "", r.status or "", r.user,
                             t.cluster or r.cluster, utc(_dt(r.created_at)),
                             utc(_dt(r.end_at)) if r.end_at else None, float(r.gpu_hours or 0),
                             float(r.duration_s or 0) / 3600.0) for r in rows]
    key = {"gpu_hours": lambda r: -r.gpu_hours, "duration": lambda r: -r.duration_hours}.get(
        f.sort, lambda r: -(r.end if f.window == "ended" and r.end else r.start).timestamp())
    return total, sorted(runs, key=key)[:f.limit]


def day_of(column, dialect: str):
    """The UTC day an hour belongs to, as the database writes it (one bucket per day)."""
    return func.date(column) if dialect == "sqlite" else func.date_trunc("day", column)


def daily(table, conds: list, joined, dialect: str) -> Select:
    """``series`` summed per UTC day, with the hours holding rows that day."""
    day = day_of(table.c.stat_hour, dialect).label("day")
    stmt = select(day, *q.sums(table.c.allocated_gpu_count, table.c.avg_utilization),
                  func.count(distinct(table.c.stat_hour)).label("hours"))
    if joined is not None:
        stmt = stmt.select_from(joined)
    return stmt.where(*conds).group_by(day)


def daily_capacity(cf, start, end, dialect: str) -> Select:
    c = s.cluster_hourly
    day = day_of(c.c.stat_hour, dialect).label("day")
    return select(day, func.sum(c.c.total_gpu_capacity)).where(*q.where(c, cf, start, end)).group_by(day)


def daily_series(src: Databases, scope: Scope, start: datetime, end: datetime) -> list[DailyPoint]:
    """``Source.daily_series``: one point per UTC day, summed in SQL."""
    points: dict[datetime, DailyPoint] = {}
    for t in src._targets(scope.cluster):
        cf, dialect = t.cluster_filter, t.engine.dialect.name
        table, conds, joined = q.scope_rows(scope, src.user_annotation, cf, start, end)
        for r in src._rows(t, daily(table, conds, joined, dialect)):
            p = points.setdefault(_day(r.day), DailyPoint(time=_day(r.day)))
            p.allocated_gpus += float(r.gpu_hours)
            p.utilized_gpus += float(r.weighted) / 100.0
            p.utilization_sum += float(r.util_sum)
            p.rows += int(r.rows)
            p.hours = max(p.hours, int(r.hours))
        for day, capacity in src._rows(t, daily_capacity(cf, start, end, dialect)):
            if _day(day) in points:
                points[_day(day)].capacity_gpus += float(capacity or 0)
    return [points[k] for k in sorted(points)]


def _day(value) -> datetime:
    """A day bucket (SQLite: '2026-11-05'; PostgreSQL: a timestamp) as aware UTC midnight."""
    return datetime.fromisoformat(str(value)[:10]).replace(tzinfo=timezone.utc)


def _dt(value) -> datetime:
    """A timestamp column as datetime (SQLite may hand back text)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
