"""Workload history on the ``sql`` source: one statement over ``gpu_workload`` (the top-level
workloads: kind, status, start, end, the user annotation) joined to each workload's GPU-hours
in the period from ``workload_gpu_hourly_stats`` — filters, sort, limit and the total count
(``count(*) OVER ()``) all in SQL.

``gpu_workload`` has no cluster column (lens.md §8): a workload's cluster is the cluster of its
hourly rows, so a workload that never ran (no hourly row) belongs to no cluster and is listed
only when no cluster is asked for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, and_, case, func, literal, or_, select

from agent.periods import naive
from agent.sources import schema as s
from agent.sources.base import UNKNOWN_USER, HistoryFilter


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
