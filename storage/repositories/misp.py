"""The MISP feed's read (issue 14): the approved, unexpired indicators a viewer may see, with only the columns an
event attribute needs, keyset by id, and their tags in one query a batch (no join, no correlated subquery: the
feed of 100k indicators is read in a few seconds)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from bot.domain import ExportFilter, SightingRecord, Status, Verdict, Visibility, VoteRecord
from bot.ioc import IOCType
from bot.misp.types import MispRow
from bot.tlp import TLP
from storage.models import IndicatorRow, IndicatorTagRow, SightingRow, VoteRow
from storage.repositories.base import _Repository
from storage.repositories.blocklists import _live
from storage.repositories.exchange import _export_conditions

_TYPES = {t.value: t for t in IOCType}
_STATUSES = {s.value: s for s in Status}
_TLPS = {t.rank: t for t in TLP}
_VERDICTS = {v.value: v for v in Verdict}
_COLUMNS = (IndicatorRow.id, IndicatorRow.stix_id, IndicatorRow.type, IndicatorRow.value, IndicatorRow.status,
            IndicatorRow.tlp_rank, IndicatorRow.note, IndicatorRow.submitter_id, IndicatorRow.org_id,
            IndicatorRow.anonymous, IndicatorRow.first_seen, IndicatorRow.last_seen, IndicatorRow.created_at,
            IndicatorRow.modified_at, IndicatorRow.valid_until)


class SqlMispRepository(_Repository):
    async def rows(self, flt: ExportFilter, view: Visibility, now: datetime, after_id: int,
                   size: int) -> Sequence[MispRow]:
        """The next `size` indicators of `flt` that `view` may see, unexpired, with id > after_id, by id; when
        `flt` asks for approved ones, also the revoked ones and the approved ones past their valid_until, with
        `withdrawn` set (when they were revoked, or expired)."""
        withdrawn = Status.APPROVED in flt.statuses
        if withdrawn:
            conditions = _export_conditions(replace(flt, statuses=(*flt.statuses, Status.REVOKED)), view)
        else:
            conditions = _live(flt, view, now)
        found = (await self._execute(select(*_COLUMNS).where(*conditions, IndicatorRow.id > after_id)
                                     .order_by(IndicatorRow.id).limit(size))).all()
        if not found:
            return []
        tags: dict[int, list[str]] = {}
        for indicator_id, tag in await self._execute(
                select(IndicatorTagRow.indicator_id, IndicatorTagRow.tag)
                .where(IndicatorTagRow.indicator_id.in_([r[0] for r in found]))):
            tags.setdefault(indicator_id, []).append(tag)
        out = []
        for (i, stix_id, kind, value, status, rank, note, submitter, org, anonymous, first, last, created, modified,
             valid_until) in found:
            state = _STATUSES[status]
            gone = modified if state is Status.REVOKED else valid_until if (
                valid_until is not None and valid_until <= now) else None
            if gone is not None and (not withdrawn or state not in (Status.APPROVED, Status.REVOKED)):
                continue  # an expired item of another status: not in the feed (as before the sweep)
            out.append(MispRow(i, stix_id, _TYPES[kind], value, state, _TLPS[rank], note, submitter, org, anonymous,
                               first, last, created, modified, tuple(sorted(tags[i])) if i in tags else (), gone))
        return out

    async def acts(self, after_id: int, last_id: int) -> tuple[dict[int, list[VoteRecord]],
                                                                 dict[int, list[SightingRecord]]]:
        """The votes and sightings of the indicators with after_id < id <= last_id: one index range each (the
        unique (indicator_id, member_id) of votes, the indicator_id index of sightings), not a list of ids."""
        votes: dict[int, list[VoteRecord]] = {}
        for r in await self._execute(
                select(VoteRow.indicator_id, VoteRow.member_id, VoteRow.org_id, VoteRow.verdict, VoteRow.reason,
                       VoteRow.created_at, VoteRow.updated_at)
                .where(VoteRow.indicator_id > after_id, VoteRow.indicator_id <= last_id)
                .order_by(VoteRow.indicator_id, VoteRow.id)):
            votes.setdefault(r[0], []).append(VoteRecord(r[0], r[1], r[2], _VERDICTS[r[3]], r[4], r[5], r[6]))
        sightings: dict[int, list[SightingRecord]] = {}
        for r in await self._execute(
                select(SightingRow.id, SightingRow.indicator_id, SightingRow.org_id, SightingRow.count,
                       SightingRow.seen_at)
                .where(SightingRow.indicator_id > after_id, SightingRow.indicator_id <= last_id)
                .order_by(SightingRow.indicator_id, SightingRow.id)):
            sightings.setdefault(r[1], []).append(SightingRecord(r[0], r[1], r[2], r[3], r[4]))
        return votes, sightings
