"""Issue 13's explainable score, end to end through the console adapter -> grammar -> dispatcher -> services ->
store -> delivery, on a real SQLite file and a real PostgreSQL database: the score on every card, `/ioc why`,
`/ioc stats orgs`, and the optional expiry of approved items whose score fell below `[score] expire_below` over
simulated time (the `clock` fixture).

The demo coalition (adapters/console/demo.py): alice (member) is Northbank's (trust 70); bob (member) and mod
(moderator) are Sentinel Security's (trust 80); carol (member) and admin (admin) are National Cyber Unit's (trust 90).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from adapters.console.channel import WORKSPACE, ConsoleChannel
from adapters.console.delivery import ConsoleSink
from adapters.console.demo import seed
from adapters.ops import expire_by_score_once
from bot import commands
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, Role
from bot.ioc import IOCType
from bot.policy import Policy
from bot.score import ScoreModel
from storage.models import AuditRow, OutboxRow
from storage.uow import Store
from tests.e2e.console_world import ConsoleWorld
from tests.stix_helpers import assert_valid_bundle

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass
class World(ConsoleWorld):
    dispatcher: Dispatcher | None = None


async def _world(store: Store, clock, policy: Policy) -> World:
    dispatcher = Dispatcher(store.unit_of_work, policy=policy, clock=clock, delivery_platforms=(Platform.CONSOLE,))
    output: list[str] = []
    deliverer = Deliverer(store.unit_of_work, ConsoleSink(output.append), clock=clock,
                          score_model=policy.score_model)  # as adapters.runtime builds it
    await seed(store, dispatcher, samples=False)
    built = World(store, ConsoleChannel(dispatcher, output.append, "", deliverer), output, dispatcher)
    await built.add("anna", "Northbank", Role.MEMBER)
    return built


@pytest.fixture
async def world(store: Store, clock) -> World:
    return await _world(store, clock, Policy())


def actor(name: str) -> Actor:
    return Actor(Platform.CONSOLE, WORKSPACE, name, "direct", private=True, display_name=name)


def reply_of(out: str) -> str:
    """The reply to the speaker: what comes before the first delivery."""
    return re.split(r"\n(?=\[)", out)[0]


def status_line(out: str, ref: str) -> str:
    lines = out.splitlines()
    head = next(n for n, line in enumerate(lines) if line.startswith(f"{ref} "))
    return lines[head + 1]


async def test_every_card_carries_its_score_and_why_says_how_it_was_reached(world, clock):
    out = await world.say("alice", "/ioc submit 198.51.100.7 tlp:green conf:80 tags:c2 a proxy")
    # the score ends the status line: base 40 from confidence 80, nothing else yet
    assert status_line(out, "#1") == "   status pending · TLP:GREEN · confidence 80 · tags c2 · score 40 →"
    await world.say("anna", "/ioc vote #1 confirm")  # the submitting organization's own: counts for nothing
    out = await world.say("alice", "/ioc lookup #1")
    assert status_line(out, "#1").endswith("score 40 →")
    clock.advance(timedelta(hours=1))
    await world.say("bob", "/ioc vote #1 confirm")  # Sentinel, trust 80: +6.4
    clock.advance(timedelta(hours=1))
    out = await world.say("carol", "/ioc vote #1 fp looks like a CDN")  # National Cyber Unit, trust 90: -10.8
    assert status_line(out, "#1").endswith("score 36 ↑")  # 35.6, confirmed within the week
    why = reply_of(await world.say("alice", "/ioc why #1"))
    # reaches 20 when 35.6 x (1 - (t/47 days)^2) = 20: t = 47 x sqrt(1 - 20/35.6) = 31.1 days after bob's vote
    assert why == ("#1 ipv4 198.51.100.7: score 36 ↑\n"
                   "base 40 from confidence 80; +6 for confirmations by 1 organization; -11 for one false-positive "
                   "vote; reaches 20 on 2026-12-02: score 36.\n"
                   "(↑ confirmed or sighted in the last week, ↓ lost a point or more over it, → steady)")
    # three weeks later with no sign of life: decayed, and falling
    clock.advance(timedelta(days=21))
    out = await world.say("bob", "/ioc lookup 198.51.100.7")
    assert status_line(out, "#1").endswith("score 28 ↓")  # 35.6 x (1 - (21/47)^2) = 28.5
    why = reply_of(await world.say("bob", "/ioc why #1"))
    assert why == ("#1 ipv4 198.51.100.7: score 28 ↓\n"
                   "base 40 from confidence 80; +6 for confirmations by 1 organization; -11 for one false-positive "
                   "vote; ×0.80 for 21 days since the last sighting or confirmation (a ipv4 lives 47 days); reaches "
                   "20 on 2026-12-02: score 28.\n"
                   "(↑ confirmed or sighted in the last week, ↓ lost a point or more over it, → steady)")
    assert f"/ioc why #1\n{why}\n" in README.read_text()  # the README's worked example is this one
    assert reply_of(await world.say("bob", "/ioc why 198.51.100.7")) == why  # by value too
    # a sighting is a sign of life: the clock starts again, and two organizations' sightings add +8
    await world.say("carol", "/ioc sighting #1")
    await world.say("alice", "/ioc sighting #1")
    out = await world.say("bob", "/ioc lookup #1")
    assert status_line(out, "#1").endswith("score 44 ↑")  # 35.6 + 8
    # in a shared channel, the channel's copy of the card carries it too
    await world.say("mod", "/ioc approve #1")
    out = await world.say("bob", "/ioc search 198.51.100", where="general")
    assert "score 44 ↑" in out


async def test_why_answers_an_item_one_may_not_see_exactly_as_an_unknown_one(world):
    await world.say("alice", "/ioc submit 203.0.113.77 tlp:amber+strict conf:90")
    await world.say("alice", "/ioc submit 203.0.113.78 tlp:red conf:90")
    assert reply_of(await world.say("anna", "/ioc why #1")).startswith("#1 ipv4 203.0.113.77: score 45 →")
    assert reply_of(await world.say("alice", "/ioc why #2")).startswith("#2 ipv4 203.0.113.78: score 45 →")
    for asker, ref in (("bob", "#1"), ("mod", "#1"), ("anna", "#2"), ("carol", "#2")):
        hidden = reply_of(await world.say(asker, f"/ioc why {ref}"))
        unknown = reply_of(await world.say(asker, "/ioc why #99"))
        assert hidden == unknown.replace("#99", ref), (asker, ref)
        assert "is not an indicator you can see" in hidden
    hidden = reply_of(await world.say("bob", "/ioc why 203.0.113.77"))
    unknown = reply_of(await world.say("bob", "/ioc why 203.0.113.79"))
    assert hidden == unknown.replace("203.0.113.79", "203.0.113.77")
    # errors say what was wrong and the right form
    out = reply_of(await world.say("alice", "/ioc why"))
    assert "say which one indicator, e.g. /ioc why #42" in out and "Usage: /ioc why #ID" in out
    out = reply_of(await world.say("alice", "/ioc why #1 #2"))
    assert "say which one indicator" in out
    out = reply_of(await world.say("stranger", "/ioc why #1"))
    assert "not a member of the coalition yet" in out


async def test_stats_orgs_counts_only_what_the_asker_may_see(world, clock):
    await world.say("alice", "/ioc submit 198.51.100.1 tlp:green")  # #1
    await world.say("alice", "/ioc submit 198.51.100.2 tlp:green")  # #2
    await world.say("alice", "/ioc submit 198.51.100.3 tlp:amber+strict")  # #3: Northbank's eyes only
    await world.say("alice", "/ioc submit 198.51.100.4 tlp:green anon")  # #4: anonymous to the others
    await world.say("bob", "/ioc submit evil-login.example tlp:green")  # #5
    await world.say("bob", "/ioc vote #1 confirm")
    await world.say("anna", "/ioc vote #2 confirm")  # its own organization: not "by others"
    await world.say("carol", "/ioc vote #2 fp")
    clock.advance(timedelta(hours=3))
    await world.say("mod", "/ioc approve #1 #4")
    clock.advance(timedelta(hours=3))
    await world.say("mod", "/ioc reject #2 benign")
    out = reply_of(await world.say("bob", "/ioc stats orgs"))
    assert out.splitlines() == [
        "Standing of each organization (over what you may see): submitted, approved, confirmed by others, "
        "false-positive rate, median time to decision",
        "Northbank: 2 submitted · 1 approved · 1 confirmed by others · 50% false positive · median decision "
        "4.5 hours",
        "Sentinel Security: 1 submitted · 0 approved · 0 confirmed by others · 0% false positive · median decision "
        "none decided",
        "a coalition member: 1 submitted · 1 approved · 0 confirmed by others · 0% false positive · median decision "
        "3.0 hours",
    ]
    # alice sees her organization's all: #3 was stored approved (Northbank has no moderator who could decide it)
    out = reply_of(await world.say("alice", "/ioc stats orgs"))
    assert out.splitlines()[1] == ("Northbank: 4 submitted · 3 approved · 1 confirmed by others · 25% false positive "
                                   "· median decision 3.0 hours")
    assert "a coalition member" not in out  # her own organization's anonymous item is Northbank's to her
    out = reply_of(await world.say("alice", "/ioc stats orgs please"))
    assert "stats takes nothing or `orgs`" in out and "Usage: /ioc stats [orgs]" in out
    # in a shared channel the standing is private too (it is the asker's view)
    out = await world.say("bob", "/ioc stats orgs", where="general")
    assert "Northbank: 2 submitted" in out


async def test_an_approved_item_expires_once_its_score_falls_below_the_threshold(store, clock):
    policy = Policy(score_model=ScoreModel(), score_expire_below=30)
    world = await _world(store, clock, policy)
    runtime = SimpleNamespace(store=store, dispatcher=world.dispatcher)
    await world.say("alice", "/ioc submit 198.51.100.9 tlp:green conf:80")  # 40
    await world.say("alice", "/ioc submit bad-cdn.example tlp:green conf:80")  # 40, a domain lives 300 days
    await world.say("alice", "/ioc submit 198.51.100.10 tlp:green conf:40")  # 20, but pending: never expired here
    await world.say("mod", "/ioc approve #1 #2")
    assert await expire_by_score_once(runtime) == 0
    clock.advance(timedelta(days=20))  # 40 x (1 - (20/47)^2) = 32.8
    assert await expire_by_score_once(runtime) == 0
    clock.advance(timedelta(days=4))  # 40 x (1 - (24/47)^2) = 29.6: the card says 30, not below 30
    out = await world.say("bob", "/ioc lookup #1")
    assert "status approved" in out and status_line(out, "#1").endswith("score 30 ↓")
    assert await expire_by_score_once(runtime) == 0
    clock.advance(timedelta(days=1))  # 40 x (1 - (25/47)^2) = 28.7: 29
    assert await expire_by_score_once(runtime) == 1
    out = await world.say("bob", "/ioc lookup #1 #2 #3")
    assert "status expired" in status_line(out, "#1") and "reason: score fell below 30" in out
    assert "status approved" in status_line(out, "#2") and "status pending" in status_line(out, "#3")
    async with store.engine.connect() as conn:
        audit = (await conn.execute(select(AuditRow.action, AuditRow.detail).where(AuditRow.indicator_id == 1)
                                    .order_by(AuditRow.id.desc()).limit(1))).one()
        events = (await conn.execute(select(OutboxRow.event).order_by(OutboxRow.id.desc()).limit(1))).scalar_one()
    assert audit == ("expire", {"rule": "score", "score": 29, "below": 30})
    assert events == "indicator.expired"  # announced like any expiry: every posted copy of the card is updated
    assert await expire_by_score_once(runtime) == 0  # once
    # off by default: nothing is ever expired by score
    assert await expire_by_score_once(SimpleNamespace(store=store, dispatcher=SimpleNamespace(policy=Policy()))) == 0


async def test_search_and_exports_filter_by_min_score_and_exports_carry_it(world, clock):
    await world.say("alice", "/ioc submit 198.51.100.21 tlp:green conf:100")  # #1: 50
    await world.say("alice", "/ioc submit 198.51.100.22 tlp:green conf:60")  # #2: 30
    await world.say("alice", "/ioc submit 198.51.100.23 tlp:amber+strict conf:100")  # #3: 50, Northbank's only
    await world.say("alice", "/ioc submit 198.51.100.24 tlp:green conf:80")  # #4: 40, +7 by carol (trust 90) = 47
    await world.say("carol", "/ioc vote #4 confirm")
    await world.say("mod", "/ioc approve #1 #2 #4")
    out = reply_of(await world.say("bob", "/ioc search 198.51.100 min_score:45"))
    assert out.startswith("Search results scoring 45 or more: 1-2 of 2")
    assert "#1 ipv4 198.51.100.21" in out and "#4 ipv4 198.51.100.24" in out
    assert "198.51.100.22" not in out and "198.51.100.23" not in out
    # the AMBER+STRICT item scores 50 too, for those who may see it only
    assert "198.51.100.23" in reply_of(await world.say("anna", "/ioc search 198.51.100 min_score:45"))
    out = reply_of(await world.say("bob", "/ioc search min_score:101"))
    assert "min_score: takes a whole number from 0 to 100, not '101'" in out and "[min_score:50]" in out
    # exports: the score as STIX x_coalition_score (confidence stays the submitter's) and a CSV column
    reply = await world.dispatcher.handle(commands.parse("export min_score:45"), actor("bob"))
    doc = assert_valid_bundle(reply.result.data.decode())
    scored = {o["pattern"]: (o["confidence"], o["x_coalition_score"]) for o in doc["objects"]
              if o["type"] == "indicator"}
    assert scored == {"[ipv4-addr:value = '198.51.100.21']": (100, 50), "[ipv4-addr:value = '198.51.100.24']": (80, 47)}
    extension = next(o for o in doc["objects"] if o["type"] == "extension-definition"
                     and o["extension_properties"] == ["x_coalition_score"])
    assert all(extension["id"] in o["extensions"] for o in doc["objects"] if o["type"] == "indicator")
    reply = await world.dispatcher.handle(commands.parse("export format:csv"), actor("bob"))
    rows = list(csv.DictReader(io.StringIO(reply.result.data.decode())))
    assert {r["value"]: r["score"] for r in rows} == {"198.51.100.21": "50", "198.51.100.22": "30",
                                                       "198.51.100.24": "47"}
    reply = await world.dispatcher.handle(commands.parse("export format:txt min_score:31"), actor("bob"))
    assert reply.result.data == b"198.51.100.21\n198.51.100.24\n"
    # as time passes the scores decay, and the filter with them
    clock.advance(timedelta(days=20))
    reply = await world.dispatcher.handle(commands.parse("export format:txt min_score:31"), actor("bob"))
    assert reply.result.data == b"198.51.100.21\n198.51.100.24\n"  # 50 x 0.82 = 41, 47 x 0.82 = 38
    clock.advance(timedelta(days=10))
    reply = await world.dispatcher.handle(commands.parse("export format:txt min_score:31"), actor("bob"))
    assert reply.result.data == b""  # 50 x 0.59 = 30, 47 x 0.59 = 28


async def test_configured_lifetimes_score_lookups_and_the_cards_posted_in_channels_alike(store, clock):
    model = ScoreModel(lifetimes_days={IOCType.IPV4: 10}, decay_speed=1.0)  # linear over 10 days
    world = await _world(store, clock, Policy(score_model=model))
    await world.say("alice", "/ioc submit 198.51.100.31 tlp:green conf:80")
    clock.advance(timedelta(days=5))
    out = await world.say("mod", "/ioc approve #1")  # the feed channel's card, posted by the deliverer
    posted = [block for block in re.split(r"\n(?=\[)", out) if "feed" in block.splitlines()[0]]
    assert posted and all("score 20 ↓" in block for block in posted), out  # 40 x (1 - 5/10)
    out = reply_of(await world.say("bob", "/ioc why #1"))
    assert "×0.50 for 5 days since it was submitted (a ipv4 lives 10 days)" in out and "score 20 ↓" in out
