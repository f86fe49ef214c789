"""Joining with an invite code, who one is, and linking one's identities on other platforms."""

from __future__ import annotations

import secrets
from datetime import timedelta

from bot import commands, limits
from bot.commands import UsageError
from bot.domain import (
    Actor,
    Identity,
)
from bot.results import (
    Done,
    Joined,
    WhoAmIResult,
)

from .context import Context


async def join(ctx: Context, cmd: commands.Join) -> Joined:
    if ctx.member is not None:
        raise UsageError(f"you are already a member of {ctx.member.org_name} (see `/ioc whoami`)", "join")
    invite = await ctx.uow.invites.redeem(cmd.code, ctx.now)
    if invite is None:
        raise UsageError("that invite code is unknown, used up or expired; ask your organization's admin "
                         "for a new one", "join")
    name = (limits.storable(ctx.actor.display_name, limits.MEMBER_NAME_MAX)
            or limits.storable(ctx.actor.user_id, limits.MEMBER_NAME_MAX) or "member")
    member = await ctx.uow.members.add(invite.org_id, name, invite.role)
    await ctx.uow.members.link_identity(member.id, _identity(ctx.actor))
    ctx.member = member
    await ctx.audit("join", None, org=invite.org_name, role=invite.role.value)
    return Joined(member)


def _identity(actor: Actor) -> Identity:
    return actor.identity


async def whoami(ctx: Context, _: commands.WhoAmI) -> WhoAmIResult:
    member = ctx.require_member()
    return WhoAmIResult(member, tuple(await ctx.uow.members.identities(member.id)))


LINK_CODE_VALID = timedelta(minutes=10)


_LINK_NOT_FOUND = ("that link code is unknown, used or expired; where you are a member already, run `/ioc link` for "
                   "a new one (it lasts 10 minutes and works once), then run `/ioc link CODE` here")


async def link(ctx: Context, cmd: commands.Link) -> Done:
    """People on several platforms: `/ioc link` gives a member a one-time code, `/ioc link CODE` run from their
    identity elsewhere (not a member yet) joins that identity to them, so they are told everywhere they are."""
    return await link_start(ctx) if cmd.code is None else await link_identity(ctx, cmd.code)


async def link_start(ctx: Context) -> Done:
    if ctx.member is None:
        raise UsageError("this identity is not a member yet: run `/ioc link` where you are a member to get a code, "
                         "then `/ioc link CODE` here (or, to join, ask your organization's admin for an invite code "
                         "and run `/ioc join CODE`)", "link")
    member = ctx.member
    code = "".join(secrets.choice(commands.LINK_CODE_ALPHABET) for _ in range(commands.LINK_CODE_LENGTH))
    await ctx.uow.members.set_link_code(member.id, code, ctx.now + LINK_CODE_VALID, ctx.now)
    await ctx.audit("link.start", None)
    return Done(f"Your one-time link code: {code}\nWithin 10 minutes, as yourself on the other platform (or "
                f"workspace), from an identity that is not a member yet, run: /ioc link {code}\n"
                "It works once, and a new `/ioc link` replaces it. Keep it to yourself: whoever runs it is linked "
                "to you.")


async def link_identity(ctx: Context, code: str) -> Done:
    here = ctx.actor.identity
    if ctx.member is not None:  # checked first: the code stays usable from the right identity
        raise UsageError(f"this {here.platform.value} identity is a member already ({ctx.member.name}, "
                         f"m{ctx.member.id}, {ctx.member.org_name}); a link code joins an identity that is not a "
                         "member yet. Run it from your other identity, or, if both are members, ask an admin: two "
                         "members are not merged by a code", "link")
    member_id = await ctx.uow.members.redeem_link_code(code, ctx.now)
    member = await ctx.uow.members.get(member_id) if member_id is not None else None
    if member is None:
        raise UsageError(_LINK_NOT_FOUND, "link")
    await ctx.uow.members.link_identity(member.id, here)
    ctx.member = member
    await ctx.audit("link", None, platform=here.platform.value, workspace=here.workspace_id, user=here.user_id)
    linked = await ctx.uow.members.identities(member.id)
    where = ", ".join(sorted({i.platform.value for i in linked if i.platform in ctx.delivery_platforms}))
    return Done(f"Linked: this {here.platform.value} identity is now {member.name} (m{member.id}), "
                f"{member.role.value} of {member.org_name}."
                + (f" Decisions and notices reach you on {where}." if where else "") + " See `/ioc whoami`.")
