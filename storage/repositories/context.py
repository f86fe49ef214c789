"""Issue 13's context tables: comments on indicators, and cases grouping them (migration 0013).

Who may see what is decided by the caller (bot.rules over the indicator or the case): these read and write rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from bot.domain import Case, Comment, Visibility
from bot.ports import Conflict
from bot.tlp import TLP
from storage.models import (
    CaseIndicatorRow,
    CaseRemovalRow,
    CaseRow,
    CommentRow,
    IndicatorRow,
    MemberRow,
    OrganizationRow,
)
from storage.repositories.base import _chunks, _is_unique_violation, _Repository
from storage.repositories.indicator_rows import _like_escape, scope_of, visibility_clause

_TLPS = {t.value: t for t in TLP}


def _comments() -> Any:
    return (select(CommentRow.id, CommentRow.indicator_id, CommentRow.member_id, MemberRow.org_id,
                   OrganizationRow.name, CommentRow.text, CommentRow.created_at)
            .join(MemberRow, MemberRow.id == CommentRow.member_id)
            .join(OrganizationRow, OrganizationRow.id == MemberRow.org_id))


def _latest_comments() -> Any:
    """Each indicator's latest comments (`limit`, newest first) with how many it has: built once (a lookup runs it;
    making the statement anew took longer than running it)."""
    ranked = select(
        CommentRow.id, CommentRow.indicator_id, CommentRow.member_id, CommentRow.text, CommentRow.created_at,
        func.row_number().over(partition_by=CommentRow.indicator_id, order_by=CommentRow.id.desc()).label("rn"),
        func.count().over(partition_by=CommentRow.indicator_id).label("total"),
    ).where(CommentRow.indicator_id.in_(bindparam("ids", expanding=True))).subquery()
    return (select(ranked.c.id, ranked.c.indicator_id, ranked.c.member_id, MemberRow.org_id, OrganizationRow.name,
                   ranked.c.text, ranked.c.created_at, ranked.c.total)
            .join(MemberRow, MemberRow.id == ranked.c.member_id)
            .join(OrganizationRow, OrganizationRow.id == MemberRow.org_id)
            .where(ranked.c.rn <= bindparam("limit")).order_by(ranked.c.indicator_id, ranked.c.id.desc()))


_LATEST_COMMENTS = _latest_comments()


def _cases() -> Any:
    return (select(CaseRow.id, CaseRow.name, CaseRow.tlp, CaseRow.description, CaseRow.org_id, OrganizationRow.name,
                   CaseRow.member_id, CaseRow.created_at)
            .join(OrganizationRow, OrganizationRow.id == CaseRow.org_id))


def _case(row: Any) -> Case:
    id_, name, tlp, description, org_id, org_name, member_id, created_at = row
    return Case(id_, name, _TLPS[tlp], description, org_id, org_name, member_id, created_at)


class SqlContextRepository(_Repository):
    # ------------------------------------------------------------ comments

    async def add_comment(self, indicator_id: int, member_id: int, text: str, at: datetime) -> int:
        changed = (await self._execute(select(IndicatorRow.modified_at).where(IndicatorRow.id == indicator_id)))\
            .scalar_one()
        result = await self._execute(insert(CommentRow).values(  # added to the feed with its indicator (0019)
            indicator_id=indicator_id, member_id=member_id, text=text, created_at=at, added_at=max(at, changed))
            .returning(CommentRow.id))
        return int(result.scalar_one())

    async def latest_comments(self, indicator_ids: Iterable[int], limit: int) -> dict[int, tuple[int, list[Comment]]]:
        """For each indicator with comments: how many, and the latest `limit` (newest first); one statement per
        chunk of ids (window functions on both backends)."""
        found: dict[int, tuple[int, list[Comment]]] = {}
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            rows = await self._execute(_LATEST_COMMENTS, {"ids": list(chunk), "limit": limit})
            for row in rows:
                found.setdefault(row[1], (int(row[-1]), []))[1].append(Comment(*row[:-1]))
        return found

    async def comments_by_ids(self, comment_ids: Iterable[int]) -> dict[int, Comment]:
        """These comments, by id (what the outbox threads under the cards)."""
        found: dict[int, Comment] = {}
        for chunk in _chunks(list(dict.fromkeys(comment_ids))):
            for row in await self._execute(_comments().where(CommentRow.id.in_(chunk))):
                found[row[0]] = Comment(*row)
        return found

    async def comments_of(self, indicator_ids: Iterable[int]) -> dict[int, list[Comment]]:
        """Every comment on these indicators, oldest first (exports)."""
        found: dict[int, list[Comment]] = {}
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            for row in await self._execute(_comments().where(CommentRow.indicator_id.in_(chunk))
                                           .order_by(CommentRow.id)):
                found.setdefault(row[1], []).append(Comment(*row))
        return found

    # ------------------------------------------------------------ cases

    async def add_case(self, name: str, tlp: TLP, description: str, org_id: int, member_id: int,
                       at: datetime) -> Case:
        """Conflict when a case of that name (case-insensitively) exists already in its visibility scope."""
        try:
            async with self._session.begin_nested():
                result = await self._execute(insert(CaseRow).values(
                    name=name, name_key=name.lower(), tlp=tlp.value, tlp_rank=tlp.rank,
                    scope=scope_of(tlp, org_id, member_id), description=description,
                    org_id=org_id, member_id=member_id, created_at=at).returning(CaseRow.id))
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(f"a case named {name} exists already") from exc
            raise
        case = await self.case_by_id(int(result.scalar_one()))
        assert case is not None
        return case

    async def case_by_id(self, case_id: int) -> Case | None:
        row = (await self._execute(_cases().where(CaseRow.id == case_id))).first()
        return _case(row) if row else None

    async def cases_by_name(self, name: str) -> list[Case]:
        """The cases of that name (case-insensitively), one a visibility scope at most."""
        return [_case(r) for r in await self._execute(_cases().where(CaseRow.name_key == name.lower())
                                                       .order_by(CaseRow.id))]

    async def cases(self) -> Sequence[Case]:
        return [_case(r) for r in await self._execute(_cases().order_by(CaseRow.id))]

    async def case_indicator_ids(self, case_id: int) -> list[int]:
        rows = await self._execute(select(CaseIndicatorRow.indicator_id).where(CaseIndicatorRow.case_id == case_id)
                                   .order_by(CaseIndicatorRow.indicator_id))
        return list(rows.scalars())

    async def cases_of(self, indicator_ids: Iterable[int]) -> dict[int, list[int]]:
        """The case ids of each indicator (exports)."""
        found: dict[int, list[int]] = {}
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            for case_id, indicator_id in await self._execute(
                    select(CaseIndicatorRow.case_id, CaseIndicatorRow.indicator_id)
                    .where(CaseIndicatorRow.indicator_id.in_(chunk))):
                found.setdefault(indicator_id, []).append(case_id)
        return found

    async def add_to_case(self, case_id: int, indicator_ids: Iterable[int]) -> list[int]:
        """Add these indicators to the case; the ids that were not in it already."""
        held = set(await self.case_indicator_ids(case_id))
        new = [i for i in dict.fromkeys(indicator_ids) if i not in held]
        if new:
            await self._execute(insert(CaseIndicatorRow), [{"case_id": case_id, "indicator_id": i} for i in new])
        return new

    async def remove_from_case(self, case_id: int, indicator_id: int, at: datetime) -> bool:
        """Remove the indicator from the case; whether it was in it. The removal is kept (case_removals, in this
        transaction: the TAXII feed's grouping comes again for those who saw the indicator in it), one row a pair."""
        result = await self._execute(delete(CaseIndicatorRow).where(CaseIndicatorRow.case_id == case_id,
                                                                    CaseIndicatorRow.indicator_id == indicator_id))
        if not result.rowcount:
            return False
        stmt = self._upsert_insert(CaseRemovalRow.__table__).values(case_id=case_id, indicator_id=indicator_id,
                                                                     removed_at=at)
        await self._execute(stmt.on_conflict_do_update(
            index_elements=[CaseRemovalRow.case_id, CaseRemovalRow.indicator_id],
            set_={"removed_at": stmt.excluded.removed_at}))
        return True

    # ------------------------------------------------------------ malware families

    async def malware_names(self, view: Visibility, prefix: str, limit: int) -> list[str]:
        """The malware families named on items `view` may see, starting with `prefix`, most used first (Discord's
        autocomplete)."""
        conditions = [IndicatorRow.malware.is_not(None), visibility_clause(view)]
        if prefix:
            conditions.append(IndicatorRow.malware.like(f"{_like_escape(prefix)}%", escape="\\"))
        rows = await self._execute(select(IndicatorRow.malware, func.count().label("n")).where(*conditions)
                                   .group_by(IndicatorRow.malware).order_by(func.count().desc(), IndicatorRow.malware)
                                   .limit(limit))
        return [r[0] for r in rows]
