"""Channel settings: ceiling, purpose, passive mode, ephemeral lookups and whether the channel is shared with other
organizations' workspaces (Slack Connect), per platform channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    delete,
    or_,
    select,
    update,
)

from bot.domain import (
    Channel,
    ChannelPurpose,
    Platform,
)
from bot.tlp import TLP
from storage.models import (
    ChannelRow,
    PostedCardRow,
    PostedCaseCardRow,
)
from storage.repositories.base import _chunks, _Repository


def _channel(row: Any) -> Channel:
    return Channel(platform=Platform(row.platform), workspace_id=row.workspace_id, channel_id=row.channel_id,
                   ceiling=TLP(row.ceiling), purpose=ChannelPurpose(row.purpose), passive=row.passive,
                   ephemeral_lookups=row.ephemeral_lookups, shared_externally=row.shared_externally)


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
            ephemeral_lookups=channel.ephemeral_lookups, shared_externally=channel.shared_externally,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.platform, table.c.workspace_id, table.c.channel_id],
            set_={c: stmt.excluded[c] for c in ("ceiling", "purpose", "passive", "ephemeral_lookups",
                                                "shared_externally")},
        )
        await self._execute(stmt)

    async def list(self, purpose: ChannelPurpose | None = None) -> Sequence[Channel]:
        stmt = select(ChannelRow.__table__).order_by(ChannelRow.id)
        if purpose is not None:
            stmt = stmt.where(ChannelRow.purpose == purpose.value)
        return [_channel(row) for row in await self._execute(stmt)]

    async def remove_workspace(self, platform: Platform, workspace_id: str) -> Sequence[Channel]:
        """Unregister every channel of one workspace (the bot was uninstalled or left the server) and forget the
        cards posted there (those messages can no longer be edited): the planner then neither posts nor edits
        there. Returns the channels removed."""
        removed = [_channel(row) for row in await self._execute(
            delete(ChannelRow.__table__)
            .where(ChannelRow.platform == platform.value, ChannelRow.workspace_id == workspace_id)
            .returning(*ChannelRow.__table__.c))]
        # the cards of the workspace, and those recorded under another id for its channels (before they were known
        # per workspace), unless the channel is still registered in another workspace (a channel both share)
        ids = [c.channel_id for c in removed]
        for chunk in _chunks(ids):
            shared = {row.channel_id for row in await self._execute(select(ChannelRow.channel_id).where(
                ChannelRow.platform == platform.value, ChannelRow.channel_id.in_(chunk)))}
            ids = [i for i in ids if i not in shared]
        # indicators' cards and cases' live cards alike (a case card left behind would be edited again after a
        # reinstall, in a channel nobody registered again)
        for table in (PostedCardRow, PostedCaseCardRow):
            where = [table.workspace_id == workspace_id]
            for chunk in _chunks(ids):
                where.append(table.channel_id.in_(chunk))
            await self._execute(delete(table).where(table.platform == platform.value, or_(*where)))
        return sorted(removed, key=lambda c: c.channel_id)

    async def adopt(self, platform: Platform, from_workspace: str, to_workspace: str,
                    channel_ids: Sequence[str]) -> int:
        """Move these channels' settings (and the record of cards posted in them) from `from_workspace` to
        `to_workspace`: rows written before channels were known per workspace (Discord before guilds: every
        channel was in workspace "discord"). A setting already kept under `to_workspace` wins. Returns how many
        channel rows moved."""
        moved = 0
        table = ChannelRow.__table__
        for chunk in _chunks(list(dict.fromkeys(channel_ids))):
            kept = select(table.c.channel_id).where(table.c.platform == platform.value,
                                                    table.c.workspace_id == to_workspace,
                                                    table.c.channel_id.in_(chunk))
            await self._execute(delete(table).where(
                table.c.platform == platform.value, table.c.workspace_id == from_workspace,
                table.c.channel_id.in_(kept.scalar_subquery())))
            result = await self._execute(update(table).where(
                table.c.platform == platform.value, table.c.workspace_id == from_workspace,
                table.c.channel_id.in_(chunk)).values(workspace_id=to_workspace))
            moved += result.rowcount or 0
            await self._execute(update(PostedCardRow).where(
                PostedCardRow.platform == platform.value, PostedCardRow.workspace_id == from_workspace,
                PostedCardRow.channel_id.in_(chunk)).values(workspace_id=to_workspace))
        return moved
