"""Delivery claims, named leases, and the ``uncertain`` status of runs and deliveries.

Revision ID: 0002_claims
Revises: 0001
Create Date: 2026-11-24

* ``delivery_claims``: one row per (schedule, period), taken before a run renders; the unique
  key makes the claim atomic on SQLite and PostgreSQL alike (reporter/statedb/claims.py).
* ``leases``: named exclusive locks with an expiry (the SQLite alert-check lock).
* ``runs.status`` and ``deliveries.status`` accept ``uncertain``: an SMTP connection that
  failed after DATA, where the server may have accepted the message.

Self-contained (touches only what it creates and the two CHECK constraints), written out
literally like 0001. SQLite cannot alter a constraint in place, so the two tables are rebuilt
with Alembic's batch mode there; on PostgreSQL the constraints are dropped and re-added.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_claims"
down_revision = "0001"
branch_labels = None
depends_on = None

RUNS_BEFORE = "status IN ('running', 'succeeded', 'failed', 'skipped')"
RUNS_AFTER = "status IN ('running', 'succeeded', 'failed', 'skipped', 'uncertain')"
DELIVERIES_BEFORE = "status IN ('sent', 'failed')"
DELIVERIES_AFTER = "status IN ('sent', 'failed', 'uncertain')"


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _check(table: str, name: str, condition: str) -> None:
    with op.batch_alter_table(table, recreate="auto") as batch:
        batch.drop_constraint(name, type_="check")
        batch.create_check_constraint(name, condition)


def upgrade() -> None:
    op.create_table(
        "delivery_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(200), nullable=False),
        _ts("period_start", False),
        _ts("period_end", False),
        sa.Column("generation", sa.Integer, nullable=False, server_default="1"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False, server_default="preparing"),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(998)),
        _ts("lease_expires_at", False),
        sa.Column("takeovers", sa.Integer, nullable=False, server_default="0"),
        _ts("claimed_at", False),
        _ts("updated_at", False),
        sa.UniqueConstraint("schedule", "period_start", "period_end",
                            name="uq_delivery_claims_key"),
        sa.CheckConstraint("status IN ('held', 'delivered', 'uncertain', 'released')",
                           name="ck_delivery_claims_status"),
        sa.CheckConstraint("phase IN ('preparing', 'sending')", name="ck_delivery_claims_phase"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        _ts("acquired_at", False),
        _ts("expires_at", False),
    )
    _check("runs", "ck_runs_status", RUNS_AFTER)
    _check("deliveries", "ck_deliveries_status", DELIVERIES_AFTER)


def downgrade() -> None:
    op.execute("UPDATE deliveries SET status = 'failed' WHERE status = 'uncertain'")
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'uncertain'")
    _check("deliveries", "ck_deliveries_status", DELIVERIES_BEFORE)
    _check("runs", "ck_runs_status", RUNS_BEFORE)
    op.drop_table("leases")
    op.drop_table("delivery_claims")
