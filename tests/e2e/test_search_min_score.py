"""`/ioc search ... min_score:N` over every match (issue 13): the high-scoring items are older than 5,000 newer
low-scoring ones, and still found, paged and counted honestly ("of at least N" when counting stopped once the page
was full, exact when every match was scored), never counting what the asker may not see. Through the console.

The demo coalition: alice is Northbank's, bob Sentinel Security's."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from sqlalchemy import insert

from adapters.console.channel import WORKSPACE, ConsoleChannel
from adapters.console.delivery import ConsoleSink
from adapters.console.demo import seed
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, SearchFilter, Status
from bot.policy import Policy
from bot.rules import visibility
from bot.services.context import Context
from bot.services.scored_search import scored_search
from bot.tlp import TLP
from storage.models import IndicatorRow
from storage.uow import Store
from tests.e2e.console_world import ConsoleWorld

HITS = 600  # conf:100, score 50: the oldest
NOISE = 5200  # conf:10, score 5: all newer than the hits


async def _world(store: Store, clock) -> ConsoleWorld:
    dispatcher = Dispatcher(store.unit_of_work, policy=Policy(), clock=clock, delivery_platforms=(Platform.CONSOLE,))
    output: list[str] = []
    deliverer = Deliverer(store.unit_of_work, ConsoleSink(output.append), clock=clock)
    await seed(store, dispatcher, samples=False)
    return ConsoleWorld(store, ConsoleChannel(dispatcher, output.append, "", deliverer), output)


async def _bulk(world: ConsoleWorld, clock) -> None:
    """HITS old high-scoring GREEN domains (ids 1..HITS), then one of alice's AMBER+STRICT that scores as high,
    then NOISE newer low-scoring ones: bulk inserts, as the benches fill a store."""
    alice, bob = await world.member("alice"), await world.member("bob")
    assert alice and bob
    rows = []

    def row(n: int, value: str, confidence: int, tlp: TLP, by) -> dict:
        at = clock.now - timedelta(hours=1) + timedelta(microseconds=n)
        return {"id": n, "stix_id": f"indicator--{uuid.UUID(int=n, version=4)}", "type": "domain", "value": value,
                "status": "approved", "tlp": tlp.value, "tlp_rank": tlp.rank, "confidence": confidence, "note": "",
                "submitter_id": by.id, "org_id": by.org_id, "anonymous": False, "first_seen": at, "last_seen": at,
                "valid_until": None, "created_at": at, "modified_at": at, "status_reason": ""}

    for n in range(1, HITS + 1):
        rows.append(row(n, f"old-hit-{n}.example", 100, TLP.GREEN, bob))
    rows.append(row(HITS + 1, "old-hit-strict.example", 100, TLP.AMBER_STRICT, alice))
    for n in range(HITS + 2, HITS + 2 + NOISE):
        rows.append(row(n, f"noise-{n}.example", 10, TLP.GREEN, bob))
    async with world.store.engine.begin() as conn:
        await conn.execute(insert(IndicatorRow), rows)


def reply(out: str) -> str:
    return re.split(r"\n(?=\[)", out)[0]


def shown(out: str) -> list[str]:
    return re.findall(r"#\d+ domain (\S+)", out)


async def test_high_scores_older_than_five_thousand_low_ones_are_found_paged_and_counted(store: Store, clock) -> None:
    world = await _world(store, clock)
    await _bulk(world, clock)
    first = reply(await world.say("bob", "/ioc search min_score:45"))
    # newest first: the newest hits, past the 5,200 newer low-scoring items; counting stopped with the page full
    assert first.startswith("Search results scoring 45 or more: 1-10 of at least "), first
    at_least = int(re.search(r"of at least (\d+)", first).group(1))  # type: ignore[union-attr]
    assert 11 <= at_least < HITS
    assert shown(first) == [f"old-hit-{n}.example" for n in range(HITS, HITS - 10, -1)]
    assert "More: add page:2" in first and "noise" not in first and "strict" not in first
    third = reply(await world.say("bob", "/ioc search min_score:45 page:3"))
    assert shown(third) == [f"old-hit-{n}.example" for n in range(HITS - 20, HITS - 30, -1)]
    # the last page needs every match scored: the count is exact, and there is no next page
    last = reply(await world.say("bob", f"/ioc search min_score:45 page:{HITS // 10}"))
    assert last.startswith(f"Search results scoring 45 or more: {HITS - 9}-{HITS} of {HITS}\n"), last
    assert shown(last) == [f"old-hit-{n}.example" for n in range(10, 0, -1)] and "More:" not in last
    beyond = reply(await world.say("bob", f"/ioc search min_score:45 page:{HITS // 10 + 1}"))
    assert beyond == "Search results scoring 45 or more: nothing found."
    # a narrower search whose matches all fit the count's scan: exact, and alice's AMBER+STRICT hit counts for her
    # only (the same answer for bob as if it did not exist)
    narrow = reply(await world.say("bob", "/ioc search old-hit min_score:45"))
    assert narrow.startswith(f"Search results scoring 45 or more: 1-10 of {HITS}\n"), narrow
    hers = reply(await world.say("alice", "/ioc search old-hit min_score:45"))
    assert hers.startswith(f"Search results scoring 45 or more: 1-10 of {HITS + 1}\n")
    assert shown(hers)[0] == "old-hit-strict.example"
    # nothing scores that high: every match scored, exactly none
    none = reply(await world.say("bob", "/ioc search min_score:90"))
    assert none == "Search results scoring 90 or more: nothing found."
    beyond_reach = reply(await world.say("bob", "/ioc search min_score:93"))  # 50 + 30 + 12 at most
    assert beyond_reach == "Search results scoring 93 or more: nothing found."


async def test_every_batch_size_gives_the_same_pages_and_honest_counts(store: Store, clock) -> None:
    """The scan's batch and count sizes are parameters: small ones walk many batches over the same store."""
    world = await _world(store, clock)
    await _bulk(world, clock)
    bob = await world.member("bob")
    assert bob is not None
    flt = SearchFilter(statuses=(Status.APPROVED,))

    async def page(number: int, batch: int, count_scan: int) -> tuple[list[str], int, bool]:
        async with store.unit_of_work(read_only=True) as uow:
            ctx = Context(uow=uow, actor=Actor(Platform.CONSOLE, WORKSPACE, "bob", "direct", private=True),
                          member=bob, channel=None, now=clock.now, policy=Policy())
            result = await scored_search(ctx, flt, number, 45, visibility(bob, private=True, ceiling=TLP.AMBER),
                                         batch=batch, count_scan=count_scan)
        return [c.indicator.value for c in result.cards], result.total, result.total_at_least

    expected = [f"old-hit-{n}.example" for n in range(HITS - 10, HITS - 20, -1)]
    for batch, count_scan in ((37, 0), (64, 300), (10_000, 0)):
        values, total, at_least = await page(2, batch, count_scan)
        assert values == expected, (batch, count_scan)
        if batch >= HITS + 1 + NOISE:  # one read held every match: exact
            assert (total, at_least) == (HITS, False)
        else:
            assert at_least and 21 <= total <= HITS, (batch, count_scan, total)
        values, total, at_least = await page(HITS // 10, batch, count_scan)
        assert (values[-1], total, at_least) == ("old-hit-1.example", HITS, False)
