"""Many people acting at once through the dispatcher, on SQLite and on PostgreSQL: nothing is lost."""

from __future__ import annotations

import asyncio

from bot.dispatcher import Dispatcher
from bot.domain import Actor, Identity, Platform, Role
from bot.results import UserError


async def _people(store, n: int) -> None:
    async with store.unit_of_work() as uow:
        orgs = [await uow.organizations.add(f"Org {o}", "finance", 50) for o in range(10)]
        for i in range(n):
            member = await uow.members.add(orgs[i % 10].id, f"analyst{i}", Role.MODERATOR if i == 0 else Role.MEMBER)
            await uow.members.link_identity(member.id, Identity(Platform.SLACK, "T1", f"U{i}"))
        await uow.commit()


def _actor(i: int) -> Actor:
    return Actor(Platform.SLACK, "T1", f"U{i}", f"D{i}", private=True)


async def test_a_hundred_concurrent_votes_from_distinct_members_all_count(store):
    await _people(store, 101)
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK,))
    submitted = await dispatcher.handle_text("submit contested[.]example tlp:green", _actor(0))
    assert not isinstance(submitted.result, UserError)
    replies = await asyncio.gather(*(dispatcher.handle_text("vote #1 confirm", _actor(i)) for i in range(1, 101)))
    assert all(not isinstance(r.result, UserError) for r in replies)
    tally = (await dispatcher.handle_text("lookup #1", _actor(0))).result.cards[0].tally
    assert (tally.confirm, tally.confirm_orgs, tally.false_positive) == (100, 10, 0)


async def test_concurrent_submissions_of_one_value_make_one_indicator(store):
    await _people(store, 20)
    dispatcher = Dispatcher(store.unit_of_work)
    replies = await asyncio.gather(*(dispatcher.handle_text("submit race[.]example tlp:green", _actor(i))
                                     for i in range(20)))
    created = [r.result for r in replies if r.result.created]
    known = [r.result for r in replies if r.result.known]
    assert len(created) == 1 and len(known) == 19
    assert {k.known[0].indicator.id for k in known} == {created[0].created[0].indicator.id}
