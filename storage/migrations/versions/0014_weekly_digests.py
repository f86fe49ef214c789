"""weekly digests (issue 14): the weeks whose digest the maintenance loop wrote, so that it is written once per
week however many processes run and however often they restart

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "weekly_digests",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("week", name=op.f("pk_weekly_digests")),
    )


def downgrade() -> None:
    op.drop_table("weekly_digests")
