"""The `lens` source: the Lens HTTP API (lens.md §1–§4) over httpx.

The API serves *rows*, not sums, so this source pages through the hourly-stats endpoints and adds
the rows up in Python. Every figure mirrors one query of ``sql.py`` (same row sets, same
distinct keys, same children rules, see ``base.py``) so that `sql` and `lens` agree to 1e-9;
sums use ``math.fsum`` so the order rows arrive in does not matter.

Contract points that shape the code (lens.md §9):

* Base URL = scheme + host + prefix from config; a URL without a path gets ``/v1``. Paths never
  end in ``/`` (the server would answer 301, which httpx does not follow).
* Success ⇔ HTTP 200 and ``meta.code`` 2000 (0 accepted, as the seed agent did). Errors arrive
  as HTTP 200 with another code; 4004 ``ClientSet for cluster <x> not found`` becomes
  ``NotFound("cluster", x, suggestions)``.
* Range filters are inclusive at both ends. Periods here are half-open ``[start, end)``, so the
  request says ``end_time = end − 1 s`` (stat hours are whole seconds) and rows with
  ``stat_hour >= end`` are dropped again client-side, in case a server rounds differently.
* Hourly-stats pages hold 1000 rows whatever ``page_size`` says. Pages are ordered by
  ``stat_hour`` only, so rows sharing an hour may move between page requests: rows are
  de-duplicated by ``id``; if a pass still misses rows, the window is split in halves by hour
  (small windows fit on one page and cannot shift), and a single hour with more than 1000 rows
  is re-read in other sort orders before giving up with a ``SourceError``.
* ``cluster=None`` means every cluster of ``/gpu-aggregation/clusters``; each is asked with an
  explicit ``cluster`` parameter (a real deployment has one database per cluster, so ids repeat
  across clusters and are only de-duplicated within one request series).

Differences from `sql` that the API forces (documented, not bugs):

* The user chain stops at the row's own ``annotations``/``owner_name``: the API exposes no
  ``gpu_workload`` annotations, so workloads whose user is only known there are ``(unknown)``.
* ``latest_snapshot`` looks back 3 hours from ``at`` (``/snapshots`` returns whole rows with
  their details, ~36 per cluster in 3 h); an older snapshot is "no snapshot".
* ``users(namespace=None)`` reads ``/dimension-values`` for the user annotation: the same distinct
  values as the annotation rows of ``/labels/hourly-stats``, in one small unpaged request.

Network behaviour: every request has a timeout; connect errors, timeouts, HTTP 5xx and 429 are
retried ``retries`` times with exponential backoff; other non-200 statuses fail at once. Error
messages are one line and never show credentials that may be embedded in the configured URL.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import httpx

from agent.errors import NotFound, SourceError
from agent.names import suggestions
from agent.periods import floor_hour, utc
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
from agent.text import mask_url

ANNOTATION = "annotation"
PAGE_ROWS = 1000  # what the server really puts on a page (lens.md §4.1)
SNAPSHOT_LOOKBACK = timedelta(hours=3)
CLUSTER_CACHE_SECONDS = 60.0
OK_CODES = (2000, 0)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
_TIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})?$")


# -- small pure helpers (also used by tests and other modules) ----------------------------------
def normalize_base_url(url: str) -> str:
    """``http://host:8989`` -> ``http://host:8989/v1``; trailing slashes removed; no query.

    A URL without a scheme is taken as ``http://`` (``primus-lens-api:8989`` is how the seed's
    ``LENS_API_URL`` was usually written inside the cluster).
    """
    raw = (url or "").strip()
    if not raw:
        raise SourceError("Lens API URL is empty: set source.lens_url (env LENS_API_URL)")
    if "://" not in raw:
        raw = "http://" + raw
    try:
        u = httpx.URL(raw)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a config error
        raise SourceError(f"Lens API URL is not a URL ({type(exc).__name__})") from None
    if u.scheme not in ("http", "https") or not u.host:
        raise SourceError(f"Lens API URL must be http(s)://host[:port][/prefix], got scheme "
                          f"'{u.scheme}'")
    path = u.path.rstrip("/") or "/v1"
    return str(u.copy_with(path=path, query=None, fragment=None))


def rfc3339(dt: datetime) -> str:
    """UTC with ``Z``; fractional seconds only when present (Go's RFC3339 accepts both)."""
    dt = utc(dt)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(value: Any) -> datetime:
    """An RFC3339(Nano) string or Unix seconds -> aware UTC. Nanoseconds are cut to micro."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    m = _TIME_RE.match(str(value).strip()) if value is not None else None
    if not m:
        raise SourceError(f"Lens API returned an unreadable timestamp {value!r}")
    day, clock, frac, zone = m.groups()
    text = f"{day}T{clock}" + (f".{frac[:6].ljust(6, '0')}" if frac else "")
    if zone and zone not in ("Z", "z"):
        text += zone
    dt = datetime.fromisoformat(text)
    return utc(dt)


def inclusive_end(end: datetime) -> datetime:
    """The inclusive bound that selects exactly the whole-second stamps ``< end``."""
    end = utc(end)
    return end.replace(microsecond=0) if end.microsecond else end - timedelta(seconds=1)


def row_user(row: dict, annotation: str) -> str:
    """base.py's user chain as far as the API allows: annotation, owner_name, ``(unknown)``."""
    ann = row.get("annotations")
    if isinstance(ann, str):
        try:
            ann = json.loads(ann)
        except ValueError:
            ann = None
    value = ann.get(annotation) if isinstance(ann, dict) else None
    if value is not None and not isinstance(value, (dict, list)):
        # PostgreSQL's ->> (what sql.py reads) renders numbers and booleans as JSON text
        text = value if isinstance(value, str) else json.dumps(value)
        if text:
            return text
    owner = row.get("owner_name")
    if isinstance(owner, str) and owner:
        return owner
    return UNKNOWN_USER




def _num(row: dict, key: str) -> float:
    value = row.get(key)
    if value is None:
        return 0.0
    try:
        return float(value)  # JSON may print 8.0 as 8
    except (TypeError, ValueError):
        raise SourceError(f"Lens API returned a non-numeric {key}: {value!r}") from None


class _Row(NamedTuple):
    cluster: str  # the cluster we asked for (a real Lens row carries its writer's name)
    hour: datetime
    data: dict


class _Sums:
    """Σ allocated, Σ allocated·util, Σ util, row count — the additive parts of PeriodStats."""

    __slots__ = ("alloc", "weighted", "util", "rows")

    def __init__(self) -> None:
        self.alloc: list[float] = []
        self.weighted: list[float] = []
        self.util: list[float] = []
        self.rows = 0

    def add(self, row: dict) -> None:
        a, u = _num(row, "allocated_gpu_count"), _num(row, "avg_utilization")
        self.alloc.append(a)
        self.weighted.append(a * u)
        self.util.append(u)
        self.rows += 1

    def stats(self, name: str, capacity: float, **extra) -> PeriodStats:
        return PeriodStats(name=name, gpu_hours=math.fsum(self.alloc),
                           utilized_gpu_hours=math.fsum(self.weighted) / 100.0,
                           utilization_sum=math.fsum(self.util), rows=self.rows,
                           capacity_gpu_hours=capacity, **extra)


def _sums(rows: Iterable[_Row]) -> _Sums:
    s = _Sums()
    for r in rows:
        s.add(r.data)
    return s


class LensSource:
    """A ``Source`` over a running Lens API (``http://primus-lens-api:8989/v1``)."""

    def __init__(self, base_url: str, *, user_annotation: str = "primus-safe.user.name",
                 timeout: float = 15.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None):
        self.base_url = normalize_base_url(base_url)
        self.shown_url = mask_url(self.base_url)
        self.user_annotation = user_annotation
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = max(0.0, float(backoff))
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                    headers={"Accept": "application/json",
                                             "User-Agent": "gpureport"})
        self._lock = threading.Lock()
        self._cluster_cache: tuple[float, list[str]] | None = None

    # -- HTTP plumbing ------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``base + path`` and return the envelope's ``data`` (or raise SourceError)."""
        url = self.base_url + path
        full_path = httpx.URL(url).path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        last = ""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                resp = self._client.get(url, params=query)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise SourceError(f"Lens API {self.shown_url}: {type(exc).__name__}") from None
            except httpx.TransportError as exc:  # connect, timeout, reset, protocol
                detail = " ".join(str(exc).split())
                last = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
            else:
                status = resp.status_code
                if status >= 500 or status == 429:
                    last = f"HTTP {status} for {full_path}"
                elif status != 200:
                    hint = (" (source.lens_url must include the API prefix, e.g. "
                            "http://primus-lens-api:8989/v1)") if status == 404 else ""
                    raise SourceError(f"Lens API {self.shown_url}: HTTP {status} for "
                                      f"{full_path}{hint}")
                else:
                    return self._envelope(resp, full_path, query)
            if attempt + 1 < attempts and self.backoff:
                time.sleep(self.backoff * (2 ** attempt))
        raise SourceError(f"Lens API {self.shown_url}: unreachable after {attempts} attempt"
                          f"{'s' if attempts != 1 else ''} ({last})")

    def _envelope(self, resp: httpx.Response, full_path: str, query: dict) -> Any:
        try:
            body = json.loads(resp.content)
        except ValueError:
            snippet = resp.content[:80].decode("utf-8", "replace")
            raise SourceError(f"Lens API returned a non-JSON body for {full_path}: "
                              f"{snippet!r}") from None
        meta = body.get("meta") if isinstance(body, dict) else None
        if not isinstance(meta, dict):
            raise SourceError(f"Lens API returned JSON without a meta envelope for {full_path}")
        code, message = meta.get("code"), " ".join(str(meta.get("message") or "").split())
        if code in OK_CODES:
            return body.get("data")
        cluster = query.get("cluster")
        if code == 4004 and cluster and message.startswith("ClientSet for cluster"):
            try:
                options = self.clusters()
            except SourceError:
                options = []
            raise NotFound("cluster", str(cluster), suggestions(str(cluster), options))
        raise SourceError(f"Lens API error {code} for {full_path}: {message or '(no message)'}")

    def _strings(self, path: str, params: dict[str, Any]) -> list[str]:
        data = self._get(path, params)
        if data is None:
            return []
        if not isinstance(data, list):
            raise SourceError(f"Lens API returned {type(data).__name__} instead of a list for "
                              f"{path}")
        return [str(x) for x in data if x is not None]

    def _pass(self, path: str, params: dict, lo: datetime, hi: datetime,
              order: tuple[str, str]) -> tuple[dict[Any, dict], int, int]:
        """Pages 1..total_pages of one window in one order: (rows by id, total, total_pages)."""
        base = {**params, "start_time": rfc3339(lo), "end_time": rfc3339(hi),
                "page_size": PAGE_ROWS, "order_by": order[0], "order_direction": order[1]}
        seen: dict[Any, dict] = {}
        page, pages, total = 1, 1, 0
        while page <= pages:
            wrapper = self._get(path, {**base, "page": page})
            if isinstance(wrapper, list):  # the docs' bare-array shape: one page, no wrapper
                rows, total, pages = wrapper, len(wrapper), 1
            elif isinstance(wrapper, dict):
                rows = wrapper.get("data") or []
                total = int(wrapper.get("total") or 0)
                pages = int(wrapper.get("total_pages") or 0)
            elif wrapper is None:
                rows, total, pages = [], 0, 0
            else:
                raise SourceError(f"Lens API returned an unexpected page for {path}")
            for row in rows:
                if not isinstance(row, dict):
                    raise SourceError(f"Lens API returned a non-object row for {path}")
                key = row.get("id")
                seen[key if key is not None else json.dumps(row, sort_keys=True)] = row
            page += 1
        return seen, total, pages

    def _paged(self, path: str, params: dict, lo: datetime, hi: datetime) -> list[dict]:
        """Every row with lo ≤ stat_hour ≤ hi, however the server shuffles ties between pages."""
        if lo > hi:
            return []
        seen, total, _ = self._pass(path, params, lo, hi, ("time", "asc"))
        if len(seen) >= total:
            return list(seen.values())
        mid = floor_hour(lo + (hi - lo) / 2)
        if mid <= lo:
            mid = floor_hour(lo) + timedelta(hours=1)
        if mid <= hi:  # two smaller windows; each eventually fits on one stable page
            return (self._paged(path, params, lo, mid - timedelta(seconds=1))
                    + self._paged(path, params, mid, hi))
        for order in (("time", "desc"), ("utilization", "asc"), ("utilization", "desc")):
            more, total, _ = self._pass(path, params, lo, hi, order)
            seen.update(more)
            if len(seen) >= total:
                return list(seen.values())
        raise SourceError(f"Lens API {self.shown_url}: {path} kept moving rows between pages "
                          f"({len(seen)} of {total} rows in the hour {rfc3339(lo)})")

    # -- rows ---------------------------------------------------------------------------------
    def _targets(self, cluster: str | None) -> list[str]:
        return [cluster] if cluster is not None else self.clusters()

    def _hourly(self, kind: str, clusters: list[str], start: datetime, end: datetime,
                **filters: str | None) -> list[_Row]:
        """Rows of ``/gpu-aggregation/<kind>/hourly-stats`` with start ≤ stat_hour < end."""
        start, end = utc(start), utc(end)
        if start >= end:
            return []
        params = {k: v for k, v in filters.items() if v is not None}
        out: list[_Row] = []
        for name in clusters:
            rows = self._paged(f"/gpu-aggregation/{kind}/hourly-stats", {"cluster": name, **params},
                               start, inclusive_end(end))
            for row in rows:
                hour = parse_time(row.get("stat_hour"))
                if start <= hour < end:
                    out.append(_Row(name, hour, row))
        return out

    def _workload_rows(self, clusters: list[str], start: datetime, end: datetime, *,
                       namespace: str | None = None, workload: str | None = None,
                       user: str | None = None) -> list[_Row]:
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
                    any_value: bool = False) -> list[_Row]:
        if key is None or (value is None and not any_value):
            return []  # sql.py compares with NULL here, which matches nothing
        rows = self._hourly("labels", clusters, start, end, dimension_type=dtype,
                            dimension_key=key, dimension_value=value)
        return [r for r in rows if r.data.get("dimension_type") == dtype
                and r.data.get("dimension_key") == key
                and (any_value or r.data.get("dimension_value") == value)]

    def _scope_rows(self, scope: Scope, clusters: list[str], start: datetime,
                    end: datetime) -> tuple[str, list[_Row]]:
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

    def _capacity_rows(self, clusters: list[str], start: datetime, end: datetime) -> list[_Row]:
        return self._hourly("cluster", clusters, start, end)

    @staticmethod
    def _capacity(rows: Iterable[_Row]) -> float:
        return math.fsum(_num(r.data, "total_gpu_capacity") for r in rows)

    # -- Source: metadata ---------------------------------------------------------------------
    def clusters(self) -> list[str]:
        with self._lock:
            cached = self._cluster_cache
        if cached and time.monotonic() - cached[0] < CLUSTER_CACHE_SECONDS:
            return list(cached[1])
        names = sorted(set(self._strings("/gpu-aggregation/clusters", {})))
        with self._lock:
            self._cluster_cache = (time.monotonic(), names)
        return list(names)

    def _distinct(self, path: str, cluster: str | None, start: datetime, end: datetime,
                  **params: str) -> list[str]:
        start, end = utc(start), utc(end)
        if start >= end:
            return []
        out: set[str] = set()
        for name in self._targets(cluster):
            out.update(self._strings(path, {"cluster": name, **params,
                                            "start_time": rfc3339(start),
                                            "end_time": rfc3339(inclusive_end(end))}))
        return sorted(out)

    def namespaces(self, cluster: str | None, start: datetime, end: datetime) -> list[str]:
        return self._distinct("/gpu-aggregation/namespaces", cluster, start, end)

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
                  namespace: str | None = None, user: str | None = None) -> list[WorkloadInfo]:
        rows = self._workload_rows(self._targets(cluster), start, end, namespace=namespace,
                                   user=user)
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

    # -- Source: figures ----------------------------------------------------------------------
    def period_stats(self, scope: Scope, start: datetime, end: datetime) -> PeriodStats:
        clusters = self._targets(scope.cluster)
        table, rows = self._scope_rows(scope, clusters, start, end)
        if table == "cluster":
            capacity = self._capacity(rows)
        else:
            capacity = self._capacity(self._capacity_rows(clusters, start, end))
        workloads = 0
        if table == "workload":
            workload_rows: list[_Row] = rows
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
        return _sums(rows).stats(scope.name, capacity, workloads=workloads)

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
            capacity = self._capacity(self._capacity_rows(clusters, start, end))
            names: dict[str, set] = {}
            for r in self._workload_rows(clusters, start, end):
                names.setdefault(str(r.data.get("namespace")), set()).add(
                    r.data.get("workload_name"))
            for ns, group in _group(rows, lambda r: str(r.data.get("namespace"))):
                out.append(_sums(group).stats(ns, capacity, workloads=len(names.get(ns, ()))))
        elif child in ("label", "user") and scope.kind in ("cluster", "label") and not (
                child == "user" and scope.namespace is not None):
            if child == "user":
                dtype, key = ANNOTATION, self.user_annotation
            else:
                if not label_key:
                    raise SourceError("label children need a label key")
                dtype, key = label_type, label_key
            rows = self._label_rows(clusters, start, end, dtype, key, any_value=True)
            capacity = self._capacity(self._capacity_rows(clusters, start, end))
            for value, group in _group(rows, lambda r: str(r.data.get("dimension_value"))):
                out.append(_sums(group).stats(value, capacity))
        elif child in ("user", "workload"):
            workload = scope.workload if scope.kind == "workload" else None
            rows = self._workload_rows(clusters, start, end, namespace=scope.namespace,
                                       workload=workload, user=scope.user)
            capacity = self._capacity(self._capacity_rows(clusters, start, end))
            if child == "user":
                for who, group in _group(rows, lambda r: row_user(r.data, self.user_annotation)):
                    n = len({(r.data.get("namespace"), r.data.get("workload_name")) for r in group})
                    out.append(_sums(group).stats(who, capacity, workloads=n))
            else:
                key_of = lambda r: (str(r.data.get("namespace")),  # noqa: E731
                                    str(r.data.get("workload_name")))
                for (ns, name), group in _group(rows, key_of):
                    out.append(_sums(group).stats(
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
            capacity.setdefault(r.hour, []).append(_num(r.data, "total_gpu_capacity"))
        points = []
        for hour, group in _group(rows, lambda r: r.hour):
            s = _sums(group)
            points.append(HourlyPoint(time=hour, allocated_gpus=math.fsum(s.alloc),
                                      utilized_gpus=math.fsum(s.weighted) / 100.0,
                                      utilization_sum=math.fsum(s.util), rows=s.rows,
                                      capacity_gpus=math.fsum(capacity.get(hour, ()))))
        return sorted(points, key=lambda p: p.time)

    # -- Source: snapshots, freshness, health -------------------------------------------------
    def latest_snapshot(self, cluster: str | None, at: datetime) -> Snapshot | None:

        at = utc(at)
        found: list[Snapshot] = []
        for name in self._targets(cluster):
            data = self._get("/gpu-aggregation/snapshots", {
                "cluster": name, "start_time": rfc3339(at - SNAPSHOT_LOOKBACK),
                "end_time": rfc3339(at)})
            best: tuple[datetime, int, dict] | None = None
            for row in data or []:
                if not isinstance(row, dict) or row.get("dimension_type") != "cluster":
                    continue
                t = parse_time(row.get("snapshot_time"))
                if t <= at and (best is None or (t, row.get("id") or 0) > best[:2]):
                    best = (t, row.get("id") or 0, row)
            if best is None:
                continue
            row = best[2]
            details = row.get("allocation_details") or {}
            if isinstance(details, str):
                details = json.loads(details or "{}")
            found.append(Snapshot(cluster=name, time=best[0],
                                  total_gpus=int(_num(row, "total_gpu_capacity")),
                                  allocated_gpus=int(_num(row, "allocated_gpu_count")),
                                  by_namespace=namespace_allocations(
                                      details if isinstance(details, dict) else {})))
        return merge_snapshots(found, cluster)

    def newest_stat_hour(self, cluster: str | None) -> datetime | None:
        """Newest cluster-row hour: the last two days first (small page), else all time."""
        newest: datetime | None = None
        recent = floor_hour(datetime.now(timezone.utc)) - timedelta(days=2)
        for name in self._targets(cluster):
            for lo in (recent, _EPOCH):
                page = self._get("/gpu-aggregation/cluster/hourly-stats", {
                    "cluster": name, "start_time": rfc3339(lo), "end_time": rfc3339(_FAR_FUTURE),
                    "page": 1, "page_size": PAGE_ROWS, "order_by": "time",
                    "order_direction": "desc"})
                rows = (page.get("data") if isinstance(page, dict) else page) or []
                if rows:
                    hour = max(parse_time(r.get("stat_hour")) for r in rows)
                    newest = hour if newest is None or hour > newest else newest
                    break
        return newest

    def ping(self) -> str:
        n = len(self._strings("/gpu-aggregation/clusters", {}))
        return f"lens API {self.shown_url} ({n} cluster{'s' if n != 1 else ''})"

    def close(self) -> None:
        self._client.close()

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
            capacity = self._capacity(self._capacity_rows([name], start, end))
            rows = [r for r in self._workload_rows([name], start, end)
                    if _num(r.data, "allocated_gpu_count") >= float(min_gpus)
                    and _num(r.data, "avg_utilization") < float(max_utilization)]
            key_of = lambda r: (str(r.data.get("namespace")),  # noqa: E731
                                str(r.data.get("workload_name")))
            for (ns, wl), group in _group(rows, key_of):
                out.append(_sums(group).stats(
                    wl, capacity, workloads=1, namespace=ns, cluster=name,
                    kind=max(str(r.data.get("workload_type") or "") for r in group),
                    user=max(row_user(r.data, self.user_annotation) for r in group)))
        return sorted(out, key=lambda p: (p.cluster or "", p.namespace or "", p.name))

    # -- workload inventory (lens.md §4.5) ------------------------------------------------------
    def workload_names(self, cluster: str | None, start: datetime, end: datetime) -> list[str]:
        """Names for resolving mentions in a question. The top-level ``/workloads`` list is a few
        large pages, where the hourly rows of five weeks would be hundreds of requests; a
        workload counts when it was created before ``end`` and last updated after ``start``.
        Falls back to the hourly rows if the endpoint is unavailable."""
        clusters = [cluster] if cluster is not None else self.clusters()
        lo, hi = start.timestamp(), end.timestamp()
        names: set[str] = set()
        try:
            for c in clusters:
                for item in self.list_workloads(c, page_size=1000):
                    if int(item.get("start_at") or 0) < hi and int(item.get("end_at") or hi) >= lo:
                        names.add(str(item.get("name")))
        except SourceError:
            return sorted({w.name for w in self.workloads(cluster, start, end)})
        return sorted(names)

    def list_workloads(self, cluster: str | None = None, *, namespace: str | None = None,
                       kind: str | None = None, status: str | None = None,
                       name: str | None = None, page_size: int = 200) -> list[dict]:
        """Every top-level workload of ``/workloads`` (snake_case paging, newest first)."""
        out: list[dict] = []
        page = 1
        while True:
            data = self._get("/workloads", {"cluster": cluster, "namespace": namespace,
                                            "kind": kind, "status": status, "name": name,
                                            "page_num": page, "page_size": page_size}) or {}
            items = data.get("data") or []
            out.extend(items)
            if not items or len(out) >= int(data.get("total") or 0):
                return out
            page += 1

    def __enter__(self) -> "LensSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _group(rows: Iterable[_Row], key) -> Iterator[tuple[Any, list[_Row]]]:
    groups: dict[Any, list[_Row]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return iter(groups.items())
