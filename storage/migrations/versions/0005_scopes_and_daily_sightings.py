"""scopes and daily sightings: an indicator is unique per (type, value, visibility scope); one sighting per
(indicator, member, UTC day)

* ``indicators.scope``: "shared" for CLEAR/GREEN/AMBER, "org:<org_id>" for AMBER+STRICT, "member:<submitter_id>"
  for RED (backfilled from each row). The unique key moves from (type, value) to (type, value, scope), so a
  value held at RED by one member and submitted by another is two items and a submission never meets a row its
  submitter may not see.
* ``sightings.seen_day`` (the UTC date of ``seen_at``) and ``revision`` (times that day's row was replaced): a
  repeat the same day replaces the count and note of the row (latest wins), so a replayed request cannot pile
  sightings up. Existing duplicates of one (indicator, member, day) keep their latest row.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# TLP ranks (bot.tlp): CLEAR 0, GREEN 1, AMBER 2, AMBER+STRICT 3, RED 4.
_SCOPE_SQL = {
    "postgresql": ("UPDATE indicators SET scope = CASE WHEN tlp_rank <= 2 THEN 'shared' "
                   "WHEN tlp_rank = 3 THEN 'org:' || org_id::text "
                   "ELSE 'member:' || submitter_id::text END"),
    "sqlite": ("UPDATE indicators SET scope = CASE WHEN tlp_rank <= 2 THEN 'shared' "
               "WHEN tlp_rank = 3 THEN 'org:' || CAST(org_id AS TEXT) "
               "ELSE 'member:' || CAST(submitter_id AS TEXT) END"),
}
_DAY_SQL = {
    "postgresql": "UPDATE sightings SET seen_day = CAST(seen_at AT TIME ZONE 'UTC' AS DATE)",
    "sqlite": "UPDATE sightings SET seen_day = date(seen_at)",  # SQLite keeps naive UTC
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("indicators") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=40), nullable=True))
    op.execute(_SCOPE_SQL[dialect])
    with op.batch_alter_table("indicators") as batch:
        batch.alter_column("scope", existing_type=sa.String(length=40), nullable=False)
        batch.drop_constraint("uq_indicators_type_value", type_="unique")
        batch.create_unique_constraint(op.f("uq_indicators_type_value_scope"), ["type", "value", "scope"])

    with op.batch_alter_table("sightings") as batch:
        batch.add_column(sa.Column("seen_day", sa.Date(), nullable=True))
        batch.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.execute(_DAY_SQL[dialect])
    op.execute("DELETE FROM sightings WHERE id NOT IN "
               "(SELECT max(id) FROM sightings GROUP BY indicator_id, member_id, seen_day)")
    with op.batch_alter_table("sightings") as batch:
        batch.alter_column("seen_day", existing_type=sa.Date(), nullable=False)
        batch.create_unique_constraint(op.f("uq_sightings_indicator_id_member_id_seen_day"),
                                       ["indicator_id", "member_id", "seen_day"])


def downgrade() -> None:
    duplicates = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM (SELECT type, value FROM indicators GROUP BY type, value HAVING count(*) > 1) d"
    )).scalar_one()
    if duplicates:
        raise RuntimeError(f"cannot downgrade below 0005: {duplicates} values are held in several visibility "
                           "scopes, which the old unique (type, value) key cannot hold")
    with op.batch_alter_table("sightings") as batch:
        batch.drop_constraint("uq_sightings_indicator_id_member_id_seen_day", type_="unique")
        batch.drop_column("revision")
        batch.drop_column("seen_day")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_constraint("uq_indicators_type_value_scope", type_="unique")
        batch.create_unique_constraint(op.f("uq_indicators_type_value"), ["type", "value"])
        batch.drop_column("scope")
