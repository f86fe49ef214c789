"""Shared database fixtures: a real SQLite file and a real PostgreSQL server.

* ``database_url``: parametrized over ``sqlite`` and ``postgresql``; a migrated, empty database.
  SQLite: a copy of a database migrated once per session, in ``tmp_path``. PostgreSQL: a throwaway
  database ``coalition_test_<random>`` created and migrated once per session (dropped at the end);
  every table is emptied (identities restarted) before each test: DELETE in one round trip, about ten times
  faster than TRUNCATE (which rewrites every table) on tables this small. The throwaway database commits
  with ``synchronous_commit = off`` (a commit does not wait for its WAL flush, 0.3 ms instead of 6 ms here):
  what other sessions see is the same, only a crash of the PostgreSQL server itself could lose a commit.
* ``store``: a :class:`storage.uow.Store` on ``database_url`` (closed after the test).
* ``sqlite_store`` / ``sqlite_url``: SQLite only, for tests that do not need both backends.

The PostgreSQL server is ``$COALITION_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``). When it is unreachable the postgresql params are skipped,
unless ``COALITION_REQUIRE_POSTGRES=1`` (CI), which makes them fail.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import URL, make_url

from storage.engine import safe_url
from storage.migrate import upgrade
from storage.models import ALL_TABLES
from storage.uow import Store, create_store

POSTGRES_URL = os.environ.get("COALITION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("COALITION_REQUIRE_POSTGRES") == "1"
BACKENDS = ("sqlite", "postgresql")
PG_CONNECT_TIMEOUT = 5.0

_pg_unavailable = pytest.StashKey[str]()


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """A command run in-process (typer's CliRunner) sets up logging on a stream that is closed after it; left on
    the root logger, that handler made later tests' worker threads print 'Logging error' tracebacks."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and type(handler).__module__ != "_pytest.logging":
            root.removeHandler(handler)
    root.setLevel(level)


async def _pg_connect(url: URL) -> asyncpg.Connection:
    return await asyncpg.connect(
        user=url.username, password=url.password, host=url.host or "127.0.0.1", port=url.port or 5432,
        database=url.database, timeout=PG_CONNECT_TIMEOUT,
    )


async def _pg_execute(url: URL, *statements: str) -> None:
    conn = await _pg_connect(url)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session; tests get copies."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    asyncio.run(upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def _postgres_database(request: pytest.FixtureRequest) -> Iterator[URL]:
    """A throwaway, migrated PostgreSQL database for the whole session."""
    admin = make_url(POSTGRES_URL)
    try:
        asyncio.run(_pg_execute(admin, "SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL not reachable at {safe_url(admin)} ({type(exc).__name__}: {exc})"
        if REQUIRE_POSTGRES:
            pytest.fail(f"COALITION_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
        request.config.stash[_pg_unavailable] = reason
        pytest.skip(reason)
    name = f"coalition_test_{secrets.token_hex(6)}"
    asyncio.run(_pg_execute(admin, f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name)
    try:
        asyncio.run(_pg_execute(admin, f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        asyncio.run(upgrade(url.render_as_string(hide_password=False)))
        yield url
    finally:
        asyncio.run(_pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Every sequence of the schema back to its start (what ALTER SEQUENCE ... RESTART does, in one statement and
# without its lock and catalog write: half the cost of emptying the database).
RESTART_SEQUENCES = ("SELECT setval(s.seqrelid::regclass, s.seqstart, false) FROM pg_sequence s "
                     "JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = current_schema()")
_EMPTY = "; ".join(["BEGIN", *(f'DELETE FROM "{t.name}"' for t in reversed(ALL_TABLES)), RESTART_SEQUENCES,
                    "COMMIT"])


async def _pg_empty(url: URL) -> None:
    """Every table emptied and every sequence restarted (as TRUNCATE ... RESTART IDENTITY would), in one
    transaction and one round trip: children before parents (``ALL_TABLES`` is sorted parents first)."""
    await _pg_execute(url, _EMPTY)


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite file of this test's own."""
    path = tmp_path / "coalition.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a migrated, empty database: SQLite file or PostgreSQL (emptied before the test)."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    url: URL = request.getfixturevalue("_postgres_database")
    asyncio.run(_pg_empty(url))
    return url.render_as_string(hide_password=False)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty PostgreSQL database (skipped, or failed under COALITION_REQUIRE_POSTGRES, without one)."""
    url: URL = request.getfixturevalue("_postgres_database")
    asyncio.run(_pg_empty(url))
    return url.render_as_string(hide_password=False)


@pytest.fixture
def backend(database_url: str) -> str:
    """'sqlite' or 'postgresql': the backend this test runs on."""
    return make_url(database_url).get_backend_name()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = create_store(database_url)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    s = create_store(sqlite_url)
    try:
        yield s
    finally:
        await s.close()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    reason = config.stash.get(_pg_unavailable, None)
    if reason:
        terminalreporter.write_line(f"storage tests ran on SQLite only: {reason}", yellow=True, bold=True)


@dataclass
class Clock:
    """A clock the test moves by hand (the core takes its time from an injected clock)."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 1, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()
