"""workspace lanes: an outbox row may be meant for one workspace of its platform (`workspace_id`; NULL = every
workspace the platform serves), so that a Slack workspace's deliveries are claimed only by a process that holds
that workspace's token; and a channel remembers whether it is shared with other organizations' workspaces (Slack
Connect: `shared_externally`), whose ceiling stays CLEAR until an admin sets one.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = "delivered_at IS NULL AND parked_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("workspace_id", sa.String(length=100), nullable=True))
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["platform", "workspace_id", "available_at", "id"],
                    sqlite_where=sa.text(_PENDING), postgresql_where=sa.text(_PENDING))
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("shared_externally", sa.Boolean(), server_default=sa.text("false"),
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("shared_externally")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("workspace_id")
    op.create_index("ix_outbox_pending", "outbox", ["platform", "available_at", "id"],
                    sqlite_where=sa.text(_PENDING), postgresql_where=sa.text(_PENDING))
