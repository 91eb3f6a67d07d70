"""The state database's tables: what gpureport itself writes (never the Lens database).

Why a Core ``MetaData`` and not ORM classes: the runner, the scheduler and the alert engine each
issue a handful of explicit statements, and plain ``Table`` objects keep those statements visible
and parametrized. The migration scripts under ``migrations/versions`` are the schema's source of
truth for the database; these objects mirror them for queries (a test compares the two).

Conversation sessions live in the same database, in the LangGraph checkpointer's own tables
(created by its ``setup()``), and APScheduler keeps its jobs in ``apscheduler_jobs``; neither is
modelled here.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from agent.sqltypes import JsonDocument

# "uncertain": the SMTP connection failed after DATA; the message may or may not have arrived
# "blocked": the data-quality gate stopped a digest (the admins were told instead)
RUN_STATUSES = ("running", "succeeded", "failed", "skipped", "uncertain", "blocked")
RUN_TRIGGERS = ("cli", "scheduler")
DELIVERY_CHANNELS = ("email", "webhook", "alertmanager", "file", "slack", "slack_webhook",
                     "teams")
SENT_STATUSES = ("sent", "failed")
DELIVERY_STATUSES = ("sent", "failed", "uncertain")
CLAIM_STATUSES = ("held", "delivered", "uncertain", "released")
CLAIM_PHASES = ("preparing", "sending")
ALERT_STATUSES = ("pending", "firing", "resolved")
NOTIFICATION_KINDS = ("firing", "repeat", "resolved")


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL.

    SQLite has no time zone type; storing naive UTC there and re-attaching UTC on the way out
    makes equality on period bounds (the idempotency key) behave the same on both databases.
    A naive datetime is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the state database")
        value = value.astimezone(timezone.utc)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = MetaData()

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", String(200), nullable=False),
    Column("kind", String(200), nullable=False),  # the schedule's report kinds, comma-joined
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("duration_s", Float),
    Column("files", JsonDocument(), nullable=False, default=list),
    Column("recipients", JsonDocument(), nullable=False, default=list),
    Column("message_id", String(998)),
    Column("error", Text),
    Column("forced", Boolean, nullable=False, default=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("trigger", String(16), nullable=False, default="cli"),
    # the team of a fan-out schedule's digest ('' for a schedule that does not fan out)
    Column("team", String(200), nullable=False, default="", server_default=""),
    CheckConstraint(_in("status", RUN_STATUSES), name="ck_runs_status"),
    CheckConstraint(_in("trigger", RUN_TRIGGERS), name="ck_runs_trigger"),
    Index("ix_runs_schedule_period", "schedule", "period_start", "period_end", "status"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("message_id", String(998)),
    Column("error", Text),
    Column("at", UTCDateTime(), nullable=False),
    CheckConstraint(_in("channel", DELIVERY_CHANNELS), name="ck_deliveries_channel"),
    CheckConstraint(_in("status", DELIVERY_STATUSES), name="ck_deliveries_status"),
    Index("ix_deliveries_run_id", "run_id"),
)

alert_state = Table(
    "alert_state", metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("severity", String(32), nullable=False),
    Column("labels", JsonDocument(), nullable=False, default=dict),
    Column("annotations", JsonDocument(), nullable=False, default=dict),
    Column("value", Float),
    Column("status", String(16), nullable=False),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("last_notified_at", UTCDateTime()),
    Column("resolved_at", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint(_in("status", ALERT_STATUSES), name="ck_alert_state_status"),
    Index("ix_alert_state_status", "status"),
)

alert_notifications = Table(
    "alert_notifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # no foreign key: notification history outlives pruned alert_state rows
    Column("fingerprint", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("at", UTCDateTime(), nullable=False),
    CheckConstraint(_in("channel", DELIVERY_CHANNELS), name="ck_alert_notifications_channel"),
    CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="ck_alert_notifications_kind"),
    CheckConstraint(_in("status", SENT_STATUSES), name="ck_alert_notifications_status"),
    Index("ix_alert_notifications_fingerprint_at", "fingerprint", "at"),
)

# One row per claimed firing ("<job id>@<scheduled time>"): the primary key makes the claim
# atomic on every database, so two scheduler replicas cannot both execute one firing.
scheduler_locks = Table(
    "scheduler_locks", metadata,
    Column("name", String(255), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
)

# One row per (schedule, period, team): who delivers it (team '' unless the schedule fans out).
# Taken before rendering by an atomic insert
# against the unique key; the holder renews ``lease_expires_at`` while it works; ``status`` says
# whether the period is being delivered (held), was delivered, is uncertain (SMTP failed after
# DATA) or is free again (released: the holder failed before anything could have been sent).
# ``--force`` bumps ``generation`` (a new Message-ID). See reporter/statedb/claims.py.
delivery_claims = Table(
    "delivery_claims", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schedule", String(200), nullable=False),
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),
    Column("generation", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False),
    Column("phase", String(16), nullable=False, default="preparing"),
    Column("run_id", Integer, nullable=False),  # the holder's (or deliverer's) run
    Column("pid", Integer, nullable=False),
    Column("host", String(255), nullable=False),
    Column("message_id", String(998)),
    Column("lease_expires_at", UTCDateTime(), nullable=False),
    Column("takeovers", Integer, nullable=False, default=0),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("team", String(200), nullable=False, default="", server_default=""),
    UniqueConstraint("schedule", "period_start", "period_end", "team",
                     name="uq_delivery_claims_key"),
    CheckConstraint(_in("status", CLAIM_STATUSES), name="ck_delivery_claims_status"),
    CheckConstraint(_in("phase", CLAIM_PHASES), name="ck_delivery_claims_phase"),
)

# Named exclusive locks with a lease, for work that has no natural key: the SQLite stand-in for
# a PostgreSQL advisory lock (one ``alerts check`` at a time). ``token`` is unique per
# acquisition, so only the acquirer renews or releases it.
leases = Table(
    "leases", metadata,
    Column("name", String(255), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("holder", String(255), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# Names the agent resolves questions against (agent/catalog.py), shared by every process
# for their TTL: key = where the names come from + what was asked; value = JSON.
catalog_cache = Table(
    "catalog_cache", metadata,
    Column("key", String(512), primary_key=True),
    Column("value", JsonDocument(), nullable=False),
    Column("stored_at", UTCDateTime(), nullable=False),
    Index("ix_catalog_cache_stored_at", "stored_at"),
)

# Idle nudges (reporter/nudges): per (schedule, user) where the escalation stands, and one row
# per notice and route. The unique key of ``nudge_notices`` is the claim: a notice's row is
# inserted (``sending``) before it is sent, so concurrent runs send each (schedule, user,
# episode, level, route) once. ``episode`` counts the user's idle spells: a user whose workloads
# stopped idling starts a new one at level 0.
NUDGE_LEVELS = (0, 1, 2, 3)
NUDGE_STATUSES = ("sending", "sent", "failed", "no_address", "uncertain")

nudge_state = Table(
    "nudge_state", metadata,
    Column("schedule", String(200), primary_key=True),
    Column("user", String(255), primary_key=True),
    Column("episode", Integer, nullable=False, default=1),
    Column("level", Integer, nullable=False, default=0),
    Column("idle_since", UTCDateTime()),
    Column("last_notice_at", UTCDateTime()),
    Column("last_idle_at", UTCDateTime()),
    Column("reset_at", UTCDateTime()),
    Column("workloads", JsonDocument(), nullable=False, default=list),
    Column("idle_gpu_hours", Float),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("level BETWEEN 0 AND 3", name="ck_nudge_state_level"),
)

nudge_notices = Table(
    "nudge_notices", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer),  # no foreign key: the record of a notice outlives its run's
    Column("schedule", String(200), nullable=False),
    Column("user", String(255), nullable=False),
    Column("episode", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("route", String(255), nullable=False),  # "email", "slack:#ml-gpu", "teams:<hash>"
    Column("channel", String(16), nullable=False),
    Column("target", Text, nullable=False),  # masked
    Column("status", String(16), nullable=False),
    Column("workloads", JsonDocument(), nullable=False, default=list),
    Column("idle_gpu_hours", Float),
    Column("message_id", String(998)),
    Column("error", Text),
    Column("at", UTCDateTime(), nullable=False),
    UniqueConstraint("schedule", "user", "episode", "level", "route", name="uq_nudge_notices_key"),
    CheckConstraint(_in("status", NUDGE_STATUSES), name="ck_nudge_notices_status"),
    Index("ix_nudge_notices_run_id", "run_id"),
)

__all__ = [
    "nudge_state", "nudge_notices", "NUDGE_STATUSES",
    "metadata", "runs", "deliveries", "alert_state", "alert_notifications", "scheduler_locks",
    "delivery_claims", "leases", "catalog_cache", "UTCDateTime", "RUN_STATUSES", "RUN_TRIGGERS",
    "DELIVERY_CHANNELS", "SENT_STATUSES", "DELIVERY_STATUSES", "CLAIM_STATUSES", "CLAIM_PHASES",
    "ALERT_STATUSES", "NOTIFICATION_KINDS",
]
