"""The TAXII feed's keyset paging: any page size walks the same objects in the same order as one big page, with
many rows sharing a date_added (a bulk approval), votes and sightings interleaved, and added_after."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from bot import exchange
from bot.domain import Role
from bot.rules import organization_visibility
from bot.tlp import TLP
from storage.models import IndicatorRow, SightingRow, VoteRow
from storage.uow import Store

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)


async def seed(store: Store) -> tuple[int, int]:
    async with store.unit_of_work() as uow:
        mine = await uow.organizations.add("Northbank", "finance", 70)
        other = await uow.organizations.add("Sentinel", "security", 70)
        alice = await uow.members.add(mine.id, "alice", Role.MEMBER)
        bob = await uow.members.add(other.id, "bob", Role.MEMBER)
        await uow.commit()
    tlps = [TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
    rows, votes, sightings = [], [], []
    for i in range(1, 121):
        tlp = tlps[i % 5]
        org, member = (mine, alice) if i % 2 else (other, bob)
        at = T0 + timedelta(minutes=i // 40)  # three bulk approvals: 40 rows share each date
        rows.append({"id": i, "stix_id": f"indicator--{uuid.UUID(int=i, version=4)}", "type": "domain",
                     "value": f"host{i}.example", "status": "pending" if i % 7 == 0 else "approved",
                     "tlp": tlp.value, "tlp_rank": tlp.rank, "confidence": 50, "note": "", "submitter_id": member.id,
                     "org_id": org.id, "anonymous": i % 11 == 0, "first_seen": at, "last_seen": at,
                     "valid_until": None, "created_at": at, "modified_at": at, "status_reason": ""})
        if i % 3 == 0:
            votes.append({"indicator_id": i, "member_id": bob.id if i % 2 else alice.id,
                          "org_id": other.id if i % 2 else mine.id, "verdict": "confirm", "previous_verdict": None,
                          "reason": "", "created_at": at, "updated_at": T0 + timedelta(minutes=(i // 3) % 4)})
        if i % 4 == 0:
            sightings.append({"indicator_id": i, "org_id": mine.id, "member_id": alice.id, "count": 1,
                              "seen_at": T0 + timedelta(minutes=1), "note": ""})
    async with store.engine.begin() as conn:
        await conn.execute(insert(IndicatorRow), rows)
        await conn.execute(insert(VoteRow), votes)
        await conn.execute(insert(SightingRow), sightings)
    return mine.id, len(votes) + len(sightings)


async def walk(store: Store, org_id: int, limit: int, added_after: datetime | None = None) -> list[str]:
    view = organization_visibility(org_id)
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        async with store.unit_of_work(read_only=True) as uow:
            objects, more, cursor = await exchange.feed_page(uow, view, cursor=cursor, types=[], stix_ids=[],
                                                             limit=limit, added_after=added_after)
        seen += [o["id"] for _, o in objects]
        if not more:
            return seen
    raise AssertionError("the walk does not end")


@pytest.mark.parametrize("limit", [1, 3, 7, 40])
async def test_every_page_size_walks_the_same_feed(store: Store, limit: int) -> None:
    org_id, _ = await seed(store)
    everything = await walk(store, org_id, 10_000)
    assert len(everything) == len(set(everything)) > 60
    assert await walk(store, org_id, limit) == everything
    later = await walk(store, org_id, limit, added_after=T0 + timedelta(minutes=1))
    assert later == await walk(store, org_id, 10_000, added_after=T0 + timedelta(minutes=1))
    assert 0 < len(later) < len(everything) and set(later) < set(everything)


async def test_supporting_objects_and_match_id(store: Store) -> None:
    org_id, _ = await seed(store)
    view = organization_visibility(org_id)
    async with store.unit_of_work(read_only=True) as uow:
        objects, _, _ = await exchange.feed_page(uow, view, cursor=None, added_after=None, types=["identity"],
                                                 stix_ids=[], limit=100)
        assert sorted(o["name"] for _, o in objects) == ["Coalition", "Northbank", "Sentinel"]
        one = objects[1][1]["id"]
        found, more, _ = await exchange.feed_page(uow, view, cursor=None, added_after=None, types=[],
                                                  stix_ids=[one, f"indicator--{uuid.UUID(int=1, version=4)}"],
                                                  limit=100)
        assert [o["id"] for _, o in found] == [one, f"indicator--{uuid.UUID(int=1, version=4)}"] and not more
