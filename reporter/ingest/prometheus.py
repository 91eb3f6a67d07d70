"""``gpureport ingest prometheus``: exporter metrics -> Lens-schema hourly rows.

For every full hour ``[H, H+1h)`` in the requested range this fills, for one cluster name,
``cluster_gpu_hourly_stats``, ``namespace_gpu_hourly_stats``, ``workload_gpu_hourly_stats``,
``label_gpu_hourly_stats`` (each configured label/annotation key plus the user annotation) and
one ``gpu_allocation_snapshots`` row, so that every command that reads the Lens schema works on
clusters that run Prometheus but not Lens.

Definitions (all over the samples of the hour at ``prometheus.step`` resolution, see
``promql`` for how the samples are picked):

* allocated GPUs of a pod at a sample = Σ of its containers' GPU requests while its phase is
  Running; ``allocated_gpu_count`` of any entity = Σ over samples / N, where N = samples in the
  hour at which kube-state-metrics reported capacity (so a pod that ran 10 of 60 minutes counts
  1/6 GPU-hour). Hours with N = 0 have no data and are skipped, not written as zeros.
* utilization of an entity = GPU-weighted mean over the GPUs its pods hold, taken over all of the
  hour's samples: Σ util / Σ GPU-samples (so that allocated × utilization = utilized GPU-hours
  exactly). max/min/p50/p95 are over the GPU-weighted utilization at every ``spread_step``
  (default 5 minutes, as Lens samples), widened to include the hour's average. The cluster's
  utilization is that of its allocated GPUs (GPUs held by no pod do not dilute it), as in Lens.
* ``total_gpu_capacity`` = mean over the samples of Σ node capacity, truncated (Lens does the
  same); ``allocation_rate`` = allocated / that capacity × 100.
* workload = top-level owner (Deployment via its ReplicaSet, Job, PyTorchJob, ...);
  ``avg/max/min_replica_count`` = running pods per sample (where it ran), ``sample_count`` =
  samples in which it ran; its user = the user annotation of the pods holding most of its
  GPU-samples that hour (written into the row's ``annotations``).
* ``active_workload_count`` of namespace and label rows = mean running GPU pods, truncated (Lens
  counts pods there too).
* label rows: ``annotation`` rows for the user annotation and ``prometheus.annotation_keys``,
  ``label`` rows for ``prometheus.label_keys``; a pod without the key counts as ``unknown``.
* the hour's snapshot is taken at its last sample (``H + 1h - step``), details as Lens' §7 JSON.

Requested GPUs of workload rows, memory columns and statuses stay 0/'' as in Lens.
"""

from __future__ import annotations

import re
import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from agent.errors import IngestError, PrometheusError, TooManySamples
from agent.periods import floor_hour, utc
from agent.settings import PrometheusSettings
from agent.text import mask_url, one_line

from .client import PrometheusClient, Series
from .promql import WK, WN, Dimension, PromQL, ksm_label, validate_names
from .store import HourRows, Store, WorkloadMeta, workload_uid

HOUR = timedelta(hours=1)
DEFAULT_SINCE = "14d"
UNKNOWN = "unknown"  # Lens' default_value for a missing label/annotation
AMD_DEFAULTS = {"utilization_metric": "gpu_gfx_activity", "gpu_resource": "amd_com_gpu"}


@dataclass
class IngestResult:
    cluster: str
    url: str
    start: datetime  # first hour asked for (aware UTC)
    end: datetime  # exclusive
    hours_requested: int = 0
    hours_written: int = 0
    hours_without_data: int = 0
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0
    prometheus_seconds: float = 0.0  # wall clock with at least one query in flight
    queries: int = 0
    chunk_hours: int = 0

    @property
    def prometheus_share(self) -> float:
        return self.prometheus_seconds / self.seconds if self.seconds else 0.0


def effective_settings(p: PrometheusSettings) -> PrometheusSettings:
    """``vendor: amd`` switches the defaults that differ on AMD (metric, resource) unless the
    config names them explicitly; kube-state-metrics names are the same for both vendors."""
    if p.vendor != "amd":
        return p
    changes = {k: v for k, v in AMD_DEFAULTS.items() if k not in p.model_fields_set}
    return p.model_copy(update=changes) if changes else p


def dimensions(p: PrometheusSettings, user_annotation: str) -> list[Dimension]:
    """The user annotation first, then the configured annotation and label keys (deduplicated)."""
    dims = [Dimension("annotation", user_annotation, p.user_annotation_label,
                      p.pod_annotations_metric)]
    for key in p.annotation_keys:
        dims.append(Dimension("annotation", key, ksm_label("annotation_", key),
                              p.pod_annotations_metric))
    for key in p.label_keys:
        dims.append(Dimension("label", key, ksm_label("label_", key), p.pod_labels_metric))
    seen, out = set(), []
    for d in dims:
        if (d.dimension_type, d.key) not in seen:
            seen.add((d.dimension_type, d.key))
            out.append(d)
    return out


def parse_when(text: str, now: datetime, what: str) -> datetime:
    """``14d`` / ``36h`` / ``2w`` before now, or an ISO 8601 time (UTC when no zone is given)."""
    m = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        return now - {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise IngestError(f"{what}: expected e.g. 14d, 36h, 2w or an ISO time, got '{text}'") from None
    return utc(dt)


def plan_range(now: datetime, since: str, until: str | None,
               newest: Callable[[], datetime | None]) -> tuple[datetime, datetime, bool]:
    """[start, end) of whole hours to ingest, and whether the range came from ``last``.

    The end is the start of the hour containing ``until`` (default now): only full hours are
    ingested. ``last`` resumes after the newest hour already stored for the cluster, or covers
    the default 14 days when none is.
    """
    end = floor_hour(parse_when(until, now, "--until") if until else now)
    end = min(end, floor_hour(now))
    resumed = since.strip().lower() == "last"
    if resumed:
        newest_hour = newest()
        start = newest_hour + HOUR if newest_hour else floor_hour(parse_when(DEFAULT_SINCE, now, "--since"))
    else:
        start = floor_hour(parse_when(since, now, "--since"))
    return start, end, resumed


class _Clock:
    """Wall-clock time during which at least one query was in flight."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._since = 0.0
        self.total = 0.0

    def __enter__(self):
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1

    def __exit__(self, *exc):
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.total += time.perf_counter() - self._since


def ingest_prometheus(
    settings: PrometheusSettings,
    database_url: str,
    now: datetime,
    *,
    url: str | None = None,
    since: str = DEFAULT_SINCE,
    until: str | None = None,
    cluster: str | None = None,
    user_annotation: str = "primus-safe.user.name",
    on_progress: Callable[[float, int], None] | None = None,
) -> IngestResult:
    """Fill the hourly tables of ``database_url`` from the Prometheus at ``url``.

    ``on_progress(done, total)`` reports hours done (fractional while a chunk's queries run). Raises ``PrometheusError`` when
    Prometheus is unreachable or refuses a query (hours of earlier chunks stay written, each
    complete) and ``IngestError`` for an unusable range or configuration.
    """
    t_start = time.perf_counter()
    p = effective_settings(settings)
    url = url or p.url
    if not url:
        raise IngestError("no Prometheus URL: pass --url or set prometheus.url / PROMETHEUS_URL")
    if not re.match(r"^https?://", url):
        raise IngestError(f"Prometheus URL must start with http:// or https://, got '{url}'")
    problems = validate_names(p)
    if problems:
        raise IngestError("; ".join(problems))
    cluster = cluster or p.cluster_name
    dims = dimensions(p, user_annotation)
    for d in dims:
        if not re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", d.prom_label):
            raise IngestError(f"{d.dimension_type} key '{d.key}': bad Prometheus label '{d.prom_label}'")

    store = _open_store(database_url, cluster, user_annotation)
    try:
        start, end, resumed = plan_range(now, since, until, store.newest_hour)
        result = IngestResult(cluster=cluster, url=url, start=start, end=end)
        if start >= end:
            if not resumed:
                raise IngestError(f"nothing to ingest: --since {start:%Y-%m-%dT%H:%MZ} is not "
                                  f"before the end {end:%Y-%m-%dT%H:%MZ} (only full hours count)")
            result.seconds = time.perf_counter() - t_start
            return result
        total = int((end - start) / HOUR)
        result.hours_requested = total
        # hours per round of queries: few enough that a per-sample subquery stays under
        # max_points_per_query points per series (Prometheus refuses > 11,000 per series) and
        # that the pod metadata of a chunk stays small (per-sample joins cost pods × samples)
        chunk = max(1, min(p.chunk_hours, p.max_points_per_query * p.step // 3600, total))
        clock = _Clock()
        client = PrometheusClient(url, timeout=p.timeout, retries=p.retries,
                                  backoff=p.retry_backoff)
        try:
            with client, ThreadPoolExecutor(max_workers=p.concurrency) as pool:
                chunk = _run(client, pool, clock, store, result, p, dims, user_annotation,
                             chunk, on_progress)
        except (PrometheusError, IngestError) as exc:
            if result.hours_written:
                raise type(exc)(f"{exc}; {result.hours_written} earlier hour(s) were written, "
                                "each complete (resume with --since last)") from None
            raise
        result.chunk_hours = chunk
        result.prometheus_seconds = clock.total
        result.queries = client.queries
        result.seconds = time.perf_counter() - t_start
        return result
    finally:
        store.close()


def _open_store(database_url: str, cluster: str, user_annotation: str) -> Store:
    try:
        return Store(database_url, cluster, user_annotation)
    except SQLAlchemyError as exc:
        raise IngestError(f"cannot open the store {mask_url(database_url)}: "
                          f"{one_line(exc)}") from None


def _run(client: PrometheusClient, pool: ThreadPoolExecutor, clock: _Clock, store: Store,
         result: IngestResult, p: PrometheusSettings, dims: list[Dimension],
         user_annotation: str, chunk: int,
         on_progress: Callable[[float, int], None] | None) -> int:
    """Chunk by chunk: query, build each hour's rows, write each hour in its own transaction.

    A chunk is written only after all its queries succeeded, so a failing query leaves no hour
    of that chunk touched. Returns the chunk size finally used.
    """
    total, done = result.hours_requested, 0
    if on_progress:
        on_progress(0, total)
    h = result.start
    while h < result.end:
        n = min(chunk, int((result.end - h) / HOUR))

        def tick(fraction: float, done: int = done, n: int = n) -> None:
            if on_progress:  # queries answered count for 90 % of a chunk, writing for the rest
                on_progress(done + 0.9 * n * fraction, total)

        try:
            data = _fetch(client, pool, clock, build_queries(p, dims, n), h, n, tick)
        except TooManySamples:
            if n == 1:
                raise
            chunk = max(1, n // 2)  # Prometheus' --query.max-samples: ask for less at once
            continue
        metas: dict[tuple[str, str, str], WorkloadMeta] = {}
        built = [_build_hour(h + i * HOUR, result.cluster, p, dims, user_annotation, data, metas)
                 for i in range(n)]
        last = max((i for i, b in enumerate(built) if b is not None), default=None)
        for i, rows in enumerate(built):
            if rows is None:
                result.hours_without_data += 1
            else:
                try:
                    store.write_hour(rows, list(metas.values()) if i == last else None)
                except SQLAlchemyError as exc:
                    raise IngestError(f"writing hour {rows.hour:%Y-%m-%d %H:00} to the store "
                                      f"failed (nothing of that hour was written): "
                                      f"{one_line(exc)}") from None
                result.hours_written += 1
                for k, v in rows.counts().items():
                    result.rows[k] += v
            done += 1
            if on_progress:
                on_progress(done, total)
        result.queries = client.queries
        h += n * HOUR
    return chunk


# -- fetching ---------------------------------------------------------------------------------


def build_queries(p: PrometheusSettings, dims: list[Dimension], hours: int) -> dict[str, str]:
    """Every expression of one chunk of ``hours`` hours, by name (``cluster.util``, ...)."""
    promql = PromQL(p, hours)
    queries = {**promql.cluster_queries(), **promql.namespace_queries(),
               **promql.workload_queries(dims[0])}
    for i, dim in enumerate(dims):
        queries.update(promql.dimension_queries(i, dim))
    queries.update(promql.snapshot_queries(dims))
    return queries

Data = dict[str, dict[datetime, list[tuple[dict[str, str], float]]]]


def _fetch(client: PrometheusClient, pool: ThreadPoolExecutor, clock: _Clock,
           queries: dict[str, str], first: datetime, n: int,
           tick: Callable[[float], None] = lambda _f: None) -> Data:
    """Run every query for hours ``first .. first+n-1`` concurrently; index values by hour."""
    t0, t1 = first + HOUR, first + n * HOUR  # evaluation time of hour H is H + 1h
    answered = [0]
    lock = threading.Lock()

    def run(name: str) -> tuple[str, list[Series]]:
        with clock:
            out = name, client.query_range(queries[name], t0, t1, 3600,
                                           what=f"the {name} query")
        with lock:
            answered[0] += 1
            tick(answered[0] / len(queries))
        return out

    futures = [pool.submit(run, name) for name in queries]
    finished, pending = wait(futures, return_when=FIRST_EXCEPTION)
    failed = [f for f in finished if f.exception() is not None]
    if failed:
        for f in pending:
            f.cancel()
        wait(pending)  # let queries already running end before the caller gives up
        raise failed[0].exception()
    data: Data = {}
    for f in futures:
        name, series = f.result()
        per_hour: dict[datetime, list] = defaultdict(list)
        for s in series:
            for ts, v in s.values:
                hour = datetime.fromtimestamp(round(ts) - 3600, tz=timezone.utc)
                per_hour[hour].append((s.labels, v))
        data[name] = per_hour
    return data


# -- rows of one hour -----------------------------------------------------------------------


def _by(data: Data, name: str, hour: datetime, *labels: str) -> dict[tuple, float]:
    return {tuple(lbl.get(k, "") for k in labels): v for lbl, v in data.get(name, {}).get(hour, [])}


def _scalar(data: Data, name: str, hour: datetime) -> float | None:
    vals = data.get(name, {}).get(hour, [])
    return vals[0][1] if vals else None


def _build_hour(hour: datetime, cluster: str, p: PrometheusSettings, dims: list[Dimension],
                user_annotation: str, data: Data,
                metas: dict[tuple[str, str, str], WorkloadMeta]) -> HourRows | None:
    n = _scalar(data, "cluster.n", hour)
    if not n:
        return None
    stat_hour = hour.replace(tzinfo=None)

    def val(name: str, key: tuple = ()) -> float:
        got = _by_cache(name).get(key)
        return got if got is not None else 0.0

    cache: dict[str, dict[tuple, float]] = {}
    label_sets = {"cluster": (), "namespace": ("namespace",), "workload": ("namespace", WK, WN)}

    def _by_cache(name: str) -> dict[tuple, float]:
        if name not in cache:
            prefix = name.split(".")[0]
            labels = label_sets.get(prefix)
            if labels is None:  # dimN.*
                labels = (dims[int(prefix[3:])].prom_label,)
            cache[name] = _by(data, name, hour, *labels)
        return cache[name]

    def spread(prefix: str, key: tuple = (), quantiles: bool = False) -> dict[str, float]:
        """max/min(/p50/p95) of the utilization on the spread grid, widened to include the
        hour's average (which the grid may miss), or the average when the grid saw nothing
        (an entity that ran only between two grid points)."""
        avg = val(f"{prefix}.util", key)
        cols = {"max_utilization": "umax", "min_utilization": "umin"}
        if quantiles:
            cols.update(p50_utilization="p50", p95_utilization="p95")
        out = {}
        for col, name in cols.items():
            got = _by_cache(f"{prefix}.{name}").get(key)
            out[col] = avg if got is None else got
        out["max_utilization"] = max(out["max_utilization"], avg)
        out["min_utilization"] = min(out["min_utilization"], avg)
        return out

    capacity = int(_scalar(data, "cluster.cap", hour) or 0)
    allocated = val("cluster.alloc") / n
    cluster_row = {
        "cluster_name": cluster, "stat_hour": stat_hour, "total_gpu_capacity": capacity,
        "allocated_gpu_count": allocated,
        "allocation_rate": allocated / capacity * 100.0 if capacity else 0.0,
        "avg_utilization": val("cluster.util"), **spread("cluster", (), quantiles=True),
        "sample_count": int(n),
    }
    rows = HourRows(hour=stat_hour, cluster=cluster_row)

    for key, gpu_samples in sorted(_by_cache("namespace.alloc").items()):
        rows.namespaces.append({
            "cluster_name": cluster, "namespace": key[0], "stat_hour": stat_hour,
            "total_gpu_capacity": 0, "allocated_gpu_count": gpu_samples / n,
            "avg_utilization": val("namespace.util", key), **spread("namespace", key),
            "active_workload_count": int(val("namespace.pods", key) / n),
        })

    # workloads: GPU-samples per (namespace, kind, name, user) -> total and dominant user
    per_user: dict[tuple, dict[str, float]] = defaultdict(dict)
    for lbl, v in data.get("workload.alloc_user", {}).get(hour, []):
        key = (lbl.get("namespace", ""), lbl.get(WK, ""), lbl.get(WN, ""))
        per_user[key][lbl.get(dims[0].prom_label, "")] = v
    for key in sorted(per_user):
        users = per_user[key]
        gpu_samples = sum(users.values())
        named = [(v, u) for u, v in users.items() if u]
        user = min(named, key=lambda x: (-x[0], x[1]))[1] if named else None
        samples = val("workload.samples", key) or 1.0
        pod_samples = val("workload.pods", key)
        rmax = int(val("workload.rmax", key))
        ns, kind, name = key
        rows.workloads.append({
            "cluster_name": cluster, "namespace": ns, "workload_name": name,
            "workload_type": kind, "stat_hour": stat_hour,
            "allocated_gpu_count": gpu_samples / n, "requested_gpu_count": 0.0,
            "avg_utilization": val("workload.util", key),
            **spread("workload", key, quantiles=True),
            "avg_gpu_memory_used": 0.0, "max_gpu_memory_used": 0.0, "avg_gpu_memory_total": 0.0,
            "avg_replica_count": pod_samples / samples,
            "max_replica_count": rmax,
            "min_replica_count": int(val("workload.rmin", key)),
            "workload_status": "", "sample_count": int(samples),
            "owner_uid": "", "owner_name": "", "labels": {},
            "annotations": {user_annotation: user} if user else {},
        })
        meta = metas.setdefault(key, WorkloadMeta(namespace=ns, kind=kind, name=name))
        # peak GPUs held: GPUs per pod × most pods at once (exact when its pods are alike)
        meta.seen(stat_hour, user, gpu_samples / pod_samples * rmax if pod_samples else 0.0)

    for i, dim in enumerate(dims):
        merged: dict[str, list[float]] = {}
        for key, gpu_samples in _by_cache(f"dim{i}.alloc").items():
            value = key[0] or UNKNOWN
            k = (key[0],)
            sp = spread(f"dim{i}", k)
            figures = [gpu_samples, val(f"dim{i}.util", k), sp["max_utilization"],
                       sp["min_utilization"], val(f"dim{i}.pods", k)]
            merged[value] = figures if value not in merged else _merge(merged[value], figures)
        for value in sorted(merged):
            gpu_samples, util, umax, umin, pods = merged[value]
            rows.labels.append({
                "cluster_name": cluster, "dimension_type": dim.dimension_type,
                "dimension_key": dim.key, "dimension_value": value, "stat_hour": stat_hour,
                "allocated_gpu_count": gpu_samples / n, "avg_utilization": util,
                "max_utilization": umax, "min_utilization": umin,
                "active_workload_count": int(pods / n),
            })

    rows.snapshots.append(_snapshot(hour, cluster, p, dims, data))
    return rows


def _merge(a: list[float], b: list[float]) -> list[float]:
    """A literal value 'unknown' and a missing key land in one row (as in Lens)."""
    gpus = a[0] + b[0]
    util = (a[0] * a[1] + b[0] * b[1]) / gpus if gpus else 0.0
    return [gpus, util, max(a[2], b[2]), min(a[3], b[3]), a[4] + b[4]]


def _snapshot(hour: datetime, cluster: str, p: PrometheusSettings, dims: list[Dimension],
              data: Data) -> dict:
    """One ``gpu_allocation_snapshots`` row at the hour's last sample (lens.md §7 JSON)."""
    util = {k: v for k, v in _by(data, "snap.util", hour, "namespace", "pod").items()}
    namespaces: dict[str, dict] = {}
    annotations: dict[str, dict] = {}
    workloads: dict[str, dict] = {}
    allocated = 0
    for lbl, gpus_f in sorted(data.get("snap.pods", {}).get(hour, []),
                              key=lambda x: (x[0].get("namespace", ""), x[0].get("pod", ""))):
        ns, pod = lbl.get("namespace", ""), lbl.get("pod", "")
        kind, name = lbl.get(WK, ""), lbl.get(WN, "")
        gpus = int(round(gpus_f))
        u = util.get((ns, pod), 0.0)
        allocated += gpus
        nsd = namespaces.setdefault(ns, {"allocatedGpu": 0, "utilization": 0.0,
                                         "workloadCount": 0, "workloads": [], "_u": 0.0})
        nsd["allocatedGpu"] += gpus
        nsd["_u"] += gpus * u
        nsd["workloadCount"] += 1
        nsd["workloads"].append({"uid": f"{ns}/{pod}", "name": pod, "namespace": ns,
                                 "kind": kind, "allocatedGpu": gpus, "utilization": u})
        for dim in dims:
            if dim.dimension_type != "annotation":
                continue  # Lens' details carry no label buckets (lens.md §7)
            akey = f"{dim.key}:{lbl.get(dim.prom_label) or UNKNOWN}"
            ad = annotations.setdefault(akey, {"allocatedGpu": 0, "utilization": 0.0,
                                               "workloadCount": 0, "_u": 0.0})
            ad["allocatedGpu"] += gpus
            ad["_u"] += gpus * u
            ad["workloadCount"] += 1
        wuid = workload_uid(cluster, ns, kind, name)
        wd = workloads.setdefault(wuid, {"uid": wuid, "name": name, "namespace": ns, "kind": kind,
                                         "allocatedGpu": 0, "utilization": 0.0, "_n": 0, "_s": 0.0})
        wd["allocatedGpu"] += gpus
        wd["_n"] += 1
        wd["_s"] += u
    for d in (*namespaces.values(), *annotations.values()):
        d["utilization"] = d.pop("_u") / d["allocatedGpu"] if d["allocatedGpu"] else 0.0
    for d in workloads.values():
        count, total = d.pop("_n"), d.pop("_s")
        d["utilization"] = total / count if count else 0.0  # plain mean of pods, as Lens
    capacity = _scalar(data, "snap.cap", hour)
    return {
        "cluster_name": cluster,
        "snapshot_time": (hour + HOUR - timedelta(seconds=p.step)).replace(tzinfo=None),
        "dimension_type": "cluster", "dimension_key": "", "dimension_value": "",
        "total_gpu_capacity": int(capacity or 0), "allocated_gpu_count": allocated,
        "allocation_details": {"namespaces": namespaces, "annotations": annotations,
                               "workloads": workloads},
    }


__all__ = ["IngestError", "IngestResult", "PrometheusError", "ingest_prometheus",
           "effective_settings", "dimensions", "plan_range"]

