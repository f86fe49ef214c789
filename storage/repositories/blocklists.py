"""Blocklists (issue 14): the approved, unexpired values an organization's key may see, streamed in id order, and
a version of every list that costs a few index seeks, for HTTP revalidation (ETag, Last-Modified)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select

from bot.domain import ExportFilter, Status, Visibility
from storage.models import IndicatorRow
from storage.repositories.base import _Repository
from storage.repositories.exchange import _export_conditions


def _live(flt: ExportFilter, view: Visibility, now: datetime) -> list[ColumnElement[bool]]:
    return [*_export_conditions(flt, view),
            or_(IndicatorRow.valid_until.is_(None), IndicatorRow.valid_until > now)]


class SqlBlocklistRepository(_Repository):
    async def values(self, flt: ExportFilter, view: Visibility, now: datetime, after_id: int,
                      size: int) -> Sequence[tuple[int, str, str, int]]:
        """The next `size` (id, type, value, tlp rank) with id > after_id: only the columns a list needs, keyset
        by id (constant cost per batch, however long the list)."""
        rows = await self._execute(
            select(IndicatorRow.id, IndicatorRow.type, IndicatorRow.value, IndicatorRow.tlp_rank)
            .where(*_live(flt, view, now), IndicatorRow.id > after_id)
            .order_by(IndicatorRow.id).limit(size))
        return [tuple(r) for r in rows]  # type: ignore[misc]

    async def version(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """What changes whenever any list may have changed, in a few index seeks however big the store: the
        latest change of an approved, revoked or expired item (an approval, a revocation, an expiry swept, an
        edit all set `modified_at`; storage index (status, modified_at)), and the next `valid_until` to come of
        an approved item (an item past it leaves the lists before the sweep marks it expired)."""
        latest: datetime | None = None
        for status in (Status.APPROVED, Status.REVOKED, Status.EXPIRED):
            found = (await self._execute(select(func.max(IndicatorRow.modified_at))
                                         .where(IndicatorRow.status == status.value))).scalar_one_or_none()
            if found is not None and (latest is None or found > latest):
                latest = found
        upcoming = (await self._execute(
            select(func.min(IndicatorRow.valid_until))
            .where(IndicatorRow.valid_until > now, IndicatorRow.status == Status.APPROVED.value))).scalar_one()
        return latest, upcoming
