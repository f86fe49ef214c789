"""Database URLs and async engines for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

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
