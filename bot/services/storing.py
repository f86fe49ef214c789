"""Storing submissions (chat, files, TAXII, pulls): a value held already is a sighting of it, a new one is created in
its visibility scope, and moderation channels are told."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from bot.commands import UsageError
from bot.domain import (
    Indicator,
    Member,
    NewIndicator,
    Page,
    SearchFilter,
    Status,
    Submission,
    Visibility,
)
from bot.ioc import Observable
from bot.policy import WarninglistAction
from bot.ports import Conflict
from bot.rules import (
    can_decide,
    can_moderate,
    can_see,
    unmoderated_reason,
    visibility,
)
from bot.tlp import TLP

from .context import Context, announce


@dataclass
class Stored:
    created: list[NewIndicator]  # in the order submitted
    created_ids: list[int]
    known: list[Indicator]  # held already where the submitter may see it: their organization's sighting recorded
    warninglisted: dict[Observable, tuple[str, ...]]
    not_applied: dict[int, tuple[str, ...]] = field(default_factory=dict)  # by known id: what was not applied
    sightings_updated: set[int] = field(default_factory=set)  # known ids whose sighting of today was replaced
    unmoderated: set[int] = field(default_factory=set)  # created ids stored approved: nobody else could decide
    # (an imported object's id, the id its value is held under): the same value arrived under another STIX id
    held_under_other_id: list[tuple[str, str]] = field(default_factory=list)


ALL_FIELDS = frozenset({"tlp", "confidence", "tags", "note", "valid"})


BIG_SUBMISSION = 20  # more new indicators than this: one notice to moderation channels instead of a card each


async def store_submissions(ctx: Context, items: Sequence[Submission], *, source: str, override: bool = False,
                            verb: str = "submit", explicit: frozenset[str] = ALL_FIELDS) -> Stored:
    """The one path by which indicators enter the store, for `/ioc submit`, files and TAXII alike.

    Warninglists (warn, or block unless `override`), uniqueness per visibility scope, an audit row per change,
    and the outbox in the same transaction. All or nothing: a refusal raises and the caller's transaction rolls
    back.

    Only the items the submitter may see (`can_see`, private view) decide what happens to a value, so the
    answer never depends on an item they may not see, and such an item is never touched:

    * an item in the scope the submission would land in ("shared" for CLEAR/GREEN/AMBER, the submitter's
      organization for AMBER+STRICT, the submitter for RED) or a visible one at least as widely shared: the
      value is known; a sighting by the submitter's organization is recorded and what of the submission
      (`explicit`: tlp, confidence, tags, note, valid) differs from the item is reported as not applied;
    * otherwise a new item of the submitter in their own scope (it may be held elsewhere in other scopes)."""
    member = ctx.require_member()
    hits: dict[Observable, tuple[str, ...]] = {}
    if ctx.warninglists is not None:
        for item in items:
            if names := ctx.warninglists.match(item.observable):
                hits[item.observable] = tuple(names)
    if hits and ctx.policy.warninglist_action is WarninglistAction.BLOCK and not override:
        listed = "; ".join(f"{obs.value} (on {', '.join(names)})" for obs, names in list(hits.items())[:10])
        fix = ("add `override` and the reason as the note if they really are malicious here" if verb == "submit"
               else "submit them with `/ioc submit ... override` and a reason if they really are malicious here")
        done = {"submit": "submitted", "import": "imported"}.get(verb, "stored")
        raise UsageError(f"nothing was {done}: {len(hits)} known-benign value(s): {listed}. Remove them, or "
                         f"{fix}", verb)
    view = ctx.view
    visible: dict[tuple[str, str], list[Indicator]] = {}
    for ind in await ctx.uow.indicators.by_values((it.observable.type, it.observable.value) for it in items):
        if can_see(ind, view):  # what the submitter may not see plays no part, whatever it is
            visible.setdefault((ind.type.value, ind.value), []).append(ind)
    # An imported object keeps its STIX id: one held under that id (and visible) is that object again.
    by_id = {ind.stix_id: ind for ind in await ctx.uow.indicators.by_stix_ids(
        it.source_id for it in items if it.source_id and not it.anonymous)} if any(
        it.source_id for it in items) else {}
    taken = {stix_id for stix_id, ind in by_id.items() if can_see(ind, view)}  # what it may not see plays no part
    stored = Stored([], [], [], hits)
    held: list[tuple[Submission, Indicator]] = []
    planned: dict[tuple[str, str, tuple[str, int]], Submission] = {}
    for item in items:
        obs = item.observable
        if (ind := _same_object(item, by_id, view)) is not None:
            held.append((item, ind))
            continue
        if (ind := _held_for(item, member, visible.get((obs.type.value, obs.value), ()))) is not None:
            held.append((item, ind))
            if item.source_id and not item.anonymous and ind.stix_id != item.source_id:
                stored.held_under_other_id.append((item.source_id, ind.stix_id))
            continue
        key = (obs.type.value, obs.value, _scope(item.tlp, member.org_id, member.id))
        if key in planned:
            continue  # the same value twice for one scope in one submission: the first counts
        planned[key] = item
        stored.created.append(new := _new_indicator(ctx, member, item, taken))
        taken.add(new.stix_id)  # two values of one object (a MISP composite): the first keeps the id
    try:
        stored.created_ids = await ctx.uow.exchange.add_indicators(stored.created)
    except Conflict:  # someone submitted one of them in the same scope (or under its id) meanwhile: known now
        news, stored.created = stored.created, []
        for new, item in zip(news, planned.values(), strict=True):
            try:
                stored.created_ids.append((await ctx.uow.indicators.add(new)).id)
                stored.created.append(new)
            except Conflict:
                scope = _scope(new.tlp, new.org_id, new.submitter_id)
                ind = next((r for r in await ctx.uow.indicators.by_values([(new.type, new.value)])
                            if _scope(r.tlp, r.org_id, r.submitter_id) == scope), None)  # the submitter's scope
                if ind is None:  # its STIX id was taken meanwhile: that object, or (unseen) a new id for this one
                    found = await ctx.uow.indicators.by_stix_id(new.stix_id)
                    if (ind := _same_object(item, {new.stix_id: found} if found else {}, view)) is None:
                        new = replace(new, stix_id=f"indicator--{uuid.uuid4()}")
                        stored.created_ids.append((await ctx.uow.indicators.add(new)).id)
                        stored.created.append(new)
                        continue
                held.append((item, ind))
    await ctx.uow.exchange.audit_many([{
        "action": "submit", "at": ctx.now, "platform": ctx.actor.platform, "member_id": member.id,
        "indicator_id": i, "detail": {"tlp": new.tlp.value, "source": source, "override": override,
                                      "warninglists": list(hits.get(Observable(new.type, new.value), ()))},
    } for i, new in zip(stored.created_ids, stored.created, strict=True)])
    unmoderated = await _leave_none_pending(ctx, stored)
    await submission_notices(ctx, stored.created_ids, [new.tlp for new in stored.created],
                             any(new.anonymous for new in stored.created), unmoderated, source)
    await _seen_again(ctx, held, source, stored, explicit)
    return stored


async def submission_notices(ctx: Context, created_ids: Sequence[int], tlps: Sequence[TLP], anonymous: bool,
                             unmoderated: set[int], source: str) -> None:
    """The outbox rows telling moderation channels about new submissions (their ids, each one's TLP, whether any
    is anonymous): a card each, or one notice for a big submission (bot.exchange writes one for a whole import
    stored in chunks)."""
    member = ctx.require_member()
    origin = ctx.actor.platform.value
    for platform in ctx.delivery_platforms:
        if len(created_ids) <= BIG_SUBMISSION:
            for i in created_ids:
                await ctx.uow.outbox.add("indicator.submitted", {"indicator_id": i, "origin": origin}, ctx.now,
                                         platform)
        else:
            await ctx.uow.outbox.add("indicators.submitted", {
                "indicator_ids": list(created_ids[:1000]), "count": len(created_ids),
                "org_id": member.org_id, "source": source, "origin": origin,
                # what waits for moderation, by TLP (the notice counts only what each channel may see), and
                # whether any of it is anonymous (then the notice names no organization)
                "pending_by_tlp": dict(Counter(tlp.value for i, tlp in zip(created_ids, tlps, strict=True)
                                               if i not in unmoderated)),
                "anonymous": anonymous}, ctx.now, platform)


def _scope(tlp: TLP, org_id: int, member_id: int) -> tuple[str, int]:
    """The visibility scope an item is unique in (the store keeps the same key): everyone who may see one item
    of a scope may see them all."""
    if tlp.shareable_in_channels:
        return ("shared", 0)
    if tlp is TLP.AMBER_STRICT:
        return ("org", org_id)
    return ("member", member_id)


def _same_object(item: Submission, by_id: dict[str, Indicator], view: Visibility) -> Indicator | None:
    """The item an imported object is (the same STIX id, the same value), when the submitter may see it."""
    ind = by_id.get(item.source_id) if item.source_id and not item.anonymous else None
    if ind is None or not can_see(ind, view) or (ind.type, ind.value) != (item.observable.type, item.observable.value):
        return None
    return ind


def _new_indicator(ctx: Context, member: Member, item: Submission, taken: set[str]) -> NewIndicator:
    """A new item of the submitter. An imported object keeps its STIX id (unless that id is held already, by an
    item they may not see or for another value: then a new one) and its provenance. An anonymous submission
    keeps neither: its source's id and author could name the submitter's organization.

    The id depends only on the source's id, the item's visibility scope and what the submitter may see: a shared
    item (CLEAR to AMBER) keeps the source's id; an AMBER+STRICT or RED one gets an id derived from it and its
    scope (uuid5), so that a restricted item never holds a source's id that a shared import would then find
    taken, which would tell the importer that someone holds that object where they may not see it."""
    obs = item.observable
    keep = bool(item.source_id) and not item.anonymous
    scope = _scope(item.tlp, member.org_id, member.id)
    own = item.source_id if item.tlp.shareable_in_channels else \
        f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{item.source_id}|{scope}')}"
    stix_id = own if keep and own not in taken else f"indicator--{uuid.uuid4()}"
    return NewIndicator(
        type=obs.type, value=obs.value, tlp=item.tlp, confidence=item.confidence, tags=item.tags, note=item.note,
        submitter_id=member.id, org_id=member.org_id, anonymous=item.anonymous, seen_at=ctx.now,
        valid_until=item.valid_until, stix_id=stix_id,
        origin_created_by=item.origin_created_by if keep else "", origin_name=item.origin_name if keep else "",
        origin_created=item.origin_created if keep else None,
        threat_type=item.threat_type, malware=item.malware, references=item.references)


def _held_for(item: Submission, member: Member, visible: Sequence[Indicator]) -> Indicator | None:
    """The visible item a submission is a repeat of: the one in its own scope, else the most widely shared one
    that is shared at least as widely as the submission asks. None: the submission shares the value wider than
    anything the submitter sees (or it is new to them), so it becomes an item of its own."""
    own = _scope(item.tlp, member.org_id, member.id)
    for ind in visible:
        if _scope(ind.tlp, ind.org_id, ind.submitter_id) == own:
            return ind
    wider = [ind for ind in visible if ind.tlp <= item.tlp]
    return min(wider, key=lambda ind: (ind.tlp.rank, ind.id)) if wider else None


def _not_applied(item: Submission, ind: Indicator, explicit: frozenset[str]) -> tuple[str, ...]:
    """What the submitter asked for that differs from the held item (and so was not applied)."""
    out: list[str] = []
    if "tlp" in explicit and item.tlp is not ind.tlp:
        out.append(f"{item.tlp.label} (it is {ind.tlp.label})")
    if "confidence" in explicit and item.confidence != ind.confidence:
        out.append(f"confidence {item.confidence} (it is {ind.confidence})")
    if "tags" in explicit:
        new_tags = sorted({t.strip().lower() for t in item.tags if t.strip()} - set(ind.tags))
        if new_tags:
            out.append("tags " + ", ".join(new_tags))
    if "note" in explicit and item.note and item.note != ind.note:
        out.append("the note (kept with your sighting)")
    if "threat" in explicit and item.threat_type != ind.threat_type:
        out.append(f"threat {item.threat_type}" + (f" (it is {ind.threat_type})" if ind.threat_type else ""))
    if "malware" in explicit and item.malware != ind.malware:
        out.append(f"malware {item.malware}" + (f" (it is {ind.malware})" if ind.malware else ""))
    if "ref" in explicit and set(item.references) - set(ind.references):
        out.append("references " + ", ".join(sorted(set(item.references) - set(ind.references))))
    if ("valid" in explicit and item.valid_until is not None
            and (ind.valid_until is None or item.valid_until.date() != ind.valid_until.date())):
        held = f"until {ind.valid_until:%Y-%m-%d}" if ind.valid_until else "without end"
        out.append(f"valid until {item.valid_until:%Y-%m-%d} (it is valid {held})")
    return tuple(out)


async def _seen_again(ctx: Context, held: Sequence[tuple[Submission, Indicator]], source: str, stored: Stored,
                      explicit: frozenset[str]) -> None:
    """Values the submitter may see held already: a sighting by their organization on each (their own
    organization's items too), last_seen moved, one audit row each; a few statements per chunk in all."""
    member = ctx.require_member()
    first: dict[int, tuple[Submission, Indicator]] = {}
    for item, ind in held:
        first.setdefault(ind.id, (item, ind))
    if not first:
        return
    await ctx.uow.indicators.touch_many(first, ctx.now)
    stored.sightings_updated = await ctx.uow.sightings.add_many([
        (i, member.org_id, member.id, 1, ctx.now, item.note or "resubmitted") for i, (item, _) in first.items()])
    await ctx.uow.exchange.audit_many([{
        "action": "resubmit", "at": ctx.now, "platform": ctx.actor.platform, "member_id": member.id,
        "indicator_id": i, "detail": {"source": source}} for i in first])
    for i, (item, ind) in first.items():
        stored.known.append(ind)
        if what := _not_applied(item, ind, explicit):
            stored.not_applied[i] = what


async def _leave_none_pending(ctx: Context, stored: Stored) -> set[int]:
    """Nothing waits for a decision nobody may take: a new AMBER+STRICT or RED item that no moderator or admin
    other than its submitter may see (bot.rules.can_decide) is stored approved, with the reason saying it is
    unmoderated (the submitter reads it in the reply). Returns the ids so stored."""
    member = ctx.require_member()
    restricted = [(i, new) for i, new in zip(stored.created_ids, stored.created, strict=True)
                  if not new.tlp.shareable_in_channels]
    if not restricted:
        return set()
    # AMBER+STRICT: only the submitter's organization may decide; RED: moderators of any organization
    everyone = any(new.tlp is TLP.RED for _, new in restricted)
    candidates = [m for m in await ctx.uow.members.list(None if everyone else member.org_id) if can_moderate(m)]
    by_reason: dict[str, list[int]] = {}
    for i, new in restricted:
        if not any(can_decide(m, new) for m in candidates):
            by_reason.setdefault(unmoderated_reason(new.tlp, member.org_name), []).append(i)
    done: set[int] = set()
    for reason, ids in by_reason.items():
        changed = await ctx.uow.indicators.transition_many(ids, [Status.PENDING], Status.APPROVED, reason, ctx.now)
        done.update(changed)
        if changed:
            await ctx.uow.exchange.audit_many([{
                "action": "approve", "at": ctx.now, "platform": ctx.actor.platform, "member_id": None,
                "indicator_id": i, "detail": {"rule": "no_moderator", "reason": reason}} for i in changed])
    stored.unmoderated = done
    return done


async def _no_orphans_after(ctx: Context, former: Member) -> None:
    """`former` (as they were) may no longer decide: the pending AMBER+STRICT and RED items they could decide and
    nobody else may decide now are stored without moderation, as a submission with no decider is (audited, and
    their submitters told by the usual notice). The admin's reply says nothing of them: they may not see them."""
    view = visibility(former, private=True, ceiling=TLP.CLEAR)
    deciders = [m for m in await ctx.uow.members.list() if can_moderate(m)]  # roles as they are now
    size = 500
    for tlp in (TLP.AMBER_STRICT, TLP.RED):
        orphans: list[Indicator] = []
        number = 1
        while True:
            rows, total = await ctx.uow.indicators.search(
                SearchFilter(statuses=(Status.PENDING,), tlp=tlp, oldest_first=True), view, Page(number, size))
            orphans += [i for i in rows if not any(can_decide(m, i) for m in deciders)]
            if number * size >= total:
                break
            number += 1
        for ind in orphans:
            reason = unmoderated_reason(ind.tlp, ind.org_name)
            if await ctx.uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, reason, ctx.now):
                await ctx.audit("approve", ind.id, rule="no_moderator", reason=reason)
                await announce(ctx, "indicator.approved", ind)
