"""Pivots in the store (issue 12) on both backends: the keys every insert path writes, the migration's backfill,
the range queries compared with `ipaddress`'s own answers, and counts of only what the viewer may see."""

from __future__ import annotations

import ipaddress
import itertools
from datetime import UTC, datetime

from sqlalchemy import insert, select, text

from bot import rules
from bot.domain import Page, SearchFilter, Verdict, Visibility
from bot.ioc import IOCType, Observable
from bot.pivots import COUNT_MAX, Pivot, Relation, plan
from bot.tlp import TLP
from storage.migrate import downgrade, upgrade
from storage.models import IndicatorRow
from storage.pivot_keys import pivot_keys
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator

EVERYTHING = Visibility(max_shared_tlp=TLP.AMBER, org_id=0, member_id=0, amber_strict_own_org=False,
                        red_own=False, red_all=True)
SHARED_ONLY = Visibility(max_shared_tlp=TLP.AMBER, org_id=0, member_id=0, amber_strict_own_org=False,
                         red_own=False, red_all=False)

NETWORKS = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.128/25", "10.1.3.0/24", "10.2.0.0/16",
            "10.0.0.0/24", "192.0.2.0/24", "0.0.0.0/0", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64",
            "::/0", "2001:db9::/32"]
IPS = ["10.1.2.3", "10.1.2.200", "10.1.3.9", "10.255.255.255", "10.0.0.0", "11.0.0.0", "192.0.2.1",
       "2001:db8::1", "2001:db8:1:2::5", "2001:db9::1", "::1"]
URLS = ["http://10.1.2.3/a", "https://[2001:db8:1:2::5]:8443/x", "http://192.0.2.1:8080/y"]


async def _keys(store: Store) -> dict[str, tuple[str | None, str | None, str | None]]:
    async with store.engine.connect() as conn:
        rows = await conn.execute(select(IndicatorRow.value, IndicatorRow.net_first, IndicatorRow.net_last,
                                         IndicatorRow.host_rev))
        return {r[0]: tuple(r[1:]) for r in rows}


async def test_every_insert_path_writes_the_keys(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.indicators.add(new_indicator(seed.alice, "login.northbank.example"))
        await uow.indicators.add(new_indicator(seed.alice, "198.51.100.0/24", type=IOCType.CIDR))
        await uow.exchange.add_indicators([
            new_indicator(seed.bob, "http://198.51.100.7:8080/x", type=IOCType.URL),
            new_indicator(seed.bob, "ceo@mail.northbank.example", type=IOCType.EMAIL),
            new_indicator(seed.bob, "2001:db8::1", type=IOCType.IPV6),
            new_indicator(seed.bob, "44d88612fea8a8f36de82e1278abb02f", type=IOCType.MD5),
        ])
        await uow.commit()
    assert await _keys(store) == {
        "login.northbank.example": (None, None, "example.northbank.login."),
        "198.51.100.0/24": ("4c6336400", "4c63364ff", None),
        "http://198.51.100.7:8080/x": ("4c6336407", "4c6336407", None),
        "ceo@mail.northbank.example": (None, None, "example.northbank.mail."),
        "2001:db8::1": ("6" + "20010db8" + "0" * 23 + "1",) * 2 + (None,),
        "44d88612fea8a8f36de82e1278abb02f": (None, None, None),
    }


async def test_the_migration_backfills_existing_rows(database_url: str, seed: Seed) -> None:
    """Rows held before 0010 (back at 0009 the columns are gone) get their keys from the upgrade, in batches."""
    from storage.uow import create_store

    values = [(IOCType.DOMAIN, f"h{n}.northbank.example") for n in range(2100)] + [
        (IOCType.CIDR, "198.51.100.0/24"), (IOCType.URL, "https://[2001:db8::1]/p"), (IOCType.SHA256, "a" * 64)]
    store = create_store(database_url)
    try:
        async with store.unit_of_work() as uow:
            await uow.exchange.add_indicators([new_indicator(seed.alice, v, type=t) for t, v in values])
            await uow.commit()
        expected = await _keys(store)
    finally:
        await store.close()
    await downgrade(database_url, "0009")
    await upgrade(database_url, "0010")
    await upgrade(database_url)  # and on to the head, as the session's PostgreSQL database must stay
    store = create_store(database_url)
    try:
        backfilled = await _keys(store)
    finally:
        await store.close()
    assert backfilled == expected and len(backfilled) == len(values)
    assert backfilled["h2099.northbank.example"] == (None, None, "example.northbank.h2099.")
    assert backfilled["https://[2001:db8::1]/p"][0] == "620010db8" + "0" * 23 + "1"


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value.split("//")[-1].split("/")[0].rsplit(":", 1)[0].strip("[]")
                                if value.startswith("http") else value, strict=False)


async def test_within_matches_what_ipaddress_says_overlaps(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.exchange.add_indicators(
            [new_indicator(seed.alice, v, type=IOCType.CIDR) for v in NETWORKS]
            + [new_indicator(seed.alice, v, type=IOCType(f"ipv{ipaddress.ip_address(v).version}")) for v in IPS]
            + [new_indicator(seed.alice, v, type=IOCType.URL) for v in URLS])
        await uow.commit()
    held = {v: _network(v) for v in NETWORKS + IPS + URLS}
    assert str(held["https://[2001:db8:1:2::5]:8443/x"]) == "2001:db8:1:2::5/128"
    async with store.unit_of_work(read_only=True) as uow:
        for asked in [*NETWORKS, *IPS, "10.1.2.0/23", "172.16.0.0/12"]:
            target = ipaddress.ip_network(asked, strict=False)
            rows, total = await uow.indicators.search(SearchFilter(within=asked), EVERYTHING, Page(1, 100))
            expected = {v for v, n in held.items() if n.version == target.version and n.overlaps(target)}
            assert {r.value for r in rows} == expected and total == len(expected), asked
            # the pivots of a lookup: networks containing it, and what lies inside it
            [(containing, _, _)] = await uow.indicators.related(
                [Pivot(Relation.CONTAINING, target.compressed, (IOCType.CIDR,), "inside")], EVERYTHING, 100)
            assert {r.value for r in containing} == {
                v for v in NETWORKS if held[v].version == target.version and target.subnet_of(held[v])}, asked
            [(inside, _, _)] = await uow.indicators.related(
                [Pivot(Relation.INSIDE, target.compressed, tuple(IOCType), "inside")], EVERYTHING, 100)
            assert {r.value for r in inside} == {
                v for v, n in held.items() if n.version == target.version and n.subnet_of(target)}, asked


async def test_domain_is_the_domain_and_everything_under_it(store: Store, seed: Seed) -> None:
    held = {
        "northbank.example": IOCType.DOMAIN, "login.northbank.example": IOCType.DOMAIN,
        "a.b.login.northbank.example": IOCType.DOMAIN, "https://login.northbank.example/x": IOCType.URL,
        "http://northbank.example:8080/": IOCType.URL, "ceo@northbank.example": IOCType.EMAIL,
        "it@sub.northbank.example": IOCType.EMAIL,
        # beside it, not under it
        "notnorthbank.example": IOCType.DOMAIN, "northbank.example.evil.test": IOCType.DOMAIN,
        "northbank-example.test": IOCType.DOMAIN, "northbank.examplex": IOCType.DOMAIN,
        "https://northbank.example.evil.test/": IOCType.URL, "x@northbank.examples": IOCType.EMAIL,
        "example": IOCType.DOMAIN,
    }
    async with store.unit_of_work() as uow:
        await uow.exchange.add_indicators([new_indicator(seed.alice, v, type=t) for v, t in held.items()])
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        rows, total = await uow.indicators.search(SearchFilter(domain="northbank.example"), EVERYTHING, Page(1, 50))
        assert {r.value for r in rows} == set(itertools.islice(held, 7)) and total == 7
        rows, _ = await uow.indicators.search(SearchFilter(domain="login.northbank.example"), EVERYTHING,
                                              Page(1, 50))
        assert {r.value for r in rows} == {"login.northbank.example", "a.b.login.northbank.example",
                                           "https://login.northbank.example/x"}
        [(parents, total, _)] = await uow.indicators.related(
            [Pivot(Relation.PARENTS, "a.b.login.northbank.example", (IOCType.DOMAIN,), "parent domains")],
            EVERYTHING, 5)
        assert [r.value for r in parents] == ["example", "northbank.example", "login.northbank.example"]  # by name
        assert total == 3


async def test_related_counts_only_what_the_viewer_may_see(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        for n in range(8):
            await uow.indicators.add(new_indicator(seed.alice, f"https://northbank.example/{n}", type=IOCType.URL))
        await uow.indicators.add(new_indicator(seed.alice, "https://northbank.example/red", type=IOCType.URL,
                                               tlp=TLP.RED))
        await uow.indicators.add(new_indicator(seed.alice, "vpn.northbank.example", tlp=TLP.RED))
        await uow.commit()
    _, subdomains, urls, _ = plan(Observable(IOCType.DOMAIN, "northbank.example"))
    async with store.unit_of_work(read_only=True) as uow:
        (rows, total, _), (none, zero, nothing) = await uow.indicators.related([urls, subdomains], SHARED_ONLY, 5)
        assert total == 8 and [r.value for r in rows] == [f"https://northbank.example/{n}" for n in range(5)]
        assert (none, zero, nothing) == ([], 0, {})
        (rows, total, _), (subs, one, _) = await uow.indicators.related([urls, subdomains], EVERYTHING, 5)
        assert total == 9 and [r.value for r in rows] == [f"https://northbank.example/{n}" for n in range(5)]
        assert one == 1 and [r.value for r in subs] == ["vpn.northbank.example"]


async def test_related_items_carry_their_confirming_organizations(store: Store, seed: Seed) -> None:
    """Counted as the cards count them (bot.results.Tally.confirm_orgs): distinct organizations confirming now;
    a false positive or a second member of the same organization adds none."""
    async with store.unit_of_work() as uow:
        ids = [(await uow.indicators.add(new_indicator(seed.alice, f"https://northbank.example/{n}",
                                                       type=IOCType.URL))).id for n in range(3)]
        votes = [(ids[0], seed.alice, Verdict.CONFIRM), (ids[0], seed.amy, Verdict.CONFIRM),
                 (ids[0], seed.bob, Verdict.CONFIRM), (ids[1], seed.bob, Verdict.FALSE_POSITIVE),
                 (ids[1], seed.alice, Verdict.CONFIRM)]
        for indicator_id, member, verdict in votes:
            await uow.votes.upsert(indicator_id, member.id, member.org_id, verdict, "", T0)
        await uow.commit()
    _, _, urls, _ = plan(Observable(IOCType.DOMAIN, "northbank.example"))
    async with store.unit_of_work(read_only=True) as uow:
        [(rows, total, confirm_orgs)] = await uow.indicators.related([urls], EVERYTHING, 5)
        tallies = await uow.votes.tallies(ids)
    assert total == 3 and [r.id for r in rows] == ids and confirm_orgs == {ids[0]: 2, ids[1]: 1, ids[2]: 0}
    assert confirm_orgs == {i: tallies[i].confirm_orgs for i in ids}


async def test_counts_stop_past_the_most_shown(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.exchange.add_indicators([new_indicator(seed.alice, f"10.0.{n >> 8}.{n & 255}", type=IOCType.IPV4)
                                           for n in range(COUNT_MAX + 5)])
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        [(rows, total, _)] = await uow.indicators.related(
            [Pivot(Relation.INSIDE, "10.0.0.0/16", (IOCType.IPV4,), "contains")], EVERYTHING, 5)
        assert total == COUNT_MAX + 1 and [r.value for r in rows] == [f"10.0.0.{n}" for n in range(5)]
        assert (await uow.indicators.search(SearchFilter(within="10.0.0.0/16"), EVERYTHING, Page(1, 1)))[1] == \
            COUNT_MAX + 5  # a search counts them all


async def test_keys_compare_bytewise_whatever_the_locale(store: Store, seed: Seed, backend: str) -> None:
    """'-' sorts before '.', and hex digits before letters, in the column's own collation (C on PostgreSQL)."""
    async with store.engine.begin() as conn:
        if backend == "postgresql":
            collations = (await conn.execute(text(
                "SELECT column_name, collation_name FROM information_schema.columns WHERE table_name = 'indicators' "
                "AND column_name IN ('net_first', 'net_last', 'host_rev') ORDER BY column_name"))).all()
            assert [tuple(r) for r in collations] == [("host_rev", "C"), ("net_first", "C"), ("net_last", "C")]
        now = datetime(2026, 1, 1, tzinfo=UTC)
        await conn.execute(insert(IndicatorRow), [
            {"stix_id": f"indicator--{n}", "type": "domain", "value": v, "status": "pending", "tlp": "GREEN",
             "tlp_rank": 1, "confidence": 50, "submitter_id": seed.alice.id, "org_id": seed.alice.org_id,
             "first_seen": now, "last_seen": now, "created_at": now, "modified_at": now}
            for n, v in enumerate(["a-b.example", "a.example", "A.example"])])
        rows = await conn.execute(select(IndicatorRow.host_rev).where(IndicatorRow.host_rev.is_not(None))
                                  .order_by(IndicatorRow.host_rev))
        assert [r[0] for r in rows] == ["example.a-b.", "example.a.", "example.a."]
    assert pivot_keys("ipv4", "10.0.0.10")[0] < pivot_keys("ipv4", "10.0.0.255")[0] < pivot_keys("ipv4", "10.0.1.0")[0]


async def test_pivots_see_exactly_what_search_sees_for_every_viewer_and_place(store: Store, seed: Seed) -> None:
    """The pivots bind the visibility rule as parameters (one cached statement for every viewer); search applies
    visibility_clause. For every member, in private and in channels of each ceiling, both find the same items."""
    async with store.unit_of_work() as uow:
        for who in (seed.alice, seed.bob, seed.mod):
            for tlp in TLP:
                await uow.indicators.add(new_indicator(
                    who, f"https://{tlp.value.lower().replace('+', '-')}.{who.name.lower()}.northbank.example/",
                    type=IOCType.URL, tlp=tlp))
                await uow.indicators.add(new_indicator(who, f"10.9.{who.id}.{tlp.rank}", type=IOCType.IPV4, tlp=tlp))
        await uow.commit()
    urls = Pivot(Relation.UNDER, "northbank.example", (IOCType.URL,), "URLs on it")
    ips = Pivot(Relation.INSIDE, "10.9.0.0/16", (IOCType.IPV4,), "contains")
    seen = set()
    async with store.unit_of_work(read_only=True) as uow:
        for member in (seed.alice, seed.amy, seed.bob, seed.mod, seed.admin):
            for private, ceiling in [(True, TLP.CLEAR), *((False, c) for c in (TLP.CLEAR, TLP.GREEN, TLP.AMBER))]:
                view = rules.visibility(member, private=private, ceiling=ceiling)
                (by_url, n_url, _), (by_ip, n_ip, _) = await uow.indicators.related([urls, ips], view, 50)
                searched, _ = await uow.indicators.search(SearchFilter(domain="northbank.example"), view, Page(1, 50))
                within, _ = await uow.indicators.search(SearchFilter(within="10.9.0.0/16"), view, Page(1, 50))
                assert sorted(i.id for i in by_url) == sorted(i.id for i in searched) and n_url == len(searched)
                assert sorted(i.id for i in by_ip) == sorted(i.id for i in within) and n_ip == len(within)
                seen.add(n_url)
    assert len(seen) >= 4  # the views differ: the comparison is not between empty answers
