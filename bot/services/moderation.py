"""Moderators: approve, reject, revoke."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from bot.commands import Ref
from bot.domain import (
    Indicator,
    Role,
    Status,
)
from bot.results import (
    Moderated,
)
from bot.rules import (
    require_role,
)

from .context import Context, announce, cards_for, effective_status, resolve

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
