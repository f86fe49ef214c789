"""Blocklists over HTTP (issue 14): each list with and without a key, never a RED or another organization's
AMBER+STRICT item, revalidation with ETag and Last-Modified, filters, formats; on SQLite and PostgreSQL."""

from __future__ import annotations

import ipaddress
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from sqlalchemy import insert

from adapters.config import TaxiiSettings
from adapters.taxii import create_app
from bot import exchange
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Identity, Platform, Role
from bot.tlp import TLP
from storage.models import IndicatorRow
from storage.uow import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


async def _seed(store: Store, dispatcher: Dispatcher) -> dict[str, str]:
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("Northbank", "finance", 70)
        vendor = await uow.organizations.add("Sentinel Security", "security", 80)
        for name, org, role in (("alice", bank, Role.MEMBER), ("bob", vendor, Role.MEMBER),
                                ("mod", vendor, Role.MODERATOR), ("mod2", bank, Role.MODERATOR)):
            member = await uow.members.add(org.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, "t", name))
        keys = {org: (await exchange.create_api_key(uow, org, "firewall", created_by=None,
                                                    now=dispatcher.clock())).key
                for org in ("Northbank", "Sentinel Security")}
        await uow.commit()
    return keys


class Feeds:
    def __init__(self, base: str, keys: dict[str, str], clock: Clock, dispatcher: Dispatcher) -> None:
        self.base, self.keys, self.clock, self.dispatcher = base, keys, clock, dispatcher

    async def say(self, who: str, text: str) -> None:
        reply = await self.dispatcher.handle_text(text, Actor(Platform.CONSOLE, "t", who, "dm", private=True))
        assert "Error" not in type(reply.result).__name__, reply.result

    async def get(self, path: str, org: str | None = "Sentinel Security",
                  headers: dict[str, str] | None = None) -> tuple[int, str, CIMultiDict[str]]:
        sent = dict(headers or {})
        if org:
            sent["Authorization"] = f"Bearer {self.keys[org]}"
        async with aiohttp.ClientSession() as http, http.get(self.base + path, headers=sent) as response:
            return response.status, await response.text(), CIMultiDict(response.headers)


async def _serve(store: Store, **settings: object):
    clock = Clock()
    dispatcher = Dispatcher(store.unit_of_work, clock=clock)
    keys = await _seed(store, dispatcher)
    config = TaxiiSettings(enabled=True, host="127.0.0.1", port=0, **settings)  # type: ignore[arg-type]
    runner = web.AppRunner(create_app(store.unit_of_work, dispatcher, config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, Feeds(f"http://127.0.0.1:{port}", keys, clock, dispatcher)


@pytest.fixture
async def feeds(store: Store):
    runner, world = await _serve(store)
    await world.say("bob", "submit 198.51.100.7 198.51.100.0/24 2001:db8::1 2001:db8:1::/48 evil-one.example "
                           "hxxp://evil-two[.]example/gate.php tlp:green tags:c2")
    await world.say("bob", "submit " + "a" * 64 + " " + "b" * 32 + " tlp:amber")
    await world.say("bob", "submit pending-only.example tlp:green")  # never approved: in no list
    await world.say("alice", "submit strict-secret.example 203.0.113.9 tlp:amber+strict")
    await world.say("alice", "submit red-secret.example tlp:red")
    await world.say("mod", "approve " + " ".join(f"#{n}" for n in range(1, 9)))
    await world.say("mod2", "approve #10 #11 #12")
    try:
        yield world
    finally:
        await runner.cleanup()


async def test_each_list_holds_the_approved_values_of_its_type(feeds: Feeds) -> None:
    expected = {
        "ipv4.txt": ["198.51.100.7", "198.51.100.0/24"],
        "ipv6.txt": ["2001:db8::1", "2001:db8:1::/48"],
        "domain.txt": ["evil-one.example"],
        "url.txt": ["http://evil-two.example/gate.php"],
        "sha256.txt": ["a" * 64],
        "md5.txt": ["b" * 32],
    }
    for name, values in expected.items():
        status, body, headers = await feeds.get(f"/feeds/{name}")
        assert status == 200 and headers["Content-Type"].startswith("text/plain"), (name, status, body)
        assert body.splitlines() == values, name
    status, body, _ = await feeds.get("/feeds/all.csv")
    rows = body.splitlines()
    assert rows[0] == "id,type,value,tlp" and len(rows) == 1 + 8
    assert "6,url,http://evil-two.example/gate.php,green" in rows and "7,sha256," + "a" * 64 + ",amber" in rows


async def test_no_list_ever_holds_a_red_item_or_another_organizations_amber_strict(feeds: Feeds) -> None:
    for name in ("ipv4.txt", "domain.txt", "all.csv", "rpz.zone"):
        _, vendor, _ = await feeds.get(f"/feeds/{name}", org="Sentinel Security")
        _, bank, _ = await feeds.get(f"/feeds/{name}", org="Northbank")
        for body in (vendor, bank):
            assert "red-secret" not in body and "pending-only" not in body, name
        assert "strict-secret" not in vendor and "203.0.113.9" not in vendor, name
        if name in ("domain.txt", "all.csv", "rpz.zone"):
            assert "strict-secret.example" in bank, name  # its own AMBER+STRICT, to its own devices
    _, vendor_csv, _ = await feeds.get("/feeds/all.csv", org="Sentinel Security")
    _, bank_csv, _ = await feeds.get("/feeds/all.csv", org="Northbank")
    assert len(bank_csv.splitlines()) == len(vendor_csv.splitlines()) + 2


async def test_without_a_valid_key_nothing_is_served(feeds: Feeds) -> None:
    status, body, headers = await feeds.get("/feeds/domain.txt", org=None)
    assert status == 401 and "Bearer" in headers["WWW-Authenticate"] and "evil" not in body
    status, body, _ = await feeds.get("/feeds/domain.txt", org=None, headers={"Authorization": "Bearer nope"})
    assert status == 401 and "evil" not in body
    status, body, _ = await feeds.get(f"/feeds/domain.txt?key={feeds.keys['Northbank']}", org=None)
    assert status == 400 and "Authorization: Bearer" in body and "evil" not in body  # not enabled here
    assert (await feeds.get("/feeds/passwords.txt"))[0] == 404


async def test_a_key_in_the_url_where_the_operator_allows_it(store: Store) -> None:
    runner, world = await _serve(store, feed_key_in_query=True)
    try:
        await world.say("bob", "submit evil-three.example tlp:green")
        await world.say("mod", "approve #1")
        status, body, _ = await world.get(f"/feeds/domain.txt?key={world.keys['Northbank']}", org=None)
        assert status == 200 and body == "evil-three.example\n"
    finally:
        await runner.cleanup()


async def test_a_device_polling_an_unchanged_list_gets_nothing(feeds: Feeds) -> None:
    status, body, headers = await feeds.get("/feeds/domain.txt")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, body, _ = await feeds.get("/feeds/domain.txt", headers={"If-None-Match": etag})
    assert status == 304 and body == ""
    status, body, _ = await feeds.get("/feeds/domain.txt", headers={"If-Modified-Since": modified})
    assert status == 304 and body == ""
    # another organization's list, or another list, is another validator
    assert (await feeds.get("/feeds/domain.txt", org="Northbank"))[2]["ETag"] != etag
    assert (await feeds.get("/feeds/url.txt"))[2]["ETag"] != etag
    # a change: a revocation, then a new approval
    feeds.clock.advance(minutes=5)
    await feeds.say("mod", "revoke #5 sinkholed")
    status, body, headers = await feeds.get("/feeds/domain.txt", headers={"If-None-Match": etag})
    assert status == 200 and body == "" and headers["ETag"] != etag
    etag = headers["ETag"]
    feeds.clock.advance(minutes=5)
    await feeds.say("bob", "submit evil-four.example tlp:green")
    assert (await feeds.get("/feeds/domain.txt", headers={"If-None-Match": etag}))[0] == 304  # pending: no change
    await feeds.say("mod2", "approve #13")
    status, body, headers = await feeds.get("/feeds/domain.txt", headers={"If-None-Match": etag})
    assert status == 200 and body == "evil-four.example\n" and headers["ETag"] != etag


async def test_filters_and_their_errors(feeds: Feeds) -> None:
    _, body, _ = await feeds.get("/feeds/all.csv?type=domain,url")
    assert [r.split(",")[1] for r in body.splitlines()[1:]] == ["domain", "url"]
    _, body, _ = await feeds.get("/feeds/all.csv?tag=c2")
    assert len(body.splitlines()) == 1 + 6
    _, body, _ = await feeds.get("/feeds/domain.txt?since=1h")
    assert body == "evil-one.example\n"
    feeds.clock.advance(hours=2)
    _, body, _ = await feeds.get("/feeds/domain.txt?since=1h")
    assert body == ""
    for query, says in (("type=banana", "type: one or more of"), ("type=url", "holds only domain"),
                        ("since=yesterday", "since: a duration"), ("limit=5", "not a filter")):
        status, body, _ = await feeds.get(f"/feeds/domain.txt?{query}")
        assert status == 400 and says in body, (query, body)


async def test_an_expired_item_leaves_the_lists(feeds: Feeds) -> None:
    await feeds.say("bob", "submit short-lived.example tlp:green valid:1h")
    await feeds.say("mod", "approve #13")
    assert "short-lived.example" in (await feeds.get("/feeds/domain.txt"))[1]
    feeds.clock.advance(hours=2)
    assert "short-lived.example" not in (await feeds.get("/feeds/domain.txt"))[1]


async def test_the_response_policy_zone(feeds: Feeds) -> None:
    status, body, headers = await feeds.get("/feeds/rpz.zone")
    assert status == 200 and headers["Content-Type"].startswith("text/dns")
    lines = body.splitlines()
    assert lines[1] == "$TTL 300" and lines[2].startswith("@ IN SOA localhost. hostmaster.localhost. (")
    assert "evil-one.example CNAME ." in lines and "*.evil-one.example CNAME ." in lines
    assert "32.7.100.51.198.rpz-ip CNAME ." in lines and "24.0.100.51.198.rpz-ip CNAME ." in lines
    assert "128.1.zz.db8.2001.rpz-ip CNAME ." in lines and "48.zz.1.db8.2001.rpz-ip CNAME ." in lines
    assert not any("evil-two" in line for line in lines)  # URLs and hashes are not DNS names


@pytest.mark.parametrize("address", ["2001:db8::1", "::1", "2001:0:0:1::5", "fe80::", "1:2:3:4:5:6:7:8",
                                     "2001:db8:0:0:1:0:0:1"])
def test_rpz_ipv6_triggers_read_back_to_the_address(address: str) -> None:
    from bot.blocklists import _rpz_v6

    groups = list(reversed(_rpz_v6(ipaddress.IPv6Address(address)).split(".")))
    if "zz" in groups:
        at = groups.index("zz")
        groups = [*groups[:at], *["0"] * (8 - len(groups) + 1), *groups[at + 1:]]
    assert ipaddress.IPv6Address(":".join(groups)) == ipaddress.IPv6Address(address)


async def test_what_another_organization_does_out_of_sight_never_changes_a_validator(feeds: Feeds) -> None:
    """Sentinel's validators (ETag, Last-Modified, the zone's serial) stay as they are while Northbank approves,
    edits or revokes what only it may see, or a moderator handles a RED item: they would date activity it may
    not see."""
    def validators(headers, body: str) -> tuple[str, str, str]:
        soa = next((line for line in body.splitlines() if " SOA " in line), "")
        return headers["ETag"], headers.get("Last-Modified", ""), soa

    _, body, headers = await feeds.get("/feeds/rpz.zone")
    before = validators(headers, body)
    feeds.clock.advance(minutes=7)
    await feeds.say("alice", "submit strict-two.example tlp:amber+strict")
    await feeds.say("mod2", "approve #13")
    feeds.clock.advance(minutes=7)
    await feeds.say("mod2", "revoke #10 moved")  # Northbank's AMBER+STRICT
    await feeds.say("alice", "submit red-two.example tlp:red")
    await feeds.say("mod", "approve #14")  # a RED item approved by a moderator
    _, body, headers = await feeds.get("/feeds/rpz.zone")
    assert validators(headers, body) == before
    status, _, _ = await feeds.get("/feeds/rpz.zone", headers={"If-None-Match": before[0]})
    assert status == 304


async def test_a_list_longer_than_a_batch_comes_whole_in_id_order(feeds: Feeds,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.taxii import feeds as feed_server

    monkeypatch.setattr(feed_server, "BATCH", 3)  # 8 rows: three batches, the last one short
    _, whole, _ = await feeds.get("/feeds/all.csv")
    ids = [int(line.split(",")[0]) for line in whole.splitlines()[1:]]
    assert ids == sorted(set(ids)) and len(ids) == 8
    _, bank, _ = await feeds.get("/feeds/all.csv", org="Northbank")  # its AMBER+STRICT in the middle batch
    assert len(bank.splitlines()) == 1 + 10 and "red-secret" not in bank
    _, v6, _ = await feeds.get("/feeds/ipv6.txt")  # batches of IPv4 rows only write nothing
    assert v6.splitlines() == ["2001:db8::1", "2001:db8:1::/48"]


@pytest.mark.parametrize("name", ["all.csv", "ipv4.txt", "ipv6.txt", "domain.txt", "rpz.zone"])
def test_a_batch_is_written_as_its_lines(name: str) -> None:
    """The one-join-per-batch writer gives the lines `lines` gives, CSV quoting and formula guards included."""
    from bot.blocklists import LISTS, lines, text

    rows = [(1, "ipv4", "198.51.100.7", 1), (2, "ipv6", "2001:db8::1", 2), (3, "domain", "evil.example", 3),
            (4, "url", 'http://x.example/a,b"c', 0), (5, "url", "=cmd|'/c calc'!A1", 1),
            (6, "url", "-2+3", 2), (7, "url", "@SUM(1)", 1), (8, "url", "+1", 1), (9, "cidr", "10.0.0.0/8", 3),
            (10, "url", "http://y.example/\r\nx", 1)]
    assert text(LISTS[name], rows).decode() == "".join(lines(LISTS[name], rows))
    assert text(LISTS[name], []) == b""


async def test_min_score_keeps_the_items_scoring_at_least_that(feeds: Feeds) -> None:
    await feeds.say("bob", "submit trusted-c2.example tlp:green conf:100")
    await feeds.say("mod", "approve #13")
    await feeds.say("alice", "vote #13 confirm")  # another organization confirms: the score rises
    _, everything, _ = await feeds.get("/feeds/domain.txt?min_score=0")
    assert everything.splitlines() == ["evil-one.example", "trusted-c2.example"]
    status, high, headers = await feeds.get("/feeds/domain.txt?min_score=55")
    assert status == 200 and high.splitlines() == ["trusted-c2.example"]  # 50 from confidence, +6 confirmed
    assert headers["ETag"] != (await feeds.get("/feeds/domain.txt?min_score=0"))[2]["ETag"]
    status, body, _ = await feeds.get("/feeds/domain.txt?min_score=high")
    assert status == 400 and "min_score: a whole number from 0 to 100" in body


async def test_min_score_scores_every_item_of_a_long_list_batch_after_batch(store: Store) -> None:
    """min_score= over all items: high scorers spread over several batches of rows and of scoring (the server's
    batch sizes lowered by its parameters, and the defaults: 2,000 rows cross a SCORED chunk), never another
    organization's AMBER+STRICT one."""
    from adapters.taxii.feeds import PREFIX, FeedServer

    runner, feeds = await _serve(store)
    async with store.unit_of_work(read_only=True) as uow:
        bob = await uow.members.by_identity(Identity(Platform.CONSOLE, "t", "bob"))
        alice = await uow.members.by_identity(Identity(Platform.CONSOLE, "t", "alice"))
    assert bob and alice
    high = {1, 299, 300, 301, 699, 700, 701, 1000, 1001, 1400, 1999, 2000}
    at = feeds.clock.now - timedelta(hours=1)
    rows = [{"id": n, "stix_id": f"indicator--{uuid.UUID(int=n, version=4)}", "type": "domain",
             "value": f"item-{n}.example", "status": "approved", "tlp": tlp.value, "tlp_rank": tlp.rank,
             "confidence": 100 if n in high or n == 1500 else 10, "note": "", "submitter_id": by.id,
             "org_id": by.org_id, "anonymous": False, "first_seen": at, "last_seen": at, "valid_until": None,
             "created_at": at, "modified_at": at, "status_reason": ""}
            for n in range(1, 2001)
            for tlp, by in [(TLP.AMBER_STRICT, alice) if n == 1500 else (TLP.GREEN, bob)]]
    async with store.engine.begin() as conn:
        await conn.execute(insert(IndicatorRow), rows)
    small = web.Application()
    small.router.add_get(PREFIX + "{name}", FeedServer(store.unit_of_work, feeds.dispatcher,
                                                       TaxiiSettings(enabled=True), batch=700, scored=300).handle)
    small_runner = web.AppRunner(small)
    await small_runner.setup()
    site = web.TCPSite(small_runner, "127.0.0.1", 0)
    await site.start()
    small_feeds = Feeds(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}",  # type: ignore[union-attr]
                        feeds.keys, feeds.clock, feeds.dispatcher)
    try:
        expected = [f"item-{n}.example" for n in sorted(high)]
        for server in (feeds, small_feeds):
            status, body, _ = await server.get("/feeds/domain.txt?min_score=45")
            assert status == 200 and body.splitlines() == expected
            _, everything, _ = await server.get("/feeds/domain.txt")
            assert len(everything.splitlines()) == 1999  # (not alice's AMBER+STRICT one)
            _, hers, _ = await server.get("/feeds/domain.txt?min_score=45", org="Northbank")
            assert hers.splitlines() == sorted([*expected, "item-1500.example"], key=lambda v: int(v[5:-8]))
    finally:
        await small_runner.cleanup()
        await runner.cleanup()
