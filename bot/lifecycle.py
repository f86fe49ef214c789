"""Lifecycle verbs (issue 13): `/ioc edit`, `/ioc reopen`, and the administration of the day someone leaves
(`admin member remove`, `admin invite list|revoke`, `admin org disable|enable`).

Every change is audited and announced in the same transaction; a refusal raises before anything is written, so
nothing partial is stored. An item the speaker may not see answers exactly as an unknown one (services.resolve).
"""

from __future__ import annotations

from dataclasses import replace

from bot import commands, limits
from bot.commands import UsageError
from bot.domain import Identity, Indicator, Member, Role, Status
from bot.ports import Conflict
from bot.results import Done, Moderated
from bot.rules import (
    can_decide,
    can_edit,
    can_moderate,
    can_see,
    require_role,
    tlp_change_problem,
    unmoderated_reason,
)
from bot.services import Context, _no_orphans_after, _scope, announce, cards_for, effective_status, resolve
from bot.tlp import TLP

EDITED = "indicator.edited"
REOPENED = "reopened"  # the flag in an `indicator.submitted` payload: a reopened item, not a new one

# ---------------------------------------------------------------- /ioc edit


def _within_limits(verb: str, field: str, text: str | None, max_len: int) -> None:
    """Free text set verbatim by an adapter (a Discord option) within the store's limits, as the grammar's."""
    if text is None:
        return
    try:
        limits.check_text(field, text, max_len)
    except limits.LimitError as e:
        raise UsageError(str(e), verb) from None


async def edit(ctx: Context, cmd: commands.Edit) -> Moderated:
    member = ctx.require_member()
    _within_limits("edit", "note", cmd.note, limits.NOTE_MAX)  # set verbatim by a form, perhaps
    ind = await resolve(ctx, cmd.ref, "edit")
    if not can_edit(member, ind):
        raise UsageError(f"only the organization that submitted {ind.ref} or a moderator may edit it; to add what "
                         f"you know, vote on it or record a sighting (/ioc vote {ind.ref} confirm|fp REASON)", "edit")
    if cmd.tlp is not None and (problem := tlp_change_problem(member, ind, cmd.tlp)):
        raise UsageError(problem, "edit")
    tags = _new_tags(ind, cmd)
    valid_until = ctx.now + cmd.valid_for if cmd.valid_for is not None else None
    changes: dict[str, list[object]] = {}
    if cmd.confidence is not None and cmd.confidence != ind.confidence:
        changes["confidence"] = [ind.confidence, cmd.confidence]
    if tags is not None and tags != tuple(sorted(ind.tags)):
        changes["tags"] = [list(ind.tags), list(tags)]
    if valid_until is not None:
        changes["valid_until"] = [ind.valid_until.isoformat() if ind.valid_until else None, valid_until.isoformat()]
    if cmd.tlp is not None and cmd.tlp is not ind.tlp:
        changes["tlp"] = [ind.tlp.value, cmd.tlp.value]
        await _no_clash(ctx, ind, cmd.tlp)
    if cmd.note is not None and cmd.note != ind.note:
        changes["note"] = [ind.note, cmd.note]
    if cmd.threat_type is not None and cmd.threat_type != ind.threat_type:  # context (issue 13)
        changes["threat"] = [ind.threat_type, cmd.threat_type]
    if cmd.malware is not None and cmd.malware != ind.malware:
        changes["malware"] = [ind.malware, cmd.malware]
    if cmd.references is not None and cmd.references != ind.references:
        changes["references"] = [list(ind.references), list(cmd.references)]
    if not changes:
        raise UsageError(f"nothing to change: {ind.ref} is so already", "edit")
    try:
        await ctx.uow.indicators.edit(
            ind.id, at=ctx.now, tlp=cmd.tlp if "tlp" in changes else None,
            confidence=cmd.confidence if "confidence" in changes else None,
            tags=tags if "tags" in changes else None, valid_until=valid_until,
            note=cmd.note if "note" in changes else None,
            threat_type=cmd.threat_type if "threat" in changes else None,
            malware=cmd.malware if "malware" in changes else None,
            references=cmd.references if "references" in changes else None)
    except Conflict:  # submitted in that scope at this very moment
        raise UsageError(f"{ind.ref} cannot become {cmd.tlp.label if cmd.tlp else ''}: its value was just "
                         "submitted there; look it up and try again", "edit") from None
    await ctx.audit("edit", ind.id, **changes)
    # the TLP it had: a channel that could show it then has its live case cards edited (bot.delivery)
    await announce(ctx, EDITED, ind, changed=sorted(changes),
                   **({"previous_tlp": ind.tlp.value} if "tlp" in changes else {}))
    edited = await ctx.uow.indicators.get(ind.id)
    assert edited is not None
    if "tlp" in changes:
        edited = await _none_left_pending(ctx, edited)
    return Moderated("edited", await cards_for(ctx, [edited]))


async def _none_left_pending(ctx: Context, ind: Indicator) -> Indicator:
    """A pending item made AMBER+STRICT or RED that nobody but its submitter may decide is not left pending: it is
    stored approved with the reason, as such a submission is (bot.services._leave_none_pending)."""
    if ind.status is not Status.PENDING or ind.tlp.shareable_in_channels:
        return ind
    everyone = ind.tlp is TLP.RED
    if any(can_decide(m, ind) for m in await ctx.uow.members.list(None if everyone else ind.org_id)):
        return ind
    reason = unmoderated_reason(ind.tlp, ind.org_name)
    if not await ctx.uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, reason, ctx.now):
        return ind
    await ctx.audit("approve", ind.id, rule="no_moderator", reason=reason)
    await announce(ctx, "indicator.approved", ind, status=Status.APPROVED.value)
    return replace(ind, status=Status.APPROVED, status_reason=reason)


def _new_tags(ind: Indicator, cmd: commands.Edit) -> tuple[str, ...] | None:
    if cmd.tags is not None:
        tags = tuple(sorted(set(cmd.tags)))
    elif cmd.tags_add or cmd.tags_remove:
        tags = tuple(sorted((set(ind.tags) | set(cmd.tags_add)) - set(cmd.tags_remove)))
    else:
        return None
    if len(tags) > limits.TAG_MAX_COUNT:
        raise UsageError(f"{ind.ref} would have {len(tags)} tags, at most {limits.TAG_MAX_COUNT}; remove some "
                         "(tags:-old)", "edit")
    return tags


async def _no_clash(ctx: Context, ind: Indicator, tlp: TLP) -> None:
    """A value is held once per visibility scope: moving the item to the new TLP's scope must not meet another.
    The editor may see every item of that scope (bot.rules.tlp_change_problem keeps them within what they see),
    so naming the one held there tells them nothing new."""
    scope = _scope(tlp, ind.org_id, ind.submitter_id)
    for other in await ctx.uow.indicators.by_values([(ind.type, ind.value)]):
        if other.id != ind.id and _scope(other.tlp, other.org_id, other.submitter_id) == scope:
            if not can_see(other, ctx.view):  # cannot happen (see above); say nothing of it if it did
                raise UsageError(f"{ind.ref} cannot become {tlp.label}", "edit")
            raise UsageError(f"{ind.value} is held already as {other.ref} ({other.tlp.label}), and a value is held "
                             f"once per TLP scope: {ind.ref} cannot become {tlp.label}. Edit {other.ref} instead, "
                             "or revoke one of them", "edit")


# ---------------------------------------------------------------- /ioc reopen

_REOPENABLE = (Status.REJECTED, Status.REVOKED)


async def reopen(ctx: Context, cmd: commands.Reopen) -> Moderated:
    member = ctx.require_member()
    require_role(member, Role.MODERATOR, "reopen indicators")
    _within_limits("reopen", "reason", cmd.reason, limits.REASON_MAX)
    ind = await resolve(ctx, cmd.ref, "reopen")
    status = effective_status(ind, ctx.now)
    if status not in _REOPENABLE:
        raise UsageError(f"{ind.ref} is {status.value}; only rejected or revoked indicators are reopened", "reopen")
    if not await ctx.uow.indicators.transition(ind.id, _REOPENABLE, Status.PENDING, cmd.reason, ctx.now):
        raise UsageError(f"{ind.ref} was changed by someone else just now; look it up and try again", "reopen")
    await ctx.audit("reopen", ind.id, reason=cmd.reason, previous=status.value)
    # moderation channels (and, for AMBER+STRICT and RED, those who may decide) get it as a new submission
    # would; every posted copy is brought up to date; the submitter is told (bot.delivery)
    await announce(ctx, "indicator.submitted", ind, **{REOPENED: True, "previous": status.value})
    reopened = replace(ind, status=Status.PENDING, status_reason=cmd.reason, modified_at=ctx.now)
    return Moderated("reopened", await cards_for(ctx, [reopened]))


# ---------------------------------------------------------------- administration


async def _target(ctx: Context, ref: commands.MemberRef, form: str) -> Member:
    if ref.member_id is not None:
        target = await ctx.uow.members.get(ref.member_id) if 0 <= ref.member_id <= limits.ID_MAX else None
    else:
        target = await ctx.uow.members.by_identity(
            Identity(ctx.actor.platform, ctx.actor.identity.workspace_id, ref.user_id or ""))
    if target is None:
        raise UsageError(f"{ref} is not a member (see `/ioc admin member list`)", form)
    return target


async def _acting_admins(ctx: Context) -> list[Member]:
    return [m for m in await ctx.uow.members.list() if m.role is Role.ADMIN and not m.org_disabled]


async def member_remove(ctx: Context, cmd: commands.MemberRemove) -> Done:
    admin = ctx.require_member()
    require_role(admin, Role.ADMIN, "remove members")
    form = "member remove"
    target = await _target(ctx, cmd.member, form)
    if target.id == admin.id:
        raise UsageError("you cannot remove yourself; ask another admin", form)
    if target.role is Role.ADMIN and [m.id for m in await _acting_admins(ctx)] == [target.id]:
        raise UsageError(f"{target.name} (m{target.id}) is the coalition's last admin; make someone else admin "
                         "first (/ioc admin member role m7 admin)", form)
    unlinked = await ctx.uow.members.remove(target.id, ctx.now)
    await ctx.audit("member.remove", None, member=target.id, name=target.name, org=target.org_name,
                    role=target.role.value, identities=[f"{i.platform.value}:{i.workspace_id}:{i.user_id}"
                                                        for i in unlinked])
    if can_moderate(target):
        await _no_orphans_after(ctx, target)
    n = len(unlinked)
    return Done(f"{target.name} (m{target.id}, {target.org_name}) is removed: {n} identit{'y' if n == 1 else 'ies'} "
                "unlinked, so they can no longer act; their votes and submissions stay.")


async def invite_list(ctx: Context, _: commands.InviteList) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "list invite codes")
    invites = await ctx.uow.invites.list()
    if not invites:
        return Done("No invite codes. Create one: /ioc admin invite create ORG [role:member] [uses:1] [expires:7d]")
    lines = ["Invite codes (only their hashes are kept: a lost code cannot be shown again; revoke it and create "
             "another):"]
    for i in invites:
        state = ("revoked" if i.revoked else "used up" if i.uses >= i.max_uses
                 else "expired" if i.expires_at <= ctx.now else f"{i.max_uses - i.uses} of {i.max_uses} uses left")
        lines.append(f"i{i.id} · {i.org_name} · {i.role.value} · {state} · expires {i.expires_at:%Y-%m-%d %H:%M} "
                     f"UTC · by {i.created_by or 'unknown'}")
    return Done("\n".join(lines))


async def invite_revoke(ctx: Context, cmd: commands.InviteRevoke) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "revoke invite codes")
    revoked = await ctx.uow.invites.revoke(invite_id=cmd.invite_id, code=cmd.code, at=ctx.now)
    if revoked is None:
        which = f"i{cmd.invite_id}" if cmd.invite_id is not None else "that code"
        raise UsageError(f"{which} is not an invite code that can be revoked (see `/ioc admin invite list`)",
                         "invite revoke")
    await ctx.audit("invite.revoke", None, invite=revoked.id, org=revoked.org_name, role=revoked.role.value)
    return Done(f"Invite i{revoked.id} ({revoked.org_name}, {revoked.role.value}) is revoked: it can no longer "
                "be used.")


async def org_disable(ctx: Context, cmd: commands.OrgDisable) -> Done:
    admin = ctx.require_member()
    form = "org disable" if cmd.disabled else "org enable"
    require_role(admin, Role.ADMIN, "disable organizations" if cmd.disabled else "enable organizations")
    org = await ctx.uow.organizations.by_name(cmd.name)
    if org is None:
        raise UsageError(f"there is no organization named '{cmd.name}' (see `/ioc admin org list`)", form)
    if org.disabled == cmd.disabled:
        raise UsageError(f"{org.name} is {'disabled' if org.disabled else 'enabled'} already", form)
    if cmd.disabled:
        if org.id == admin.org_id:
            raise UsageError("you cannot disable your own organization; ask an admin of another one", form)
        if not [m for m in await _acting_admins(ctx) if m.org_id != org.id]:
            raise UsageError(f"every admin left would be of {org.name}: make an admin elsewhere first", form)
    deciders = [m for m in await ctx.uow.members.list(org.id) if can_moderate(m)] if cmd.disabled else []
    await ctx.uow.organizations.set_disabled(org.id, ctx.now if cmd.disabled else None)
    await ctx.audit("org.disable" if cmd.disabled else "org.enable", None, org=org.name)
    for former in deciders:  # its moderators no longer decide: what only they could decide is not left pending
        await _no_orphans_after(ctx, former)
    if cmd.disabled:
        return Done(f"{org.name} is disabled: its members can no longer act (every command tells them so); its "
                    "indicators, votes and sightings stay, visible as their TLP says. Undo: "
                    f"/ioc admin org enable {org.name}")
    return Done(f"{org.name} is enabled again: its members can act again.")
