"""Admins: organizations, members and roles, invites, channels, workspaces, deliveries; and the maintenance the loop
runs."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot import commands, limits
from bot.commands import UsageError
from bot.domain import (
    Channel,
    Identity,
    Platform,
    Role,
)
from bot.ports import Conflict, UnitOfWork
from bot.results import (
    THREAD_FOLLOWS,
    THREAD_OWN,
    ChannelSettings,
    ChannelSharing,
    DeliveryList,
    Done,
    InviteCreated,
    MemberListResult,
    OrganizationList,
)
from bot.rules import (
    can_moderate,
    require_role,
)
from bot.tlp import TLP

from .context import Context
from .storing import _no_orphans_after


def _within_limits(form: str, *checks: tuple[str, str, int]) -> None:
    """(field, text, max length) of single-line names: the store's limits, whichever path built the command."""
    try:
        for field, text, max_len in checks:
            limits.check_text(field, text, max_len, multiline=False)
    except limits.LimitError as e:
        raise UsageError(str(e), form) from None


async def org_add(ctx: Context, cmd: commands.OrgAdd) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "add organizations")
    _within_limits("org add", ("the organization name", cmd.name.strip(), limits.ORG_NAME_MAX),
                   ("sector", cmd.sector, limits.SECTOR_MAX))
    if not cmd.name.strip() or not 0 <= cmd.trust <= limits.TRUST_MAX:
        raise UsageError("give a name, and a trust from 0 to 100", "org add")
    try:
        org = await ctx.uow.organizations.add(cmd.name, cmd.sector, cmd.trust)
    except Conflict:
        raise UsageError(f"an organization named '{cmd.name}' exists already", "org add") from None
    await ctx.audit("org.add", None, org=org.name, sector=org.sector, trust=org.trust_level)
    return Done(f"Organization {org.name} added (sector {org.sector or 'unset'}, trust {org.trust_level}).")


async def org_list(ctx: Context, _: commands.OrgList) -> OrganizationList:
    require_role(ctx.require_member(), Role.ADMIN, "list organizations")
    return OrganizationList(tuple(await ctx.uow.organizations.list()))


async def member_list(ctx: Context, cmd: commands.MemberList) -> MemberListResult:
    require_role(ctx.require_member(), Role.ADMIN, "list members")
    org_id = None
    if cmd.org:
        org = await ctx.uow.organizations.by_name(cmd.org)
        if org is None:
            raise UsageError(f"there is no organization named '{cmd.org}' (see `/ioc admin org list`)",
                             "member list")
        org_id = org.id
    return MemberListResult(tuple(await ctx.uow.members.list(org_id)))


async def member_role(ctx: Context, cmd: commands.MemberRole) -> Done:
    admin = ctx.require_member()
    require_role(admin, Role.ADMIN, "change roles")
    if cmd.member.member_id is not None:
        target = (await ctx.uow.members.get(cmd.member.member_id)
                  if 0 <= cmd.member.member_id <= limits.ID_MAX else None)
    else:
        target = await ctx.uow.members.by_identity(
            Identity(ctx.actor.platform, ctx.actor.identity.workspace_id, cmd.member.user_id or ""))
    if target is None:
        raise UsageError(f"{cmd.member} is not a member (see `/ioc admin member list`)", "member role")
    if target.id == admin.id and cmd.role is not Role.ADMIN:
        raise UsageError("you cannot lower your own role; ask another admin", "member role")
    await ctx.uow.members.set_role(target.id, cmd.role)
    await ctx.audit("member.role", None, member=target.id, previous=target.role.value, role=cmd.role.value)
    if can_moderate(target) and not cmd.role.at_least(Role.MODERATOR):
        await _no_orphans_after(ctx, target)
    return Done(f"{target.name} (m{target.id}, {target.org_name}) is now {cmd.role.value}.")


async def invite_create(ctx: Context, cmd: commands.InviteCreate) -> InviteCreated:
    admin = ctx.require_member()
    require_role(admin, Role.ADMIN, "create invite codes")
    _within_limits("invite create", ("the organization name", cmd.org, limits.ORG_NAME_MAX))
    if not 1 <= cmd.uses <= limits.INVITE_USES_MAX or not limits.DURATION_MIN <= cmd.expires_in <= limits.DURATION_MAX:
        raise UsageError(f"uses: from 1 to {limits.INVITE_USES_MAX:,}; expires: from 1m to 3650d", "invite create")
    org = await ctx.uow.organizations.by_name(cmd.org)
    if org is None:
        raise UsageError(f"there is no organization named '{cmd.org}' (see `/ioc admin org list`)",
                         "invite create")
    code = secrets.token_urlsafe(12)
    invite = await ctx.uow.invites.add(code, org.id, cmd.role, cmd.uses, ctx.now + cmd.expires_in, admin.id)
    await ctx.audit("invite.create", None, org=org.name, role=cmd.role.value, uses=cmd.uses)
    return InviteCreated(code, invite)


SHARED_CEILING_NOTE = ("This channel is shared with other organizations' workspaces, so the coalition treats it as "
                       "public to them: its ceiling is TLP:CLEAR until an admin sets one. To share more here: "
                       "`/ioc admin channel set ceiling:green`")


def _shown_sharing(ctx: Context, channel: Channel) -> bool | None:
    """Whether to say the channel is shared (yes/no), where the platform tells (None: no such thing there)."""
    return ctx.actor.channel_shared if ctx.actor.channel_shared is not None else channel.shared_externally or None


THREAD_NOTE = ("A thread has no audience of its own (everyone in its channel reads it), so it has its channel's "
               "ceiling; `/ioc admin channel set` run in a thread sets its channel.")
THREAD_OWN_NOTE = ("This thread has settings of its own, set in it before `/ioc admin channel set` run in a thread set "
                   "its channel instead; its ceiling is never above its channel's.")


def _thread_here(ctx: Context) -> str:
    """Whether `channel show` is asked in a thread (bot.results.ChannelSettings.thread)."""
    if not ctx.actor.parent_channel_id:
        return ""
    return THREAD_OWN if ctx.channel is not None else THREAD_FOLLOWS


async def channel_set(ctx: Context, cmd: commands.ChannelSet) -> ChannelSettings:
    """Register or change the channel. One shared with other organizations' workspaces (the platform says so in
    `actor.channel_shared`) gets CLEAR when it is registered, or first known to be shared, without `ceiling:`; an
    explicit ceiling given while it is shared is kept. In a thread (Discord), the thread's channel is set: a thread
    has no audience of its own, everyone in its channel reads it, and it has its channel's ceiling (Context.ceiling);
    a thread registered on its own earlier (when this set the thread) keeps that registration, under its channel's
    ceiling, and the reply says so."""
    require_role(ctx.require_member(), Role.ADMIN, "change a channel's settings")
    thread = ctx.actor.parent_channel_id
    current = (ctx.parent_channel if thread else ctx.channel) or Channel(
        ctx.actor.platform, ctx.actor.workspace_id, thread or ctx.actor.channel_id, ctx.policy.default_channel_ceiling)
    shared = current.shared_externally if ctx.actor.channel_shared is None else ctx.actor.channel_shared
    newly_shared = shared and not current.shared_externally
    updated = replace(
        current,
        ceiling=cmd.ceiling or (TLP.CLEAR if newly_shared else current.ceiling),
        purpose=cmd.purpose or current.purpose,
        passive=current.passive if cmd.passive is None else cmd.passive,
        ephemeral_lookups=current.ephemeral_lookups if cmd.ephemeral is None else cmd.ephemeral,
        shared_externally=shared,
    )
    await ctx.uow.channels.upsert(updated)
    await ctx.audit("channel.set", None, channel=updated.channel_id, ceiling=updated.ceiling.value,
                    purpose=updated.purpose.value, passive=updated.passive, shared=updated.shared_externally,
                    **({"thread": ctx.actor.channel_id} if thread else {}))
    notes = [SHARED_CEILING_NOTE if newly_shared and cmd.ceiling is None else "",
             THREAD_NOTE if thread else "", THREAD_OWN_NOTE if thread and ctx.channel is not None else ""]
    return ChannelSettings(updated, changed=True, shared=_shown_sharing(ctx, updated),
                           note="\n".join(n for n in notes if n), thread=THREAD_FOLLOWS if thread else "")


async def channel_show(ctx: Context, _: commands.ChannelShow) -> ChannelSettings:
    """The settings that apply here; in a thread (Discord), with its channel's ceiling (see channel_set)."""
    ctx.require_member()
    current = ctx.channel or Channel(ctx.actor.platform, ctx.actor.workspace_id, ctx.actor.channel_id,
                                     ctx.policy.default_channel_ceiling)
    thread = _thread_here(ctx)
    shown = replace(current, ceiling=ctx.ceiling)  # a shared channel not set while shared: CLEAR
    notes = [SHARED_CEILING_NOTE if ctx.actor.channel_shared and ctx.ceiling != current.ceiling else "",
             THREAD_NOTE if thread == THREAD_FOLLOWS else THREAD_OWN_NOTE if thread == THREAD_OWN else ""]
    return ChannelSettings(shown, changed=False, shared=_shown_sharing(ctx, current),
                           note="\n".join(n for n in notes if n), thread=thread)


async def channel_sharing_changed(uow: UnitOfWork, platform: Platform, channel_id: str, shared: bool,
                                  now: datetime) -> Sequence[ChannelSharing]:
    """The platform says a channel became shared with another organization's workspace (`shared`), or is shared
    with none any more. Its registration (found by the channel's id, whatever workspace registered it) records it;
    becoming shared lowers a ceiling above CLEAR to CLEAR (a new organization sees the channel: an admin must set
    a higher one again explicitly). One audit line per change; the caller commits, and says so in the channel.
    Returns the changes (none when the channel is not registered or nothing changed).

    A channel no admin registered that becomes shared: the cards the bot recorded there (public replies, live case
    cards) were posted for the policy's default ceiling, which the delivery planner would go on applying to them;
    from now on they show nothing above CLEAR (bot.ports.PostedCards.lower_in_channel)."""
    changes = []
    registered = False
    for channel in await uow.channels.list():
        if channel.platform is not platform or channel.channel_id != channel_id:
            continue
        registered = True
        updated = replace(channel, shared_externally=shared, ceiling=TLP.CLEAR if shared else channel.ceiling)
        if updated == channel:
            continue
        lowered = channel.ceiling if updated.ceiling != channel.ceiling else None
        await uow.channels.upsert(updated)
        await uow.audit.append("channel.shared" if shared else "channel.unshared", at=now, platform=platform,
                               member_id=None, detail={
                                   "workspace": channel.workspace_id, "channel": channel_id,
                                   "ceiling": updated.ceiling.value,
                                   **({"lowered_from": lowered.value} if lowered else {})})
        changes.append(ChannelSharing(updated, lowered))
    if shared and not registered:
        await uow.posted_cards.lower_in_channel(platform, channel_id, TLP.CLEAR)
    return changes


async def workspace_removed(uow: UnitOfWork, platform: Platform, workspace_id: str, now: datetime
                            ) -> Sequence[Channel]:
    """The bot was removed from a workspace (a Slack uninstall, a Discord guild the bot left or was removed
    from): its channels are unregistered, with one audit line, so no delivery is planned there any more (no post,
    no edit of a card posted there); a reinstall starts afresh (an admin sets the channels again). The caller
    commits. Returns the channels removed."""
    removed = await uow.channels.remove_workspace(platform, workspace_id)
    await uow.audit.append("workspace.removed", at=now, platform=platform, member_id=None,
                           detail={"workspace": workspace_id, "channels": [c.channel_id for c in removed]})
    return removed


async def deliveries(ctx: Context, _: commands.Deliveries) -> DeliveryList:
    require_role(ctx.require_member(), Role.ADMIN, "see deliveries")
    return DeliveryList(tuple(await ctx.uow.outbox.parked(50)), dict(await ctx.uow.outbox.pending_stats(ctx.now)),
                        tuple(await ctx.uow.outbox.pending_lanes(ctx.now)))


async def retry_delivery(ctx: Context, cmd: commands.RetryDelivery) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "retry deliveries")
    if not await ctx.uow.outbox.unpark(cmd.event_id, ctx.now):
        raise UsageError(f"{cmd.event_id} is not a parked delivery (see `/ioc admin deliveries`)", "retry")
    await ctx.audit("delivery.retry", None, outbox_id=cmd.event_id)
    return Done(f"Delivery {cmd.event_id} will be tried again now.")


async def expire_due(uow: UnitOfWork, now: datetime, delivery_platforms: Sequence[Platform]) -> Sequence[int]:
    """Mark every indicator whose valid_until has passed as expired, audited and announced."""
    ids = await uow.indicators.expire_due(now)
    for indicator_id in ids:
        await uow.audit.append("expire", at=now, platform=Platform.CLI, member_id=None, indicator_id=indicator_id)
        for platform in delivery_platforms:
            await uow.outbox.add("indicator.expired", {"indicator_id": indicator_id, "status": "expired",
                                                       "origin": Platform.CLI.value}, now, platform)
    return ids
