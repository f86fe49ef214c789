"""The weekly digest (issue 14): once a week, at a configured day and hour (UTC), every feed channel gets the
coalition's chart and the week's numbers, counting only what that channel may see.

The maintenance loop writes it (`write_weekly`): when the week's moment has come (and less than a day ago: a
process that was down all day skips that week rather than posting stale numbers), it claims the week in the store
and writes one `stats.weekly` outbox event per delivering platform in the same transaction. A second maintenance
loop over the same database, or a restarted one, finds the week claimed and writes nothing.

The deliverer plans it (`plan_weekly`): for each feed channel of its platform, the numbers over what that channel
may see (bot.rules.channel_visibility: its ceiling, never AMBER+STRICT or RED, anonymous items of every
organization as "a coalition member"), computed as of the week's moment, so that a retry posts the same numbers.
A channel that may see nothing of the last twelve weeks is left out (there is nothing to tell it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.domain import Channel, ChannelPurpose, OutboxEvent, Platform, StatsTrends
from bot.rules import ANONYMOUS_ORG, channel_visibility
from bot.text import trend_lines
from bot.tlp import TLP
from bot.values import frozen
from bot.weekly_schedule import WeeklySchedule, week_of

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bot.ports import UnitOfWork

WEEKLY_EVENT = "stats.weekly"
NOBODY = -1  # the viewer organization of a channel: none, so every anonymous item is ANONYMOUS_ORG's


async def write_weekly(uow: UnitOfWork, now: datetime, platforms: Sequence[Platform],
                       schedule: WeeklySchedule) -> int:
    """The week's digest events (one per delivering platform) when it is due and nobody wrote it yet: 1 if
    written, else 0. The caller commits (the week's claim and its events together)."""
    at = schedule.due(now)
    if at is None or not platforms:
        return 0
    week = week_of(at)
    last = await uow.weekly_digests.last()
    if last is not None and last >= week:  # the usual case, without a write
        return 0
    if not await uow.weekly_digests.claim(week, now):
        return 0
    for platform in platforms:
        await uow.outbox.add(WEEKLY_EVENT, {"week": week.isoformat(), "at": at.isoformat()}, now, platform)
    return 1


@frozen
class WeeklyPost:
    """One feed channel's digest: the numbers it may see, the text saying them, and the chart's file name."""

    channel: Channel
    trends: StatsTrends
    text: str
    filename: str


async def plan_weekly(uow: UnitOfWork, event: OutboxEvent, channels: Sequence[Channel]) -> list[WeeklyPost]:
    """What one `stats.weekly` event posts: each feed channel of the platform gets the numbers it may see
    (computed once per ceiling)."""
    at = datetime.fromisoformat(str(event.payload.get("at")))
    by_ceiling: dict[TLP, StatsTrends] = {}
    posts: list[WeeklyPost] = []
    for channel in channels:
        if channel.purpose is not ChannelPurpose.FEED or channel.platform is not event.platform:
            continue
        view = channel_visibility(channel.ceiling)
        if view.max_shared_tlp not in by_ceiling:
            by_ceiling[view.max_shared_tlp] = await uow.statistics.trends(view, NOBODY, at)
        trends = by_ceiling[view.max_shared_tlp]
        if not any(trends.submitted) and not any(trends.approved) and not trends.by_organization:
            continue
        posts.append(WeeklyPost(channel, trends, digest_text(trends, view.max_shared_tlp, at.date()),
                                f"coalition-weekly-{at.date().isoformat()}.png"))
    return posts


def digest_text(trends: StatsTrends, ceiling: TLP, day: date) -> str:
    """The digest's message (plain text: the sink escapes it, tags and names included)."""
    lines = [f"Weekly digest of the coalition's indicators, {day.isoformat()} (counting only what this "
             f"channel may see: {ceiling.label} and below; anonymous items as \"{ANONYMOUS_ORG}\")"]
    if len(trends.week_starts) >= 2:
        lines.append(f"Last week (from {trends.week_starts[-2].isoformat()}): {trends.submitted[-2]:,} submitted, "
                     f"{trends.approved[-2]:,} approved")
    return "\n".join(lines + trend_lines(trends))


__all__ = ["WEEKLY_EVENT", "WeeklyPost", "digest_text", "plan_weekly", "write_weekly"]
