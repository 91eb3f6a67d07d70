"""Team digests: a claim and a run per (schedule, period, team); ``blocked`` runs; chat deliveries.

Revision ID: 0003_teams
Revises: 0003_nudges (both were written as the third revision; nudges was merged first)
Create Date: 2026-11-30

* ``runs.team`` and ``delivery_claims.team`` (``''`` for a schedule that does not fan out, so
  the unique key needs no NULL handling): a fan-out schedule delivers each team's digest exactly
  once under the key (schedule, period_start, period_end, team).
* ``runs.status`` accepts ``blocked``: the data-quality gate stopped the digest (coverage or
  freshness below the schedule's threshold) and the admins were told instead.
* ``deliveries.channel`` accepts ``slack``, ``slack_webhook`` and ``teams`` (digests posted to
  chat).

Written out literally like 0002; SQLite rebuilds the tables in Alembic's batch mode.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_teams"
down_revision = "0003_nudges"
branch_labels = None
depends_on = None

RUNS_BEFORE = "status IN ('running', 'succeeded', 'failed', 'skipped', 'uncertain')"
RUNS_AFTER = "status IN ('running', 'succeeded', 'failed', 'skipped', 'uncertain', 'blocked')"
CHANNELS_BEFORE = "channel IN ('email', 'webhook', 'alertmanager', 'file')"
CHANNELS_AFTER = ("channel IN ('email', 'webhook', 'alertmanager', 'file', 'slack', "
                  "'slack_webhook', 'teams')")


def upgrade() -> None:
    with op.batch_alter_table("runs", recreate="auto") as batch:
        batch.add_column(sa.Column("team", sa.String(200), nullable=False, server_default=""))
        batch.drop_constraint("ck_runs_status", type_="check")
        batch.create_check_constraint("ck_runs_status", RUNS_AFTER)
    with op.batch_alter_table("deliveries", recreate="auto") as batch:
        batch.drop_constraint("ck_deliveries_channel", type_="check")
        batch.create_check_constraint("ck_deliveries_channel", CHANNELS_AFTER)
    with op.batch_alter_table("delivery_claims", recreate="auto") as batch:
        batch.add_column(sa.Column("team", sa.String(200), nullable=False, server_default=""))
        batch.drop_constraint("uq_delivery_claims_key", type_="unique")
        batch.create_unique_constraint("uq_delivery_claims_key",
                                       ["schedule", "period_start", "period_end", "team"])


def downgrade() -> None:
    op.execute("DELETE FROM delivery_claims WHERE team <> ''")
    with op.batch_alter_table("delivery_claims", recreate="auto") as batch:
        batch.drop_constraint("uq_delivery_claims_key", type_="unique")
        batch.create_unique_constraint("uq_delivery_claims_key",
                                       ["schedule", "period_start", "period_end"])
        batch.drop_column("team")
    op.execute("DELETE FROM deliveries WHERE channel IN ('slack', 'slack_webhook', 'teams')")
    with op.batch_alter_table("deliveries", recreate="auto") as batch:
        batch.drop_constraint("ck_deliveries_channel", type_="check")
        batch.create_check_constraint("ck_deliveries_channel", CHANNELS_BEFORE)
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'blocked'")
    with op.batch_alter_table("runs", recreate="auto") as batch:
        batch.drop_constraint("ck_runs_status", type_="check")
        batch.create_check_constraint("ck_runs_status", RUNS_BEFORE)
        batch.drop_column("team")
