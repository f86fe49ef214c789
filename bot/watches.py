"""The watch verbs (issue 12): `/ioc watch add|list|remove`. What a watch matches is bot.watch_index; the alerts
are planned with the outbox's deliveries (bot.delivery)."""

from __future__ import annotations

from dataclasses import replace

from bot import commands
from bot.commands import UsageError
from bot.results import Done, WatchListResult
from bot.rules import can_moderate
from bot.services import Context
from bot.watch_index import Watch

MAX_WATCHES = 200  # per member: a watch list a person can still read


async def watch_add(ctx: Context, cmd: commands.WatchAdd) -> Done:
    member = ctx.require_member()
    target = cmd.target
    if target.org:
        org = await ctx.uow.organizations.by_name(target.org)
        if org is None:
            raise UsageError(f'there is no organization called "{target.org}" (see `/ioc admin org list`; quote a '
                             'name with spaces: org:"Sentinel Security")', "watch")
        target = replace(target, org=org.name.casefold())
    channel = None
    if cmd.channel:
        if not can_moderate(member):
            raise UsageError("only moderators and admins set a channel's watches; leave out `channel` to be told "
                             "yourself", "watch")
        if ctx.actor.private:
            raise UsageError("a channel watch is set in the channel it alerts; run the command there", "watch")
        channel = (ctx.actor.platform.value, ctx.actor.workspace_id, ctx.actor.channel_id)
    if await ctx.uow.watches.count_of_member(member.id) >= MAX_WATCHES:
        raise UsageError(f"you have {MAX_WATCHES} watches, the most one member may have; remove some first "
                         "(/ioc watch list, /ioc watch remove W7)", "watch")
    watch = await ctx.uow.watches.add(Watch(0, member.id, target, cmd.note, channel, cmd.digest, cmd.include_own,
                                            ctx.now))
    await ctx.audit("watch.add", None, watch=watch.id, target=str(watch.target), channel=bool(channel),
                    digest=watch.digest)
    where = ("in this channel, within its ceiling" if channel else
             "in a direct message on each platform where you have an identity")
    how = "once a day" if watch.digest else "at most once an hour for each indicator"
    own = "" if watch.include_own or channel else " Your own organization's items are left out (add self:on)."
    return Done(f"Watching {watch.target} ({watch.ref}): you will be told {where}, {how}, of what you may see."
                + own)


async def watch_list(ctx: Context, _: commands.WatchList) -> WatchListResult:
    member = ctx.require_member()
    mine = tuple(await ctx.uow.watches.of_member(member.id))
    here: tuple[Watch, ...] = ()
    if not ctx.actor.private:
        here = tuple(w for w in await ctx.uow.watches.of_channel(ctx.actor.platform.value, ctx.actor.workspace_id,
                                                                 ctx.actor.channel_id)
                     if w.member_id != member.id)
    return WatchListResult(mine, here)


async def watch_remove(ctx: Context, cmd: commands.WatchRemove) -> Done:
    member = ctx.require_member()
    watch = await ctx.uow.watches.get(cmd.watch_id)
    here = (ctx.actor.platform.value, ctx.actor.workspace_id, ctx.actor.channel_id)
    if watch is None or not (watch.member_id == member.id
                             or (watch.channel == here and can_moderate(member))):
        raise UsageError(f"W{cmd.watch_id} is not one of your watches (see `/ioc watch list`)", "watch")
    await ctx.uow.watches.remove(watch.id)
    await ctx.audit("watch.remove", None, watch=watch.id, target=str(watch.target))
    return Done(f"No longer watching {watch.target} ({watch.ref}).")
