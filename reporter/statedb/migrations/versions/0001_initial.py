"""Initial state schema: runs, deliveries, alert state, alert notifications, scheduler locks.

Revision ID: 0001
Revises:
Create Date: 2026-11-19

Written out literally (not generated from ``models.py`` at run time) so that this revision keeps
describing the same schema after the models move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(200), nullable=False),
        _ts("period_start", False),
        _ts("period_end", False),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("started_at", False),
        _ts("finished_at"),
        sa.Column("duration_s", sa.Float),
        sa.Column("files", _json(), nullable=False),
        sa.Column("recipients", _json(), nullable=False),
        sa.Column("message_id", sa.String(998)),
        sa.Column("error", sa.Text),
        sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("dry_run", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("trigger", sa.String(16), nullable=False, server_default="cli"),
        sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'skipped')",
                           name="ck_runs_status"),
        sa.CheckConstraint("trigger IN ('cli', 'scheduler')", name="ck_runs_trigger"),
    )
    op.create_index("ix_runs_schedule_period", "runs",
                    ["schedule", "period_start", "period_end", "status"])

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(998)),
        sa.Column("error", sa.Text),
        _ts("at", False),
        sa.CheckConstraint("channel IN ('email', 'webhook', 'alertmanager', 'file')",
                           name="ck_deliveries_channel"),
        sa.CheckConstraint("status IN ('sent', 'failed')", name="ck_deliveries_status"),
    )
    op.create_index("ix_deliveries_run_id", "deliveries", ["run_id"])

    op.create_table(
        "alert_state",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("labels", _json(), nullable=False),
        sa.Column("annotations", _json(), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        _ts("first_seen_at", False),
        _ts("started_at"),
        _ts("last_notified_at"),
        _ts("resolved_at"),
        _ts("updated_at", False),
        sa.CheckConstraint("status IN ('pending', 'firing', 'resolved')",
                           name="ck_alert_state_status"),
    )
    op.create_index("ix_alert_state_status", "alert_state", ["status"])

    op.create_table(
        "alert_notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        _ts("at", False),
        sa.CheckConstraint("channel IN ('email', 'webhook', 'alertmanager', 'file')",
                           name="ck_alert_notifications_channel"),
        sa.CheckConstraint("kind IN ('firing', 'repeat', 'resolved')",
                           name="ck_alert_notifications_kind"),
        sa.CheckConstraint("status IN ('sent', 'failed')", name="ck_alert_notifications_status"),
    )
    op.create_index("ix_alert_notifications_fingerprint_at", "alert_notifications",
                    ["fingerprint", "at"])

    op.create_table(
        "scheduler_locks",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("holder", sa.String(255), nullable=False),
        _ts("fired_at", False),
    )


def downgrade() -> None:
    op.drop_table("scheduler_locks")
    op.drop_index("ix_alert_notifications_fingerprint_at", table_name="alert_notifications")
    op.drop_table("alert_notifications")
    op.drop_index("ix_alert_state_status", table_name="alert_state")
    op.drop_table("alert_state")
    op.drop_index("ix_deliveries_run_id", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_runs_schedule_period", table_name="runs")
    op.drop_table("runs")
