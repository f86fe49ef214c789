"""What every member does: submit, look up, vote, sight, search, the queue, home, passive mode, stats, help."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot import actions, commands, limits, pivots
from bot.commands import IdRef, UsageError, ValueRef
from bot.domain import (
    Indicator,
    Page,
    Role,
    SearchFilter,
    Status,
    Submission,
    Verdict,
    Visibility,
)
from bot.ioc import IOCType, Observable, extract
from bot.results import (
    HelpResult,
    HomeResult,
    IndicatorCard,
    IndicatorList,
    LookupResult,
    OrgStandings,
    PassiveResult,
    Related,
    RelatedGroup,
    RelatedItem,
    SightingRecorded,
    StatsResult,
    Submitted,
    Voted,
)
from bot.rules import (
    can_feed,
    can_moderate,
    can_see,
    require_role,
)

from .context import Context, announce, build_cards, card, cards_for, effective_status, resolve
from .scored_search import scored_search
from .storing import store_submissions


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
    cards = await cards_for(ctx, list(found.values()), held=by_value, comment_counts=True)
    return LookupResult(await _with_comments(ctx, cards), tuple(unknown),
                        cmd.invalid, await _related(ctx, list(pivoted.values())[:PIVOTED_VALUES], view))


COMMENTS_SHOWN = 3  # issue 13: a lookup's card shows the latest comments, newest first, with their count


async def _with_comments(ctx: Context, cards: Sequence[IndicatorCard]) -> tuple[IndicatorCard, ...]:
    """The cards (of items the viewer may see, with how many comments each has) with their latest comments: read
    only for those that have some (most have none: no statement then)."""
    commented = [c.indicator.id for c in cards if c.comment_count]
    found = await ctx.uow.context.latest_comments(commented, COMMENTS_SHOWN) if commented else {}
    latest = {c.indicator.id: found.get(c.indicator.id, (0, [])) for c in cards}  # as read now: the count too
    return tuple(replace(c, comments=tuple(latest[c.indicator.id][1]), comment_count=latest[c.indicator.id][0])
                 for c in cards)


PIVOTED_VALUES = 10  # the related sections of a lookup: for its first ten values


async def _related(ctx: Context, values: Sequence[Observable], view: Visibility) -> tuple[Related, ...]:
    """Issue 12's pivots: for each value, the items around it (bot.pivots.plan) that `view` may see, counted by
    the store with the same visibility (one statement per value, the items' confirmations included), the first
    few shown; a value with nothing related has no section."""
    planned = [(obs, pivot) for obs in values for pivot in pivots.plan(obs)]
    answers = await ctx.uow.indicators.related([p for _, p in planned], view, pivots.SHOWN)
    groups: dict[str, list[RelatedGroup]] = {}
    for (obs, pivot), (rows, total, confirm_orgs) in zip(planned, answers, strict=True):
        if not total:
            continue
        items = tuple(RelatedItem(r, effective_status(r, ctx.now), confirm_orgs[r.id])
                      for r in rows if can_see(r, view))
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
        return await scored_search(ctx, flt, cmd.page, cmd.min_score, view=ctx.view_for(cmd))
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
