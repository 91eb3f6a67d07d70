"""Writes computed hours into a Lens-schema store ingest owns, one transaction per hour.

Only into a store gpureport owns, and only its own cluster there (``Store``'s docstring and
``reporter.store_marker``): a real Lens database is refused before a table is created.

Upsert = delete the cluster's rows of that hour in every table, then insert the new ones, in
one transaction: an hour is either entirely the old rows or entirely the new ones, never half,
and writing the same hour twice leaves the same rows (only ``id``/``created_at`` change).
Hours that Prometheus had no data for are not touched, so re-ingesting after Prometheus'
retention has dropped old data never deletes rows that were ingested earlier.

``gpu_workload`` (one top-level row per workload, carrying the user annotation so the ``sql``
source can resolve users) is keyed by a synthetic ``uid`` derived from cluster, namespace, kind
and name, and merged (first/last hour seen, peak GPUs, latest user) rather than replaced.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, create_engine, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from agent.errors import IngestError
from agent.sources import schema
from agent.text import mask_url
from reporter import store_marker

HOUR = timedelta(hours=1)

# psycopg logs "error ignored terminating <Pipeline ...>" when a batched insert fails; without a
# handler Python prints that warning to stderr next to our one-line error. The failure itself
# reaches the caller as an exception.
logging.getLogger("psycopg").addHandler(logging.NullHandler())


@dataclass
class WorkloadMeta:
    """What the ingest knows about one top-level workload across the hours it processed."""

    namespace: str
    kind: str
    name: str
    user: str | None = None
    first_hour: datetime | None = None
    last_hour: datetime | None = None
    peak_gpus: int = 0

    def seen(self, hour: datetime, user: str | None, peak: float) -> None:
        if self.first_hour is None or hour < self.first_hour:
            self.first_hour = hour
        if self.last_hour is None or hour >= self.last_hour:
            self.last_hour = hour
            if user:
                self.user = user
        self.peak_gpus = max(self.peak_gpus, int(round(peak)))


@dataclass
class HourRows:
    """Every row of one (cluster, hour), ready for ``insert``."""

    hour: datetime  # naive UTC hour start
    cluster: dict
    namespaces: list[dict] = field(default_factory=list)
    workloads: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"cluster": 1, "namespace": len(self.namespaces), "workload": len(self.workloads),
                "label": len(self.labels), "snapshot": len(self.snapshots)}


def workload_uid(cluster: str, namespace: str, kind: str, name: str) -> str:
    digest = hashlib.sha1(f"{cluster}\x00{namespace}\x00{kind}\x00{name}".encode()).hexdigest()
    return f"prom-{digest[:32]}"


class Store:
    """A Lens-schema store that ingest owns, for one cluster (``reporter.store_marker``).

    Opening it checks ownership before anything is created: a database with Lens tables but no
    gpureport marker, or whose ``cluster`` was written by someone else (the demo, or rows
    without a mark), raises ``IngestError`` and is left exactly as it was. Otherwise the tables
    and the marker row (cluster, owner ``ingest``) are created, so every row this store later
    replaces is one ingest wrote.
    """

    def __init__(self, database_url: str, cluster: str, user_annotation: str):
        self.cluster, self.user_annotation = cluster, user_annotation
        kwargs = {}
        if database_url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: Engine = create_engine(database_url, **kwargs)
        try:
            self._own(database_url)
        except BaseException:
            self.engine.dispose()
            raise

    def _own(self, database_url: str) -> None:
        with self.engine.begin() as conn:
            why = store_marker.refusal(conn, "ingest", [self.cluster])
            if why:
                raise IngestError(f"{mask_url(database_url)} {why}; point "
                                  f"source.database_url (GPUREPORT_DATABASE_URL) at a store of "
                                  f"your own")
            tables = [*schema.HOURLY_TABLES, schema.snapshots, schema.gpu_workload]
            schema.metadata.create_all(conn, tables=tables, checkfirst=True)
            marks = store_marker.read_marks(conn) or {}
            if self.cluster not in marks:
                store_marker.write_marks(conn, "ingest", [self.cluster])

    def close(self) -> None:
        self.engine.dispose()

    def newest_hour(self) -> datetime | None:
        """Newest ``stat_hour`` of this cluster's cluster rows (aware UTC), or None."""
        t = schema.cluster_hourly
        with self.engine.connect() as conn:
            newest = conn.execute(select(func.max(t.c.stat_hour))
                                  .where(t.c.cluster_name == self.cluster)).scalar()
        if newest is None:
            return None
        if isinstance(newest, str):  # SQLite aggregate results come back as text
            newest = datetime.fromisoformat(newest)
        return newest.replace(tzinfo=timezone.utc) if newest.tzinfo is None else newest

    def note_gpu_model(self, model: str) -> None:
        """Note the cluster's GPU model on its mark (read by the sql source's gpu_models)."""
        with self.engine.begin() as conn:
            store_marker.set_cluster_details(conn, self.cluster, gpu_model=model)

    def write_hour(self, rows: HourRows, workloads: list[WorkloadMeta] | None = None) -> None:
        """Replace the cluster's rows of ``rows.hour`` in one transaction (plus, when given,
        merge the ``gpu_workload`` rows in the same transaction)."""
        hour, cluster = rows.hour, self.cluster
        with self.engine.begin() as conn:
            for table in schema.HOURLY_TABLES:
                conn.execute(delete(table).where(and_(table.c.cluster_name == cluster,
                                                      table.c.stat_hour == hour)))
            s = schema.snapshots
            conn.execute(delete(s).where(and_(s.c.cluster_name == cluster,
                                              s.c.dimension_type == "cluster",
                                              s.c.snapshot_time >= hour,
                                              s.c.snapshot_time < hour + HOUR)))
            conn.execute(insert(schema.cluster_hourly), [rows.cluster])
            for table, items in ((schema.namespace_hourly, rows.namespaces),
                                 (schema.workload_hourly, rows.workloads),
                                 (schema.label_hourly, rows.labels),
                                 (schema.snapshots, rows.snapshots)):
                if items:
                    conn.execute(insert(table), items)
            if workloads:
                self._merge_workloads(conn, workloads)

    def _merge_workloads(self, conn: Connection, metas: list[WorkloadMeta]) -> None:
        w = schema.gpu_workload
        by_uid = {}
        for m in metas:
            # gpu_workload.namespace/name are varchar(64): longer names cannot be stored there
            # (their hourly rows still carry the user in ``annotations``)
            if len(m.namespace) <= 64 and len(m.name) <= 64 and m.first_hour is not None:
                by_uid[workload_uid(self.cluster, m.namespace, m.kind, m.name)] = m
        uids = sorted(by_uid)
        existing: dict[str, dict] = {}
        for i in range(0, len(uids), 500):
            for row in conn.execute(select(w).where(w.c.uid.in_(uids[i:i + 500]))).mappings():
                existing[row["uid"]] = dict(row)
        new_rows = []
        for uid in uids:
            m = by_uid[uid]
            start = m.first_hour.replace(tzinfo=timezone.utc)
            end = m.last_hour.replace(tzinfo=timezone.utc) + HOUR
            old = existing.get(uid)
            if old is None:
                new_rows.append({
                    "group_version": "", "kind": m.kind[:64], "namespace": m.namespace,
                    "name": m.name, "uid": uid, "parent_uid": "", "gpu_request": m.peak_gpus,
                    "created_at": start, "updated_at": end, "deleted_at": None, "end_at": end,
                    "status": None, "source": "prometheus", "labels": {},
                    "annotations": {self.user_annotation: m.user} if m.user else {},
                })
                continue
            old_start, old_end = _aware(old["created_at"]), _aware(old["updated_at"])
            annotations = dict(old.get("annotations") or {})
            if m.user and (old_end is None or end >= old_end):
                annotations[self.user_annotation] = m.user
            changes = {
                "created_at": min(x for x in (start, old_start) if x is not None),
                "updated_at": max(x for x in (end, old_end) if x is not None),
                "end_at": max(x for x in (end, old_end) if x is not None),
                "gpu_request": max(m.peak_gpus, old.get("gpu_request") or 0),
                "annotations": annotations,
            }
            if any(_aware(old.get(k)) != v if k.endswith("_at") else old.get(k) != v
                   for k, v in changes.items()):
                conn.execute(update(w).where(w.c.uid == uid).values(**changes))
        if new_rows:
            conn.execute(insert(w), new_rows)


def _aware(dt):
    if dt is None or not isinstance(dt, datetime):
        return dt
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
