"""Parsing the admin forms (`/ioc admin ...`): organizations, members, invites, channels, deliveries, API keys."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import limits
from bot.domain import ChannelPurpose, Role

from .model import (
    ApiKeyCreate,
    ApiKeyList,
    ApiKeyRevoke,
    ChannelSet,
    ChannelShow,
    Command,
    Deliveries,
    InviteCreate,
    InviteList,
    InviteRevoke,
    MemberList,
    MemberRemove,
    MemberRole,
    OrgAdd,
    OrgDisable,
    OrgList,
    RetryDelivery,
)
from .refs import MemberRef
from .tokens import (
    _DURATION,
    _MEMBER_ID,
    _MENTION,
    _enum_option,
    _int_option,
    _on_off,
    _Options,
    _shown,
    _text,
    _tlp_option,
    parse_duration,
)
from .usage import UsageError


def _member_ref(token: str, verb: str) -> MemberRef:
    if m := _MEMBER_ID.fullmatch(token):
        return MemberRef(member_id=int(m.group(1)))
    if m := _MENTION.match(token):
        return MemberRef(user_id=m.group(1))
    raise UsageError(f"'{_shown(token)}' is not a member; use a member id like m7 (see `admin member list`) or a "
                     "mention", verb)


def _admin(args: list[str]) -> Command:
    if args and args[0].lower() == "deliveries":
        if len(args) > 1:
            raise UsageError("deliveries takes no arguments", "deliveries")
        return Deliveries()
    if args and args[0].lower() == "retry":
        if len(args) != 2:
            raise UsageError("give the id of one parked delivery", "retry")
        return RetryDelivery(_int_option("id", args[1].lstrip("#"), "retry", 1, limits.ID_MAX))
    words = [a.lower() for a in args[:2]]
    form = " ".join(words)
    rest = args[2:]
    if form == "org add":
        opts = _Options(rest, {"sector", "trust"}, form)
        name = " ".join(opts.rest).strip()
        if not name:
            raise UsageError("give the organization's name", form)
        name = _text("the organization name", name, form, limits.ORG_NAME_MAX, multiline=False)
        trust = _int_option("trust", opts.get("trust"), form, 0, limits.TRUST_MAX) if opts.get("trust") else 50
        sector = _text("sector", (opts.get("sector") or "").strip(), form, limits.SECTOR_MAX, multiline=False)
        return OrgAdd(name, sector, trust)
    if form == "org list":
        return OrgList()
    if form == "member list":
        org = " ".join(rest).strip() or None
        return MemberList(org and _text("the organization name", org, form, limits.ORG_NAME_MAX, multiline=False))
    if form == "member role":
        if len(rest) != 2:
            raise UsageError("give a member and a role", form)
        return MemberRole(_member_ref(rest[0], form), _enum_option(Role, "role", rest[1], form))
    if form == "invite create":
        opts = _Options(rest, {"role", "uses", "expires"}, form)
        org = " ".join(opts.rest).strip()
        if not org:
            raise UsageError("say for which organization", form)
        if (m := _DURATION.fullmatch((opts.get("expires") or "").strip())) and int(m.group(1)) == 0:
            raise UsageError(f"expires: at least 1m (a code that expires at once could never be used), not "
                             f"'{_shown(opts.get('expires') or '')}'", form)
        return InviteCreate(
            _text("the organization name", org, form, limits.ORG_NAME_MAX, multiline=False),
            _enum_option(Role, "role", opts.get("role"), form) if opts.get("role") else Role.MEMBER,
            _int_option("uses", opts.get("uses"), form, 1, limits.INVITE_USES_MAX) if opts.get("uses") else 1,
            parse_duration(opts.get("expires"), form, "expires") if opts.get("expires") else timedelta(days=7),
        )
    if form == "channel set":
        opts = _Options(rest, {"ceiling", "purpose", "passive", "ephemeral"}, form)
        if opts.rest or not opts.values:
            raise UsageError("give at least one of ceiling:, purpose:, passive:, ephemeral:", form)
        ceiling = _tlp_option(opts.get("ceiling"), form) if opts.get("ceiling") else None
        if ceiling is not None and not ceiling.shareable_in_channels:
            raise UsageError("a channel's ceiling is clear, green or amber: AMBER+STRICT and RED items are "
                             "only ever shown in private replies", form)
        return ChannelSet(
            ceiling,
            _enum_option(ChannelPurpose, "purpose", opts.get("purpose"), form) if opts.get("purpose") else None,
            _on_off("passive", opts.get("passive"), form) if opts.get("passive") else None,
            _on_off("ephemeral", opts.get("ephemeral"), form) if opts.get("ephemeral") else None,
        )
    if form == "channel show":
        return ChannelShow()
    if form.startswith("apikey "):
        return _apikey(form, rest)
    if form in ("member remove", "invite list", "invite revoke", "org disable", "org enable"):
        return _admin_lifecycle(form, rest)
    raise UsageError(f"'admin {form}' is not an admin command", "admin")


_INVITE_ID = re.compile(r"[Ii#]?([0-9]{1,18})")  # fullmatch


def _admin_lifecycle(form: str, rest: list[str]) -> Command:
    if form == "member remove":
        if len(rest) != 1:
            raise UsageError("give the one member to remove", form)
        return MemberRemove(_member_ref(rest[0], form))
    if form == "invite list":
        if rest:
            raise UsageError("invite list takes no arguments", form)
        return InviteList()
    if form == "invite revoke":
        if len(rest) != 1:
            raise UsageError("give the id of one invite (see `/ioc admin invite list`) or its code", form)
        if m := _INVITE_ID.fullmatch(rest[0].strip()):
            return InviteRevoke(invite_id=_int_option("id", m.group(1), form, 1, limits.ID_MAX))
        return InviteRevoke(code=_text("code", rest[0].strip(), form, limits.INVITE_CODE_MAX, multiline=False))
    name = " ".join(rest).strip()
    if not name:
        raise UsageError("give the organization's name", form)
    return OrgDisable(_text("the organization name", name, form, limits.ORG_NAME_MAX, multiline=False),
                      disabled=form == "org disable")


def _apikey(form: str, rest: list[str]) -> Command:
    if form == "apikey create":
        if not rest:
            raise UsageError("say for which organization", form)
        org, name = rest[0], " ".join(rest[1:]).strip()
        return ApiKeyCreate(_text("the organization name", org, form, limits.ORG_NAME_MAX, multiline=False),
                            _text("the key name", name, form, limits.API_KEY_NAME_MAX, multiline=False))
    if form == "apikey list":
        return ApiKeyList()
    if form == "apikey revoke":
        if len(rest) != 1:
            raise UsageError("give the id of one key (see `/ioc admin apikey list`)", form)
        return ApiKeyRevoke(_int_option("id", rest[0].lstrip("k#"), form, 1, limits.ID_MAX))
    raise UsageError(f"'admin {form}' is not an admin command", "admin")
