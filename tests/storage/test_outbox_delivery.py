"""The outbox as a work queue: per-platform leases, backoff, parking, and the record of posted cards."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.domain import Platform, PostedCard
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator

LEASE = timedelta(seconds=60)


async def _events(store: Store, n: int, platform: Platform = Platform.SLACK) -> None:
    async with store.unit_of_work() as uow:
        for i in range(n):
            await uow.outbox.add("indicator.voted", {"indicator_id": i + 1}, T0, platform)
        await uow.outbox.add("indicator.voted", {"indicator_id": 99}, T0, Platform.DISCORD)
        await uow.commit()


async def _claim(store: Store, platform: Platform = Platform.SLACK, at=T0, limit: int = 50):
    async with store.unit_of_work() as uow:
        events = await uow.outbox.claim(platform, at, LEASE, limit)
        await uow.commit()
    return events


async def test_a_claim_leases_only_this_platforms_due_rows(store: Store) -> None:
    await _events(store, 3)
    first = await _claim(store, limit=2)
    assert [e.payload["indicator_id"] for e in first] == [1, 2] and all(e.attempts == 1 for e in first)
    assert all(e.platform is Platform.SLACK for e in first)
    assert [e.payload["indicator_id"] for e in await _claim(store)] == [3]  # 1 and 2 are leased
    assert await _claim(store) == []
    # a deliverer that died: its rows come back when the lease ends, with the attempt counted
    again = await _claim(store, at=T0 + LEASE + timedelta(seconds=1))
    assert [(e.payload["indicator_id"], e.attempts) for e in again] == [(1, 2), (2, 2), (3, 2)]
    assert [e.payload["indicator_id"] for e in await _claim(store, Platform.DISCORD)] == [99]


async def test_delivered_retry_later_park_and_unpark(store: Store) -> None:
    await _events(store, 3)
    one, two, three = await _claim(store)
    later = T0 + LEASE * 10
    async with store.unit_of_work() as uow:
        await uow.outbox.delivered([one.id], T0)
        await uow.outbox.retry_later(two.id, "HTTP 500", T0 + timedelta(seconds=5))
        await uow.outbox.park(three.id, "channel_not_found", T0)
        await uow.commit()
    assert [e.id for e in await _claim(store, at=T0 + timedelta(seconds=5))] == [two.id]
    # only `two` comes back: `one` was delivered and `three` is parked
    assert [e.id for e in await _claim(store, at=later)] == [two.id]
    async with store.unit_of_work() as uow:
        parked = await uow.outbox.parked(10)
        assert [(e.id, e.last_error) for e in parked] == [(three.id, "channel_not_found")]
        stats = await uow.outbox.pending_stats(later)
        assert stats["slack"][0] == 1 and stats["discord"][0] == 1 and stats["slack"][1] >= 600
        assert await uow.outbox.unpark(three.id, later)
        assert not await uow.outbox.unpark(one.id, later)  # delivered rows are not parked
        await uow.commit()
    back = await _claim(store, at=later)
    assert [(e.id, e.attempts) for e in back] == [(three.id, 1)]


async def test_concurrent_claims_never_share_a_row(store: Store) -> None:
    await _events(store, 40)
    batches = await asyncio.gather(*(_claim(store, limit=7) for _ in range(8)))
    claimed = [e.id for batch in batches for e in batch]
    assert len(claimed) == 40 and len(set(claimed)) == 40


async def test_posted_cards_are_reserved_once_per_delivery_key(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        intent = PostedCard(Platform.SLACK, "T1", "C1", ind.id, "feed", delivery_key="7:T1:C1")
        other = PostedCard(Platform.SLACK, "T1", "C9", ind.id, "moderation", delivery_key="7:T1:C9")
        first, earlier = (await uow.posted_cards.reserve([intent]))["7:T1:C1"]
        assert earlier is None and first.message_id is None and first.id
        both = await uow.posted_cards.reserve([intent, other])
        started = both["7:T1:C1"][1]  # C1 was reserved before: when that attempt started
        assert both["7:T1:C1"][0] == first and started is not None and both["7:T1:C9"][1] is None
        assert abs((started - datetime.now(UTC)).total_seconds()) < 60
        assert await uow.posted_cards.of_indicators([ind.id], Platform.SLACK) == []  # not posted yet
        await uow.posted_cards.set_messages([(first.id, "1700000000.000100")])
        await uow.posted_cards.add(PostedCard(Platform.SLACK, "T1", "C2", ind.id, "reply", message_id="17.2"))
        await uow.posted_cards.add(PostedCard(Platform.DISCORD, "discord", "55", ind.id, "reply", message_id="9"))
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        slack = await uow.posted_cards.of_indicators([ind.id], Platform.SLACK)
        assert [(c.channel_id, c.message_id, c.purpose) for c in slack] == [
            ("C1", "1700000000.000100", "feed"), ("C2", "17.2", "reply")]
        assert [c.channel_id for c in await uow.posted_cards.of_indicators([ind.id], Platform.DISCORD)] == ["55"]


async def test_a_live_deliverers_lease_is_extended_and_a_taken_over_row_is_not(store: Store) -> None:
    await _events(store, 3)
    held = await _claim(store, limit=2)  # leased until T0 + LEASE
    later = T0 + LEASE + timedelta(seconds=1)
    async with store.unit_of_work() as uow:  # the heartbeat of the deliverer holding them
        assert await uow.outbox.extend([e.id for e in held], T0 + LEASE, later + LEASE) == 2
        await uow.commit()
    # past the first lease: the held rows stay with their deliverer; only row 3 (never renewed) is taken
    assert [e.payload["indicator_id"] for e in await _claim(store, at=later)] == [3]
    taken = await _claim(store, at=later + LEASE + timedelta(seconds=1))  # the holder died: both come back
    assert [e.payload["indicator_id"] for e in taken] == [1, 2, 3]
    async with store.unit_of_work() as uow:  # the dead holder's late heartbeat does not steal them back
        assert await uow.outbox.extend([e.id for e in held], later + LEASE, later + LEASE * 5) == 0
        await uow.commit()


async def test_a_dead_deliverers_rows_come_back_before_newer_rows(store: Store) -> None:
    await _events(store, 2)
    dead = await _claim(store, limit=2)
    async with store.unit_of_work() as uow:
        for i in range(5):
            await uow.outbox.add("indicator.voted", {"indicator_id": 10 + i}, T0, Platform.SLACK)
        await uow.commit()
    assert len(await _claim(store, limit=2)) == 2  # newer rows go out while the dead one's lease runs
    back = await _claim(store, at=T0 + LEASE + timedelta(seconds=1), limit=3)
    assert [e.id for e in back][:2] == [e.id for e in dead]  # oldest first, ahead of the newer rows
