"""The Discord sink finds a post of an earlier, killed attempt by its delivery key however many messages came
since (message history `after` the attempt's start, oldest first, every page), in a channel and in a DM."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import discord

from adapters.discord.delivery import DiscordSink
from bot.domain import Channel, ChannelPurpose, Identity, Platform
from bot.tlp import TLP
from tests.adapters.discord.world import FEED, USERS, World


async def test_an_earlier_post_is_found_behind_hundreds_of_newer_messages(world: World) -> None:
    sink = DiscordSink(world.client)
    feed = Channel(Platform.DISCORD, "discord", str(FEED), TLP.GREEN, ChannelPurpose.FEED)
    world.fake.chatter(FEED, 120)  # before the attempt started: never looked at
    await asyncio.sleep(0.01)  # ids carry milliseconds
    started = datetime.now(UTC)
    message_id = await sink.post_text(feed, "12,000 new indicators wait for moderation", key="41:discord:1")
    world.fake.chatter(FEED, 450, user_id=USERS["bob"])  # far more than the old 50-message window
    mark = len(world.fake.calls)
    found = await sink.find_posted(feed, ["41:discord:1", "42:discord:1"], started)
    assert found == {"41:discord:1": message_id}  # 42 was never posted: it is to be posted now
    pages = world.fake.calls_to("GET", rf"/channels/{FEED}/messages", after=mark)
    assert len(pages) == 5 and all("after" in p.query for p in pages)  # 451 messages, 100 a page, to the end
    assert await sink.find_posted(feed, ["41:discord:1"], started + timedelta(minutes=1)) == {}


async def test_a_dm_notice_is_found_by_its_key(world: World) -> None:
    sink = DiscordSink(world.client)
    alice = Identity(Platform.DISCORD, "discord", str(USERS["alice"]))
    started = datetime.now(UTC)
    dm = await world.client.create_dm(discord.Object(USERS["alice"]))  # type: ignore[arg-type]
    assert await sink.find_posted(alice, ["7:dm"], started) == {}
    sent = await dm.send("Your indicator #3 was approved\n-# delivery 7:dm")
    world.fake.chatter(dm.id, 300, user_id=USERS["alice"])
    assert await sink.find_posted(alice, ["7:dm", "8:dm"], started) == {"7:dm": str(sent.id)}
