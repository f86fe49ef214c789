"""Workspace lanes (bot.delivery): each delivery is made by a deliverer whose sink serves its workspace, never with
another workspace's credentials. Two single-workspace deliverers (two `run` processes, one token each) share a
platform's rows: each delivers its own workspace's part of a row and leaves one lane row for the other; a workspace
nobody can serve is dropped with an audit line, not retried forever; a workspace whose credentials are refused
midway is dropped there while the others are delivered. On SQLite and PostgreSQL.

The sinks stand in for one platform's API: every call says which sink made it, and a call into a workspace the
sink does not serve is recorded as a cross-workspace call (it must never happen)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.console.demo import WORKSPACE, seed
from bot.delivery import Deliverer, DeliveryError, Serving, WorkspaceRefused, plan
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, PostedCard
from bot.results import IndicatorCard, Notice
from bot.tlp import TLP
from storage.models import AuditRow, OutboxRow

PLATFORM = Platform.SLACK
T1, T2, GONE = "T1", "T2", "T9GONE"


@dataclass
class Cloud:
    """What the platform shows, whoever posted it."""

    posts: dict[str, tuple[str, str, str, IndicatorCard]] = field(default_factory=dict)  # key -> (sink, ch, id, card)
    edits: list[tuple[str, str, IndicatorCard]] = field(default_factory=list)  # (sink, message id, card)
    dms: list[tuple[str, str, str, Notice]] = field(default_factory=list)  # (sink, workspace, user, notice)
    cross: list[tuple[str, str]] = field(default_factory=list)  # (sink, workspace it had no credentials for)


@dataclass
class LaneSink:
    """One process's sink: it holds the credentials of `mine` (None: every workspace but `refused`/`nowhere`)."""

    name: str
    cloud: Cloud
    mine: frozenset[str] | None
    nowhere: frozenset[str] = frozenset()
    refused: set[str] = field(default_factory=set)  # the platform refuses these workspaces' tokens
    failures: list[Exception] = field(default_factory=list)
    platform: Platform = PLATFORM

    @property
    def workspaces(self) -> frozenset[str] | None:
        return self.mine

    async def serves(self, workspace_id: str) -> Serving:
        if workspace_id in self.nowhere:
            return Serving.NOWHERE
        return Serving.HERE if self.mine is None or workspace_id in self.mine else Serving.ELSEWHERE

    def _call(self, workspace_id: str) -> None:
        if self.mine is not None and workspace_id not in self.mine:
            self.cloud.cross.append((self.name, workspace_id))
            raise DeliveryError("channel_not_found")
        if workspace_id in self.refused:
            raise WorkspaceRefused(workspace_id, "token_revoked")
        if self.failures:
            raise self.failures.pop(0)

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        self._call(channel.workspace_id)
        message_id = f"m{len(self.cloud.posts) + 1}"
        self.cloud.posts[key] = (self.name, channel.channel_id, message_id, card)
        return message_id

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        self._call(posted.workspace_id)
        self.cloud.edits.append((self.name, posted.message_id or "", card))

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        self._call(identity.workspace_id)
        self.cloud.dms.append((self.name, identity.workspace_id, identity.user_id, notice))

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        self._call(channel.workspace_id)
        return "t1"

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        self._call(where.workspace_id)
        return {key: self.cloud.posts[key][2] for key in keys if key in self.cloud.posts}

    def channel_posts(self, channel_id: str) -> list[tuple[str, IndicatorCard]]:
        return [(sink, card) for sink, ch, _, card in self.cloud.posts.values() if ch == channel_id]


CHANNELS = [(T1, "C1-feed", ChannelPurpose.FEED), (T1, "C1-mod", ChannelPurpose.MODERATION),
            (T2, "C2-feed", ChannelPurpose.FEED), (T2, "C2-mod", ChannelPurpose.MODERATION)]


@pytest.fixture
async def lanes(store, clock):
    """alice's Slack identities: T1 (her first) and T2; bob and mod in T2; admin in T1. Two feeds, two moderation
    channels, one of each per workspace."""
    dispatcher = Dispatcher(store.unit_of_work, clock=clock, delivery_platforms=(PLATFORM,))
    await seed(store, dispatcher, samples=False)
    async with store.unit_of_work() as uow:
        for name, workspace in (("alice", T1), ("alice", T2), ("bob", T2), ("mod", T2), ("admin", T1)):
            member = await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, name))
            await uow.members.link_identity(member.id, Identity(PLATFORM, workspace, f"U-{name}"))
        for workspace, channel_id, purpose in CHANNELS:
            await uow.channels.upsert(Channel(PLATFORM, workspace, channel_id, TLP.AMBER, purpose))
        await uow.commit()
    cloud = Cloud()

    async def say(who: str, text: str):
        workspace = T1 if who in {"alice", "admin"} else T2
        return (await dispatcher.handle_text(text, Actor(PLATFORM, workspace, f"U-{who}", "D", private=True))).result

    return dispatcher, cloud, say


def deliverer(store, sink: LaneSink, clock, **kw) -> Deliverer:
    return Deliverer(store.unit_of_work, sink, clock=clock, max_attempts=3, **kw)


async def outbox_rows(store) -> list[tuple[int, str | None, bool, str | None]]:
    async with store.unit_of_work(read_only=True) as uow:
        rows = (await uow.session.execute(select(OutboxRow.id, OutboxRow.workspace_id, OutboxRow.delivered_at,
                                                 OutboxRow.last_error).order_by(OutboxRow.id))).all()
    return [(i, w, d is not None, e) for i, w, d, e in rows]


async def dropped_audit(store) -> list[dict]:
    async with store.unit_of_work(read_only=True) as uow:
        details = (await uow.session.execute(select(AuditRow.detail).where(AuditRow.action == "delivery.dropped")
                                             .order_by(AuditRow.id))).scalars().all()
    return [d if isinstance(d, dict) else json.loads(d) for d in details]


async def test_two_single_workspace_deliverers_each_deliver_their_own_workspace(store, clock, lanes) -> None:
    _, cloud, say = lanes
    one = LaneSink("one", cloud, frozenset({T1}))
    two = LaneSink("two", cloud, frozenset({T2}))
    first, second = deliverer(store, one, clock), deliverer(store, two, clock)

    await say("alice", "submit lanes[.]example tlp:green")
    await first.drain()  # one's own part, and one lane row for T2
    assert [(s, c.indicator.value) for s, c in one.channel_posts("C1-mod")] == [("one", "lanes.example")]
    assert one.channel_posts("C2-mod") == []
    rows = await outbox_rows(store)
    assert [(w, done) for _, w, done, _ in rows] == [(None, True), (T2, False)]
    await first.drain()  # the T2 lane is not one's: it waits
    assert (await outbox_rows(store))[1][2] is False
    await second.drain()
    assert [s for s, _ in two.channel_posts("C2-mod")] == ["two"]
    parent_id = rows[0][0]
    assert all(key.startswith(f"{parent_id}:") for key in cloud.posts)  # a lane keeps its origin row's keys

    await say("mod", "approve #1")
    await second.drain()
    await first.drain()
    assert [s for s, _ in two.channel_posts("C1-feed")] == ["one"]
    assert [s for s, _ in two.channel_posts("C2-feed")] == ["two"]
    # the submitter is told once on Slack, on her first identity (T1), by the deliverer that serves T1
    assert [(s, w, u) for s, w, u, _ in cloud.dms] == [("one", T1, "U-alice")]
    assert cloud.cross == []

    # a vote edits every copy, each by the deliverer of its workspace
    cloud.edits.clear()
    await say("bob", "vote #1 confirm")
    await second.drain()
    await first.drain()
    by_sink = {(sink, message_id) for sink, message_id, card in cloud.edits if card.tally.confirm == 1}
    copies = {(sink, message_id) for sink, _, message_id, _ in cloud.posts.values()}
    assert by_sink == copies and len(copies) == 4
    assert cloud.cross == []
    assert all(done for _, _, done, _ in await outbox_rows(store))
    assert await dropped_audit(store) == []


async def test_a_lane_row_is_planned_for_its_workspace_only(store, clock, lanes) -> None:
    _, _, say = lanes
    await say("alice", "submit planned[.]example tlp:green")
    await say("mod", "approve #1")
    async with store.unit_of_work() as uow:
        events = list(await uow.outbox.claim(PLATFORM, clock(), timedelta(seconds=60), 10))
        await uow.commit()
    approved = events[-1]
    lane = dataclasses.replace(approved, id=approved.id + 100, workspace_id=T2,
                               payload={**approved.payload, "lane_of": approved.id})
    async with store.unit_of_work(read_only=True) as uow:
        plans = await plan(uow, [approved, lane], clock())
    # nothing was delivered yet (no copy to edit): the feeds of both workspaces, and alice told on her first
    # Slack identity only (T1), though she has one in T2 too
    assert sorted((type(d).__name__, d.workspace_id) for d in plans[approved.id]) == [
        ("Notify", T1), ("PostCard", T1), ("PostCard", T2)]
    assert [(type(d).__name__, d.workspace_id, d.key) for d in plans[lane.id]] == [
        ("PostCard", T2, f"{approved.id}:{T2}:C2-feed")]


async def test_a_workspace_nobody_serves_is_dropped_with_one_audit_line(store, clock, lanes) -> None:
    _, cloud, say = lanes
    async with store.unit_of_work() as uow:
        await uow.channels.upsert(Channel(PLATFORM, GONE, "C9-feed", TLP.AMBER, ChannelPurpose.FEED))
        await uow.commit()
    everywhere = LaneSink("oauth", cloud, None, nowhere=frozenset({GONE}))
    d = deliverer(store, everywhere, clock)
    await say("alice", "submit dropped[.]example tlp:green")
    await d.drain()
    await say("mod", "approve #1")
    await d.drain()
    assert {ch for _, ch, _, _ in cloud.posts.values()} == {"C1-mod", "C2-mod", "C1-feed", "C2-feed"}
    rows = await outbox_rows(store)
    assert all(done for _, _, done, _ in rows) and len(rows) == 2  # delivered; no lane row for a lost workspace
    assert await dropped_audit(store) == [
        {"outbox_id": rows[1][0], "event": "indicator.approved", "workspace": GONE,
         "reason": "no installation serves this workspace (not installed, uninstalled, or its token revoked)",
         "posts": 1, "edits": 0, "notices": 0}]
    assert cloud.cross == []


async def test_credentials_refused_midway_drop_that_workspace_and_deliver_the_others(store, clock, lanes) -> None:
    _, cloud, say = lanes
    sink = LaneSink("oauth", cloud, None)
    d = deliverer(store, sink, clock)
    await say("alice", "submit refused[.]example tlp:green")
    await d.drain()
    sink.refused.add(T2)  # T2 revoked the app's token (its uninstall event not processed yet)
    await say("mod", "approve #1")
    await d.drain()
    assert {ch for _, ch, _, _ in cloud.posts.values()} == {"C1-mod", "C2-mod", "C1-feed"}
    assert [(w, u) for _, w, u, _ in cloud.dms] == [(T1, "U-alice")]
    rows = await outbox_rows(store)
    assert all(done for _, _, done, _ in rows)
    [line] = await dropped_audit(store)
    assert (line["workspace"], line["posts"], line["edits"], line["notices"]) == (T2, 1, 1, 0)
    assert "token_revoked" in line["reason"]


async def test_a_row_retried_by_the_other_process_does_not_post_twice(store, clock, lanes) -> None:
    """One's part of a row went out, then the row failed (a rate limit) and the other process claimed it: the
    lane row it leaves for one finds one's earlier post by its key and edits it rather than posting it again."""
    _, cloud, say = lanes
    one = LaneSink("one", cloud, frozenset({T1}))
    two = LaneSink("two", cloud, frozenset({T2}))
    first, second = deliverer(store, one, clock), deliverer(store, two, clock)
    await say("alice", "submit twice[.]example tlp:green")
    await first.drain()
    await second.drain()
    await say("mod", "approve #1")
    # the feed post goes out, then telling alice hits a rate limit: the row is retried later
    original = one.notify

    async def limited(identity, notice, *, key):
        one.notify = original  # type: ignore[method-assign]
        raise DeliveryError("ratelimited", retry_after=1)

    one.notify = limited  # type: ignore[method-assign]
    await first.drain()
    assert [s for s, _ in one.channel_posts("C1-feed")] == ["one"] and cloud.dms == []
    clock.advance(timedelta(seconds=5))
    await second.drain()  # the other process takes the row: its T2 part, and a lane row for T1
    await first.drain()
    assert len(one.channel_posts("C1-feed")) == 1 and len(one.channel_posts("C2-feed")) == 1
    assert [(s, w) for s, w, _, _ in cloud.dms] == [("one", T1)]
    assert cloud.cross == []
    assert all(done for _, _, done, _ in await outbox_rows(store))


async def test_admin_deliveries_shows_a_waiting_lane_and_why(store, clock, lanes) -> None:
    _, cloud, say = lanes
    one = LaneSink("one", cloud, frozenset({T1}))
    await say("alice", "submit waiting[.]example tlp:green")
    await deliverer(store, one, clock).drain()
    clock.advance(timedelta(minutes=3))
    listing = await say("admin", "admin deliveries")
    [lane] = [lane for lane in listing.lanes if lane.workspace_id is not None]
    assert (lane.workspace_id, lane.rows, lane.unclaimed) == (T2, 1, 1) and lane.oldest_seconds >= 180
    from bot.text import render

    text = render(listing)
    assert "slack, workspace T2: 1 waiting (oldest 180s)" in text and "no running process serves" in text


async def test_a_watch_alert_for_a_person_in_another_workspace_goes_out_in_that_lane(store, clock, lanes) -> None:
    """bob (T2) watches; alice (T1) submits: the T1 deliverer plans the alert, leaves it in the T2 lane, and the T2
    deliverer sends it there once (the alert's mark is the origin row's, so the lane row is not coalesced away)."""
    _, cloud, say = lanes
    one = LaneSink("one", cloud, frozenset({T1}))
    two = LaneSink("two", cloud, frozenset({T2}))
    first, second = deliverer(store, one, clock), deliverer(store, two, clock)
    await say("bob", "watch add brand:northbank")
    await say("alice", "submit n0rthbank-pay[.]example tlp:green")
    await first.drain()
    assert [d for d in cloud.dms if "Your watch" in d[3].message] == []  # not by one: bob is in T2
    await second.drain()
    await second.drain()
    alerts = [(s, w, u) for s, w, u, notice in cloud.dms if "Your watch W1" in notice.message]
    assert alerts == [("two", T2, "U-bob")] and cloud.cross == []
