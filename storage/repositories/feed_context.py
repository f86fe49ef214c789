"""The TAXII feed's aggregate context (issue 13): the malware families and the cases a viewer's feed carries,
each computed over the approved indicators that viewer may see (visibility in SQL), never over the others.

Families and cases are few beside indicators, and so are the indicators naming a family or held in a case: each
feed page reads those rows (by the malware index, by the case table) and then those indicators by primary key,
visibility applied there; no statement reads the indicators that have no context (a plan that starts from the
approved indicators' index would read them all on every page). The core pages the result (bot.exchange)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select

from bot.domain import Case, Status, Visibility
from bot.ioc import IOCType
from storage.models import AuditRow, CaseIndicatorRow, CaseRemovalRow, CaseRow, IndicatorRow
from storage.repositories.base import _chunks, _Repository
from storage.repositories.context import _case, _cases
from storage.repositories.indicator_rows import visibility_clause

CASE_ADD = "case.add"  # the audit action of an indicator added to a case (bot.cases)


def revoked_once() -> ColumnElement[bool]:
    """This indicator was revoked at some time (its `revoke` audit row): STIX never un-revokes an object, so the
    feed serves nothing new of one reopened and approved again (a client keeps the revoked version it read)."""
    return exists().where(AuditRow.indicator_id == IndicatorRow.id, AuditRow.action == "revoke")


class FeedContextReads(_Repository):
    async def _visible_approved(self, ids: Iterable[int], view: Visibility, *columns: Any) -> list[Any]:
        """`columns` of those of these indicators that are approved (and never revoked) and `view` may see (by
        primary key)."""
        found: list[Any] = []
        for chunk in _chunks(sorted(set(ids))):
            found += await self._execute(select(IndicatorRow.id, *columns).where(
                IndicatorRow.id.in_(chunk), IndicatorRow.status == Status.APPROVED.value, visibility_clause(view),
                ~revoked_once()))
        return found

    async def _visible_revoked(self, ids: Iterable[int], view: Visibility, *columns: Any) -> list[Any]:
        """`columns` of those of these indicators whose revoked version the feed serves `view` (revoked, and it may
        see them; bot.exchange), by primary key."""
        found: list[Any] = []
        for chunk in _chunks(sorted(set(ids))):
            found += await self._execute(select(IndicatorRow.id, *columns).where(
                IndicatorRow.id.in_(chunk), IndicatorRow.status == Status.REVOKED.value, visibility_clause(view),
                IndicatorRow.decided_at.is_not(None)))
        return found

    async def feed_malware(self, view: Visibility) -> list[tuple[str, datetime, int]]:
        """Each malware family named by an approved indicator `view` may see (not a CVE: it has no `indicates`):
        (name, the earliest date_added (modified_at) of those indicators, the least restrictive TLP rank of them)."""
        named = list((await self._execute(select(IndicatorRow.id).where(IndicatorRow.malware.is_not(None)))).scalars())
        families: dict[str, tuple[datetime, int]] = {}
        for _, name, at, rank, type_ in await self._visible_approved(
                named, view, IndicatorRow.malware, IndicatorRow.modified_at, IndicatorRow.tlp_rank, IndicatorRow.type):
            if name is None or type_ == IOCType.CVE.value:
                continue
            known = families.get(name)
            families[name] = (min(known[0], at), min(known[1], rank)) if known else (at, rank)
        return [(name, at, rank) for name, (at, rank) in sorted(families.items())]

    async def _memberships(self, case_ids: Iterable[int] | None = None) -> list[tuple[int, int]]:
        query = select(CaseIndicatorRow.case_id, CaseIndicatorRow.indicator_id)
        if case_ids is None:
            return [(r[0], r[1]) for r in await self._execute(query)]
        found: list[tuple[int, int]] = []
        for chunk in _chunks(sorted(set(case_ids))):
            found += [(r[0], r[1]) for r in await self._execute(query.where(CaseIndicatorRow.case_id.in_(chunk)))]
        return found

    async def _removals(self) -> list[tuple[int, int, datetime]]:
        """(case_id, indicator_id, removed_at) of the latest removal of each indicator from each case (by the
        case_removals key): few rows, as cases and their members are."""
        return [(r[0], r[1], r[2]) for r in await self._execute(
            select(CaseRemovalRow.case_id, CaseRemovalRow.indicator_id, CaseRemovalRow.removed_at))]

    async def feed_cases(self, view: Visibility) -> list[tuple[Case, datetime]]:
        """Each case that holds, or held, an indicator `view` is served, with the latest change of those in it:
        an approved indicator's date_added (modified_at) or its addition to the case (its `case.add` audit row:
        the membership table keeps no time); the revocation of one in it whose revoked version `view` is served
        (decided_at); the latest removal from it of one `view` is served, approved or revoked (case_removals). So
        the grouping comes again with fewer object_refs after a removal or a revocation, and comes again once more
        when nothing `view` may see is left in it (bot.exchange serves it over its author alone), while what `view`
        may not see moves nothing and a case that never held anything `view` may see is not served. Whether `view`
        may see the case itself is the caller's rule (bot.rules).
        """
        members = await self._memberships()
        modified = {r[0]: r[1] for r in await self._visible_approved({i for _, i in members}, view,
                                                                     IndicatorRow.modified_at)}
        held = {(c, i) for c, i in members if i in modified}
        changes = [(c, modified[i]) for c, i in held]
        for chunk in _chunks(sorted(modified)):
            for indicator_id, at, detail in await self._execute(
                    select(AuditRow.indicator_id, AuditRow.at, AuditRow.detail).where(
                        AuditRow.indicator_id.in_(chunk), AuditRow.action == CASE_ADD)):
                case_id = detail.get("case_id") if isinstance(detail, dict) else None
                if (case_id, indicator_id) in held:
                    changes.append((case_id, at))
        # a member revoked: its revoked version is served at its revocation, and the grouping comes again without it
        revoked = {r[0]: r[1] for r in await self._visible_revoked(
            {i for _, i in members if i not in modified}, view, IndicatorRow.decided_at)}
        changes += [(c, revoked[i]) for c, i in members if i in revoked]
        removals = await self._removals()
        others = {i for _, i, _ in removals} - modified.keys() - revoked.keys()
        seen = modified.keys() | revoked.keys() | {r[0] for r in await self._visible_approved(others, view)} | {
            r[0] for r in await self._visible_revoked(others, view)}
        changes += [(c, at) for c, i, at in removals if i in seen]
        latest: dict[int, datetime] = {}
        for case_id, at in changes:
            if case_id not in latest or at > latest[case_id]:
                latest[case_id] = at
        found: list[tuple[Case, datetime]] = []
        for chunk in _chunks(sorted(latest)):
            found += [(c, latest[c.id]) for c in map(_case, await self._execute(
                _cases().where(CaseRow.id.in_(chunk))))]
        return found

    async def feed_case_members(self, case_ids: Iterable[int], view: Visibility,
                                ) -> dict[int, list[tuple[IOCType, str]]]:
        """The approved indicators `view` may see in each of these cases: (type, stix_id)."""
        members = await self._memberships(case_ids)
        shown = {r[0]: (IOCType(r[1]), r[2]) for r in await self._visible_approved(
            {i for _, i in members}, view, IndicatorRow.type, IndicatorRow.stix_id)}
        found: dict[int, list[tuple[IOCType, str]]] = {}
        for case_id, indicator_id in members:
            if indicator_id in shown:
                found.setdefault(case_id, []).append(shown[indicator_id])
        return found
