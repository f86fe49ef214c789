"""Votes (one per member per indicator, tallies by query) and sightings."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

from sqlalchemy import func, select

from bot.domain import SightingSummary, Tally, Verdict
from storage.models import SightingRow, VoteRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator


async def test_upsert_returns_previous_verdict_and_keeps_one_row(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        votes = uow.votes
        assert await votes.upsert(ind.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0) is None
        assert await votes.upsert(ind.id, seed.bob.id, seed.cert.id, Verdict.FALSE_POSITIVE, "benign",
                                  T0 + timedelta(minutes=1)) is Verdict.CONFIRM
        assert await votes.upsert(ind.id, seed.bob.id, seed.cert.id, Verdict.FALSE_POSITIVE, "still",
                                  T0 + timedelta(minutes=2)) is Verdict.FALSE_POSITIVE
        await uow.commit()
    async with store.unit_of_work() as uow:
        rows = (await uow.session.execute(select(VoteRow.verdict, VoteRow.reason, VoteRow.created_at,
                                                 VoteRow.updated_at))).all()
        assert rows == [("false_positive", "still", T0, T0 + timedelta(minutes=2))]
        assert await uow.votes.tally(ind.id) == Tally(false_positive=1, false_positive_orgs=1)


async def test_withdraw(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.votes.upsert(ind.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0)
        assert await uow.votes.withdraw(ind.id, seed.bob.id) is Verdict.CONFIRM
        assert await uow.votes.withdraw(ind.id, seed.bob.id) is None
        assert await uow.votes.tally(ind.id) == Tally()
        # voting again after a withdrawal starts afresh
        assert await uow.votes.upsert(ind.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0) is None


async def test_tallies_count_votes_and_distinct_orgs(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        one = await uow.indicators.add(new_indicator(seed.alice))
        two = await uow.indicators.add(new_indicator(seed.alice))
        none = await uow.indicators.add(new_indicator(seed.alice))
        for member in (seed.alice, seed.amy, seed.admin):  # three bank votes
            await uow.votes.upsert(one.id, member.id, member.org_id, Verdict.CONFIRM, "", T0)
        await uow.votes.upsert(one.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0)
        await uow.votes.upsert(one.id, seed.mod.id, seed.cert.id, Verdict.FALSE_POSITIVE, "", T0)
        await uow.votes.upsert(two.id, seed.mod.id, seed.cert.id, Verdict.FALSE_POSITIVE, "", T0)
        await uow.commit()
    async with store.unit_of_work() as uow:
        tallies = await uow.votes.tallies([one.id, two.id, none.id, 12345])
        assert tallies == {
            one.id: Tally(confirm=4, false_positive=1, confirm_orgs=2, false_positive_orgs=1),
            two.id: Tally(false_positive=1, false_positive_orgs=1),
            none.id: Tally(),
            12345: Tally(),
        }
        assert await uow.votes.tally(one.id) == tallies[one.id]
        assert await uow.votes.tallies([]) == {}
        count = (await uow.session.execute(select(func.count()).select_from(VoteRow))).scalar_one()
        assert count == 6


async def test_activity_counts_sightings_and_votes_in_one_query(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        one = await uow.indicators.add(new_indicator(seed.alice))
        two = await uow.indicators.add(new_indicator(seed.alice))
        await uow.sightings.add(one.id, seed.bank.id, seed.alice.id, 2, T0, "")
        await uow.sightings.add(one.id, seed.bank.id, seed.amy.id, 1, T0 + timedelta(hours=5), "proxy logs")
        await uow.sightings.add(one.id, seed.cert.id, seed.bob.id, 10, T0 + timedelta(hours=1), "")
        await uow.commit()
    async with store.unit_of_work() as uow:
        await uow.votes.upsert(one.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0)
        activity = await uow.votes.activity([one.id, two.id])
        summary = activity[one.id][1]
        assert summary == SightingSummary(count=13, orgs=2, last_seen=T0 + timedelta(hours=5))
        assert summary.last_seen is not None and summary.last_seen.tzinfo is not None
        assert activity[one.id][0] == Tally(confirm=1, confirm_orgs=1)
        assert activity[two.id] == (Tally(), SightingSummary())
        assert await uow.votes.activity([]) == {}


# ---------------------------------------------------------------- one sighting per member, indicator and UTC day


async def _sightings(store: Store, indicator_id: int) -> list[tuple]:
    async with store.unit_of_work() as uow:
        return [tuple(r) for r in (await uow.session.execute(
            select(SightingRow.member_id, SightingRow.count, SightingRow.note, SightingRow.seen_at,
                   SightingRow.seen_day, SightingRow.revision)
            .where(SightingRow.indicator_id == indicator_id).order_by(SightingRow.id))).all()]


async def test_a_second_sighting_the_same_utc_day_replaces_the_first(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        assert await uow.sightings.add(ind.id, seed.cert.id, seed.bob.id, 500, T0, "replayed") is False
        assert await uow.sightings.add(ind.id, seed.cert.id, seed.bob.id, 500, T0, "replayed") is True
        assert await uow.sightings.add(ind.id, seed.cert.id, seed.bob.id, 3, T0 + timedelta(hours=11), "later")
        # another member of the same organization, the same day: a row of its own
        assert await uow.sightings.add(ind.id, seed.bank.id, seed.alice.id, 1, T0, "") is False
        await uow.commit()
    rows = await _sightings(store, ind.id)
    assert rows == [(seed.bob.id, 3, "later", T0 + timedelta(hours=11), T0.date(), 2),
                    (seed.alice.id, 1, "", T0, T0.date(), 0)]
    # the UTC day decides, not the time zone the time was given in: 23:30 UTC is still that day
    late = (T0.replace(hour=23, minute=30)).astimezone(timezone(timedelta(hours=5)))
    next_day = T0.replace(hour=0, minute=5) + timedelta(days=1)
    async with store.unit_of_work() as uow:
        assert await uow.sightings.add(ind.id, seed.cert.id, seed.bob.id, 4, late, "") is True
        assert await uow.sightings.add(ind.id, seed.cert.id, seed.bob.id, 5, next_day, "") is False
        await uow.commit()
        summary = (await uow.votes.activity([ind.id]))[ind.id][1]
    assert [r[1] for r in await _sightings(store, ind.id)] == [4, 1, 5]
    assert summary == SightingSummary(count=10, orgs=2, last_seen=next_day)


async def test_add_many_is_one_upsert_per_chunk_and_says_which_it_replaced(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ids = [(await uow.indicators.add(new_indicator(seed.alice))).id for _ in range(3)]
        await uow.sightings.add(ids[0], seed.cert.id, seed.bob.id, 9, T0, "earlier")
        replaced = await uow.sightings.add_many([
            (ids[0], seed.cert.id, seed.bob.id, 1, T0 + timedelta(hours=1), "resubmitted"),
            (ids[1], seed.cert.id, seed.bob.id, 1, T0, "a"),
            (ids[1], seed.cert.id, seed.bob.id, 2, T0 + timedelta(hours=2), "b"),  # twice in one call: latest wins
            (ids[2], seed.cert.id, seed.bob.id, 1, T0, ""),
        ])
        assert await uow.sightings.add_many([]) == set()
        await uow.commit()
    assert replaced == {ids[0]}
    assert [r[:3] for r in await _sightings(store, ids[0])] == [(seed.bob.id, 1, "resubmitted")]
    assert [r[:3] for r in await _sightings(store, ids[1])] == [(seed.bob.id, 2, "b")]


async def test_concurrent_sightings_of_one_member_and_day_leave_one_row(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.commit()

    async def sight(n: int) -> bool:
        async with store.unit_of_work() as uow:
            replaced = await uow.sightings.add(ind.id, seed.cert.id, seed.bob.id, n, T0 + timedelta(seconds=n), "")
            await uow.commit()
            return replaced

    results = await asyncio.gather(*(sight(n) for n in range(1, 11)))
    assert results.count(False) == 1  # one inserted the day's row, every other replaced it
    rows = await _sightings(store, ind.id)
    assert len(rows) == 1 and rows[0][5] == 9
