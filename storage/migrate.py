"""Run the Alembic migrations programmatically: no alembic.ini is needed at run time.

    await upgrade("sqlite:///coalition.db")         # to head
    await upgrade_if_behind(engine, url)             # start-up: one query, migrates only when behind
    current("postgresql://bot@db/coalition")         # -> "0001" or None

Alembic is imported only when a migration runs: every command checks the revision at start-up, and importing
Alembic (with its DDL modules for every dialect) costs more than the whole check.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import exc, text

from storage.engine import READ_ONLY, make_engine, safe_url, unavailable_reason

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")
_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(?:None|[\"']([^\"']+)[\"'])", re.MULTILINE)


def alembic_config(url: str | None = None) -> Config:
    """A Config pointing at ``storage/migrations``. The URL travels in ``attributes`` (not in the
    ini options, which would need '%' escaped and could leak into logs)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def head() -> str:
    """The latest revision. Read from the `revision` / `down_revision` lines of the migration files (milliseconds,
    no Alembic import); anything those lines do not settle (no file, two heads, a revision computed in code) is
    left to Alembic's own script directory, which also says what is wrong."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict((key, value) for key, value in _REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found or not found["revision"] or "down_revision" not in found:
            return _alembic_head()
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else _alembic_head()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (idempotent)."""
    from alembic import command

    await _run_command(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop everything)."""
    from alembic import command

    await _run_command(url, command.downgrade, revision)


async def revisions_of(engine: AsyncEngine) -> list[str]:
    """What `alembic_version` holds, in one query on a connection of `engine` ([] when the schema was never
    made). An unreachable database is not "never made": that error goes up."""
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(**{READ_ONLY: True})
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    except exc.DBAPIError as e:
        if unavailable_reason(e) is not None:
            raise
        return []  # no such table


async def upgrade_if_behind(engine: AsyncEngine, url: str) -> bool:
    """Start-up: the schema revision in one query (on `engine`, the store's own); migrate `url` to the head only
    when the database is behind (or empty). Returns whether it migrated."""
    if await revisions_of(engine) == [head()]:
        return False
    await upgrade(url)
    return True


async def _run_command(url: str, fn: Callable[[Config, str], None], revision: str) -> None:
    cfg = alembic_config(url)
    # Foreign keys off on SQLite while migrating: batch mode recreates tables.
    engine = make_engine(url, foreign_keys=False)
    log.info("migrating %s: %s to %s", safe_url(engine.url), fn.__name__, revision)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_on_connection, cfg, fn, revision)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_on_connection(connection: Connection, cfg: Config, fn: Callable[[Config, str], None],
                       revision: str) -> None:
    cfg.attributes["connection"] = connection
    fn(cfg, revision)


async def current_async(url: str) -> str | None:
    engine = make_engine(url)
    try:
        revisions = await revisions_of(engine)
    finally:
        await engine.dispose()
    if len(revisions) > 1:
        raise RuntimeError(f"the database is at several revisions at once: {revisions}")
    return revisions[0] if revisions else None


def current(url: str) -> str | None:
    """The revision the database is at (None when it was never migrated).

    Synchronous; safe to call from inside a running event loop (it then runs in a helper thread)."""
    return _run_sync(current_async(url))


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def runner() -> None:
        try:
            box["result"] = asyncio.run(coro)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=runner, name="storage-migrate")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
