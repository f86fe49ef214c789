"""Issue 15 on Discord, through the real discord.py client against the fake Discord: a file import still running
after `import_progress.after` seconds shows its progress, edited as it goes: a file sent in the DM gets a message
there (POST) edited in place (PATCH), finally into a done line, before the report; `/ioc import` shows it in its
deferred ephemeral response, which the report then replaces. A fast import shows no progress at all."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from adapters.chat_progress import ProgressTiming
from adapters.discord.service import DiscordService
from adapters.runtime import Runtime
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from storage.uow import Store
from tests.adapters.discord.fake_discord import FakeDiscord
from tests.adapters.discord.world import FEED, GENERAL, GUILD, MODERATION, USERS, World, discord_settings, seed

DM = 990000000000000001
COUNTS = re.compile(r"([0-9,]+) of ([0-9,]+) indicators \(([0-9]+) %\)")


def big_file(count: int) -> bytes:
    return "".join(f"c2-{i}.drop-zone.example\n" for i in range(count)).encode()


def counts(texts: list[str]) -> list[int]:
    return [int(m.group(1).replace(",", "")) for t in texts if (m := COUNTS.search(t))]


@pytest.fixture
async def progress_world(fake: FakeDiscord, sqlite_store: Store) -> AsyncIterator[World]:
    """The Discord world with the progress shown at once and edited at every step (the service's constructor)."""
    await seed(sqlite_store)
    users = {name: fake.user(uid, name) for name, uid in USERS.items()}
    fake.add_guild(GUILD, channels=[GENERAL, FEED, MODERATION], members=list(users.values()))
    settings = discord_settings(fake)
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=settings.policy.to_policy(),
                            delivery_platforms=(Platform.DISCORD,))
    runtime = Runtime(settings, sqlite_store, dispatcher)
    service = DiscordService(runtime, guild_ready_timeout=0.05, import_progress=ProgressTiming(after=0.0, every=0.0))
    await service.start()
    await fake.wait_ready()
    world = World(fake, sqlite_store, runtime, service, users)
    try:
        yield world
        world.assert_running()
    finally:
        await world.service.stop()
        await asyncio.sleep(0)


async def send_file(world: World, name: str, data: bytes) -> None:
    att = world.fake.attachment(name, data, "text/plain")
    message = world.fake.message_create("", author=world.users["alice"], channel_id=DM, guild_id=None,
                                        attachments=[att])
    await world.fake.dispatch("MESSAGE_CREATE", message)


async def test_a_slow_import_in_a_dm_posts_a_progress_message_and_edits_it(progress_world: World) -> None:
    world = progress_world
    mark = len(world.fake.calls)
    await send_file(world, "feed_@everyone_**x**.txt", big_file(5000))
    await world.fake.wait_for_call("POST", rf"/channels/{DM}/messages", after=mark,
                                   predicate=lambda c: "submitted for moderation" in (c.json or {}).get("content", ""),
                                   timeout=15)
    first, report = world.fake.calls_to("POST", rf"/channels/{DM}/messages", after=mark)
    assert first.json["content"].startswith("Importing ") and first.json["allowed_mentions"]["parse"] == []
    assert "5000 read, 5000 submitted for moderation" in report.json["content"]
    posted = next(int(i) for i, m in world.fake.messages[DM].items() if m["content"].startswith("Imported "))
    edits = world.fake.calls_to("PATCH", rf"/channels/{DM}/messages/\d+", after=mark)
    assert edits and {e.path for e in edits} == {f"/channels/{DM}/messages/{posted}"}  # one message, edited
    assert all(e.at < report.at for e in edits)
    texts = [e.json["content"] for e in edits]
    assert len(counts(texts)) >= 2, texts
    assert counts(texts) == sorted(set(counts(texts))) and counts(texts)[-1] == 5000  # growing
    assert texts[-1].startswith("Imported ") and "5,000 indicators in" in texts[-1]
    for text in [first.json["content"], *texts]:  # the person's own file name, escaped: no ping, no markdown
        assert "feed\\_\\@everyone\\_\\*\\*x\\*\\*.txt" in text, text


async def test_a_slow_slash_import_shows_its_progress_in_the_deferred_response(progress_world: World) -> None:
    world = progress_world
    att = world.fake.attachment("feed.txt", big_file(3000), "text/plain")
    mark = len(world.fake.calls)
    payload = world.fake.slash("ioc", "import", {}, user=world.users["alice"], guild_id=GUILD, channel_id=GENERAL,
                               attachments={"file": att})
    await world.fake.dispatch("INTERACTION_CREATE", payload)
    original = rf"/webhooks/\d+/{payload['token']}/messages/@original"
    await world.fake.wait_for_call("PATCH", original, after=mark, timeout=15,
                                   predicate=lambda c: "submitted for moderation" in (c.json or {}).get("content", ""))
    (callback,) = world.fake.calls_to("POST", rf"/interactions/{payload['id']}/{payload['token']}/callback",
                                      after=mark)
    assert callback.json["type"] == 5 and callback.json["data"]["flags"] & 64  # deferred, only she sees it
    texts = [c.json["content"] for c in world.fake.calls_to("PATCH", original, after=mark)]
    *progress, report = texts
    assert progress[0].startswith("Importing feed.txt") and len(counts(progress)) >= 2, texts
    assert counts(progress) == sorted(set(counts(progress)))
    assert "3000 read, 3000 submitted for moderation" in report  # the report replaces the progress
    assert not world.fake.calls_to("POST", r"/channels/\d+/messages", after=mark)  # nothing in the channel


async def test_a_fast_import_shows_no_progress(world: World) -> None:
    """The default thresholds (3 s): the report only."""
    mark = len(world.fake.calls)
    await send_file(world, "iocs.txt", big_file(20))
    reply = await world.fake.wait_for_call("POST", rf"/channels/{DM}/messages", after=mark)
    assert "20 submitted for moderation" in reply.json["content"]
    await asyncio.sleep(0.2)
    assert len(world.fake.calls_to("POST", rf"/channels/{DM}/messages", after=mark)) == 1
    assert not world.fake.calls_to("PATCH", r"/channels/\d+/messages/\d+", after=mark)


async def test_a_file_sent_in_a_channel_shows_its_progress_in_the_dm_as_its_report(progress_world: World) -> None:
    """The report of a file sent with a mention in a channel is private (a DM): so is its progress."""
    world = progress_world
    att = world.fake.attachment("feed.txt", big_file(2000), "text/plain")
    message = world.fake.message_create(f"<@{world.fake.bot['id']}>", author=world.users["alice"],
                                        channel_id=GENERAL, guild_id=GUILD, attachments=[att])
    message["mentions"] = [world.fake.bot]
    mark = len(world.fake.calls)
    await world.fake.dispatch("MESSAGE_CREATE", message)
    report = await world.fake.wait_for_call(
        "POST", r"/channels/\d+/messages", after=mark, timeout=15,
        predicate=lambda c: "submitted for moderation" in (c.json or {}).get("content", ""))
    dm = int(report.path.split("/")[2])
    assert dm == world.fake.dm_channels[USERS["alice"]]
    first = world.fake.calls_to("POST", r"/channels/\d+/messages", after=mark)[0]
    assert first.path == f"/channels/{dm}/messages" and first.json["content"].startswith("Importing feed.txt")
    assert world.fake.calls_to("PATCH", rf"/channels/{dm}/messages/\d+", after=mark)
    assert not world.fake.calls_to("POST", rf"/channels/{GENERAL}/messages", after=mark)
    assert not world.fake.calls_to("PATCH", rf"/channels/{GENERAL}/messages/\d+", after=mark)
