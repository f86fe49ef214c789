"""What every service is given (Context), and what they all use: cards, references, announcements."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from bot import actions, commands
from bot.audience import lookup_in_channel
from bot.commands import IdRef, Ref, StixRef, UsageError
from bot.domain import (
    Actor,
    Channel,
    Indicator,
    Member,
    Platform,
    Status,
    Verdict,
    Visibility,
)
from bot.ioc import Observable
from bot.policy import Policy
from bot.ports import UnitOfWork
from bot.results import (
    Button,
    IndicatorCard,
)
from bot.rules import (
    can_moderate,
    can_see,
    shown_org_name,
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
    # how far long work is (an import), for whoever shows it: `progress(what, done, total)`, see bot.exchange.Progress
    progress: Callable[[str, int, int | None], None] | None = None
    # a thread's channel's registration (Actor.parent_channel_id), if that channel is registered
    parent_channel: Channel | None = None

    @property
    def ceiling(self) -> TLP:
        """The channel's ceiling (a thread: its channel's, whose members all read it). A channel the platform says
        is shared with other organizations' workspaces is public to them: CLEAR, unless an admin set its ceiling
        while it was known to be shared."""
        where = self.channel or self.parent_channel
        if self.actor.channel_shared and not (where and where.shared_externally):
            return TLP.CLEAR
        ceiling = where.ceiling if where else self.policy.default_channel_ceiling
        if self.channel is not None and self.actor.parent_channel_id:
            # a thread registered on its own (`channel set` run in it before it set the thread's channel instead):
            # never above its channel's
            ceiling = min(ceiling, self.parent_channel.ceiling if self.parent_channel
                          else self.policy.default_channel_ceiling)
        return ceiling

    @property
    def kept_ceiling(self) -> TLP:
        """The ceiling the delivery planner (bot.delivery) applies later to the cards recorded in this channel: its
        registration's, else the policy's default; it knows nothing of what the platform said of the channel
        being shared (`ceiling`), so a public reply is recorded only where this is no more (bot.audience.Reply)."""
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
                      model: ScoreModel | None = None, comment_counts: bool = False) -> tuple[IndicatorCard, ...]:
    """Cards for these indicators, their tallies, sightings and scores (bot.score) fetched in one query.

    `viewer` None renders for a shared channel: no organization behind an anonymous item, vote buttons only
    (unless `moderator_buttons`). `comment_counts`: each card with how many comments its item has (a lookup's,
    which then reads the latest of those that have some)."""
    if not indicators:
        return ()
    ids = [i.id for i in indicators]
    evidence = await uow.votes.evidence(ids)
    moderator = moderator_buttons if moderator_buttons is not None else bool(viewer and can_moderate(viewer))
    cards = []
    for ind in indicators:
        status = effective_status(ind, now)
        found = evidence[ind.id]
        cards.append(IndicatorCard(
            indicator=ind,
            org_shown=shown_org_name(ind, viewer),
            status=status,
            tally=found.tally,
            sightings=found.sightings,
            buttons=buttons_for(ind.id, status, moderator),
            warnings=(warnings or {}).get(ind.id, ()),
            score=compute(inputs_for(ind, found.verdicts, found.sightings), now, model),
            comment_count=found.comments if comment_counts else 0,
        ))
    return tuple(cards)


async def cards_for(ctx: Context, indicators: Sequence[Indicator], *,
                    held: Mapping[tuple[str, str], Sequence[Indicator]] | None = None,
                    comment_counts: bool = False) -> tuple[IndicatorCard, ...]:
    """Cards for this viewer, each flagged with the warninglists its value is on, and with `also_restricted`
    when the viewer may also see another item of the same value at AMBER+STRICT or RED (another visibility
    scope): only someone who may see both learns that they coincide. `held`: every item of some of these values
    (by type and value, in every scope), when the caller has read them already (a lookup by value);
    `comment_counts`: see build_cards."""
    warnings = {}
    if ctx.warninglists is not None:
        for ind in indicators:
            if names := ctx.warninglists.match(Observable(ind.type, ind.value)):
                warnings[ind.id] = tuple(names)
    cards = await build_cards(ctx.uow, indicators, viewer=ctx.member, now=ctx.now, warnings=warnings,
                              model=ctx.policy.score_model, comment_counts=comment_counts)
    also = await _also_restricted(ctx, indicators, held or {})
    return tuple(replace(c, also_restricted=True) if c.indicator.id in also else c for c in cards)


async def _also_restricted(ctx: Context, indicators: Sequence[Indicator],
                           held: Mapping[tuple[str, str], Sequence[Indicator]]) -> set[int]:
    if ctx.member is None or not indicators:
        return set()
    view = ctx.view
    restricted: dict[tuple[str, str], set[int]] = {}
    unread = {(i.type, i.value) for i in indicators if (i.type.value, i.value) not in held}
    others = [other for rows in held.values() for other in rows]
    for other in others + (await ctx.uow.indicators.by_values(unread) if unread else []):
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
