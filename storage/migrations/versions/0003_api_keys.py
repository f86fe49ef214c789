"""api keys: organizations' TAXII keys (SHA-256 only); indexes for keyset paging of the feed

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations")),
        sa.ForeignKeyConstraint(["created_by"], ["members.id"], name=op.f("fk_api_keys_created_by_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_keys_key_sha256")),
    )
    op.create_index(op.f("ix_api_keys_org_id"), "api_keys", ["org_id"], unique=False)
    # TAXII paging: keyset ranges on (date_added, id); the indicators' index covers the visibility columns.
    op.create_index("ix_indicators_feed", "indicators", ["status", "modified_at", "id", "tlp_rank", "org_id"],
                    unique=False)
    op.create_index("ix_votes_feed", "votes", ["updated_at", "id", "indicator_id"], unique=False)
    op.create_index("ix_sightings_feed", "sightings", ["seen_at", "id", "indicator_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sightings_feed", table_name="sightings")
    op.drop_index("ix_votes_feed", table_name="votes")
    op.drop_index("ix_indicators_feed", table_name="indicators")
    op.drop_index(op.f("ix_api_keys_org_id"), table_name="api_keys")
    op.drop_table("api_keys")
