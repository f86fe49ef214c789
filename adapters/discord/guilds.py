"""One bot in many servers: what the adapter does when it joins a guild, leaves one, or connects.

A channel's settings (ceiling, purpose, passive mode) are kept under its guild (`Channel.workspace_id` is the
guild id); identities are not (user ids are global: see `handler.WORKSPACE`).

- Leaving a guild (`GUILD_DELETE` without `unavailable`: the bot was kicked or the guild deleted) is handled like
  a Slack uninstall: `bot.services.workspace_removed` unregisters the guild's channels with one audit line, so no
  delivery is planned there any more (no post, no edit of an earlier card); rows already planned for it fail
  once and are planned again without it. Re-adding the bot starts afresh: an admin sets the channels again.
- Connecting: channels registered before channels were kept per guild (workspace "discord") are moved under the
  guild that holds them, and guilds with registered channels that the bot is no longer in (removed while no
  process was connected: Discord then sends no `GUILD_DELETE`, the guild is just absent from `READY`) are
  removed as above.
- An outage (`GUILD_DELETE` with `unavailable`) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

import discord

from bot import services
from bot.domain import Platform
from bot.ports import UnitOfWorkFactory

from .handler import WORKSPACE

log = logging.getLogger(__name__)


def channel_ids(guild: discord.Guild) -> list[str]:
    """Every channel and thread of the guild that discord.py knows of."""
    return [str(c.id) for c in (*guild.channels, *guild.threads)]


class Guilds:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Callable[[], datetime]) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    async def adopt(self, guilds: Iterable[discord.Guild]) -> int:
        """Channels registered under "discord" move under the guild that holds them."""
        moved = 0
        async with self.uow_factory() as uow:
            for guild in guilds:
                if ids := channel_ids(guild):
                    moved += await uow.channels.adopt(Platform.DISCORD, WORKSPACE, str(guild.id), ids)
            await uow.commit()
        if moved:
            log.info("discord: %d channel settings now kept per guild", moved)
        return moved

    async def removed(self, guild: discord.Guild) -> None:
        """The bot left this guild: unregister its channels (those kept under "discord" too)."""
        async with self.uow_factory() as uow:
            if ids := channel_ids(guild):
                await uow.channels.adopt(Platform.DISCORD, WORKSPACE, str(guild.id), ids)
            gone = await services.workspace_removed(uow, Platform.DISCORD, str(guild.id), self.clock())
            await uow.commit()
        log.info("discord: removed from guild %s; %d of its channels unregistered", guild.id, len(gone))

    async def reconcile(self, guilds: Iterable[discord.Guild]) -> list[str]:
        """Unregister the channels of guilds the bot is no longer in; returns those guild ids."""
        present = {str(g.id) for g in guilds}
        async with self.uow_factory(read_only=True) as uow:
            registered = {c.workspace_id for c in await uow.channels.list() if c.platform is Platform.DISCORD}
        absent = sorted(registered - present - {WORKSPACE})
        for guild_id in absent:
            async with self.uow_factory() as uow:
                gone = await services.workspace_removed(uow, Platform.DISCORD, guild_id, self.clock())
                await uow.commit()
            log.info("discord: no longer in guild %s; %d of its channels unregistered", guild_id, len(gone))
        return absent
