"""What every repository shares: the session, Core execution, upserts and unique-violation handling.

Rules kept everywhere in this module:

* the core only ever receives the frozen dataclasses of ``bot.domain``, never ORM objects, and nothing is
  lazily loaded: every read is one explicit query (columns, joins, correlated sub-queries);
* uniqueness is enforced by the database; a refused insert is turned into ``bot.ports.Conflict`` inside a
  SAVEPOINT, so the caller's transaction stays usable;
* counters are never read, changed and written back: tallies and summaries are computed by query, and
  invite redemption or status changes are single conditional UPDATEs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Insert,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ports import Conflict

Clock = Callable[[], datetime]
T = TypeVar("T")

# Bound parameters per statement stay well below SQLite's and asyncpg's limits.
CHUNK = 500
_TAG_SEPARATOR = "\x1f"




def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_unique_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    name = getattr(orig, "sqlite_errorname", "")
    if name:
        return name in {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
    return "UNIQUE constraint failed" in str(orig)


class _Repository:
    def __init__(self, session: AsyncSession, clock: Clock) -> None:
        self._session = session
        self._clock = clock
        bind = session.bind
        if bind is None:
            raise ValueError("the session must be bound to an engine")
        self._dialect = bind.dialect.name

    async def _execute(self, statement: Any, params: Any = None) -> Any:
        """Core execution on the unit of work's connection, in the session's transaction (there is no ORM
        mapping: statements are on storage.models' tables, and rows become domain values in each repository)."""
        connection = await self._session.connection()
        return await connection.execute(statement, params)

    def _upsert_insert(self, table: Any) -> Any:
        """The dialect's INSERT that supports ON CONFLICT (both SQLite and PostgreSQL spell it alike)."""
        if self._dialect == "postgresql":  # each dialect's module only where it is in use
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        if self._dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table)
        raise NotImplementedError(f"no upsert for the {self._dialect} dialect")

    async def _insert_or_conflict(self, stmt: Insert, what: str) -> Any:
        """Run an INSERT ... RETURNING inside a SAVEPOINT; a unique violation becomes Conflict."""
        try:
            async with self._session.begin_nested():
                return (await self._execute(stmt)).scalar_one()
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(what) from exc
            raise


