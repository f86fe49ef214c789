"""Delivery of the outbox: what each event means on a platform, and a loop that delivers it at least once.

Services write events (`indicator.submitted`, `.approved`, `.voted`, ...) to the outbox in the same
transaction as the change, one row per delivering platform. Each adapter runs a `Deliverer` for its platform
with a `DeliverySink` that only translates (post a card, edit a card, send a direct message). The core decides
what to deliver where (`plan`): new submissions to moderation channels, approvals to feed channels, every
posted copy of a card edited when its indicator changes, the submitter told of the decision. TLP ceilings and
anonymity hold here as everywhere: a card goes to a channel only if its TLP is within the channel's ceiling,
dressed for the channel's audience.

Delivery is exactly once as seen in the channels, even when a process is killed mid-delivery: a post is first
reserved under a delivery key with its start time, its platform message id is recorded right after it is posted,
and a retry of a key that was reserved but not recorded asks the platform for a message carrying that key among
everything posted since the first attempt started (DM notices alike: they carry their key too). A deliverer
renews the lease of the rows it holds while it works, so a killed deliverer's rows come back one lease later,
ahead of newer rows. Failures back off exponentially (or as the platform's Retry-After says), and after
`max_attempts` the row is parked for admins (`/ioc admin deliveries`, `/ioc admin retry ID`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain import (
    Channel,
    ChannelPurpose,
    Identity,
    Indicator,
    Member,
    OutboxEvent,
    Platform,
    PostedCard,
    Status,
)
from bot.ports import Clock, StoreUnavailable, UnitOfWork, UnitOfWorkFactory
from bot.results import IndicatorCard, Notice
from bot.rules import (
    ANONYMOUS_ORG,
    can_decide,
    can_feed,
    can_moderate,
    moderated_in_channels,
    shown_org_name,
    tlp_in_channel,
)
from bot.services import build_cards, buttons_for
from bot.tlp import TLP

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A sink's failure that says when to try again (a rate limit's Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliverySink(Protocol):
    """What an adapter implements to deliver its platform's outbox rows. Each method only translates."""

    platform: Platform

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        """Post the card in the channel, carrying `key` where `find_posted` can read it; return its message id."""

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        """Edit a card posted earlier so that it shows the indicator as it is now."""

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        """Tell one person privately (a direct message) carrying `key`."""

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        """Post a short plain message (no user-supplied text in it) carrying `key`; return its message id."""

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        """Which of these delivery keys an earlier attempt (whose process died before recording it) posted in the
        channel, or in the direct message channel with the person, at or after `since`: key -> message id.

        Every message posted since then is looked at, page after page, however many there are."""


@dataclass(frozen=True)
class PostCard:
    channel: Channel
    card: IndicatorCard
    headline: str
    key: str


@dataclass(frozen=True)
class UpdateCard:
    posted: PostedCard
    card: IndicatorCard


@dataclass(frozen=True)
class Notify:
    identity: Identity
    notice: Notice
    key: str


@dataclass(frozen=True)
class PostText:
    channel: Channel
    text: str
    key: str
    retry: bool


Delivery = PostCard | UpdateCard | Notify | PostText

_HEADLINES = {
    ("indicator.submitted", ChannelPurpose.MODERATION): "New submission waiting for moderation",
    ("indicator.approved", ChannelPurpose.FEED): "Approved for the coalition",
}
_NOTICES = ("indicator.approved", "indicator.rejected", "indicator.revoked")  # the submitter is told of these


def notice_text(event: str, indicator: Indicator) -> str:
    """What the submitter is told: what actually happened, for this TLP."""
    ref, reason = indicator.ref, indicator.status_reason or "-"
    if event == "indicator.rejected":
        return f"Your indicator {ref} was rejected: {reason}"
    if event == "indicator.revoked":
        return f"Your indicator {ref} was revoked: {reason}"
    if reason.startswith("not moderated"):  # nobody but the submitter could decide it (bot.rules)
        return f"Your indicator {ref} no longer waits for moderation, as nobody else may decide it: {reason}."
    if indicator.tlp is TLP.AMBER_STRICT:
        return (f"Your indicator {ref} was approved. As TLP:AMBER+STRICT it stays within {indicator.org_name}: "
                "it is not shared with the rest of the coalition.")
    if indicator.tlp is TLP.RED:
        return (f"Your indicator {ref} was approved. As TLP:RED it stays with you and the coalition's moderators, "
                "in private replies: it is not shared with the coalition.")
    if indicator.tlp is TLP.AMBER:
        return (f"Your indicator {ref} was approved and shared with the coalition's members (TLP:AMBER: within "
                "their organizations, and only in channels whose ceiling allows AMBER).")
    return f"Your indicator {ref} was approved and shared with the coalition."


def _dm_identity(identities: Sequence[Identity], platform: Platform) -> Identity | None:
    """Where one person is told of something on this platform: their first identity here (so once per platform,
    under a key unique to this platform's outbox row), or None when they have none here. Every delivering
    platform has its own row of each event, so a person with a Slack and a Discord identity is told on both,
    whichever platform the event came from."""
    return next((i for i in identities if i.platform is platform), None)


async def plan(uow: UnitOfWork, events: Sequence[OutboxEvent], now: datetime) -> dict[int, list[Delivery]]:
    """What each of these events (of one platform) means there, given the store as it is now. A batch costs
    the same few queries as one event: indicators, channels, posted cards, tallies, submitters."""
    if not events:
        return {}
    platform = events[0].platform
    ids = {int(e.payload["indicator_id"]) for e in events if "indicator_id" in e.payload}
    indicators = {i.id: i for i in await uow.indicators.by_ids(ids)}
    cards = {c.indicator.id: c for c in await build_cards(uow, list(indicators.values()), viewer=None, now=now,
                                                            moderator_buttons=False)}
    channels = [c for c in await uow.channels.list() if c.platform is platform]
    posted: dict[int, list[PostedCard]] = {}
    for copy in await uow.posted_cards.of_indicators(indicators, platform):
        posted.setdefault(copy.indicator_id, []).append(copy)
    told = {indicators[int(e.payload["indicator_id"])].submitter_id for e in events
            if e.event in _NOTICES and int(e.payload.get("indicator_id", 0)) in indicators}
    submitters = await uow.members.many(told)
    # New AMBER+STRICT and RED submissions never reach shared moderation channels: the people who may decide
    # them (bot.rules.can_decide) are told in a direct message instead.
    restricted = [cards[int(e.payload["indicator_id"])] for e in events
                  if e.event == "indicator.submitted" and int(e.payload.get("indicator_id", 0)) in cards]
    restricted = [c for c in restricted if c.status is Status.PENDING and not moderated_in_channels(c.indicator)]
    restricted_ids = {c.indicator.id for c in restricted}
    deciders: dict[int, tuple[Member, tuple[Identity, ...]]] = {}
    if restricted:
        may = {m.id for m in await uow.members.list() for c in restricted if can_decide(m, c.indicator)}
        deciders = await uow.members.many(may)
    plans: dict[int, list[Delivery]] = {}
    for event in events:
        if event.event == "indicators.submitted":
            plans[event.id] = [*await _plan_many_submitted(uow, event, channels),
                               *await _tell_deciders_of_batch(uow, event, now)]
            continue
        card = cards.get(int(event.payload.get("indicator_id", 0)))
        plans[event.id] = [] if card is None else _plan_one(event, card, channels, posted, submitters)
        if card is not None and card.indicator.id in restricted_ids:
            plans[event.id] += _tell_deciders(event, card, deciders)
    return plans


def _tell_deciders(event: OutboxEvent, card: IndicatorCard,
                   deciders: dict[int, tuple[Member, tuple[Identity, ...]]]) -> list[Delivery]:
    ind = card.indicator
    told: list[Delivery] = []
    for member, identities in deciders.values():
        identity = _dm_identity(identities, event.platform)
        if identity is None or not can_decide(member, ind):
            continue
        theirs = dataclasses.replace(card, org_shown=shown_org_name(ind, member),
                                     buttons=buttons_for(ind.id, card.status, moderator=True))
        message = (f"New {ind.tlp.label} submission {ind.ref} waits for your decision; only you and the others "
                   f"who may see it can decide it (/ioc approve {ind.ref}, /ioc reject {ind.ref} REASON).")
        told.append(Notify(identity, Notice(message, theirs), f"{event.id}:dm:{member.id}"))
    return told


async def _tell_deciders_of_batch(uow: UnitOfWork, event: OutboxEvent, now: datetime) -> list[Delivery]:
    """A big submission's AMBER+STRICT and RED items: one direct message to each person who may decide some of
    them, counting only those, with the first one's card (dressed for them)."""
    ids = [int(i) for i in event.payload.get("indicator_ids", [])]
    restricted = [i for i in await uow.indicators.by_ids(ids)
                  if i.status is Status.PENDING and not moderated_in_channels(i)]
    if not restricted:
        return []
    may = {m.id for m in await uow.members.list() if any(can_decide(m, i) for i in restricted)}
    reach = await uow.members.many(may)
    cards = {c.indicator.id: c for c in await build_cards(uow, restricted, viewer=None, now=now,
                                                            moderator_buttons=True)}
    told: list[Delivery] = []
    for member, identities in reach.values():
        identity = _dm_identity(identities, event.platform)
        theirs = sorted((i for i in restricted if can_decide(member, i)), key=lambda i: i.id)
        if identity is None or not theirs:
            continue
        first = dataclasses.replace(cards[theirs[0].id], org_shown=shown_org_name(theirs[0], member))
        what = " and ".join(f"{n:,} {label}" for label, n in sorted(Counter(i.tlp.label for i in theirs).items()))
        several = len(theirs) != 1
        message = (f"{what} new submission{'s' if several else ''} wait{'' if several else 's'} for your decision; "
                   "only you and "
                   "the others who may see them can decide them (/ioc queue). The first:")
        told.append(Notify(identity, Notice(message, first), f"{event.id}:dm:{member.id}"))
    return told


def _plan_one(event: OutboxEvent, card: IndicatorCard, channels: list[Channel],
              posted: dict[int, list[PostedCard]],
              submitters: dict[int, tuple[Member, tuple[Identity, ...]]]) -> list[Delivery]:
    indicator, platform = card.indicator, event.platform
    deliveries: list[Delivery] = []
    for purpose in (ChannelPurpose.MODERATION, ChannelPurpose.FEED):
        headline = _HEADLINES.get((event.event, purpose))
        wanted = Status.PENDING if purpose is ChannelPurpose.MODERATION else Status.APPROVED
        if headline is None or card.status is not wanted:
            continue
        for channel in channels:
            if channel.purpose is purpose and can_feed(indicator, channel.ceiling):
                key = f"{event.id}:{channel.workspace_id}:{channel.channel_id}"
                deliveries.append(PostCard(channel, for_purpose(card, channel.purpose.value), headline, key))
    deliveries += [UpdateCard(copy, for_purpose(card, copy.purpose)) for copy in posted.get(indicator.id, [])]
    if event.event in _NOTICES and indicator.submitter_id in submitters:
        submitter, identities = submitters[indicator.submitter_id]
        here = _dm_identity(identities, platform)
        if here is not None:
            mine = dataclasses.replace(card, org_shown=indicator.org_name,
                                       buttons=buttons_for(indicator.id, card.status, can_moderate(submitter)))
            message = notice_text(event.event, indicator)
            deliveries.append(Notify(here, Notice(message, mine), f"{event.id}:dm"))
    return deliveries


def for_purpose(card: IndicatorCard, purpose: str) -> IndicatorCard:
    """A channel card: moderation channels get the moderation buttons too."""
    if purpose != ChannelPurpose.MODERATION.value:
        return card
    return dataclasses.replace(card, buttons=buttons_for(card.indicator.id, card.status, moderator=True))


async def _plan_many_submitted(uow: UnitOfWork, event: OutboxEvent, channels: list[Channel]) -> list[Delivery]:
    """A big submission or import: one line in each moderation channel rather than a card per indicator.

    The line counts only what waits for moderation and that channel may see (never AMBER+STRICT or RED, nothing
    above its ceiling), and names no organization when any of the batch is anonymous."""
    payload = event.payload
    by_tlp, anonymous = payload.get("pending_by_tlp"), payload.get("anonymous")
    if by_tlp is None or anonymous is None:  # written before these keys existed: read the rows it names
        listed = await uow.indicators.by_ids(int(i) for i in payload.get("indicator_ids", []))
        by_tlp = Counter(i.tlp.value for i in listed if i.status is Status.PENDING)
        anonymous = any(i.anonymous for i in listed)
    org = None if anonymous else await uow.organizations.get(int(payload.get("org_id", 0)))
    who = org.name if org else ANONYMOUS_ORG
    found: list[Delivery] = []
    for channel in channels:
        count = sum(int(n) for tlp, n in by_tlp.items() if tlp_in_channel(TLP(tlp), channel.ceiling))
        if channel.purpose is ChannelPurpose.MODERATION and count:
            text = (f"{count:,} new indicator{'s' if count != 1 else ''} from {who} "
                    f"wait{'' if count != 1 else 's'} for moderation (/ioc queue).")
            found.append(PostText(channel, text, f"{event.id}:{channel.workspace_id}:{channel.channel_id}",
                                  event.attempts > 1))
    return found


@dataclass
class _Outcome:
    delivered: list[int] = field(default_factory=list)
    failed: dict[int, Exception] = field(default_factory=dict)


class _Recorder:
    """Records each post's message id right after the post (a process killed later has nothing to find again).
    Posts that finish while a record is being written are written together in the next transaction."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self.uow_factory = uow_factory
        self.pending: list[tuple[int, str]] = []
        self.lock = asyncio.Lock()

    async def record(self, posted_card_id: int, message_id: str) -> None:
        self.pending.append((posted_card_id, message_id))
        async with self.lock:
            if not self.pending:  # written by the transaction that held the lock before
                return
            batch, self.pending = self.pending, []
            async with self.uow_factory() as uow:
                await uow.posted_cards.set_messages(batch)
                await uow.commit()


class _Lease:
    """Keeps a claimed batch leased while it is delivered: a live deliverer's rows are never taken over,
    a killed one's come back one lease after its last renewal."""

    def __init__(self, deliverer: Deliverer, events: Sequence[OutboxEvent], until: datetime) -> None:
        self.deliverer, self.ids, self.until = deliverer, [e.id for e in events], until
        self.lost = False  # another deliverer took rows over (this one stalled past its lease): stop posting
        self.task = asyncio.create_task(self._renew(), name=f"{deliverer.platform}-lease")

    async def _renew(self) -> None:
        d = self.deliverer
        while True:  # renewed when a third of the lease has run (at once if claiming it took that long)
            left = (self.until - d.clock()).total_seconds()
            await asyncio.sleep(max(0.0, left - d.lease.total_seconds() * 2 / 3))
            until = d.clock() + d.lease
            try:
                async with d.uow_factory() as uow:
                    kept = await uow.outbox.extend(self.ids, self.until, until)
                    await uow.commit()
                self.until = until
                if kept < len(self.ids) and not self.lost:
                    self.lost = True
                    log.warning("%s deliverer: stalled past its lease; %s rows went to another deliverer, the rest "
                                "of this batch is left to it", d.platform, len(self.ids) - kept)
            except Exception:  # the next renewal tries again; the lease itself is the safety net
                log.warning("%s deliverer: could not renew its lease", d.platform, exc_info=True)

    async def release(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Deliverer:
    """Delivers one platform's outbox rows through its sink; several may run over one database."""

    def __init__(self, uow_factory: UnitOfWorkFactory, sink: DeliverySink, *, clock: Clock,
                 lease: timedelta = timedelta(seconds=60), batch: int = 50, max_attempts: int = 8,
                 poll_interval: float = 1.0, max_backoff: float = 300.0, concurrency: int = 16,
                 clock_skew: timedelta = timedelta(seconds=30)) -> None:
        self.uow_factory = uow_factory
        self.sink = sink
        self.platform = sink.platform
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.concurrency = concurrency  # indicators delivered at once (each one's events stay in order)
        self.clock_skew = clock_skew  # how far the platform's clock may be behind ours: searches start this early
        self.wakeup = asyncio.Event()
        self.observers: list[Callable[[str, OutboxEvent], None]] = []  # (delivered | retry | parked, event)

    def nudge(self) -> None:
        """Something was just committed: deliver now rather than at the next poll."""
        self.wakeup.set()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed.

        One transaction claims the batch, one read plans it, one reserves its posts (with their start time), one
        marks the delivered rows; each post's message id is recorded right after the post. The platform calls run
        concurrently across indicators and in order for each indicator, while the batch's lease is renewed."""
        now = self.clock()
        async with self.uow_factory() as uow:
            events = await uow.outbox.claim(self.platform, now, self.lease, self.batch)
            await uow.commit()
        if not events:
            return 0
        lease = _Lease(self, events, now + self.lease)
        try:
            return await self._deliver(events, lease)
        finally:
            await lease.release()

    async def _deliver(self, events: Sequence[OutboxEvent], lease: _Lease) -> int:
        try:
            async with self.uow_factory(read_only=True) as uow:
                plans = await plan(uow, events, self.clock())
            intents = [PostedCard(self.platform, d.channel.workspace_id, d.channel.channel_id, d.card.indicator.id,
                                  d.channel.purpose.value, delivery_key=d.key)
                       for deliveries in plans.values() for d in deliveries if isinstance(d, PostCard)]
            async with self.uow_factory() as uow:
                reserved = await uow.posted_cards.reserve(intents)
                await uow.commit()
        except Exception as e:
            for event in events:
                await self._failed(event, e)
            return len(events)
        try:
            found = await self._find_earlier(events, plans, reserved)
        except Exception as e:
            for event in events:
                await self._failed(event, e)
            return len(events)
        outcome, recorder = _Outcome(), _Recorder(self.uow_factory)
        by_indicator: dict[object, list[OutboxEvent]] = {}
        for event in events:
            by_indicator.setdefault(event.payload.get("indicator_id", event.id), []).append(event)
        limit = asyncio.Semaphore(self.concurrency)

        async def deliver_in_order(group: list[OutboxEvent]) -> None:
            async with limit:
                for event in group:
                    if lease.lost:  # not ours any more (nor marked delivered or failed here)
                        return
                    try:
                        for delivery in plans[event.id]:
                            await self._execute(delivery, reserved, found, recorder)
                    except Exception as e:
                        outcome.failed[event.id] = e
                    else:
                        outcome.delivered.append(event.id)

        await asyncio.gather(*(deliver_in_order(group) for group in by_indicator.values()))
        async with self.uow_factory() as uow:
            await uow.outbox.delivered(outcome.delivered, self.clock())
            await uow.commit()
        for event in events:
            if event.id in outcome.failed:
                await self._failed(event, outcome.failed[event.id])
            elif event.id in outcome.delivered:
                self._observe("delivered", event)
        return len(events)

    async def drain(self) -> None:
        while await self.run_once():
            pass

    async def run_forever(self, stopping: Callable[[], bool] = lambda: False) -> None:
        while not stopping():
            self.wakeup.clear()  # before the round: a nudge during it (a commit, a NOTIFY, stop) is not lost
            try:
                claimed = await self.run_once()
            except StoreUnavailable as e:  # a database outage: one line, no traceback; the next round tries again
                log.warning("%s deliverer: the store is unavailable (%s)", self.platform, e.reason)
                claimed = 0
            except Exception:
                log.exception("%s deliverer: a round failed", self.platform)
                claimed = 0
            if claimed < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_interval)

    def _observe(self, outcome: str, event: OutboxEvent) -> None:
        for observer in self.observers:
            observer(outcome, event)

    async def _find_earlier(self, events: Sequence[OutboxEvent], plans: dict[int, list[Delivery]],
                            reserved: dict[str, tuple[PostedCard, datetime | None]]) -> dict[str, str]:
        """The posts of this batch that an earlier, killed attempt made but did not record: key -> message id.
        One search per channel (or direct message channel) from the earliest start among its keys."""
        wanted: dict[object, tuple[Channel | Identity, list[str], datetime]] = {}

        def want(where: Channel | Identity, key: str, started: datetime) -> None:
            target = (where.platform, where.workspace_id,
                      where.channel_id if isinstance(where, Channel) else ("dm", where.user_id))
            _, keys, since = wanted.setdefault(target, (where, [], started))
            keys.append(key)
            if started < since:
                wanted[target] = (where, keys, started)

        for event in events:
            for d in plans.get(event.id, []):
                if isinstance(d, PostCard):
                    posted, started = reserved[d.key]
                    if posted.message_id is None and started is not None:
                        want(d.channel, d.key, started)
                # notices and lines keep no record of their own: an earlier attempt of the event posted them,
                # if at all, after the event was written
                elif isinstance(d, Notify) and event.attempts > 1:
                    want(d.identity, d.key, event.created_at)
                elif isinstance(d, PostText) and event.attempts > 1:
                    want(d.channel, d.key, event.created_at)
        found: dict[str, str] = {}
        for where, keys, since in wanted.values():
            found.update(await self.sink.find_posted(where, keys, since - self.clock_skew))
        if found:
            log.info("%s deliverer: %s posts of a killed attempt found, not posted again", self.platform, len(found))
        return found

    async def _execute(self, delivery: Delivery, reserved: dict[str, tuple[PostedCard, datetime | None]],
                       found: dict[str, str], recorder: _Recorder) -> None:
        if isinstance(delivery, UpdateCard):
            await self.sink.update_card(delivery.posted, delivery.card)
        elif isinstance(delivery, Notify):
            if delivery.key not in found:
                await self.sink.notify(delivery.identity, delivery.notice, key=delivery.key)
        elif isinstance(delivery, PostText):
            if delivery.key not in found:
                await self.sink.post_text(delivery.channel, delivery.text, key=delivery.key)
        else:
            posted, _ = reserved[delivery.key]
            if posted.message_id is not None:  # posted and recorded by an earlier attempt: bring it up to date
                await self.sink.update_card(posted, delivery.card)
                return
            message_id = found.get(delivery.key) or await self.sink.post_card(
                delivery.channel, delivery.card, headline=delivery.headline, key=delivery.key)
            await recorder.record(posted.id, message_id)

    async def _failed(self, event: OutboxEvent, error: Exception) -> None:
        now = self.clock()
        text = f"{type(error).__name__}: {error}"[:500]
        async with self.uow_factory() as uow:
            if event.attempts >= self.max_attempts:
                log.error("%s delivery of outbox row %s parked after %s attempts: %s", self.platform, event.id,
                          event.attempts, text)
                await uow.outbox.park(event.id, text, now)
                outcome = "parked"
            else:
                delay = error.retry_after if isinstance(error, DeliveryError) and error.retry_after else \
                    min(self.max_backoff, 2.0 ** event.attempts)
                log.warning("%s delivery of outbox row %s failed (attempt %s), again in %.1fs: %s", self.platform,
                            event.id, event.attempts, delay, text)
                await uow.outbox.retry_later(event.id, text, now + timedelta(seconds=delay))
                outcome = "retry"
            await uow.commit()
        self._observe(outcome, event)


async def remember_posted(uow_factory: UnitOfWorkFactory, cards: list[PostedCard]) -> None:
    """An adapter posted these cards as a public reply: keep them, so that they are edited when their
    indicators change."""
    if not cards:
        return
    async with uow_factory() as uow:
        for card in cards:
            await uow.posted_cards.add(card)
        await uow.commit()
