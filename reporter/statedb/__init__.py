"""The state database: run records, deliveries, delivery claims, alert state, scheduler claims
(and sessions).

``open_state(url)`` is the one way in. It connects, brings the schema to the newest Alembic
revision and returns a ``StateDB`` with the few repository methods the runner, the scheduler and
``gpureport history`` need. Why a separate database: a Lens database is read-only for us
(product.md §3), and everything we write must survive restarts and be shared by replicas.

Decisions:

* Migrations run on every open (``alembic upgrade head`` is a no-op at head). On PostgreSQL the
  upgrade runs in one transaction that first takes ``pg_advisory_xact_lock``, so two processes
  starting together (a CronJob pod and a scheduler replica) never race on DDL; the second waits
  and then finds the schema at head. On SQLite every transaction starts with ``BEGIN IMMEDIATE``
  (the pysqlite driver's own transaction handling is switched off), which serializes writers the
  same way and makes claims and run records behave as on PostgreSQL.
* ``postgresql://`` and ``postgres://`` URLs are taken to mean psycopg 3, the driver we ship.
* Any failure to reach the database surfaces as ``StateError`` with one line naming the database
  (password masked) and the driver's first line of explanation.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from sqlalchemy import Engine, Row, and_, create_engine, event, insert, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from agent.errors import StateError
from agent.settings import normalize_database_url
from agent.text import mask_url, one_line
from reporter.statedb.models import deliveries, runs, scheduler_locks

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A fixed 64-bit key for pg_advisory_xact_lock around migrations (any constant would do; a hash
# of a descriptive name keeps it from colliding with another application's small integers).
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"gpureport:statedb:migrate").digest()[:8],
                                    "big", signed=True)

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def normalize_url(url: str) -> str:
    """``postgres://`` / ``postgresql://`` -> ``postgresql+psycopg://`` (psycopg 3 is what we ship)."""
    return normalize_database_url(url)


def _wrap_db_errors(fn: Callable[..., T]) -> Callable[..., T]:
    @wraps(fn)
    def inner(self: "StateDB", *args: Any, **kwargs: Any) -> T:
        try:
            return fn(self, *args, **kwargs)
        except StateError:
            raise
        except (DBAPIError, SQLAlchemyError) as exc:
            raise StateError(f"state database {mask_url(self.url)}: {one_line(exc)}") from exc
    return inner


def _make_engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        from sqlalchemy.pool import StaticPool

        memory = u.database in (None, "", ":memory:")
        if not memory:
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"connect_args": {"timeout": 30, "check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:  # pragma: no branch - event hook
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn) -> None:  # pragma: no branch - event hook
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args = {"connect_timeout": 10} if u.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _alembic_config(connection) -> "Any":
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(engine: Engine) -> None:
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)  # its INFO chatter (even on import) is noise
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    # At head already (every open but the first): one short read, no migration transaction.
    # Alembic's upgrade loads its scripts inside the write lock, which on SQLite would stall
    # every other process's claim renewals while many processes start at once.
    head = head_revision()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a constraint by rebuilding the table (Alembic batch mode); with
            # foreign keys on, dropping the old ``runs`` would cascade-delete every delivery.
            # The pragma is a no-op inside a transaction, so it is set before BEGIN.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                                 {"k": MIGRATION_LOCK_KEY})
                before = after = MigrationContext.configure(conn).get_current_revision()
                if before != head:  # another process may have migrated while this one waited
                    command.upgrade(_alembic_config(conn), "head")
                    after = MigrationContext.configure(conn).get_current_revision()
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
    if after != before:
        log.info("state database migrated from %s to %s", before or "empty", after)


def head_revision() -> str:
    """The newest migration shipped with this version of gpureport."""
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt to hand a run's output to a channel, written with the run's final status."""

    channel: str  # email | webhook | alertmanager | file | slack | slack_webhook | teams
    target: str
    status: str  # sent | failed | uncertain (SMTP failed after DATA)
    message_id: str | None = None
    error: str | None = None
    at: datetime | None = None


class StateDB:
    """An open, migrated state database. Cheap to keep for the life of the process."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    # -- schema ---------------------------------------------------------------------------
    @_wrap_db_errors
    def revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "StateDB":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------
    @_wrap_db_errors
    def start_run(self, *, schedule: str, kind: str, period_start: datetime,
                  period_end: datetime, trigger: str = "cli", forced: bool = False,
                  dry_run: bool = False, recipients: Sequence[str] = (),
                  status: str = "running", error: str | None = None,
                  started_at: datetime | None = None, team: str = "") -> int:
        """Insert a run record (``running`` unless told otherwise) and return its id.

        ``status="skipped"`` records a run that found its period already delivered: it is
        written finished, so history shows that the CronJob did fire.
        """
        with self.engine.begin() as conn:
            return self.insert_run(conn, schedule=schedule, kind=kind,
                                   period_start=period_start, period_end=period_end,
                                   trigger=trigger, forced=forced, dry_run=dry_run,
                                   recipients=recipients, status=status, error=error,
                                   started_at=started_at, team=team)

    @staticmethod
    def insert_run(conn: Connection, *, schedule: str, kind: str, period_start: datetime,
                   period_end: datetime, trigger: str = "cli", forced: bool = False,
                   dry_run: bool = False, recipients: Sequence[str] = (),
                   status: str = "running", error: str | None = None,
                   started_at: datetime | None = None, team: str = "") -> int:
        """``start_run`` inside the caller's transaction (the delivery claim takes one)."""
        now = started_at or utcnow()
        done = status != "running"
        result = conn.execute(insert(runs).values(
            schedule=schedule, kind=kind, period_start=period_start, period_end=period_end,
            status=status, started_at=now, finished_at=now if done else None,
            duration_s=0.0 if done else None, files=[], recipients=list(recipients),
            error=error, forced=forced, dry_run=dry_run, trigger=trigger, team=team,
        ).returning(runs.c.id))
        return int(result.scalar_one())

    @_wrap_db_errors
    def finish_run(self, run_id: int, status: str, *, files: Iterable[str | Path] | None = None,
                   recipients: Sequence[str] | None = None, message_id: str | None = None,
                   error: str | None = None, deliveries: Iterable[DeliveryRecord] = (),
                   finished_at: datetime | None = None,
                   also: Callable[[Connection], None] | None = None) -> None:
        """Close a run and write its delivery rows in the same transaction.

        This is what makes "sent" trustworthy: either the run reads ``succeeded`` *and* the
        delivery row exists, or neither was written. ``also(conn)`` runs in that transaction
        too (the runner settles its delivery claim there).
        """
        now = finished_at or utcnow()
        with self.engine.begin() as conn:
            started = conn.execute(select(runs.c.started_at).where(runs.c.id == run_id)).scalar()
            if started is None:
                raise StateError(f"run #{run_id} does not exist in the state database")
            values: dict[str, Any] = {
                "status": status, "finished_at": now,
                "duration_s": max(0.0, (now - started).total_seconds()),
                "message_id": message_id, "error": error,
            }
            if files is not None:
                values["files"] = [str(f) for f in files]
            if recipients is not None:
                values["recipients"] = list(recipients)
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))
            for d in deliveries:
                self._insert_delivery(conn, run_id, d, now)
            if also is not None:
                also(conn)

    @_wrap_db_errors
    def delivered_run(self, schedule: str, period_start: datetime,
                      period_end: datetime) -> Row | None:
        """The latest real (not dry-run) run that delivered this schedule's period, if any."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(runs).where(and_(
                    runs.c.schedule == schedule, runs.c.period_start == period_start,
                    runs.c.period_end == period_end, runs.c.status == "succeeded",
                    runs.c.dry_run.is_(False),
                )).order_by(runs.c.id.desc()).limit(1)
            ).first()

    @_wrap_db_errors
    def abandon_runs(self, schedule: str, period_start: datetime, period_end: datetime, *,
                     except_id: int, note: str) -> int:
        """Mark older ``running`` records of the same period ``failed``.

        A process killed outright (SIGKILL, node loss) cannot write its own end; the next run
        of that period closes the record so that history never shows a digest as in flight
        forever.
        """
        with self.engine.begin() as conn:
            result = conn.execute(update(runs).where(and_(
                runs.c.schedule == schedule, runs.c.period_start == period_start,
                runs.c.period_end == period_end, runs.c.status == "running",
                runs.c.id < except_id,
            )).values(status="failed", finished_at=utcnow(), error=note))
            return int(result.rowcount or 0)

    @_wrap_db_errors
    def get_run(self, run_id: int) -> Row | None:
        with self.engine.connect() as conn:
            return conn.execute(select(runs).where(runs.c.id == run_id)).first()

    @_wrap_db_errors
    def list_runs(self, limit: int = 20, schedule: str | None = None) -> list[Row]:
        """Newest first."""
        q = select(runs).order_by(runs.c.id.desc()).limit(limit)
        if schedule:
            q = q.where(runs.c.schedule == schedule)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    # -- deliveries -----------------------------------------------------------------------
    @staticmethod
    def _insert_delivery(conn, run_id: int, d: DeliveryRecord, default_at: datetime) -> int:
        result = conn.execute(insert(deliveries).values(
            run_id=run_id, channel=d.channel, target=d.target, status=d.status,
            message_id=d.message_id, error=d.error, at=d.at or default_at,
        ).returning(deliveries.c.id))
        return int(result.scalar_one())

    @_wrap_db_errors
    def record_delivery(self, run_id: int, channel: str, target: str, status: str, *,
                        message_id: str | None = None, error: str | None = None,
                        at: datetime | None = None) -> int:
        """One delivery row on its own (e.g. a failed attempt before the run is closed)."""
        with self.engine.begin() as conn:
            return self._insert_delivery(
                conn, run_id, DeliveryRecord(channel, target, status, message_id, error, at),
                utcnow())

    @_wrap_db_errors
    def list_deliveries(self, run_id: int) -> list[Row]:
        with self.engine.connect() as conn:
            return list(conn.execute(
                select(deliveries).where(deliveries.c.run_id == run_id)
                .order_by(deliveries.c.id)))

    # -- scheduler claims -----------------------------------------------------------------
    @_wrap_db_errors
    def claim(self, name: str, holder: str, fired_at: datetime) -> bool:
        """Claim a firing; True for exactly one caller per ``name`` across every process."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(scheduler_locks).values(
                    name=name, holder=holder, fired_at=fired_at))
            return True
        except IntegrityError:
            return False

    @_wrap_db_errors
    def prune_claims(self, older_than: datetime) -> int:
        from sqlalchemy import delete

        with self.engine.begin() as conn:
            result = conn.execute(delete(scheduler_locks)
                                  .where(scheduler_locks.c.fired_at < older_than))
            return int(result.rowcount or 0)


def open_state(url: str) -> StateDB:
    """Connect to the state database at ``url``, migrate it to head, return it.

    Idempotent and safe to call from several processes at once. Raises ``StateError``.
    """
    url = normalize_url(url)
    try:
        engine = _make_engine(url)
    except Exception as exc:  # noqa: BLE001 - bad URL, missing driver, unwritable directory
        raise StateError(f"state database {mask_url(url)}: {one_line(exc)}") from None
    try:
        _upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - unreachable server, permissions, bad revision
        engine.dispose()
        raise StateError(f"state database {mask_url(url)}: {one_line(exc)}") from None
    return StateDB(engine, url)


__all__ = ["StateDB", "StateError", "DeliveryRecord", "open_state", "head_revision",
           "normalize_url", "utcnow"]
