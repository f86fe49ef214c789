"""IndicatorRepository on both backends."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.domain import Page, Platform, SearchFilter, Status, Verdict, Visibility
from bot.ioc import IOCType
from bot.ports import Conflict
from bot.tlp import TLP
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.models import CommentRow, IndicatorRow, SightingRow, VoteRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator

EVERYTHING = Visibility(max_shared_tlp=TLP.AMBER, org_id=0, member_id=0, amber_strict_own_org=False,
                        red_own=False, red_all=True)


async def test_add_returns_the_stored_indicator(store: Store, seed: Seed) -> None:
    new = new_indicator(seed.alice, "evil.example", tlp=TLP.AMBER, tags=("Phishing", "bank", "phishing"),
                        note="login page", anonymous=True, valid_until=T0 + timedelta(days=30))
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new)
        await uow.commit()
    assert ind.id == 1 and ind.ref == "#1"
    assert (ind.type, ind.value, ind.stix_id) == (IOCType.DOMAIN, "evil.example", new.stix_id)
    assert ind.status is Status.PENDING
    assert ind.tlp is TLP.AMBER and ind.confidence == 70
    assert ind.tags == ("bank", "phishing")
    assert ind.note == "login page" and ind.anonymous
    assert (ind.submitter_id, ind.submitter_name) == (seed.alice.id, "Alice")
    assert (ind.org_id, ind.org_name) == (seed.bank.id, "First Bank")
    assert ind.first_seen == ind.last_seen == T0
    assert ind.valid_until == T0 + timedelta(days=30)
    assert ind.created_at == ind.modified_at and ind.created_at.tzinfo is not None
    assert ind.status_reason == ""

    async with store.unit_of_work() as uow:
        assert await uow.indicators.get(ind.id) == ind
        assert await uow.indicators.by_stix_id(new.stix_id) == ind
        assert await uow.indicators.get(999) is None
        assert await uow.indicators.by_stix_id("indicator--nope") is None


async def test_duplicate_type_value_is_a_conflict_and_the_transaction_goes_on(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        first = await uow.indicators.add(new_indicator(seed.alice, "dup.example"))
        with pytest.raises(Conflict):
            await uow.indicators.add(new_indicator(seed.bob, "dup.example", tags=("x",)))
        # same value, other type: allowed
        other = await uow.indicators.add(new_indicator(seed.bob, "dup.example", type=IOCType.URL))
        await uow.audit.append("submit", at=T0, platform=Platform.CONSOLE, member_id=seed.alice.id,
                               indicator_id=first.id)
        await uow.commit()
    async with store.unit_of_work() as uow:
        found = await uow.indicators.by_values([(IOCType.DOMAIN, "dup.example"), (IOCType.URL, "dup.example")])
        assert [i.id for i in found] == [first.id, other.id]
        assert found[0].submitter_id == seed.alice.id and found[0].tags == ()


async def test_duplicate_stix_id_is_a_conflict(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        first = await uow.indicators.add(new_indicator(seed.alice))
        with pytest.raises(Conflict):
            await uow.indicators.add(replace(new_indicator(seed.alice), stix_id=first.stix_id))
        await uow.commit()


async def test_uncommitted_add_is_rolled_back(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.indicators.add(new_indicator(seed.alice, "gone.example"))
    async with store.unit_of_work() as uow:
        assert await uow.indicators.by_values([(IOCType.DOMAIN, "gone.example")]) == []


async def test_by_values_many_pairs_in_chunks(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        for i in range(0, 1200, 20):  # every 20th value exists, spread over the 500-pair chunks
            await uow.indicators.add(new_indicator(seed.alice, f"h{i}.example"))
        await uow.indicators.add(new_indicator(seed.alice, "10.0.0.1", type=IOCType.IPV4))
        await uow.commit()
    wanted = [(IOCType.DOMAIN, f"h{i}.example") for i in range(1200)]
    wanted += [(IOCType.IPV4, "10.0.0.1"), (IOCType.IPV4, "h0.example"), (IOCType.DOMAIN, "10.0.0.1")]
    async with store.unit_of_work() as uow:
        found = await uow.indicators.by_values(wanted)
        assert len(found) == 61
        assert {(i.type, i.value) for i in found} == (
            {(IOCType.DOMAIN, f"h{i}.example") for i in range(0, 1200, 20)} | {(IOCType.IPV4, "10.0.0.1")}
        )
        assert await uow.indicators.by_values([]) == []


async def test_transition_is_compare_and_set(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.commit()
    later = T0 + timedelta(hours=1)
    async with store.unit_of_work() as uow:
        assert await uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, "looks bad", later)
        # second approval: the row is no longer pending
        assert not await uow.indicators.transition(ind.id, [Status.PENDING], Status.REJECTED, "no", later)
        assert not await uow.indicators.transition(999, [Status.PENDING], Status.APPROVED, "", later)
        await uow.commit()
    async with store.unit_of_work() as uow:
        got = await uow.indicators.get(ind.id)
        assert got is not None
        assert (got.status, got.status_reason, got.modified_at) == (Status.APPROVED, "looks bad", later)
        assert got.created_at == ind.created_at
        assert await uow.indicators.transition(ind.id, (Status.APPROVED,), Status.REVOKED, "fp", later)
        # not committed: rolled back
    async with store.unit_of_work() as uow:
        got = await uow.indicators.get(ind.id)
        assert got is not None and got.status is Status.APPROVED


async def test_touch_moves_last_seen_forward_only(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.indicators.touch(ind.id, T0 + timedelta(days=2))
        await uow.indicators.touch(ind.id, T0 + timedelta(days=1))
        await uow.commit()
    async with store.unit_of_work() as uow:
        got = await uow.indicators.get(ind.id)
        assert got is not None
        assert got.first_seen == T0 and got.last_seen == T0 + timedelta(days=2)


async def test_expire_due(store: Store, seed: Seed) -> None:
    now = T0 + timedelta(days=10)
    async with store.unit_of_work() as uow:
        add = uow.indicators.add
        past_pending = await add(new_indicator(seed.alice, valid_until=now - timedelta(seconds=1)))
        past_approved = await add(new_indicator(seed.alice, valid_until=now))
        past_rejected = await add(new_indicator(seed.alice, valid_until=now - timedelta(days=1)))
        future = await add(new_indicator(seed.alice, valid_until=now + timedelta(seconds=1)))
        forever = await add(new_indicator(seed.alice, valid_until=None))
        await uow.indicators.transition(past_approved.id, [Status.PENDING], Status.APPROVED, "", T0)
        await uow.indicators.transition(past_rejected.id, [Status.PENDING], Status.REJECTED, "no", T0)
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.indicators.expire_due(now) == [past_pending.id, past_approved.id]
        assert await uow.indicators.expire_due(now) == []
        await uow.commit()
    async with store.unit_of_work() as uow:
        statuses = {i: (await uow.indicators.get(i)).status  # type: ignore[union-attr]
                    for i in (past_pending.id, past_approved.id, past_rejected.id, future.id, forever.id)}
        expired = await uow.indicators.get(past_pending.id)
    assert statuses == {past_pending.id: Status.EXPIRED, past_approved.id: Status.EXPIRED,
                        past_rejected.id: Status.REJECTED, future.id: Status.PENDING, forever.id: Status.PENDING}
    assert expired is not None and expired.modified_at == now and expired.status_reason


async def test_stats(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        a = await uow.indicators.add(new_indicator(seed.alice))
        await uow.indicators.add(new_indicator(seed.alice))
        await uow.indicators.add(new_indicator(seed.alice, "1.2.3.4", type=IOCType.IPV4))
        await uow.indicators.transition(a.id, [Status.PENDING], Status.APPROVED, "", T0)
        await uow.votes.upsert(a.id, seed.bob.id, seed.cert.id, Verdict.CONFIRM, "", T0)
        await uow.sightings.add(a.id, seed.cert.id, seed.bob.id, 3, T0, "")
        await uow.commit()
    async with store.unit_of_work() as uow:
        stats = await uow.indicators.stats()
    assert stats.by_status == {"approved": 1, "pending": 2}
    assert stats.by_type == {"domain": 2, "ipv4": 1}
    assert (stats.organizations, stats.members, stats.votes, stats.sightings) == (2, 5, 1, 1)


# --- search -------------------------------------------------------------------------------------------


async def _search(store: Store, flt: SearchFilter = SearchFilter(), view: Visibility = EVERYTHING,
                  page: Page = Page(1, 100)) -> tuple[list[str], int]:
    async with store.unit_of_work() as uow:
        rows, total = await uow.indicators.search(flt, view, page)
    return [r.value for r in rows], total


async def test_search_newest_first_with_pages(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        for i in range(25):
            await uow.indicators.add(new_indicator(seed.alice, f"p{i:02}.example"))
        await uow.commit()
    first, total = await _search(store, page=Page(1, 10))
    assert total == 25 and first == [f"p{i:02}.example" for i in range(24, 14, -1)]
    third, total = await _search(store, page=Page(3, 10))
    assert total == 25 and third == [f"p{i:02}.example" for i in range(4, -1, -1)]
    beyond, total = await _search(store, page=Page(4, 10))
    assert (beyond, total) == ([], 25)
    oldest, total = await _search(store, SearchFilter(oldest_first=True), page=Page(2, 10))
    assert total == 25 and oldest == [f"p{i:02}.example" for i in range(10, 20)]


async def test_search_filters(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        add = uow.indicators.add
        await add(new_indicator(seed.alice, "a.example", tags=("phishing", "bank")))
        b = await add(new_indicator(seed.alice, "b.example", tags=("phishing",), note="Seen in 50% of_mails"))
        await add(new_indicator(seed.bob, "1.1.1.1", type=IOCType.IPV4, tags=("c2",), tlp=TLP.AMBER))
        await add(new_indicator(seed.bob, "anon.example", anonymous=True, tags=("bank",)))
        await uow.indicators.transition(b.id, [Status.PENDING], Status.APPROVED, "", T0)
        await uow.commit()

    assert (await _search(store, SearchFilter(types=(IOCType.IPV4,)))) == (["1.1.1.1"], 1)
    assert (await _search(store, SearchFilter(tags=("phishing",))))[0] == ["b.example", "a.example"]
    assert (await _search(store, SearchFilter(tags=("Phishing", "bank"))))[0] == ["a.example"]
    assert (await _search(store, SearchFilter(tags=("nope",)))) == ([], 0)
    assert (await _search(store, SearchFilter(statuses=(Status.APPROVED,))))[0] == ["b.example"]
    assert (await _search(store, SearchFilter(statuses=(Status.PENDING, Status.APPROVED))))[1] == 4
    assert (await _search(store, SearchFilter(tlp=TLP.AMBER)))[0] == ["1.1.1.1"]
    assert (await _search(store, SearchFilter(text="B.EX")))[0] == ["b.example"]
    assert (await _search(store, SearchFilter(text="seen in")))[0] == []  # the note is not searched
    assert (await _search(store, SearchFilter(text="%")))[0] == []  # LIKE wildcards are escaped
    assert (await _search(store, SearchFilter(text="_")))[0] == []
    assert (await _search(store, SearchFilter(text="1.1.")))[0] == ["1.1.1.1"]
    assert (await _search(store, SearchFilter(since=T0 - timedelta(days=1))))[1] == 4
    assert (await _search(store, SearchFilter(since=T0 + timedelta(days=36500))))[1] == 0

    # By organization name (case-insensitive); anonymous rows are found only by their own org's members.
    bank_view = replace(EVERYTHING, org_id=seed.bank.id, member_id=seed.alice.id)
    cert_view = replace(EVERYTHING, org_id=seed.cert.id, member_id=seed.bob.id)
    assert (await _search(store, SearchFilter(org_name="national cert"), bank_view))[0] == ["1.1.1.1"]
    assert (await _search(store, SearchFilter(org_name="National CERT"), cert_view))[0] == [
        "anon.example", "1.1.1.1"]
    assert (await _search(store, SearchFilter(org_name="first bank", types=(IOCType.DOMAIN,)), bank_view))[
        0] == ["b.example", "a.example"]
    assert (await _search(store, SearchFilter(org_name="nobody"))) == ([], 0)


# ---------------------------------------------------------------- one item per value and visibility scope


async def test_a_value_is_unique_per_visibility_scope(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        held = [
            await uow.indicators.add(new_indicator(seed.alice, "scoped.example", tlp=TLP.GREEN)),
            await uow.indicators.add(new_indicator(seed.alice, "scoped.example", tlp=TLP.AMBER_STRICT)),
            await uow.indicators.add(new_indicator(seed.bob, "scoped.example", tlp=TLP.AMBER_STRICT)),
            await uow.indicators.add(new_indicator(seed.alice, "scoped.example", tlp=TLP.RED)),
            await uow.indicators.add(new_indicator(seed.amy, "scoped.example", tlp=TLP.RED)),  # same org, other member
        ]
        refused = [  # each lands in a scope held already
            new_indicator(seed.bob, "scoped.example", tlp=TLP.AMBER),  # shared: CLEAR, GREEN and AMBER are one
            new_indicator(seed.amy, "scoped.example", tlp=TLP.AMBER_STRICT),  # alice's organization
            new_indicator(seed.alice, "scoped.example", tlp=TLP.RED),
        ]
        for new in refused:
            with pytest.raises(Conflict, match="in its scope"):
                await uow.indicators.add(new)
        with pytest.raises(Conflict):  # the bulk path too, inserting none of the batch
            await uow.exchange.add_indicators([new_indicator(seed.mod, "fresh.example"), refused[0]])
        await uow.commit()
    async with store.unit_of_work() as uow:
        found = await uow.indicators.by_values([(IOCType.DOMAIN, "scoped.example"), (IOCType.DOMAIN, "fresh.example")])
        assert [i.id for i in found] == [i.id for i in held]
        scopes = (await uow.session.execute(
            select(IndicatorRow.scope).where(IndicatorRow.value == "scoped.example").order_by(IndicatorRow.id)
        )).scalars().all()
    assert scopes == ["shared", f"org:{seed.bank.id}", f"org:{seed.cert.id}", f"member:{seed.alice.id}",
                      f"member:{seed.amy.id}"]


async def test_touch_many_moves_last_seen_forward_only(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        a = await uow.indicators.add(new_indicator(seed.alice, seen_at=T0))
        b = await uow.indicators.add(new_indicator(seed.alice, seen_at=T0 + timedelta(days=2)))
        await uow.indicators.touch_many([a.id, b.id, a.id], T0 + timedelta(days=1))
        await uow.indicators.touch_many([], T0)
        await uow.commit()
        assert [i.last_seen for i in sorted(await uow.indicators.by_ids([a.id, b.id]), key=lambda i: i.id)] == [
            T0 + timedelta(days=1), T0 + timedelta(days=2)]


@pytest.fixture
async def fresh_url(database_url: str, tmp_path) -> AsyncIterator[str]:
    """An empty database of this backend that no migration has touched yet."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"coalition_mig_{secrets.token_hex(5)}"
    admin = create_async_engine(url.set(drivername="postgresql+asyncpg"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_the_migration_backfills_scopes_and_keeps_the_latest_sighting_of_a_day(fresh_url: str) -> None:
    """0005 on a database with rows from before it (on SQLite the tables are rebuilt by batch mode)."""
    url = fresh_url
    await upgrade(url, "0004")
    engine = make_engine(url)
    pg = engine.dialect.name == "postgresql"
    zone, false = ("+00", "false") if pg else ("", "0")
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO organizations (id, name, name_key, sector, trust_level, created_at) VALUES "
            f"(1, 'A', 'a', '', 50, '2026-01-01 00:00:00{zone}'), (2, 'B', 'b', '', 50, '2026-01-01 00:00:00{zone}')"))
        await conn.execute(text(
            "INSERT INTO members (id, org_id, name, name_key, role, created_at) VALUES "
            f"(1, 1, 'a1', 'a1', 'member', '2026-01-01 00:00:00{zone}'), "
            f"(2, 2, 'b1', 'b1', 'member', '2026-01-01 00:00:00{zone}')"))
        for n, (tlp, rank, member, org) in enumerate(
                [("GREEN", 1, 1, 1), ("AMBER+STRICT", 3, 2, 2), ("RED", 4, 1, 1), ("CLEAR", 0, 2, 2)], start=1):
            at = f"'2026-01-01 00:00:00{zone}'"
            await conn.execute(text(
                "INSERT INTO indicators (id, stix_id, type, value, status, tlp, tlp_rank, confidence, note, "
                "submitter_id, org_id, anonymous, first_seen, last_seen, created_at, modified_at, status_reason) "
                f"VALUES ({n}, 'indicator--{n}', 'domain', 'v{n}.example', 'pending', '{tlp}', {rank}, 50, '', "
                f"{member}, {org}, {false}, {at}, {at}, {at}, {at}, '')"))
        await conn.execute(text(
            "INSERT INTO sightings (id, indicator_id, org_id, member_id, count, seen_at, note) VALUES "
            f"(1, 1, 2, 2, 500, '2026-01-02 08:00:00{zone}', 'first'), "
            f"(2, 1, 2, 2, 500, '2026-01-02 23:59:00{zone}', 'replayed'), "
            f"(3, 1, 2, 2, 7, '2026-01-03 00:01:00{zone}', 'next day')"))
    await engine.dispose()
    await upgrade(url)
    engine = make_engine(url)
    async with engine.connect() as conn:
        scopes = (await conn.execute(text("SELECT scope FROM indicators ORDER BY id"))).scalars().all()
        sightings = (await conn.execute(text(
            "SELECT id, count, note, CAST(seen_day AS VARCHAR(10)) FROM sightings ORDER BY id"))).all()
    await engine.dispose()
    assert scopes == ["shared", "org:2", "member:1", "shared"]
    assert [tuple(r) for r in sightings] == [(2, 500, "replayed", "2026-01-02"), (3, 7, "next day", "2026-01-03")]


async def _feed_dates_after_upgrading_from(url: str, revision: str, rows: str, *reads: Any) -> list[dict[int, Any]]:
    """A database at `revision` holding an organization, a member, two approved indicators (#1 last changed on
    2026-01-05, #2 on 2026-01-01) and the rows of `rows` (SQL, "{zone}" after each time), upgraded to the head:
    what each of `reads` (an (id, date) select) then finds."""
    await upgrade(url, revision)
    engine = make_engine(url)
    zone = "+00" if engine.dialect.name == "postgresql" else ""
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO organizations (id, name, name_key, sector, trust_level, created_at) "
                                f"VALUES (1, 'A', 'a', '', 50, '2026-01-01 00:00:00{zone}')"))
        await conn.execute(text("INSERT INTO members (id, org_id, name, name_key, role, created_at) "
                                f"VALUES (1, 1, 'a1', 'a1', 'member', '2026-01-01 00:00:00{zone}')"))
        for n, changed in ((1, "2026-01-05"), (2, "2026-01-01")):
            await conn.execute(text(
                "INSERT INTO indicators (id, stix_id, type, value, scope, status, tlp, tlp_rank, confidence, note, "
                "submitter_id, org_id, first_seen, last_seen, created_at, modified_at, status_reason, refs) "
                f"VALUES ({n}, 'indicator--{n}', 'domain', 'v{n}.example', 'shared', 'approved', 'GREEN', 1, 50, "
                f"'', 1, 1, '2026-01-01 00:00:00{zone}', '2026-01-01 00:00:00{zone}', '2026-01-01 00:00:00{zone}', "
                f"'{changed} 00:00:00{zone}', '', '')"))
        for statement in rows.format(zone=zone).split(";"):
            await conn.execute(text(statement))
    await engine.dispose()
    await upgrade(url)
    engine = make_engine(url)
    async with engine.connect() as conn:
        found = [dict((await conn.execute(read)).all()) for read in reads]
    await engine.dispose()
    return found


async def test_the_migration_dates_each_comment_in_the_feed_with_its_indicator(fresh_url: str) -> None:
    """0019 on a database with comments from before it: a comment made before its indicator's last change is added
    to the TAXII feed at that change, one made after it at its own time."""
    (added,) = await _feed_dates_after_upgrading_from(
        fresh_url, "0018", "INSERT INTO comments (id, indicator_id, member_id, text, created_at) VALUES "
        "(1, 1, 1, 'before its approval', '2026-01-02 00:00:00{zone}'), "
        "(2, 2, 1, 'after it', '2026-01-03 00:00:00{zone}')",
        select(CommentRow.id, CommentRow.added_at))
    assert added == {1: datetime(2026, 1, 5, tzinfo=UTC), 2: datetime(2026, 1, 3, tzinfo=UTC)}


async def test_the_migration_dates_each_vote_and_sighting_in_the_feed_with_its_indicator(fresh_url: str) -> None:
    """0020 on a database with votes and sightings from before it: one made before its indicator's last change (a
    vote while the item was pending) is added to the TAXII feed at that change, one made after it at its own time."""
    votes, sightings = await _feed_dates_after_upgrading_from(
        fresh_url, "0019",
        "INSERT INTO votes (id, indicator_id, member_id, org_id, verdict, reason, created_at, updated_at) VALUES "
        "(1, 1, 1, 1, 'confirm', '', '2026-01-02 00:00:00{zone}', '2026-01-02 00:00:00{zone}'), "
        "(2, 2, 1, 1, 'confirm', '', '2026-01-02 00:00:00{zone}', '2026-01-03 00:00:00{zone}');"
        "INSERT INTO sightings (id, indicator_id, org_id, member_id, count, seen_at, seen_day, revision, note) VALUES "
        "(1, 1, 1, 1, 3, '2026-01-02 00:00:00{zone}', '2026-01-02', 0, ''), "
        "(2, 2, 1, 1, 4, '2026-01-04 00:00:00{zone}', '2026-01-04', 0, '')",
        select(VoteRow.id, VoteRow.added_at), select(SightingRow.id, SightingRow.added_at))
    assert votes == {1: datetime(2026, 1, 5, tzinfo=UTC), 2: datetime(2026, 1, 3, tzinfo=UTC)}
    assert sightings == {1: datetime(2026, 1, 5, tzinfo=UTC), 2: datetime(2026, 1, 4, tzinfo=UTC)}
