"""Blocklists (issue 14): the approved, unexpired values an organization's key may see, streamed in id order, and
a cheap version of that set for HTTP revalidation (ETag, Last-Modified)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select

from bot.domain import ExportFilter, Visibility
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

    async def version(self, flt: ExportFilter, view: Visibility, now: datetime) -> tuple[int, datetime | None, int]:
        """(how many, the latest change, the highest id) of the list: any approval, revocation, expiry or new
        item changes it."""
        count, latest, top = (await self._execute(
            select(func.count(), func.max(IndicatorRow.modified_at), func.max(IndicatorRow.id))
            .where(*_live(flt, view, now)))).one()
        return int(count), latest, int(top or 0)
