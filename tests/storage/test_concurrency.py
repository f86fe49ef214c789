"""Concurrent units of work: the database, not a read-modify-write in Python, keeps the rules."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.domain import Member, Role, Tally, Verdict
from bot.ioc import IOCType
from bot.ports import Conflict
from storage.models import IndicatorRow, VoteRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator


async def _members(store: Store, orgs: int, per_org: int) -> list[Member]:
    async with store.unit_of_work() as uow:
        members = []
        for o in range(orgs):
            org = await uow.organizations.add(f"Org {o}", "finance", 50)
            for m in range(per_org):
                members.append(await uow.members.add(org.id, f"m{o}-{m}", Role.MEMBER))
        await uow.commit()
    return members


async def test_100_concurrent_votes_from_distinct_members_all_count(store: Store, seed: Seed) -> None:
    voters = await _members(store, orgs=10, per_org=10)
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.commit()

    async def vote(member: Member) -> Verdict | None:
        async with store.unit_of_work() as uow:
            previous = await uow.votes.upsert(ind.id, member.id, member.org_id, Verdict.CONFIRM, "", T0)
            await uow.commit()
            return previous

    previous = await asyncio.gather(*(vote(m) for m in voters))
    assert previous == [None] * 100
    async with store.unit_of_work() as uow:
        assert await uow.votes.tally(ind.id) == Tally(confirm=100, confirm_orgs=10)


async def test_concurrent_votes_of_one_member_leave_one_row(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.commit()
    verdicts = [Verdict.CONFIRM, Verdict.FALSE_POSITIVE] * 5

    async def vote(verdict: Verdict) -> Verdict | None:
        async with store.unit_of_work() as uow:
            previous = await uow.votes.upsert(ind.id, seed.bob.id, seed.cert.id, verdict, "", T0)
            await uow.commit()
            return previous

    previous = await asyncio.gather(*(vote(v) for v in verdicts))
    # exactly one vote found no earlier verdict; every other one saw the verdict it replaced
    assert previous.count(None) == 1
    async with store.unit_of_work() as uow:
        rows = (await uow.session.execute(
            select(VoteRow.verdict).where(VoteRow.indicator_id == ind.id)
        )).scalars().all()
        tally = await uow.votes.tally(ind.id)
    assert len(rows) == 1
    assert tally.confirm + tally.false_positive == 1


async def test_concurrent_duplicate_adds_give_one_row(store: Store, seed: Seed) -> None:
    async def add(n: int) -> int | str:
        async with store.unit_of_work() as uow:
            try:
                ind = await uow.indicators.add(new_indicator(seed.alice, "race.example", tags=(f"t{n}",)))
            except Conflict:
                # the unit of work stays usable after the refused insert
                await uow.audit.append("duplicate", at=T0, platform="console",  # type: ignore[arg-type]
                                       member_id=seed.alice.id)
                await uow.commit()
                return "conflict"
            await uow.commit()
            return ind.id

    results = await asyncio.gather(*(add(n) for n in range(20)))
    ids = [r for r in results if r != "conflict"]
    assert len(ids) == 1 and results.count("conflict") == 19
    async with store.unit_of_work() as uow:
        count = (await uow.session.execute(
            select(func.count()).select_from(IndicatorRow).where(IndicatorRow.value == "race.example")
        )).scalar_one()
        found = await uow.indicators.by_values([(IOCType.DOMAIN, "race.example")])
    assert count == 1 and [i.id for i in found] == ids and len(found[0].tags) == 1


async def test_concurrent_redeems_never_exceed_max_uses(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.invites.add("RACE", seed.bank.id, Role.MEMBER, 3, T0.replace(year=2100), None)
        await uow.commit()

    async def redeem() -> int | None:
        async with store.unit_of_work() as uow:
            invite = await uow.invites.redeem("RACE", T0)
            await uow.commit()
            return invite.uses if invite else None

    results = await asyncio.gather(*(redeem() for _ in range(12)))
    assert sorted(r for r in results if r is not None) == [1, 2, 3]
    assert results.count(None) == 9


async def test_read_only_units_of_work_are_not_blocked_by_a_writer(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.commit()
    async with store.unit_of_work() as writer:  # holds the write lock (BEGIN IMMEDIATE on SQLite)
        await writer.votes.upsert(ind.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0)

        async def read() -> Tally:
            async with store.unit_of_work(read_only=True) as reader:
                return await reader.votes.tally(ind.id)

        # the reader sees the last committed state at once instead of waiting for the writer
        assert await asyncio.wait_for(read(), timeout=2) == Tally()
        await writer.commit()
    assert await read() == Tally(confirm=1, confirm_orgs=1)
