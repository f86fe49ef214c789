"""What each event means on one platform, given the store as it is now: cards to moderation and feed channels within
their ceilings, every posted copy kept up to date, the submitter and those who may decide told, watchers alerted."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from bot.alerts import DIGEST_EVENT, Alert, ChannelAlert, WatchCache, plan_alerts, plan_digest
from bot.cases import CASE_CHANGED, CASE_POSTED, channel_cards
from bot.comments import COMMENTED
from bot.domain import (
    Case,
    Channel,
    ChannelPurpose,
    Comment,
    Identity,
    Indicator,
    Member,
    OutboxEvent,
    Platform,
    PostedCard,
    PostedCaseCard,
    Status,
)
from bot.ports import UnitOfWork
from bot.results import IndicatorCard, Notice
from bot.rules import (
    ANONYMOUS_ORG,
    can_decide,
    can_feed,
    can_moderate,
    comment_author,
    moderated_in_channels,
    shown_org_name,
    tlp_in_channel,
)
from bot.score import ScoreModel
from bot.services import build_cards, buttons_for
from bot.tlp import TLP
from bot.weekly import WEEKLY_EVENT, plan_weekly

from .lanes import origin_id, retried
from .sink import (
    Delivery,
    Notify,
    PostCard,
    PostCaseCard,
    PostComment,
    PostFile,
    PostText,
    ThreadComment,
    UpdateCard,
    UpdateCaseCard,
)

_HEADLINES = {
    ("indicator.submitted", ChannelPurpose.MODERATION): "New submission waiting for moderation",
    ("indicator.approved", ChannelPurpose.FEED): "Approved for the coalition",
}


_NOTICES = ("indicator.approved", "indicator.rejected", "indicator.revoked")  # the submitter is told of these


REOPENED_NOTICE = "indicator.reopened"  # an `indicator.submitted` with `reopened` (bot.lifecycle): told too


def _tells_submitter(event: OutboxEvent) -> bool:
    return event.event in _NOTICES or (event.event == "indicator.submitted" and bool(event.payload.get("reopened")))


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
    commented = [int(e.payload["comment_id"]) for e in events if e.event == COMMENTED and "comment_id" in e.payload]
    comments = await uow.context.comments_by_ids(commented) if commented else {}
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
        if event.event in (CASE_POSTED, CASE_CHANGED):
            plans[event.id] = []  # planned with the cases below
            continue
        card = cards.get(int(event.payload.get("indicator_id", 0)))
        if event.event == COMMENTED:
            plans[event.id] = [] if card is None else _plan_comment(event, card, comments, channels, posted,
                                                                    default_ceiling)
            continue
        plans[event.id] = [] if card is None else _plan_one(event, card, channels, posted, submitters,
                                                            default_ceiling)
        if card is not None and card.indicator.id in restricted_ids:
            plans[event.id] += _tell_deciders(event, card, deciders)
    for event_id, found in (await _plan_cases(uow, events, indicators, channels, now, model,
                                              default_ceiling)).items():
        plans[event_id] += found
    if watches is not None:  # the watchers these events concern (bot.alerts)
        alerts_of = await plan_alerts(uow, events, cards, channels, platform, watches, origin_id)
        for event in events:
            if event.event == DIGEST_EVENT:
                alerts_of[event.id] = await plan_digest(uow, event, lambda listed: build_cards(
                    uow, listed, viewer=None, now=now, moderator_buttons=False, model=model), channels)
        by_id = {e.id: e for e in events}
        for event_id, alerts in alerts_of.items():
            plans[event_id] += _alert_deliveries(by_id[event_id], alerts)
    for event in events:  # a lane row: only its workspace's part (the rest went out with the row it came from)
        if event.workspace_id is not None:
            plans[event.id] = [d for d in plans[event.id] if d.workspace_id == event.workspace_id]
    return plans


def _ceiling_now(channels: Sequence[Channel], workspace_id: str, channel_id: str, default_ceiling: TLP) -> TLP:
    """A channel's ceiling as it is now: an admin's, or for a channel no admin registered the policy's default
    (what its public replies had)."""
    return next((c.ceiling for c in channels if (c.workspace_id, c.channel_id) == (workspace_id, channel_id)),
                default_ceiling)


def _plan_comment(event: OutboxEvent, card: IndicatorCard, comments: dict[int, Comment], channels: list[Channel],
                  posted: dict[int, list[PostedCard]], default_ceiling: TLP) -> list[Delivery]:
    """A comment threaded under every posted copy of its indicator's card whose channel may still show the item
    (its TLP may have been raised since the card was posted there), its author as the channel may see them."""
    comment = comments.get(int(event.payload.get("comment_id", 0)))
    indicator = card.indicator
    if comment is None or comment.indicator_id != indicator.id:
        return []
    # the channel's audience: no organization behind an anonymous item, nor behind its comments
    author = comment_author(indicator, comment.org_name, shown_org_name(indicator, None))
    shown = ThreadComment(indicator.ref, author, comment.text, comment.created_at)
    ceilings = {(c.workspace_id, c.channel_id): c.ceiling for c in channels}
    return [PostComment(copy, shown, f"{origin_id(event)}:thread:{copy.id}") for copy in posted.get(indicator.id, [])
            if can_feed(indicator, ceilings.get((copy.workspace_id, copy.channel_id), default_ceiling))]


async def _plan_cases(uow: UnitOfWork, events: Sequence[OutboxEvent], indicators: dict[int, Indicator],
                      channels: list[Channel], now: datetime, model: ScoreModel | None,
                      default_ceiling: TLP) -> dict[int, list[Delivery]]:
    """Live case cards: a case's card posted in the channel that asked for it (`case.posted`), and every posted
    card of a case edited when the case changed (`case.changed`) or one of its indicators did (any of their events
    but a comment). A card shows what its channel's audience may see: under the lower of the ceiling it was posted
    with and the channel's ceiling now; and it is edited only for a change that channel could see (an indicator
    within its ceiling now, or before an edit of its TLP), so that an edit tells it nothing of the others. Each
    posted card is edited once a batch, with the store as it is now."""
    platform = events[0].platform
    # event -> case -> the TLPs of the indicators it concerns (None: whatever they are)
    concerns: dict[int, dict[int, set[TLP] | None]] = {}
    changed_ids = {int(i) for e in events if e.event == CASE_CHANGED for i in e.payload.get("indicator_ids", ())}
    changed = {i.id: i for i in await uow.indicators.by_ids(changed_ids)} if changed_ids else {}
    for event in events:
        if event.event == CASE_CHANGED and "case_id" in event.payload:
            listed = event.payload.get("indicator_ids")
            concerns[event.id] = {int(event.payload["case_id"]): None if listed is None else
                                  {changed[int(i)].tlp for i in listed if int(i) in changed}}
        elif event.event == CASE_POSTED and "case_id" in event.payload:
            concerns[event.id] = {int(event.payload["case_id"]): set()}
    touched = [e for e in events if e.event != COMMENTED and int(e.payload.get("indicator_id", 0)) in indicators]
    if touched:
        holding = await uow.context.cases_of(indicators)
        for event in touched:
            ind = indicators[int(event.payload["indicator_id"])]
            tlps = {ind.tlp, *([TLP(event.payload["previous_tlp"])] if "previous_tlp" in event.payload else [])}
            for case_id in holding.get(ind.id, ()):
                concerns.setdefault(event.id, {})[case_id] = tlps
    if not concerns:
        return {}
    case_ids = {c for of_event in concerns.values() for c in of_event}
    copies: dict[int, list[PostedCaseCard]] = {}
    for copy in await uow.posted_cards.of_cases(case_ids, platform):
        copies.setdefault(copy.case_id, []).append(copy)
    posts = [e for e in events if e.event == CASE_POSTED and "case_id" in e.payload]
    if not copies and not posts:
        return {}
    cases: dict[int, Case] = {}
    for case_id in sorted(case_ids):
        if (case := await uow.context.case_by_id(case_id)) is not None:
            cases[case_id] = case

    def ceiling_of(workspace_id: str, channel_id: str, then: TLP) -> TLP:
        return min(then, _ceiling_now(channels, workspace_id, channel_id, default_ceiling))

    wanted = [(cases[c.case_id], ceiling_of(c.workspace_id, c.channel_id, c.ceiling))
              for ids in copies.values() for c in ids if c.case_id in cases]
    wanted += [(cases[int(e.payload["case_id"])], ceiling_of(str(e.payload["workspace_id"]),
                                                            str(e.payload["channel_id"]), TLP(e.payload["ceiling"])))
               for e in posts if int(e.payload["case_id"]) in cases]
    built = await channel_cards(uow, wanted, now, model)
    found: dict[int, list[Delivery]] = {}
    edited: set[int] = set()
    for event in events:
        for case_id, tlps in sorted(concerns.get(event.id, {}).items()):
            for copy in copies.get(case_id, []):
                ceiling = ceiling_of(copy.workspace_id, copy.channel_id, copy.ceiling)
                card = built.get((case_id, ceiling))
                seen = tlps is None or any(tlp_in_channel(tlp, ceiling) for tlp in tlps)
                if card is not None and seen and copy.id not in edited:
                    edited.add(copy.id)
                    found.setdefault(event.id, []).append(UpdateCaseCard(copy, card))
        if event.event == CASE_POSTED and "case_id" in event.payload:
            payload = event.payload
            workspace_id, channel_id = str(payload["workspace_id"]), str(payload["channel_id"])
            ceiling = ceiling_of(workspace_id, channel_id, TLP(payload["ceiling"]))
            card = built.get((int(payload["case_id"]), ceiling))
            if card is None:  # the channel's ceiling was lowered below the case's TLP since it was asked for
                continue
            channel = next((c for c in channels if (c.workspace_id, c.channel_id) == (workspace_id, channel_id)),
                           Channel(platform, workspace_id, channel_id, ceiling))
            found.setdefault(event.id, []).append(
                PostCaseCard(channel, card, ceiling, f"{origin_id(event)}:case:{workspace_id}:{channel_id}"))
    return found


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
