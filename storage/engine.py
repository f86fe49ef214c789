"""Database URLs and async engines for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
import sys
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.ports import StoreUnavailable

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def async_url(url: str | URL) -> URL:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``, ``postgresql://`` -> ``postgresql+asyncpg://``."""
    parsed = make_url(url) if isinstance(url, str) else url
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database URL {safe_url(parsed)}: use sqlite:///path.db or postgresql://..."
        )
    return parsed.set(drivername=driver)


def safe_url(url: str | URL) -> str:
    """The URL with its password masked: the only form in which a URL may be logged or shown."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except Exception:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


PG_CONNECT_TIMEOUT = 10.0  # seconds: a database host that drops packets fails a command in 10 s, not asyncpg's 60

# sqlite3.OperationalError messages that mean the file cannot be used now, not that a query is wrong
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error", "database is locked",
                       "readonly database", "database or disk is full")


def unavailable_reason(error: BaseException) -> str | None:
    """A short, secret-free reason ("connection refused") when `error` means the database cannot be reached or
    used right now (an outage: the same statement may work in a minute); None for any other error (a bug, a
    constraint, a wrong password or schema). Looks through SQLAlchemy's wrappers and the exception chain."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        reason = _reason(current)
        if reason is not None:
            return reason
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def _reason(error: BaseException) -> str | None:
    if isinstance(error, StoreUnavailable):
        return error.reason
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return "connection lost"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return "host name not found"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionError):
        return "connection lost"
    asyncpg = sys.modules.get("asyncpg")  # not imported: a SQLite store (its errors cannot be asyncpg's)
    if asyncpg is not None:
        reason = _asyncpg_reason(error, asyncpg)
        if reason is not None:
            return reason
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return next((m for m in _SQLITE_UNAVAILABLE if m in message), None)
    if isinstance(error, OSError) and error.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return "host unreachable"
    return None


def _asyncpg_reason(error: BaseException, asyncpg: Any) -> str | None:
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return "the database does not exist"
    if isinstance(error, asyncpg.CannotConnectNowError):
        return "the server is starting up or shutting down"
    if isinstance(error, asyncpg.AdminShutdownError | asyncpg.CrashShutdownError):
        return "the server is shutting down"
    if isinstance(error, asyncpg.TooManyConnectionsError):
        return "too many connections"
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.ConnectionDoesNotExistError):
        return "connection lost"
    if isinstance(error, asyncpg.InterfaceError) and "connection" in str(error).lower():
        return "connection lost"  # "connection is closed"
    return None


def _driver_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a store may raise; asyncpg's only once asyncpg is imported (a PostgreSQL store)."""
    asyncpg = sys.modules.get("asyncpg")
    pg = (asyncpg.PostgresError, asyncpg.InterfaceError) if asyncpg is not None else ()
    return (exc.SQLAlchemyError, OSError, sqlite3.Error, *pg)


def translate(error: BaseException) -> StoreUnavailable | None:
    """The core's `StoreUnavailable` for a database error that means an outage; None for anything else (the
    core's own exceptions, bugs, constraint violations are never taken for an outage)."""
    if not isinstance(error, _driver_errors()):
        return None
    reason = unavailable_reason(error)
    return StoreUnavailable(reason) if reason is not None else None


async def probe(url: str | URL, *, connect_timeout: float = PG_CONNECT_TIMEOUT) -> None:
    """Connect once and run ``SELECT 1``; raise `StoreUnavailable` (reason only) when that is an outage, and
    let any other error (a wrong password, an unsupported URL) through as it is."""
    target = async_url(url)
    postgres = target.get_backend_name() == "postgresql"
    kwargs: dict[str, Any] = {"connect_args": {"timeout": connect_timeout}} if postgres else {}
    if target.get_backend_name() == "sqlite" and target.database and target.database != ":memory:":
        from pathlib import Path

        if not Path(target.database).parent.is_dir():  # SQLite would otherwise fail only at the first write
            raise StoreUnavailable("the database file's directory does not exist")
    engine = create_async_engine(target, **kwargs)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as e:
        reason = unavailable_reason(e)
        if reason is None:
            raise
        raise StoreUnavailable(reason) from None
    finally:
        await engine.dispose()


READ_ONLY = "coalition_read_only"  # connection execution option set by read-only units of work


def make_engine(url: str | URL, *, echo: bool = False, foreign_keys: bool = True,
                **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and SQLAlchemy-controlled transactions.

    SQLite transactions start with ``BEGIN IMMEDIATE``: a unit of work takes the write lock when it
    starts, so two concurrent units of work never fail on a lock upgrade (SQLITE_BUSY_SNAPSHOT) but
    wait for each other (``busy_timeout``). Read-only units of work start with a plain ``BEGIN`` and
    are never blocked (WAL).
    ``foreign_keys=False`` is for migrations (batch mode recreates tables).
    """
    target = async_url(url)
    if target.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"timeout": PG_CONNECT_TIMEOUT, **kwargs.get("connect_args", {})}
    # A failed statement's error (logged with its traceback under a reference) never carries the values bound to
    # it: indicator values, notes and names are user content and stay out of the logs.
    kwargs.setdefault("hide_parameters", True)
    if target.drivername == "sqlite+aiosqlite" and "module" not in kwargs:
        from storage import sqlite_driver  # each statement one trip to aiosqlite's thread (see there)

        kwargs["module"] = sqlite_driver.dbapi()
    engine = create_async_engine(target, echo=echo, **kwargs)
    log.debug("database engine for %s", safe_url(target))
    if target.get_backend_name() == "sqlite":
        _configure_sqlite(engine, foreign_keys=foreign_keys)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (the driver's implicit BEGIN breaks SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A read-only unit of work opens no transaction at all: each of its few SELECTs reads the latest
        # committed state (WAL), takes no lock, and lookups never queue behind each other or behind a
        # writer, nor pay for BEGIN/COMMIT round trips to the driver's thread.
        if not conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
