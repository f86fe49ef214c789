"""link codes: one-time codes with which a member links an identity on another platform (`/ioc link`), one per
member, stored as their SHA-256 only.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copy of the model's portable id type (a migration must not import the models, which move on).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_codes",
        sa.Column("member_id", ID, autoincrement=False, nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_link_codes_member_id_members"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_link_codes")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_link_codes_code_sha256")),
    )


def downgrade() -> None:
    op.drop_table("link_codes")
