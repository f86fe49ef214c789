"""Submission is no existence oracle; a resubmission records what it says; sightings are bounded per day.

The class enumerated: every way in (a chat submission through the dispatcher, a file shared in chat
(`/ioc import`), `bot.services.import_as_organization`, which `coalition-bot import` and TAXII POST call) x every
item the submitter may not see (AMBER+STRICT of another organization, RED of another member of another or of the
same organization) x the TLP the submitter asks for. In world "held", member A holds the value X; in the parallel
world "unknown", A holds another value at the same TLP (so that every id aligns). The submitter's answer must be
byte-identical in both (`bot.text.render` of the reply, and whether it is private), A's item untouched (sightings,
last_seen, audit rows naming it), and both items exist afterwards. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select, text

from bot import commands
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Identity, Platform, Role
from bot.ioc import IOCType
from bot.policy import Policy
from bot.results import ImportReport, LookupResult, SightingRecorded, Submitted
from bot.services import import_as_organization
from bot.text import render
from bot.tlp import STIX_MARKING_IDS, TLP
from storage.models import ALL_TABLES, AuditRow, IndicatorRow, SightingRow
from storage.uow import Store
from tests.conftest import RESTART_SEQUENCES

X, Y = "held.example", "other.example"


def actor(name: str) -> Actor:
    return Actor(Platform.CONSOLE, "local", name, "direct", private=True, display_name=name)


async def seed(store: Store) -> None:
    """Northbank: alice and anna (members); CERT: bob (member), mo (moderator)."""
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("Northbank", "finance", 50)
        cert = await uow.organizations.add("CERT", "government", 90)
        for name, org, role in [("alice", bank, Role.MEMBER), ("anna", bank, Role.MEMBER), ("bob", cert, Role.MEMBER),
                                ("mo", cert, Role.MODERATOR)]:
            member = await uow.members.add(org.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, "local", name))
        await uow.commit()


async def reset(store: Store) -> None:
    """Empty every table and restart the ids, so that a parallel world starts where the first one did."""
    async with store.engine.begin() as conn:
        for table in reversed(ALL_TABLES):  # children first (DELETE: ten times faster than TRUNCATE here)
            await conn.execute(delete(table))
        if conn.dialect.name == "postgresql":  # (SQLite: INTEGER PRIMARY KEY without AUTOINCREMENT starts again)
            await conn.execute(text(RESTART_SEQUENCES))


def stix_objects(value: str, tlp: TLP | None) -> list[dict[str, Any]]:
    ind: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1", "id": "indicator--6f1c9a34-5c1e-4a43-9d7b-1d2a5e0b7c11",
        "created": "2026-11-01T08:00:00.000Z", "modified": "2026-11-01T08:00:00.000Z",
        "pattern": f"[domain-name:value = '{value}']", "pattern_type": "stix", "valid_from": "2026-11-01T08:00:00Z",
    }
    if tlp is not None:
        ind["object_marking_refs"] = [STIX_MARKING_IDS[tlp]]
    return [ind]


@dataclass(frozen=True)
class Outcome:
    answer: str  # bot.text.render of what the submitter got
    private: bool | None
    held: tuple[Any, ...]  # A's item: (id, last_seen, sightings, audit rows naming it)
    rows_of_x: int


async def item_state(store: Store, value: str) -> tuple[Any, ...]:
    async with store.unit_of_work() as uow:
        (ind,) = [i for i in await uow.indicators.by_values([(IOCType.DOMAIN, value)]) if i.submitter_name == "alice"]
        sightings = (await uow.session.execute(
            select(SightingRow.org_id, SightingRow.member_id, SightingRow.count)
            .where(SightingRow.indicator_id == ind.id)
        )).all()
        audit = (await uow.session.execute(
            select(AuditRow.action, AuditRow.member_id).where(AuditRow.indicator_id == ind.id).order_by(AuditRow.id)
        )).all()
    return ind.id, ind.last_seen, tuple(sightings), tuple(audit)


async def run_world(store: Store, clock, path: str, held_tlp: TLP, submitter: str, asked: TLP | None,
                    held_value: str) -> Outcome:
    policy = Policy()
    dispatcher = Dispatcher(store.unit_of_work, policy=policy, clock=clock, delivery_platforms=(Platform.CONSOLE,))
    await seed(store)
    first = await dispatcher.handle_text(f"submit {held_value} tlp:{held_tlp.value.lower()} from alice", actor("alice"))
    assert isinstance(first.result, Submitted) and first.result.created, render(first.result)
    before = await item_state(store, held_value)
    clock.advance(timedelta(minutes=5))
    private: bool | None
    if path == "chat":
        line = f"submit {X}" + (f" tlp:{asked.value.lower()}" if asked else "") + " seen in our logs"
        reply = await dispatcher.handle_text(line, actor(submitter))
        result, private = reply.result, reply.private
    elif path == "chat-file":
        data = json.dumps({"type": "bundle", "id": "bundle--0b6a1f7e-3a5c-4c0e-8d52-0c2f4b7b9a01",
                           "objects": stix_objects(X, asked)}).encode()
        reply = await dispatcher.handle(commands.ImportFile("iocs.json", data), actor(submitter))
        result, private = reply.result, reply.private
    else:  # what `coalition-bot import` and TAXII POST call: an organization's service member imports
        org = "Northbank" if submitter == "anna" else "CERT"
        result = await import_as_organization(
            store.unit_of_work, org_name=org, member_name="TAXII feed", platform=Platform.TAXII,
            filename="taxii-feed", now=clock(), policy=policy, delivery_platforms=(Platform.CONSOLE,),
            objects=stix_objects(X, asked))
        private = None
    assert isinstance(result, Submitted | ImportReport), render(result)
    if isinstance(result, Submitted):
        assert len(result.created) == 1 and not result.known, render(result)  # B's own new item
    else:
        assert result.created_count == 1 and result.known_count == 0, render(result)
    after = await item_state(store, held_value)
    assert after == before, "the held item was touched"
    async with store.unit_of_work() as uow:
        rows_of_x = len(await uow.indicators.by_values([(IOCType.DOMAIN, X)]))
    return Outcome(render(result), private, after, rows_of_x)


RESTRICTED = [  # (TLP A holds X at, who submits it): nobody who submits may see A's item
    pytest.param(TLP.AMBER_STRICT, "bob", id="amber-strict-of-another-org"),
    pytest.param(TLP.RED, "bob", id="red-of-another-org"),
    pytest.param(TLP.RED, "anna", id="red-of-another-member-same-org"),
]


@pytest.mark.parametrize("path", ["chat", "chat-file", "import-as-organization"])
@pytest.mark.parametrize(("held_tlp", "submitter"), RESTRICTED)
@pytest.mark.parametrize("asked", [None, TLP.AMBER_STRICT, TLP.RED],  # one per scope: shared (default AMBER),
                         ids=["default-tlp", "amber-strict", "red"])      # the organization's, the submitter's
async def test_a_held_value_the_submitter_may_not_see_answers_as_an_unknown_one(
        store: Store, clock, path: str, held_tlp: TLP, submitter: str, asked: TLP | None) -> None:
    start = clock.now
    held = await run_world(store, clock, path, held_tlp, submitter, asked, held_value=X)
    await reset(store)
    clock.now = start
    unknown = await run_world(store, clock, path, held_tlp, submitter, asked, held_value=Y)
    assert held.answer == unknown.answer
    assert held.private == unknown.private
    assert held.rows_of_x == 2 and unknown.rows_of_x == 1  # both items exist: A's and the submitter's own
    assert held.held == unknown.held and held.held[2] == ()  # A's item: same id, last_seen, no sighting, same audit


# ---------------------------------------------------------------- who may see both learns that they coincide


@pytest.fixture
async def world(store: Store, clock) -> tuple[Store, Dispatcher]:
    await seed(store)
    return store, Dispatcher(store.unit_of_work, policy=Policy(), clock=clock, delivery_platforms=(Platform.CONSOLE,))


async def say(dispatcher: Dispatcher, who: str, line: str) -> Any:
    return (await dispatcher.handle_text(line, actor(who))).result


async def test_a_moderator_who_sees_both_items_is_told_they_coincide(world) -> None:
    _, d = world
    await say(d, "alice", f"submit {X} tlp:red insider report")
    shared = await say(d, "bob", f"submit {X} tlp:green")
    assert isinstance(shared, Submitted) and [c.indicator.id for c in shared.created] == [2]
    assert not shared.created[0].also_restricted  # bob may not see alice's RED item
    seen = await say(d, "mo", f"lookup {X}")
    assert isinstance(seen, LookupResult)
    flags = {c.indicator.id: c.also_restricted for c in seen.cards}
    assert flags == {1: False, 2: True}
    assert "also held at a restricted TLP" in render(seen)
    bobs = await say(d, "bob", f"lookup {X}")
    assert [c.indicator.id for c in bobs.cards] == [2] and "restricted" not in render(bobs)
    # a value held twice that the viewer may see: naming it by value asks which one
    vote = await say(d, "mo", f"vote {X} confirm")
    assert "is held as #1 (TLP:RED), #2 (TLP:GREEN)" in render(vote)
    assert "Vote on #2 recorded" in render(await say(d, "bob", f"vote {X} confirm"))


async def test_sharing_wider_what_ones_own_organization_holds_strict_makes_a_shared_item(world) -> None:
    _, d = world
    await say(d, "alice", f"submit {X} tlp:amber+strict")
    out = await say(d, "anna", f"submit {X} tlp:green")  # anna may see it: no oracle, a deliberate wider share
    assert [c.indicator.id for c in out.created] == [2] and out.created[0].also_restricted
    narrower = await say(d, "anna", f"submit {X} tlp:red")  # already held at least as widely: a sighting
    assert not narrower.created and [c.indicator.id for c in narrower.known] == [2]


# ---------------------------------------------------------------- resubmission tells the truth


async def sightings_of(store: Store, indicator_id: int) -> list[tuple[int, int, int, str]]:
    async with store.unit_of_work() as uow:
        return [tuple(r) for r in (await uow.session.execute(
            select(SightingRow.org_id, SightingRow.member_id, SightingRow.count, SightingRow.note)
            .where(SightingRow.indicator_id == indicator_id).order_by(SightingRow.id))).all()]


async def test_a_resubmission_records_a_sighting_and_says_what_was_not_applied(world, clock) -> None:
    store, d = world
    await say(d, "alice", f"submit {X} tlp:green conf:50 tags:phishing first report")
    out = await say(d, "bob", f"submit {X} tlp:amber conf:90 tags:phishing,c2 valid:90d seen on our resolvers")
    assert isinstance(out, Submitted) and not out.created and [c.indicator.id for c in out.known] == [1]
    text = render(out)
    assert "Already known to the coalition: your organization's sighting was recorded." in text
    assert ("Not applied to #1, held already: TLP:AMBER (it is TLP:GREEN); confidence 90 (it is 50); tags c2; "
            "the note (kept with your sighting); valid until 2027-01-30 (it is valid until 2027-04-30).") in text
    assert "ask a moderator" in text and "sightings 1 (1 org)" in text
    assert await sightings_of(store, 1) == [(2, 3, 1, "seen on our resolvers")]
    # the submitter's own organization's resubmission is a sighting too (it used to write none)
    again = await say(d, "anna", f"submit {X}")
    assert render(again).startswith("Already known to the coalition: your organization's sighting was recorded.")
    assert "Not applied" not in render(again)  # she set nothing that differs
    assert len(await sightings_of(store, 1)) == 2
    # the same member the same day: the day's sighting is replaced, and the reply says so
    clock.advance(timedelta(hours=1))
    twice = await say(d, "anna", f"submit {X}")
    assert "(updated today's sighting of #1)" in render(twice)
    assert len(await sightings_of(store, 1)) == 2


async def test_a_big_reimport_writes_its_sightings_in_one_insert_per_chunk(world, clock) -> None:
    store, d = world
    n = 1_200
    data = "\n".join(f"host{i}.example" for i in range(n)).encode()
    first = await d.handle(commands.ImportFile("feed.txt", data), actor("alice"))
    assert first.result.created_count == n, render(first.result)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", record)
    try:
        again = await d.handle(commands.ImportFile("feed.txt", data), actor("bob"))
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", record)
    report = again.result
    assert isinstance(report, ImportReport) and report.known_count == n and report.created_count == 0
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO SIGHTINGS")]
    assert len(inserts) == math.ceil(n / 500)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE INDICATORS")]
    assert len(updates) == math.ceil(n / 500)
    async with store.unit_of_work() as uow:
        count = (await uow.session.execute(select(func.count()).select_from(SightingRow))).scalar_one()
    assert count == n
    assert f"{n} already known (your organization's sighting recorded)" in render(report)


# ---------------------------------------------------------------- one sighting per member, indicator and day


async def test_a_repeated_sighting_the_same_day_replaces_the_days_row(world, clock) -> None:
    store, d = world
    await say(d, "alice", f"submit {X} tlp:green")
    first = await say(d, "bob", "sighting #1 count:500 proxy logs")
    assert isinstance(first, SightingRecorded) and not first.updated
    for _ in range(2):  # a replayed request, or the same member again
        again = await say(d, "bob", "sighting #1 count:500 proxy logs")
        assert again.updated and "updated today's sighting" in render(again)
    assert await sightings_of(store, 1) == [(2, 3, 500, "proxy logs")]
    assert again.card.sightings.count == 500
    later = await say(d, "bob", "sighting #1 count:7 fewer now")  # latest wins
    assert later.updated and await sightings_of(store, 1) == [(2, 3, 7, "fewer now")]
    clock.advance(timedelta(days=1))
    tomorrow = await say(d, "bob", "sighting #1 count:3")
    assert not tomorrow.updated and len(await sightings_of(store, 1)) == 2
    assert tomorrow.card.sightings.count == 10
    async with store.unit_of_work() as uow:
        kinds = (await uow.session.execute(
            select(IndicatorRow.id).where(IndicatorRow.value == X))).scalars().all()
    assert kinds == [1]


async def test_concurrent_submissions_of_one_value_in_one_scope_leave_one_item(world) -> None:
    store, d = world
    names = ["alice", "anna", "bob", "mo"] * 2
    results = await asyncio.gather(*(say(d, who, f"submit {X} race.example tlp:green") for who in names))
    assert all(isinstance(r, Submitted) for r in results), [render(r) for r in results]
    created = [c.indicator.value for r in results for c in r.created]
    assert sorted(created) == [X, "race.example"]  # each value created once; every other answer: known
    assert all(len(r.created) + len(r.known) == 2 for r in results)
    async with store.unit_of_work() as uow:
        rows = await uow.indicators.by_values([(IOCType.DOMAIN, X), (IOCType.DOMAIN, "race.example")])
        sightings = (await uow.session.execute(select(func.count()).select_from(SightingRow))).scalar_one()
    assert len(rows) == 2
    assert sightings == 2 * len({*names})  # one per member and value: the same member's repeat replaced its own
