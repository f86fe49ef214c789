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
from storage.repositories.indicator_rows import visibility_clause


def _live(flt: ExportFilter, view: Visibility, now: datetime) -> list[ColumnElement[bool]]:
    return [*_export_conditions(flt, view),
            or_(IndicatorRow.valid_until.is_(None), IndicatorRow.valid_until > now)]


class SqlBlocklistRepository(_Repository):
    async def batch(self, flt: ExportFilter, view: Visibility, now: datetime, after_id: int,
                    size: int) -> Sequence[tuple[int, str, str, int]]:
        """The next `size` (id, type, value, tlp rank) of a list with id > after_id, in id order: keyset batches,
        each the caller's own short read, so that a slow download holds no connection or snapshot between
        batches. The statement is built and compiled by SQLAlchemy (the same conditions as every export) and
        run on the driver's own connection: its rows (tuples, asyncpg records) come back as they are, without a
        result row object per value (these four columns need no result processing on either database)."""
        statement = (select(IndicatorRow.id, IndicatorRow.type, IndicatorRow.value, IndicatorRow.tlp_rank)
                     .where(*_live(flt, view, now), IndicatorRow.id > after_id)
                     .order_by(IndicatorRow.id).limit(size))
        connection = await self._session.connection()
        dialect = connection.dialect
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        given = compiled.construct_params()
        params = []
        for name in compiled.positiontup or ():
            # an expanded IN's parameters (status_1_1, ...) take the type of their parameter (status_1)
            bind = compiled.binds[name if name in compiled.binds else name.rsplit("_", 1)[0]]
            process = bind.type.bind_processor(dialect)
            params.append(process(given[name]) if process else given[name])
        driver = (await connection.get_raw_connection()).driver_connection
        if dialect.name == "postgresql":
            return await driver.fetch(compiled.string, *params)
        reader = await driver.execute(compiled.string, params)
        try:
            return await reader.fetchall()
        finally:
            await reader.close()

    async def version(self, view: Visibility, now: datetime) -> tuple[datetime | None, datetime | None, int]:
        """What changes whenever a list of this viewer may have changed, computed over what the viewer may see
        only (so that nothing about items it may not see, not even when they change, shows in a validator):
        the latest change of a live approved item it may see (an approval, an edit), the next `valid_until` to
        come among them (an item past it leaves the lists before the sweep marks it expired), and how many there
        are (a revocation, an expiry or a TLP raised out of its sight makes one fewer). One pass over the
        (status, id, tlp_rank, org_id, valid_until, modified_at, ...) index (0015) and one index range."""
        visible = [IndicatorRow.status == Status.APPROVED.value, visibility_clause(view)]
        count, latest = (await self._execute(
            select(func.count(), func.max(IndicatorRow.modified_at))
            .where(*visible, or_(IndicatorRow.valid_until.is_(None), IndicatorRow.valid_until > now)))).one()
        upcoming = (await self._execute(
            select(func.min(IndicatorRow.valid_until)).where(*visible, IndicatorRow.valid_until > now))).scalar_one()
        return latest, upcoming, int(count)
