"""provenance (issue 14, federation): an imported STIX object keeps its author (the original created_by_ref and
that identity's name) and its own `created`, so that exports re-emit them; `coalition-bot taxii pull` remembers
the last date_added it read per (server, collection), to ask for what was added after it next time.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("indicators", sa.Column("origin_created_by", sa.String(length=100), nullable=True))
    op.add_column("indicators", sa.Column("origin_name", sa.String(length=200), nullable=True))
    op.add_column("indicators", sa.Column("origin_created", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "taxii_pulls",
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("collection", sa.String(length=200), nullable=False),
        sa.Column("last_added", sa.String(length=40), nullable=False),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url", "collection", name=op.f("pk_taxii_pulls")),
    )


def downgrade() -> None:
    op.drop_table("taxii_pulls")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("origin_created")
        batch.drop_column("origin_name")
        batch.drop_column("origin_created_by")
