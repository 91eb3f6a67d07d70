"""A local HTTP server that speaks the Lens API contract (lens.md §1–§4.5), for tests.

The contract spoken is the Lens API's ``/v1`` routes as a real Lens serves them — hourly stats,
snapshots, clusters, ``/workloads`` — with its envelope, paging and error codes.

It answers from a database holding the Lens tables (``agent/sources/schema.py``), with its own
raw, parametrized SQL — deliberately independent of the code under test. gpureport's demo store
keeps several clusters in one database, so the per-cluster databases of a real Lens are emulated
by filtering on ``cluster_name``; ``/gpu-aggregation/clusters`` lists the distinct
``cluster_name`` values of the hourly and snapshot tables. ``gpu_workload`` has no cluster column,
so the workload endpoints show every row whichever (known) cluster is asked for.

Quirks reproduced on purpose (a client must cope with them against a real Lens):

* every route lives under ``/v1``; unknown paths get HTTP 404 ``404 page not found`` (plain
  text); a known path with a trailing slash gets a 301 to the slash-less path;
* JSON envelope ``{meta: {code, message}, data, tracing}``; errors are HTTP 200 with code 4001
  (``Invalid request parameters``, ``Invalid start_time format`` ...), 4004 (``ClientSet for
  cluster <x> not found``, ``No snapshot found``) or 5002 (a table is missing);
* hourly stats: ``page_size`` validated (1..1000) then ignored — pages hold 1000 rows, the
  wrapper says ``page_size: 10000``, echoes ``page`` (0 when omitted), ``total_pages`` =
  ceil(total/1000); ordered by the sort column only (no tiebreaker); ranges inclusive at both
  ends; a non-UTC offset is read as UTC wall clock (pgx binds wall-clock fields only);
* float columns print without a decimal point when integral (``8``, not ``8.0``), as Go does;
  timestamps are RFC3339Nano ``Z`` strings; snapshot ``allocated_gpu_count`` is an int and NULL
  key/value columns print as ``""``; JSON columns are objects;
* ``/workloads``: snake_case ``page_num``/``page_size`` (``page_size <= 0`` = no limit), ``order``
  ignored (always descending), ``end_at`` = ``updated_at``; a non-integer page gives HTTP 400 with
  ``{"error": ...}`` followed by a second envelope; ``/workloadMetadata``; ``/workloads/{uid}``
  (mixed casing, ``endTime`` 0) and ``/workloads/{uid}/hierarchy``.
* An empty ``cluster`` parameter selects ``default_cluster`` if it is known, else the API's "own"
  cluster, which here is the alphabetically first known cluster (a real API uses its
  ``CLUSTER_NAME``).

Fault injection for tests: ``fail_next(n, status)``, ``garbage_next(n)``,
``envelope_error_next(n, code, message)``, ``delay(seconds)``; ordering knobs
``page_overlap`` (page p > 1 starts that many rows early, as if rows were inserted while a client
paged) and ``shuffle_ties`` (rows sharing a sort value come in a new random order per request);
paging lies: ``page_fields`` replaces fields of every hourly-stats wrapper (``{"total": "lots"}``,
``{"total_pages": 100000000}``) and ``empty_pages`` serves pages without rows.
``requests`` records ``(path, params)`` of every request received, failed ones included;
``counts()`` tallies them by path.

Usage::

    from tests.fakes.lens_api import serve_lens

    with serve_lens(pg_url) as server:      # or a sqlite:/// URL (the demo store)
        src = LensSource(server.url)        # http://127.0.0.1:PORT/v1
        server.fail_next(2)                 # the next two requests get HTTP 500
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, NamedTuple
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import DateTime, bindparam, create_engine, inspect, text

PAGE_ROWS = 1000
REPORTED_PAGE_SIZE = 10000
HOURLY_TABLES = {
    "cluster": "cluster_gpu_hourly_stats",
    "namespaces": "namespace_gpu_hourly_stats",
    "labels": "label_gpu_hourly_stats",
    "workloads": "workload_gpu_hourly_stats",
}
HOURLY_WHAT = {"cluster": "cluster", "namespaces": "namespace", "labels": "label",
               "workloads": "workload"}
CLUSTER_TABLES = (*HOURLY_TABLES.values(), "gpu_allocation_snapshots")
JSON_COLUMNS = {"labels", "annotations", "allocation_details"}
STATUS_COLORS = {"Running": "green", "Pending": "yellow", "Done": "blue", "Failed": "red",
                 "Deleted": "gray"}
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_INT = re.compile(r"^[+-]?\d+$")


class RecordedRequest(NamedTuple):
    path: str  # as received, e.g. /v1/gpu-aggregation/clusters
    params: dict[str, str]  # first value of each query parameter


class LensError(Exception):
    """An error the Lens middleware turns into an HTTP-200 envelope."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class RawResponse(Exception):
    """A response outside the envelope (404 text, 301, 400 concatenated body)."""

    def __init__(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
                 headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers or {}


def bad_params() -> LensError:
    return LensError(4001, "Invalid request parameters")


# -- value formatting as Go's encoding/json + time.RFC3339Nano would do it ----------------------
def go_time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    text_ = value.isoformat()
    if value.microsecond:
        text_ = text_.rstrip("0")
    return text_ + "Z"


def unix(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp())


def go_number(value: Any) -> Any:
    """Go prints an integral float64 without a decimal point: 8.0 -> 8."""
    if type(value) is float and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def go_json(value: Any) -> Any:
    """``go_number`` applied through containers."""
    if isinstance(value, dict):
        return {k: go_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [go_json(v) for v in value]
    return go_number(value)


def json_column(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return {} if value is None else go_json(value)


TIME_COLUMNS = {"stat_hour", "snapshot_time", "created_at", "updated_at"}


def serialize_row(mapping: dict) -> dict:
    """A table row as Lens' gorm models print it (values already Go-shaped)."""
    out = {}
    for key, value in mapping.items():
        if key in JSON_COLUMNS:
            out[key] = json_column(value)
        elif isinstance(value, datetime) or (key in TIME_COLUMNS and isinstance(value, str)):
            out[key] = go_time(value)
        else:
            out[key] = go_number(value)
    return out


def parse_rfc3339(value: str, which: str) -> datetime:
    """Go's time.RFC3339 parse, then the wall clock only (what pgx binds for `timestamp`)."""
    m = _RFC3339.match(value)
    if not m:
        raise LensError(4001, f"Invalid {which} format")
    day, clock, frac, _zone = m.groups()
    try:
        dt = datetime.fromisoformat(f"{day}T{clock}")
    except ValueError:
        raise LensError(4001, f"Invalid {which} format") from None
    if frac:
        dt = dt.replace(microsecond=int(frac[1:7].ljust(6, "0")))
    return dt


def int_param(params: dict, key: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """gin form binding of an ``omitempty,min,max`` int: '' or absent -> 0, junk -> 4001."""
    raw = params.get(key, "")
    if raw == "":
        return 0
    if not _INT.match(raw):
        raise bad_params()
    value = int(raw)
    if value != 0 and ((lo is not None and value < lo) or (hi is not None and value > hi)):
        raise bad_params()
    return value


def oneof(params: dict, key: str, allowed: tuple[str, ...], *, required: bool = False) -> str:
    value = params.get(key, "")
    if value == "":
        if required:
            raise bad_params()
        return ""
    if value not in allowed:
        raise bad_params()
    return value


def required(params: dict, *keys: str) -> None:
    if any(params.get(k, "") == "" for k in keys):
        raise bad_params()


class LensServer:
    """A running fake Lens API. Create it with :func:`serve_lens`."""

    def __init__(self, db_url: str, *, default_cluster: str | None = None):
        self.db_url = db_url
        self.default_cluster = default_cluster
        self.engine = create_engine(db_url, pool_pre_ping=True)
        self.requests: list[RecordedRequest] = []
        self.page_overlap = 0
        self.shuffle_ties = False
        self.page_fields: dict[str, Any] = {}
        self.empty_pages = False
        self._lock = threading.Lock()
        self._fail: list[int] = []
        self._garbage = 0
        self._envelope_errors: list[tuple[int, str]] = []
        self._delay = 0.0
        self._stopping = threading.Event()
        self._tables: set[str] = set()
        self._known_cache: list[str] | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def start(self) -> "LensServer":
        handler = type("LensHandler", (_Handler,), {"lens": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"lens-server-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.engine.dispose()

    # -- fault injection ----------------------------------------------------------------------
    def fail_next(self, n: int, status: int = 500) -> None:
        """The next ``n`` requests get HTTP ``status`` with a plain-text body."""
        with self._lock:
            self._fail.extend([status] * n)

    def garbage_next(self, n: int) -> None:
        """The next ``n`` requests get HTTP 200 with a body that is not JSON."""
        with self._lock:
            self._garbage += n

    def envelope_error_next(self, n: int, code: int = 5002,
                            message: str = "Failed to get cluster hourly stats") -> None:
        """The next ``n`` requests get HTTP 200 with an error envelope."""
        with self._lock:
            self._envelope_errors.extend([(code, message)] * n)

    def delay(self, seconds: float) -> None:
        """Wait this long before answering every request from now on (0 to stop)."""
        self._delay = max(0.0, float(seconds))

    def reset_faults(self) -> None:
        with self._lock:
            self._fail.clear()
            self._garbage = 0
            self._envelope_errors.clear()
        self._delay = 0.0
        self.page_overlap = 0
        self.shuffle_ties = False
        self.page_fields = {}
        self.empty_pages = False

    def paths(self) -> list[str]:
        """Just the paths of ``requests`` (handy for counting retries)."""
        with self._lock:
            return [r.path for r in self.requests]

    def counts(self) -> dict[str, int]:
        """Requests received per path, without the ``/v1`` prefix."""
        out: dict[str, int] = {}
        for path in self.paths():
            key = path.removeprefix("/v1")
            out[key] = out.get(key, 0) + 1
        return out

    # -- request handling ---------------------------------------------------------------------
    def _take_fault(self) -> tuple[str, Any] | None:
        with self._lock:
            if self._fail:
                return "fail", self._fail.pop(0)
            if self._garbage:
                self._garbage -= 1
                return "garbage", None
            if self._envelope_errors:
                return "envelope", self._envelope_errors.pop(0)
        return None

    def handle(self, method: str, raw_path: str) -> tuple[int, bytes, str, dict[str, str]]:
        parts = urlsplit(raw_path)
        path = parts.path
        params = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append(RecordedRequest(path, params))
        if self._delay:
            self._stopping.wait(self._delay)
        fault = self._take_fault()
        if fault is not None:
            kind, arg = fault
            if kind == "fail":
                return arg, f"{arg} injected failure\n".encode(), "text/plain; charset=utf-8", {}
            if kind == "garbage":
                return 200, b"<html><body>502 Bad Gateway (injected)</body></html>", \
                    "text/html", {}
            code, message = arg
            return 200, envelope(None, code, message), "application/json; charset=utf-8", {}
        try:
            if method != "GET":
                raise RawResponse(404, b"404 page not found")
            route = self._route(path)
            if route is None:
                stripped = path.rstrip("/")
                if stripped != path and stripped and self._route(stripped) is not None:
                    target = stripped + (f"?{parts.query}" if parts.query else "")
                    body = f'<a href="{target}">Moved Permanently</a>.\n\n'.encode()
                    raise RawResponse(301, body, "text/html; charset=utf-8",
                                      {"Location": target})
                raise RawResponse(404, b"404 page not found")
            fn, args = route
            data = fn(params, *args)
            return 200, envelope(data), "application/json; charset=utf-8", {}
        except RawResponse as r:
            return r.status, r.body, r.content_type, r.headers
        except LensError as e:
            return 200, envelope(None, e.code, e.message), "application/json; charset=utf-8", {}
        except Exception as exc:  # noqa: BLE001 - gin's recovery middleware answers 500
            return 500, f"lens test server bug: {exc!r}\n".encode(), "text/plain", {}

    def _route(self, path: str) -> tuple[Callable, tuple] | None:
        fixed: dict[str, Callable] = {
            "/v1/gpu-aggregation/clusters": self.clusters_endpoint,
            "/v1/gpu-aggregation/namespaces": self.namespaces_endpoint,
            "/v1/gpu-aggregation/dimension-keys": self.dimension_keys_endpoint,
            "/v1/gpu-aggregation/dimension-values": self.dimension_values_endpoint,
            "/v1/gpu-aggregation/snapshots": self.snapshots_endpoint,
            "/v1/gpu-aggregation/snapshots/latest": self.latest_snapshot_endpoint,
            "/v1/workloads": self.workloads_endpoint,
            "/v1/workloadMetadata": self.workload_metadata_endpoint,
        }
        if path in fixed:
            return fixed[path], ()
        m = re.fullmatch(r"/v1/gpu-aggregation/(cluster|namespaces|labels|workloads)/hourly-stats",
                         path)
        if m:
            return self.hourly_endpoint, (m.group(1),)
        m = re.fullmatch(r"/v1/workloads/([^/]+)", path)
        if m:
            return self.workload_detail_endpoint, (m.group(1),)
        m = re.fullmatch(r"/v1/workloads/([^/]+)/hierarchy", path)
        if m:
            return self.hierarchy_endpoint, (m.group(1),)
        return None

    # -- database helpers ---------------------------------------------------------------------
    def _has(self, table: str) -> bool:
        if table not in self._tables:
            self._tables = set(inspect(self.engine).get_table_names())
        return table in self._tables

    def _query(self, sql: str, failure: str, **params) -> list[dict]:
        stmt = text(sql)
        # typed binds: on SQLite a bare datetime is bound as 'YYYY-MM-DD HH:MM:SS' while the
        # stored text is 'YYYY-MM-DD HH:MM:SS.ffffff', which breaks inclusive comparisons
        stamps = [bindparam(k, type_=DateTime()) for k, v in params.items()
                  if isinstance(v, datetime)]
        if stamps:
            stmt = stmt.bindparams(*stamps)
        try:
            with self.engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(stmt, params)]
        except Exception:  # noqa: BLE001 - Lens logs the cause and returns a short message
            raise LensError(5002, failure) from None

    def known_clusters(self) -> list[str]:
        parts = [f"SELECT DISTINCT cluster_name FROM {t}" for t in CLUSTER_TABLES if self._has(t)]
        if not parts:
            return []
        rows = self._query(" UNION ".join(parts), "Failed to get clusters")
        return sorted(r["cluster_name"] for r in rows if r["cluster_name"])

    def resolve_cluster(self, params: dict) -> str:
        """The cluster a request is about. The known names are cached and re-read whenever a
        name is missing, so rows inserted after the server started are still found."""
        name = params.get("cluster", "")
        known = self._known_cache
        wanted = name or self.default_cluster
        if known is None or (wanted and wanted not in known):
            known = self._known_cache = self.known_clusters()
        if name:
            if name not in known:
                raise LensError(4004, f"ClientSet for cluster {name} not found")
            return name
        if self.default_cluster and self.default_cluster in known:
            return self.default_cluster
        return known[0] if known else "default"

    def _range(self, params: dict) -> tuple[datetime, datetime]:
        return (parse_rfc3339(params["start_time"], "start_time"),
                parse_rfc3339(params["end_time"], "end_time"))

    # -- /gpu-aggregation ---------------------------------------------------------------------
    def clusters_endpoint(self, params: dict) -> list[str]:
        # "order not guaranteed": deliberately not alphabetical, so clients sort themselves
        self._known_cache = self.known_clusters()
        return sorted(self._known_cache, reverse=True)

    def hourly_endpoint(self, params: dict, kind: str) -> dict:
        table = HOURLY_TABLES[kind]
        cluster = self.resolve_cluster(params)
        required(params, "start_time", "end_time")
        page = int_param(params, "page", lo=1)
        int_param(params, "page_size", lo=1, hi=1000)  # validated, then ignored
        order_by = oneof(params, "order_by", ("time", "utilization")) or "time"
        direction = oneof(params, "order_direction", ("asc", "desc")) or "asc"
        conds, binds = ["cluster_name = :cluster"], {"cluster": cluster}
        if kind == "labels":
            oneof(params, "dimension_type", ("label", "annotation"), required=True)
            required(params, "dimension_key")
            filters = ("dimension_type", "dimension_key", "dimension_value")
        elif kind == "namespaces":
            filters = ("namespace",)
        elif kind == "workloads":
            filters = ("namespace", "workload_name", "workload_type")
        else:
            filters = ()
        start, end = self._range(params)
        conds.append("stat_hour >= :start AND stat_hour <= :end")
        binds.update(start=start, end=end)
        for f in filters:
            if params.get(f, ""):
                conds.append(f"{f} = :{f}")
                binds[f] = params[f]
        failure = f"Failed to get {HOURLY_WHAT[kind]} hourly stats"
        if not self._has(table):
            raise LensError(5002, failure)
        where = " AND ".join(conds)
        total = self._query(f"SELECT count(*) AS n FROM {table} WHERE {where}", failure,
                            **binds)[0]["n"]
        column = "stat_hour" if order_by == "time" else "avg_utilization"
        order = f"{column} {direction.upper()}"
        if self.shuffle_ties:
            order += ", (id * :mult) % 1009"
            binds["mult"] = random.randrange(1, 1009)
        offset = (max(page, 1) - 1) * PAGE_ROWS
        if offset and self.page_overlap:
            offset = max(0, offset - self.page_overlap)
        rows = self._query(f"SELECT * FROM {table} WHERE {where} ORDER BY {order} "
                           f"LIMIT {PAGE_ROWS} OFFSET :offset", failure, offset=offset, **binds)
        return {"total": total, "page": page, "page_size": REPORTED_PAGE_SIZE,
                "total_pages": math.ceil(total / PAGE_ROWS),
                "data": [] if self.empty_pages else [serialize_row(r) for r in rows],
                **self.page_fields}

    def _distinct(self, params: dict, column: str, table: str, failure: str,
                  extra: dict[str, str]) -> list[str]:
        cluster = self.resolve_cluster(params)
        required(params, "start_time", "end_time", *extra)
        start, end = self._range(params)
        if not self._has(table):
            raise LensError(5002, failure)
        conds = ["cluster_name = :cluster", "stat_hour >= :start", "stat_hour <= :end"]
        conds += [f"{col} = :{col}" for col in extra.values()]
        binds = {"cluster": cluster, "start": start, "end": end,
                 **{col: params[p] for p, col in extra.items()}}
        rows = self._query(f"SELECT DISTINCT {column} AS v FROM {table} WHERE "
                           + " AND ".join(conds), failure, **binds)
        return [r["v"] for r in rows]

    def namespaces_endpoint(self, params: dict) -> list[str]:
        return self._distinct(params, "namespace", "namespace_gpu_hourly_stats",
                              "Failed to get namespaces", {})

    def dimension_keys_endpoint(self, params: dict) -> list[str]:
        return self._distinct(params, "dimension_key", "label_gpu_hourly_stats",
                              "Failed to get dimension keys", {"dimension_type": "dimension_type"})

    def dimension_values_endpoint(self, params: dict) -> list[str]:
        return self._distinct(params, "dimension_value", "label_gpu_hourly_stats",
                              "Failed to get dimension values",
                              {"dimension_type": "dimension_type",
                               "dimension_key": "dimension_key"})

    @staticmethod
    def _snapshot(row: dict) -> dict:
        out = serialize_row(row)
        for key in ("dimension_key", "dimension_value"):
            if out.get(key) is None:
                out[key] = ""
        out["allocated_gpu_count"] = int(out.get("allocated_gpu_count") or 0)
        return out

    def snapshots_endpoint(self, params: dict) -> list[dict]:
        cluster = self.resolve_cluster(params)
        end = (parse_rfc3339(params["end_time"], "end_time") if params.get("end_time")
               else datetime.now(timezone.utc).replace(tzinfo=None))
        start = (parse_rfc3339(params["start_time"], "start_time") if params.get("start_time")
                 else end - timedelta(hours=24))
        failure = "Failed to get snapshots"
        if not self._has("gpu_allocation_snapshots"):
            raise LensError(5002, failure)
        rows = self._query("SELECT * FROM gpu_allocation_snapshots WHERE cluster_name = :c "
                           "AND snapshot_time >= :s AND snapshot_time <= :e "
                           "ORDER BY snapshot_time ASC", failure, c=cluster, s=start, e=end)
        return [self._snapshot(r) for r in rows]

    def latest_snapshot_endpoint(self, params: dict) -> dict:
        cluster = self.resolve_cluster(params)
        if not self._has("gpu_allocation_snapshots"):
            raise LensError(5002, "Failed to get latest snapshot")
        rows = self._query("SELECT * FROM gpu_allocation_snapshots WHERE cluster_name = :c "
                           "ORDER BY snapshot_time DESC LIMIT 1", "Failed to get latest snapshot",
                           c=cluster)
        if not rows:
            raise LensError(4004, "No snapshot found")
        return self._snapshot(rows[0])

    # -- /workloads ---------------------------------------------------------------------------
    def _gpu_usage(self, uid: str) -> tuple[int, dict[str, float]]:
        """Σ pod GPUs and GPU-hours per model, if the pod tables exist (not in schema.py)."""
        if not (self._has("workload_pod_reference") and self._has("pod_resource")):
            return 0, {}
        rows = self._query("SELECT pr.gpu_model, pr.gpu_allocated, pr.created_at, pr.end_at "
                           "FROM workload_pod_reference r JOIN pod_resource pr "
                           "ON pr.uid = r.pod_uid WHERE r.workload_uid = :u",
                           "Failed to get workload", u=uid)
        now = time.time()
        total, hours = 0, {}
        for r in rows:
            gpus = int(r["gpu_allocated"] or 0)
            total += gpus
            began = unix(r["created_at"]) if r["created_at"] is not None else now
            ended = unix(r["end_at"]) if r["end_at"] is not None else now
            model = r["gpu_model"] or ""
            hours[model] = hours.get(model, 0.0) + gpus * max(0.0, ended - began) / 3600.0
        return total, hours

    def workloads_endpoint(self, params: dict) -> dict:
        self.resolve_cluster(params)
        values = {}
        for key, default in (("page_num", 1), ("page_size", 10)):
            raw = params.get(key, "")
            if raw == "":
                values[key] = default
            elif not _INT.match(raw):
                err = json.dumps({"error": f'strconv.ParseInt: parsing "{raw}": invalid syntax'})
                raise RawResponse(400, err.encode() + envelope(None, 5000, "Unknown error"),
                                  "application/json; charset=utf-8")
            else:
                values[key] = int(raw)
        if not self._has("gpu_workload"):
            raise LensError(5002, "Failed to list workloads")
        conds, binds = ["parent_uid = ''", "deleted_at IS NULL"], {}
        if params.get("name"):
            conds.append("name LIKE :name")
            binds["name"] = f"%{params['name']}%"
        for key in ("kind", "namespace", "status"):
            if params.get(key):
                conds.append(f"{key} = :{key}")
                binds[key] = params[key]
        where = " AND ".join(conds)
        order = {"start_at": "created_at", "end_at": "end_at"}.get(params.get("order_by", ""),
                                                                   "created_at")
        total = self._query(f"SELECT count(*) AS n FROM gpu_workload WHERE {where}",
                            "Failed to list workloads", **binds)[0]["n"]
        sql = f"SELECT * FROM gpu_workload WHERE {where} ORDER BY {order} DESC, id DESC"
        size, num = values["page_size"], values["page_num"]
        if size > 0:
            sql += " LIMIT :limit OFFSET :offset"
            binds.update(limit=size, offset=max(0, (num - 1) * size))
        rows = self._query(sql, "Failed to list workloads", **binds)
        items = []
        for r in rows:
            allocated, hours = self._gpu_usage(r["uid"] or "")
            items.append({
                "kind": r["kind"] or "", "name": r["name"] or "", "namespace": r["namespace"] or "",
                "uid": r["uid"] or "", "gpu_allocated": allocated, "gpu_allocation": go_json(hours),
                "status": r["status"] or "",
                "status_color": STATUS_COLORS.get(r["status"] or "", ""),
                "start_at": unix(r["created_at"]), "end_at": unix(r["updated_at"]),
                "source": r["source"] or "k8s",
            })
        return {"data": items, "total": total}

    def _workload(self, uid: str) -> dict:
        if not self._has("gpu_workload"):
            raise LensError(5002, "Failed to get workload")
        rows = self._query("SELECT * FROM gpu_workload WHERE uid = :u AND deleted_at IS NULL "
                           "ORDER BY id LIMIT 1", "Failed to get workload", u=uid)
        if not rows:
            raise LensError(4004, "")
        return rows[0]

    def workload_detail_endpoint(self, params: dict, uid: str) -> dict:
        self.resolve_cluster(params)
        r = self._workload(uid)
        _, hours = self._gpu_usage(uid)
        pods = []
        if self._has("workload_pod_reference") and self._has("gpu_pods"):
            pods = [{"nodeName": p["node_name"] or "", "podNamespace": p["namespace"] or "",
                     "podName": p["name"] or ""}
                    for p in self._query("SELECT g.node_name, g.namespace, g.name FROM "
                                         "workload_pod_reference r JOIN gpu_pods g ON "
                                         "g.uid = r.pod_uid WHERE r.workload_uid = :u",
                                         "Failed to get workload", u=uid)]
        return {"apiVersion": r["group_version"] or "", "kind": r["kind"] or "",
                "name": r["name"] or "", "namespace": r["namespace"] or "", "uid": r["uid"] or "",
                "gpu_allocation": go_json(hours), "pods": pods, "startTime": unix(r["created_at"]),
                "endTime": 0, "source": r["source"] or "k8s"}

    def hierarchy_endpoint(self, params: dict, uid: str) -> dict:
        self.resolve_cluster(params)
        root = self._workload(uid)
        seen: set[str] = set()

        def node(r: dict) -> dict:
            seen.add(r["uid"])
            kids = self._query("SELECT * FROM gpu_workload WHERE parent_uid = :u AND "
                               "deleted_at IS NULL ORDER BY created_at DESC, id DESC",
                               "Failed to get workload hierarchy", u=r["uid"])
            return {"kind": r["kind"] or "", "name": r["name"] or "",
                    "namespace": r["namespace"] or "", "uid": r["uid"] or "",
                    "children": [node(k) for k in kids if k["uid"] not in seen]}

        return node(root)

    def workload_metadata_endpoint(self, params: dict) -> dict:
        self.resolve_cluster(params)
        if not self._has("gpu_workload"):
            raise LensError(5002, "Failed to get workload metadata")
        ns = self._query("SELECT DISTINCT namespace AS v FROM gpu_workload WHERE deleted_at IS "
                         "NULL AND namespace IS NOT NULL", "Failed to get workload metadata")
        kinds = self._query("SELECT DISTINCT kind AS v FROM gpu_workload WHERE deleted_at IS NULL "
                            "AND parent_uid = '' AND kind IS NOT NULL",
                            "Failed to get workload metadata")
        return {"namespaces": [r["v"] for r in ns], "kinds": [r["v"] for r in kinds]}


def envelope(data: Any, code: int = 2000, message: str = "OK") -> bytes:
    """The response body; ``data`` must already be Go-shaped (see ``serialize_row``)."""
    body = {"meta": {"code": code, "message": message}, "data": data, "tracing": None}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # clients that hung up early
        pass


class _Handler(BaseHTTPRequestHandler):
    lens: LensServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    server_version = "lens-test"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._answer("POST")

    do_PUT = do_PATCH = do_DELETE = do_POST

    def _answer(self, method: str) -> None:
        status, body, content_type, headers = self.lens.handle(method, self.path)
        if method != "GET":  # a request body we never read would corrupt the next request
            self.close_connection = True
            headers = {**headers, "Connection": "close"}
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                 f"Server: {self.server_version}", f"Date: {self.date_time_string()}",
                 f"Content-Type: {content_type}", f"Content-Length: {len(body)}",
                 *(f"{k}: {v}" for k, v in headers.items())]
        try:  # one write: separate header/body segments stall on delayed ACKs
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - silence access logs
        pass


@contextmanager
def serve_lens(db_url: str, *, default_cluster: str | None = None) -> Iterator[LensServer]:
    """Serve the Lens API from ``db_url`` on 127.0.0.1 (a free port) for the ``with`` block."""
    server = LensServer(db_url, default_cluster=default_cluster).start()
    try:
        yield server
    finally:
        server.stop()
