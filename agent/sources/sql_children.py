"""The children of a scope on the `sql` source: its namespaces, users, workloads or label
values over a period (``children_stats``), and a namespace's users and workloads from one scan
(``users_and_workloads``, what a drill-down reads). ``ChildrenQueries`` is the part of
``SqlSource`` that runs them (it provides ``_targets``, ``_rows``, ``_capacity`` and
``user_annotation``); the statements are ``sql_queries``'.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from agent.errors import SourceError
from agent.sources import sql_queries as q
from agent.sources.base import PeriodStats, Scope, label_dimension
from agent.sources.sql_engine import guard


def stats_of(name: str, row, capacity: float, **extra) -> PeriodStats:
    """A grouped row's additive sums (gpu_hours, weighted, util_sum, rows) as ``PeriodStats``."""
    return PeriodStats(
        name=name,
        gpu_hours=float(row.gpu_hours or 0.0),
        utilized_gpu_hours=float(row.weighted or 0.0) / 100.0,
        utilization_sum=float(row.util_sum or 0.0),
        rows=int(row.rows or 0),
        capacity_gpu_hours=capacity,
        **extra,
    )


@dataclass(frozen=True)
class _Sums:
    """The additive sums of several grouped rows, read as one row (``_stats``)."""

    gpu_hours: float
    weighted: float
    util_sum: float
    rows: int

    @classmethod
    def of(cls, rows: list) -> "_Sums":
        return cls(sum(float(r.gpu_hours or 0) for r in rows),
                   sum(float(r.weighted or 0) for r in rows),
                   sum(float(r.util_sum or 0) for r in rows), sum(int(r.rows or 0) for r in rows))


def _merge(into: dict[tuple, PeriodStats], key: tuple, stats: PeriodStats) -> None:
    """``stats`` under ``key``, added to what another target (a cluster's own database)
    gave for it."""
    into[key] = into[key].add(stats) if key in into else stats


class ChildrenQueries:
    """``SqlSource``'s ``children_stats`` and ``users_and_workloads``."""

    @guard
    def children_stats(self, scope: Scope, child: str, start: datetime, end: datetime,
                       label_key: str | None = None, label_type: str = "label") -> list[PeriodStats]:
        merged: dict[tuple, PeriodStats] = {}
        for t in self._targets(scope.cluster):
            capacity = self._capacity(t, start, end)
            for key, stats in self._children(scope, child, t, start, end, capacity,
                                             label_key, label_type):
                _merge(merged, key, stats)
        return sorted(merged.values(), key=lambda p: p.name)

    @guard
    def users_and_workloads(self, scope: Scope, start: datetime, end: datetime
                            ) -> tuple[list[PeriodStats], list[PeriodStats]]:
        """``children_stats(scope, "user")`` and ``children_stats(scope, "workload")`` of a
        namespace or a label value from one scan (a drill-down reads both): the rows grouped by
        (workload, user) add up to either level exactly, their sums being additive. A workload
        whose rows name several users is that of the greatest name, as ``max()`` in SQL."""
        if scope.namespace is None and scope.kind != "label":
            return (self.children_stats(scope, "user", start, end),
                    self.children_stats(scope, "workload", start, end))
        users: dict[tuple, PeriodStats] = {}
        loads: dict[tuple, PeriodStats] = {}
        for t in self._targets(scope.cluster):
            capacity = self._capacity(t, start, end)
            by_user: dict[str, list] = {}
            by_load: dict[tuple[str, str], list] = {}
            for r in self._rows(t, q.workload_children(scope, "user+workload",
                                                       self.user_annotation,
                                                       t.cluster_filter, start, end)):
                by_user.setdefault(r.u, []).append(r)
                by_load.setdefault((r.namespace, r.workload_name), []).append(r)
            for u, rows in by_user.items():
                _merge(users, (u,), stats_of(
                    u, _Sums.of(rows), capacity,
                    workloads=len({(r.namespace, r.workload_name) for r in rows})))
            for (ns, name), rows in by_load.items():
                kinds = [r.kind for r in rows if r.kind is not None]
                _merge(loads, (ns, name), stats_of(
                    name, _Sums.of(rows), capacity, workloads=1, namespace=ns,
                    kind=max(kinds) if kinds else None, user=max(r.u for r in rows)))
        by_name = (lambda p: p.name)
        return sorted(users.values(), key=by_name), sorted(loads.values(), key=by_name)

    def _children(self, scope, child, t, start, end, capacity, label_key, label_type
                  ) -> Iterator[tuple[tuple, PeriodStats]]:
        cf = t.cluster_filter
        if child == "namespace":
            if scope.kind != "cluster":
                raise SourceError(f"namespaces are children of a cluster, not of a {scope.kind}")
            stmt, counts_stmt = q.namespace_children(cf, start, end)
            counts = dict((r[0], int(r[1])) for r in self._rows(t, counts_stmt))
            for r in self._rows(t, stmt):
                yield (r.namespace,), stats_of(r.namespace, r, capacity,
                                             workloads=counts.get(r.namespace, 0))
            return
        dimension = label_dimension(scope, child, self.user_annotation, label_key, label_type)
        if dimension is not None:
            for r in self._rows(t, q.label_children(*dimension, cf, start, end)):
                yield (r.dimension_value,), stats_of(r.dimension_value, r, capacity)
            return
        if child not in ("user", "workload"):
            raise SourceError(f"cannot list {child} children of a {scope.kind}")
        stmt = q.workload_children(scope, child, self.user_annotation, cf, start, end)
        if child == "user":
            for r in self._rows(t, stmt):
                yield (r.u,), stats_of(r.u, r, capacity, workloads=int(r.n))
            return
        for r in self._rows(t, stmt):
            yield (r.namespace, r.workload_name), stats_of(
                r.workload_name, r, capacity, workloads=1, namespace=r.namespace, kind=r.kind,
                user=r.u)
