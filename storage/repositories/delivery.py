"""The outbox (leases, retries, parking) and the record of posted cards (delivery keys, message ids)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from bot.domain import (
    OutboxEvent,
    Platform,
    PostedCard,
    PostedCaseCard,
)
from bot.ports import OutboxLane
from bot.tlp import TLP
from storage.models import (
    OutboxRow,
    PostedCardRow,
    PostedCaseCardRow,
)
from storage.repositories.base import _chunks, _Repository


def _outbox_event(row: Any) -> OutboxEvent:
    return OutboxEvent(id=row.id, event=row.event, payload=row.payload, platform=Platform(row.platform),
                       created_at=row.created_at, attempts=row.attempts, last_error=row.last_error,
                       workspace_id=row.workspace_id)


_PENDING = (OutboxRow.delivered_at.is_(None), OutboxRow.parked_at.is_(None))


class SqlOutbox(_Repository):
    written = False  # set when this unit of work added rows: its commit tells other processes (PostgreSQL)

    async def add(self, event: str, payload: dict[str, Any], at: datetime, platform: Platform) -> None:
        self.written = True
        await self._execute(insert(OutboxRow).values(
            created_at=at, event=event, payload=payload, platform=Platform(platform).value, available_at=at,
            attempts=0,
        ))

    async def add_lanes(self, event: OutboxEvent, payload: dict[str, Any], workspace_ids: Sequence[str],
                        at: datetime) -> None:
        workspace_ids = [w for w in dict.fromkeys(workspace_ids) if w != event.workspace_id]
        if not workspace_ids:
            return
        self.written = True
        await self._execute(insert(OutboxRow), [
            {"created_at": event.created_at, "event": event.event, "payload": payload,
             "platform": Platform(event.platform).value, "workspace_id": workspace_id, "available_at": at,
             "attempts": 0} for workspace_id in workspace_ids])

    async def drop_workspace(self, platform: Platform, workspace_id: str, reason: str, at: datetime) -> int:
        result = await self._execute(
            update(OutboxRow)
            .where(OutboxRow.platform == Platform(platform).value, OutboxRow.workspace_id == workspace_id,
                   OutboxRow.delivered_at.is_(None))  # parked ones too: retrying them could only drop them again
            .values(delivered_at=at, last_error=f"dropped: {reason}"[:2000])
            .execution_options(synchronize_session=False))
        return int(result.rowcount or 0)

    async def claim(self, platform: Platform, now: datetime, lease: timedelta, limit: int,
                    workspaces: Collection[str] | None = None) -> Sequence[OutboxEvent]:
        lanes = () if workspaces is None else (
            or_(OutboxRow.workspace_id.is_(None), OutboxRow.workspace_id.in_(sorted(workspaces)))
            if workspaces else OutboxRow.workspace_id.is_(None),)
        due = (
            select(OutboxRow.id)
            .where(OutboxRow.platform == Platform(platform).value, *_PENDING, OutboxRow.available_at <= now, *lanes)
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's BEGIN IMMEDIATE serializes claims
        )
        ids = list((await self._execute(due)).scalars())
        if not ids:
            return []
        rows = await self._execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids))
            .values(available_at=now + lease, attempts=OutboxRow.attempts + 1)
            .returning(*OutboxRow.__table__.columns)
            .execution_options(synchronize_session=False)
        )
        return sorted((_outbox_event(r) for r in rows), key=lambda e: e.id)

    async def extend(self, event_ids: Iterable[int], leased_until: datetime, until: datetime) -> int:
        # The lease's end is its fencing token: a row another deliverer claimed since has another end.
        ids = list(event_ids)
        if not ids:
            return 0
        result = await self._execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(ids), OutboxRow.available_at == leased_until, *_PENDING)
            .values(available_at=until)
            .execution_options(synchronize_session=False))
        return int(result.rowcount or 0)

    async def delivered(self, event_ids: Iterable[int], at: datetime) -> None:
        ids = list(event_ids)
        if not ids:
            return
        await self._execute(update(OutboxRow).where(OutboxRow.id.in_(ids))
                                    .values(delivered_at=at, last_error=None)
                                    .execution_options(synchronize_session=False))

    async def retry_later(self, event_id: int, error: str, at: datetime) -> None:
        await self._execute(update(OutboxRow).where(OutboxRow.id == event_id)
                                    .values(available_at=at, last_error=error[:2000])
                                    .execution_options(synchronize_session=False))

    async def park(self, event_id: int, error: str, at: datetime) -> None:
        await self._execute(update(OutboxRow).where(OutboxRow.id == event_id)
                                    .values(parked_at=at, last_error=error[:2000])
                                    .execution_options(synchronize_session=False))

    async def parked(self, limit: int) -> Sequence[OutboxEvent]:
        rows = await self._execute(
            select(*OutboxRow.__table__.columns).where(OutboxRow.parked_at.is_not(None),
                                                       OutboxRow.delivered_at.is_(None))
            .order_by(OutboxRow.id).limit(limit))
        return [_outbox_event(r) for r in rows]

    async def unpark(self, event_id: int, at: datetime) -> bool:
        result = await self._execute(
            update(OutboxRow).where(OutboxRow.id == event_id, OutboxRow.parked_at.is_not(None),
                                    OutboxRow.delivered_at.is_(None))
            .values(parked_at=None, available_at=at, attempts=0)
            .execution_options(synchronize_session=False))
        return result.rowcount == 1

    async def pending_stats(self, now: datetime) -> dict[str, tuple[int, float]]:
        rows = await self._execute(
            select(OutboxRow.platform, func.count(), func.min(OutboxRow.created_at))
            .where(*_PENDING).group_by(OutboxRow.platform))
        return {platform: (n, max(0.0, (now - oldest).total_seconds())) for platform, n, oldest in rows}

    async def pending_lanes(self, now: datetime) -> Sequence[OutboxLane]:
        never = case((OutboxRow.attempts == 0, 1), else_=0)
        rows = (await self._execute(
            select(OutboxRow.platform, OutboxRow.workspace_id, func.count(), func.min(OutboxRow.created_at),
                   func.sum(never))
            .where(*_PENDING).group_by(OutboxRow.platform, OutboxRow.workspace_id))).all()
        errors: dict[tuple[str, str | None], str] = {}
        for platform, workspace_id, error in await self._execute(  # each lane's latest error
                select(OutboxRow.platform, OutboxRow.workspace_id, OutboxRow.last_error)
                .where(*_PENDING, OutboxRow.last_error.is_not(None)).order_by(OutboxRow.id.desc()).limit(500)):
            errors.setdefault((platform, workspace_id), error)
        lanes = [OutboxLane(Platform(platform), workspace_id, int(n), max(0.0, (now - oldest).total_seconds()),
                            int(unclaimed or 0), errors.get((platform, workspace_id)))
                 for platform, workspace_id, n, oldest, unclaimed in rows]
        return sorted(lanes, key=lambda lane: (lane.platform.value, lane.workspace_id or ""))


def _posted_card(row: Any) -> PostedCard:
    return PostedCard(platform=Platform(row.platform), workspace_id=row.workspace_id, channel_id=row.channel_id,
                      indicator_id=row.indicator_id, purpose=row.purpose, message_id=row.message_id,
                      delivery_key=row.delivery_key, id=row.id)


class SqlPostedCards(_Repository):
    def _values(self, card: PostedCard) -> dict[str, Any]:
        return {"platform": Platform(card.platform).value, "workspace_id": card.workspace_id,
                "channel_id": card.channel_id, "message_id": card.message_id, "indicator_id": card.indicator_id,
                "purpose": card.purpose, "delivery_key": card.delivery_key, "created_at": self._clock()}

    async def reserve(self, cards: Sequence[PostedCard]) -> dict[str, tuple[PostedCard, datetime | None]]:
        keys = [c.delivery_key for c in cards]
        if not cards:
            return {}
        if not all(keys):
            raise ValueError("a reserved card needs a delivery key")
        found: dict[str, Any] = {}
        for chunk in _chunks(keys):
            found.update((r.delivery_key, r) for r in await self._execute(
                select(*PostedCardRow.__table__.columns).where(PostedCardRow.delivery_key.in_(chunk))))
        earlier = set(found)
        new = [self._values(c) for c in cards if c.delivery_key not in earlier]
        if new:  # `created_at` is the first attempt's start: whatever it posted is newer than that
            await self._execute(self._upsert_insert(PostedCardRow.__table__)
                                .on_conflict_do_nothing(index_elements=["delivery_key"]), new)
            for chunk in _chunks([v["delivery_key"] for v in new]):
                found.update((r.delivery_key, r) for r in await self._execute(
                    select(*PostedCardRow.__table__.columns).where(PostedCardRow.delivery_key.in_(chunk))))
        return {key: (_posted_card(r), r.created_at if key in earlier else None) for key, r in found.items()}

    async def add(self, card: PostedCard) -> None:
        await self._execute(insert(PostedCardRow).values(**self._values(card)))

    async def set_messages(self, messages: Sequence[tuple[int, str]]) -> None:
        if messages:
            await self._execute(
                update(PostedCardRow).where(PostedCardRow.id == bindparam("card_id"))
                .values(message_id=bindparam("message"))
                .execution_options(synchronize_session=False),
                [{"card_id": card_id, "message": message_id} for card_id, message_id in messages])

    async def of_indicators(self, indicator_ids: Iterable[int], platform: Platform) -> Sequence[PostedCard]:
        found: list[PostedCard] = []
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            rows = await self._execute(
                select(*PostedCardRow.__table__.columns)
                .where(PostedCardRow.indicator_id.in_(chunk), PostedCardRow.platform == Platform(platform).value,
                       PostedCardRow.message_id.is_not(None))
                .order_by(PostedCardRow.id))
            found.extend(_posted_card(r) for r in rows)
        return found

    # ------------------------------------------------------------ live case cards (0016)

    async def reserve_cases(self, cards: Sequence[PostedCaseCard]) -> dict[str, tuple[PostedCaseCard, datetime | None]]:
        """As `reserve`, for cases' cards."""
        if not cards:
            return {}
        keys = [c.delivery_key for c in cards]
        if not all(keys):
            raise ValueError("a reserved card needs a delivery key")
        table = PostedCaseCardRow.__table__

        async def read(chunk: list[str]) -> dict[str, Any]:
            return {r.delivery_key: r for r in await self._execute(
                select(*table.columns).where(PostedCaseCardRow.delivery_key.in_(chunk)))}

        found: dict[str, Any] = {}
        for chunk in _chunks(keys):
            found.update(await read(chunk))
        earlier = set(found)
        new = [{"platform": Platform(c.platform).value, "workspace_id": c.workspace_id, "channel_id": c.channel_id,
                "message_id": c.message_id, "case_id": c.case_id, "ceiling": c.ceiling.value,
                "delivery_key": c.delivery_key, "created_at": self._clock()}
               for c in cards if c.delivery_key not in earlier]
        if new:
            await self._execute(self._upsert_insert(table).on_conflict_do_nothing(index_elements=["delivery_key"]),
                                new)
            for chunk in _chunks([v["delivery_key"] for v in new]):
                found.update(await read(chunk))
        return {key: (_posted_case_card(r), r.created_at if key in earlier else None) for key, r in found.items()}

    async def set_case_messages(self, messages: Sequence[tuple[int, str]]) -> None:
        if messages:
            await self._execute(
                update(PostedCaseCardRow).where(PostedCaseCardRow.id == bindparam("card_id"))
                .values(message_id=bindparam("message"))
                .execution_options(synchronize_session=False),
                [{"card_id": card_id, "message": message_id} for card_id, message_id in messages])

    async def of_cases(self, case_ids: Iterable[int], platform: Platform) -> Sequence[PostedCaseCard]:
        found: list[PostedCaseCard] = []
        for chunk in _chunks(list(dict.fromkeys(case_ids))):
            rows = await self._execute(
                select(*PostedCaseCardRow.__table__.columns)
                .where(PostedCaseCardRow.case_id.in_(chunk), PostedCaseCardRow.platform == Platform(platform).value,
                       PostedCaseCardRow.message_id.is_not(None))
                .order_by(PostedCaseCardRow.id))
            found.extend(_posted_case_card(r) for r in rows)
        return found

    async def lower_in_channel(self, platform: Platform, channel_id: str, ceiling: TLP) -> None:
        """The cards recorded in this channel (whichever workspace recorded them) show no more than `ceiling` from
        now on: a case's card keeps it as its ceiling when its own was higher; an indicator's card, which records
        none, is forgotten (neither edited nor given comment threads any more)."""
        await self._execute(delete(PostedCardRow).where(PostedCardRow.platform == Platform(platform).value,
                                                        PostedCardRow.channel_id == channel_id)
                            .execution_options(synchronize_session=False))
        above = [t.value for t in TLP if t > ceiling]
        await self._execute(update(PostedCaseCardRow).where(
            PostedCaseCardRow.platform == Platform(platform).value, PostedCaseCardRow.channel_id == channel_id,
            PostedCaseCardRow.ceiling.in_(above)).values(ceiling=ceiling.value)
            .execution_options(synchronize_session=False))


def _posted_case_card(row: Any) -> PostedCaseCard:
    return PostedCaseCard(platform=Platform(row.platform), workspace_id=row.workspace_id, channel_id=row.channel_id,
                          case_id=row.case_id, ceiling=TLP(row.ceiling), message_id=row.message_id,
                          delivery_key=row.delivery_key, id=row.id)
