"""Channel settings: ceiling, purpose, passive mode and ephemeral lookups, per platform channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    select,
)

from bot.domain import (
    Channel,
    ChannelPurpose,
    Platform,
)
from bot.tlp import TLP
from storage.models import (
    ChannelRow,
)
from storage.repositories.base import _Repository


def _channel(row: Any) -> Channel:
    return Channel(platform=Platform(row.platform), workspace_id=row.workspace_id, channel_id=row.channel_id,
                   ceiling=TLP(row.ceiling), purpose=ChannelPurpose(row.purpose), passive=row.passive,
                   ephemeral_lookups=row.ephemeral_lookups)


class SqlChannelRepository(_Repository):
    async def get(self, platform: Platform, workspace_id: str, channel_id: str) -> Channel | None:
        row = (await self._execute(select(ChannelRow.__table__).where(
            ChannelRow.platform == platform.value, ChannelRow.workspace_id == workspace_id,
            ChannelRow.channel_id == channel_id,
        ))).first()
        return _channel(row) if row else None

    async def upsert(self, channel: Channel) -> None:
        table = ChannelRow.__table__
        stmt = self._upsert_insert(table).values(
            platform=channel.platform.value, workspace_id=channel.workspace_id, channel_id=channel.channel_id,
            ceiling=channel.ceiling.value, purpose=channel.purpose.value, passive=channel.passive,
            ephemeral_lookups=channel.ephemeral_lookups,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.platform, table.c.workspace_id, table.c.channel_id],
            set_={c: stmt.excluded[c] for c in ("ceiling", "purpose", "passive", "ephemeral_lookups")},
        )
        await self._execute(stmt)

    async def list(self, purpose: ChannelPurpose | None = None) -> Sequence[Channel]:
        stmt = select(ChannelRow.__table__).order_by(ChannelRow.id)
        if purpose is not None:
            stmt = stmt.where(ChannelRow.purpose == purpose.value)
        return [_channel(row) for row in await self._execute(stmt)]


