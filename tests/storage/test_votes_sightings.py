"""Votes (one per member per indicator, tallies by query) and sightings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.domain import SightingSummary, Tally, Verdict
from storage.models import VoteRow
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
