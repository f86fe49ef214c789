"""pivots: every IP, CIDR and URL-on-an-IP indicator's first and last address as sortable text, every domain's,
URL's and e-mail address's host reversed by labels, both indexed, so that "inside this network", "the networks
containing this address" and "this domain and everything under it" are index range scans (issue 12).

Existing rows are backfilled in batches of 2,000 (by id, each batch one executemany), so a large store is
migrated without one huge statement or holding every row in memory.

The keys are computed by storage.pivot_keys, the very function that new rows get them from (the model's column
default): a migration that computed them its own way could disagree with what the queries look for.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000
NET_KEY = sa.String(length=33).with_variant(sa.String(length=33, collation="C"), "postgresql")
HOST_KEY = sa.String(length=300).with_variant(sa.String(length=300, collation="C"), "postgresql")
KEYED_TYPES = ("ipv4", "ipv6", "cidr", "url", "domain", "email")


def upgrade() -> None:
    with op.batch_alter_table("indicators") as batch:
        batch.add_column(sa.Column("net_first", NET_KEY, nullable=True))
        batch.add_column(sa.Column("net_last", NET_KEY, nullable=True))
        batch.add_column(sa.Column("host_rev", HOST_KEY, nullable=True))
    _backfill()
    # Covering, by type first (a pivot asks for some types: "URLs inside N" is one range, however many IPs are
    # there too): a pivot's count and order read only the index (the visibility columns are in it).
    op.create_index(op.f("ix_indicators_type_net"), "indicators",
                    ["type", "net_first", "net_last", "id", "tlp_rank", "org_id", "submitter_id"], unique=False)
    op.create_index(op.f("ix_indicators_type_host"), "indicators",
                    ["type", "host_rev", "id", "tlp_rank", "org_id", "submitter_id"], unique=False)


def _backfill() -> None:
    from storage.pivot_keys import pivot_keys

    bind = op.get_bind()
    indicators = sa.table("indicators", sa.column("id", sa.BigInteger()), sa.column("type", sa.String()),
                          sa.column("value", sa.String()), sa.column("net_first", sa.String()),
                          sa.column("net_last", sa.String()), sa.column("host_rev", sa.String()))
    update = (sa.update(indicators).where(indicators.c.id == sa.bindparam("row_id"))
              .values(net_first=sa.bindparam("first"), net_last=sa.bindparam("last"), host_rev=sa.bindparam("rev")))
    after = 0
    while True:
        rows = bind.execute(
            sa.select(indicators.c.id, indicators.c.type, indicators.c.value)
            .where(indicators.c.id > after, indicators.c.type.in_(KEYED_TYPES))
            .order_by(indicators.c.id).limit(BATCH)).all()
        if not rows:
            return
        params = []
        for row_id, type_, value in rows:
            first, last, rev = pivot_keys(type_, value)
            if first is not None or rev is not None:
                params.append({"row_id": row_id, "first": first, "last": last, "rev": rev})
        if params:
            bind.execute(update, params)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_index(op.f("ix_indicators_type_host"), table_name="indicators")
    op.drop_index(op.f("ix_indicators_type_net"), table_name="indicators")
    with op.batch_alter_table("indicators") as batch:
        batch.drop_column("host_rev")
        batch.drop_column("net_last")
        batch.drop_column("net_first")
