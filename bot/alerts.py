"""Watch alerts (issue 12): which watchers an outbox event tells, and what they are told.

An alert is planned with the event's other deliveries (bot.delivery), on each platform's outbox row: a watcher
is told in a direct message on every platform where they have an identity; a channel watch posts the card in its
channel. The who-may-see-what rules are the core's, exactly as for a lookup:

* a personal watch alerts only if its owner may see the item in private (bot.rules.can_see), with the card
  dressed for them (an anonymous item names no organization unless it is theirs);
* a channel watch alerts only of decided items (approved, revoked, expired: what the coalition relays; never a
  pending submission) that may be shown in that channel (its TLP within the ceiling), dressed for the channel's
  audience;
* a watch limited to an organization (`org:NAME`) matches an anonymous item only for a watcher of that same
  organization, and never in a channel (anyone else learns nothing of who is behind it);
* a watcher's own organization's items alert them only with `self:on`.

What is not sent leaves no trace: no count, no placeholder, no mark. Alerts are coalesced by the events' times:
a (watch, indicator) pair that alerted for an event written less than an hour before this one does not alert
again on this platform; a retried event is sent again under the same delivery key (`ROW:watch:WATCH`, so the
deliverer finds what an earlier attempt posted).
Digest watches (`digest:daily`) are told once a day instead (bot.alerts.digest_due).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.domain import Channel, Identity, Indicator, Member, OutboxEvent, Platform, Status
from bot.ioc.refanging import defang
from bot.ports import UnitOfWork
from bot.results import IndicatorCard
from bot.rules import can_feed, can_see, shown_org_name, visibility
from bot.tlp import TLP
from bot.values import frozen
from bot.watch_index import Subject, Watch, WatchIndex

COALESCE = timedelta(hours=1)

# event -> what happened, as the alert says it
ALERTING = {
    "indicator.submitted": "was submitted",
    "indicator.approved": "was approved",
    "indicator.sighted": "was sighted again",
    "indicator.revoked": "was revoked",
    "indicator.expired": "expired",
    "indicator.voted": "was confirmed by another organization",  # only when the payload says so
    "indicator.edited": "was edited",
}


@frozen
class PersonalAlert:
    """Tell one person (on the platform's identity of theirs) that their watch matched."""

    watch: Watch
    identities: tuple[Identity, ...]
    message: str
    card: IndicatorCard
    coalesced: bool = True  # an event's alert (marked for coalescing), not a daily digest


@frozen
class ChannelAlert:
    """Post the card in a channel whose watch matched."""

    watch: Watch
    channel: Channel
    headline: str
    card: IndicatorCard
    coalesced: bool = True


Alert = PersonalAlert | ChannelAlert


class WatchCache:
    """One process's index of every watch, reloaded when the store's watches change (one cheap query a
    round)."""

    def __init__(self) -> None:
        self.fingerprint: tuple[int, int] | None = None
        self.index = WatchIndex()
        self.watches: dict[int, Watch] = {}

    async def load(self, uow: UnitOfWork) -> WatchCache:
        fingerprint = await uow.watches.fingerprint()
        if fingerprint != self.fingerprint:
            listed = await uow.watches.all()
            self.watches = {w.id: w for w in listed}
            self.index = WatchIndex((w.id, w.target) for w in listed)
            self.fingerprint = fingerprint
        return self


def _alerts_on(event: OutboxEvent) -> bool:
    if event.event == "indicator.voted":
        return bool(event.payload.get("confirmed_by_new_org"))
    return event.event in ALERTING


def _subject(indicator: Indicator, watcher_org_id: int | None) -> Subject:
    shows_org = not indicator.anonymous or indicator.org_id == watcher_org_id
    return Subject(indicator.type, indicator.value, indicator.tags, indicator.malware or None,
                   indicator.org_name if shows_org else None)


async def plan_alerts(uow: UnitOfWork, events: Sequence[OutboxEvent], cards: dict[int, IndicatorCard],
                      channels: Sequence[Channel], platform: Platform, cache: WatchCache,
                      origin: Callable[[OutboxEvent], int]) -> dict[int, list[Alert]]:
    """The alerts each of these events (of one platform) sends: event id -> alerts. `origin` names the outbox
    row an event's alerts are marked with (a lane row's is the row it was split from)."""
    wanted = [e for e in events if _alerts_on(e) and int(e.payload.get("indicator_id", 0)) in cards]
    if not wanted:
        return {}
    await cache.load(uow)
    if not cache.watches:
        return {}
    # match every indicator once with the anonymous reading; limited watches of the submitting organization
    # are matched again with its name (they may know it is theirs)
    matched: dict[int, set[int]] = {}
    for event in wanted:
        ind = cards[int(event.payload["indicator_id"])].indicator
        if ind.id not in matched:
            found = cache.index.match(_subject(ind, None))
            if ind.anonymous:
                found |= cache.index.match(_subject(ind, ind.org_id))
            matched[ind.id] = found
    owners = {cache.watches[w].member_id for ids in matched.values() for w in ids}
    people = await uow.members.many(owners)
    pairs = {(w, i) for i, ids in matched.items() for w in ids}
    last = dict(await uow.watches.last_alerts(pairs, platform.value, min(e.created_at for e in wanted) - COALESCE,
                                              max(e.created_at for e in wanted)))
    by_channel = {(c.platform.value, c.workspace_id, c.channel_id): c for c in channels}
    planned: dict[int, list[Alert]] = {}
    for event in sorted(wanted, key=lambda e: (e.created_at, e.id)):
        card = cards[int(event.payload["indicator_id"])]
        ind = card.indicator
        what = "was reopened" if event.payload.get("reopened") else ALERTING[event.event]
        for watch_id in sorted(matched[ind.id]):
            watch = cache.watches[watch_id]
            owner = people.get(watch.member_id)
            if owner is None or watch.digest or owner[0].org_disabled:  # a disabled organization is told nothing
                continue
            member, identities = owner
            if not _may_alert(watch, member, ind, by_channel):
                continue
            pair, at, row = (watch_id, ind.id), event.created_at, origin(event)
            before = last.get(pair)
            if before is not None and at - COALESCE <= before[0] <= at and before[1] != row:
                continue  # another event told them less than an hour before this one
            if before is None or before[0] <= at:
                last[pair] = (at, row)
            if watch.channel is None:
                theirs = dataclasses.replace(card, org_shown=shown_org_name(ind, member), buttons=())
                message = f"Your watch {watch.ref} ({watch.target}) matched: {ind.ref} {what}."
                planned.setdefault(event.id, []).append(PersonalAlert(watch, identities, message, theirs))
            else:
                channel = by_channel[watch.channel]
                headline = f"Watch {watch.ref} ({watch.target}): {ind.ref} {what}"
                planned.setdefault(event.id, []).append(ChannelAlert(watch, channel, headline, card))
    return planned


# ---------------------------------------------------------------- daily digests

DIGEST_EVERY = timedelta(days=1)
DIGEST_SHOWN = 10  # indicators listed in one digest message
DIGEST_EVENT = "watch.digest"


async def write_digests(uow: UnitOfWork, now: datetime, platforms: Sequence[Platform]) -> int:
    """The day's digest of every `digest:daily` watch whose day is over: one outbox event per watch with
    something it may be told of (per delivering platform), then the day starts again. Run by the maintenance
    loop; returns how many digests were written. The caller commits."""
    due = await uow.watches.digests_due(now - DIGEST_EVERY)
    if not due:
        return 0
    index = WatchIndex((w.id, w.target) for w in due)
    since = min(w.digested_at or w.created_at or now for w in due)
    latest = await uow.watches.indicator_events(ALERTING, since, now)
    indicators = {i.id: i for i in await uow.indicators.by_ids(latest)}
    matched = {i: index.match(_subject(ind, None)) | (index.match(_subject(ind, ind.org_id)) if ind.anonymous
                                                      else set())
               for i, ind in indicators.items()}
    people = await uow.members.many({w.member_id for w in due})
    channels = {(c.platform.value, c.workspace_id, c.channel_id): c for c in await uow.channels.list()}
    written = 0
    for watch in due:
        start = watch.digested_at or watch.created_at or now
        owner = people.get(watch.member_id)
        found = sorted(i for i, at in latest.items() if at > start and i in indicators and watch.id in matched[i]
                       and owner is not None and _may_alert(watch, owner[0], indicators[i], channels))
        if found:
            written += 1
            for platform in platforms:
                await uow.outbox.add(DIGEST_EVENT, {"watch_id": watch.id, "indicator_ids": found[:1000],
                                                    "count": len(found)}, now, platform)
    await uow.watches.set_digested([w.id for w in due], now)
    return written


async def plan_digest(uow: UnitOfWork, event: OutboxEvent, cards: Callable[[Sequence[Indicator]], Awaitable[
        Sequence[IndicatorCard]]], channels: Sequence[Channel]) -> list[Alert]:
    """What one digest event says, read again now: only what its watcher may still see (an item made more
    restrictive since is left out, and a digest left empty is not sent)."""
    watch = await uow.watches.get(int(event.payload.get("watch_id", 0)))
    if watch is None:
        return []  # removed since
    owner = (await uow.members.many({watch.member_id})).get(watch.member_id)
    if owner is None or owner[0].org_disabled:  # removed, or of a disabled organization
        return []
    member, identities = owner
    by_channel = {(c.platform.value, c.workspace_id, c.channel_id): c for c in channels}
    listed = [i for i in await uow.indicators.by_ids(int(i) for i in event.payload.get("indicator_ids", []))
              if _may_alert(watch, member, i, by_channel)]
    if not listed:
        return []
    listed.sort(key=lambda i: i.id)
    shown = "; ".join(f"{i.ref} {i.type.value} {defang(i.value)} ({i.status.value})" for i in listed[:DIGEST_SHOWN])
    more = f"; and {len(listed) - DIGEST_SHOWN:,} more" if len(listed) > DIGEST_SHOWN else ""
    what = f"{len(listed):,} indicator{'s' if len(listed) != 1 else ''}"
    first = (await cards([listed[0]]))[0]
    if watch.channel is None:
        first = dataclasses.replace(first, org_shown=shown_org_name(listed[0], member), buttons=())
        message = f"Your watch {watch.ref} ({watch.target}), the day's digest: {what}: {shown}{more}. The first:"
        return [PersonalAlert(watch, identities, message, first, coalesced=False)]
    channel = by_channel.get(watch.channel)
    if channel is None:
        return []
    return [ChannelAlert(watch, channel, f"Watch {watch.ref} ({watch.target}), the day's digest: {what}: {shown}"
                                         f"{more}. The first", first, coalesced=False)]


def _may_alert(watch: Watch, member: Member, indicator: Indicator,
               channels: dict[tuple[str, str, str], Channel]) -> bool:
    if watch.target.org and indicator.anonymous and (watch.channel is not None or member.org_id != indicator.org_id):
        return False  # the organization behind an anonymous item is not the watcher's (nor a channel's) to learn
    if watch.channel is not None:  # a channel is told of what the coalition relays: decided items, within its ceiling
        channel = channels.get(watch.channel)
        return (channel is not None and can_feed(indicator, channel.ceiling)
                and indicator.status in (Status.APPROVED, Status.REVOKED, Status.EXPIRED))
    if not watch.include_own and indicator.org_id == member.org_id:
        return False
    return can_see(indicator, visibility(member, private=True, ceiling=TLP.CLEAR))


__all__ = ["ALERTING", "COALESCE", "DIGEST_EVENT", "Alert", "ChannelAlert", "PersonalAlert", "WatchCache",
           "plan_alerts", "plan_digest", "write_digests"]
