"""One bot in two guilds (issue 11): the real discord.py client against the fake Discord, a real SQLite store.

Guild ONE holds GENERAL, FEED and MODERATION (registered before channels were kept per guild: workspace
"discord"), guild TWO holds FEED_TWO (registered by an admin with `/ioc admin` in that guild). The same people
are in both. A card approved in one guild reaches the feeds of both, once each; a person is one member in both;
the bot removed from TWO (GUILD_DELETE) stops everything there (the fake refuses, and records, any call about
TWO's channels) while ONE keeps working; a guild left while no process was connected is found at the next start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from adapters.discord.service import DiscordService
from adapters.runtime import Runtime
from bot.dispatcher import Dispatcher
from bot.domain import Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.models import AuditRow
from storage.uow import Store
from tests.adapters.discord.fake_discord import FakeDiscord
from tests.adapters.discord.world import FEED, GENERAL, GUILD, MODERATION, USERS, World, discord_settings, seed

ONE = GUILD
TWO = 700000000000000002
FEED_TWO = 700000000000000021
GENERAL_TWO = 700000000000000022
ADA = 800000000000000004  # an admin of Northbank


async def start(world: World) -> None:
    world.service = DiscordService(world.runtime, guild_ready_timeout=0.05)
    count = len(world.fake.identifies) + 1
    await world.service.start()
    await world.fake.wait_ready(count=count)


@pytest.fixture
async def two(fake: FakeDiscord, sqlite_store: Store) -> AsyncIterator[World]:
    await seed(sqlite_store)
    async with sqlite_store.unit_of_work() as uow:
        org = await uow.organizations.by_name("Northbank")
        assert org is not None
        ada = await uow.members.add(org.id, "ada", Role.ADMIN)
        await uow.members.link_identity(ada.id, Identity(Platform.DISCORD, "discord", str(ADA)))
        await uow.commit()
    users = {name: fake.user(uid, name) for name, uid in {**USERS, "ada": ADA}.items()}
    fake.add_guild(ONE, channels=[GENERAL, FEED, MODERATION], members=list(users.values()), name="One")
    fake.add_guild(TWO, channels=[FEED_TWO, GENERAL_TWO], members=list(users.values()), name="Two")
    settings = discord_settings(fake)
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=settings.policy.to_policy(),
                            delivery_platforms=(Platform.DISCORD,))
    w = World(fake, sqlite_store, Runtime(settings, sqlite_store, dispatcher), None, users)  # type: ignore[arg-type]
    await start(w)
    try:
        yield w
        w.assert_running()
    finally:
        await w.service.stop()
        await asyncio.sleep(0)


async def slash(w: World, sub: str, options: dict[str, Any], *, user: str, guild: int | None, channel: int) -> dict:
    """`/ioc sub ...` in a guild's channel; returns the interaction response's body."""
    mark = len(w.fake.calls)
    payload = w.fake.slash("ioc", sub, options, user=w.users[user], guild_id=guild, channel_id=channel)
    await w.fake.dispatch("INTERACTION_CREATE", payload)
    call = await w.callback(payload, mark)
    if call.json["type"] == 5:  # deferred: the answer edits the original response
        call = await w.fake.wait_for_call("PATCH", rf"/webhooks/\d+/{payload['token']}/messages/@original",
                                          after=mark)
        return call.json
    return call.json["data"]


def text_of(body: dict) -> str:
    return str(body.get("content") or "") + " ".join(str(e) for e in body.get("embeds") or [])


def cards_in(w: World, channel: int, indicator_id: int) -> list[dict]:
    return [c.json for c in w.fake.calls_to("POST", rf"/channels/{channel}/messages")
            if c.json and c.json.get("embeds") and c.json["embeds"][0]["title"].startswith(f"#{indicator_id} ")]


async def settled(w: World) -> None:
    """Until the outbox has nothing left to deliver (nothing pending; parked rows would fail the caller)."""
    for _ in range(200):
        async with w.store.unit_of_work(read_only=True) as uow:
            pending = (await uow.outbox.pending_stats(w.runtime.dispatcher.clock())).get("discord", (0, 0))[0]
            parked = await uow.outbox.parked(10)
        assert not parked, [p.last_error for p in parked]
        if not pending:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("deliveries did not settle")


async def channels(w: World) -> list[tuple[str, str, str]]:
    async with w.store.unit_of_work(read_only=True) as uow:
        return sorted((c.workspace_id, c.channel_id, c.purpose.value) for c in await uow.channels.list())


async def test_two_guilds_share_cards_and_people_and_leaving_one_stops_only_it(two: World) -> None:
    w = two
    # the channels registered before guilds moved under ONE at connect; an admin registers TWO's feed from TWO
    assert await channels(w) == [(str(ONE), str(GENERAL), "general"), (str(ONE), str(FEED), "feed"),
                                 (str(ONE), str(MODERATION), "moderation")]
    done = await slash(w, "admin", {"command": "channel set purpose:feed ceiling:amber"}, user="ada", guild=TWO,
                       channel=FEED_TWO)
    assert "feed" in text_of(done).lower()
    assert (str(TWO), str(FEED_TWO), "feed") in await channels(w)

    # one person, one member, whichever guild they speak in
    me_one = await slash(w, "whoami", {}, user="bob", guild=ONE, channel=GENERAL)
    me_two = await slash(w, "whoami", {}, user="bob", guild=TWO, channel=GENERAL_TWO)
    me_dm = await slash(w, "whoami", {}, user="bob", guild=None, channel=990000000000000123)
    assert text_of(me_one) == text_of(me_two) == text_of(me_dm) and "You are bob" in text_of(me_one)

    # submitted in ONE, approved by the moderator in TWO: one card in each guild's feed
    await slash(w, "submit", {"values": "198.51.100.23", "tlp": "green"}, user="alice", guild=ONE, channel=GENERAL)
    await slash(w, "approve", {"indicators": "#1"}, user="mod", guild=TWO, channel=GENERAL_TWO)
    await w.fake.wait_for_call("POST", rf"/channels/{FEED}/messages")
    await w.fake.wait_for_call("POST", rf"/channels/{FEED_TWO}/messages")
    await settled(w)
    assert len(cards_in(w, FEED, 1)) == 1 and len(cards_in(w, FEED_TWO, 1)) == 1

    # bob votes in both guilds: one member, one vote (the second replaces the first)
    await slash(w, "vote", {"indicator": "#1", "verdict": "confirm"}, user="bob", guild=ONE, channel=GENERAL)
    await slash(w, "vote", {"indicator": "#1", "verdict": "fp"}, user="bob", guild=TWO, channel=GENERAL_TWO)
    async with w.store.unit_of_work(read_only=True) as uow:
        tally = await uow.votes.tally(1)
    assert (tally.confirm, tally.false_positive) == (0, 1)
    await settled(w)

    # the bot is removed from TWO: its channels are unregistered (one audit line), ONE keeps working
    await w.fake.remove_guild(TWO)
    for _ in range(100):
        if all(ws != str(TWO) for ws, _, _ in await channels(w)):
            break
        await asyncio.sleep(0.05)
    assert await channels(w) == [(str(ONE), str(GENERAL), "general"), (str(ONE), str(FEED), "feed"),
                                 (str(ONE), str(MODERATION), "moderation")]
    async with w.store.unit_of_work(read_only=True) as uow:
        audit = (await uow.session.execute(select(AuditRow.action, AuditRow.detail)
                                           .where(AuditRow.action == "workspace.removed"))).all()
    assert [tuple(a) for a in audit] == [("workspace.removed", {"workspace": str(TWO), "channels": [str(FEED_TWO)]})]
    mark = len(w.fake.calls)
    await slash(w, "vote", {"indicator": "#1", "verdict": "confirm"}, user="alice", guild=ONE, channel=GENERAL)
    await slash(w, "submit", {"values": "198.51.100.24", "tlp": "green"}, user="alice", guild=ONE, channel=GENERAL)
    await slash(w, "approve", {"indicators": "#2"}, user="mod", guild=ONE, channel=GENERAL)
    await w.fake.wait_for_call("POST", rf"/channels/{FEED}/messages", after=mark)  # #2 in ONE's feed
    await w.fake.wait_for_call("PATCH", rf"/channels/{FEED}/messages/\d+", after=mark)  # #1's card edited in ONE
    await settled(w)
    assert len(cards_in(w, FEED, 2)) == 1 and cards_in(w, FEED_TWO, 2) == []
    assert w.fake.refused == []  # nothing was even tried in the guild the bot left (no post, no edit)


async def test_a_guild_left_while_no_process_was_connected_is_unregistered_at_the_next_start(two: World) -> None:
    w = two
    async with w.store.unit_of_work() as uow:
        await uow.channels.upsert(Channel(Platform.DISCORD, str(TWO), str(FEED_TWO), TLP.AMBER, ChannelPurpose.FEED))
        await uow.commit()
    await w.service.stop()
    await w.fake.remove_guild(TWO, connected=False)  # no GUILD_DELETE: TWO is just absent from the next READY
    await start(w)
    assert all(ws == str(ONE) for ws, _, _ in await channels(w))
    async with w.store.unit_of_work(read_only=True) as uow:
        actions = (await uow.session.execute(select(AuditRow.detail).where(AuditRow.action == "workspace.removed")
                                             )).scalars().all()
    assert actions == [{"workspace": str(TWO), "channels": [str(FEED_TWO)]}]
