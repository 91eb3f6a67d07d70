"""``generate``: fill a store with the demo clusters, refusing anything that is not ours.

The marker (``reporter.store_marker``: table ``gpureport_store``, one row per cluster with owner
``demo`` and the seed, profile and status as details) is gpureport's own. It is written *before*
the data, so an interrupted run is still recognised as demo data and ``--reset`` can clean it
up; a store ingest owns, or a Lens database, is refused.
Writes go one transaction per chunk (``reporter.demo.rows``); secondary indexes are dropped for
the load and rebuilt from ``schema.py`` at the end, then ``ANALYZE`` runs so readers' joins get
sane plans.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agent.errors import DemoError
from agent.periods import floor_hour, week_start
from agent.sources import schema
from agent.text import mask_url, one_line
from reporter import store_marker
from reporter.demo.clusters import GPU_MODELS, PROFILES, clusters_for
from reporter.demo.rows import (CHUNK_ROWS, GPU_WORKLOAD_COLS, ProgressFn, emit_hours,
                                gpu_workload_rows)
from reporter.demo.scenario import build_workloads
from reporter.demo.sink import Sink

MARKER_TABLE = store_marker.MARKER_TABLE


@dataclass
class DemoSummary:
    """What ``generate`` wrote. ``namespaces`` counts (cluster, namespace) pairs; ``gpus`` is the
    summed capacity of all clusters; ``end`` is the exclusive end of the hourly data (the start of
    the hour containing now); ``scenario_week`` is when the scripted drop starts
    (``scenario_start``: a Monday, or 7 days before now on Tuesday and Wednesday); times are
    aware UTC."""

    clusters: list[str]
    namespaces: int
    gpus: int
    rows: dict[str, int]
    start: datetime
    end: datetime
    scenario_week: datetime



def scenario_start(now: datetime) -> datetime:
    """When the scripted ml-team drop starts, so that the README's questions find it whatever
    the day of the week (``now`` floored to the hour, aware UTC):

    * Monday, first 24 hours: the previous Monday. The Monday digest's "last week vs the week
      before" holds the whole drop; "this week" is under a day old, so the question "this week
      vs last week" is answered over the last 7 days vs the 7 before (answers.md §3), which
      hold it too.
    * Tuesday and Wednesday: exactly 7 days ago. "This week so far vs the same span of last
      week" and "the last 7 days vs the 7 before" both see the whole drop (a Monday start would
      leave the last 7 days mostly before it; the previous Monday would put it in both spans
      of "this week vs last week").
    * Thursday to Sunday: this Monday. "This week vs last week" sees the whole drop, the last
      7 days at least three days of it (more than half of the change).
    """
    now = floor_hour(now)
    monday = week_start(now)
    elapsed = now - monday
    if elapsed < timedelta(days=1):
        return monday - timedelta(weeks=1)
    if elapsed < timedelta(days=3):
        return now - timedelta(weeks=1)
    return monday


def span(now: datetime) -> tuple[datetime, datetime, datetime]:
    """(start, end, scenario start S) as aware UTC: start = Monday 4 ISO weeks before now's
    week, end = now truncated to the hour (exclusive), S = ``scenario_start(now)``."""
    now = floor_hour(now)
    return week_start(now) - timedelta(weeks=4), now, scenario_start(now)


def _engine(url: str):
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception as exc:  # noqa: BLE001
        raise DemoError(f"invalid database URL: {one_line(exc)}") from None
    if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:") \
            and not u.database.startswith("file:"):
        parent = Path(u.database).expanduser().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DemoError(f"cannot create {parent}: {exc.strerror or exc}") from None
    engine = create_engine(u)
    if u.get_backend_name() == "sqlite":
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _bulk_pragmas(dbapi_conn, _record) -> None:
            # Per-connection only: skip fsync (an application crash still cannot corrupt the
            # file; a power loss mid-run may, and --reset rebuilds a demo store anyway). The
            # setting does not persist in the file.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous = OFF")
            cur.close()
    return engine


def _prepare(engine, reset: bool, clusters: list[str], values: dict[str, str]) -> None:
    """Refuse foreign data, clear a previous demo when asked, create tables, write the marker."""
    from sqlalchemy import inspect, literal_column, select, text

    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        marks = store_marker.read_marks(conn) or {}
        has_marker = any(m.owner == "demo" for m in marks.values()) or \
            store_marker.LEGACY_DEMO_TABLE in existing
        lens = [t for t in schema.metadata.sorted_tables if t.name in existing]
        filled = [t.name for t in lens
                  if conn.execute(select(literal_column("1")).select_from(t).limit(1)).first()]
        if filled and not has_marker:
            raise DemoError(f"refusing to write demo data: table {filled[0]} already holds rows "
                            "and this is not a gpureport demo store (it may be a real Lens "
                            "database)")
        others = sorted(c for c, m in marks.items() if m.owner != "demo")
        if others:
            raise DemoError(f"refusing to write demo data: the store holds cluster "
                            f"'{others[0]}' ingested from Prometheus; use a database of its own "
                            "for the demo")
        if has_marker and not reset:
            raise DemoError("the store already holds demo data; pass --reset to replace it")
        if lens:
            if engine.dialect.name == "postgresql":
                prep = engine.dialect.identifier_preparer
                conn.execute(text("TRUNCATE " + ", ".join(prep.format_table(t) for t in lens)
                                  + " RESTART IDENTITY"))
            else:
                for t in lens:
                    conn.execute(t.delete())
        schema.metadata.create_all(conn)
        # Bulk load without secondary indexes, then build them once (_build_indexes): sorting
        # millions of rows into an index beats updating seven B-trees row by row. The indexes
        # are recreated from schema.py at the end, and again by the next --reset if a run died.
        for t in schema.metadata.sorted_tables:
            for idx in t.indexes:
                idx.drop(conn, checkfirst=True)
        store_marker.forget(conn, "demo")
        store_marker.write_marks(conn, "demo", clusters, values)


def generate(url: str, *, seed: int = 42, profile: str = "small", now: datetime,
             reset: bool = False, progress: ProgressFn | None = None) -> DemoSummary:
    """Fill ``url`` with the demo clusters; see the module docstring for what and why.

    Raises ``DemoError`` (one line) when the store holds foreign Lens rows, holds demo data and
    ``reset`` is False, or cannot be reached.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if profile not in PROFILES:
        raise DemoError(f"unknown demo profile '{profile}' (choose small or large)")
    if not isinstance(now, datetime):
        raise DemoError("now must be a datetime")
    progress = progress or (lambda _msg: None)
    start, end, scenario = span(now)
    hours = int((end - start).total_seconds() // 3600)
    span_start = start.replace(tzinfo=None)
    scenario_min = int((scenario - start).total_seconds() // 60)
    rng = random.Random(seed)
    clusters = clusters_for(profile, rng)
    engine = _engine(url)
    try:
        _prepare(engine, reset, [c.name for c in clusters], {
            "seed": str(seed), "profile": profile, "now": end.isoformat(),
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": "incomplete"})
        sink = Sink(engine)
        names: set[tuple[str, str]] = set()
        for cluster in clusters:
            ws = build_workloads(cluster, rng, span_start, hours, scenario_min, names)
            cluster_seed = rng.getrandbits(62)
            progress(f"{cluster.name}: {len(ws)} workloads")
            for i in range(0, len(ws), CHUNK_ROWS // 2):
                rows = gpu_workload_rows(sink, ws[i:i + CHUNK_ROWS // 2], span_start,
                                          end.replace(tzinfo=None))
                sink.write([(schema.gpu_workload, GPU_WORKLOAD_COLS, rows)])
            emit_hours(cluster, ws, sink, span_start, hours, cluster_seed, progress)
        progress("building indexes")
        with engine.begin() as conn:
            for t in schema.metadata.sorted_tables:
                for idx in t.indexes:
                    idx.create(conn, checkfirst=True)
            # planner statistics: without them SQLite joins gpu_workload to the hourly rows by
            # namespace alone, which turns the user lookup of lens.md §8 quadratic
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
            store_marker.update_details(conn, "demo", status="complete")
            for name, model in GPU_MODELS.items():
                store_marker.set_cluster_details(conn, name, gpu_model=model)
    except DemoError:
        raise
    except SQLAlchemyError as exc:
        raise DemoError(f"demo store {mask_url(url)}: {one_line(exc)}") from None
    finally:
        engine.dispose()
    ns_count = sum(len(c.namespaces) for c in clusters)
    return DemoSummary(clusters=[c.name for c in clusters], namespaces=ns_count,
                       gpus=sum(c.capacity for c in clusters), rows=dict(sink.rows),
                       start=start, end=end, scenario_week=scenario)


__all__ = ["generate", "span", "scenario_start", "DemoSummary", "MARKER_TABLE"]
