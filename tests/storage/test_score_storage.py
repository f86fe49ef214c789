"""The score's reads (issue 13) on SQLite and PostgreSQL: each organization's verdict with its trust and latest vote
beside the tallies and sightings, in one statement for a batch; approved items by id for the maintenance loop; and
each organization's standing over what a viewer may see."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from bot.domain import Platform, SightingSummary, Status, Tally, Verdict
from bot.rules import ANONYMOUS_ORG, visibility
from bot.score import OrgVerdict, compute, inputs_for
from bot.standing import OrgStanding
from bot.tlp import TLP
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator


async def test_evidence_gives_each_organizations_verdict_trust_and_latest_vote_in_one_statement(
        store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        one = await uow.indicators.add(new_indicator(seed.alice, confidence=80))
        two = await uow.indicators.add(new_indicator(seed.alice))
        await uow.votes.upsert(one.id, seed.alice.id, seed.bank.id, Verdict.CONFIRM, "", T0)  # its own org
        await uow.votes.upsert(one.id, seed.amy.id, seed.bank.id, Verdict.CONFIRM, "", T0 + timedelta(hours=1))
        await uow.votes.upsert(one.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0 + timedelta(hours=2))
        await uow.votes.upsert(one.id, seed.mod.id, seed.cert.id, Verdict.FALSE_POSITIVE, "", T0 + timedelta(hours=3))
        await uow.sightings.add(one.id, seed.cert.id, seed.bob.id, 4, T0 + timedelta(hours=5), "")
        for n in range(2):
            await uow.context.add_comment(one.id, seed.bob.id, f"seen {n}", T0 + timedelta(hours=6))
        await uow.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with store.unit_of_work(read_only=True) as uow:
            found = await uow.votes.evidence([one.id, two.id, 12345])
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", count)
    assert len([s for s in statements if "votes" in s]) == 1  # a batch costs one statement
    tally, sightings, verdicts, comments = found[one.id]
    assert comments == 2  # how many comments, read in the same statement
    assert tally == Tally(confirm=3, false_positive=1, confirm_orgs=2, false_positive_orgs=1)
    assert sightings == SightingSummary(count=4, orgs=1, last_seen=T0 + timedelta(hours=5))
    assert sorted(verdicts, key=lambda v: (v.org_id, v.verdict)) == [
        OrgVerdict(seed.bank.id, "confirm", 70, T0 + timedelta(hours=1)),  # the latest of its two members' votes
        OrgVerdict(seed.cert.id, "confirm", 90, T0 + timedelta(hours=2)),
        OrgVerdict(seed.cert.id, "false_positive", 90, T0 + timedelta(hours=3)),
    ]
    assert found[two.id] == (Tally(), SightingSummary(), (), 0)
    assert found[12345] == (Tally(), SightingSummary(), (), 0)
    # the score counts the other organization only (its trust 90): 40 + 7.2 + 4 - 10.8
    inputs = inputs_for(one, verdicts, sightings)
    assert (inputs.confirming_trust, inputs.false_positive_trust, inputs.sighting_orgs) == ((90,), (90,), 1)
    assert inputs.last_confirmed == T0 + timedelta(hours=2) and inputs.last_sighted == T0 + timedelta(hours=5)
    assert compute(inputs, T0 + timedelta(hours=5)).value == 40
    async with store.unit_of_work(read_only=True) as uow:  # activity is the same read without the verdicts
        assert await uow.votes.activity([one.id]) == {one.id: (tally, sightings)}
        assert await uow.votes.evidence([]) == {}


async def test_approved_after_pages_the_approved_items_still_valid(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ids = [(await uow.indicators.add(new_indicator(seed.alice, valid_until=until))).id
               for until in (None, T0 + timedelta(days=1), T0 + timedelta(days=30), None, None)]
        for i in ids[:4]:
            await uow.indicators.transition(i, [Status.PENDING], Status.APPROVED, "", T0)
        await uow.commit()
    now = T0 + timedelta(days=2)
    async with store.unit_of_work(read_only=True) as uow:
        first = await uow.indicators.approved_after(0, 2, now)
        rest = await uow.indicators.approved_after(first[-1].id, 2, now)
        assert [i.id for i in first] == [ids[0], ids[2]]  # ids[1]'s valid_until passed: expire_due's
        assert [i.id for i in rest] == [ids[3]]  # ids[4] is pending
        assert await uow.indicators.approved_after(ids[3], 2, now) == []


async def test_standing_counts_per_organization_only_what_the_viewer_may_see(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        confirmed = await uow.indicators.add(new_indicator(seed.alice))
        false_positive = await uow.indicators.add(new_indicator(seed.alice))
        await uow.indicators.add(new_indicator(seed.alice, tlp=TLP.AMBER_STRICT))
        anonymous = await uow.indicators.add(new_indicator(seed.amy, anonymous=True))
        await uow.indicators.add(new_indicator(seed.bob))
        await uow.votes.upsert(confirmed.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0)
        await uow.votes.upsert(false_positive.id, seed.amy.id, seed.bank.id, Verdict.CONFIRM, "", T0)  # own org
        await uow.votes.upsert(false_positive.id, seed.bob.id, seed.cert.id, Verdict.FALSE_POSITIVE, "", T0)
        for ind, hours, verb in ((confirmed, 2, "approve"), (anonymous, 4, "approve"), (false_positive, 6, "reject")):
            at = T0 + timedelta(hours=hours)
            to = Status.APPROVED if verb == "approve" else Status.REJECTED
            await uow.indicators.transition(ind.id, [Status.PENDING], to, "", at)
            await uow.audit.append(verb, at=at, platform=Platform.CLI, member_id=seed.mod.id, indicator_id=ind.id)
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        for_bob = await uow.statistics.standing(visibility(seed.bob, private=True, ceiling=TLP.AMBER), seed.cert.id)
        for_alice = await uow.statistics.standing(visibility(seed.alice, private=True, ceiling=TLP.AMBER),
                                                  seed.bank.id)
    assert for_bob == [
        OrgStanding("First Bank", 2, 1, 1, 1, 4.0),  # the AMBER+STRICT item is not bob's to count
        OrgStanding("National CERT", 1, 0, 0, 0, None),
        OrgStanding(ANONYMOUS_ORG, 1, 1, 0, 0, 4.0),  # nor whose the anonymous one is
    ]
    assert for_alice == [OrgStanding("First Bank", 4, 2, 1, 1, 4.0), OrgStanding("National CERT", 1, 0, 0, 0, None)]
    assert for_alice[0].false_positive_rate == 0.25
