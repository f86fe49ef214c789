"""Fixtures: `fake` (a started FakeDiscord), `world` (the adapter's service running against it, see world.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from adapters.discord.service import DiscordService
from adapters.runtime import Runtime
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from storage.uow import Store
from tests.adapters.discord.fake_discord import FakeDiscord
from tests.adapters.discord.world import FEED, GENERAL, GUILD, MODERATION, USERS, World, discord_settings, seed


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    f = FakeDiscord()
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
def settings_extra() -> dict[str, Any]:
    return {}


@pytest.fixture
async def world(fake: FakeDiscord, sqlite_store: Store, settings_extra: dict[str, Any]) -> AsyncIterator[World]:
    await seed(sqlite_store)
    users = {name: fake.user(uid, name) for name, uid in USERS.items()}
    fake.add_guild(GUILD, channels=[GENERAL, FEED, MODERATION], members=list(users.values()))
    settings = discord_settings(fake, **settings_extra)
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=settings.policy.to_policy(),
                            delivery_platforms=(Platform.DISCORD,))
    runtime = Runtime(settings, sqlite_store, dispatcher)
    service = DiscordService(runtime, guild_ready_timeout=0.05)
    await service.start()
    await fake.wait_ready()
    w = World(fake, sqlite_store, runtime, service, users)
    try:
        yield w
        w.assert_running()
    finally:
        await w.service.stop()
        await asyncio.sleep(0)
