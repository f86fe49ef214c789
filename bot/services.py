"""Service functions: one per command, each a small function over a `Context` inside one unit of work.

They raise `UsageError` (the person can fix it) or `PermissionDenied`; the dispatcher turns both into a
`UserError` result and rolls the transaction back, so nothing partial is stored.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from bot import actions, commands, limits, pivots
from bot.audience import lookup_in_channel
from bot.commands import IdRef, Ref, StixRef, UsageError, ValueRef
from bot.domain import (
    Actor,
    Channel,
    Identity,
    Indicator,
    Member,
    NewIndicator,
    Page,
    Platform,
    Role,
    SearchFilter,
    Status,
    Submission,
    Verdict,
    Visibility,
)
from bot.ioc import IOCType, Observable, extract
from bot.policy import Policy, WarninglistAction
from bot.ports import Conflict, UnitOfWork
from bot.results import (
    Button,
    ChannelSettings,
    ChannelSharing,
    DeliveryList,
    Done,
    HelpResult,
    HomeResult,
    IndicatorCard,
    IndicatorList,
    InviteCreated,
    Joined,
    LookupResult,
    MemberListResult,
    Moderated,
    OrganizationList,
    OrgStandings,
    PassiveResult,
    Related,
    RelatedGroup,
    RelatedItem,
    SightingRecorded,
    StatsResult,
    Submitted,
    Voted,
    WhoAmIResult,
)
from bot.rules import (
    can_decide,
    can_feed,
    can_moderate,
    can_see,
    require_role,
    shown_org_name,
    unmoderated_reason,
    visibility,
)
from bot.score import ScoreModel, compute, inputs_for
from bot.tlp import TLP


class Matcher(Protocol):
    """What services need of the warninglists (bot.ioc.WarningLists provides it)."""

    def match(self, obs: Observable) -> list[str]: ...


@dataclass
class Context:
    uow: UnitOfWork
    actor: Actor
    member: Member | None
    channel: Channel | None
    now: datetime
    policy: Policy
    warninglists: Matcher | None = None
    delivery_platforms: tuple[Platform, ...] = ()

    @property
    def ceiling(self) -> TLP:
        """The channel's ceiling. A channel the platform says is shared with other organizations' workspaces is
        public to them: CLEAR, unless an admin set its ceiling while it was known to be shared."""
        if self.actor.channel_shared and not (self.channel and self.channel.shared_externally):
            return TLP.CLEAR
        return self.channel.ceiling if self.channel else self.policy.default_channel_ceiling

    def require_member(self) -> Member:
        if self.member is None:
            raise UsageError("you are not a member of the coalition yet; ask an admin of your organization "
                             "for an invite code, then run `/ioc join CODE`", "join")
        if self.member.org_disabled:  # `admin org disable`: its members can no longer act
            raise UsageError(f"your organization {self.member.org_name} is disabled in the coalition, so you can no "
                             "longer act here; ask an admin of the coalition if this is a mistake")
        return self.member

    @property
    def view(self) -> Visibility:
        """What the speaker may see in a reply to them alone; bot.audience decides whether the channel may
        see the reply too."""
        return visibility(self.require_member(), private=True, ceiling=self.ceiling)

    def view_for(self, command: commands.Command) -> Visibility:
        """The view a lookup or search answers with: the channel's when the channel sees the answer
        (bot.audience.lookup_in_channel), so that what it sees never depends on an item above its ceiling;
        otherwise the speaker's own."""
        if lookup_in_channel(command, conversation_private=self.actor.private, channel=self.channel):
            return visibility(self.require_member(), private=False, ceiling=self.ceiling)
        return self.view

    async def audit(self, action: str, indicator_id: int | None = None, **detail: object) -> None:
        await self.uow.audit.append(action, at=self.now, platform=self.actor.platform,
                                    member_id=self.member.id if self.member else None,
                                    indicator_id=indicator_id, detail=detail or None)


# ---------------------------------------------------------------- cards

def effective_status(indicator: Indicator, now: datetime) -> Status:
    if (indicator.valid_until is not None and indicator.valid_until <= now
            and indicator.status in (Status.PENDING, Status.APPROVED)):
        return Status.EXPIRED
    return indicator.status


def buttons_for(indicator_id: int, status: Status, moderator: bool) -> tuple[Button, ...]:
    if status not in (Status.PENDING, Status.APPROVED):
        return ()
    found = [Button("Confirm", actions.vote(indicator_id, Verdict.CONFIRM).id, "primary"),
             Button("False positive", actions.vote(indicator_id, Verdict.FALSE_POSITIVE).id, "danger")]
    if moderator and status is Status.PENDING:
        found += [Button("Approve", actions.Action("approve", indicator_id).id, "primary"),
                  Button("Reject", actions.Action("reject", indicator_id).id, "danger")]
    if moderator and status is Status.APPROVED:
        found.append(Button("Revoke", actions.Action("revoke", indicator_id).id, "danger"))
    return tuple(found)


async def build_cards(uow: UnitOfWork, indicators: Sequence[Indicator], *, viewer: Member | None, now: datetime,
                      moderator_buttons: bool | None = None,
                      warnings: dict[int, tuple[str, ...]] | None = None,
                      model: ScoreModel | None = None) -> tuple[IndicatorCard, ...]:
    """Cards for these indicators, their tallies, sightings and scores (bot.score) fetched in one query.

    `viewer` None renders for a shared channel: no organization behind an anonymous item, vote buttons only
    (unless `moderator_buttons`)."""
    if not indicators:
        return ()
    ids = [i.id for i in indicators]
    activity = await uow.votes.evidence(ids)
    moderator = moderator_buttons if moderator_buttons is not None else bool(viewer and can_moderate(viewer))
    cards = []
    for ind in indicators:
        status = effective_status(ind, now)
        cards.append(IndicatorCard(
            indicator=ind,
            org_shown=shown_org_name(ind, viewer),
            status=status,
            tally=activity[ind.id][0],
            sightings=activity[ind.id][1],
            buttons=buttons_for(ind.id, status, moderator),
            warnings=(warnings or {}).get(ind.id, ()),
            score=compute(inputs_for(ind, activity[ind.id][2], activity[ind.id][1]), now, model),
        ))
    return tuple(cards)



async def cards_for(ctx: Context, indicators: Sequence[Indicator]) -> tuple[IndicatorCard, ...]:
    """Cards for this viewer, each flagged with the warninglists its value is on, and with `also_restricted`
    when the viewer may also see another item of the same value at AMBER+STRICT or RED (another visibility
    scope): only someone who may see both learns that they coincide."""
    warnings = {}
    if ctx.warninglists is not None:
        for ind in indicators:
            if names := ctx.warninglists.match(Observable(ind.type, ind.value)):
                warnings[ind.id] = tuple(names)
    cards = await build_cards(ctx.uow, indicators, viewer=ctx.member, now=ctx.now, warnings=warnings,
                              model=ctx.policy.score_model)
    also = await _also_restricted(ctx, indicators)
    return tuple(replace(c, also_restricted=True) if c.indicator.id in also else c for c in cards)


async def _also_restricted(ctx: Context, indicators: Sequence[Indicator]) -> set[int]:
    if ctx.member is None or not indicators:
        return set()
    view = ctx.view
    restricted: dict[tuple[str, str], set[int]] = {}
    for other in await ctx.uow.indicators.by_values((i.type, i.value) for i in indicators):
        if not other.tlp.shareable_in_channels and can_see(other, view):
            restricted.setdefault((other.type.value, other.value), set()).add(other.id)
    return {i.id for i in indicators if restricted.get((i.type.value, i.value), set()) - {i.id}}


async def card(ctx: Context, indicator: Indicator) -> IndicatorCard:
    return (await cards_for(ctx, [indicator]))[0]


async def resolve(ctx: Context, ref: Ref, verb: str) -> Indicator:
    """The indicator a reference names, if this viewer may see it here; otherwise the same 'not found'
    as for an unknown one, so that restricted items do not leak their existence."""
    found: Indicator | None
    if isinstance(ref, IdRef):
        found = await ctx.uow.indicators.get(ref.id)
    elif isinstance(ref, StixRef):
        found = await ctx.uow.indicators.by_stix_id(ref.stix_id)
    else:
        # A value may be held once per visibility scope: the one item of it this viewer may see, or ask which.
        rows = [r for r in await ctx.uow.indicators.by_values([(ref.observable.type, ref.observable.value)])
                if can_see(r, ctx.view)]
        if len(rows) > 1:
            held = ", ".join(f"{r.ref} ({r.tlp.label})" for r in rows)
            raise UsageError(f"{ref} is held as {held}; name the one you mean by its id (e.g. {rows[0].ref})", verb)
        found = rows[0] if rows else None
    if found is None or not can_see(found, ctx.view):
        raise UsageError(f"{ref} is not an indicator you can see (check the id with `/ioc search`; AMBER+STRICT "
                         "items are visible to their own organization only, RED items to their submitter and "
                         "the moderators only)", verb)
    return found


async def announce(ctx: Context, event: str, indicator: Indicator, **extra: object) -> None:
    """Write the event to the outbox for every delivering platform, in this same transaction."""
    payload = {"indicator_id": indicator.id, "origin": ctx.actor.platform.value, **extra}
    for platform in ctx.delivery_platforms:
        await ctx.uow.outbox.add(event, payload, ctx.now, platform)


# ---------------------------------------------------------------- analysts

async def submit(ctx: Context, cmd: commands.Submit) -> Submitted:
    ctx.require_member()
    policy = ctx.policy
    if len(cmd.values) > policy.max_values_per_command:
        raise UsageError(f"{len(cmd.values)} values in one submission; send at most "
                         f"{policy.max_values_per_command} at a time", "submit")
    if cmd.override and not cmd.note:
        raise UsageError("`override` needs a reason: write it as the note after the values", "submit")
    valid_for = cmd.valid_for or policy.default_valid_for
    items = [Submission(obs, cmd.tlp or policy.default_tlp,
                        cmd.confidence if cmd.confidence is not None else policy.default_confidence, cmd.tags,
                        cmd.note, ctx.now + valid_for if valid_for else None, cmd.anonymous,
                        threat_type=cmd.threat_type, malware=cmd.malware, references=cmd.references)
             for obs in cmd.values]
    given = {"tlp": cmd.tlp is not None, "confidence": cmd.confidence is not None, "tags": bool(cmd.tags),
             "note": bool(cmd.note), "valid": cmd.valid_for is not None, "threat": bool(cmd.threat_type),
             "malware": bool(cmd.malware), "ref": bool(cmd.references)}
    stored = await store_submissions(ctx, items, source=ctx.actor.platform.value, override=cmd.override,
                                     explicit=frozenset(k for k, v in given.items() if v))
    # By id, never by value: the same value may be held in other scopes, which this person may not see.
    created = sorted(await ctx.uow.indicators.by_ids(stored.created_ids), key=lambda ind: ind.id)
    return Submitted(created=await cards_for(ctx, created), known=await cards_for(ctx, stored.known),
                     not_applied=tuple((f"#{i}", what) for i, what in stored.not_applied.items()),
                     sightings_updated=tuple(f"#{i}" for i in sorted(stored.sightings_updated)))


async def lookup(ctx: Context, cmd: commands.Lookup) -> LookupResult:
    ctx.require_member()
    if len(cmd.refs) > ctx.policy.max_values_per_command:
        raise UsageError(f"{len(cmd.refs)} values in one lookup; look up at most "
                         f"{ctx.policy.max_values_per_command} at a time", "lookup")
    view = ctx.view_for(cmd)
    values = [r.observable for r in cmd.refs if isinstance(r, ValueRef)]
    by_value: dict[tuple[str, str], list[Indicator]] = {}  # a value may be held once per visibility scope
    for i in await ctx.uow.indicators.by_values((o.type, o.value) for o in values) if values else ():
        by_value.setdefault((i.type.value, i.value), []).append(i)
    found: dict[int, Indicator] = {}
    unknown: list[str] = []
    pivoted: dict[tuple[IOCType, str], Observable] = {}
    for ref in cmd.refs:
        candidates: Sequence[Indicator | None]
        if isinstance(ref, ValueRef):
            candidates = by_value.get((ref.observable.type.value, ref.observable.value), [])
        elif isinstance(ref, IdRef):
            candidates = [await ctx.uow.indicators.get(ref.id)]
        else:
            candidates = [await ctx.uow.indicators.by_stix_id(ref.stix_id)]
        shown = [ind for ind in candidates if ind is not None and can_see(ind, view)]
        for ind in shown:
            found.setdefault(ind.id, ind)
        if not shown:
            unknown.append(str(ref))
        if isinstance(ref, ValueRef):
            pivoted.setdefault((ref.observable.type, ref.observable.value), ref.observable)
        elif shown:
            pivoted.setdefault((shown[0].type, shown[0].value), Observable(shown[0].type, shown[0].value))
    return LookupResult(await _with_comments(ctx, await cards_for(ctx, list(found.values()))), tuple(unknown),
                        cmd.invalid, await _related(ctx, list(pivoted.values())[:PIVOTED_VALUES], view))


COMMENTS_SHOWN = 3  # issue 13: a lookup's card shows the latest comments, newest first, with their count


async def _with_comments(ctx: Context, cards: Sequence[IndicatorCard]) -> tuple[IndicatorCard, ...]:
    """The cards (of items the viewer may see) with their latest comments and how many there are."""
    found = await ctx.uow.context.latest_comments([c.indicator.id for c in cards], COMMENTS_SHOWN) if cards else {}
    return tuple(replace(c, comments=tuple(found[c.indicator.id][1]), comment_count=found[c.indicator.id][0])
                 if c.indicator.id in found else c for c in cards)


PIVOTED_VALUES = 10  # the related sections of a lookup: for its first ten values


async def _related(ctx: Context, values: Sequence[Observable], view: Visibility) -> tuple[Related, ...]:
    """Issue 12's pivots: for each value, the items around it (bot.pivots.plan) that `view` may see, counted by
    the store with the same visibility (two statements for them all), the first few shown; a value with nothing
    related has no section."""
    planned = [(obs, pivot) for obs in values for pivot in pivots.plan(obs)]
    answers = await ctx.uow.indicators.related([p for _, p in planned], view, pivots.SHOWN)
    asked = [(obs, pivot, [r for r in rows if can_see(r, view)], total)
             for (obs, pivot), (rows, total) in zip(planned, answers, strict=True) if total]
    if not asked:
        return ()
    activity = await ctx.uow.votes.activity({r.id for _, _, rows, _ in asked for r in rows})
    groups: dict[str, list[RelatedGroup]] = {}
    for obs, pivot, rows, total in asked:
        items = tuple(RelatedItem(r, effective_status(r, ctx.now), activity[r.id][0].confirm_orgs) for r in rows)
        groups.setdefault(obs.value, []).append(RelatedGroup(pivot.label, total, items, pivot.search))
    return tuple(Related(value, tuple(found)) for value, found in groups.items())


async def vote(ctx: Context, cmd: commands.Vote) -> Voted:
    member = ctx.require_member()
    ind = await resolve(ctx, cmd.ref, "vote")
    if effective_status(ind, ctx.now) not in (Status.PENDING, Status.APPROVED):
        raise UsageError(f"{ind.ref} is {effective_status(ind, ctx.now).value}; votes are for pending or "
                         "approved indicators", "vote")
    new_org = False
    if cmd.verdict is None:
        previous = await ctx.uow.votes.withdraw(ind.id, member.id, cmd.withdraw_only)
        if previous is None:
            which = f"{cmd.withdraw_only.value} " if cmd.withdraw_only else ""
            raise UsageError(f"you have no {which}vote on {ind.ref} to withdraw", "vote")
    else:
        # a confirmation by an organization that had not confirmed it yet (nor submitted it) tells its watchers
        counting = cmd.verdict is Verdict.CONFIRM and member.org_id != ind.org_id
        confirm_orgs = (await ctx.uow.votes.tally(ind.id)).confirm_orgs if counting else 0
        previous = await ctx.uow.votes.upsert(ind.id, member.id, member.org_id, cmd.verdict, cmd.reason, ctx.now)
        new_org = counting and (await ctx.uow.votes.tally(ind.id)).confirm_orgs > confirm_orgs
    await ctx.audit("vote", ind.id, verdict=cmd.verdict.value if cmd.verdict else "withdrawn",
                    previous=previous.value if previous else None, reason=cmd.reason or None)
    await announce(ctx, "indicator.voted", ind, **({"confirmed_by_new_org": True} if new_org else {}))
    auto = await _maybe_auto_approve(ctx, ind)
    if auto:
        ind = await ctx.uow.indicators.get(ind.id) or ind
    return Voted(await card(ctx, ind), previous.value if previous else None, auto)


async def _maybe_auto_approve(ctx: Context, ind: Indicator) -> bool:
    needed = ctx.policy.auto_approve_confirmations
    if needed <= 0 or ind.status is not Status.PENDING or not ind.tlp.shareable_in_channels:
        return False
    # Only other organizations vouch for a submission: its own organization's confirmations do not count
    # (a false positive from anyone, its own organization included, still holds it back).
    others = await ctx.uow.votes.tally(ind.id, excluding_org=ind.org_id)
    if others.confirm_orgs < needed or (await ctx.uow.votes.tally(ind.id)).false_positive:
        return False
    reason = (f"auto-approved: {others.confirm_orgs} organization{'s' if others.confirm_orgs != 1 else ''} other "
              "than the submitter's confirmed, no false positive")
    if not await ctx.uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, reason, ctx.now):
        return False
    await ctx.audit("approve", ind.id, rule="auto_approve", confirm_orgs=others.confirm_orgs)
    await announce(ctx, "indicator.approved", ind)
    return True


async def sighting(ctx: Context, cmd: commands.Sighting) -> SightingRecorded:
    member = ctx.require_member()
    ind = await resolve(ctx, cmd.ref, "sighting")
    # One sighting per member, indicator and UTC day: a repeat today (a replayed request too) replaces it.
    updated = await ctx.uow.sightings.add(ind.id, member.org_id, member.id, cmd.count, ctx.now, cmd.note)
    await ctx.uow.indicators.touch(ind.id, ctx.now)
    await ctx.audit("sighting", ind.id, count=cmd.count, **({"replaced_todays": True} if updated else {}))
    await announce(ctx, "indicator.sighted", ind)
    return SightingRecorded(await card(ctx, ind), cmd.count, updated)


async def search(ctx: Context, cmd: commands.Search) -> IndicatorList:
    ctx.require_member()
    org_name, text = await _search_org(ctx, cmd)
    flt = SearchFilter(types=cmd.types, tags=cmd.tags, statuses=cmd.statuses, org_name=org_name,
                       since=ctx.now - cmd.since if cmd.since else None, tlp=cmd.tlp, text=text,
                       within=cmd.within, domain=cmd.domain, notes_text=cmd.notes_text,
                       threat_types=cmd.threat_types, malware=cmd.malware)
    if cmd.min_score is not None:  # the score is computed, not stored: it filters here (issue 13)
        return await _scored_list(ctx, flt, cmd.page, cmd.min_score, view=ctx.view_for(cmd))
    return await _list(ctx, flt, cmd.page, "Search results", next_action=None, view=ctx.view_for(cmd))


async def _search_org(ctx: Context, cmd: commands.Search) -> tuple[str | None, str]:
    """The organization `org:` names, and the search text: `org:Sentinel Security` is Sentinel Security when
    that is an organization's name (the longest such name wins), else Sentinel with the text `Security`. An
    organization that does not exist is an error, not an empty result."""
    if cmd.org is None:
        return None, cmd.text
    for n in range(len(cmd.org_more), -1, -1):
        name = " ".join((cmd.org, *cmd.org_more[:n]))
        if len(name) > limits.ORG_NAME_MAX:
            continue
        org = await ctx.uow.organizations.by_name(name)
        if org is not None:
            return org.name, " ".join(w for w in (cmd.text, *cmd.org_more[n:]) if w)
    tried = f'"{cmd.org}"' + (f' nor "{" ".join((cmd.org, *cmd.org_more))}"' if cmd.org_more else "")
    raise UsageError(f"there is no organization called {tried}; see /ioc admin org list (quote a name with "
                     'spaces: org:"Sentinel Security")', "search")


async def queue(ctx: Context, cmd: commands.Queue) -> IndicatorList:
    require_role(ctx.require_member(), Role.MODERATOR, "see the moderation queue")
    flt = SearchFilter(statuses=(Status.PENDING,), oldest_first=True)
    return await _list(ctx, flt, cmd.page, "Moderation queue", next_action="queue")


async def _list(ctx: Context, flt: SearchFilter, page_number: int, title: str,
                next_action: str | None, view: Visibility | None = None) -> IndicatorList:
    page = Page(page_number, ctx.policy.page_size)
    view = view or ctx.view
    rows, total = await ctx.uow.indicators.search(flt, view, page)
    rows = [r for r in rows if can_see(r, view)]  # the store filtered already; the rule is checked once more
    more = page.offset + len(rows) < total
    return IndicatorList(
        title=title,
        cards=await cards_for(ctx, rows),
        total=total, page=page.number, page_size=page.size,
        next_action=actions.Action(next_action, page.number + 1).id if next_action and more else None,
    )


SCORED_SCAN_MAX = 5000  # search min_score: the newest matches it scores at most
SCORED_BATCH = 500


async def _scored_list(ctx: Context, flt: SearchFilter, page_number: int, min_score: int,
                       view: Visibility) -> IndicatorList:
    """Search results scoring at least `min_score`: the newest SCORED_SCAN_MAX matches, scored a batch at a time
    (one read of votes and sightings per batch), then paged."""
    page = Page(page_number, ctx.policy.page_size)
    kept: list[Indicator] = []
    for number in range(1, SCORED_SCAN_MAX // SCORED_BATCH + 1):
        rows, total = await ctx.uow.indicators.search(flt, view, Page(number, SCORED_BATCH))
        rows = [r for r in rows if can_see(r, view)]
        evidence = await ctx.uow.votes.evidence([r.id for r in rows])
        kept += [r for r in rows if compute(inputs_for(r, evidence[r.id][2], evidence[r.id][1]), ctx.now,
                                            ctx.policy.score_model).value >= min_score]
        if number * SCORED_BATCH >= total:
            break
    shown = kept[page.offset:page.offset + page.size]
    return IndicatorList(title=f"Search results scoring {min_score} or more", cards=await cards_for(ctx, shown),
                         total=len(kept), page=page.number, page_size=page.size, next_action=None)


async def home(ctx: Context, _: commands.Home) -> HomeResult:
    member = ctx.require_member()
    recent = await _list(ctx, SearchFilter(submitter_id=member.id), 1, "Your latest submissions", next_action=None)
    queue = None
    if can_moderate(member):
        queue = await _list(ctx, SearchFilter(statuses=(Status.PENDING,), oldest_first=True), 1,
                            "Moderation queue", next_action="queue")
    return HomeResult(member, recent, queue)


async def passive(ctx: Context, cmd: commands.Passive) -> PassiveResult:
    """Only in channels an admin opted in; answers for the channel's audience, so anyone there may ask."""
    if ctx.channel is None or not ctx.channel.passive:
        return PassiveResult(())
    found = extract(cmd.text)[: ctx.policy.max_values_per_command]
    if not found:
        return PassiveResult(())
    # Several items may hold a value (one per visibility scope); only a shared one may show here.
    rows = {(i.type, i.value): i for i in await ctx.uow.indicators.by_values((o.type, o.value) for o in found)
            if can_feed(i, ctx.ceiling)}
    shown = list(rows.values())
    cards = {c.indicator.id: c for c in await build_cards(ctx.uow, shown, viewer=None, now=ctx.now,
                                                            model=ctx.policy.score_model)}
    items = []
    for obs in found:
        ind = rows.get((obs.type, obs.value))
        items.append((obs, cards.get(ind.id) if ind is not None else None))
    return PassiveResult(tuple(items))


# ---------------------------------------------------------------- moderators

_TRANSITIONS = {
    "approve": ((Status.PENDING,), Status.APPROVED, "indicator.approved"),
    "reject": ((Status.PENDING,), Status.REJECTED, "indicator.rejected"),
    "revoke": ((Status.APPROVED,), Status.REVOKED, "indicator.revoked"),
}


async def moderate(ctx: Context, verb: str, refs: Iterable[Ref], reason: str) -> Moderated:
    member = ctx.require_member()
    require_role(member, Role.MODERATOR, f"{verb} indicators")
    from_statuses, to, event = _TRANSITIONS[verb]
    targets = [await resolve(ctx, ref, verb) for ref in refs]
    changed: list[Indicator] = []
    skipped: list[str] = []
    for ind in targets:
        status = effective_status(ind, ctx.now)
        if verb == "approve" and ind.submitter_id == member.id:
            skipped.append(f"{ind.ref}: you submitted it, so another moderator must approve it")
        elif status not in from_statuses:
            skipped.append(f"{ind.ref} is {status.value}, not {' or '.join(s.value for s in from_statuses)}")
        elif await ctx.uow.indicators.transition(ind.id, from_statuses, to, reason, ctx.now):
            await ctx.audit(verb, ind.id, reason=reason or None)
            await announce(ctx, event, ind, status=to.value)
            changed.append(replace(ind, status=to, status_reason=reason))
        else:
            skipped.append(f"{ind.ref} was changed by someone else just now")
    cards = await cards_for(ctx, changed)
    return Moderated(f"{verb}d" if verb.endswith("e") else f"{verb}ed", cards, tuple(skipped))


# ---------------------------------------------------------------- membership

async def join(ctx: Context, cmd: commands.Join) -> Joined:
    if ctx.member is not None:
        raise UsageError(f"you are already a member of {ctx.member.org_name} (see `/ioc whoami`)", "join")
    invite = await ctx.uow.invites.redeem(cmd.code, ctx.now)
    if invite is None:
        raise UsageError("that invite code is unknown, used up or expired; ask your organization's admin "
                         "for a new one", "join")
    name = (limits.storable(ctx.actor.display_name, limits.MEMBER_NAME_MAX)
            or limits.storable(ctx.actor.user_id, limits.MEMBER_NAME_MAX) or "member")
    member = await ctx.uow.members.add(invite.org_id, name, invite.role)
    await ctx.uow.members.link_identity(member.id, _identity(ctx.actor))
    ctx.member = member
    await ctx.audit("join", None, org=invite.org_name, role=invite.role.value)
    return Joined(member)


def _identity(actor: Actor) -> Identity:
    return actor.identity


async def whoami(ctx: Context, _: commands.WhoAmI) -> WhoAmIResult:
    member = ctx.require_member()
    return WhoAmIResult(member, tuple(await ctx.uow.members.identities(member.id)))


LINK_CODE_VALID = timedelta(minutes=10)
_LINK_NOT_FOUND = ("that link code is unknown, used or expired; where you are a member already, run `/ioc link` for "
                   "a new one (it lasts 10 minutes and works once), then run `/ioc link CODE` here")


async def link(ctx: Context, cmd: commands.Link) -> Done:
    """People on several platforms: `/ioc link` gives a member a one-time code, `/ioc link CODE` run from their
    identity elsewhere (not a member yet) joins that identity to them, so they are told everywhere they are."""
    return await link_start(ctx) if cmd.code is None else await link_identity(ctx, cmd.code)


async def link_start(ctx: Context) -> Done:
    if ctx.member is None:
        raise UsageError("this identity is not a member yet: run `/ioc link` where you are a member to get a code, "
                         "then `/ioc link CODE` here (or, to join, ask your organization's admin for an invite code "
                         "and run `/ioc join CODE`)", "link")
    member = ctx.member
    code = "".join(secrets.choice(commands.LINK_CODE_ALPHABET) for _ in range(commands.LINK_CODE_LENGTH))
    await ctx.uow.members.set_link_code(member.id, code, ctx.now + LINK_CODE_VALID, ctx.now)
    await ctx.audit("link.start", None)
    return Done(f"Your one-time link code: {code}\nWithin 10 minutes, as yourself on the other platform (or "
                f"workspace), from an identity that is not a member yet, run: /ioc link {code}\n"
                "It works once, and a new `/ioc link` replaces it. Keep it to yourself: whoever runs it is linked "
                "to you.")


async def link_identity(ctx: Context, code: str) -> Done:
    here = ctx.actor.identity
    if ctx.member is not None:  # checked first: the code stays usable from the right identity
        raise UsageError(f"this {here.platform.value} identity is a member already ({ctx.member.name}, "
                         f"m{ctx.member.id}, {ctx.member.org_name}); a link code joins an identity that is not a "
                         "member yet. Run it from your other identity, or, if both are members, ask an admin: two "
                         "members are not merged by a code", "link")
    member_id = await ctx.uow.members.redeem_link_code(code, ctx.now)
    member = await ctx.uow.members.get(member_id) if member_id is not None else None
    if member is None:
        raise UsageError(_LINK_NOT_FOUND, "link")
    await ctx.uow.members.link_identity(member.id, here)
    ctx.member = member
    await ctx.audit("link", None, platform=here.platform.value, workspace=here.workspace_id, user=here.user_id)
    linked = await ctx.uow.members.identities(member.id)
    where = ", ".join(sorted({i.platform.value for i in linked if i.platform in ctx.delivery_platforms}))
    return Done(f"Linked: this {here.platform.value} identity is now {member.name} (m{member.id}), "
                f"{member.role.value} of {member.org_name}."
                + (f" Decisions and notices reach you on {where}." if where else "") + " See `/ioc whoami`.")


async def stats(ctx: Context, cmd: commands.Stats) -> StatsResult | OrgStandings:
    member = ctx.require_member()
    view = ctx.view  # only what the asker may see, in the totals and in the chart's numbers
    if cmd.orgs:  # issue 13's standing, over the same view
        return OrgStandings(tuple(await ctx.uow.statistics.standing(view, member.org_id)))
    return StatsResult(await ctx.uow.indicators.stats(view),
                       await ctx.uow.statistics.trends(view, member.org_id, ctx.now))


def help_for(_: Context | None, cmd: commands.Help) -> HelpResult:
    if cmd.topic and cmd.topic not in commands.VERBS:
        raise UsageError(f"there is no verb '{cmd.topic}'; verbs: {', '.join(commands.VERBS)}", "help")
    verbs = [cmd.topic] if cmd.topic else list(commands.VERBS)
    return HelpResult(tuple((v, *commands.VERBS[v]) for v in verbs))


# ---------------------------------------------------------------- admins

def _within_limits(form: str, *checks: tuple[str, str, int]) -> None:
    """(field, text, max length) of single-line names: the store's limits, whichever path built the command."""
    try:
        for field, text, max_len in checks:
            limits.check_text(field, text, max_len, multiline=False)
    except limits.LimitError as e:
        raise UsageError(str(e), form) from None


async def org_add(ctx: Context, cmd: commands.OrgAdd) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "add organizations")
    _within_limits("org add", ("the organization name", cmd.name.strip(), limits.ORG_NAME_MAX),
                   ("sector", cmd.sector, limits.SECTOR_MAX))
    if not cmd.name.strip() or not 0 <= cmd.trust <= limits.TRUST_MAX:
        raise UsageError("give a name, and a trust from 0 to 100", "org add")
    try:
        org = await ctx.uow.organizations.add(cmd.name, cmd.sector, cmd.trust)
    except Conflict:
        raise UsageError(f"an organization named '{cmd.name}' exists already", "org add") from None
    await ctx.audit("org.add", None, org=org.name, sector=org.sector, trust=org.trust_level)
    return Done(f"Organization {org.name} added (sector {org.sector or 'unset'}, trust {org.trust_level}).")


async def org_list(ctx: Context, _: commands.OrgList) -> OrganizationList:
    require_role(ctx.require_member(), Role.ADMIN, "list organizations")
    return OrganizationList(tuple(await ctx.uow.organizations.list()))


async def member_list(ctx: Context, cmd: commands.MemberList) -> MemberListResult:
    require_role(ctx.require_member(), Role.ADMIN, "list members")
    org_id = None
    if cmd.org:
        org = await ctx.uow.organizations.by_name(cmd.org)
        if org is None:
            raise UsageError(f"there is no organization named '{cmd.org}' (see `/ioc admin org list`)",
                             "member list")
        org_id = org.id
    return MemberListResult(tuple(await ctx.uow.members.list(org_id)))


async def member_role(ctx: Context, cmd: commands.MemberRole) -> Done:
    admin = ctx.require_member()
    require_role(admin, Role.ADMIN, "change roles")
    if cmd.member.member_id is not None:
        target = (await ctx.uow.members.get(cmd.member.member_id)
                  if 0 <= cmd.member.member_id <= limits.ID_MAX else None)
    else:
        target = await ctx.uow.members.by_identity(
            Identity(ctx.actor.platform, ctx.actor.identity.workspace_id, cmd.member.user_id or ""))
    if target is None:
        raise UsageError(f"{cmd.member} is not a member (see `/ioc admin member list`)", "member role")
    if target.id == admin.id and cmd.role is not Role.ADMIN:
        raise UsageError("you cannot lower your own role; ask another admin", "member role")
    await ctx.uow.members.set_role(target.id, cmd.role)
    await ctx.audit("member.role", None, member=target.id, previous=target.role.value, role=cmd.role.value)
    if can_moderate(target) and not cmd.role.at_least(Role.MODERATOR):
        await _no_orphans_after(ctx, target)
    return Done(f"{target.name} (m{target.id}, {target.org_name}) is now {cmd.role.value}.")


async def invite_create(ctx: Context, cmd: commands.InviteCreate) -> InviteCreated:
    admin = ctx.require_member()
    require_role(admin, Role.ADMIN, "create invite codes")
    _within_limits("invite create", ("the organization name", cmd.org, limits.ORG_NAME_MAX))
    if not 1 <= cmd.uses <= limits.INVITE_USES_MAX or not limits.DURATION_MIN <= cmd.expires_in <= limits.DURATION_MAX:
        raise UsageError(f"uses: from 1 to {limits.INVITE_USES_MAX:,}; expires: from 1m to 3650d", "invite create")
    org = await ctx.uow.organizations.by_name(cmd.org)
    if org is None:
        raise UsageError(f"there is no organization named '{cmd.org}' (see `/ioc admin org list`)",
                         "invite create")
    code = secrets.token_urlsafe(12)
    invite = await ctx.uow.invites.add(code, org.id, cmd.role, cmd.uses, ctx.now + cmd.expires_in, admin.id)
    await ctx.audit("invite.create", None, org=org.name, role=cmd.role.value, uses=cmd.uses)
    return InviteCreated(code, invite)


SHARED_CEILING_NOTE = ("This channel is shared with other organizations' workspaces, so the coalition treats it as "
                       "public to them: its ceiling is TLP:CLEAR until an admin sets one. To share more here: "
                       "`/ioc admin channel set ceiling:green`")


def _shown_sharing(ctx: Context, channel: Channel) -> bool | None:
    """Whether to say the channel is shared (yes/no), where the platform tells (None: no such thing there)."""
    return ctx.actor.channel_shared if ctx.actor.channel_shared is not None else channel.shared_externally or None


async def channel_set(ctx: Context, cmd: commands.ChannelSet) -> ChannelSettings:
    """Register or change the channel. One shared with other organizations' workspaces (the platform says so in
    `actor.channel_shared`) gets CLEAR when it is registered, or first known to be shared, without `ceiling:`; an
    explicit ceiling given while it is shared is kept."""
    require_role(ctx.require_member(), Role.ADMIN, "change a channel's settings")
    current = ctx.channel or Channel(ctx.actor.platform, ctx.actor.workspace_id, ctx.actor.channel_id,
                                     ctx.policy.default_channel_ceiling)
    shared = current.shared_externally if ctx.actor.channel_shared is None else ctx.actor.channel_shared
    newly_shared = shared and not current.shared_externally
    updated = replace(
        current,
        ceiling=cmd.ceiling or (TLP.CLEAR if newly_shared else current.ceiling),
        purpose=cmd.purpose or current.purpose,
        passive=current.passive if cmd.passive is None else cmd.passive,
        ephemeral_lookups=current.ephemeral_lookups if cmd.ephemeral is None else cmd.ephemeral,
        shared_externally=shared,
    )
    await ctx.uow.channels.upsert(updated)
    await ctx.audit("channel.set", None, channel=updated.channel_id, ceiling=updated.ceiling.value,
                    purpose=updated.purpose.value, passive=updated.passive, shared=updated.shared_externally)
    note = SHARED_CEILING_NOTE if newly_shared and cmd.ceiling is None else ""
    return ChannelSettings(updated, changed=True, shared=_shown_sharing(ctx, updated), note=note)


async def channel_show(ctx: Context, _: commands.ChannelShow) -> ChannelSettings:
    ctx.require_member()
    current = ctx.channel or Channel(ctx.actor.platform, ctx.actor.workspace_id, ctx.actor.channel_id,
                                     ctx.policy.default_channel_ceiling)
    shown = replace(current, ceiling=ctx.ceiling)  # a shared channel not set while shared: CLEAR
    note = SHARED_CEILING_NOTE if ctx.ceiling != current.ceiling else ""
    return ChannelSettings(shown, changed=False, shared=_shown_sharing(ctx, current), note=note)


async def channel_sharing_changed(uow: UnitOfWork, platform: Platform, channel_id: str, shared: bool,
                                  now: datetime) -> Sequence[ChannelSharing]:
    """The platform says a channel became shared with another organization's workspace (`shared`), or is shared
    with none any more. Its registration (found by the channel's id, whatever workspace registered it) records it;
    becoming shared lowers a ceiling above CLEAR to CLEAR (a new organization sees the channel: an admin must set
    a higher one again explicitly). One audit line per change; the caller commits, and says so in the channel.
    Returns the changes (none when the channel is not registered or nothing changed)."""
    changes = []
    for channel in await uow.channels.list():
        if channel.platform is not platform or channel.channel_id != channel_id:
            continue
        updated = replace(channel, shared_externally=shared, ceiling=TLP.CLEAR if shared else channel.ceiling)
        if updated == channel:
            continue
        lowered = channel.ceiling if updated.ceiling != channel.ceiling else None
        await uow.channels.upsert(updated)
        await uow.audit.append("channel.shared" if shared else "channel.unshared", at=now, platform=platform,
                               member_id=None, detail={
                                   "workspace": channel.workspace_id, "channel": channel_id,
                                   "ceiling": updated.ceiling.value,
                                   **({"lowered_from": lowered.value} if lowered else {})})
        changes.append(ChannelSharing(updated, lowered))
    return changes


async def workspace_removed(uow: UnitOfWork, platform: Platform, workspace_id: str, now: datetime
                            ) -> Sequence[Channel]:
    """The bot was removed from a workspace (a Slack uninstall, a Discord guild the bot left or was removed
    from): its channels are unregistered, with one audit line, so no delivery is planned there any more (no post,
    no edit of a card posted there); a reinstall starts afresh (an admin sets the channels again). The caller
    commits. Returns the channels removed."""
    removed = await uow.channels.remove_workspace(platform, workspace_id)
    await uow.audit.append("workspace.removed", at=now, platform=platform, member_id=None,
                           detail={"workspace": workspace_id, "channels": [c.channel_id for c in removed]})
    return removed


async def deliveries(ctx: Context, _: commands.Deliveries) -> DeliveryList:
    require_role(ctx.require_member(), Role.ADMIN, "see deliveries")
    return DeliveryList(tuple(await ctx.uow.outbox.parked(50)), dict(await ctx.uow.outbox.pending_stats(ctx.now)),
                        tuple(await ctx.uow.outbox.pending_lanes(ctx.now)))


async def retry_delivery(ctx: Context, cmd: commands.RetryDelivery) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "retry deliveries")
    if not await ctx.uow.outbox.unpark(cmd.event_id, ctx.now):
        raise UsageError(f"{cmd.event_id} is not a parked delivery (see `/ioc admin deliveries`)", "retry")
    await ctx.audit("delivery.retry", None, outbox_id=cmd.event_id)
    return Done(f"Delivery {cmd.event_id} will be tried again now.")


# ---------------------------------------------------------------- maintenance

async def expire_due(uow: UnitOfWork, now: datetime, delivery_platforms: Sequence[Platform]) -> Sequence[int]:
    """Mark every indicator whose valid_until has passed as expired, audited and announced."""
    ids = await uow.indicators.expire_due(now)
    for indicator_id in ids:
        await uow.audit.append("expire", at=now, platform=Platform.CLI, member_id=None, indicator_id=indicator_id)
        for platform in delivery_platforms:
            await uow.outbox.add("indicator.expired", {"indicator_id": indicator_id, "status": "expired",
                                                       "origin": Platform.CLI.value}, now, platform)
    return ids


# ---------------------------------------------------------------- storing submissions (chat, files, TAXII)

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
    own = item.source_id if item.tlp.shareable_in_channels else         f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{item.source_id}|{scope}')}"
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
