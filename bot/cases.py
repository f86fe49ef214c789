"""Cases (issue 13): a campaign, an incident, a takedown, grouping indicators.

A case has its own TLP, seen as an item is (bot.rules.can_see): a case above what a viewer may see is unknown to
them, answered exactly as a name nobody used. Its card lists only the indicators the viewer may see, counted by
status; the others are neither shown nor counted. The organization that opened a case and the moderators change
it; anyone who may see it reads it. `case:NAME` on submit adds the new (and the already held) items to it.
Also the malware families already named, for Discord's autocomplete (`malware_names`).

Live case cards. `/ioc case show NAME` in a direct message answers the asker alone, with what they may see. In a
shared channel it posts the case's card in the channel for everyone there, through the outbox (`case.posted`),
and the card is recorded and kept up to date (`case.changed` when indicators are added or removed; any event of
one of its indicators: a status change, an edit, a vote). A channel's card is built for the channel's audience, as
indicator cards posted in channels are: only the indicators within its TLP ceiling are listed or counted (never
AMBER+STRICT or RED), no organization behind an anonymous item, no buttons. A case whose own TLP is above the
channel's ceiling is not posted there: the asker is told so, privately. Nor is a card posted where the platform says
the bot cannot post (`Actor.bot_can_post` False: a slash command works in a Slack channel the app is not in, or a
Discord channel where the bot may not send messages): the asker is told at once, privately, how to let it in (in
the adapter's words, `Actor.post_here_fix`), and nothing is queued (it would only fail, be retried and parked)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime

from bot import commands, services
from bot.commands import UsageError
from bot.context import MALWARE_MAX_LEN
from bot.domain import Case, Indicator
from bot.ports import Conflict, UnitOfWork
from bot.results import CaseCard, CaseListResult, Done, MalwareNamesResult, Submitted
from bot.rules import can_moderate, can_see, tlp_in_channel
from bot.score import ScoreModel
from bot.services import Context, build_cards, cards_for, effective_status, resolve
from bot.tlp import TLP

CASE_POSTED = "case.posted"  # a case's card to post in one channel: {case_id, workspace_id, channel_id, ceiling}
CASE_CHANGED = "case.changed"  # indicators added to or removed from a case: {case_id, indicator_ids}

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
    await _changed(ctx, case, added)
    return await _card(ctx, case, f"Added {_refs(added) or 'nothing new'} to case {case.name}")


async def case_remove(ctx: Context, cmd: commands.CaseRemove) -> CaseCard:
    case = await find(ctx, cmd.name)
    _may_change(ctx, case, "case")
    ind = await resolve(ctx, cmd.ref, "case")
    if not await ctx.uow.context.remove_from_case(case.id, ind.id, ctx.now):
        raise UsageError(f"{ind.ref} is not in case {case.name}", "case")
    await ctx.audit("case.remove", ind.id, case_id=case.id)
    await _changed(ctx, case, [ind.id])
    return await _card(ctx, case, f"Removed {ind.ref} from case {case.name}")


async def case_show(ctx: Context, cmd: commands.CaseShow) -> CaseCard | Done:
    """In private: the case as the asker may see it. In a shared channel: its card posted there for the channel's
    audience and kept up to date (when the asker's platform delivers; otherwise the private answer)."""
    case = await find(ctx, cmd.name)
    if ctx.actor.private or ctx.actor.platform not in ctx.delivery_platforms:
        return await _card(ctx, case)
    # what the live card will show: the deliveries build it under the lower of this ceiling and the one they know
    # for the channel (its registration's, else the default: a Discord thread is known by its own id)
    ceiling = min(ctx.ceiling, ctx.kept_ceiling)
    if not tlp_in_channel(case.tlp, ceiling):
        raise UsageError(f"case {case.name} is {case.tlp.label}, above what this channel may see (its ceiling is "
                         f"{ceiling.label}), so its card is not posted here; run /ioc case show {case.name} in a "
                         "direct message with the bot to read it", "case")
    if ctx.actor.bot_can_post is False:
        raise UsageError(f"the bot cannot post in this channel, so case {case.name}'s card is not posted here: "
                         f"{ctx.actor.post_here_fix or 'let the bot into it'}, then run /ioc case "
                         f"show {case.name} again (or run it in a direct message with the bot to read the case)")
    await ctx.uow.outbox.add(CASE_POSTED, {"case_id": case.id, "workspace_id": ctx.actor.workspace_id,
                                           "channel_id": ctx.actor.channel_id, "ceiling": ceiling.value,
                                           "origin": ctx.actor.platform.value}, ctx.now, ctx.actor.platform)
    await ctx.audit("case.post", None, case_id=case.id, channel=ctx.actor.channel_id)
    return Done(f"Case {case.name}'s card is posted in this channel for everyone here: it lists only the indicators "
                f"this channel may see (up to {ceiling.label}) and is kept up to date as the case changes.")


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
    await _changed(ctx, case, await _add(ctx, case, [c.indicator for c in (*result.created, *result.known)]))
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


async def _changed(ctx: Context, case: Case, indicator_ids: list[int]) -> None:
    """Indicators were added or removed: every posted card of the case is edited (bot.delivery)."""
    if indicator_ids:
        for platform in ctx.delivery_platforms:
            await ctx.uow.outbox.add(CASE_CHANGED, {"case_id": case.id, "indicator_ids": indicator_ids,
                                                    "origin": ctx.actor.platform.value}, ctx.now, platform)


async def channel_cards(uow: UnitOfWork, cases: list[tuple[Case, TLP]], now: datetime,
                        model: ScoreModel | None = None) -> dict[tuple[int, TLP], CaseCard]:
    """Each case's card for a channel's audience under a ceiling, (case id, ceiling) -> card: only the indicators
    that may be shown in such a channel, listed and counted, dressed as channel cards (no organization behind an
    anonymous item) without buttons. A case above the ceiling has no card."""
    wanted = {(case.id, ceiling): case for case, ceiling in cases if tlp_in_channel(case.tlp, ceiling)}
    members = {case.id: await uow.context.case_indicator_ids(case.id) for case in wanted.values()}
    everything = {i.id: i for i in await uow.indicators.by_ids({i for ids in members.values() for i in ids})}
    built: dict[tuple[int, TLP], CaseCard] = {}
    for (case_id, ceiling), case in wanted.items():
        items = sorted((everything[i] for i in members[case_id] if i in everything
                        and tlp_in_channel(everything[i].tlp, ceiling)), key=lambda i: i.id, reverse=True)
        counts = Counter(effective_status(i, now).value for i in items)
        cards = await build_cards(uow, items[:CARDS_SHOWN], viewer=None, now=now, moderator_buttons=False,
                                  model=model)
        built[(case_id, ceiling)] = CaseCard(case, tuple(dataclasses.replace(c, buttons=()) for c in cards),
                                             tuple(sorted(counts.items())), channel=True)
    return built


def _refs(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


async def malware_names(ctx: Context, cmd: commands.MalwareNames) -> MalwareNamesResult:
    """Families already named on items the asker may see, for an autocomplete (normalised as stored: a prefix
    typed `Cobalt-S` finds cobalt_strike); a prefix that cannot start a name finds nothing."""
    ctx.require_member()
    prefix = "_".join(cmd.prefix.strip().lower().replace("-", " ").split())[:MALWARE_MAX_LEN]
    return MalwareNamesResult(tuple(await ctx.uow.context.malware_names(ctx.view, prefix, 25)))
