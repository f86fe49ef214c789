"""live case cards (issue 13): a case's card posted in a channel (`/ioc case show NAME` there) is recorded, as an
indicator's card is in posted_cards, so that it is edited when the case or one of its indicators changes; with the
most its channel's audience could see when it was posted.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "posted_case_cards",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("ceiling", sa.String(length=20), nullable=False),
        sa.Column("delivery_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_posted_case_cards_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posted_case_cards")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_posted_case_cards_delivery_key")),
    )
    op.create_index("ix_posted_case_cards_case_platform", "posted_case_cards", ["case_id", "platform"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_posted_case_cards_case_platform", table_name="posted_case_cards")
    op.drop_table("posted_case_cards")
