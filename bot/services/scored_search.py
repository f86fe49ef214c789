"""`/ioc search ... min_score:N` (issue 13): the score is computed (bot.score), not stored, so the store cannot
filter by it. The matches are read newest first in keyset batches (no COUNT, no OFFSET), each batch scored from
one read of its votes and sightings, until the requested page is full and one more item shows there is a next
page: every match is considered, however old, and a first page costs a batch or a few. Items whose confidence is
too low for any evidence to lift them to N (bot.score.confidence_floor) are left out by the store.

The count: exact when every match was scored anyway (all of them fit in COUNT_SCAN rows, or the page needed them
all); otherwise the scan stops once the page is full and at least COUNT_SCAN matches were scored, and the reply
says "of at least N" (N: the items found so far) rather than scoring a million rows for a number. An analyst
paging on gets the next page scored on demand."""

from __future__ import annotations

from bot.domain import Indicator, Page, SearchFilter, Visibility
from bot.results import IndicatorList
from bot.rules import can_see
from bot.score import confidence_floor, scores_of

from .context import Context, cards_for

BATCH = 500  # matches read and scored at a time
COUNT_SCAN = 5000  # matches scored at least before the count may be "at least N"


async def scored_search(ctx: Context, flt: SearchFilter, page_number: int, min_score: int, view: Visibility, *,
                        batch: int = BATCH, count_scan: int = COUNT_SCAN) -> IndicatorList:
    """Page `page_number` of the matches of `flt` that `view` may see and that score at least `min_score` now,
    newest first."""
    page = Page(page_number, ctx.policy.page_size)
    wanted = page.offset + page.size + 1  # the page, and one more: whether there is a next page
    kept: list[Indicator] = []
    scanned = 0
    before: int | None = None
    floor = confidence_floor(min_score)  # below it nothing can score min_score: the store leaves those out
    complete = floor > 100  # (then no item can score that much)
    while not complete:
        rows = await ctx.uow.indicators.search_newest(flt, view, before, batch, min_confidence=floor)
        complete = len(rows) < batch  # the last batch: every match has been scored
        scanned += len(rows)
        if rows:
            before = rows[-1].id
        rows = [r for r in rows if can_see(r, view)]  # the store filtered already; the rule is checked once more
        if rows:
            scores = await scores_of(ctx.uow, rows, ctx.now, ctx.policy.score_model)
            kept += [r for r in rows if scores[r.id] >= min_score]
        if len(kept) >= wanted and scanned >= count_scan:
            break
    shown = kept[page.offset:page.offset + page.size]
    return IndicatorList(title=f"Search results scoring {min_score} or more", cards=await cards_for(ctx, shown),
                         total=len(kept), page=page.number, page_size=page.size, next_action=None,
                         total_at_least=not complete)
