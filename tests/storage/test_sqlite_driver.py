"""storage.sqlite_driver: SQLite statements in one trip to aiosqlite's thread, with what SQLAlchemy reads after a
statement (rows, rowcount, lastrowid, errors) as the stock adapter gives it, and no trip for a COMMIT or ROLLBACK
outside a transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage.engine import make_engine
from storage.sqlite_driver import OneTripConnection


@pytest.fixture
async def engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'trips.db'}")
    yield engine
    await engine.dispose()


def _trips(raw: object) -> list[str]:
    """Count the calls this connection sends to aiosqlite's thread."""
    driver = raw._connection  # type: ignore[attr-defined]
    calls: list[str] = []
    send = driver._execute

    async def counted(fn, *args, **kwargs):
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await send(fn, *args, **kwargs)

    driver._execute = counted
    return calls


async def test_statements_read_rows_counts_and_ids_in_one_trip_each(engine) -> None:
    async with engine.begin() as conn:
        raw = (await conn.get_raw_connection()).dbapi_connection
        assert isinstance(raw, OneTripConnection)
        trips = _trips(raw)
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert inserted.lastrowid == 1
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}, {"v": "d"}])  # executemany
        updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
        assert updated.rowcount == 3
        rows = await conn.execute(text("SELECT id, v FROM t ORDER BY id"))
        assert rows.keys() == ["id", "v"] and rows.all() == [(1, "a"), (2, "b!"), (3, "c!"), (4, "d!")]
        assert (await conn.execute(text("SELECT v FROM t WHERE id = 99"))).all() == []
        assert len(trips) == 6  # one per statement: no cursor to make, no rows to fetch, no cursor to close


async def test_errors_are_the_dbapis_as_before(engine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
        await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
    async with engine.connect() as conn:
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO t (v) VALUES ('a')"))
        await conn.rollback()
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM nowhere"))


async def test_commit_and_rollback_outside_a_transaction_make_no_trip(engine) -> None:
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).dbapi_connection
        trips = _trips(raw)
        raw.commit()  # sqlite3 would do nothing: no transaction is open
        raw.rollback()
        assert trips == []
    async with engine.begin() as conn:  # BEGIN IMMEDIATE: a transaction is open, and committed through the thread
        await conn.execute(text("CREATE TABLE u (id INTEGER PRIMARY KEY)"))
        raw = (await conn.get_raw_connection()).dbapi_connection
        trips = _trips(raw)
    assert trips == ["commit"]
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM u"))).scalar_one() == 0
