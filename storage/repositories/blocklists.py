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
from storage.repositories.indicators import visibility_clause


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

    async def version(self, view: Visibility, now: datetime) -> tuple[datetime | None, datetime | None, int]:
        """What changes whenever a list of this viewer may have changed, computed over what the viewer may see
        only (so that nothing about items it may not see, not even when they change, shows in a validator):
        the latest change of a live approved item it may see (an approval, an edit), the next `valid_until` to
        come among them (an item past it leaves the lists before the sweep marks it expired), and how many there
        are (a revocation, an expiry or a TLP raised out of its sight makes one fewer). One pass over the
        (status, modified_at, id, tlp_rank, org_id) index and one index range."""
        visible = [IndicatorRow.status == Status.APPROVED.value, visibility_clause(view)]
        count, latest = (await self._execute(
            select(func.count(), func.max(IndicatorRow.modified_at))
            .where(*visible, or_(IndicatorRow.valid_until.is_(None), IndicatorRow.valid_until > now)))).one()
        upcoming = (await self._execute(
            select(func.min(IndicatorRow.valid_until)).where(*visible, IndicatorRow.valid_until > now))).scalar_one()
        return latest, upcoming, int(count)
