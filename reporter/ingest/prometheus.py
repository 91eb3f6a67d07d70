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

This module plans the range and drives the chunks; ``fetch`` runs a chunk's queries
(``promql`` writes them), ``hours`` turns the answers into each hour's rows, ``store`` writes
them one transaction per hour.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.exc import SQLAlchemyError

from agent.errors import IngestError, PrometheusError, TooManySamples
from agent.periods import floor_hour, utc
from agent.settings import PrometheusSettings
from agent.text import mask_url, one_line
from reporter.ingest.client import PrometheusClient
from reporter.ingest.fetch import QueryClock, build_queries, fetch
from reporter.ingest.hours import build_hour
from reporter.ingest.promql import Dimension, ksm_label, validate_names
from reporter.ingest.store import Store, WorkloadMeta

HOUR = timedelta(hours=1)
DEFAULT_SINCE = "14d"
AMD_DEFAULTS = {"utilization_metric": "gpu_gfx_activity", "gpu_resource": "amd_com_gpu",
                "model_label": "card_model"}


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
        clock = QueryClock()
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


def _run(client: PrometheusClient, pool: ThreadPoolExecutor, clock: QueryClock, store: Store,
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
            data = fetch(client, pool, clock, build_queries(p, dims, n), h, n, tick)
        except TooManySamples:
            if n == 1:
                raise
            chunk = max(1, n // 2)  # Prometheus' --query.max-samples: ask for less at once
            continue
        metas: dict[tuple[str, str, str], WorkloadMeta] = {}
        built = [build_hour(h + i * HOUR, result.cluster, p, dims, user_annotation, data, metas)
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
        model = gpu_model(data, p.model_label)
        if model:  # what the cluster's GPUs are, for model prices (agent.prices)
            store.note_gpu_model(model)
        result.queries = client.queries
        h += n * HOUR
    return chunk


def gpu_model(data, label: str) -> str | None:
    """The GPU model most GPU-samples of the chunk carried (``cluster.models``), if any."""
    counts: dict[str, float] = defaultdict(float)
    for points in data.get("cluster.models", {}).values():
        for labels, value in points:
            if labels.get(label):
                counts[labels[label]] += value
    return max(sorted(counts), key=counts.__getitem__) if counts else None



__all__ = ["IngestError", "IngestResult", "PrometheusError", "ingest_prometheus",
           "effective_settings", "dimensions", "plan_range"]

