"""initial schema: organizations, members, invites, indicators, votes, sightings, channels,
audit log, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-27 14:50:33.947330
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Frozen copies of the model's portable types (a migration must not import the models, which move on).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.String(length=100), nullable=False),
        sa.Column("ceiling", sa.String(length=20), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("passive", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("ephemeral_lookups", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channels")),
        sa.UniqueConstraint(
            "platform",
            "workspace_id",
            "channel_id",
            name=op.f("uq_channels_platform_workspace_id_channel_id"),
        ),
    )
    op.create_index(op.f("ix_channels_purpose"), "channels", ["purpose"], unique=False)

    op.create_table(
        "organizations",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=100), server_default="", nullable=False),
        sa.Column("trust_level", sa.SmallInteger(), server_default="50", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name_key", name=op.f("uq_organizations_name_key")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["available_at", "id"],
        unique=False,
        sqlite_where=sa.text("delivered_at IS NULL"),
        postgresql_where=sa.text("delivered_at IS NULL"),
    )

    op.create_table(
        "members",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_members_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_index(op.f("ix_members_name_key"), "members", ["name_key"], unique=False)
    op.create_index(op.f("ix_members_org_id"), "members", ["org_id"], unique=False)

    op.create_table(
        "identities",
        sa.Column("id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_identities_member_id_members"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint(
            "platform", "workspace_id", "user_id", name=op.f("uq_identities_platform_workspace_id_user_id")
        ),
    )
    op.create_index(op.f("ix_identities_member_id"), "identities", ["member_id"], unique=False)

    op.create_table(
        "indicators",
        sa.Column("id", ID, nullable=False),
        sa.Column("stix_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("tlp_rank", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.SmallInteger(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("submitter_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_indicators_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["submitter_id"], ["members.id"], name=op.f("fk_indicators_submitter_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicators")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_indicators_stix_id")),
        sa.UniqueConstraint("type", "value", name=op.f("uq_indicators_type_value")),
    )
    op.create_index(op.f("ix_indicators_created_at"), "indicators", ["created_at"], unique=False)
    op.create_index(op.f("ix_indicators_org_id"), "indicators", ["org_id"], unique=False)
    op.create_index("ix_indicators_status_id", "indicators", ["status", "id"], unique=False)
    op.create_index(op.f("ix_indicators_submitter_id"), "indicators", ["submitter_id"], unique=False)
    op.create_index("ix_indicators_tlp_rank_id", "indicators", ["tlp_rank", "id"], unique=False)
    op.create_index("ix_indicators_valid_until_status", "indicators", ["valid_until", "status"], unique=False)

    op.create_table(
        "invites",
        sa.Column("id", ID, nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=False),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["members.id"], name=op.f("fk_invites_created_by_members")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_invites_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_invites_code_sha256")),
    )
    op.create_index(op.f("ix_invites_org_id"), "invites", ["org_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("member_id", ID, nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("indicator_id", ID, nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"], name=op.f("fk_audit_log_indicator_id_indicators")
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_audit_log_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_indicator_id"), "audit_log", ["indicator_id"], unique=False)
    op.create_index(op.f("ix_audit_log_member_id"), "audit_log", ["member_id"], unique=False)

    op.create_table(
        "indicator_tags",
        sa.Column("indicator_id", ID, nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_indicator_tags_indicator_id_indicators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "tag", name=op.f("pk_indicator_tags")),
    )
    op.create_index(
        "ix_indicator_tags_tag_indicator_id", "indicator_tags", ["tag", "indicator_id"], unique=False
    )

    op.create_table(
        "sightings",
        sa.Column("id", ID, nullable=False),
        sa.Column("indicator_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_sightings_indicator_id_indicators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_sightings_member_id_members")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_sightings_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings")),
    )
    op.create_index(op.f("ix_sightings_indicator_id"), "sightings", ["indicator_id"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", ID, nullable=False),
        sa.Column("indicator_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("previous_verdict", sa.String(length=20), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicators.id"],
            name=op.f("fk_votes_indicator_id_indicators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_votes_member_id_members")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_votes_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
        sa.UniqueConstraint("indicator_id", "member_id", name=op.f("uq_votes_indicator_id_member_id")),
    )
    op.create_index(op.f("ix_votes_member_id"), "votes", ["member_id"], unique=False)


def downgrade() -> None:
    for table in (
        "votes",
        "sightings",
        "indicator_tags",
        "audit_log",
        "invites",
        "indicators",
        "identities",
        "members",
        "outbox",
        "organizations",
        "channels",
    ):
        op.drop_table(table)
