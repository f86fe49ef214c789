"""Blocklists (issue 14): the approved, unexpired values an organization's key may see, streamed in id order, and
a version of every list that costs a few index seeks, for HTTP revalidation (ETag, Last-Modified)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
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

    async def stream(self, flt: ExportFilter, view: Visibility, now: datetime,
                     size: int) -> AsyncIterator[Sequence[tuple[int, str, str, int]]]:
        """Every (id, type, value, tlp rank) of a list in id order, `size` rows at a time, from one statement in
        the unit of work's transaction: a server-side cursor on PostgreSQL (asyncpg), SQLite's statement stepped
        a batch at a time (aiosqlite); memory holds one batch. The statement is built and compiled by SQLAlchemy
        (the same conditions as every export) and run on the driver's own cursor: its rows (tuples, asyncpg
        records) go to the writer as they are, without a result row object per value (these four columns need
        no result processing on either database)."""
        statement = (select(IndicatorRow.id, IndicatorRow.type, IndicatorRow.value, IndicatorRow.tlp_rank)
                     .where(*_live(flt, view, now)).order_by(IndicatorRow.id))
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
        if dialect.name == "postgresql":  # a cursor lives in a transaction: the unit of work's, or its own
            async with contextlib.AsyncExitStack() as stack:
                if not driver.is_in_transaction():
                    await stack.enter_async_context(driver.transaction(readonly=True))
                cursor = await driver.cursor(compiled.string, *params)
                while batch := await cursor.fetch(size):
                    yield batch
            return
        reader = await driver.execute(compiled.string, params)
        try:
            while batch := await reader.fetchmany(size):
                yield batch
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
