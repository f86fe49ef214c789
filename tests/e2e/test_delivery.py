"""Delivery from the outbox through a platform sink: what goes where, live updates, crashes, parking.

The sink here stands in for a chat platform's API (the Slack and Discord adapters have their own); it
records what the platform would show and can fail the way platforms and processes fail."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from adapters.console.demo import WORKSPACE, seed
from bot.delivery import Deliverer, DeliveryError
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, PostedCard
from bot.results import IndicatorCard, Notice
from bot.tlp import TLP

PLATFORM = Platform.SLACK


@dataclass
class RecordingPlatform:
    """What the platform shows: posts by delivery key, edits, direct messages; and how it fails."""

    platform: Platform = PLATFORM
    posts: dict[str, tuple[str, str, IndicatorCard]] = field(default_factory=dict)  # key -> (channel, id, card)
    edits: list[tuple[str, IndicatorCard]] = field(default_factory=list)
    dms: list[tuple[str, Notice]] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    crash_after_next_post: bool = False
    failures: list[Exception] = field(default_factory=list)  # raised, one per call, before doing anything

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        self._maybe_fail()
        message_id = f"m{len(self.posts) + 1}"
        self.posts[key] = (channel.channel_id, message_id, card)
        if self.crash_after_next_post:
            self.crash_after_next_post = False
            raise ConnectionResetError("process died before recording the message id")
        return message_id

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        self._maybe_fail()
        self.edits.append((posted.message_id or "", card))

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        self._maybe_fail()
        self.dms.append((identity.user_id, notice))

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        self._maybe_fail()
        self.texts.append((channel.channel_id, text))
        return f"t{len(self.texts)}"

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        # the platform already has these: they are not posted twice
        return {key: self.posts[key][1] for key in keys if key in self.posts}

    def channel_posts(self, channel_id: str) -> list[IndicatorCard]:
        return [card for ch, _, card in self.posts.values() if ch == channel_id]


@pytest.fixture
async def world(sqlite_store, clock):
    dispatcher = Dispatcher(sqlite_store.unit_of_work, clock=clock, delivery_platforms=(PLATFORM,))
    await seed(sqlite_store, dispatcher, samples=False)
    async with sqlite_store.unit_of_work() as uow:
        for name in ("alice", "bob", "mod", "admin"):
            member = (await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, name)))
            await uow.members.link_identity(member.id, Identity(PLATFORM, "T1", f"U-{name}"))
        for channel in (Channel(PLATFORM, "T1", "C-green-feed", TLP.GREEN, ChannelPurpose.FEED),
                        Channel(PLATFORM, "T1", "C-amber-feed", TLP.AMBER, ChannelPurpose.FEED),
                        Channel(PLATFORM, "T1", "C-mod", TLP.AMBER, ChannelPurpose.MODERATION)):
            await uow.channels.upsert(channel)
        await uow.commit()
    sink = RecordingPlatform()
    deliverer = Deliverer(sqlite_store.unit_of_work, sink, clock=clock, max_attempts=3)

    async def say(who: str, text: str):
        reply = await dispatcher.handle_text(text, Actor(PLATFORM, "T1", f"U-{who}", "D-" + who, private=True))
        await deliverer.drain()
        return reply.result

    return dispatcher, deliverer, sink, clock, say


async def test_cards_go_where_their_tlp_allows(world):
    _, _, sink, _, say = world
    await say("alice", "submit amber-c2[.]example tlp:amber")
    await say("alice", "submit red-c2[.]example tlp:red")
    assert [c.indicator.value for c in sink.channel_posts("C-mod")] == ["amber-c2.example"]  # RED: never
    await say("mod", "approve #1 #2")
    assert [c.indicator.value for c in sink.channel_posts("C-amber-feed")] == ["amber-c2.example"]
    assert sink.channel_posts("C-green-feed") == []  # AMBER is above a GREEN ceiling
    fed = sink.channel_posts("C-amber-feed")[0]
    assert [b.label for b in fed.buttons] == ["Confirm", "False positive"]  # no moderation buttons in a feed
    assert [b.label for b in sink.channel_posts("C-mod")[0].buttons][:2] == ["Confirm", "False positive"]
    # the submitter is told, privately, on the platform they used (two indicators: delivered concurrently)
    assert sorted((user, n.message.split(" was ")[0]) for user, n in sink.dms if user == "U-alice") == [
        ("U-alice", "Your indicator #1"), ("U-alice", "Your indicator #2")]


async def test_every_posted_card_is_edited_when_its_indicator_changes(world):
    _, _, sink, _, say = world
    await say("alice", "submit live[.]example tlp:green")
    await say("mod", "approve #1")
    sink.edits.clear()
    await say("bob", "vote #1 confirm")
    edited = {message_id: card for message_id, card in sink.edits}
    assert set(edited) == {mid for _, mid, _ in sink.posts.values()}  # the moderation and the feed copies
    assert all(card.tally.confirm == 1 for card in edited.values())


async def test_anonymous_submitters_stay_anonymous_in_channels(world):
    _, _, sink, _, say = world
    await say("alice", "submit hidden[.]example tlp:green anon")
    assert sink.channel_posts("C-mod")[0].org_shown == "a coalition member"


async def test_a_crash_between_posting_and_recording_does_not_post_twice(world):
    _, deliverer, sink, clock, say = world
    await say("alice", "submit once[.]example tlp:green")
    sink.crash_after_next_post = True
    await say("mod", "approve #1")  # posted to both feeds, then the process "died" before recording one
    assert len(sink.channel_posts("C-green-feed")) == 1
    clock.advance(timedelta(minutes=5))  # the row is due again
    await deliverer.drain()
    assert len(sink.channel_posts("C-green-feed")) == 1 and len(sink.channel_posts("C-amber-feed")) == 1
    async with deliverer.uow_factory() as uow:
        posted = await uow.posted_cards.of_indicators([1], PLATFORM)
    assert sorted(p.channel_id for p in posted) == ["C-amber-feed", "C-green-feed", "C-mod"]
    assert all(p.message_id for p in posted)


async def test_rate_limits_wait_as_told_and_repeated_failures_park_for_admins(world):
    _, deliverer, sink, clock, say = world
    sink.failures = [DeliveryError("ratelimited", retry_after=30)]
    await say("alice", "submit slow[.]example tlp:green")
    assert sink.posts == {}
    clock.advance(timedelta(seconds=29))
    await deliverer.drain()
    assert sink.posts == {}  # Retry-After is respected
    clock.advance(timedelta(seconds=2))
    await deliverer.drain()
    assert len(sink.channel_posts("C-mod")) == 1

    sink.failures = [RuntimeError("channel_not_found")] * 3
    await say("alice", "submit broken[.]example tlp:green")
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        await deliverer.drain()
    listing = await say("admin", "admin deliveries")
    assert len(listing.parked) == 1 and "channel_not_found" in listing.parked[0].last_error
    assert "Only admins" in (await say("bob", "admin deliveries")).problem
    parked_id = listing.parked[0].id
    assert "will be tried again" in (await say("admin", f"admin retry {parked_id}")).message
    await deliverer.drain()
    assert [c.indicator.value for c in sink.channel_posts("C-mod")] == ["slow.example", "broken.example"]
    assert (await say("admin", "admin deliveries")).parked == ()


async def test_a_big_submission_is_one_line_in_moderation_channels_not_a_card_each(world):
    _, _, sink, _, say = world
    values = " ".join(f"bulk-{i}[.]example" for i in range(25))
    await say("alice", f"submit {values} tlp:green")
    assert sink.channel_posts("C-mod") == []
    assert sink.texts == [("C-mod", "25 new indicators from Northbank wait for moderation (/ioc queue).")]
