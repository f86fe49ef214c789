"""case removals (issue 13): the latest removal of each indicator from each case, so that the TAXII feed's grouping
comes again (a later date_added and `modified`) with fewer object_refs for a viewer who saw the removed indicator in
it; the membership row (case_indicators) is gone and kept no time. One row a (case, indicator) pair: a second
removal after a re-add moves its time. The primary key starts with case_id: the feed reads the removals of the
cases it serves.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_removals",
        sa.Column("case_id", ID, autoincrement=False, nullable=False),
        sa.Column("indicator_id", ID, autoincrement=False, nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_removals_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"],
                                name=op.f("fk_case_removals_indicator_id_indicators"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "indicator_id", name=op.f("pk_case_removals")),
    )


def downgrade() -> None:
    op.drop_table("case_removals")
