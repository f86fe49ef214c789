"""The Protocols of ``bot.ports`` over one ``AsyncSession``.

Rules kept everywhere in this module:

* the core only ever receives the frozen dataclasses of ``bot.domain``, never ORM objects, and nothing is
  lazily loaded: every read is one explicit query (columns, joins, correlated sub-queries);
* uniqueness is enforced by the database; a refused insert is turned into ``bot.ports.Conflict`` inside a
  SAVEPOINT, so the caller's transaction stays usable;
* counters are never read, changed and written back: tallies and summaries are computed by query, and
  invite redemption or status changes are single conditional UPDATEs.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Insert,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import (
    Channel,
    ChannelPurpose,
    Identity,
    Indicator,
    Invite,
    Member,
    NewIndicator,
    Organization,
    OutboxEvent,
    Page,
    Platform,
    PostedCard,
    Role,
    SearchFilter,
    SightingSummary,
    Status,
    StoreStats,
    Tally,
    Verdict,
    Visibility,
)
from bot.ioc import IOCType
from bot.ports import Conflict
from bot.tlp import TLP
from storage.models import (
    AuditRow,
    ChannelRow,
    IdentityRow,
    IndicatorRow,
    IndicatorTagRow,
    InviteRow,
    MemberRow,
    OrganizationRow,
    OutboxRow,
    PostedCardRow,
    SightingRow,
    VoteRow,
)

Clock = Callable[[], datetime]
T = TypeVar("T")

# Bound parameters per statement stay well below SQLite's and asyncpg's limits.
CHUNK = 500
_TAG_SEPARATOR = "\x1f"


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    name = getattr(orig, "sqlite_errorname", "")
    if name:
        return name in {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
    return "UNIQUE constraint failed" in str(orig)


class _Repository:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        bind = session.bind
        if bind is None:
            raise ValueError("the session must be bound to an engine")
        self._dialect = bind.dialect.name

    async def _execute(self, statement: Any, params: Any = None) -> Any:
        """Core execution on the unit of work's connection: the same transaction as the session, without the
        ORM's per-row loading (every statement here is Core; rows become domain values in this module)."""
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    def _upsert_insert(self, table: Any) -> Any:
        """The dialect's INSERT that supports ON CONFLICT (both SQLite and PostgreSQL spell it alike)."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"no upsert for the {self._dialect} dialect")

    async def _insert_or_conflict(self, stmt: Insert, what: str) -> Any:
        """Run an INSERT ... RETURNING inside a SAVEPOINT; a unique violation becomes Conflict."""
        try:
            async with self._session.begin_nested():
                return (await self._execute(stmt)).scalar_one()
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(what) from exc
            raise


# --- organizations and members ------------------------------------------------------------------------


def _org(row: Any) -> Organization:
    return Organization(id=row.id, name=row.name, sector=row.sector, trust_level=row.trust_level)


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


_MEMBER_COLUMNS = (
    MemberRow.id, MemberRow.name, MemberRow.role, MemberRow.org_id, OrganizationRow.name.label("org_name"),
)


def _members() -> Select[Any]:
    return select(*_MEMBER_COLUMNS).join(OrganizationRow, OrganizationRow.id == MemberRow.org_id)


class _Prefixed:
    """Attribute access to the `prefix`-labelled columns of a joined row."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]


def _member(row: Any) -> Member:
    return Member(id=row.id, name=row.name, role=Role(row.role), org_id=row.org_id, org_name=row.org_name)


def _speaker_statement() -> Select[Any]:
    """Member by identity and channel by id, outer-joined to a one-row anchor: one round trip, built once."""
    platform, workspace = bindparam("platform"), bindparam("workspace_id")
    member = _members().join(IdentityRow, IdentityRow.member_id == MemberRow.id).where(
        IdentityRow.platform == platform, IdentityRow.workspace_id == workspace,
        IdentityRow.user_id == bindparam("user_id"),
    ).subquery()
    channel = select(ChannelRow.__table__).where(
        ChannelRow.platform == platform, ChannelRow.workspace_id == workspace,
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

    async def speaker(self, identity: Identity, channel_id: str) -> tuple[Member | None, Channel | None]:
        row = (await self._execute(_SPEAKER, {
            "platform": identity.platform.value, "workspace_id": identity.workspace_id,
            "user_id": identity.user_id, "channel_id": channel_id,
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

    async def list(self, org_id: int | None = None) -> Sequence[Member]:
        stmt = _members().order_by(OrganizationRow.name_key, MemberRow.name_key, MemberRow.id)
        if org_id is not None:
            stmt = stmt.where(MemberRow.org_id == org_id)
        return [_member(row) for row in await self._execute(stmt)]


# --- invites ------------------------------------------------------------------------------------------


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


# --- indicators ---------------------------------------------------------------------------------------

_SHAREABLE_MAX = TLP.AMBER.rank


def _tags_column() -> Any:
    return (
        select(func.aggregate_strings(IndicatorTagRow.tag, _TAG_SEPARATOR))
        .where(IndicatorTagRow.indicator_id == IndicatorRow.id)
        .correlate(IndicatorRow)
        .scalar_subquery()
        .label("tags")
    )


# In the order of bot.domain.Indicator's fields, so that a row becomes an Indicator positionally (fast).
_INDICATOR_COLUMNS = (
    IndicatorRow.id, IndicatorRow.stix_id, IndicatorRow.type, IndicatorRow.value, IndicatorRow.status,
    IndicatorRow.tlp, IndicatorRow.confidence, _tags_column(), IndicatorRow.note, IndicatorRow.submitter_id,
    MemberRow.name.label("submitter_name"), IndicatorRow.org_id, OrganizationRow.name.label("org_name"),
    IndicatorRow.anonymous, IndicatorRow.first_seen, IndicatorRow.last_seen, IndicatorRow.valid_until,
    IndicatorRow.created_at, IndicatorRow.modified_at, IndicatorRow.status_reason,
)


def _indicators() -> Select[Any]:
    return (
        select(*_INDICATOR_COLUMNS)
        .join(MemberRow, MemberRow.id == IndicatorRow.submitter_id)
        .join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
    )


_INDICATOR_BY_ID = _indicators().where(IndicatorRow.id == bindparam("id"))
_INDICATORS_BY_IDS = _indicators().where(IndicatorRow.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _by_values_statement(types: int) -> Select[Any]:
    """Built once per number of distinct types in a lookup (at most one per IOC type)."""
    return _indicators().where(or_(*(
        and_(IndicatorRow.type == bindparam(f"t{n}"), IndicatorRow.value.in_(bindparam(f"v{n}", expanding=True)))
        for n in range(types)
    ))).order_by(IndicatorRow.id)


def _indicator(row: Row[Any]) -> Indicator:
    (id_, stix_id, type_, value, status, tlp, confidence, tags, note, submitter_id, submitter_name, org_id, org_name,
     anonymous, first_seen, last_seen, valid_until, created_at, modified_at, status_reason) = row
    return Indicator(
        id_, stix_id, _IOC_TYPES[type_], value, _STATUSES[status], _TLPS[tlp], confidence,
        tuple(sorted(tags.split(_TAG_SEPARATOR))) if tags else (), note, submitter_id, submitter_name, org_id,
        org_name, anonymous, first_seen, last_seen, valid_until, created_at, modified_at, status_reason,
    )


_IOC_TYPES = {t.value: t for t in IOCType}
_STATUSES = {s.value: s for s in Status}
_VERDICTS = {v.value: v for v in Verdict}
_TLPS = {t.value: t for t in TLP}


def visibility_clause(view: Visibility) -> ColumnElement[bool]:
    """``bot.rules.can_see`` as SQL: the same decision, row by row, on indexed integer ranks."""
    shared_max = min(view.max_shared_tlp.rank, _SHAREABLE_MAX)
    allowed: list[ColumnElement[bool]] = [IndicatorRow.tlp_rank <= shared_max]
    if view.amber_strict_own_org:
        allowed.append(and_(IndicatorRow.tlp_rank == TLP.AMBER_STRICT.rank,
                            IndicatorRow.org_id == view.org_id))
    if view.red_all:
        allowed.append(IndicatorRow.tlp_rank == TLP.RED.rank)
    elif view.red_own:
        allowed.append(and_(IndicatorRow.tlp_rank == TLP.RED.rank,
                            IndicatorRow.submitter_id == view.member_id))
    return or_(*allowed)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _normal_tags(tags: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        clean = tag.replace(_TAG_SEPARATOR, "").strip().lower()
        if clean:
            seen[clean] = None
    return list(seen)


class SqlIndicatorRepository(_Repository):
    async def add(self, new: NewIndicator) -> Indicator:
        now = new.seen_at  # the core's clock: submission time is creation time
        tags = _normal_tags(new.tags)
        stmt = (
            insert(IndicatorRow)
            .values(
                stix_id=new.stix_id, type=new.type.value, value=new.value, status=Status.PENDING.value,
                tlp=new.tlp.value, tlp_rank=new.tlp.rank, confidence=new.confidence, note=new.note,
                submitter_id=new.submitter_id, org_id=new.org_id, anonymous=new.anonymous,
                first_seen=new.seen_at, last_seen=new.seen_at, valid_until=new.valid_until,
                created_at=now, modified_at=now, status_reason="",
            )
            .returning(IndicatorRow.id)
        )
        try:
            async with self._session.begin_nested():
                indicator_id = (await self._execute(stmt)).scalar_one()
                if tags:
                    await self._execute(
                        insert(IndicatorTagRow), [{"indicator_id": indicator_id, "tag": t} for t in tags]
                    )
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(f"{new.type.value} {new.value} is stored already") from exc
            raise
        indicator = await self.get(indicator_id)
        assert indicator is not None
        return indicator

    async def get(self, indicator_id: int) -> Indicator | None:
        row = (await self._execute(_INDICATOR_BY_ID, {"id": indicator_id})).first()
        return _indicator(row) if row else None

    async def by_ids(self, indicator_ids: Iterable[int]) -> Sequence[Indicator]:
        found: list[Indicator] = []
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            found.extend(_indicator(r) for r in await self._execute(_INDICATORS_BY_IDS, {"ids": list(chunk)}))
        return found

    async def by_stix_id(self, stix_id: str) -> Indicator | None:
        row = (await self._execute(_indicators().where(IndicatorRow.stix_id == stix_id))).first()
        return _indicator(row) if row else None

    async def by_values(self, values: Iterable[tuple[IOCType, str]]) -> Sequence[Indicator]:
        pairs = list(dict.fromkeys((IOCType(t).value, v) for t, v in values))
        found: list[Indicator] = []
        for chunk in _chunks(pairs):
            # Grouped by type: "type = :t AND value IN (...)" uses the unique (type, value) index on
            # both backends, which a row-value IN does not always do.
            by_type: dict[str, list[str]] = {}
            for type_, value in chunk:
                by_type.setdefault(type_, []).append(value)
            params: dict[str, Any] = {}
            for n, (type_, vals) in enumerate(by_type.items()):
                params[f"t{n}"], params[f"v{n}"] = type_, vals
            rows = await self._execute(_by_values_statement(len(by_type)), params)
            found.extend(_indicator(row) for row in rows)
        found.sort(key=lambda ind: ind.id)
        return found

    async def search(self, flt: SearchFilter, view: Visibility,
                     page: Page) -> tuple[Sequence[Indicator], int]:
        conditions: list[ColumnElement[bool]] = [visibility_clause(view)]
        needs_org = False
        if flt.types:
            conditions.append(IndicatorRow.type.in_([IOCType(t).value for t in flt.types]))
        for tag in _normal_tags(flt.tags):
            conditions.append(exists().where(
                IndicatorTagRow.indicator_id == IndicatorRow.id, IndicatorTagRow.tag == tag
            ))
        if flt.statuses:
            conditions.append(IndicatorRow.status.in_([s.value for s in flt.statuses]))
        if flt.org_name is not None:
            # Anonymous submissions are not found by their organization's name, except by its own members.
            needs_org = True
            conditions.append(OrganizationRow.name_key == flt.org_name.strip().lower())
            conditions.append(or_(IndicatorRow.anonymous == false(), IndicatorRow.org_id == view.org_id))
        if flt.since is not None:
            conditions.append(IndicatorRow.created_at >= flt.since)
        if flt.submitter_id is not None:
            conditions.append(IndicatorRow.submitter_id == flt.submitter_id)
        if flt.tlp is not None:
            conditions.append(IndicatorRow.tlp_rank == flt.tlp.rank)
        text = flt.text.strip().lower()
        if text:
            # A substring of the value (values are stored normalized, mostly lower-case already).
            pattern = f"%{_like_escape(text)}%"
            conditions.append(func.lower(IndicatorRow.value).like(pattern, escape="\\"))

        count_stmt = select(func.count()).select_from(IndicatorRow)
        if needs_org:
            count_stmt = count_stmt.join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
        total = (await self._execute(count_stmt.where(*conditions))).scalar_one()
        if total == 0 or page.offset >= total:
            return [], total
        rows = await self._execute(
            _indicators().where(*conditions)
            .order_by(IndicatorRow.id.asc() if flt.oldest_first else IndicatorRow.id.desc())
            .limit(page.size).offset(page.offset)
        )
        return [_indicator(row) for row in rows], total

    async def transition(self, indicator_id: int, from_statuses: Iterable[Status], to: Status,
                         reason: str, at: datetime) -> bool:
        result = await self._execute(
            update(IndicatorRow)
            .where(IndicatorRow.id == indicator_id,
                   IndicatorRow.status.in_([Status(s).value for s in from_statuses]))
            .values(status=to.value, status_reason=reason, modified_at=at)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def touch(self, indicator_id: int, seen_at: datetime) -> None:
        await self._execute(
            update(IndicatorRow)
            .where(IndicatorRow.id == indicator_id, IndicatorRow.last_seen < seen_at)
            .values(last_seen=seen_at)
            .execution_options(synchronize_session=False)
        )

    async def expire_due(self, now: datetime) -> Sequence[int]:
        rows = await self._execute(
            update(IndicatorRow)
            .where(
                IndicatorRow.status.in_([Status.PENDING.value, Status.APPROVED.value]),
                IndicatorRow.valid_until.is_not(None),
                IndicatorRow.valid_until <= now,
            )
            .values(status=Status.EXPIRED.value, status_reason="valid_until passed", modified_at=now)
            .returning(IndicatorRow.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(rows.scalars())

    async def stats(self) -> StoreStats:
        by_status = {
            s: n for s, n in await self._execute(
                select(IndicatorRow.status, func.count()).group_by(IndicatorRow.status)
            )
        }
        by_type = {
            t: n for t, n in await self._execute(
                select(IndicatorRow.type, func.count()).group_by(IndicatorRow.type)
            )
        }
        totals = (await self._execute(select(
            select(func.count()).select_from(OrganizationRow).scalar_subquery(),
            select(func.count()).select_from(MemberRow).scalar_subquery(),
            select(func.count()).select_from(VoteRow).scalar_subquery(),
            select(func.count()).select_from(SightingRow).scalar_subquery(),
        ))).one()
        return StoreStats(by_status=by_status, by_type=by_type, organizations=totals[0], members=totals[1],
                          votes=totals[2], sightings=totals[3])


# --- votes, sightings ---------------------------------------------------------------------------------


class SqlVoteRepository(_Repository):
    async def upsert(self, indicator_id: int, member_id: int, org_id: int, verdict: Verdict, reason: str,
                     at: datetime) -> Verdict | None:
        # One atomic statement: the unique (indicator_id, member_id) decides insert or update, and the
        # row's verdict before the update is copied into previous_verdict and returned.
        table = VoteRow.__table__
        stmt = self._upsert_insert(table).values(
            indicator_id=indicator_id, member_id=member_id, org_id=org_id, verdict=Verdict(verdict).value,
            previous_verdict=None, reason=reason, created_at=at, updated_at=at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.indicator_id, table.c.member_id],
            set_={
                "previous_verdict": table.c.verdict,
                "verdict": stmt.excluded.verdict,
                "org_id": stmt.excluded.org_id,
                "reason": stmt.excluded.reason,
                "updated_at": stmt.excluded.updated_at,
            },
        ).returning(table.c.previous_verdict)
        previous = (await self._execute(stmt)).scalar_one()
        return Verdict(previous) if previous is not None else None

    async def withdraw(self, indicator_id: int, member_id: int, only: Verdict | None = None) -> Verdict | None:
        matching = [VoteRow.verdict == Verdict(only).value] if only is not None else []
        previous = (await self._execute(
            delete(VoteRow)
            .where(VoteRow.indicator_id == indicator_id, VoteRow.member_id == member_id, *matching)
            .returning(VoteRow.verdict)
            .execution_options(synchronize_session=False)
        )).scalar_one_or_none()
        return Verdict(previous) if previous is not None else None

    async def tally(self, indicator_id: int) -> Tally:
        return (await self.tallies([indicator_id]))[indicator_id]

    async def tallies(self, indicator_ids: Iterable[int]) -> dict[int, Tally]:
        ids = list(dict.fromkeys(indicator_ids))
        counts: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in ids}
        for chunk in _chunks(ids):
            rows = await self._execute(
                select(VoteRow.indicator_id, VoteRow.verdict, func.count(),
                       func.count(VoteRow.org_id.distinct()))
                .where(VoteRow.indicator_id.in_(chunk))
                .group_by(VoteRow.indicator_id, VoteRow.verdict)
            )
            for indicator_id, verdict, votes, orgs in rows:
                counts[indicator_id][verdict] = (votes, orgs)
        return {indicator_id: _tally(by_verdict) for indicator_id, by_verdict in counts.items()}


    async def activity(self, indicator_ids: Iterable[int]) -> dict[int, tuple[Tally, SightingSummary]]:
        """Tallies and sightings of many indicators in one round trip (a UNION ALL of two GROUP BYs)."""
        ids = list(dict.fromkeys(indicator_ids))
        votes: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in ids}
        sightings = {i: SightingSummary() for i in ids}
        for chunk in _chunks(ids):
            stmt = _ACTIVITY
            for indicator_id, kind, n, orgs, last in await self._execute(stmt, {"ids": list(chunk)}):
                if kind == _SIGHTING:
                    sightings[indicator_id] = SightingSummary(count=int(n), orgs=orgs, last_seen=last)
                else:
                    votes[indicator_id][kind] = (n, orgs)
        return {i: (_tally(votes[i]), sightings[i]) for i in ids}


_SIGHTING = "sighting"


def _activity_statement() -> Any:
    ids = bindparam("ids", expanding=True)
    return union_all(
        select(VoteRow.indicator_id, VoteRow.verdict.label("kind"), func.count().label("n"),
               func.count(VoteRow.org_id.distinct()).label("orgs"),
               type_coerce(null(), SightingRow.seen_at.type).label("last"))
        .where(VoteRow.indicator_id.in_(ids))
        .group_by(VoteRow.indicator_id, VoteRow.verdict),
        select(SightingRow.indicator_id, literal(_SIGHTING).label("kind"), func.sum(SightingRow.count),
               func.count(SightingRow.org_id.distinct()), func.max(SightingRow.seen_at))
        .where(SightingRow.indicator_id.in_(ids))
        .group_by(SightingRow.indicator_id),
    )


_ACTIVITY = _activity_statement()


def _tally(by_verdict: dict[str, tuple[int, int]]) -> Tally:
    confirm = by_verdict.get(Verdict.CONFIRM.value, (0, 0))
    false_positive = by_verdict.get(Verdict.FALSE_POSITIVE.value, (0, 0))
    return Tally(confirm=confirm[0], false_positive=false_positive[0], confirm_orgs=confirm[1],
                 false_positive_orgs=false_positive[1])


class SqlSightingRepository(_Repository):
    async def add(self, indicator_id: int, org_id: int, member_id: int, count: int, seen_at: datetime,
                  note: str) -> None:
        await self._execute(insert(SightingRow).values(
            indicator_id=indicator_id, org_id=org_id, member_id=member_id, count=count, seen_at=seen_at,
            note=note,
        ))


# --- channels, audit, outbox --------------------------------------------------------------------------


def _channel(row: Any) -> Channel:
    return Channel(platform=Platform(row.platform), workspace_id=row.workspace_id, channel_id=row.channel_id,
                   ceiling=TLP(row.ceiling), purpose=ChannelPurpose(row.purpose), passive=row.passive,
                   ephemeral_lookups=row.ephemeral_lookups)


class SqlChannelRepository(_Repository):
    async def get(self, platform: Platform, workspace_id: str, channel_id: str) -> Channel | None:
        row = (await self._execute(select(ChannelRow.__table__).where(
            ChannelRow.platform == platform.value, ChannelRow.workspace_id == workspace_id,
            ChannelRow.channel_id == channel_id,
        ))).first()
        return _channel(row) if row else None

    async def upsert(self, channel: Channel) -> None:
        table = ChannelRow.__table__
        stmt = self._upsert_insert(table).values(
            platform=channel.platform.value, workspace_id=channel.workspace_id, channel_id=channel.channel_id,
            ceiling=channel.ceiling.value, purpose=channel.purpose.value, passive=channel.passive,
            ephemeral_lookups=channel.ephemeral_lookups,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.platform, table.c.workspace_id, table.c.channel_id],
            set_={c: stmt.excluded[c] for c in ("ceiling", "purpose", "passive", "ephemeral_lookups")},
        )
        await self._execute(stmt)

    async def list(self, purpose: ChannelPurpose | None = None) -> Sequence[Channel]:
        stmt = select(ChannelRow.__table__).order_by(ChannelRow.id)
        if purpose is not None:
            stmt = stmt.where(ChannelRow.purpose == purpose.value)
        return [_channel(row) for row in await self._execute(stmt)]


class SqlAuditLog(_Repository):
    async def append(self, action: str, *, at: datetime, platform: Platform, member_id: int | None,
                     indicator_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
        await self._execute(insert(AuditRow).values(
            at=at, platform=Platform(platform).value, member_id=member_id, action=action, indicator_id=indicator_id,
            detail=detail or {},
        ))


def _outbox_event(row: Any) -> OutboxEvent:
    return OutboxEvent(id=row.id, event=row.event, payload=row.payload, platform=Platform(row.platform),
                       created_at=row.created_at, attempts=row.attempts, last_error=row.last_error)


_PENDING = (OutboxRow.delivered_at.is_(None), OutboxRow.parked_at.is_(None))


class SqlOutbox(_Repository):
    written = False  # set when this unit of work added rows: its commit tells other processes (PostgreSQL)

    async def add(self, event: str, payload: dict[str, Any], at: datetime, platform: Platform) -> None:
        self.written = True
        await self._execute(insert(OutboxRow).values(
            created_at=at, event=event, payload=payload, platform=Platform(platform).value, available_at=at,
            attempts=0,
        ))

    async def claim(self, platform: Platform, now: datetime, lease: timedelta,
                    limit: int) -> Sequence[OutboxEvent]:
        due = (
            select(OutboxRow.id)
            .where(OutboxRow.platform == Platform(platform).value, *_PENDING, OutboxRow.available_at <= now)
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's BEGIN IMMEDIATE serializes claims
        )
        ids = list((await self._execute(due)).scalars())
        if not ids:
            return []
        rows = await self._execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .values(available_at=now + lease, attempts=OutboxRow.attempts + 1)
            .returning(*OutboxRow.__table__.columns)
            .execution_options(synchronize_session=False)
        )
        return sorted((_outbox_event(r) for r in rows), key=lambda e: e.id)

    async def delivered(self, event_ids: Iterable[int], at: datetime) -> None:
        ids = list(event_ids)
        if not ids:
            return
        await self._execute(update(OutboxRow).where(OutboxRow.id.in_(ids))
                                    .values(delivered_at=at, last_error=None)
                                    .execution_options(synchronize_session=False))

    async def retry_later(self, event_id: int, error: str, at: datetime) -> None:
        await self._execute(update(OutboxRow).where(OutboxRow.id == event_id)
                                    .values(available_at=at, last_error=error[:2000])
                                    .execution_options(synchronize_session=False))

    async def park(self, event_id: int, error: str, at: datetime) -> None:
        await self._execute(update(OutboxRow).where(OutboxRow.id == event_id)
                                    .values(parked_at=at, last_error=error[:2000])
                                    .execution_options(synchronize_session=False))

    async def parked(self, limit: int) -> Sequence[OutboxEvent]:
        rows = await self._execute(
            select(*OutboxRow.__table__.columns).where(OutboxRow.parked_at.is_not(None),
                                                       OutboxRow.delivered_at.is_(None))
            .order_by(OutboxRow.id).limit(limit))
        return [_outbox_event(r) for r in rows]

    async def unpark(self, event_id: int, at: datetime) -> bool:
        result = await self._execute(
            update(OutboxRow).where(OutboxRow.id == event_id, OutboxRow.parked_at.is_not(None),
                                    OutboxRow.delivered_at.is_(None))
            .values(parked_at=None, available_at=at, attempts=0)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1

    async def pending_stats(self, now: datetime) -> dict[str, tuple[int, float]]:
        rows = await self._execute(
            select(OutboxRow.platform, func.count(), func.min(OutboxRow.created_at))
            .where(*_PENDING).group_by(OutboxRow.platform))
        return {platform: (n, max(0.0, (now - oldest).total_seconds())) for platform, n, oldest in rows}


def _posted_card(row: Any) -> PostedCard:
    return PostedCard(platform=Platform(row.platform), workspace_id=row.workspace_id, channel_id=row.channel_id,
                      indicator_id=row.indicator_id, purpose=row.purpose, message_id=row.message_id,
                      delivery_key=row.delivery_key, id=row.id)


class SqlPostedCards(_Repository):
    def _values(self, card: PostedCard) -> dict[str, Any]:
        return {"platform": Platform(card.platform).value, "workspace_id": card.workspace_id,
                "channel_id": card.channel_id, "message_id": card.message_id, "indicator_id": card.indicator_id,
                "purpose": card.purpose, "delivery_key": card.delivery_key, "created_at": self._clock()}

    async def reserve(self, cards: Sequence[PostedCard]) -> dict[str, tuple[PostedCard, bool]]:
        keys = [c.delivery_key for c in cards]
        if not cards:
            return {}
        if not all(keys):
            raise ValueError("a reserved card needs a delivery key")
        earlier = {r.delivery_key for r in await self._execute(
            select(PostedCardRow.delivery_key).where(PostedCardRow.delivery_key.in_(keys)))}
        new = [self._values(c) for c in cards if c.delivery_key not in earlier]
        if new:
            await self._execute(self._upsert_insert(PostedCardRow.__table__)
                                .on_conflict_do_nothing(index_elements=["delivery_key"]), new)
        rows = await self._execute(
            select(*PostedCardRow.__table__.columns).where(PostedCardRow.delivery_key.in_(keys)))
        return {r.delivery_key: (_posted_card(r), r.delivery_key in earlier) for r in rows}

    async def add(self, card: PostedCard) -> None:
        await self._execute(insert(PostedCardRow).values(**self._values(card)))

    async def set_messages(self, messages: Sequence[tuple[int, str]]) -> None:
        if messages:
            await self._execute(
                update(PostedCardRow).where(PostedCardRow.id == bindparam("card_id"))
                .values(message_id=bindparam("message"))
                .execution_options(synchronize_session=False),
                [{"card_id": card_id, "message": message_id} for card_id, message_id in messages])

    async def of_indicators(self, indicator_ids: Iterable[int], platform: Platform) -> Sequence[PostedCard]:
        found: list[PostedCard] = []
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            rows = await self._execute(
                select(*PostedCardRow.__table__.columns)
                .where(PostedCardRow.indicator_id.in_(chunk), PostedCardRow.platform == Platform(platform).value,
                       PostedCardRow.message_id.is_not(None))
                .order_by(PostedCardRow.id))
            found.extend(_posted_card(r) for r in rows)
        return found


__all__ = [
    "SqlAuditLog",
    "SqlChannelRepository",
    "SqlIndicatorRepository",
    "SqlInviteRepository",
    "SqlMemberRepository",
    "SqlOrganizationRepository",
    "SqlOutbox",
    "SqlPostedCards",
    "SqlSightingRepository",
    "SqlVoteRepository",
    "invite_digest",
    "visibility_clause",
]


# --- STIX/TAXII exchange: streaming export, keyset-paged feed, bulk import, API keys --------------------


from bot.domain import ApiKey, ExportFilter, SightingRecord, VoteRecord  # noqa: E402
from storage.models import ApiKeyRow  # noqa: E402

# Kinds of feed objects, in the order they sort at equal date_added.
FEED_INDICATOR, FEED_OPINION, FEED_SIGHTING = 0, 1, 2
FeedKey = tuple[datetime, int, int]  # (date_added, kind, row id): the keyset cursor of the TAXII feed


def _export_conditions(flt: ExportFilter, view: Visibility) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [visibility_clause(view)]
    if flt.statuses:
        conditions.append(IndicatorRow.status.in_([Status(s).value for s in flt.statuses]))
    if flt.max_tlp is not None:
        conditions.append(IndicatorRow.tlp_rank <= flt.max_tlp.rank)
    if flt.types:
        conditions.append(IndicatorRow.type.in_([IOCType(t).value for t in flt.types]))
    for tag in _normal_tags(flt.tags):
        conditions.append(exists().where(IndicatorTagRow.indicator_id == IndicatorRow.id, IndicatorTagRow.tag == tag))
    if flt.since is not None:
        conditions.append(IndicatorRow.modified_at >= flt.since)
    return conditions


def _keyset_ranges(date_col: Any, id_col: Any, kind: int, cursor: FeedKey | None, added_after: datetime | None,
                   bound: FeedKey | None) -> list[tuple[list[ColumnElement[bool]], bool]]:
    """The feed rows of one kind strictly after `cursor` and up to `bound` (inclusive) in (date_added, kind, id)
    order, as one or two index ranges: (conditions, whether the range is one date, ordered by id alone).

    A row-value comparison `(date, id) > (d, i)` is no index seek on SQLite (it reads every row of date d from
    the first), so the cursor's own date is a range of its own: `date = d AND id > i`, then `date > d`."""
    ranges: list[tuple[list[ColumnElement[bool]], bool]] = []
    rest: list[ColumnElement[bool]] = []
    if cursor is not None:
        date, ckind, cid = cursor
        if kind == ckind:
            same = [date_col == date, id_col > cid]
            if added_after is not None and not date > added_after:
                same = []
            if same and bound is not None:
                bdate, bkind, bid = bound
                if date > bdate or (date == bdate and (kind > bkind or (kind == bkind and cid >= bid))):
                    same = []
                elif date == bdate and kind == bkind:
                    same.append(id_col <= bid)
            if same:
                ranges.append((same, True))
            rest.append(date_col > date)
        else:
            rest.append(date_col >= date if kind > ckind else date_col > date)
    if added_after is not None:
        rest.append(date_col > added_after)
    if bound is not None:
        bdate, bkind, bid = bound
        if kind == bkind:
            rest += [date_col <= bdate, or_(date_col < bdate, id_col <= bid)]
        else:
            rest.append(date_col <= bdate if kind < bkind else date_col < bdate)
    ranges.append((rest, False))
    return ranges


class SqlExchangeRepository(_Repository):
    """The reads and bulk writes of STIX export/import and the TAXII server (visibility applied in SQL)."""

    async def export_batch(self, flt: ExportFilter, view: Visibility, after_id: int, size: int) -> Sequence[Indicator]:
        """The next `size` indicators with id > after_id (keyset by id: constant cost per batch)."""
        rows = await self._execute(
            _indicators().where(*_export_conditions(flt, view), IndicatorRow.id > after_id)
            .order_by(IndicatorRow.id).limit(size)
        )
        return [_indicator(row) for row in rows]

    async def activity_records(self, indicator_ids: Iterable[int]) -> tuple[
            dict[int, list[VoteRecord]], dict[int, list[SightingRecord]]]:
        ids = list(dict.fromkeys(indicator_ids))
        votes: dict[int, list[VoteRecord]] = {}
        sightings: dict[int, list[SightingRecord]] = {}
        for chunk in _chunks(ids):
            for r in await self._execute(
                select(VoteRow.indicator_id, VoteRow.member_id, VoteRow.org_id, VoteRow.verdict, VoteRow.reason,
                       VoteRow.created_at, VoteRow.updated_at)
                .where(VoteRow.indicator_id.in_(chunk)).order_by(VoteRow.id)
            ):
                votes.setdefault(r.indicator_id, []).append(VoteRecord(
                    r.indicator_id, r.member_id, r.org_id, Verdict(r.verdict), r.reason, r.created_at, r.updated_at))
            for r in await self._execute(
                select(SightingRow.id, SightingRow.indicator_id, SightingRow.org_id, SightingRow.count,
                       SightingRow.seen_at)
                .where(SightingRow.indicator_id.in_(chunk)).order_by(SightingRow.id)
            ):
                sightings.setdefault(r.indicator_id, []).append(
                    SightingRecord(r.id, r.indicator_id, r.org_id, r.count, r.seen_at))
        return votes, sightings

    async def feed_page(self, view: Visibility, *, cursor: FeedKey | None, added_after: datetime | None,
                        kinds: Iterable[int], stix_ids: Sequence[str], limit: int,
                        ) -> list[tuple[FeedKey, Indicator, VoteRecord | SightingRecord | None]]:
        """Up to `limit` objects of the feed (approved indicators this viewer may see, their votes and sightings)
        in (date_added, kind, id) order after `cursor`. date_added: an indicator's approval (its last status
        change, `modified_at`), a vote's last change, a sighting's time.

        Each kind is a keyset range on its own index ((status, modified_at, id, tlp_rank, org_id) covers the
        indicators' visibility; votes (updated_at, id, indicator_id); sightings (seen_at, id, indicator_id)),
        read in turn with an upper bound: once `limit` keys are known, a later kind reads only what sorts before
        the last of them. Then one query each for the page's indicators, votes and sightings. No COUNT."""
        kinds = set(kinds)
        visible = [IndicatorRow.status == Status.APPROVED.value, visibility_clause(view)]
        keys: list[tuple[FeedKey, int]] = []  # (key, indicator id)
        bound: FeedKey | None = None

        async def read(kind: int, date_col: Any, id_col: Any, ind_col: Any, extra: list[Any]) -> None:
            nonlocal keys, bound
            found: list[tuple[FeedKey, int]] = []
            for conds, single_date in _keyset_ranges(date_col, id_col, kind, cursor, added_after, bound):
                want = limit - len(found)
                if want <= 0:
                    break
                order = (id_col,) if single_date else (date_col, id_col)
                rows = await self._execute(
                    select(date_col, id_col, ind_col).where(*visible, *extra, *conds).order_by(*order).limit(want))
                found += [((r[0], kind, r[1]), r[2]) for r in rows]
            keys = sorted(keys + found)[:limit]
            if len(keys) == limit:
                bound = keys[-1][0]

        if FEED_INDICATOR in kinds:
            extra = [IndicatorRow.stix_id.in_(stix_ids)] if stix_ids else []
            await read(FEED_INDICATOR, IndicatorRow.modified_at, IndicatorRow.id, IndicatorRow.id, extra)
        if FEED_OPINION in kinds and not stix_ids:
            await read(FEED_OPINION, VoteRow.updated_at, VoteRow.id, VoteRow.indicator_id,
                       [VoteRow.indicator_id == IndicatorRow.id])
        if FEED_SIGHTING in kinds and not stix_ids:
            await read(FEED_SIGHTING, SightingRow.seen_at, SightingRow.id, SightingRow.indicator_id,
                       [SightingRow.indicator_id == IndicatorRow.id])
        vote_ids = [k[2] for k, _ in keys if k[1] == FEED_OPINION]
        sighting_ids = [k[2] for k, _ in keys if k[1] == FEED_SIGHTING]
        records: dict[tuple[int, int], VoteRecord | SightingRecord] = {}
        for chunk in _chunks(vote_ids):
            for r in await self._execute(
                select(VoteRow.id, VoteRow.indicator_id, VoteRow.member_id, VoteRow.org_id, VoteRow.verdict,
                       VoteRow.reason, VoteRow.created_at, VoteRow.updated_at).where(VoteRow.id.in_(chunk))
            ):
                records[(FEED_OPINION, r.id)] = VoteRecord(r.indicator_id, r.member_id, r.org_id,
                                                           _VERDICTS[r.verdict], r.reason, r.created_at,
                                                           r.updated_at)
        for chunk in _chunks(sighting_ids):
            for r in await self._execute(
                select(SightingRow.id, SightingRow.indicator_id, SightingRow.org_id, SightingRow.count,
                       SightingRow.seen_at).where(SightingRow.id.in_(chunk))
            ):
                records[(FEED_SIGHTING, r.id)] = SightingRecord(r.id, r.indicator_id, r.org_id, r.count, r.seen_at)
        indicators = {i.id: i for i in await self.indicators_by_ids([ind_id for _, ind_id in keys])}
        out: list[tuple[FeedKey, Indicator, VoteRecord | SightingRecord | None]] = []
        for key, ind_id in keys:
            ind = indicators.get(ind_id)
            if ind is None:
                continue
            if key[1] == FEED_INDICATOR:
                out.append((key, ind, None))
            elif (record := records.get((key[1], key[2]))) is not None:
                out.append((key, ind, record))
        return out

    async def indicators_by_ids(self, ids: Iterable[int]) -> Sequence[Indicator]:
        wanted = list(dict.fromkeys(ids))
        found: list[Indicator] = []
        for chunk in _chunks(wanted):
            found.extend(_indicator(r) for r in await self._execute(
                _indicators().where(IndicatorRow.id.in_(chunk))))
        return found

    async def add_indicators(self, news: Sequence[NewIndicator]) -> list[int]:
        """Insert many new indicators (and their tags) at once; their ids, in order. Raises Conflict (and
        inserts none) when any (type, value) exists already: the caller then takes the one-by-one path."""
        ids: list[int] = []
        try:
            async with self._session.begin_nested():
                for chunk in _chunks(news, 1000):
                    params = [{
                        "stix_id": n.stix_id, "type": n.type.value, "value": n.value, "status": Status.PENDING.value,
                        "tlp": n.tlp.value, "tlp_rank": n.tlp.rank, "confidence": n.confidence, "note": n.note,
                        "submitter_id": n.submitter_id, "org_id": n.org_id, "anonymous": n.anonymous,
                        "first_seen": n.seen_at, "last_seen": n.seen_at, "valid_until": n.valid_until,
                        "created_at": n.seen_at, "modified_at": n.seen_at, "status_reason": "",
                    } for n in chunk]
                    result = await self._execute(
                        insert(IndicatorRow).returning(IndicatorRow.id, sort_by_parameter_order=True), params)
                    chunk_ids = list(result.scalars())
                    ids.extend(chunk_ids)
                    tags = [{"indicator_id": i, "tag": t} for i, n in zip(chunk_ids, chunk, strict=True)
                            for t in _normal_tags(n.tags)]
                    if tags:
                        await self._execute(insert(IndicatorTagRow), tags)
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict("some of these indicators were stored meanwhile") from exc
            raise
        return ids

    async def audit_many(self, entries: Sequence[dict[str, Any]]) -> None:
        """Many audit rows (keys of AuditRow: at, platform, member_id, action, indicator_id, detail) at once."""
        for chunk in _chunks(entries, 2000):
            await self._execute(insert(AuditRow), [
                {**e, "platform": Platform(e["platform"]).value, "detail": e.get("detail") or {}} for e in chunk])

    async def organization_names(self) -> dict[int, str]:
        rows = await self._execute(select(OrganizationRow.id, OrganizationRow.name))
        return {row.id: row.name for row in rows}


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


def _api_key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, org_id=row.org_id, org_name=row.org_name, name=row.name, prefix=row.prefix,
                  created_at=row.created_at, revoked_at=row.revoked_at)


def _api_keys() -> Select[Any]:
    return (select(ApiKeyRow.id, ApiKeyRow.org_id, OrganizationRow.name.label("org_name"), ApiKeyRow.name,
                   ApiKeyRow.prefix, ApiKeyRow.created_at, ApiKeyRow.revoked_at, ApiKeyRow.key_sha256)
            .join(OrganizationRow, OrganizationRow.id == ApiKeyRow.org_id))


class SqlApiKeyRepository(_Repository):
    async def add(self, org_id: int, name: str, key_sha256: str, prefix: str, created_by: int | None,
                  at: datetime) -> ApiKey:
        stmt = insert(ApiKeyRow).values(org_id=org_id, name=name, key_sha256=key_sha256, prefix=prefix,
                                        created_by=created_by, created_at=at).returning(ApiKeyRow.id)
        key_id = await self._insert_or_conflict(stmt, "this API key exists already")
        row = (await self._execute(_api_keys().where(ApiKeyRow.id == key_id))).one()
        return _api_key(row)

    async def by_digest(self, key_sha256: str) -> tuple[ApiKey, str] | None:
        """The active (not revoked) key with this SHA-256, and the stored digest (for a constant-time check)."""
        row = (await self._execute(
            _api_keys().where(ApiKeyRow.key_sha256 == key_sha256, ApiKeyRow.revoked_at.is_(None)))).first()
        return (_api_key(row), row.key_sha256) if row else None

    async def list(self, org_id: int | None = None) -> Sequence[ApiKey]:
        stmt = _api_keys().order_by(ApiKeyRow.id)
        if org_id is not None:
            stmt = stmt.where(ApiKeyRow.org_id == org_id)
        return [_api_key(r) for r in await self._execute(stmt)]

    async def revoke(self, key_id: int, at: datetime) -> ApiKey | None:
        result = await self._execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None)).values(revoked_at=at)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            return None
        return _api_key((await self._execute(_api_keys().where(ApiKeyRow.id == key_id))).one())


__all__ += ["SqlApiKeyRepository", "SqlExchangeRepository", "api_key_digest"]
