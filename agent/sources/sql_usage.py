"""What the `sql` source tells about GPU models and how workloads use what they hold: the
statements behind prices (``gpu_models``) and recommendations (``workload_peaks``,
``office_hours``), and ``UsageQueries``, the part of ``SqlSource`` that runs them.

Kept apart from ``sql_queries``/``sql`` (the figures of product.md §4) because they answer a
different question — is a GPU worth what it costs — and grow with it. Same rules: one grouped
statement per database, additive sums, values bound as parameters.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Select, and_, case, extract, func, inspect, select

from agent.sources import schema as s
from agent.sources.base import OfficeSplit, PeriodStats, WorkloadPeak
from agent.sources.sql_queries import sums, user_join, where


def workload_peaks(user_annotation: str, cf, start: datetime, end: datetime) -> Select:
    """Per workload: Σ sums, max GPUs held in an hour, max hourly peak and average."""
    w = s.workload_hourly
    user, joined = user_join(user_annotation)
    return (select(w.c.namespace, w.c.workload_name, func.max(w.c.workload_type).label("kind"),
                   func.max(user).label("u"),
                   func.max(w.c.allocated_gpu_count).label("held"),
                   func.max(w.c.max_utilization).label("peak"),
                   func.max(w.c.avg_utilization).label("top_avg"),
                   *sums(w.c.allocated_gpu_count, w.c.avg_utilization))
            .select_from(joined).where(*where(w, cf, start, end))
            .group_by(w.c.namespace, w.c.workload_name))


def office_hours(cf, start: datetime, end: datetime, hours: tuple[int, int]) -> Select:
    """Per namespace: the sums of its rows on weekdays within ``hours`` and of the others
    (``extract`` is STRFTIME on SQLite, EXTRACT on PostgreSQL; dow 0 = Sunday on both)."""
    n = s.namespace_hourly
    dow, hour = extract("dow", n.c.stat_hour), extract("hour", n.c.stat_hour)
    office = and_(dow >= 1, dow <= 5, hour >= int(hours[0]), hour < int(hours[1]))

    def part(prefix: str, inside: bool) -> list:
        keep = office if inside else ~office
        alloc = case((keep, n.c.allocated_gpu_count), else_=0.0)
        util = case((keep, n.c.avg_utilization), else_=0.0)
        return [func.coalesce(func.sum(alloc), 0.0).label(f"{prefix}gpu_hours"),
                func.coalesce(func.sum(alloc * util), 0.0).label(f"{prefix}weighted"),
                func.coalesce(func.sum(util), 0.0).label(f"{prefix}util_sum"),
                func.coalesce(func.sum(case((keep, 1), else_=0)), 0).label(f"{prefix}rows")]

    return (select(n.c.namespace, *part("in_", True), *part("out_", False))
            .where(*where(n, cf, start, end)).group_by(n.c.namespace))


def _part(name: str, row, prefix: str, **extra) -> PeriodStats:
    return PeriodStats(name=name, gpu_hours=float(getattr(row, f"{prefix}gpu_hours") or 0.0),
                       utilized_gpu_hours=float(getattr(row, f"{prefix}weighted") or 0.0) / 100.0,
                       utilization_sum=float(getattr(row, f"{prefix}util_sum") or 0.0),
                       rows=int(getattr(row, f"{prefix}rows") or 0), **extra)


class UsageQueries:
    """``SqlSource``'s ``gpu_models``, ``workload_peaks`` and ``office_hours`` (it provides
    ``_targets``, ``_rows``, ``clusters`` and ``user_annotation``)."""

    def gpu_models(self) -> dict[str, str]:
        """A cluster's own Lens database: the most common ``pod_resource.gpu_model``; a store
        gpureport wrote: the ``gpu_model`` its writer noted per cluster."""
        out: dict[str, str] = {}
        for t in self._targets(None):
            tables = set(inspect(t.engine).get_table_names())
            with t.engine.connect() as conn:
                if t.cluster and s.pod_resource.name in tables:
                    pr = s.pod_resource
                    row = conn.execute(
                        select(pr.c.gpu_model).where(func.coalesce(pr.c.gpu_model, "") != "")
                        .group_by(pr.c.gpu_model)
                        .order_by(func.count().desc(), pr.c.gpu_model).limit(1)).first()
                    if row:
                        out[t.cluster] = row[0]
                if s.store_mark.name in tables:
                    for cluster, details in conn.execute(select(s.store_mark.c.cluster,
                                                                s.store_mark.c.details)):
                        try:
                            model = json.loads(details or "{}").get("gpu_model")
                        except (ValueError, AttributeError):
                            model = None
                        if model and (t.cluster is None or cluster == t.cluster):
                            out.setdefault(cluster, str(model))
        return out

    def workload_peaks(self, cluster: str | None, start: datetime,
                       end: datetime) -> list[WorkloadPeak]:
        names = [cluster] if cluster is not None else self.clusters()
        out: list[WorkloadPeak] = []
        for name in names:
            for t in self._targets(name):
                for r in self._rows(t, workload_peaks(self.user_annotation, t.cluster_filter,
                                                      start, end)):
                    st = PeriodStats(name=r.workload_name, gpu_hours=float(r.gpu_hours or 0.0),
                                     utilized_gpu_hours=float(r.weighted or 0.0) / 100.0,
                                     utilization_sum=float(r.util_sum or 0.0), rows=int(r.rows),
                                     workloads=1, namespace=r.namespace, kind=r.kind, user=r.u,
                                     cluster=name)
                    out.append(WorkloadPeak(st, float(r.held or 0.0), float(r.peak or 0.0),
                                            float(r.top_avg or 0.0)))
        return sorted(out, key=lambda p: (p.stats.cluster or "", p.stats.namespace or "",
                                          p.stats.name))

    def office_hours(self, cluster: str | None, start: datetime, end: datetime,
                     office_from: int = 8, office_to: int = 18) -> list[OfficeSplit]:
        names = [cluster] if cluster is not None else self.clusters()
        out: list[OfficeSplit] = []
        for name in names:
            for t in self._targets(name):
                stmt = office_hours(t.cluster_filter, start, end, (office_from, office_to))
                for r in self._rows(t, stmt):
                    out.append(OfficeSplit(name, r.namespace,
                                           _part(r.namespace, r, "in_", cluster=name),
                                           _part(r.namespace, r, "out_", cluster=name)))
        return sorted(out, key=lambda o: (o.cluster or "", o.namespace))


__all__ = ["UsageQueries", "workload_peaks", "office_hours"]
