"""Run the Alembic migrations programmatically: no alembic.ini is needed at run time.

    await upgrade("sqlite:///coalition.db")         # to head
    current("postgresql://bot@db/coalition")         # -> "0001" or None
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.engine import make_engine, safe_url

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")


def alembic_config(url: str | None = None) -> Config:
    """A Config pointing at ``storage/migrations``. The URL travels in ``attributes`` (not in the
    ini options, which would need '%' escaped and could leak into logs)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected one migration head, found {heads}")
    return heads[0]


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (idempotent)."""
    await _run_command(url, command.upgrade, revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop everything)."""
    await _run_command(url, command.downgrade, revision)


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
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


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
