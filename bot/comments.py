"""`/ioc comment #ID text` (issue 13): comments on an indicator, under its TLP.

Only someone who may see the indicator may comment on it or read its comments: `resolve` answers about an item one
may not see exactly as about an unknown one. Lookups show the latest few with a count (bot.services.lookup).

Each comment is also threaded under every posted copy of the indicator's card (a Slack thread, a Discord thread):
an `indicator.commented` event in the outbox, written in the comment's own transaction, delivered at least once
and never twice (bot.delivery). A copy gets the comment only if the item may still be shown in its channel when it
is delivered (its TLP may have been raised since the card was posted), and the commenter is shown as the lookups
show them: their organization, or "a coalition member" for every comment on an anonymous item."""

from __future__ import annotations

from bot import commands
from bot.results import Done
from bot.services import Context, announce, resolve

COMMENTED = "indicator.commented"


async def comment(ctx: Context, cmd: commands.Comment) -> Done:
    member = ctx.require_member()
    ind = await resolve(ctx, cmd.ref, "comment")
    comment_id = await ctx.uow.context.add_comment(ind.id, member.id, cmd.text, ctx.now)
    await ctx.audit("comment", ind.id, comment_id=comment_id)
    await announce(ctx, COMMENTED, ind, comment_id=comment_id)
    count, _ = (await ctx.uow.context.latest_comments([ind.id], 1))[ind.id]
    return Done(f"Comment added to {ind.ref} ({count} comment{'s' if count != 1 else ''}); "
                f"see the latest with /ioc lookup {ind.ref}.")
