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

Workspace lanes. A platform spans many workspaces (Slack teams, Discord servers), and a delivery must be made with
the credentials of the workspace it happens in. Every planned delivery has its workspace (the channel's, the posted
card's, the person's identity's), and the sink says for each workspace whether it serves it (`Serving`): HERE (it
holds the workspace's credentials: it delivers), ELSEWHERE (another process may: a single-token Slack process and
another team) or NOWHERE (nobody can: not installed, uninstalled, its token revoked). A row without a workspace
(`OutboxEvent.workspace_id` None, as services write them) is planned for every workspace; the deliverer that
claims it delivers what it serves, and, in the transaction that marks it delivered, writes one lane row per
ELSEWHERE workspace (same event, payload and creation time, `workspace_id` set, its payload naming the row it came
from in `lane_of`, so that its delivery keys are the original row's and a post made before the split is found, not
made twice). A lane row is planned only for its workspace's deliveries and claimed only by a deliverer whose sink
serves that workspace (`DeliverySink.workspaces`, None: every workspace); one that no running process serves
waits, shown per lane by `/ioc admin deliveries`. NOWHERE deliveries are dropped, with one `delivery.dropped` audit
line per row and workspace and a log line, never retried forever; so is the rest of a workspace's part of a row
when the platform refuses its credentials for good in the middle (`WorkspaceRefused`).
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
from enum import Enum
from typing import Protocol

from bot.alerts import DIGEST_EVENT, Alert, ChannelAlert, WatchCache, plan_alerts, plan_digest
from bot.domain import (
    Channel,
    ChannelPurpose,
    Identity,
    Indicator,
    Member,
    OutboxEvent,
    Platform,
    PostedCard,
    StatsTrends,
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
from bot.score import ScoreModel
from bot.services import build_cards, buttons_for
from bot.tlp import TLP
from bot.weekly import WEEKLY_EVENT, plan_weekly

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A sink's failure that says when to try again (a rate limit's Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkspaceRefused(DeliveryError):
    """The platform refused a workspace's credentials for good (token revoked, app uninstalled, account inactive):
    the sink serves that workspace NOWHERE from now on, and what was left of the row there is dropped (audited)."""

    def __init__(self, workspace_id: str, reason: str) -> None:
        super().__init__(f"workspace {workspace_id}: {reason}")
        self.workspace_id, self.reason = workspace_id, reason


class Serving(Enum):
    """Whether a sink can deliver into a workspace."""

    HERE = "here"  # it holds the workspace's credentials: it delivers
    ELSEWHERE = "elsewhere"  # another process may: a lane row is left for it
    NOWHERE = "nowhere"  # nobody can (not installed, uninstalled, revoked): dropped with an audit line


class DeliverySink(Protocol):
    """What an adapter implements to deliver its platform's outbox rows. Each method only translates.

    A sink without `serves` (the console's, tests') serves every workspace HERE."""

    platform: Platform
    workspaces: frozenset[str] | None  # the lanes it claims besides rows for every workspace; None: every lane

    async def serves(self, workspace_id: str) -> Serving:
        """Whether this sink delivers into that workspace (with that workspace's own credentials)."""

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        """Post the card in the channel, carrying `key` where `find_posted` can read it; return its message id."""

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        """Edit a card posted earlier so that it shows the indicator as it is now."""

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        """Tell one person privately (a direct message) carrying `key`."""

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        """Post a short plain message (no user-supplied text in it) carrying `key`; return its message id."""

    async def post_file(self, channel: Channel, filename: str, data: bytes, text: str, *, key: str) -> str:
        """Post a file (the weekly digest's chart) in the channel with `text` (plain: the sink escapes it),
        carrying `key` where `find_posted` can read it; return its message id."""

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
    watch_alert: tuple[int, int] | None = None  # (watch, indicator) of a channel watch's alert

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


@dataclass(frozen=True)
class UpdateCard:
    posted: PostedCard
    card: IndicatorCard

    @property
    def workspace_id(self) -> str:
        return self.posted.workspace_id


@dataclass(frozen=True)
class Notify:
    identity: Identity
    notice: Notice
    key: str
    watch_alert: tuple[int, int] | None = None  # (watch, indicator) of a watcher's alert

    @property
    def workspace_id(self) -> str:
        return self.identity.workspace_id


@dataclass(frozen=True)
class PostText:
    channel: Channel
    text: str
    key: str
    retry: bool

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


@dataclass(frozen=True)
class PostFile:
    """The weekly digest in one feed channel (bot.weekly): its chart, drawn by the deliverer, and its text."""

    channel: Channel
    trends: StatsTrends
    text: str
    filename: str
    key: str

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


Delivery = PostCard | UpdateCard | Notify | PostText | PostFile

_HEADLINES = {
    ("indicator.submitted", ChannelPurpose.MODERATION): "New submission waiting for moderation",
    ("indicator.approved", ChannelPurpose.FEED): "Approved for the coalition",
}
_NOTICES = ("indicator.approved", "indicator.rejected", "indicator.revoked")  # the submitter is told of these
REOPENED_NOTICE = "indicator.reopened"  # an `indicator.submitted` with `reopened` (bot.lifecycle): told too


def _tells_submitter(event: OutboxEvent) -> bool:
    return event.event in _NOTICES or (event.event == "indicator.submitted" and bool(event.payload.get("reopened")))
LANE_OF = "lane_of"  # in a lane row's payload: the id of the row it was split from (its delivery keys are that row's)
LANE_RETRIED = "lane_retried"  # ... and whether that row had been tried before (its notices may be out already)


def origin_id(event: OutboxEvent) -> int:
    """The row whose id a delivery key carries: the row itself, or for a lane row the row it was split from."""
    return int(event.payload.get(LANE_OF, event.id))


def lane_payload(event: OutboxEvent) -> dict[str, object]:
    """The payload of a lane row split from this row: the same, naming the row whose delivery keys it keeps."""
    payload: dict[str, object] = {**event.payload, LANE_OF: origin_id(event)}
    if retried(event):
        payload[LANE_RETRIED] = True
    return payload


def retried(event: OutboxEvent) -> bool:
    """Whether an earlier attempt may have delivered some of this row (its own, or its origin row's)."""
    return event.attempts > 1 or bool(event.payload.get(LANE_RETRIED))


def kind_of(delivery: Delivery) -> str:
    """posts, edits or notices (how a dropped delivery is counted)."""
    return "edits" if isinstance(delivery, UpdateCard) else "notices" if isinstance(delivery, Notify) else "posts"


def notice_text(event: str, indicator: Indicator) -> str:
    """What the submitter is told: what actually happened, for this TLP."""
    ref, reason = indicator.ref, indicator.status_reason or "-"
    if event == REOPENED_NOTICE:
        return f"Your indicator {ref} was reopened and waits for moderation again: {reason}"
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
    whichever platform the event came from. The notice goes in that identity's workspace's lane (told with that
    workspace's credentials, or dropped with the workspace when nobody serves it)."""
    return next((i for i in identities if i.platform is platform), None)


async def plan(uow: UnitOfWork, events: Sequence[OutboxEvent], now: datetime,
               watches: WatchCache | None = None, model: ScoreModel | None = None,
               default_ceiling: TLP = TLP.GREEN) -> dict[int, list[Delivery]]:
    """What each of these events (of one platform) means there, given the store as it is now: for a row of every
    workspace, the deliveries in all of them; for a lane row (`workspace_id` set), its workspace's only. A batch
    costs the same few queries as one event: indicators, channels, posted cards, tallies, submitters."""
    if not events:
        return {}
    platform = events[0].platform
    ids = {int(e.payload["indicator_id"]) for e in events if "indicator_id" in e.payload}
    indicators = {i.id: i for i in await uow.indicators.by_ids(ids)}
    cards = {c.indicator.id: c for c in await build_cards(uow, list(indicators.values()), viewer=None, now=now,
                                                            moderator_buttons=False, model=model)}
    channels = [c for c in await uow.channels.list() if c.platform is platform]
    posted: dict[int, list[PostedCard]] = {}
    for copy in await uow.posted_cards.of_indicators(indicators, platform):
        posted.setdefault(copy.indicator_id, []).append(copy)
    told = {indicators[int(e.payload["indicator_id"])].submitter_id for e in events
            if _tells_submitter(e) and int(e.payload.get("indicator_id", 0)) in indicators}
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
        if event.event == WEEKLY_EVENT:
            plans[event.id] = [PostFile(p.channel, p.trends, p.text, p.filename,
                                        f"{origin_id(event)}:{p.channel.workspace_id}:{p.channel.channel_id}")
                               for p in await plan_weekly(uow, event, channels)]
            continue
        if event.event == "indicators.submitted":
            plans[event.id] = [*await _plan_many_submitted(uow, event, channels),
                               *await _tell_deciders_of_batch(uow, event, now, model)]
            continue
        card = cards.get(int(event.payload.get("indicator_id", 0)))
        plans[event.id] = [] if card is None else _plan_one(event, card, channels, posted, submitters,
                                                            default_ceiling)
        if card is not None and card.indicator.id in restricted_ids:
            plans[event.id] += _tell_deciders(event, card, deciders)
    if watches is not None:  # the watchers these events concern (bot.alerts)
        alerts_of = await plan_alerts(uow, events, cards, channels, platform, watches, origin_id)
        for event in events:
            if event.event == DIGEST_EVENT:
                alerts_of[event.id] = await plan_digest(uow, event, lambda listed: build_cards(
                    uow, listed, viewer=None, now=now, moderator_buttons=False, model=model), channels)
        for event_id, alerts in alerts_of.items():
            plans[event_id] += _alert_deliveries(next(e for e in events if e.id == event_id), alerts)
    for event in events:  # a lane row: only its workspace's part (the rest went out with the row it came from)
        if event.workspace_id is not None:
            plans[event.id] = [d for d in plans[event.id] if d.workspace_id == event.workspace_id]
    return plans


def _alert_deliveries(event: OutboxEvent, alerts: Sequence[Alert]) -> list[Delivery]:
    found: list[Delivery] = []
    for alert in alerts:
        key = f"{origin_id(event)}:watch:{alert.watch.id}"
        pair = (alert.watch.id, alert.card.indicator.id) if alert.coalesced else None
        if isinstance(alert, ChannelAlert):
            card = for_purpose(alert.card, alert.channel.purpose.value)
            found.append(PostCard(alert.channel, card, alert.headline, key, watch_alert=pair))
        elif (identity := _dm_identity(alert.identities, event.platform)) is not None:
            found.append(Notify(identity, Notice(alert.message, alert.card), key, watch_alert=pair))
    return found


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
        told.append(Notify(identity, Notice(message, theirs), f"{origin_id(event)}:dm:{member.id}"))
    return told


async def _tell_deciders_of_batch(uow: UnitOfWork, event: OutboxEvent, now: datetime,
                                  model: ScoreModel | None = None) -> list[Delivery]:
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
                                                            moderator_buttons=True, model=model)}
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
        told.append(Notify(identity, Notice(message, first), f"{origin_id(event)}:dm:{member.id}"))
    return told


def _plan_one(event: OutboxEvent, card: IndicatorCard, channels: list[Channel],
              posted: dict[int, list[PostedCard]],
              submitters: dict[int, tuple[Member, tuple[Identity, ...]]], default_ceiling: TLP) -> list[Delivery]:
    indicator, platform = card.indicator, event.platform
    deliveries: list[Delivery] = []
    for purpose in (ChannelPurpose.MODERATION, ChannelPurpose.FEED):
        headline = _HEADLINES.get((event.event, purpose))
        wanted = Status.PENDING if purpose is ChannelPurpose.MODERATION else Status.APPROVED
        if headline is None or card.status is not wanted:
            continue
        for channel in channels:
            if channel.purpose is purpose and can_feed(indicator, channel.ceiling):
                key = f"{origin_id(event)}:{channel.workspace_id}:{channel.channel_id}"
                deliveries.append(PostCard(channel, for_purpose(card, channel.purpose.value), headline, key))
    # a copy is kept up to date only where the item may still be shown (an edit may have raised its TLP): a
    # channel no admin registered has the policy's default ceiling, as its public replies had
    ceilings = {(c.workspace_id, c.channel_id): c.ceiling for c in channels}
    deliveries += [UpdateCard(copy, for_purpose(card, copy.purpose)) for copy in posted.get(indicator.id, [])
                   if can_feed(indicator, ceilings.get((copy.workspace_id, copy.channel_id), default_ceiling))]
    told = submitters.get(indicator.submitter_id)
    if _tells_submitter(event) and told is not None and not told[0].org_disabled:  # a disabled org hears nothing
        submitter, identities = submitters[indicator.submitter_id]
        here = _dm_identity(identities, platform)
        if here is not None:
            mine = dataclasses.replace(card, org_shown=indicator.org_name,
                                       buttons=buttons_for(indicator.id, card.status, can_moderate(submitter)))
            message = notice_text(REOPENED_NOTICE if event.payload.get("reopened") else event.event, indicator)
            deliveries.append(Notify(here, Notice(message, mine), f"{origin_id(event)}:dm"))
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
            found.append(PostText(channel, text, f"{origin_id(event)}:{channel.workspace_id}:{channel.channel_id}",
                                  retried(event)))
    return found


@dataclass
class _Outcome:
    delivered: list[int] = field(default_factory=list)
    failed: dict[int, Exception] = field(default_factory=dict)


@dataclass
class _Route:
    """Where one row's deliveries go: those made here, the workspaces left to another process (one lane row
    each), and those dropped (workspace -> reason and how many posts, edits, notices)."""

    here: list[Delivery] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    dropped: dict[str, tuple[str, Counter[str]]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # workspace -> why, refused during this attempt
    error: Exception | None = None  # a lane row for a workspace this sink does not serve: not delivered here

    def drop(self, workspace_id: str, reason: str, delivery: Delivery) -> None:
        _, counts = self.dropped.setdefault(workspace_id, (reason, Counter()))
        counts[kind_of(delivery)] += 1


NOT_INSTALLED = "no installation serves this workspace (not installed, uninstalled, or its token revoked)"


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
                 clock_skew: timedelta = timedelta(seconds=30),
                 chart: Callable[[StatsTrends], bytes] | None = None, score_model: ScoreModel | None = None,
                 default_ceiling: TLP = TLP.GREEN) -> None:
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
        self.default_ceiling = default_ceiling  # of channels no admin registered (the policy's)
        self.wakeup = asyncio.Event()
        self.observers: list[Callable[[str, OutboxEvent], None]] = []  # (delivered | retry | parked, event)
        self.watches = WatchCache()  # every watch, reloaded when they change: alerts are planned with the rows
        self.chart = chart  # draws the weekly digest's picture (adapters.charts.stats_png); None: its text only
        self.score_model = score_model  # the cards' scores (`[score]`, bot.policy.Policy.score_model)

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
            events = await uow.outbox.claim(self.platform, now, self.lease, self.batch,
                                            workspaces=getattr(self.sink, "workspaces", None))
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
                plans = await plan(uow, events, self.clock(), self.watches, self.score_model, self.default_ceiling)
            routes = await self._route(events, plans)
            intents = [PostedCard(self.platform, d.channel.workspace_id, d.channel.channel_id, d.card.indicator.id,
                                  d.channel.purpose.value, delivery_key=d.key)
                       for route in routes.values() for d in route.here if isinstance(d, PostCard)]
            async with self.uow_factory() as uow:
                reserved = await uow.posted_cards.reserve(intents)
                for event in events:  # the alerts planned: a later event within the hour does not repeat them
                    pairs = [d.watch_alert for d in plans.get(event.id, ())
                             if isinstance(d, PostCard | Notify) and d.watch_alert]
                    if pairs:
                        await uow.watches.mark_alerted(pairs, self.platform.value, event.created_at,
                                                       origin_id(event))
                await uow.commit()
        except Exception as e:
            for event in events:
                await self._failed(event, e)
            return len(events)
        try:
            found = await self._find_earlier(events, routes, reserved)
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
                    route = routes[event.id]
                    try:
                        if route.error is not None:
                            raise route.error
                        for delivery in route.here:
                            await self._execute_in_workspace(delivery, route, reserved, found, recorder)
                    except Exception as e:
                        outcome.failed[event.id] = e
                    else:
                        outcome.delivered.append(event.id)

        await asyncio.gather(*(deliver_in_order(group) for group in by_indicator.values()))
        delivered = [e for e in events if e.id in set(outcome.delivered)]
        now = self.clock()
        async with self.uow_factory() as uow:  # the rows, their lanes and their drops: one transaction
            await uow.outbox.delivered(outcome.delivered, now)
            for event in delivered:
                route = routes[event.id]
                if route.elsewhere:
                    await uow.outbox.add_lanes(event, lane_payload(event), route.elsewhere, now)
                for workspace_id, (reason, counts) in sorted(route.dropped.items()):
                    await uow.audit.append("delivery.dropped", at=now, platform=self.platform, member_id=None,
                                           indicator_id=_indicator_of(event),
                                           detail={"outbox_id": event.id, "event": event.event,
                                                   "workspace": workspace_id, "reason": reason,
                                                   "posts": counts["posts"], "edits": counts["edits"],
                                                   "notices": counts["notices"]})
            await uow.commit()
        for event in delivered:
            route = routes[event.id]
            for workspace_id, (reason, counts) in sorted(route.dropped.items()):
                log.warning("%s delivery of outbox row %s (%s) to workspace %s dropped: %s (%s posts, %s edits, "
                            "%s notices)", self.platform, event.id, event.event, workspace_id, reason,
                            counts["posts"], counts["edits"], counts["notices"])
            if route.elsewhere:
                log.info("%s outbox row %s: left to the processes serving %s (one lane row each)", self.platform,
                         event.id, ", ".join(route.elsewhere))
        for event in events:
            if event.id in outcome.failed:
                await self._failed(event, outcome.failed[event.id])
            elif event.id in outcome.delivered:
                self._observe("delivered", event)
        return len(events)

    async def _route(self, events: Sequence[OutboxEvent], plans: dict[int, list[Delivery]]) -> dict[int, _Route]:
        """Split each row's deliveries by whether this sink serves their workspace (asked once per workspace)."""
        serves = getattr(self.sink, "serves", None)
        serving: dict[str, Serving] = {}
        for workspace_id in sorted({d.workspace_id for deliveries in plans.values() for d in deliveries}):
            serving[workspace_id] = Serving.HERE if serves is None else await serves(workspace_id)
        routes: dict[int, _Route] = {}
        for event in events:
            route = routes[event.id] = _Route()
            for delivery in plans.get(event.id, []):
                where = delivery.workspace_id
                if serving[where] is Serving.HERE:
                    route.here.append(delivery)
                elif serving[where] is Serving.NOWHERE:
                    route.drop(where, NOT_INSTALLED, delivery)
                elif event.workspace_id is None:
                    if where not in route.elsewhere:
                        route.elsewhere.append(where)
                else:  # claimed by a sink that says it does not serve the row's own lane: leave it to the next
                    route.error = DeliveryError(f"workspace {where} is not served by this process")
        return routes

    async def _execute_in_workspace(self, delivery: Delivery, route: _Route,
                                    reserved: dict[str, tuple[PostedCard, datetime | None]],
                                    found: dict[str, str], recorder: _Recorder) -> None:
        """One delivery, unless its workspace refused this sink's credentials for good earlier in the row: then it
        is dropped with the rest of the workspace's part (the other workspaces' deliveries go on)."""
        where = delivery.workspace_id
        if where in route.refused:
            route.drop(where, route.refused[where], delivery)
            return
        try:
            await self._execute(delivery, reserved, found, recorder)
        except WorkspaceRefused as e:
            route.refused[where] = f"the platform refused the workspace's credentials: {e.reason}"
            route.drop(where, route.refused[where], delivery)

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

    async def _find_earlier(self, events: Sequence[OutboxEvent], routes: dict[int, _Route],
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
            for d in routes[event.id].here:
                if isinstance(d, PostCard):
                    posted, started = reserved[d.key]
                    if posted.message_id is None and started is not None:
                        want(d.channel, d.key, started)
                # notices and lines keep no record of their own: an earlier attempt of the event (or of the row a
                # lane row came from) posted them, if at all, after the event was written
                elif isinstance(d, Notify) and retried(event):
                    want(d.identity, d.key, event.created_at)
                elif isinstance(d, PostText | PostFile) and retried(event):
                    want(d.channel, d.key, event.created_at)
        found: dict[str, str] = {}
        for where, keys, since in wanted.values():
            try:
                found.update(await self.sink.find_posted(where, keys, since - self.clock_skew))
            except WorkspaceRefused:  # its deliveries are refused (and dropped) when they are made
                continue
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
        elif isinstance(delivery, PostFile):
            if delivery.key in found:
                return
            if self.chart is None:
                await self.sink.post_text(delivery.channel, delivery.text, key=delivery.key)
                return
            data = await asyncio.to_thread(self.chart, delivery.trends)  # a few hundred ms: off the event loop
            await self.sink.post_file(delivery.channel, delivery.filename, data, delivery.text, key=delivery.key)
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


def _indicator_of(event: OutboxEvent) -> int | None:
    value = event.payload.get("indicator_id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


async def remember_posted(uow_factory: UnitOfWorkFactory, cards: list[PostedCard]) -> None:
    """An adapter posted these cards as a public reply: keep them, so that they are edited when their
    indicators change."""
    if not cards:
        return
    async with uow_factory() as uow:
        for card in cards:
            await uow.posted_cards.add(card)
        await uow.commit()
