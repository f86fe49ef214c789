"""The outbox's workspace lanes (bot.delivery): rows for every workspace (workspace_id NULL) and lane rows for one
workspace; claims by lane, lane rows split off a delivered row, a removed workspace's lane dropped, and the
pending rows per lane that `/ioc admin deliveries` shows. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import select

from bot.domain import OutboxEvent, Platform
from storage.models import OutboxRow
from storage.uow import Store
from tests.storage.storage_helpers import T0

LEASE = timedelta(seconds=60)


async def _claim(store: Store, workspaces: Collection[str] | None, at=T0, limit: int = 50,
                 platform: Platform = Platform.SLACK) -> list[OutboxEvent]:
    async with store.unit_of_work() as uow:
        events = list(await uow.outbox.claim(platform, at, LEASE, limit, workspaces=workspaces))
        await uow.commit()
    return events


async def _row_for_every_workspace(store: Store, indicator_id: int, platform: Platform = Platform.SLACK) -> None:
    async with store.unit_of_work() as uow:
        await uow.outbox.add("indicator.approved", {"indicator_id": indicator_id}, T0, platform)
        await uow.commit()


async def _split(store: Store, event: OutboxEvent, workspaces: list[str]) -> None:
    async with store.unit_of_work() as uow:
        await uow.outbox.delivered([event.id], T0)
        await uow.outbox.add_lanes(event, {**event.payload, "lane_of": event.id}, workspaces, T0)
        await uow.commit()


async def test_a_lane_row_is_claimed_only_by_a_deliverer_serving_its_workspace(store: Store) -> None:
    await _row_for_every_workspace(store, 1)
    [parent] = await _claim(store, {"T1"})
    assert parent.workspace_id is None and parent.attempts == 1
    await _split(store, parent, ["T2", "E1:T3"])
    assert await _claim(store, {"T1"}) == []  # neither lane is T1's
    assert await _claim(store, set()) == []  # a sink serving no lane claims only rows for every workspace
    assert await _claim(store, {"T1"}, platform=Platform.DISCORD) == []
    [t3] = await _claim(store, {"T1", "E1:T3"})
    assert (t3.workspace_id, t3.event, t3.payload, t3.created_at, t3.attempts) == (
        "E1:T3", "indicator.approved", {"indicator_id": 1, "lane_of": parent.id}, parent.created_at, 1)
    [t2] = await _claim(store, None)  # a sink serving every workspace (OAuth mode) claims every lane
    assert t2.workspace_id == "T2"
    # rows for every workspace and lanes together, oldest first
    await _row_for_every_workspace(store, 2)
    back = await _claim(store, {"T2"}, at=T0 + LEASE * 2)
    assert [(e.payload["indicator_id"], e.workspace_id) for e in back] == [(1, "T2"), (2, None)]


async def test_no_lane_row_is_written_for_the_rows_own_workspace(store: Store) -> None:
    await _row_for_every_workspace(store, 1)
    [parent] = await _claim(store, None)
    await _split(store, parent, ["T2"])
    [lane] = await _claim(store, None)
    async with store.unit_of_work() as uow:  # a lane row's own workspace, and duplicates, are never written again
        await uow.outbox.add_lanes(lane, lane.payload, ["T2", "T2"], T0)
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        rows = (await uow.session.execute(select(OutboxRow.workspace_id).order_by(OutboxRow.id))).scalars().all()
    assert rows == [None, "T2"]


async def test_concurrent_claims_by_lane_never_share_a_row(store: Store) -> None:
    for i in range(12):
        await _row_for_every_workspace(store, i)
    parents = await _claim(store, None)
    for parent in parents:
        await _split(store, parent, ["T1", "T2"])
    for i in range(12, 20):
        await _row_for_every_workspace(store, i)
    serving = [{"T1"}, {"T2"}, {"T1"}, {"T2"}, None, set()]
    batches = await asyncio.gather(*(_claim(store, w, limit=5) for w in serving * 3))
    claimed = [(e.id, e.workspace_id) for batch in batches for e in batch]
    assert len(claimed) == 12 * 2 + 8 and len({i for i, _ in claimed}) == len(claimed)
    for workspaces, batch in zip(serving * 3, batches, strict=True):
        assert all(e.workspace_id is None or workspaces is None or e.workspace_id in workspaces for e in batch)


async def test_a_removed_workspaces_lane_is_dropped_and_the_others_go_on(store: Store) -> None:
    for i in range(3):
        await _row_for_every_workspace(store, i)
    parents = await _claim(store, None)
    for parent in parents:
        await _split(store, parent, ["T1", "T2"])
    # one T1 row is parked (too many attempts): dropped too, it could only be dropped again
    [first, *_] = await _claim(store, {"T1"}, limit=1)
    async with store.unit_of_work() as uow:
        await uow.outbox.park(first.id, "Slack: ratelimited", T0)
        await uow.commit()
    await _row_for_every_workspace(store, 9)  # not a lane row: planned afresh (no channel of T1 any more)
    async with store.unit_of_work() as uow:
        assert await uow.outbox.drop_workspace(Platform.SLACK, "T1", "the app was uninstalled", T0) == 3
        assert await uow.outbox.drop_workspace(Platform.DISCORD, "T2", "no such lane", T0) == 0
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.outbox.parked(10) == []
        dropped = (await uow.session.execute(
            select(OutboxRow.last_error).where(OutboxRow.workspace_id == "T1"))).scalars().all()
        assert dropped == ["dropped: the app was uninstalled"] * 3
    left = await _claim(store, {"T1", "T2"}, at=T0 + LEASE * 2)
    assert sorted((e.workspace_id or "", e.payload["indicator_id"]) for e in left) == [
        ("", 9), ("T2", 0), ("T2", 1), ("T2", 2)]


async def test_pending_rows_per_lane_say_how_many_wait_since_when_and_why(store: Store) -> None:
    for i in range(2):
        await _row_for_every_workspace(store, i)
    parents = await _claim(store, None)
    for parent in parents:
        await _split(store, parent, ["T2"])
    await _row_for_every_workspace(store, 5)
    await _row_for_every_workspace(store, 6, Platform.DISCORD)
    [tried, *_] = await _claim(store, {"T2"}, limit=1)
    async with store.unit_of_work() as uow:
        await uow.outbox.retry_later(tried.id, "Slack: ratelimited", T0 + timedelta(seconds=30))
        await uow.commit()
    later = T0 + timedelta(minutes=5)
    async with store.unit_of_work(read_only=True) as uow:
        lanes = await uow.outbox.pending_lanes(later)
        stats = await uow.outbox.pending_stats(later)
    assert [(lane.platform, lane.workspace_id, lane.rows, lane.unclaimed, lane.last_error) for lane in lanes] == [
        (Platform.DISCORD, None, 1, 1, None),
        (Platform.SLACK, None, 1, 1, None),
        (Platform.SLACK, "T2", 2, 1, "Slack: ratelimited")]
    assert all(lane.oldest_seconds >= 300 for lane in lanes)  # a lane row is as old as the event it delivers
    assert stats["slack"][0] == 3  # per platform, every lane counted
