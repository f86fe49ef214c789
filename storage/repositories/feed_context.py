"""The TAXII feed's aggregate context (issue 13): the malware families and the cases a viewer's feed carries,
each computed over the approved indicators that viewer may see (visibility in SQL), never over the others.

Families and cases are few beside indicators: each feed page reads them whole (one GROUP BY each) and pages them
in the core (bot.exchange.feed_page); a case's members are read only for the cases on the page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from bot.domain import Case, Status, Visibility
from bot.ioc import IOCType
from storage.models import CaseIndicatorRow, CaseRow, IndicatorRow
from storage.repositories.base import _chunks, _Repository
from storage.repositories.context import _case, _cases
from storage.repositories.indicator_rows import visibility_clause


class FeedContextReads(_Repository):
    async def feed_malware(self, view: Visibility) -> list[tuple[str, datetime, int]]:
        """Each malware family named by an approved indicator `view` may see (not a CVE: it has no `indicates`):
        (name, the earliest date_added (modified_at) of those indicators, the least restrictive TLP rank of them)."""
        rows = await self._execute(
            select(IndicatorRow.malware, func.min(IndicatorRow.modified_at), func.min(IndicatorRow.tlp_rank))
            .where(IndicatorRow.status == Status.APPROVED.value, visibility_clause(view),
                   IndicatorRow.malware.is_not(None), IndicatorRow.type != IOCType.CVE.value)
            .group_by(IndicatorRow.malware))
        return [(r[0], r[1], int(r[2])) for r in rows]

    async def feed_cases(self, view: Visibility) -> list[tuple[Case, datetime]]:
        """Each case holding at least one approved indicator `view` may see, with the latest date_added
        (modified_at) of those; whether `view` may see the case itself is the caller's rule (bot.rules)."""
        latest = {r[0]: r[1] for r in await self._execute(
            select(CaseIndicatorRow.case_id, func.max(IndicatorRow.modified_at))
            .join(IndicatorRow, IndicatorRow.id == CaseIndicatorRow.indicator_id)
            .where(IndicatorRow.status == Status.APPROVED.value, visibility_clause(view))
            .group_by(CaseIndicatorRow.case_id))}
        found: list[tuple[Case, datetime]] = []
        for chunk in _chunks(sorted(latest)):
            found += [(c, latest[c.id]) for c in map(_case, await self._execute(
                _cases().where(CaseRow.id.in_(chunk))))]
        return found

    async def feed_case_members(self, case_ids: Iterable[int], view: Visibility,
                                ) -> dict[int, list[tuple[IOCType, str]]]:
        """The approved indicators `view` may see in each of these cases: (type, stix_id)."""
        found: dict[int, list[tuple[IOCType, str]]] = {}
        for chunk in _chunks(list(dict.fromkeys(case_ids))):
            for case_id, type_, stix_id in await self._execute(
                    select(CaseIndicatorRow.case_id, IndicatorRow.type, IndicatorRow.stix_id)
                    .join(IndicatorRow, IndicatorRow.id == CaseIndicatorRow.indicator_id)
                    .where(CaseIndicatorRow.case_id.in_(chunk), IndicatorRow.status == Status.APPROVED.value,
                           visibility_clause(view))):
                found.setdefault(case_id, []).append((IOCType(type_), stix_id))
        return found
