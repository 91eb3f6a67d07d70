"""Idle nudges: per-user escalation state and one row per notice sent.

Revision ID: 0003_nudges
Revises: 0002_catalog
Create Date: 2026-11-30

* ``nudge_state``: per (schedule, user) the current idle spell (``episode``), the level of the
  last notice (0-3), when it was sent and what was idle (reporter/nudges/store.py).
* ``nudge_notices``: one row per notice and route; its unique key (schedule, user, episode,
  level, route) is the claim that makes each notice go out once under concurrent runs.

Self-contained and written out literally like the revisions before it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_nudges"
down_revision = "0002_catalog"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "nudge_state",
        sa.Column("schedule", sa.String(200), primary_key=True),
        sa.Column("user", sa.String(255), primary_key=True),
        sa.Column("episode", sa.Integer, nullable=False, server_default="1"),
        sa.Column("level", sa.Integer, nullable=False, server_default="0"),
        _ts("idle_since"),
        _ts("last_notice_at"),
        _ts("last_idle_at"),
        _ts("reset_at"),
        sa.Column("workloads", _json(), nullable=False),
        sa.Column("idle_gpu_hours", sa.Float),
        _ts("updated_at", False),
        sa.CheckConstraint("level BETWEEN 0 AND 3", name="ck_nudge_state_level"),
    )
    op.create_table(
        "nudge_notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("episode", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("route", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("workloads", _json(), nullable=False),
        sa.Column("idle_gpu_hours", sa.Float),
        sa.Column("message_id", sa.String(998)),
        sa.Column("error", sa.Text),
        _ts("at", False),
        sa.UniqueConstraint("schedule", "user", "episode", "level", "route",
                            name="uq_nudge_notices_key"),
        sa.CheckConstraint("status IN ('sending', 'sent', 'failed', 'no_address', 'uncertain')",
                           name="ck_nudge_notices_status"),
    )
    op.create_index("ix_nudge_notices_run_id", "nudge_notices", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_nudge_notices_run_id", table_name="nudge_notices")
    op.drop_table("nudge_notices")
    op.drop_table("nudge_state")
