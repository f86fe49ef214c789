"""lifecycle (issue 13): an organization can be disabled (its members can no longer act, its items stay), a member
removed (identities unlinked, votes and submissions kept), an invite code revoked before it is used up.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("members", sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("invites", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("revoked_at")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("removed_at")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("disabled_at")
