"""The `lens` source: a ``Source`` over the Lens HTTP API (lens.md §1–§4).

HTTP, the envelope, retries and paging are ``lens_client.LensClient``; adding rows up is
``lens_rows``. This module decides which requests a figure needs: the hourly-stats rows of
the scope and window asked (``cluster=None`` means every cluster of
``/gpu-aggregation/clusters``, each asked with an explicit ``cluster`` parameter — a real
deployment has one database per cluster, so ids repeat across clusters), and mirrors one query
of ``sql_queries.py`` per figure (same row sets, same distinct keys, same children rules, see
``base.py``) so that `sql` and `lens` agree to 1e-9.

Requests are what a question costs over the API, so:

* the cluster list is cached with the catalogue's TTL (``agent.cache``: the state database's
  cache when the CLI hands one over, else this source object's own);
* workload names are looked up per word (``lens_names``: ``/workloads?name=`` and the hourly
  stats' exact ``workload_name`` filter), never by listing ``/workloads``;
* the Lens range filters are inclusive, so a request says ``end_time = end − 1 s`` (stat hours
  are whole seconds) and rows with ``stat_hour >= end`` are dropped again client-side, in case
  a server rounds differently.

Differences from `sql` that the API forces (documented, not bugs):

* The user chain stops at the row's own ``annotations``/``owner_name``: the API exposes no
  ``gpu_workload`` annotations, so workloads whose user is only known there are ``(unknown)``.
* ``latest_snapshot`` looks back 3 hours from ``at`` (``/snapshots`` returns whole rows with
  their details, ~36 per cluster in 3 h); an older snapshot is "no snapshot".
* ``users(namespace=None)`` reads ``/dimension-values`` for the user annotation: the same distinct
  values as the annotation rows of ``/labels/hourly-stats``, in one small unpaged request.
* ``find_workload_names`` checks ``exact`` words not at all (the API cannot test many names in
  one request): a workload named like an everyday word ("train") resolves over Lens when
  quoted. Suggestions for a mistyped workload come from one page of names containing its
  first letters (the API's name filter is a substring match, newest first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx

from agent.cache import CatalogCache, MemoryCache, fresh, keep
from agent.errors import SourceError
from agent.periods import floor_hour, utc
from agent.sources.base import (
    Coverage,
    DailyPoint,
    HistoryFilter,
    LABEL_WORKLOADS,
    HourlyPoint,
    PeriodStats,
    Scope,
    WorkloadInfo,
    WorkloadRun,
    daily_from_hourly,
    label_dimension,
)
from agent.sources.snapshots import Snapshot
from agent.sources.lens_client import (
    MAX_PAGES,
    LensClient,
    inclusive_end,
    normalize_base_url,
    parse_time,
    rfc3339,
)
from agent.sources import lens_freshness, lens_history, lens_names
from agent.sources.lens_usage import LensUsage
from agent.sources.lens_rows import (
    Row,
    RowMemo,
    grouped,
    num,
    row_user,
    sums,
    total_capacity,
    workload_key,
)

__all__ = ["LensSource", "normalize_base_url", "rfc3339", "parse_time", "row_user"]

ANNOTATION = "annotation"
LOOKUP_LIMIT = 50


class LensSource(LensUsage):
    """A ``Source`` over a running Lens API (``http://primus-lens-api:8989/v1``)."""

    label_workloads = False  # a label value's users and workloads: not over the API

    def __init__(self, base_url: str, *, user_annotation: str = "primus-safe.user.name",
                 timeout: float = 15.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None,
                 cache: CatalogCache | None = None, max_pages: int = MAX_PAGES):
        self.client = LensClient(base_url, timeout=timeout, retries=retries, backoff=backoff,
                                 transport=transport, max_pages=max_pages)
        self.base_url = self.client.base_url
        self.shown_url = self.client.shown_url
        self.user_annotation = user_annotation
        # the cluster list: in the given cache (shared by processes), else this object's own
        self.cache: CatalogCache = cache if cache is not None else MemoryCache()
        self._memo = RowMemo()

    def describe(self) -> str:
        return f"lens API {self.shown_url}"

    def ping(self) -> str:
        n = len(self.client.strings("/gpu-aggregation/clusters", {}))
        return f"lens API {self.shown_url} ({n} cluster{'s' if n != 1 else ''})"

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "LensSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- rows ---------------------------------------------------------------------------------
    def _targets(self, cluster: str | None) -> list[str]:
        return [cluster] if cluster is not None else self.clusters()

    def _hourly(self, kind: str, clusters: list[str], start: datetime, end: datetime,
                **filters: str | None) -> list[Row]:
        """Rows of ``/gpu-aggregation/<kind>/hourly-stats`` with start ≤ stat_hour < end."""
        start, end = utc(start), utc(end)
        if start >= end:
            return []
        params = {k: v for k, v in filters.items() if v is not None}
        out: list[Row] = []
        for name in clusters:
            key = (kind, name, tuple(sorted(params.items())), start, end)
            out += self._memo.get(key, lambda n=name: self._read_hourly(kind, n, params, start, end))
        return out

    def _read_hourly(self, kind: str, cluster: str, params: dict, start: datetime,
                     end: datetime) -> list[Row]:
        rows = self.client.rows(f"/gpu-aggregation/{kind}/hourly-stats",
                                {"cluster": cluster, **params}, start, inclusive_end(end))
        out = []
        for row in rows:
            hour = parse_time(row.get("stat_hour"))
            if start <= hour < end:
                out.append(Row(cluster, hour, row))
        return out

    def _workload_rows(self, clusters: list[str], start: datetime, end: datetime, *,
                       namespace: str | None = None, workload: str | None = None,
                       user: str | None = None) -> list[Row]:
        rows = self._hourly("workloads", clusters, start, end, namespace=namespace,
                            workload_name=workload)
        if namespace is not None:
            rows = [r for r in rows if r.data.get("namespace") == namespace]
        if workload is not None:
            rows = [r for r in rows if r.data.get("workload_name") == workload]
        if user is not None:
            rows = [r for r in rows if row_user(r.data, self.user_annotation) == user]
        return rows

    def _label_rows(self, clusters: list[str], start: datetime, end: datetime, dtype: str,
                    key: str | None, value: str | None = None, *,
                    any_value: bool = False) -> list[Row]:
        if key is None or (value is None and not any_value):
            return []  # sql.py compares with NULL here, which matches nothing
        rows = self._hourly("labels", clusters, start, end, dimension_type=dtype,
                            dimension_key=key, dimension_value=value)
        return [r for r in rows if r.data.get("dimension_type") == dtype
                and r.data.get("dimension_key") == key
                and (any_value or r.data.get("dimension_value") == value)]

    def _scope_rows(self, scope: Scope, clusters: list[str], start: datetime,
                    end: datetime) -> tuple[str, list[Row]]:
        """(table, rows) behind a scope — the same choice as sql.py's ``_scope_query``."""
        if scope.kind == "cluster":
            return "cluster", self._hourly("cluster", clusters, start, end)
        if scope.kind == "namespace":
            if scope.namespace is None:
                return "namespace", []
            rows = self._hourly("namespaces", clusters, start, end, namespace=scope.namespace)
            return "namespace", [r for r in rows if r.data.get("namespace") == scope.namespace]
        if scope.kind == "label":
            return "label", self._label_rows(clusters, start, end, scope.label_type,
                                             scope.label_key, scope.label_value)
        if scope.kind == "user" and scope.namespace is None:
            return "label", self._label_rows(clusters, start, end, ANNOTATION,
                                             self.user_annotation, scope.user)
        workload = scope.workload if scope.kind == "workload" else None
        return "workload", self._workload_rows(clusters, start, end, namespace=scope.namespace,
                                               workload=workload, user=scope.user)

    def _capacity_rows(self, clusters: list[str], start: datetime, end: datetime) -> list[Row]:
        return self._hourly("cluster", clusters, start, end)

    # -- Source: metadata ---------------------------------------------------------------------
    def clusters(self) -> list[str]:
        """The API's clusters, kept for the cache's TTL: every "all clusters" figure needs
        them, and they change when a cluster is added, not per question."""
        key = f"{self.describe()}|clusters"
        names = fresh(self.cache, key)
        if names is None:
            names = sorted(set(self.client.strings("/gpu-aggregation/clusters", {})))
            keep(self.cache, key, names)
        return list(names)

    def _distinct(self, path: str, cluster: str | None, start: datetime, end: datetime,
                  **params: str) -> list[str]:
        start, end = utc(start), utc(end)
        if start >= end:
            return []
        out: set[str] = set()
        for name in self._targets(cluster):
            out.update(self.client.strings(path, {"cluster": name, **params,
                                            "start_time": rfc3339(start),
                                            "end_time": rfc3339(inclusive_end(end))}))
        return sorted(out)

    def namespaces(self, cluster: str | None, start: datetime, end: datetime) -> list[str]:
        return self._distinct("/gpu-aggregation/namespaces", cluster, start, end)

    def namespaces_by_cluster(self, start: datetime, end: datetime) -> dict[str, list[str]]:
        return {c: self.namespaces(c, start, end) for c in self.clusters()}

    def dimension_keys(self, cluster: str | None, dimension_type: str,
                       start: datetime, end: datetime) -> list[str]:
        return self._distinct("/gpu-aggregation/dimension-keys", cluster, start, end,
                              dimension_type=dimension_type)

    def dimension_values(self, cluster: str | None, dimension_type: str, key: str,
                         start: datetime, end: datetime) -> list[str]:
        return self._distinct("/gpu-aggregation/dimension-values", cluster, start, end,
                              dimension_type=dimension_type, dimension_key=key)

    def users(self, cluster: str | None, start: datetime, end: datetime,
              namespace: str | None = None) -> list[str]:
        if namespace is None:
            found = self.dimension_values(cluster, ANNOTATION, self.user_annotation, start, end)
            if found:
                return found
        rows = self._workload_rows(self._targets(cluster), start, end, namespace=namespace)
        return sorted({row_user(r.data, self.user_annotation) for r in rows})

    def workloads(self, cluster: str | None, start: datetime, end: datetime,
                  namespace: str | None = None, user: str | None = None,
                  workload: str | None = None) -> list[WorkloadInfo]:
        rows = self._workload_rows(self._targets(cluster), start, end, namespace=namespace,
                                   workload=workload, user=user)
        kinds: dict[tuple, str] = {}
        users: dict[tuple, str] = {}
        for r in rows:
            key = (r.cluster, str(r.data.get("namespace")), str(r.data.get("workload_name")))
            kind = str(r.data.get("workload_type") or "")
            who = row_user(r.data, self.user_annotation)
            kinds[key] = max(kinds.get(key, kind), kind)
            users[key] = max(users.get(key, who), who)
        out = [WorkloadInfo(name=k[2], namespace=k[1], kind=kinds[k], user=users[k], cluster=k[0])
               for k in kinds]
        return sorted(out, key=lambda w: (w.namespace, w.name, w.cluster or ""))

    # -- workload names: looked up per word (lens.md §4.5) --------------------------------------
    def find_workload_names(self, cluster: str | None, start: datetime, end: datetime,
                            words: Sequence[str], exact: Sequence[str] = (),
                            limit: int = LOOKUP_LIMIT) -> dict[str, list[str]]:
        """Per word of ``words``, the workload names it may mean (``base.Source``; how:
        ``lens_names``); ``exact`` words get ``[]`` (see the module docstring)."""
        out: dict[str, list[str]] = {w: [] for w in (*exact, *words)}
        out.update(lens_names.find(self.client, self._targets(cluster), start, end, words, limit))
        return out

    # -- Source: figures ----------------------------------------------------------------------
    def period_stats(self, scope: Scope, start: datetime, end: datetime) -> PeriodStats:
        clusters = self._targets(scope.cluster)
        table, rows = self._scope_rows(scope, clusters, start, end)
        if table == "cluster":
            capacity = total_capacity(rows)
        else:
            capacity = total_capacity(self._capacity_rows(clusters, start, end))
        workloads = 0
        if table == "workload":
            workload_rows: list[Row] = rows
        elif scope.kind in ("cluster", "namespace"):
            ns = scope.namespace if scope.kind == "namespace" else None
            if scope.kind == "namespace" and ns is None:
                workload_rows = []
            else:
                workload_rows = self._workload_rows(clusters, start, end, namespace=ns)
        else:
            workload_rows = []
        if workload_rows:
            workloads = len({(r.cluster, r.data.get("namespace"), r.data.get("workload_name"))
                             for r in workload_rows})
        return sums(rows).stats(scope.name, capacity, workloads=workloads)

    def children_stats(self, scope: Scope, child: str, start: datetime, end: datetime,
                       label_key: str | None = None,
                       label_type: str = "label") -> list[PeriodStats]:
        """Children as sql.py forms them; one combined row set stands for 'all clusters'."""
        clusters = self._targets(scope.cluster)
        out: list[PeriodStats] = []
        if child == "namespace":
            if scope.kind != "cluster":
                raise SourceError(f"namespaces are children of a cluster, not of a {scope.kind}")
            rows = self._hourly("namespaces", clusters, start, end)
            capacity = total_capacity(self._capacity_rows(clusters, start, end))
            names: dict[str, set] = {}
            for r in self._workload_rows(clusters, start, end):
                names.setdefault(str(r.data.get("namespace")), set()).add(
                    r.data.get("workload_name"))
            for ns, group in grouped(rows, lambda r: str(r.data.get("namespace"))):
                out.append(sums(group).stats(ns, capacity, workloads=len(names.get(ns, ()))))
        elif (dimension := label_dimension(scope, child, self.user_annotation, label_key,
                                           label_type)) is not None:
            rows = self._label_rows(clusters, start, end, *dimension, any_value=True)
            capacity = total_capacity(self._capacity_rows(clusters, start, end))
            for value, group in grouped(rows, lambda r: str(r.data.get("dimension_value"))):
                out.append(sums(group).stats(value, capacity))
        elif child in ("user", "workload"):
            if scope.kind == "label":  # lens.md §4.2: no label filter on workload rows
                raise SourceError(LABEL_WORKLOADS)
            workload = scope.workload if scope.kind == "workload" else None
            rows = self._workload_rows(clusters, start, end, namespace=scope.namespace,
                                       workload=workload, user=scope.user)
            capacity = total_capacity(self._capacity_rows(clusters, start, end))
            if child == "user":
                for who, group in grouped(rows, lambda r: row_user(r.data, self.user_annotation)):
                    n = len({(r.data.get("namespace"), r.data.get("workload_name")) for r in group})
                    out.append(sums(group).stats(who, capacity, workloads=n))
            else:
                for (ns, name), group in grouped(rows, workload_key):
                    out.append(sums(group).stats(
                        name, capacity, workloads=1, namespace=ns,
                        kind=max(str(r.data.get("workload_type") or "") for r in group),
                        user=max(row_user(r.data, self.user_annotation) for r in group)))
        else:
            raise SourceError(f"cannot list {child} children of a {scope.kind}")
        return sorted(out, key=lambda p: (p.name, p.namespace or ""))

    def hourly_series(self, scope: Scope, start: datetime, end: datetime) -> list[HourlyPoint]:
        clusters = self._targets(scope.cluster)
        table, rows = self._scope_rows(scope, clusters, start, end)
        cap_rows = rows if table == "cluster" else self._capacity_rows(clusters, start, end)
        capacity: dict[datetime, list[float]] = {}
        for r in cap_rows:
            capacity.setdefault(r.hour, []).append(num(r.data, "total_gpu_capacity"))
        points = []
        for hour, group in grouped(rows, lambda r: r.hour):
            s = sums(group)
            points.append(HourlyPoint(time=hour, allocated_gpus=math.fsum(s.alloc),
                                      utilized_gpus=math.fsum(s.weighted) / 100.0,
                                      utilization_sum=math.fsum(s.util), rows=s.rows,
                                      capacity_gpus=math.fsum(capacity.get(hour, ()))))
        return sorted(points, key=lambda p: p.time)

    def daily_series(self, scope: Scope, start: datetime, end: datetime) -> list[DailyPoint]:
        """The API has hours only: the hourly points added up per UTC day."""
        return daily_from_hourly(self.hourly_series(scope, start, end))

    def workload_history(self, f: HistoryFilter, start: datetime | None, end: datetime,
                         now: datetime) -> tuple[int, list[WorkloadRun]]:
        """``GET /v1/workloads`` with its kind/namespace/status filters (lens_history)."""
        return lens_history.history(self.client, self, f, start, end, now)

    # -- Source: snapshots, freshness, health -------------------------------------------------
    def latest_snapshot(self, cluster: str | None, at: datetime) -> Snapshot | None:
        """Within ``lens_freshness.SNAPSHOT_LOOKBACK`` of ``at`` (module docstring)."""
        return lens_freshness.latest_snapshot(self.client, self._targets(cluster), cluster, at)

    def newest_stat_hour(self, cluster: str | None) -> datetime | None:
        return lens_freshness.newest_stat_hour(self.client, self._targets(cluster))

    def coverage(self, cluster: str | None, start: datetime, end: datetime) -> list[Coverage]:
        """Distinct hours of the cluster rows of the period (the rows a cluster figure reads
        anyway, memoized) and, unless the period's first hour has rows, the oldest cluster-row
        hour: one small page in ascending order."""
        out = []
        for name in self._targets(cluster):
            found = {r.hour for r in self._capacity_rows([name], start, end)}
            first_hour = floor_hour(utc(start))
            first_hour += timedelta(hours=1) if first_hour < utc(start) else timedelta(0)
            if first_hour in found:  # the data started before the period: no date needed
                out.append(Coverage(name, len(found), None))
                continue
            out.append(Coverage(name, len(found),
                                lens_freshness.first_stat_hour(self.client, name)))
        return out

    # -- alerting (mirrors SqlSource.idle_workloads) -------------------------------------------
    def idle_workloads(self, cluster: str | None, start: datetime, end: datetime,
                       min_gpus: float, max_utilization: float) -> list[PeriodStats]:
        """Per workload, sums over its idle hourly rows in ``[start, end)`` (see sql.py).

        The API cannot filter on values, so the workload rows of the window are paged in and
        the idle ones (``allocated >= min_gpus`` and ``avg_utilization < max_utilization``)
        summed here — for the few hours an alert rule looks at, that is a small read.
        """
        names = self._targets(cluster)
        out: list[PeriodStats] = []
        for name in names:
            capacity = total_capacity(self._capacity_rows([name], start, end))
            rows = [r for r in self._workload_rows([name], start, end)
                    if num(r.data, "allocated_gpu_count") >= float(min_gpus)
                    and num(r.data, "avg_utilization") < float(max_utilization)]
            for (ns, wl), group in grouped(rows, workload_key):
                out.append(sums(group).stats(
                    wl, capacity, workloads=1, namespace=ns, cluster=name,
                    kind=max(str(r.data.get("workload_type") or "") for r in group),
                    user=max(row_user(r.data, self.user_annotation) for r in group)))
        return sorted(out, key=lambda p: (p.cluster or "", p.namespace or "", p.name))


