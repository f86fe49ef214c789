"""A vote's and a sighting's date in the TAXII feed, stored as a comment's is (0019): the later of its own time
(a vote's last change, a sighting's time) and its indicator's last change (`modified_at`). Keyed on their own time,
a vote or a sighting made while its item was pending kept that earlier date: a client reading only what was added
after its last read never got it once the item was approved. The repositories move it whenever its indicator's
`modified_at` moves (storage/repositories/indicators.py); the feed pages on it, by the same indexes' new keys.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (("votes", "updated_at", "ix_votes_feed"), ("sightings", "seen_at", "ix_sightings_feed"))


def upgrade() -> None:
    indicators = sa.table("indicators", sa.column("id"), sa.column("modified_at"))
    for table, own, index in _TABLES:
        op.add_column(table, sa.Column("added_at", sa.DateTime(timezone=True), nullable=True))
        rows = sa.table(table, sa.column("indicator_id"), sa.column(own), sa.column("added_at"))
        changed = sa.select(indicators.c.modified_at).where(indicators.c.id == rows.c.indicator_id).scalar_subquery()
        op.execute(rows.update().values(added_at=sa.case((rows.c[own] > changed, rows.c[own]), else_=changed)))
        op.drop_index(index, table_name=table)
        with op.batch_alter_table(table) as batch:  # SQLite: the table is copied, NOT NULL with it
            batch.alter_column("added_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        op.create_index(index, table, ["added_at", "id", "indicator_id"], unique=False)


def downgrade() -> None:
    for table, own, index in _TABLES:
        op.drop_index(index, table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("added_at")
        op.create_index(index, table, [own, "id", "indicator_id"], unique=False)
