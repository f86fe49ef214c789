"""context (issue 13): what an indicator is (ThreatFox's threat type, a malware family, reference URLs), when it
was decided, the comments on it, and cases (a campaign, an incident, a takedown) that group indicators. A case's
name is unique within its visibility scope (as an indicator's value is: shared, one organization's AMBER+STRICT,
one member's RED), so that nobody learns of a case they may not see by finding its name taken.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("indicators", sa.Column("threat_type", sa.String(length=40), nullable=True))
    op.add_column("indicators", sa.Column("malware", sa.String(length=64), nullable=True))
    op.add_column("indicators", sa.Column("refs", sa.Text(), server_default="", nullable=False))
    op.add_column("indicators", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_indicators_malware"), "indicators", ["malware"], unique=False)
    op.create_table(
        "comments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("indicator_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"], name=op.f("fk_comments_indicator_id_indicators"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_comments_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(op.f("ix_comments_indicator_id"), "comments", ["indicator_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=100), nullable=False),
        sa.Column("tlp", sa.String(length=20), nullable=False),
        sa.Column("tlp_rank", sa.SmallInteger(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("org_id", ID, nullable=False),
        sa.Column("member_id", ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_cases_org_id_organizations")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_cases_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("name_key", "scope", name=op.f("uq_cases_name_key_scope")),
    )
    op.create_table(
        "case_indicators",
        sa.Column("case_id", ID, autoincrement=False, nullable=False),
        sa.Column("indicator_id", ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_case_indicators_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicators.id"],
                                name=op.f("fk_case_indicators_indicator_id_indicators"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id", "indicator_id", name=op.f("pk_case_indicators")),
    )
    op.create_index(op.f("ix_case_indicators_indicator_id"), "case_indicators", ["indicator_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_case_indicators_indicator_id"), table_name="case_indicators")
    op.drop_table("case_indicators")
    op.drop_table("cases")
    op.drop_index(op.f("ix_comments_indicator_id"), table_name="comments")
    op.drop_table("comments")
    op.drop_index(op.f("ix_indicators_malware"), table_name="indicators")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("decided_at")
        batch.drop_column("refs")
        batch.drop_column("malware")
        batch.drop_column("threat_type")
