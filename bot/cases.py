"""Cases (issue 13): a campaign, an incident, a takedown, grouping indicators.

A case has its own TLP, seen as an item is (bot.rules.can_see): a case above what a viewer may see is unknown to
them, answered exactly as a name nobody used. Its card lists only the indicators the viewer may see, counted by
status; the others are neither shown nor counted. The organization that opened a case and the moderators change
it; anyone who may see it reads it. `case:NAME` on submit adds the new (and the already held) items to it.
Also the malware families already named, for Discord's autocomplete (`malware_names`)."""

from __future__ import annotations

from collections import Counter

from bot import commands, services
from bot.commands import UsageError
from bot.context import MALWARE_MAX_LEN
from bot.domain import Case, Indicator
from bot.ports import Conflict
from bot.results import CaseCard, CaseListResult, MalwareNamesResult, Submitted
from bot.rules import can_moderate, can_see
from bot.services import Context, cards_for, effective_status, resolve

CARDS_SHOWN = 10  # a case's card shows its newest indicators in full; the counts cover them all


async def find(ctx: Context, name: str, verb: str = "case") -> Case:
    """The case of that name this viewer may see; otherwise the same answer as for a name nobody used. A name is
    held once per visibility scope (shared, an organization's AMBER+STRICT, a member's RED): when the viewer may
    see several, the most restrictive is theirs (their own RED case, their organization's, then the shared one)."""
    view = ctx.view
    seen = [c for c in await ctx.uow.context.cases_by_name(name) if can_see(c, view)]  # type: ignore[arg-type]
    if not seen:
        raise UsageError(f"there is no case {name} you can see (see /ioc case list)", verb)
    return max(seen, key=lambda c: (c.tlp.rank, c.id))


def _may_change(ctx: Context, case: Case, verb: str) -> None:
    member = ctx.require_member()
    if member.org_id != case.org_id and not can_moderate(member):
        raise UsageError(f"only the organization that opened case {case.name} ({case.org_name}) or a moderator may "
                         "change it", verb)


async def case_new(ctx: Context, cmd: commands.CaseNew) -> CaseCard:
    member = ctx.require_member()
    tlp = cmd.tlp or ctx.policy.default_tlp
    if not can_see(Case(0, cmd.name, tlp, "", member.org_id, member.org_name, member.id, ctx.now),  # type: ignore[arg-type]
                   ctx.view):
        raise UsageError(f"you could not see a case at {tlp.label} yourself here; choose another TLP", "case")
    try:
        case = await ctx.uow.context.add_case(cmd.name, tlp, cmd.description, member.org_id, member.id, ctx.now)
    except Conflict:  # in the new case's own scope, which its creator sees: naming it tells them nothing new
        raise UsageError(f"there is a case {cmd.name} already where a {tlp.label} case is held (see /ioc case show "
                         f"{cmd.name}); choose another name", "case") from None
    await ctx.audit("case.new", None, case_id=case.id, name=case.name, tlp=tlp.value)
    return CaseCard(case, (), (), headline=f"Case {case.name} opened")


async def case_add(ctx: Context, cmd: commands.CaseAdd) -> CaseCard:
    case = await find(ctx, cmd.name)
    _may_change(ctx, case, "case")
    indicators = [await resolve(ctx, ref, "case") for ref in cmd.refs]
    added = await _add(ctx, case, indicators)
    return await _card(ctx, case, f"Added {_refs(added) or 'nothing new'} to case {case.name}")


async def case_remove(ctx: Context, cmd: commands.CaseRemove) -> CaseCard:
    case = await find(ctx, cmd.name)
    _may_change(ctx, case, "case")
    ind = await resolve(ctx, cmd.ref, "case")
    if not await ctx.uow.context.remove_from_case(case.id, ind.id):
        raise UsageError(f"{ind.ref} is not in case {case.name}", "case")
    await ctx.audit("case.remove", ind.id, case_id=case.id)
    return await _card(ctx, case, f"Removed {ind.ref} from case {case.name}")


async def case_show(ctx: Context, cmd: commands.CaseShow) -> CaseCard:
    return await _card(ctx, await find(ctx, cmd.name))


async def case_list(ctx: Context, _: commands.CaseList) -> CaseListResult:
    view = ctx.view
    shown = []
    for case in await ctx.uow.context.cases():
        if can_see(case, view):  # type: ignore[arg-type]
            ids = await ctx.uow.context.case_indicator_ids(case.id)
            shown.append((case, sum(1 for i in await ctx.uow.indicators.by_ids(ids) if can_see(i, view))))
    return CaseListResult(tuple(shown))


async def submit(ctx: Context, cmd: commands.Submit) -> Submitted:
    """`/ioc submit ... case:NAME`: the case is checked first (nothing is stored when it cannot be used), then the
    submitted items, new and already held, are added to it."""
    if not cmd.case:
        return await services.submit(ctx, cmd)
    ctx.require_member()
    case = await find(ctx, cmd.case, "submit")
    _may_change(ctx, case, "submit")
    result = await services.submit(ctx, cmd)
    await _add(ctx, case, [c.indicator for c in (*result.created, *result.known)])
    return result


async def _add(ctx: Context, case: Case, indicators: list[Indicator]) -> list[int]:
    added = await ctx.uow.context.add_to_case(case.id, [i.id for i in indicators])
    for indicator_id in added:
        await ctx.audit("case.add", indicator_id, case_id=case.id)
    return added


async def _card(ctx: Context, case: Case, headline: str = "") -> CaseCard:
    view = ctx.view
    items = [i for i in await ctx.uow.indicators.by_ids(await ctx.uow.context.case_indicator_ids(case.id))
             if can_see(i, view)]
    items.sort(key=lambda i: i.id, reverse=True)
    counts = Counter(effective_status(i, ctx.now).value for i in items)
    return CaseCard(case, await cards_for(ctx, items[:CARDS_SHOWN]), tuple(sorted(counts.items())), headline)


def _refs(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


async def malware_names(ctx: Context, cmd: commands.MalwareNames) -> MalwareNamesResult:
    """Families already named on items the asker may see, for an autocomplete (normalised as stored: a prefix
    typed `Cobalt-S` finds cobalt_strike); a prefix that cannot start a name finds nothing."""
    ctx.require_member()
    prefix = "_".join(cmd.prefix.strip().lower().replace("-", " ").split())[:MALWARE_MAX_LEN]
    return MalwareNamesResult(tuple(await ctx.uow.context.malware_names(ctx.view, prefix, 25)))
