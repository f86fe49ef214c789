"""watches: what concerns a member (a network, a domain, a brand, a tag, a malware family or a type) and how they
are told (issue 12), when each watch last alerted about an indicator on a platform (coalescing), and an index
on the outbox's creation time (a day's events, for the daily digests).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# Frozen copy of the model's portable id type (a migration must not import the models, which move on).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "watches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("org", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("channel_platform", sa.String(length=20), nullable=True),
        sa.Column("channel_workspace_id", sa.String(length=100), nullable=True),
        sa.Column("channel_id", sa.String(length=100), nullable=True),
        sa.Column("digest", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("include_own", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digested_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_watches_member_id_members"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watches")),
    )
    op.create_index(op.f("ix_watches_member_id"), "watches", ["member_id"], unique=False)
    op.create_index(op.f("ix_outbox_created_at"), "outbox", ["created_at"], unique=False)
    op.create_table(
        "watch_alerts",
        sa.Column("watch_id", ID, autoincrement=False, nullable=False),
        sa.Column("indicator_id", ID, autoincrement=False, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["watch_id"], ["watches.id"], name=op.f("fk_watch_alerts_watch_id_watches"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"],
                                name=op.f("fk_watch_alerts_indicator_id_indicators"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("watch_id", "indicator_id", "platform", name=op.f("pk_watch_alerts")),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_created_at"), table_name="outbox")
    op.drop_table("watch_alerts")
    op.drop_index(op.f("ix_watches_member_id"), table_name="watches")
    op.drop_table("watches")
