"""Organizations, members with their platform identities, and invite codes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    bindparam,
    delete,
    insert,
    literal,
    select,
    true,
    update,
)

from bot.domain import (
    Channel,
    Identity,
    Invite,
    InviteRecord,
    Member,
    Organization,
    Platform,
    Role,
)
from storage.models import (
    ChannelRow,
    IdentityRow,
    InviteRow,
    LinkCodeRow,
    MemberRow,
    OrganizationRow,
)
from storage.repositories.base import _Repository
from storage.repositories.channels import _channel


def _org(row: Any) -> Organization:
    return Organization(id=row.id, name=row.name, sector=row.sector, trust_level=row.trust_level,
                        disabled=row.disabled_at is not None)


class SqlOrganizationRepository(_Repository):
    async def add(self, name: str, sector: str, trust_level: int) -> Organization:
        name = name.strip()
        stmt = (
            insert(OrganizationRow)
            .values(name=name, name_key=name.lower(), sector=sector, trust_level=trust_level,
                    created_at=self._clock())
            .returning(OrganizationRow.id)
        )
        org_id = await self._insert_or_conflict(stmt, f"an organization named '{name}' exists already")
        return Organization(id=org_id, name=name, sector=sector, trust_level=trust_level)

    async def by_name(self, name: str) -> Organization | None:
        row = (await self._execute(
            select(OrganizationRow.__table__).where(OrganizationRow.name_key == name.strip().lower())
        )).first()
        return _org(row) if row else None

    async def get(self, org_id: int) -> Organization | None:
        row = (await self._execute(
            select(OrganizationRow.__table__).where(OrganizationRow.id == org_id)
        )).first()
        return _org(row) if row else None

    async def list(self) -> Sequence[Organization]:
        stmt = select(OrganizationRow.__table__).order_by(OrganizationRow.name_key)
        rows = await self._execute(stmt)
        return [_org(row) for row in rows]

    async def set_disabled(self, org_id: int, at: datetime | None) -> None:
        """Disable (`at`) or enable again (None) an organization: its members can no longer act meanwhile."""
        await self._execute(update(OrganizationRow).where(OrganizationRow.id == org_id).values(disabled_at=at))


_MEMBER_COLUMNS = (
    MemberRow.id, MemberRow.name, MemberRow.role, MemberRow.org_id, OrganizationRow.name.label("org_name"),
    OrganizationRow.disabled_at.label("org_disabled_at"),
)


def _members() -> Select[Any]:
    """Members who were not removed (a removed member's votes and submissions stay, under their name)."""
    return (select(*_MEMBER_COLUMNS).join(OrganizationRow, OrganizationRow.id == MemberRow.org_id)
            .where(MemberRow.removed_at.is_(None)))


class _Prefixed:
    """Attribute access to the `prefix`-labelled columns of a joined row."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]


def _member(row: Any) -> Member:
    return Member(id=row.id, name=row.name, role=Role(row.role), org_id=row.org_id, org_name=row.org_name,
                  org_disabled=row.org_disabled_at is not None)


def _speaker_statement() -> Select[Any]:
    """Member by identity and channel by id, outer-joined to a one-row anchor: one round trip, built once."""
    platform, workspace = bindparam("platform"), bindparam("workspace_id")
    member = _members().join(IdentityRow, IdentityRow.member_id == MemberRow.id).where(
        IdentityRow.platform == platform, IdentityRow.workspace_id == workspace,
        IdentityRow.user_id == bindparam("user_id"),
    ).subquery()
    channel = select(ChannelRow.__table__).where(
        ChannelRow.platform == platform, ChannelRow.workspace_id == bindparam("channel_workspace_id"),
        ChannelRow.channel_id == bindparam("channel_id"),
    ).subquery()
    anchor = select(literal(1).label("one")).subquery()
    return select(
        *(c.label(f"m_{c.name}") for c in member.c), *(c.label(f"c_{c.name}") for c in channel.c)
    ).select_from(anchor.outerjoin(member, true()).outerjoin(channel, true()))


_SPEAKER = _speaker_statement()


class SqlMemberRepository(_Repository):
    async def add(self, org_id: int, name: str, role: Role) -> Member:
        name = name.strip()
        member_id = (await self._execute(
            insert(MemberRow)
            .values(org_id=org_id, name=name, name_key=name.lower(), role=role.value,
                    created_at=self._clock())
            .returning(MemberRow.id)
        )).scalar_one()
        member = await self.get(member_id)
        assert member is not None
        return member

    async def get(self, member_id: int) -> Member | None:
        row = (await self._execute(_members().where(MemberRow.id == member_id))).first()
        return _member(row) if row else None

    async def by_identity(self, identity: Identity) -> Member | None:
        stmt = _members().join(IdentityRow, IdentityRow.member_id == MemberRow.id).where(
            IdentityRow.platform == identity.platform.value,
            IdentityRow.workspace_id == identity.workspace_id,
            IdentityRow.user_id == identity.user_id,
        )
        row = (await self._execute(stmt)).first()
        return _member(row) if row else None

    async def speaker(self, identity: Identity, channel_id: str, *, workspace_id: str | None = None
                      ) -> tuple[Member | None, Channel | None]:
        row = (await self._execute(_SPEAKER, {
            "platform": identity.platform.value, "workspace_id": identity.workspace_id,
            "user_id": identity.user_id, "channel_id": channel_id,
            "channel_workspace_id": identity.workspace_id if workspace_id is None else workspace_id,
        })).one()._mapping
        found = _member(_Prefixed(row, "m_")) if row["m_id"] is not None else None
        where = _channel(_Prefixed(row, "c_")) if row["c_id"] is not None else None
        return found, where

    async def by_name(self, name: str) -> Sequence[Member]:
        stmt = _members().where(MemberRow.name_key == name.strip().lower()).order_by(MemberRow.id)
        return [_member(row) for row in await self._execute(stmt)]

    async def link_identity(self, member_id: int, identity: Identity) -> None:
        stmt = (
            insert(IdentityRow)
            .values(member_id=member_id, platform=identity.platform.value,
                    workspace_id=identity.workspace_id, user_id=identity.user_id, created_at=self._clock())
            .returning(IdentityRow.id)
        )
        await self._insert_or_conflict(
            stmt, f"{identity.platform.value} user {identity.user_id} is linked to a member already"
        )

    async def many(self, member_ids: Iterable[int]) -> dict[int, tuple[Member, tuple[Identity, ...]]]:
        ids = list(dict.fromkeys(member_ids))
        if not ids:
            return {}
        members = {r.id: _member(r) for r in await self._execute(_members().where(MemberRow.id.in_(ids)))}
        identities: dict[int, list[Identity]] = {i: [] for i in members}
        rows = await self._execute(
            select(IdentityRow.member_id, IdentityRow.platform, IdentityRow.workspace_id, IdentityRow.user_id)
            .where(IdentityRow.member_id.in_(ids)).order_by(IdentityRow.id))
        for r in rows:
            identities[r.member_id].append(Identity(Platform(r.platform), r.workspace_id, r.user_id))
        return {i: (m, tuple(identities[i])) for i, m in members.items()}

    async def identities(self, member_id: int) -> Sequence[Identity]:
        rows = await self._execute(
            select(IdentityRow.platform, IdentityRow.workspace_id, IdentityRow.user_id)
            .where(IdentityRow.member_id == member_id)
            .order_by(IdentityRow.id)
        )
        return [Identity(Platform(r.platform), r.workspace_id, r.user_id) for r in rows]

    async def set_role(self, member_id: int, role: Role) -> None:
        await self._execute(
            update(MemberRow).where(MemberRow.id == member_id).values(role=role.value)
        )

    async def remove(self, member_id: int, at: datetime) -> Sequence[Identity]:
        """`admin member remove`: the member is marked removed (their votes and submissions stay), their identities
        and link code deleted, so none of them can act as the member any more. Returns the identities unlinked."""
        unlinked = await self.identities(member_id)
        await self._execute(update(MemberRow).where(MemberRow.id == member_id, MemberRow.removed_at.is_(None))
                            .values(removed_at=at))
        await self._execute(delete(IdentityRow).where(IdentityRow.member_id == member_id))
        await self._execute(delete(LinkCodeRow).where(LinkCodeRow.member_id == member_id))
        return unlinked

    async def list(self, org_id: int | None = None) -> Sequence[Member]:
        stmt = _members().order_by(OrganizationRow.name_key, MemberRow.name_key, MemberRow.id)
        if org_id is not None:
            stmt = stmt.where(MemberRow.org_id == org_id)
        return [_member(row) for row in await self._execute(stmt)]

    async def set_link_code(self, member_id: int, code: str, expires_at: datetime, now: datetime) -> None:
        # Theirs is replaced; anyone's expired ones go on the way (they can never be used).
        await self._execute(delete(LinkCodeRow).where(
            (LinkCodeRow.member_id == member_id) | (LinkCodeRow.expires_at <= now)))
        await self._execute(insert(LinkCodeRow).values(
            member_id=member_id, code_sha256=link_code_digest(code), expires_at=expires_at, created_at=now))

    async def redeem_link_code(self, code: str, now: datetime) -> int | None:
        # One conditional DELETE: two identities racing with the same code cannot both get it.
        removed = select(MemberRow.id).where(MemberRow.removed_at.is_not(None))
        stmt = (delete(LinkCodeRow)
                .where(LinkCodeRow.code_sha256 == link_code_digest(code), LinkCodeRow.expires_at > now,
                       LinkCodeRow.member_id.not_in(removed))
                .returning(LinkCodeRow.member_id))
        return (await self._execute(stmt)).scalar_one_or_none()


def link_code_digest(code: str) -> str:
    """Link codes are read case-insensitively (typed by hand on another platform); only their SHA-256 is kept."""
    return invite_digest(code.strip().upper())


def invite_digest(code: str) -> str:
    """Only the SHA-256 of an invite code is stored; the code itself is shown once, to the admin."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


class SqlInviteRepository(_Repository):
    async def add(self, code: str, org_id: int, role: Role, max_uses: int, expires_at: datetime,
                  created_by: int | None) -> Invite:
        stmt = (
            insert(InviteRow)
            .values(code_sha256=invite_digest(code), org_id=org_id, role=role.value, max_uses=max_uses,
                    uses=0, expires_at=expires_at, created_by=created_by, created_at=self._clock())
            .returning(InviteRow.id)
        )
        await self._insert_or_conflict(stmt, "this invite code exists already")
        org_name = (await self._execute(
            select(OrganizationRow.name).where(OrganizationRow.id == org_id)
        )).scalar_one()
        return Invite(code=code, org_id=org_id, org_name=org_name, role=role, max_uses=max_uses, uses=0,
                      expires_at=expires_at)

    async def redeem(self, code: str, now: datetime) -> Invite | None:
        # One conditional UPDATE: two people racing for the last use cannot both get it.
        org_name = (
            select(OrganizationRow.name).where(OrganizationRow.id == InviteRow.org_id).scalar_subquery()
        )
        stmt = (
            update(InviteRow)
            .where(
                InviteRow.code_sha256 == invite_digest(code),
                InviteRow.uses < InviteRow.max_uses,
                InviteRow.expires_at > now,
                InviteRow.revoked_at.is_(None),
                InviteRow.org_id.not_in(select(OrganizationRow.id).where(OrganizationRow.disabled_at.is_not(None))),
            )
            .values(uses=InviteRow.uses + 1)
            .returning(InviteRow.org_id, InviteRow.role, InviteRow.max_uses, InviteRow.uses,
                       InviteRow.expires_at, org_name.label("org_name"))
        )
        row = (await self._execute(stmt)).first()
        if row is None:
            return None
        return Invite(code=code, org_id=row.org_id, org_name=row.org_name, role=Role(row.role),
                      max_uses=row.max_uses, uses=row.uses, expires_at=row.expires_at)



    async def list(self) -> Sequence[InviteRecord]:
        """Every invite code but never the code (only its hash is stored), newest first."""
        creator = select(MemberRow.name).where(MemberRow.id == InviteRow.created_by).scalar_subquery()
        rows = await self._execute(
            select(InviteRow.id, OrganizationRow.name.label("org_name"), InviteRow.role, InviteRow.max_uses,
                   InviteRow.uses, InviteRow.expires_at, creator.label("creator"), InviteRow.revoked_at)
            .join(OrganizationRow, OrganizationRow.id == InviteRow.org_id)
            .order_by(InviteRow.id.desc()))
        return [InviteRecord(r.id, r.org_name, Role(r.role), r.max_uses, r.uses, r.expires_at, r.creator or "",
                             r.revoked_at is not None) for r in rows]

    async def revoke(self, *, invite_id: int | None = None, code: str | None = None,
                     at: datetime) -> InviteRecord | None:
        """Revoke an invite code (by its id, or by the code itself): it can no longer be used. None when there is
        no such code or it was revoked already."""
        where = InviteRow.id == invite_id if invite_id is not None else InviteRow.code_sha256 == invite_digest(
            code or "")
        revoked = (await self._execute(
            update(InviteRow).where(where, InviteRow.revoked_at.is_(None)).values(revoked_at=at)
            .returning(InviteRow.id))).scalar_one_or_none()
        if revoked is None:
            return None
        return next((r for r in await self.list() if r.id == revoked), None)
