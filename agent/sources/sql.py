"""The `sql` source: the Lens tables over SQLAlchemy Core, on SQLite or PostgreSQL.

It only ever reads, so it can be pointed at a production Lens database with a role that may
only SELECT. The statements are built in ``sql_queries``: every figure is one grouped query
that returns additive sums (see ``base.py``); no hourly rows are pulled into Python to be
summed. This module runs them against the right databases and adds the sums up.

Two layouts are supported:

* one database holding several clusters (gpureport's embedded store, filled by ``demo`` or
  ``ingest``): rows are filtered by ``cluster_name``;
* ``databases: {cluster: url}`` — a Lens deployment keeps one database per cluster, whose
  ``cluster_name`` column is whatever the writer called itself, so rows are *not* filtered.

How engines are made and driver errors reported: ``sql_engine``. Text that is not valid UTF-8
in a SQLite file (a name written by another tool) is decoded with
replacement characters: one bad row must not make every question fail.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Sequence

from sqlalchemy import Select, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import NotFound
from agent.names import suggestions
from agent.periods import utc
from agent.sources import schema as s
from agent.sources import sql_history
from agent.sources import sql_queries as q
from agent.sources.sql_engine import Target, guard, read_only_engine
from agent.sources.sql_children import ChildrenQueries, stats_of
from agent.sources.sql_usage import UsageQueries
from agent.sources.base import (
    Coverage,
    DailyPoint,
    HourlyPoint,
    PeriodStats,
    Scope,
    WorkloadInfo,
    WorkloadRun,
)
from agent.sources.snapshots import Snapshot, merge_snapshots, namespace_allocations
from agent.text import mask_url

ANNOTATION = q.ANNOTATION


class SqlSource(ChildrenQueries, UsageQueries):
    label_workloads = True  # a label value's users and workloads: its rows' labels JSON

    def __init__(self, database_url: str, databases: dict[str, str] | None = None,
                 user_annotation: str = "primus-safe.user.name"):
        self.database_url = database_url
        self.database_urls = dict(databases or {})
        self.user_annotation = user_annotation
        self._engines: dict[str, Engine] = {}
        self._cluster_cache: list[str] | None = None
        # overlapping calls pays only with a database server to wait on (agent.workers); a
        # SQLite file's queries are this process's CPU
        self.parallel_calls = any(make_url(u).get_backend_name() != "sqlite"
                                  for u in (self.database_urls.values() or [database_url]))

    # -- plumbing ---------------------------------------------------------------------------

    def describe(self) -> str:
        if self.database_urls:
            return ", ".join(f"{c}={mask_url(u)}" for c, u in self.database_urls.items())
        return mask_url(self.database_url)

    def _engine_for(self, key: str, url: str) -> Engine:
        if key not in self._engines:
            self._engines[key] = read_only_engine(url)
        return self._engines[key]

    def _targets(self, cluster: str | None) -> list[Target]:
        if self.database_urls:
            if cluster is None:
                return [Target(self._engine_for(c, u), None, c)
                        for c, u in self.database_urls.items()]
            if cluster not in self.database_urls:
                raise NotFound("cluster", cluster, suggestions(cluster, self.database_urls))
            return [Target(self._engine_for(cluster, self.database_urls[cluster]), None, cluster)]
        eng = self._engine_for("", self.database_url)
        if cluster is None:
            return [Target(eng, None)]
        known = self.clusters()
        if cluster not in known:
            raise NotFound("cluster", cluster, suggestions(cluster, known))
        return [Target(eng, cluster)]

    def _has_lens_tables(self) -> bool:
        """Whether any database behind this source holds one of the Lens tables at all (an empty
        file and a wrong database are told apart from a Lens database missing one table)."""
        urls = self.database_urls or {"": self.database_url}
        try:
            return any(set(inspect(self._engine_for(k, u)).get_table_names())
                       & set(s.metadata.tables) for k, u in urls.items())
        except SQLAlchemyError:
            return False

    @staticmethod
    def _rows(target: Target, stmt: Select) -> list:
        with target.engine.connect() as conn:
            return list(conn.execute(stmt))

    def close(self) -> None:
        for eng in self._engines.values():
            eng.dispose()
        self._engines.clear()

    @guard
    def ping(self) -> str:
        n = len(self.clusters())
        return f"{self.describe()} ({n} cluster{'s' if n != 1 else ''})"

    # -- metadata -----------------------------------------------------------------------------
    @guard
    def clusters(self) -> list[str]:
        if self.database_urls:
            return sorted(self.database_urls)
        if self._cluster_cache is None:
            eng = self._engine_for("", self.database_url)
            with eng.connect() as conn:
                names = conn.execute(q.cluster_names()).scalars()
                self._cluster_cache = sorted(n for n in names if n)
        return list(self._cluster_cache)

    def _by_cluster(self, cluster, column, table, start, end, *conds) -> dict[str, set[str]]:
        """Distinct ``column`` values per cluster. On a database server they are walked over
        the table's unique index (``sql_queries.walk``: 160 namespaces of five weeks in ~1 ms
        instead of reading their 130,000 rows); SQLite answers a plain DISTINCT faster. A
        database of its own is one cluster, whatever its rows call it."""
        out: dict[str, set[str]] = {}
        for t in self._targets(cluster):
            if t.engine.dialect.name == "sqlite":
                stmt = q.distinct_pairs(column, table, t.cluster_filter, start, end, *conds)
            else:
                names = ([t.cluster_filter] if t.cluster_filter is not None else
                         [r[0] for r in self._rows(t, q.cluster_names_in(table))])
                if not names:
                    continue
                stmt = q.distinct_values(column, table, names, start, end, *conds)
            for name, value in self._rows(t, stmt):
                if value is not None:
                    out.setdefault(t.cluster or name, set()).add(value)
        return out

    def _distinct(self, cluster, column, table, start, end, *conds) -> list[str]:
        found = self._by_cluster(cluster, column, table, start, end, *conds)
        return sorted({v for values in found.values() for v in values})

    @guard
    def namespaces(self, cluster, start, end) -> list[str]:
        t = s.namespace_hourly
        return self._distinct(cluster, t.c.namespace, t, start, end)

    @guard
    def namespaces_by_cluster(self, start, end) -> dict[str, list[str]]:
        t = s.namespace_hourly
        found = self._by_cluster(None, t.c.namespace, t, start, end)
        return {c: sorted(names) for c, names in sorted(found.items())}

    @guard
    def dimension_keys(self, cluster, dimension_type, start, end) -> list[str]:
        t = s.label_hourly
        return self._distinct(cluster, t.c.dimension_key, t, start, end,
                              t.c.dimension_type == dimension_type)

    @guard
    def dimension_values(self, cluster, dimension_type, key, start, end) -> list[str]:
        t = s.label_hourly
        return self._distinct(cluster, t.c.dimension_value, t, start, end,
                              t.c.dimension_type == dimension_type, t.c.dimension_key == key)

    @guard
    def users(self, cluster, start, end, namespace=None) -> list[str]:
        if namespace is None:
            t = s.label_hourly
            found = self._distinct(cluster, t.c.dimension_value, t, start, end,
                                   t.c.dimension_type == ANNOTATION,
                                   t.c.dimension_key == self.user_annotation)
            if found:
                return found
        out: set[str] = set()
        for t in self._targets(cluster):
            stmt = q.users_of_workloads(self.user_annotation, t.cluster_filter, start, end,
                                        namespace)
            out.update(r[0] for r in self._rows(t, stmt))
        return sorted(out)

    @guard
    def find_workload_names(self, cluster: str | None, start: datetime, end: datetime,
                            words: Sequence[str], exact: Sequence[str] = (),
                            limit: int = q.LOOKUP_LIMIT) -> dict[str, list[str]]:
        """Per word, the workload names it may mean (``base.Source``): one statement per
        database, every branch an index range on ``workload_name`` bounded by ``limit``."""
        words, exact = list(dict.fromkeys(words)), list(dict.fromkeys(exact))
        out: dict[str, set[str]] = {w: set() for w in (*words, *exact)}
        if not out:
            return {}
        folded: dict[str, list[str]] = {}
        for w in out:
            folded.setdefault(w.casefold(), []).append(w)
        for t in self._targets(cluster):
            stmt = q.workload_lookup(t.cluster_filter, start, end, words, exact, limit)
            for k, name in self._rows(t, stmt):
                if k >= 0:
                    out[words[k]].add(name)
                else:  # an equal name: it belongs to every word spelled like it
                    for w in folded.get(name.casefold(), []):
                        out[w].add(name)
        return {w: sorted(names) for w, names in out.items()}

    @guard
    def workloads(self, cluster, start, end, namespace=None, user=None,
                  workload=None) -> list[WorkloadInfo]:
        out: dict[tuple, WorkloadInfo] = {}
        for t in self._targets(cluster):
            stmt = q.workload_list(self.user_annotation, t.cluster_filter, start, end,
                                   namespace, user, workload)
            for r in self._rows(t, stmt):
                out[(r[0], r[1], r[2])] = WorkloadInfo(name=r[2], namespace=r[1], kind=r[3],
                                                        user=r[4], cluster=r[0])
        return sorted(out.values(), key=lambda x: (x.namespace, x.name))

    @guard
    def workload_history(self, f, start, end, now) -> tuple[int, list[WorkloadRun]]:
        return sql_history.workload_history(self, f, start, end, now)

    # -- figures --------------------------------------------------------------------------------
    def _capacity(self, t: Target, start, end) -> float:
        return float(self._rows(t, q.capacity(t.cluster_filter, start, end))[0][0] or 0)

    def _workload_count(self, t: Target, conds: list, joined=None) -> int:
        return int(self._rows(t, q.workload_count(conds, joined))[0][0] or 0)

    @guard
    def period_stats(self, scope: Scope, start: datetime, end: datetime) -> PeriodStats:
        total = PeriodStats(name=scope.name)
        for t in self._targets(scope.cluster):
            cf = t.cluster_filter
            table, conds, joined = q.scope_rows(scope, self.user_annotation, cf, start, end)
            # a cluster's capacity comes from the same rows: one scan
            stmt = q.totals(table, conds, joined, with_capacity=scope.kind == "cluster")
            row = self._rows(t, stmt)[0]
            capacity = (float(row.cap or 0) if scope.kind == "cluster"
                        else self._capacity(t, start, end))
            workloads = 0
            if table is s.workload_hourly:
                workloads = self._workload_count(t, conds, joined)
            elif scope.kind in ("cluster", "namespace", "label"):
                w = s.workload_hourly
                extra = [w.c.namespace == scope.namespace] if scope.kind == "namespace" else []
                joined = q.user_join(self.user_annotation, label=scope)[1] \
                    if scope.kind == "label" else None
                extra += q.label_match(scope, joined)  # a label value: its own workloads only
                workloads = self._workload_count(t, q.where(w, cf, start, end, *extra), joined)
            total = total.add(stats_of(scope.name, row, capacity, workloads=workloads))
        return total

    @guard
    def hourly_series(self, scope: Scope, start: datetime, end: datetime) -> list[HourlyPoint]:
        points: dict[datetime, HourlyPoint] = {}
        for t in self._targets(scope.cluster):
            cf = t.cluster_filter
            table, conds, joined = q.scope_rows(scope, self.user_annotation, cf, start, end)
            for r in self._rows(t, q.series(table, conds, joined)):
                p = points.setdefault(utc(r.stat_hour), HourlyPoint(time=utc(r.stat_hour)))
                p.allocated_gpus += float(r.gpu_hours)
                p.utilized_gpus += float(r.weighted) / 100.0
                p.utilization_sum += float(r.util_sum)
                p.rows += int(r.rows)
            for hour, capacity in self._rows(t, q.capacity_series(cf, start, end)):
                if utc(hour) in points:
                    points[utc(hour)].capacity_gpus += float(capacity or 0)
        return [points[k] for k in sorted(points)]

    @guard
    def daily_series(self, scope: Scope, start: datetime, end: datetime) -> list[DailyPoint]:
        return sql_history.daily_series(self, scope, start, end)

    # -- snapshots and freshness ----------------------------------------------------------------
    @guard
    def latest_snapshot(self, cluster: str | None, at: datetime) -> Snapshot | None:
        names = [cluster] if cluster is not None else self.clusters()
        found: list[Snapshot] = []
        for name in names:
            for t in self._targets(name):
                rows = self._rows(t, q.latest_snapshot(t.cluster_filter, at))
                if rows:
                    found.append(snapshot_from_row(name, rows[0]))
        return merge_snapshots(found, cluster)

    @guard
    def newest_stat_hour(self, cluster: str | None) -> datetime | None:
        newest = None
        for t in self._targets(cluster):
            value = self._rows(t, q.newest_hour(t.cluster_filter))[0][0]
            if value is not None and (newest is None or utc(value) > newest):
                newest = utc(value)
        return newest

    @guard
    def coverage(self, cluster: str | None, start: datetime, end: datetime) -> list[Coverage]:
        """Hours with cluster rows per cluster, and each cluster's first hour (``base.py``)."""
        out = []
        for name in ([cluster] if cluster is not None else self.clusters()):
            hours, first = 0, None
            for t in self._targets(name):
                hours_stmt, first_stmt = q.coverage(t.cluster_filter, start, end)
                hours += sum(int(r[1] or 0) for r in self._rows(t, hours_stmt))
                for r in self._rows(t, first_stmt):
                    if r[1] is not None and (first is None or utc(r[1]) < first):
                        first = utc(r[1])
            out.append(Coverage(name, hours, first))
        return out

    # -- alerting ------------------------------------------------------------------------------
    @guard
    def idle_workloads(self, cluster: str | None, start: datetime, end: datetime,
                       min_gpus: float, max_utilization: float) -> list[PeriodStats]:
        """Per workload, the sums over its hourly rows in ``[start, end)`` that were *idle*.

        An idle row holds ``allocated_gpu_count >= min_gpus`` at ``avg_utilization <
        max_utilization``. The alert rule "allocated ≥ N GPUs at < X% for ≥ H hours" asks this
        for the last H full hours and keeps the workloads whose ``rows`` (= matching hours: the
        workload table is unique per workload and hour, lens.md §8) equal H. Only rows that
        match are summed, so ``gpu_hours``/``avg_utilization``/``idle_gpu_hours`` describe the
        idle hours themselves; the sums stay additive (``PeriodStats.add``) like every figure.

        One grouped query per cluster (the filter lives in WHERE, so only idle rows leave the
        database). ``cluster=None`` asks every cluster in turn so each result carries its
        ``cluster``; ``capacity_gpu_hours`` is that cluster's capacity over the period.
        Workloads come back sorted by (cluster, namespace, name).
        """
        names = [cluster] if cluster is not None else self.clusters()
        out: list[PeriodStats] = []
        for name in names:
            for t in self._targets(name):
                capacity = self._capacity(t, start, end)
                stmt = q.idle_workloads(self.user_annotation, t.cluster_filter, start, end,
                                        min_gpus, max_utilization)
                for r in self._rows(t, stmt):
                    out.append(stats_of(r.workload_name, r, capacity, workloads=1,
                                      namespace=r.namespace, kind=r.kind, user=r.u,
                                      cluster=name))
        return sorted(out, key=lambda p: (p.cluster or "", p.namespace or "", p.name))


# prices and recommendations (sql_usage): the same one-line errors as every other figure
for _name in ("gpu_models", "workload_peaks", "office_hours"):
    setattr(SqlSource, _name, guard(getattr(UsageQueries, _name)))


def snapshot_from_row(cluster: str, row) -> Snapshot:
    details = row.allocation_details or {}
    if isinstance(details, str):
        details = json.loads(details)
    return Snapshot(
        cluster=cluster,
        time=utc(row.snapshot_time),
        total_gpus=int(row.total_gpu_capacity or 0),
        allocated_gpus=int(row.allocated_gpu_count or 0),
        by_namespace=namespace_allocations(details),
    )
