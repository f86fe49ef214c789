"""One `coalition-bot run` process, one Discord bot in two guilds (issue 11), against the fake Discord, over one
SQLite store: submitted in one guild, approved in the other, the card reaches both feeds exactly once; the bot
removed from one guild (GUILD_DELETE) makes no call there any more while the other keeps receiving."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.dispatcher import utc_now
from bot.domain import Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.migrate import upgrade
from storage.uow import create_store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.e2e.processes import stop_gracefully

ONE, ONE_GENERAL, ONE_FEED = 730000000000000001, 730000000000000010, 730000000000000011
TWO, TWO_GENERAL, TWO_FEED = 730000000000000002, 730000000000000020, 730000000000000021
USERS = {"alice": 830000000000000001, "mod": 830000000000000003}
EXE = str(Path(sys.executable).with_name("coalition-bot"))


async def _prepare(url: str) -> None:
    await upgrade(url)
    store = create_store(url)
    try:
        async with store.unit_of_work() as uow:
            bank = await uow.organizations.add("Northbank", "finance", 70)
            cert = await uow.organizations.add("National CERT", "government", 90)
            for name, org, role in (("alice", bank, Role.MEMBER), ("mod", cert, Role.MODERATOR)):
                member = await uow.members.add(org.id, name, role)
                await uow.members.link_identity(member.id, Identity(Platform.DISCORD, "discord", str(USERS[name])))
            # ONE's feed as registered before guilds were told apart; TWO's under its guild
            await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(ONE_FEED), TLP.AMBER,
                                              ChannelPurpose.FEED))
            await uow.channels.upsert(Channel(Platform.DISCORD, str(TWO), str(TWO_FEED), TLP.AMBER,
                                              ChannelPurpose.FEED))
            await uow.commit()
    finally:
        await store.close()


@pytest.fixture
async def bot(tmp_path):
    url = f"sqlite:///{tmp_path / 'coalition.db'}"
    await _prepare(url)
    discord = FakeDiscord()
    await discord.start()
    people = [discord.user(uid, name) for name, uid in USERS.items()]
    discord.add_guild(ONE, channels=[ONE_GENERAL, ONE_FEED], members=people, name="One")
    discord.add_guild(TWO, channels=[TWO_GENERAL, TWO_FEED], members=people, name="Two")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env.update({
        "COALITION_DATABASE_URL": url, "COALITION_WARNINGLISTS_ENABLED": "false", "COALITION_OPS_ENABLED": "false",
        "COALITION_DELIVERY_POLL_SECONDS": "0.2", "COALITION_LOGGING_LEVEL": "WARNING",
        "COALITION_DISCORD_ENABLED": "true", "COALITION_DISCORD_TOKEN": "fake",
        "COALITION_DISCORD_APPLICATION_ID": str(APPLICATION_ID), "COALITION_DISCORD_API_URL": discord.api_url,
        "COALITION_DISCORD_GATEWAY_URL": discord.gateway_url,
    })
    process = await asyncio.create_subprocess_exec(EXE, "run", env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    try:
        await discord.wait_ready(timeout=60)
        yield discord, url
        assert process.returncode is None, "the bot process died during the test"
    finally:
        code = await stop_gracefully(process)
        await discord.stop()
    assert code == 0, (await process.stderr.read()).decode()[-3000:]  # a graceful stop


async def _command(discord: FakeDiscord, user: str, sub: str, options: dict, guild: int, channel: int) -> None:
    mark = len(discord.calls)
    payload = discord.slash("ioc", sub, options, user=discord.user(USERS[user], user), guild_id=guild,
                            channel_id=channel)
    await discord.dispatch("INTERACTION_CREATE", payload)
    await discord.wait_for_call("POST", rf"/interactions/{payload['id']}/[^/]+/callback", after=mark, timeout=10)


def _cards(discord: FakeDiscord, channel: int, indicator_id: int) -> int:
    return sum(1 for c in discord.calls_to("POST", rf"/channels/{channel}/messages")
               if (c.json or {}).get("embeds") and c.json["embeds"][0]["title"].startswith(f"#{indicator_id} "))


async def _settled(url: str) -> None:
    store = create_store(url)
    try:
        for _ in range(300):
            async with store.unit_of_work(read_only=True) as uow:
                pending = (await uow.outbox.pending_stats(utc_now())).get("discord", (0, 0))[0]
                parked = await uow.outbox.parked(10)
            assert not parked, [p.last_error for p in parked]
            if not pending:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("deliveries did not settle")
    finally:
        await store.close()


async def test_one_process_two_guilds_cards_in_both_and_leaving_one_stops_only_it(bot) -> None:
    discord, url = bot
    await _command(discord, "alice", "submit", {"values": "198.51.100.61", "tlp": "green"}, ONE, ONE_GENERAL)
    await _command(discord, "mod", "approve", {"indicators": "#1"}, TWO, TWO_GENERAL)
    await discord.wait_for_call("POST", rf"/channels/{ONE_FEED}/messages", timeout=15)
    await discord.wait_for_call("POST", rf"/channels/{TWO_FEED}/messages", timeout=15)
    await _settled(url)
    assert (_cards(discord, ONE_FEED, 1), _cards(discord, TWO_FEED, 1)) == (1, 1)

    await discord.remove_guild(TWO)
    store = create_store(url)
    try:
        for _ in range(100):
            async with store.unit_of_work(read_only=True) as uow:
                left = {c.workspace_id for c in await uow.channels.list()}
            if left == {str(ONE)}:  # ONE's feed adopted at connect, TWO's unregistered
                break
            await asyncio.sleep(0.1)
        assert left == {str(ONE)}
    finally:
        await store.close()
    mark = len(discord.calls)
    await _command(discord, "alice", "vote", {"indicator": "#1", "verdict": "confirm"}, ONE, ONE_GENERAL)
    await _command(discord, "alice", "submit", {"values": "198.51.100.62", "tlp": "green"}, ONE, ONE_GENERAL)
    await _command(discord, "mod", "approve", {"indicators": "#2"}, ONE, ONE_GENERAL)
    await discord.wait_for_call("PATCH", rf"/channels/{ONE_FEED}/messages/\d+", after=mark, timeout=15)
    await discord.wait_for_call("POST", rf"/channels/{ONE_FEED}/messages", after=mark, timeout=15)
    await _settled(url)
    assert (_cards(discord, ONE_FEED, 2), _cards(discord, TWO_FEED, 2)) == (1, 0)
    assert discord.refused == []  # no post, no edit was even tried in the guild the bot left
