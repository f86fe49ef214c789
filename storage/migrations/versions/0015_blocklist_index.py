"""blocklists at scale (issue 14): one index that covers a list's read and its validators, so that neither reads
a table row: approved rows in id order with the visibility, expiry and change columns and the values. A list of
1M values is one index range (SQLite, PostgreSQL index-only scan), its version one pass over the same range.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_indicators_blocklist", "indicators",
                    ["status", "id", "tlp_rank", "org_id", "valid_until", "modified_at", "type", "value"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_indicators_blocklist", table_name="indicators")
