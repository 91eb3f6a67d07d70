"""Which Lens-schema stores (and which clusters in them) gpureport wrote, and may write again.

A Lens database is read-only for gpureport (product.md §3): the ``sql`` source reads one, and it
looks exactly like the store that ``gpureport demo`` and ``gpureport ingest prometheus`` fill.
The only way to tell them apart is a mark the writer leaves: the table ``gpureport_store``,
one row per cluster — who wrote it (``demo`` or ``ingest``), when, and the writer's details
(the demo's seed, profile and progress) as JSON text.

The rules every writer follows (``refusal``):

* a database with Lens tables and no marker is somebody else's: write nothing, create nothing;
* a cluster marked by another writer is theirs (ingest does not overwrite the demo's
  ``gpu-east``, nor the demo a cluster ingested from Prometheus);
* a cluster with rows but no mark in a marked store was not written by us either.

So when ``ingest`` replaces the rows of an hour of its cluster, every row it deletes is one it
wrote itself: ownership is scoped by cluster in the marker, and no column is added to the Lens
tables (which must stay exactly Lens' schema for the ``sql`` source and Lens' own tools).

Stores made before this marker existed carry the demo's old key/value table ``gpureport_demo``;
it still counts, as the demo's mark on every cluster in the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from sqlalchemy import (Column, DateTime, MetaData, String, Table, Text, delete, inspect,
                        literal_column, select, update)
from sqlalchemy.engine import Connection

from agent.sources import schema

MARKER_TABLE = "gpureport_store"
LEGACY_DEMO_TABLE = "gpureport_demo"
OWNER_NAMES = {"demo": "the demo (gpureport demo)", "ingest": "gpureport ingest prometheus"}

marker = Table(
    MARKER_TABLE, MetaData(),
    Column("cluster", String(100), primary_key=True),
    Column("owner", String(16), nullable=False),
    Column("created_at", DateTime(timezone=False), nullable=False),  # naive UTC, as Lens
    Column("details", Text, nullable=False, default="{}"),
)


@dataclass(frozen=True)
class Mark:
    cluster: str
    owner: str  # demo | ingest
    created_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


def lens_tables(conn: Connection) -> list[str]:
    """The Lens tables present in the database, in schema order."""
    names = set(inspect(conn).get_table_names())
    return [t.name for t in schema.metadata.sorted_tables if t.name in names]


def read_marks(conn: Connection) -> dict[str, Mark] | None:
    """The marks by cluster, or None when the database carries no gpureport marker at all."""
    names = set(inspect(conn).get_table_names())
    if MARKER_TABLE not in names and LEGACY_DEMO_TABLE not in names:
        return None
    marks: dict[str, Mark] = {}
    if LEGACY_DEMO_TABLE in names:
        legacy = Table(LEGACY_DEMO_TABLE, MetaData(), autoload_with=conn)
        details = {str(k): str(v) for k, v in conn.execute(select(legacy.c["key"],
                                                                   legacy.c["value"]))}
        for cluster in _clusters_with_rows(conn):
            marks[cluster] = Mark(cluster, "demo", None, details)
    if MARKER_TABLE in names:
        for row in conn.execute(select(marker)):
            try:
                details = json.loads(row.details or "{}")
            except ValueError:
                details = {}
            marks[row.cluster] = Mark(row.cluster, row.owner, row.created_at, details)
    return marks


def _clusters_with_rows(conn: Connection) -> list[str]:
    t = schema.cluster_hourly
    if t.name not in set(inspect(conn).get_table_names()):
        return []
    return [c for (c,) in conn.execute(select(t.c.cluster_name).distinct())]


def has_rows(conn: Connection, cluster: str) -> bool:
    """Whether any hourly Lens table holds a row of ``cluster``."""
    present = set(inspect(conn).get_table_names())
    for t in (*schema.HOURLY_TABLES, schema.snapshots):
        if t.name in present and conn.execute(
                select(literal_column("1")).select_from(t)
                .where(t.c.cluster_name == cluster).limit(1)).first():
            return True
    return False


def refusal(conn: Connection, owner: str, clusters: Iterable[str]) -> str | None:
    """Why ``owner`` may not write ``clusters`` into this database (one clause), or None."""
    marks = read_marks(conn)
    lens = lens_tables(conn)
    if marks is None:
        if lens:
            return (f"looks like a Lens database gpureport does not own (it has {lens[0]} "
                    f"but no {MARKER_TABLE} marker)")
        return None
    for cluster in clusters:
        mark = marks.get(cluster)
        if mark is not None and mark.owner != owner:
            return (f"cluster '{cluster}' there was written by "
                    f"{OWNER_NAMES.get(mark.owner, mark.owner)}, not by "
                    f"{OWNER_NAMES.get(owner, owner)}")
        if mark is None and has_rows(conn, cluster):
            return f"cluster '{cluster}' there holds rows gpureport did not write"
    return None


def write_marks(conn: Connection, owner: str, clusters: Iterable[str],
                details: dict[str, Any] | None = None) -> None:
    """Mark ``clusters`` as ``owner``'s (creating the marker table), keeping existing marks
    of the same owner's clusters and their creation time."""
    marker.create(conn, checkfirst=True)
    existing = {r.cluster: r for r in conn.execute(select(marker))}
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    text = json.dumps(details or {}, sort_keys=True)
    for cluster in clusters:
        if cluster in existing:
            conn.execute(update(marker).where(marker.c.cluster == cluster)
                         .values(owner=owner, details=text))
        else:
            conn.execute(marker.insert().values(cluster=cluster, owner=owner, created_at=now,
                                                details=text))


def update_details(conn: Connection, owner: str, **changes: Any) -> None:
    """Merge ``changes`` into the details of every mark of ``owner``."""
    for row in conn.execute(select(marker).where(marker.c.owner == owner)).all():
        details = {**json.loads(row.details or "{}"), **changes}
        conn.execute(update(marker).where(marker.c.cluster == row.cluster)
                     .values(details=json.dumps(details, sort_keys=True)))


def set_cluster_details(conn: Connection, cluster: str, **changes: Any) -> None:
    """Merge ``changes`` into the details of one cluster's mark (e.g. its ``gpu_model``, which
    agent.sources.sql_usage reads for model prices)."""
    row = conn.execute(select(marker).where(marker.c.cluster == cluster)).first()
    if row is not None:
        details = {**json.loads(row.details or "{}"), **changes}
        conn.execute(update(marker).where(marker.c.cluster == cluster)
                     .values(details=json.dumps(details, sort_keys=True)))


def forget(conn: Connection, owner: str) -> None:
    """Drop ``owner``'s marks (and the legacy demo table, for the demo's ``--reset``)."""
    names = set(inspect(conn).get_table_names())
    if MARKER_TABLE in names:
        conn.execute(delete(marker).where(marker.c.owner == owner))
    if owner == "demo" and LEGACY_DEMO_TABLE in names:
        Table(LEGACY_DEMO_TABLE, MetaData()).drop(conn)


__all__ = ["MARKER_TABLE", "LEGACY_DEMO_TABLE", "Mark", "marker", "lens_tables", "read_marks",
           "has_rows", "refusal", "write_marks", "update_details", "set_cluster_details",
           "forget"]
