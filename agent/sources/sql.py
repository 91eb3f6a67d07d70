"""The `sql` source: the Lens tables over SQLAlchemy Core, on SQLite or PostgreSQL.

It only ever reads, so it can be pointed at a production Lens database with a role that may
only SELECT. Every figure is one grouped query that returns additive sums (see ``base.py``);
no hourly rows are pulled into Python to be summed.

Two layouts are supported:

* one database holding several clusters (gpureport's embedded store, filled by ``demo`` or
  ``ingest``): rows are filtered by ``cluster_name``;
* ``databases: {cluster: url}`` — a Lens deployment keeps one database per cluster, whose
  ``cluster_name`` column is whatever the writer called itself, so rows are *not* filtered.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, create_engine, distinct, func, literal, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from agent.errors import NotFound, SourceError
from agent.names import suggestions
from agent.periods import naive, utc
from agent.sources import schema as s
from agent.sources.base import (
    UNKNOWN_USER,
    HourlyPoint,
    PeriodStats,
    Scope,
    Snapshot,
    WorkloadInfo,
    merge_snapshots,
    namespace_allocations,
)
from agent.text import mask_url, one_line

ANNOTATION = "annotation"




def _engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database
        if path and path != ":memory:" and not Path(path).exists():
            raise SourceError(f"database {path} does not exist — run `gpureport demo` to create "
                              "the embedded store, or set source.database_url")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if u.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 10}
    return create_engine(url, **kwargs)


_MISSING_TABLE = (re.compile(r"no such table: (\w+)"),  # SQLite
                  re.compile(r'relation "(?:\w+\.)?(\w+)" does not exist'))  # PostgreSQL


def missing_table(exc: BaseException) -> str | None:
    """The table a driver error says does not exist (SQLite, PostgreSQL), else None."""
    text = str(getattr(exc, "orig", None) or exc)
    for pattern in _MISSING_TABLE:
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def _guard(fn):
    """Turn driver errors into one-line ``SourceError``s naming the database.

    A missing Lens table is the common first-run mistake (an empty SQLite file, a fresh
    PostgreSQL database, the wrong database): it gets its own line that says what to do,
    instead of the driver's "no such table"."""

    @functools.wraps(fn)
    def wrapper(self: "SqlSource", *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except SourceError:
            raise
        except SQLAlchemyError as exc:
            table = missing_table(exc)
            if table is not None and table in s.metadata.tables:
                raise SourceError(
                    f"database {self.describe()} has no Lens table {table} (is it empty?): "
                    "run `gpureport demo` to fill it with demo data, or set "
                    "source.database_url to a Lens database") from None
            raise SourceError(f"database {self.describe()}: {one_line(exc)}") from None

    return wrapper


@dataclass
class _Target:
    engine: Engine
    cluster_filter: str | None  # value of cluster_name to filter on, None = no filter


def _sums(allocated, utilization) -> list:
    return [
        func.coalesce(func.sum(allocated), 0.0).label("gpu_hours"),
        func.coalesce(func.sum(allocated * utilization), 0.0).label("weighted"),
        func.coalesce(func.sum(utilization), 0.0).label("util_sum"),
        func.count().label("rows"),
    ]


def _stats(name: str, row, capacity: float, **extra) -> PeriodStats:
    return PeriodStats(
        name=name,
        gpu_hours=float(row.gpu_hours or 0.0),
        utilized_gpu_hours=float(row.weighted or 0.0) / 100.0,
        utilization_sum=float(row.util_sum or 0.0),
        rows=int(row.rows or 0),
        capacity_gpu_hours=capacity,
        **extra,
    )


class SqlSource:
    def __init__(self, database_url: str, databases: dict[str, str] | None = None,
                 user_annotation: str = "primus-safe.user.name"):
        self.database_url = database_url
        self.database_urls = dict(databases or {})
        self.user_annotation = user_annotation
        self._engines: dict[str, Engine] = {}
        self._cluster_cache: list[str] | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def describe(self) -> str:
        if self.database_urls:
            return ", ".join(f"{c}={mask_url(u)}" for c, u in self.database_urls.items())
        return mask_url(self.database_url)

    def _engine_for(self, key: str, url: str) -> Engine:
        if key not in self._engines:
            self._engines[key] = _engine(url)
        return self._engines[key]

    def _targets(self, cluster: str | None) -> list[_Target]:
        if self.database_urls:
            if cluster is None:
                return [_Target(self._engine_for(c, u), None) for c, u in self.database_urls.items()]
            if cluster not in self.database_urls:
                raise NotFound("cluster", cluster, suggestions(cluster, self.database_urls))
            return [_Target(self._engine_for(cluster, self.database_urls[cluster]), None)]
        eng = self._engine_for("", self.database_url)
        if cluster is None:
            return [_Target(eng, None)]
        known = self.clusters()
        if cluster not in known:
            raise NotFound("cluster", cluster, suggestions(cluster, known))
        return [_Target(eng, cluster)]

    @staticmethod
    def _rows(target: _Target, stmt: Select) -> list:
        with target.engine.connect() as conn:
            return list(conn.execute(stmt))

    @staticmethod
    def _where(table, target: _Target, start: datetime, end: datetime, *more) -> list:
        conds = [table.c.stat_hour >= naive(start), table.c.stat_hour < naive(end), *more]
        if target.cluster_filter is not None:
            conds.append(table.c.cluster_name == target.cluster_filter)
        return conds

    def close(self) -> None:
        for eng in self._engines.values():
            eng.dispose()
        self._engines.clear()

    @_guard
    def ping(self) -> str:
        n = len(self.clusters())
        return f"{self.describe()} ({n} cluster{'s' if n != 1 else ''})"

    # -- metadata -----------------------------------------------------------------------------
    @_guard
    def clusters(self) -> list[str]:
        if self.database_urls:
            return sorted(self.database_urls)
        if self._cluster_cache is None:
            eng = self._engine_for("", self.database_url)
            with eng.connect() as conn:
                names = conn.execute(select(s.cluster_hourly.c.cluster_name).distinct()).scalars()
                self._cluster_cache = sorted(n for n in names if n)
        return list(self._cluster_cache)

    def _distinct(self, cluster, column, table, start, end, *conds) -> list[str]:
        out: set[str] = set()
        for t in self._targets(cluster):
            stmt = select(column).distinct().where(*self._where(table, t, start, end, *conds))
            out.update(r[0] for r in self._rows(t, stmt) if r[0] is not None)
        return sorted(out)

    @_guard
    def namespaces(self, cluster, start, end) -> list[str]:
        t = s.namespace_hourly
        return self._distinct(cluster, t.c.namespace, t, start, end)

    @_guard
    def dimension_keys(self, cluster, dimension_type, start, end) -> list[str]:
        t = s.label_hourly
        return self._distinct(cluster, t.c.dimension_key, t, start, end,
                              t.c.dimension_type == dimension_type)

    @_guard
    def dimension_values(self, cluster, dimension_type, key, start, end) -> list[str]:
        t = s.label_hourly
        return self._distinct(cluster, t.c.dimension_value, t, start, end,
                              t.c.dimension_type == dimension_type, t.c.dimension_key == key)

    @_guard
    def users(self, cluster, start, end, namespace=None) -> list[str]:
        if namespace is None:
            t = s.label_hourly
            found = self._distinct(cluster, t.c.dimension_value, t, start, end,
                                   t.c.dimension_type == ANNOTATION,
                                   t.c.dimension_key == self.user_annotation)
            if found:
                return found
        w = s.workload_hourly
        out: set[str] = set()
        for t in self._targets(cluster):
            user, joined = self._user_join()
            conds = self._where(w, t, start, end)
            if namespace is not None:
                conds.append(w.c.namespace == namespace)
            stmt = select(user).distinct().select_from(joined).where(*conds)
            out.update(r[0] for r in self._rows(t, stmt))
        return sorted(out)

    @_guard
    def workload_names(self, cluster, start, end) -> list[str]:
        """Distinct workload names only: what name resolution needs, without the user join."""
        w = s.workload_hourly
        return self._distinct(cluster, w.c.workload_name, w, start, end)

    @_guard
    def workloads(self, cluster, start, end, namespace=None, user=None) -> list[WorkloadInfo]:
        w = s.workload_hourly
        out: dict[tuple, WorkloadInfo] = {}
        for t in self._targets(cluster):
            user_col, joined = self._user_join()
            conds = self._where(w, t, start, end)
            if namespace is not None:
                conds.append(w.c.namespace == namespace)
            if user is not None:
                conds.append(user_col == user)
            stmt = (select(w.c.cluster_name, w.c.namespace, w.c.workload_name,
                           func.max(w.c.workload_type), user_col.label("user"))
                    .select_from(joined).where(*conds)
                    .group_by(w.c.cluster_name, w.c.namespace, w.c.workload_name, user_col))
            for r in self._rows(t, stmt):
                out[(r[0], r[1], r[2])] = WorkloadInfo(name=r[2], namespace=r[1], kind=r[3],
                                                        user=r[4], cluster=r[0])
        return sorted(out.values(), key=lambda x: (x.namespace, x.name))

    # -- the user of a workload row (base.py: annotations -> owner_name -> gpu_workload) ------
    def _user_join(self):
        w, gw = s.workload_hourly, s.gpu_workload
        key = self.user_annotation
        top = (select(gw.c.namespace.label("ns"), gw.c.name.label("nm"),
                      func.max(gw.c.annotations[key].as_string()).label("u"))
               .where(func.coalesce(gw.c.parent_uid, "") == "")
               .group_by(gw.c.namespace, gw.c.name)
               .subquery("top_user"))
        user = func.coalesce(
            func.nullif(w.c.annotations[key].as_string(), ""),
            func.nullif(w.c.owner_name, ""),
            func.nullif(top.c.u, ""),
            literal(UNKNOWN_USER),
        )
        joined = w.outerjoin(top, and_(top.c.ns == w.c.namespace, top.c.nm == w.c.workload_name))
        return user, joined

    # -- figures --------------------------------------------------------------------------------
    def _capacity(self, t: _Target, start, end) -> float:
        c = s.cluster_hourly
        stmt = select(func.coalesce(func.sum(c.c.total_gpu_capacity), 0)).where(
            *self._where(c, t, start, end))
        return float(self._rows(t, stmt)[0][0] or 0)

    def _workload_count(self, t: _Target, conds: list, joined=None) -> int:
        """Distinct workloads among the workload rows matching ``conds`` (complete conditions)."""
        w = s.workload_hourly
        inner = select(w.c.cluster_name, w.c.namespace, w.c.workload_name)
        if joined is not None:
            inner = inner.select_from(joined)
        inner = inner.where(*conds).distinct().subquery()
        return int(self._rows(t, select(func.count()).select_from(inner))[0][0] or 0)

    def _scope_query(self, scope: Scope, t: _Target, start, end):
        """(table, conditions, from-clause or None) selecting the rows behind a scope."""
        if scope.kind == "cluster":
            return s.cluster_hourly, self._where(s.cluster_hourly, t, start, end), None
        if scope.kind == "namespace":
            n = s.namespace_hourly
            return n, self._where(n, t, start, end, n.c.namespace == scope.namespace), None
        if scope.kind == "label" or (scope.kind == "user" and scope.namespace is None):
            lb = s.label_hourly
            if scope.kind == "user":
                conds = [lb.c.dimension_type == ANNOTATION,
                         lb.c.dimension_key == self.user_annotation,
                         lb.c.dimension_value == scope.user]
            else:
                conds = [lb.c.dimension_type == scope.label_type,
                         lb.c.dimension_key == scope.label_key,
                         lb.c.dimension_value == scope.label_value]
            return lb, self._where(lb, t, start, end, *conds), None
        w = s.workload_hourly
        conds = self._where(w, t, start, end)
        if scope.namespace is not None:
            conds.append(w.c.namespace == scope.namespace)
        joined = None
        if scope.user is not None:
            user, joined = self._user_join()
            conds.append(user == scope.user)
        if scope.kind == "workload":
            conds.append(w.c.workload_name == scope.workload)
        return w, conds, joined

    @_guard
    def period_stats(self, scope: Scope, start: datetime, end: datetime) -> PeriodStats:
        total = PeriodStats(name=scope.name)
        for t in self._targets(scope.cluster):
            table, conds, joined = self._scope_query(scope, t, start, end)
            cols = _sums(table.c.allocated_gpu_count, table.c.avg_utilization)
            if scope.kind == "cluster":  # capacity comes from the same rows: one scan
                cols.append(func.coalesce(func.sum(table.c.total_gpu_capacity), 0).label("cap"))
            stmt = select(*cols)
            if joined is not None:
                stmt = stmt.select_from(joined)
            row = self._rows(t, stmt.where(*conds))[0]
            capacity = (float(row.cap or 0) if scope.kind == "cluster"
                        else self._capacity(t, start, end))
            workloads = 0
            if table is s.workload_hourly:
                workloads = self._workload_count(t, conds, joined)
            elif scope.kind in ("cluster", "namespace"):
                w = s.workload_hourly
                extra = [w.c.namespace == scope.namespace] if scope.kind == "namespace" else []
                workloads = self._workload_count(t, self._where(w, t, start, end, *extra))
            total = total.add(_stats(scope.name, row, capacity, workloads=workloads))
        return total

    @_guard
    def children_stats(self, scope: Scope, child: str, start: datetime, end: datetime,
                       label_key: str | None = None, label_type: str = "label") -> list[PeriodStats]:
        merged: dict[tuple, PeriodStats] = {}
        for t in self._targets(scope.cluster):
            capacity = self._capacity(t, start, end)
            for key, stats in self._children(scope, child, t, start, end, capacity,
                                             label_key, label_type):
                merged[key] = merged[key].add(stats) if key in merged else stats
        return sorted(merged.values(), key=lambda p: p.name)

    def _children(self, scope, child, t, start, end, capacity, label_key, label_type
                  ) -> Iterator[tuple[tuple, PeriodStats]]:
        if child == "namespace":
            if scope.kind != "cluster":
                raise SourceError(f"namespaces are children of a cluster, not of a {scope.kind}")
            n, w = s.namespace_hourly, s.workload_hourly
            stmt = (select(n.c.namespace, *_sums(n.c.allocated_gpu_count, n.c.avg_utilization))
                    .where(*self._where(n, t, start, end)).group_by(n.c.namespace))
            counts_stmt = (select(w.c.namespace, func.count(distinct(w.c.workload_name)))
                           .where(*self._where(w, t, start, end)).group_by(w.c.namespace))
            counts = dict((r[0], int(r[1])) for r in self._rows(t, counts_stmt))
            for r in self._rows(t, stmt):
                yield (r.namespace,), _stats(r.namespace, r, capacity,
                                             workloads=counts.get(r.namespace, 0))
            return
        if child in ("label", "user") and scope.kind in ("cluster", "label") and not (
                child == "user" and scope.namespace is not None):
            lb = s.label_hourly
            if child == "user":
                dtype, key = ANNOTATION, self.user_annotation
            else:
                if not label_key:
                    raise SourceError("label children need a label key")
                dtype, key = label_type, label_key
            stmt = (select(lb.c.dimension_value, *_sums(lb.c.allocated_gpu_count, lb.c.avg_utilization))
                    .where(*self._where(lb, t, start, end, lb.c.dimension_type == dtype,
                                        lb.c.dimension_key == key))
                    .group_by(lb.c.dimension_value))
            for r in self._rows(t, stmt):
                yield (r.dimension_value,), _stats(r.dimension_value, r, capacity)
            return
        if child not in ("user", "workload"):
            raise SourceError(f"cannot list {child} children of a {scope.kind}")
        w = s.workload_hourly
        user, joined = self._user_join()
        conds = self._where(w, t, start, end)
        if scope.namespace is not None:
            conds.append(w.c.namespace == scope.namespace)
        if scope.user is not None:
            conds.append(user == scope.user)
        if scope.kind == "workload":
            conds.append(w.c.workload_name == scope.workload)
        sums = _sums(w.c.allocated_gpu_count, w.c.avg_utilization)
        if child == "user":
            stmt = (select(user.label("u"), *sums,
                           func.count(distinct(w.c.namespace + literal("/") + w.c.workload_name))
                           .label("n"))
                    .select_from(joined).where(*conds).group_by(user))
            for r in self._rows(t, stmt):
                yield (r.u,), _stats(r.u, r, capacity, workloads=int(r.n))
            return
        stmt = (select(w.c.namespace, w.c.workload_name, func.max(w.c.workload_type).label("kind"),
                       func.max(user).label("u"), *sums)
                .select_from(joined).where(*conds).group_by(w.c.namespace, w.c.workload_name))
        for r in self._rows(t, stmt):
            yield (r.namespace, r.workload_name), _stats(
                r.workload_name, r, capacity, workloads=1, namespace=r.namespace, kind=r.kind,
                user=r.u)

    @_guard
    def hourly_series(self, scope: Scope, start: datetime, end: datetime) -> list[HourlyPoint]:
        points: dict[datetime, HourlyPoint] = {}
        c = s.cluster_hourly
        for t in self._targets(scope.cluster):
            table, conds, joined = self._scope_query(scope, t, start, end)
            stmt = select(table.c.stat_hour, *_sums(table.c.allocated_gpu_count,
                                                    table.c.avg_utilization))
            if joined is not None:
                stmt = stmt.select_from(joined)
            stmt = stmt.where(*conds).group_by(table.c.stat_hour)
            for r in self._rows(t, stmt):
                p = points.setdefault(utc(r.stat_hour), HourlyPoint(time=utc(r.stat_hour)))
                p.allocated_gpus += float(r.gpu_hours)
                p.utilized_gpus += float(r.weighted) / 100.0
                p.utilization_sum += float(r.util_sum)
                p.rows += int(r.rows)
            cap = (select(c.c.stat_hour, func.sum(c.c.total_gpu_capacity))
                   .where(*self._where(c, t, start, end)).group_by(c.c.stat_hour))
            for hour, capacity in self._rows(t, cap):
                if utc(hour) in points:
                    points[utc(hour)].capacity_gpus += float(capacity or 0)
        return [points[k] for k in sorted(points)]

    # -- snapshots and freshness ----------------------------------------------------------------
    @_guard
    def latest_snapshot(self, cluster: str | None, at: datetime) -> Snapshot | None:
        names = [cluster] if cluster is not None else self.clusters()
        found: list[Snapshot] = []
        for name in names:
            for t in self._targets(name):
                sn = s.snapshots
                conds = [sn.c.snapshot_time <= naive(at), sn.c.dimension_type == "cluster"]
                if t.cluster_filter is not None:
                    conds.append(sn.c.cluster_name == t.cluster_filter)
                stmt = (select(sn.c.cluster_name, sn.c.snapshot_time, sn.c.total_gpu_capacity,
                               sn.c.allocated_gpu_count, sn.c.allocation_details)
                        .where(*conds).order_by(sn.c.snapshot_time.desc()).limit(1))
                rows = self._rows(t, stmt)
                if rows:
                    found.append(snapshot_from_row(name, rows[0]))
        return merge_snapshots(found, cluster)

    @_guard
    def newest_stat_hour(self, cluster: str | None) -> datetime | None:
        newest = None
        for t in self._targets(cluster):
            c = s.cluster_hourly
            stmt = select(func.max(c.c.stat_hour))
            if t.cluster_filter is not None:
                stmt = stmt.where(c.c.cluster_name == t.cluster_filter)
            value = self._rows(t, stmt)[0][0]
            if value is not None and (newest is None or utc(value) > newest):
                newest = utc(value)
        return newest

    # -- alerting ------------------------------------------------------------------------------
    @_guard
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
        w = s.workload_hourly
        names = [cluster] if cluster is not None else self.clusters()
        out: list[PeriodStats] = []
        for name in names:
            for t in self._targets(name):
                capacity = self._capacity(t, start, end)
                user, joined = self._user_join()
                conds = self._where(w, t, start, end,
                                    w.c.allocated_gpu_count >= float(min_gpus),
                                    w.c.avg_utilization < float(max_utilization))
                stmt = (select(w.c.namespace, w.c.workload_name,
                               func.max(w.c.workload_type).label("kind"),
                               func.max(user).label("u"),
                               *_sums(w.c.allocated_gpu_count, w.c.avg_utilization))
                        .select_from(joined).where(*conds)
                        .group_by(w.c.namespace, w.c.workload_name))
                for r in self._rows(t, stmt):
                    out.append(_stats(r.workload_name, r, capacity, workloads=1,
                                      namespace=r.namespace, kind=r.kind, user=r.u,
                                      cluster=name))
        return sorted(out, key=lambda p: (p.cluster or "", p.namespace or "", p.name))


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
