"""The weeks whose digest was written (table ``weekly_digests``, bot.weekly): claimed with one INSERT that does
nothing when the week's row exists, so that of two maintenance loops (or a restarted one) only the first writes
the week's outbox events; the claim commits with them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from storage.models import WeeklyDigestRow
from storage.repositories.base import _Repository


class SqlWeeklyDigestRepository(_Repository):
    async def claim(self, week: date, at: datetime) -> bool:
        """True when this transaction is the first to write `week`'s digest (another one that claimed it first
        makes this one wait for its commit on PostgreSQL, or for the write lock on SQLite, then do nothing)."""
        stmt = (self._upsert_insert(WeeklyDigestRow).values(week=week, written_at=at)
                .on_conflict_do_nothing(index_elements=["week"]))
        return (await self._execute(stmt)).rowcount == 1

    async def last(self) -> date | None:
        """The latest week whose digest was written."""
        return (await self._execute(select(func.max(WeeklyDigestRow.week)))).scalar_one_or_none()
