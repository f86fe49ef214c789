"""Whole `coalition-bot run` processes delivering to the fake Slack and the fake Discord while being killed
(`kill -9`) at random points, successors taking over; then every feed card and DM notice is counted per delivery
key. Used by tests/e2e/test_crash_delivery.py (CI) and bench/crash.py (more cards, more kills).

The fakes keep every message, and after each kill the conversations go on (people write in the feed channels and
in the DM channels): a retry must find its earlier post behind hundreds of newer messages, more than any fixed
"look at the last N messages" window would cover.

The random kill points fall while every process is busy (between 2% and 70% of the posts, so that the killed
rows' leases run out while the others still deliver): a killed process holds a claimed batch whose rows are
delivered concurrently, some recorded, some posted but not recorded, some not posted yet. One more point is not
left to chance (`mid_post`): the fake Discord holds the response to a feed post it has stored, and every running
process is killed while it is held, so a successor must find that post by its key instead of posting it again.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.uow import Store, create_store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.adapters.slack.fake_slack import MockSlack
from tests.adapters.slack.slack_world import SECRET, TOKEN

EXE = str(Path(sys.executable).with_name("coalition-bot"))
TEAM = "T0COAL"
S_FEED, S_SUBMITTER, S_MODERATOR = "CCRASHFEED", "U0SUB", "U0MOD"
S_DM = "D" + S_SUBMITTER.lstrip("U")  # the fake Slack's DM channel with the submitter
GUILD, D_FEED = 730000000000000001, 730000000000000011
D_SUBMITTER, D_MODERATOR = 830000000000000001, 830000000000000002
CHATTER = 210  # messages people write in every watched channel after each kill: more than the old windows (50/200)
_KEY = re.compile(r"delivery (\S+)$")


@dataclass
class Outcome:
    """What the platforms show at the end: delivery keys (or indicator ids) per channel, and how it went."""

    backend: str
    cards: int
    kills: int = 0
    killed_mid_post: int = 0  # processes killed at once while the fake held a stored post's response
    processes: int = 0
    seconds: float = 0.0  # from the first process's start until the outbox is empty
    prepared: float = 0.0  # of which writing the submissions and approvals took this long
    slack_feed: Counter = field(default_factory=Counter)  # delivery key -> bot messages carrying it
    slack_dm: Counter = field(default_factory=Counter)
    discord_feed: Counter = field(default_factory=Counter)
    discord_dm: Counter = field(default_factory=Counter)
    unkeyed: int = 0  # bot messages carrying no key (a notice of code that did not key them)
    pending: dict = field(default_factory=dict)
    timed_out: bool = False
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (seconds, posts so far) at each kill

    def problems(self) -> list[str]:
        """Lost or duplicated posts, per channel; empty when every card and notice is there exactly once."""
        out = []
        expected = {"slack feed": self.cards, "slack dm": self.cards // 2, "discord feed": self.cards,
                    "discord dm": self.cards - self.cards // 2}
        for name, keys in (("slack feed", self.slack_feed), ("slack dm", self.slack_dm),
                           ("discord feed", self.discord_feed), ("discord dm", self.discord_dm)):
            twice = sum(n - 1 for n in keys.values() if n > 1)
            lost = expected[name] - len(keys)
            if twice or lost:
                out.append(f"{name}: {twice} duplicated, {lost} lost of {expected[name]}")
        if self.unkeyed:
            out.append(f"{self.unkeyed} posts carry no delivery key")
        if self.pending:
            out.append(f"outbox not delivered: {self.pending}")
        if self.timed_out:
            out.append("timed out")
        return out

    def summary(self) -> str:
        total = sum(sum(c.values()) for c in (self.slack_feed, self.slack_dm, self.discord_feed, self.discord_dm))
        return (f"{self.backend}: {self.cards} cards on both platforms + {self.cards} DM notices ({total} posts), "
                f"{self.kills} kill -9 ({self.killed_mid_post} of them while a post was held) over "
                f"{self.processes} processes, {self.seconds:.1f}s "
                f"({self.prepared:.1f}s of them approving): "
                + ("; ".join(self.problems()) or "0 lost, 0 duplicated"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _prepare(store: Store, cards: int) -> None:
    """A moderator on both platforms, a submitter on each, one GREEN feed channel on each; `cards` approved
    indicators, half submitted and approved on Slack, half on Discord (each submitter is told on their platform)."""
    async with store.unit_of_work() as uow:
        northbank = await uow.organizations.add("Northbank", "finance", 50)
        cert = await uow.organizations.add("National CERT", "cert", 90)
        for name, org, role, slack_id, discord_id in (("subs", northbank, Role.MEMBER, S_SUBMITTER, None),
                                                      ("subd", northbank, Role.MEMBER, None, D_SUBMITTER),
                                                      ("mod", cert, Role.MODERATOR, S_MODERATOR, D_MODERATOR)):
            member = await uow.members.add(org.id, name, role)
            if slack_id:
                await uow.members.link_identity(member.id, Identity(Platform.SLACK, TEAM, slack_id))
            if discord_id:
                await uow.members.link_identity(member.id, Identity(Platform.DISCORD, "discord", str(discord_id)))
        await uow.channels.upsert(Channel(Platform.SLACK, TEAM, S_FEED, TLP.GREEN, ChannelPurpose.FEED))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(D_FEED), TLP.GREEN, ChannelPurpose.FEED))
        await uow.commit()
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK, Platform.DISCORD))
    slack_mod = Actor(Platform.SLACK, TEAM, S_MODERATOR, "DMOD", private=True)
    discord_mod = Actor(Platform.DISCORD, "discord", str(D_MODERATOR), "dm", private=True)
    slack_sub = Actor(Platform.SLACK, TEAM, S_SUBMITTER, S_DM, private=True)
    discord_sub = Actor(Platform.DISCORD, "discord", str(D_SUBMITTER), "dm", private=True)
    chunk = 250
    for start in range(0, cards, chunk):
        values = " ".join(f"crash-{i}.example" for i in range(start, min(cards, start + chunk)))
        submitter = slack_sub if start < cards // 2 else discord_sub
        reply = await dispatcher.handle_text(f"submit {values} tlp:green", submitter)
        assert len(reply.result.created) == min(chunk, cards - start), reply.result
    for start in range(1, cards + 1, chunk):
        refs = " ".join(f"#{i}" for i in range(start, min(cards, start + chunk - 1) + 1))
        moderator = slack_mod if start <= cards // 2 else discord_mod
        reply = await dispatcher.handle_text(f"approve {refs}", moderator)
        assert len(reply.result.cards) == min(chunk, cards - start + 1), reply.result


class Fleet:
    """The running `coalition-bot run` processes; each is killed with SIGKILL or stopped at the end."""

    def __init__(self, url: str, slack: MockSlack, discord: FakeDiscord, logs: Path, lease: float) -> None:
        self.url, self.slack, self.discord, self.logs, self.lease = url, slack, discord, logs, lease
        self.running: list[asyncio.subprocess.Process] = []
        self.started = 0

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
        env.update({
            "COALITION_DATABASE_URL": self.url, "COALITION_WARNINGLISTS_ENABLED": "false",
            "COALITION_OPS_ENABLED": "false", "COALITION_LOGGING_LEVEL": "WARNING",
            "COALITION_DELIVERY_POLL_SECONDS": "0.2", "COALITION_DELIVERY_LEASE_SECONDS": str(self.lease),
            "COALITION_SLACK_ENABLED": "true", "COALITION_SLACK_MODE": "http", "COALITION_SLACK_BOT_TOKEN": TOKEN,
            "COALITION_SLACK_SIGNING_SECRET": SECRET, "COALITION_SLACK_API_URL": self.slack.api_url,
            "COALITION_SLACK_HTTP_HOST": "127.0.0.1", "COALITION_SLACK_HTTP_PORT": str(_free_port()),
            "COALITION_DISCORD_ENABLED": "true", "COALITION_DISCORD_TOKEN": "fake",
            "COALITION_DISCORD_APPLICATION_ID": str(APPLICATION_ID),
            "COALITION_DISCORD_API_URL": self.discord.api_url,
            "COALITION_DISCORD_GATEWAY_URL": self.discord.gateway_url,
        })
        self.started += 1
        with (self.logs / f"process-{self.started}.log").open("wb") as log:
            self.running.append(await asyncio.create_subprocess_exec(
                EXE, "run", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log))

    async def kill(self, rng: random.Random) -> None:
        victim = self.running.pop(rng.randrange(len(self.running)))
        victim.send_signal(signal.SIGKILL)
        await victim.wait()

    async def kill_all(self) -> int:
        killed = list(self.running)
        self.running.clear()
        for process in killed:
            process.send_signal(signal.SIGKILL)
        for process in killed:
            await process.wait()
        return len(killed)

    async def stop(self) -> None:
        for process in self.running:
            process.send_signal(signal.SIGKILL)  # everything is delivered and checked by now
        for process in self.running:
            await process.wait()
        self.running.clear()


def _slack_keys(messages: list[dict], event_type: str) -> tuple[Counter, int]:
    keys, unkeyed = Counter(), 0
    for m in messages:
        if not m.get("bot_id"):
            continue
        meta = m.get("metadata") or {}
        key = (meta.get("event_payload") or {}).get("key") if meta.get("event_type") == event_type else None
        if key is None:
            unkeyed += 1
        else:
            keys[key] += 1
    return keys, unkeyed


def _discord_keys(discord: FakeDiscord, channel_id: int) -> tuple[Counter, int]:
    keys, unkeyed = Counter(), 0
    for m in discord.messages.get(channel_id, {}).values():
        if m.get("author", {}).get("id") != discord.bot["id"]:
            continue
        texts = [(e.get("footer") or {}).get("text", "") for e in m.get("embeds") or []] + [m.get("content") or ""]
        found = {k.group(1) for t in texts if (k := _KEY.search(t))}
        if not found:
            unkeyed += 1
        for key in found:
            keys[key] += 1
    return keys, unkeyed


async def crash_run(url: str, logs: Path, *, cards: int = 1000, kills: int = 20, processes: int = 3,
                    lease: float = 2.0, seed: int | None = None, limit: float = 240.0,
                    mid_post: bool = False) -> Outcome:
    """Deliver `cards` approvals with `processes` processes at a time, killing one (and starting its successor)
    at `kills` random points of the progress and, with `mid_post`, every running process once while the fake
    Discord holds the response to a feed post it stored (the poster never hears back, so it never records it);
    returns what the platforms show once the outbox is empty."""
    rng = random.Random(seed)
    backend = "postgresql" if url.startswith("postgres") else "sqlite"
    outcome = Outcome(backend, cards)
    store = create_store(url)
    slack, discord = MockSlack(light_responses=True), FakeDiscord(record=False)
    await slack.start()
    await discord.start()
    discord.add_guild(GUILD, channels=[D_FEED], members=[discord.user(D_SUBMITTER, "sub"),
                                                          discord.user(D_MODERATOR, "mod")])
    discord.dm_channels[D_SUBMITTER] = d_dm = discord.next_id()  # the DM channel exists before the first notice
    fleet = Fleet(url, slack, discord, logs, lease)
    began = time.perf_counter()
    try:
        expected = 3 * cards  # a card on each platform and a notice per approval
        chattered = 0

        def bot_posts() -> int:  # cheap enough to ask every few milliseconds
            return sum(len(slack.messages.get(ch, [])) for ch in (S_FEED, S_DM)) + \
                sum(len(discord.messages.get(ch, {})) for ch in (D_FEED, d_dm)) - chattered

        async def chatter() -> None:
            nonlocal chattered
            for channel in (S_FEED, S_DM):
                slack.chatter(channel, CHATTER)
            for channel_id in (D_FEED, d_dm):
                discord.chatter(channel_id, CHATTER)
            chattered += 4 * CHATTER

        async def delivered() -> bool:
            async with store.unit_of_work(read_only=True) as uow:
                outcome.pending = await uow.outbox.pending_stats(datetime.now(UTC))
            return not outcome.pending

        points = sorted(rng.sample(range(expected // 50, expected * 7 // 10), kills))
        held_at = points[len(points) // 2] if mid_post and points else None

        async def kill_everyone_mid_post() -> None:
            """Hold the next feed post the fake Discord stores; kill every process while it is held."""
            stored, release = asyncio.Event(), asyncio.Event()

            async def hold(call) -> None:
                if not stored.is_set() and call.method == "POST" and call.path == f"/channels/{D_FEED}/messages":
                    stored.set()
                    await release.wait()

            discord.before_response = hold
            try:
                async with asyncio.timeout(60):
                    await stored.wait()
                killed = await fleet.kill_all()
            finally:
                discord.before_response = None
                release.set()
            outcome.kills += killed
            outcome.killed_mid_post += killed
            outcome.timeline.append((round(time.perf_counter() - began, 1), bot_posts()))
            await chatter()
            for _ in range(killed):
                await fleet.start()

        async def kill_at_points() -> None:
            for point in points:
                while bot_posts() < point:  # noqa: ASYNC110 - other processes post: poll what the fakes hold
                    await asyncio.sleep(0.01)
                if point == held_at:
                    await kill_everyone_mid_post()
                    continue
                await fleet.kill(rng)
                outcome.kills += 1
                outcome.timeline.append((round(time.perf_counter() - began, 1), bot_posts()))
                await chatter()
                await fleet.start()

        for _ in range(processes):  # they start while the approvals are written, and deliver them as they come
            await fleet.start()
        killer = asyncio.create_task(kill_at_points())  # the kill points follow the posts, approvals or not
        try:
            async with asyncio.timeout(limit):
                await _prepare(store, cards)
                outcome.prepared = time.perf_counter() - began
                await killer
                while not await delivered():  # noqa: ASYNC110 - other processes deliver: poll the store
                    await asyncio.sleep(0.2)
        except TimeoutError:
            outcome.timed_out = True
        finally:
            killer.cancel()
        outcome.seconds = time.perf_counter() - began
        await asyncio.sleep(1.0)  # a late double post would show up now
        outcome.processes = fleet.started
    finally:
        await fleet.stop()
        await store.close()
        await discord.stop()
        await slack.stop()
    outcome.slack_feed, a = _slack_keys(slack.messages.get(S_FEED, []), "coalition_indicator_card")
    outcome.slack_dm, b = _slack_keys(slack.messages.get(S_DM, []), "coalition_notice")
    outcome.discord_feed, c = _discord_keys(discord, D_FEED)
    outcome.discord_dm, d = _discord_keys(discord, d_dm)
    outcome.unkeyed = a + b + c + d
    return outcome
