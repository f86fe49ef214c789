"""A comment's date in the TAXII feed, stored (issue 13's notes at scale): a note is added when both it and its
indicator are there, the later of the comment's time and its indicator's last change (`modified_at`). Computed in
the feed's read, that date was computed for every comment on every page (108 ms a page at 1M stored with 20,000
comments, bench/stix.py); stored, with an index in (added_at, id) order, a page reads its notes by keyset. The
repositories move it whenever its indicator's `modified_at` moves (storage/repositories/indicators.py).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("comments", sa.Column("added_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE comments SET added_at = CASE"
               " WHEN created_at > (SELECT modified_at FROM indicators WHERE indicators.id = comments.indicator_id)"
               " THEN created_at"
               " ELSE (SELECT modified_at FROM indicators WHERE indicators.id = comments.indicator_id) END")
    with op.batch_alter_table("comments") as batch:  # SQLite: the table is copied, NOT NULL with it
        batch.alter_column("added_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_index("ix_comments_feed", "comments", ["added_at", "id", "indicator_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_comments_feed", table_name="comments")
    with op.batch_alter_table("comments") as batch:
        batch.drop_column("added_at")
