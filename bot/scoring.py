"""The score's services (issue 13): `/ioc why #ID`, and the optional expiry of approved items whose score fell
below `[score] expire_below` (a step of the maintenance loop, announced like any expiry)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot import commands
from bot.domain import Platform, Status
from bot.policy import Policy
from bot.ports import UnitOfWork
from bot.results import ScoreExplained
from bot.score import explain, scores_of
from bot.services import Context, card, resolve

EXPIRY_BATCH = 500  # approved items scored per query


async def why(ctx: Context, cmd: commands.Why) -> ScoreExplained:
    """The whole computation of an item the asker may see; anything else answers as an unknown item does."""
    ctx.require_member()
    ind = await resolve(ctx, cmd.ref, "why")
    shown = await card(ctx, ind)
    assert shown.score is not None
    return ScoreExplained(ind, shown.score, explain(shown.score))


async def expire_below_threshold(uow: UnitOfWork, now: datetime, delivery_platforms: Sequence[Platform],
                                 policy: Policy) -> Sequence[int]:
    """Expire every approved item whose score is below `policy.score_expire_below` (None: off), audited with its
    score and announced as `indicator.expired` like an item whose valid_until passed."""
    below = policy.score_expire_below
    if below is None:
        return ()
    due: dict[int, int] = {}
    after = 0
    while batch := await uow.indicators.approved_after(after, EXPIRY_BATCH, now):
        scores = await scores_of(uow, batch, now, policy.score_model)
        due.update((indicator_id, score) for indicator_id, score in scores.items() if score < below)
        after = batch[-1].id
    reason = f"score fell below {below:g}"
    expired = await uow.indicators.transition_many(due, [Status.APPROVED], Status.EXPIRED, reason, now)
    for indicator_id in expired:
        await uow.audit.append("expire", at=now, platform=Platform.CLI, member_id=None, indicator_id=indicator_id,
                               detail={"rule": "score", "score": due[indicator_id], "below": below})
        for platform in delivery_platforms:
            await uow.outbox.add("indicator.expired", {"indicator_id": indicator_id, "status": "expired",
                                                       "origin": Platform.CLI.value}, now, platform)
    return expired
