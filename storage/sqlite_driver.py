"""SQLite through aiosqlite in one trip to its thread per statement, not four.

aiosqlite runs every call on the connection's own thread and SQLAlchemy's adapter makes four such calls for each
statement: make a cursor, execute, fetch all rows, close the cursor. Each trip is a queue put, a thread wake-up and
a wake-up of the event loop through its self-pipe, which on a 2-core machine costs more than the statement itself
(a lookup at 1M indicators runs ~6 statements of 10-100 µs each in SQLite; the 24 trips took most of its time).
Here the cursor's execute does all four in one function on the driver's thread and keeps what SQLAlchemy reads
afterwards (the description, rowcount, lastrowid, the rows). Server-side cursors (streamed reads) stay aiosqlite's.

SQLAlchemy is handed this module in place of the one its aiosqlite dialect imports (``create_engine(module=...)``);
the URL, the dialect and everything above the cursor stay as they are.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

_Outcome = tuple[Any, list[Any] | None, int, int | None]  # description, rows, rowcount, lastrowid


def _run(conn: sqlite3.Connection, many: bool, operation: str, parameters: Any) -> _Outcome:
    """On the driver's thread: the whole statement, its rows read and its cursor closed."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        return description, cursor.fetchall() if description else None, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement is one call on the driver's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection):  # no driver cursor: no trip
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]
        return self._lastrowid

    async def _trip(self, many: bool, operation: Any, parameters: Any) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_run, self._connection._conn, many, operation, parameters)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(False, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._trip(True, operation, seq_of_parameters)

    async def _async_soft_close(self) -> None:  # the driver's cursor is closed already
        return None

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Also no trip for a COMMIT or ROLLBACK outside a transaction (a read-only unit of work opens none, and the
    pool rolls back every connection it takes back): sqlite3 does nothing then either. Reading whether a
    transaction is open is sqlite3_get_autocommit, safe from this thread while no statement is on its way."""

    __slots__ = ()
    _cursor_cls = OneTripCursor

    def _idle(self) -> bool:
        driver = self._connection._connection  # None once closed: then the stock path raises as it should
        return driver is not None and not driver.in_transaction

    def commit(self) -> None:
        if not self._idle():
            super().commit()

    def rollback(self) -> None:
        if not self._idle():
            super().rollback()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite as SQLAlchemy's dialect expects it, making connections whose cursors take one trip."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
