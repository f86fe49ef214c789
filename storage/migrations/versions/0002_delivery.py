"""delivery: outbox rows per platform with leases, backoff and parking; cards the bot has posted

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "delivered_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("platform", sa.String(length=20), server_default="", nullable=False))
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_pending", "outbox", ["platform", "available_at", "id"], unique=False,
                    sqlite_where=sa.text(PENDING), postgresql_where=sa.text(PENDING))
    op.create_index("ix_outbox_parked", "outbox", ["parked_at"], unique=False,
                    sqlite_where=sa.text("parked_at IS NOT NULL"), postgresql_where=sa.text("parked_at IS NOT NULL"))

    op.create_table(
        "posted_cards",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=True),
        sa.Column("indicator_id", ID, nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("delivery_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"],
                                name=op.f("fk_posted_cards_indicator_id_indicators"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posted_cards")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_posted_cards_delivery_key")),
    )
    op.create_index("ix_posted_cards_indicator_platform", "posted_cards", ["indicator_id", "platform"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_posted_cards_indicator_platform", table_name="posted_cards")
    op.drop_table("posted_cards")
    op.drop_index("ix_outbox_parked", table_name="outbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("parked_at")
        batch.drop_column("platform")
    op.create_index("ix_outbox_pending", "outbox", ["available_at", "id"], unique=False,
                    sqlite_where=sa.text("delivered_at IS NULL"), postgresql_where=sa.text("delivered_at IS NULL"))
