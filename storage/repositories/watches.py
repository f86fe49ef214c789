"""Watches (issue 12): members' watches, and when each last alerted about an indicator on a platform."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from bot.watch_index import Watch, WatchKind, WatchTarget
from storage.models import OutboxRow, WatchAlertRow, WatchRow
from storage.repositories.base import _chunks, _Repository


def _watch(row: Any) -> Watch:
    channel = (row.channel_platform, row.channel_workspace_id, row.channel_id) if row.channel_id else None
    return Watch(id=row.id, member_id=row.member_id, target=WatchTarget(WatchKind(row.kind), row.value, row.org),
                 note=row.note, channel=channel, digest=row.digest, include_own=row.include_own,
                 created_at=row.created_at, digested_at=row.digested_at)


class SqlWatchRepository(_Repository):
    async def add(self, watch: Watch) -> Watch:
        platform, workspace, channel = watch.channel or (None, None, None)
        result = await self._execute(insert(WatchRow).values(
            member_id=watch.member_id, kind=watch.target.kind.value, value=watch.target.value, org=watch.target.org,
            note=watch.note, channel_platform=platform, channel_workspace_id=workspace, channel_id=channel,
            digest=watch.digest, include_own=watch.include_own, created_at=watch.created_at or self._clock(),
        ).returning(*WatchRow.__table__.columns))
        return _watch(result.one())

    async def get(self, watch_id: int) -> Watch | None:
        row = (await self._execute(select(WatchRow.__table__).where(WatchRow.id == watch_id))).first()
        return _watch(row) if row else None

    async def of_member(self, member_id: int) -> Sequence[Watch]:
        rows = await self._execute(select(WatchRow.__table__).where(WatchRow.member_id == member_id)
                                   .order_by(WatchRow.id))
        return [_watch(r) for r in rows]

    async def of_channel(self, platform: str, workspace_id: str, channel_id: str) -> Sequence[Watch]:
        rows = await self._execute(select(WatchRow.__table__).where(
            WatchRow.channel_platform == platform, WatchRow.channel_workspace_id == workspace_id,
            WatchRow.channel_id == channel_id).order_by(WatchRow.id))
        return [_watch(r) for r in rows]

    async def count_of_member(self, member_id: int) -> int:
        return int((await self._execute(select(func.count()).select_from(WatchRow)
                                        .where(WatchRow.member_id == member_id))).scalar_one())

    async def remove(self, watch_id: int) -> bool:
        result = await self._execute(delete(WatchRow).where(WatchRow.id == watch_id)
                                     .execution_options(synchronize_session=False))
        return result.rowcount == 1

    async def digests_due(self, before: datetime) -> Sequence[Watch]:
        rows = await self._execute(select(WatchRow.__table__).where(
            WatchRow.digest.is_(True), func.coalesce(WatchRow.digested_at, WatchRow.created_at) <= before)
            .order_by(WatchRow.id))
        return [_watch(r) for r in rows]

    async def set_digested(self, watch_ids: Iterable[int], at: datetime) -> None:
        for chunk in _chunks(list(watch_ids)):
            await self._execute(update(WatchRow).where(WatchRow.id.in_(chunk)).values(digested_at=at)
                                .execution_options(synchronize_session=False))

    async def indicator_events(self, events: Iterable[str], since: datetime,
                               until: datetime) -> dict[int, datetime]:
        """Indicator id -> the latest of these outbox events about it written in (since, until] (any platform's
        row: one event has one row per platform)."""
        rows = await self._execute(
            select(OutboxRow.payload, OutboxRow.created_at, OutboxRow.event)
            .where(OutboxRow.event.in_(list(events)), OutboxRow.created_at > since, OutboxRow.created_at <= until))
        latest: dict[int, datetime] = {}
        for payload, at, event in rows:
            if event == "indicator.voted" and not (payload or {}).get("confirmed_by_new_org"):
                continue
            indicator_id = int((payload or {}).get("indicator_id", 0))
            if indicator_id and (indicator_id not in latest or at > latest[indicator_id]):
                latest[indicator_id] = at
        return latest

    async def all(self) -> Sequence[Watch]:
        return [_watch(r) for r in await self._execute(select(WatchRow.__table__).order_by(WatchRow.id))]

    async def fingerprint(self) -> tuple[int, int]:
        """(how many, the highest id): changes whenever a watch is added or removed, so a process's index of
        every watch knows when to reload."""
        count, top = (await self._execute(select(func.count(), func.max(WatchRow.id)))).one()
        return int(count), int(top or 0)

    async def last_alerts(self, pairs: Iterable[tuple[int, int]], platform: str, start: datetime,
                          end: datetime) -> dict[tuple[int, int], tuple[datetime, int]]:
        """(watch, indicator) -> (when, which outbox row) of the latest event that alerted on this platform, where
        that is in [start, end]."""
        wanted = set(pairs)
        found: dict[tuple[int, int], tuple[datetime, int]] = {}
        for chunk in _chunks(list({w for w, _ in wanted})):
            rows = await self._execute(select(WatchAlertRow.watch_id, WatchAlertRow.indicator_id,
                                              WatchAlertRow.alerted_at, WatchAlertRow.event_id).where(
                WatchAlertRow.watch_id.in_(chunk), WatchAlertRow.platform == platform,
                WatchAlertRow.alerted_at >= start, WatchAlertRow.alerted_at <= end))
            found.update(((r.watch_id, r.indicator_id), (r.alerted_at, r.event_id)) for r in rows
                         if (r.watch_id, r.indicator_id) in wanted)
        return found

    async def mark_alerted(self, pairs: Iterable[tuple[int, int]], platform: str, at: datetime,
                           event_id: int) -> None:
        """Remember that these pairs alerted for the event of outbox row `event_id`, written at `at` (a later
        event replaces an earlier one's mark; an earlier one does not replace a later one's)."""
        values = [{"watch_id": w, "indicator_id": i, "platform": platform, "alerted_at": at, "event_id": event_id}
                  for w, i in dict.fromkeys(pairs)]
        for chunk in _chunks(values):
            stmt = self._upsert_insert(WatchAlertRow.__table__)
            await self._execute(stmt.on_conflict_do_update(
                index_elements=["watch_id", "indicator_id", "platform"],
                set_={"alerted_at": stmt.excluded.alerted_at, "event_id": stmt.excluded.event_id},
                where=WatchAlertRow.alerted_at <= stmt.excluded.alerted_at), list(chunk))
