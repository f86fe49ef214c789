"""Whole `coalition-bot run` processes over one PostgreSQL store, delivering to a fake Discord.

Two processes share the outbox without double delivery, woken by the commits of a third; a process killed
after the platform accepted a post but before it recorded it does not make its successor post twice."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.uow import create_store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.e2e.processes import stop_gracefully

GUILD, FEED_GREEN, FEED_AMBER = 710000000000000001, 710000000000000010, 710000000000000011
SUBMITTER, MODERATOR = "810000000000000001", "810000000000000002"
EXE = str(Path(sys.executable).with_name("coalition-bot"))
KEY = re.compile(r"delivery (\S+)")


async def _coalition(url: str) -> Dispatcher:
    store = create_store(url)
    async with store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 50)
        cert = await uow.organizations.add("National CERT", "cert", 90)
        for user, org_id, role in ((SUBMITTER, org.id, Role.MEMBER), (MODERATOR, cert.id, Role.MODERATOR)):
            member = await uow.members.add(org_id, f"u{user[-1]}", role)
            await uow.members.link_identity(member.id, Identity(Platform.DISCORD, "discord", user))
        for channel_id, ceiling in ((FEED_GREEN, TLP.GREEN), (FEED_AMBER, TLP.AMBER)):
            await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(channel_id), ceiling,
                                              ChannelPurpose.FEED))
        await uow.commit()
    return Dispatcher(store.unit_of_work, delivery_platforms=(Platform.DISCORD,))


def _actor(user: str) -> Actor:
    return Actor(Platform.DISCORD, "discord", user, "dm", private=True)


async def _start(fake: FakeDiscord, url: str, lease: float = 60.0, poll: float = 0.2) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env.update({
        "COALITION_DATABASE_URL": url, "COALITION_DISCORD_ENABLED": "true", "COALITION_DISCORD_TOKEN": "fake",
        "COALITION_DISCORD_APPLICATION_ID": str(APPLICATION_ID), "COALITION_DISCORD_API_URL": fake.api_url,
        "COALITION_DISCORD_GATEWAY_URL": fake.gateway_url, "COALITION_OPS_ENABLED": "false",
        "COALITION_WARNINGLISTS_ENABLED": "false", "COALITION_DELIVERY_POLL_SECONDS": str(poll),
        "COALITION_DELIVERY_LEASE_SECONDS": str(lease), "COALITION_LOGGING_LEVEL": "WARNING",
    })
    return await asyncio.create_subprocess_exec(EXE, "run", env=env, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)


def _posts(fake: FakeDiscord, channel: int) -> list[str]:
    """Delivery keys of the card posts in a channel, one per message."""
    keys = []
    for message in fake.messages.get(channel, {}).values():
        for embed in message.get("embeds") or []:
            if m := KEY.search((embed.get("footer") or {}).get("text", "")):
                keys.append(m.group(1))
    return keys


async def _until(predicate, seconds: float, what: str) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - the posts come from other processes: poll what the fake holds
            await asyncio.sleep(0.1)
    assert predicate(), what


async def _stop(process: asyncio.subprocess.Process) -> None:
    code = await stop_gracefully(process)
    assert code == 0, (await process.stderr.read()).decode()[-2000:]


@pytest.fixture
async def fake():
    fake = FakeDiscord(record=False)
    await fake.start()
    fake.add_guild(GUILD, channels=[FEED_GREEN, FEED_AMBER],
                   members=[fake.user(int(SUBMITTER), "sub"), fake.user(int(MODERATOR), "mod")])
    try:
        yield fake
    finally:
        await fake.stop()


APPROVALS, CHUNK = 400, 200  # enough for both processes to claim many batches of each other's kind


async def test_two_processes_deliver_hundreds_of_approvals_exactly_once(postgres_url, fake):
    dispatcher = await _coalition(postgres_url)
    # they would poll only every 5 minutes: the approvals' commits in this process wake them (LISTEN/NOTIFY);
    # started first, so that their interpreters start while the submissions are written
    one, two = await _start(fake, postgres_url, poll=300), await _start(fake, postgres_url, poll=300)
    try:
        values = [f"relay-{i}.example" for i in range(APPROVALS)]
        for start in range(0, APPROVALS, CHUNK):
            reply = await dispatcher.handle_text("submit " + " ".join(values[start:start + CHUNK]) + " tlp:green",
                                                 _actor(SUBMITTER))
            assert len(reply.result.created) == CHUNK
        await fake.wait_ready(timeout=60, count=2)
        for start in range(1, APPROVALS + 1, CHUNK):
            ids = " ".join(f"#{i}" for i in range(start, start + CHUNK))
            assert len((await dispatcher.handle_text(f"approve {ids}", _actor(MODERATOR))).result.cards) == CHUNK
        await _until(lambda: len(_posts(fake, FEED_GREEN)) >= APPROVALS and len(_posts(fake, FEED_AMBER)) >= APPROVALS,
                     90, "every approval reached both feed channels")
        await asyncio.sleep(1.0)  # a double delivery would show up now
        for channel in (FEED_GREEN, FEED_AMBER):
            keys = _posts(fake, channel)
            assert len(keys) == APPROVALS and len(set(keys)) == APPROVALS, channel
    finally:
        for process in (one, two):
            await _stop(process)
    assert {m.get("author", {}).get("id") for m in fake.messages[FEED_GREEN].values()} <= {fake.bot["id"]}


async def test_a_process_killed_mid_post_does_not_make_its_successor_post_twice(postgres_url, fake):
    dispatcher = await _coalition(postgres_url)
    await dispatcher.handle_text("submit killed-mid-post.example tlp:amber", _actor(SUBMITTER))
    accepted, released = asyncio.Event(), asyncio.Event()

    async def hold_the_feed_post(call) -> None:  # Discord stores the message; the bot never hears back
        if call.method == "POST" and call.path == f"/channels/{FEED_AMBER}/messages":
            accepted.set()
            await released.wait()

    fake.before_response = hold_the_feed_post
    first = await _start(fake, postgres_url, lease=2.0)
    try:
        await fake.wait_ready(timeout=60)
        await dispatcher.handle_text("approve #1", _actor(MODERATOR))
        await asyncio.wait_for(accepted.wait(), 30)
    finally:
        first.kill()  # between taking the outbox row and marking it delivered
        await asyncio.wait_for(first.wait(), 30)
    assert _posts(fake, FEED_AMBER) == [_posts(fake, FEED_AMBER)[0]]
    fake.before_response = None
    second = await _start(fake, postgres_url, lease=2.0)
    try:
        await fake.wait_ready(timeout=60, count=2)
        store = create_store(postgres_url)
        try:
            async def delivered() -> bool:
                async with store.unit_of_work(read_only=True) as uow:
                    return not (await uow.outbox.pending_stats(dispatcher.clock())).get("discord")
            async with asyncio.timeout(60):
                while not await delivered():  # noqa: ASYNC110 - another process delivers: poll the store
                    await asyncio.sleep(0.2)
        finally:
            await store.close()
    finally:
        released.set()
        await _stop(second)
    assert len(_posts(fake, FEED_AMBER)) == 1  # found by its delivery key, not posted again
