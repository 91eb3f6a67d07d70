"""The catalogue cache: names the agent resolves questions against, kept for their TTL.

Revision ID: 0002_catalog
Revises: 0002_claims (both were written as the second revision; claims was merged first)
Create Date: 2026-11-19
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_catalog"
down_revision = "0002_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_cache",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_catalog_cache_stored_at", "catalog_cache", ["stored_at"])


def downgrade() -> None:
    op.drop_index("ix_catalog_cache_stored_at", table_name="catalog_cache")
    op.drop_table("catalog_cache")
