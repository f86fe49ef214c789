"""Issue 13's context on TAXII, over real HTTP: the collection serves what the exports carry (malware families with
`indicates` relationships, comments as notes, cases as groupings), for what the key's organization may see and
nothing more, with paging, added_after, match[type|id|version] and the manifest consistent over the new kinds;
every object the collection serves passes stix2-validator (strict)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from adapters.config import TaxiiSettings
from adapters.taxii import create_app
from bot import exchange
from bot.dispatcher import Dispatcher
from bot.domain import Actor, ExportFilter, Identity, Platform, Role, Status
from bot.rules import organization_visibility
from storage.models import CommentRow
from storage.uow import Store
from tests.stix_helpers import assert_valid_bundle

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CONTEXT_TYPES = {"malware", "relationship", "note", "grouping"}


class Clock:
    """Set by the test: several commands share a time (a bulk approval, a comment in the same second)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> None:
        self.now = T0 + timedelta(minutes=minutes)


class World:
    def __init__(self, store: Store, dispatcher: Dispatcher, clock: Clock) -> None:
        self.store, self.dispatcher, self.clock = store, dispatcher, clock
        self.keys: dict[str, str] = {}
        self.base = ""
        self.settings = TaxiiSettings(enabled=True, host="127.0.0.1", port=0, page_size=50)

    async def say(self, who: str, text: str) -> str:
        reply = await self.dispatcher.handle_text(text, Actor(Platform.CONSOLE, "t", who, "dm", private=True))
        assert "Error" not in type(reply.result).__name__, (text, reply.result)
        return str(reply.result)

    async def get(self, key: str, path: str, **query: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = f"{self.base}/coalition/collections/{self.settings.indicators_collection}/{path}"
        params = [(k.replace("_type", "[type]").replace("_id", "[id]").replace("_version", "[version]"), str(v))
                  for k, v in query.items() if v is not None]
        async with aiohttp.ClientSession() as http, http.get(
                url, params=params, headers={"Authorization": f"Bearer {self.keys[key]}",
                                             "Accept": "application/taxii+json;version=2.1"}) as resp:
            body = await resp.read()
            return resp.status, json.loads(body), {k: v for k, v in resp.headers.items() if k.startswith("X-TAXII")}

    async def pages(self, key: str, limit: int, path: str = "objects/", **query: Any) -> list[dict[str, Any]]:
        """Every page of a walk (the bodies as served)."""
        found: list[dict[str, Any]] = []
        nxt = None
        for _ in range(500):
            status, body, _ = await self.get(key, path, limit=limit, next=nxt, **query)
            assert status == 200, body
            found.append(body)
            if not body["more"]:
                return found
            nxt = body["next"]
        raise AssertionError("the walk does not end")

    async def objects(self, key: str, limit: int = 50, **query: Any) -> list[dict[str, Any]]:
        return [o for page in await self.pages(key, limit, **query) for o in page.get("objects", [])]


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    clock = Clock()
    dispatcher = Dispatcher(store.unit_of_work, clock=clock)
    w = World(store, dispatcher, clock)
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("Northbank", "finance", 70)
        vendor = await uow.organizations.add("Sentinel Security", "security", 80)
        for name, org, role in (("alice", bank, Role.MEMBER), ("mod2", bank, Role.MODERATOR),
                                ("bob", vendor, Role.MEMBER), ("mod", vendor, Role.MODERATOR)):
            member = await uow.members.add(org.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, "t", name))
        w.keys = {"bank": (await exchange.create_api_key(uow, "Northbank", "siem", created_by=None, now=T0)).key,
                  "vendor": (await exchange.create_api_key(uow, "Sentinel Security", "", created_by=None,
                                                           now=T0)).key}
        await uow.commit()
    runner = web.AppRunner(create_app(store.unit_of_work, dispatcher, w.settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    w.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield w
    finally:
        await runner.cleanup()


async def shared(w: World) -> None:
    """What both organizations may see (#1-#5): GREEN and AMBER items, two of them in a GREEN case, with comments;
    many objects of several kinds share each date_added (a bulk approval, comments in the same minute)."""
    w.clock.at(1)
    await w.say("bob", "submit evil1.example evil2.example evil3.example tlp:green threat:botnet_cc malware:Emotet")
    await w.say("bob", "submit plain.example tlp:green")
    await w.say("alice", "case new op-shared tlp:green Shared phishing wave")
    w.clock.at(2)
    await w.say("mod", "approve #1 #2 #3 #4")
    await w.say("bob", "comment #1 seen on our mail gateway")
    await w.say("alice", "comment #2 also here")
    await w.say("alice", "case add op-shared #1 #2")
    w.clock.at(3)
    await w.say("alice", "submit 198.51.100.7 tlp:amber malware:qakbot")
    await w.say("mod2", "approve #5")
    await w.say("bob", "comment #5 scanning us")


async def secrets(w: World) -> None:
    """Northbank's AMBER+STRICT and RED items (#6-#8) with their families, comments and cases, at the very times
    of the shared ones (their keys interleave with the visible ones'), one of them in the shared GREEN case."""
    w.clock.at(0.5)
    await w.say("alice", "case new northbank-ir tlp:amber+strict Our incident")
    await w.say("alice", "case new ghost tlp:green Nothing the vendor may see")
    await w.say("alice", "submit strict.example tlp:amber+strict malware:secretfam case:northbank-ir")
    await w.say("alice", "submit red.example tlp:red malware:redfam")
    await w.say("alice", "submit strict2.example tlp:amber+strict malware:emotet")
    await w.say("mod2", "approve #6 #7 #8")  # (emotet on #8 is approved before the vendor's own emotet items)
    w.clock.at(2)
    await w.say("alice", "comment #6 internal only")
    await w.say("alice", "comment #7 red comment")
    await w.say("alice", "case add ghost #6")
    await w.say("alice", "case add northbank-ir #7")
    w.clock.at(3)
    await w.say("alice", "comment #8 strictly ours")
    w.clock.at(4)  # after every change the vendor may see: it must not move the shared grouping for the vendor
    await w.say("alice", "case add op-shared #6 #7")


def ids_of(objects: list[dict[str, Any]], type_: str) -> set[str]:
    return {o["id"] for o in objects if o["type"] == type_}


def assert_self_contained(objects: list[dict[str, Any]]) -> None:
    """Valid STIX 2.1 (strict) as one bundle, every object once, every reference served by the collection."""
    served = {o["id"] for o in objects}
    assert len(served) == len(objects)
    assert_valid_bundle({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects})
    for o in objects:
        refs = [*o.get("object_refs", ()), *([o["source_ref"], o["target_ref"]] if "source_ref" in o else [])]
        assert set(refs) <= served, o


async def test_the_collection_serves_the_context_as_the_exports_do(world: World) -> None:
    w = world
    await shared(w)
    objects = await w.objects("vendor")
    assert_self_contained(objects)
    indicators = {o["pattern"].split("'")[1]: o for o in objects if o["type"] == "indicator"}
    assert set(indicators) == {"evil1.example", "evil2.example", "evil3.example", "plain.example", "198.51.100.7"}
    malware = {o["name"]: o for o in objects if o["type"] == "malware"}
    assert set(malware) == {"emotet", "qakbot"}
    assert malware["emotet"]["object_marking_refs"] == indicators["evil1.example"]["object_marking_refs"]
    assert malware["qakbot"]["object_marking_refs"] == indicators["198.51.100.7"]["object_marking_refs"]
    relationships = sorted((o["source_ref"], o["relationship_type"], o["target_ref"])
                           for o in objects if o["type"] == "relationship")
    assert relationships == sorted(
        [(indicators[f"evil{n}.example"]["id"], "indicates", malware["emotet"]["id"]) for n in (1, 2, 3)]
        + [(indicators["198.51.100.7"]["id"], "indicates", malware["qakbot"]["id"])])
    notes = sorted((o["content"], tuple(o["object_refs"])) for o in objects if o["type"] == "note")
    assert notes == sorted([("seen on our mail gateway", (indicators["evil1.example"]["id"],)),
                            ("also here", (indicators["evil2.example"]["id"],)),
                            ("scanning us", (indicators["198.51.100.7"]["id"],))])
    (grouping,) = [o for o in objects if o["type"] == "grouping"]
    assert grouping["name"] == "op-shared" and grouping["object_refs"] == sorted(
        indicators[f"evil{n}.example"]["id"] for n in (1, 2))
    # A family comes before the first `indicates` naming it, an object after what it refers to.
    position = {o["id"]: n for n, o in enumerate(objects)}
    for o in objects:
        for ref in [*o.get("object_refs", ()), o.get("source_ref"), o.get("target_ref")]:
            if ref is not None:
                assert position[ref] < position[o["id"]], (o["type"], ref)
    # The same objects (ids and content) as the vendor's export from the command line's core.
    parts: list[str] = []
    async with w.store.unit_of_work(read_only=True) as uow:
        vendor = await uow.organizations.by_name("Sentinel Security")
        assert vendor is not None
        await exchange.write_export(uow, organization_visibility(vendor.id),
                                    ExportFilter(statuses=(Status.APPROVED,)), "stix", parts.append,
                                    viewer_org_id=vendor.id)
    exported = {o["id"]: o for o in json.loads("".join(parts))["objects"] if o["type"] in CONTEXT_TYPES}
    served = {o["id"]: o for o in objects if o["type"] in CONTEXT_TYPES}
    assert served.keys() == exported.keys()
    assert all(served[i] == exported[i] for i in served if served[i]["type"] != "grouping")
    assert served[grouping["id"]]["object_refs"] == exported[grouping["id"]]["object_refs"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_every_page_size_walks_the_same_objects_in_the_same_order(world: World, limit: int) -> None:
    w = world
    await shared(w)
    await secrets(w)
    for key in ("vendor", "bank"):
        everything = await w.objects(key, 500)
        assert {o["type"] for o in everything} >= CONTEXT_TYPES
        assert await w.objects(key, limit) == everything
        manifest = [e for p in await w.pages(key, limit, "manifest/") for e in p.get("objects", [])]
        assert [(e["id"], e["version"]) for e in manifest] == [
            (o["id"], o.get("modified", o.get("created"))) for o in everything]
        dates = [e["date_added"] for e in manifest]
        assert dates == sorted(dates)
        # added_after: exactly the objects added later than a date that many objects of several kinds share
        kinds_at = {d: {e["id"].split("--")[0] for e in manifest if e["date_added"] == d} for d in dates}
        shared_date = max(dates, key=lambda d: (len(kinds_at[d]), d))
        assert len(kinds_at[shared_date]) >= 4, kinds_at  # indicators, relationships, families, notes at once
        later = await w.objects(key, limit, added_after=shared_date)
        assert [o["id"] for o in later] == [e["id"] for e in manifest if e["date_added"] > shared_date]
        for type_ in CONTEXT_TYPES:
            typed = await w.objects(key, limit, match_type=type_)
            assert typed == [o for o in everything if o["type"] == type_] and typed
        both = await w.objects(key, limit, match_type="malware,grouping")
        assert both == [o for o in everything if o["type"] in ("malware", "grouping")]


async def test_match_id_version_and_single_objects_of_the_new_kinds(world: World) -> None:
    w = world
    await shared(w)
    await secrets(w)
    everything = await w.objects("vendor")
    for type_ in CONTEXT_TYPES:
        for obj in [o for o in everything if o["type"] == type_]:
            assert await w.objects("vendor", match_id=obj["id"]) == [obj]
            status, body, _ = await w.get("vendor", f"objects/{obj['id']}/")
            assert status == 200 and body["objects"] == [obj]
            status, body, _ = await w.get("vendor", f"objects/{obj['id']}/versions/")
            assert status == 200 and body["versions"] == [obj["modified"]]
            assert await w.objects("vendor", match_id=obj["id"], match_version=obj["modified"]) == [obj]
            assert await w.objects("vendor", match_id=obj["id"], match_version="2019-01-01T00:00:00.000Z") == []
    two = [next(o for o in everything if o["type"] == t) for t in ("note", "relationship")]
    assert await w.objects("vendor", match_id=",".join(o["id"] for o in two)) == sorted(
        two, key=lambda o: [x["id"] for x in everything].index(o["id"]))
    # The bank's own objects the vendor may not see are unknown objects to the vendor: 404, no match.
    bank_only = [o for o in await w.objects("bank") if o["id"] not in {x["id"] for x in everything}]
    assert {o["type"] for o in bank_only} == {"indicator", "malware", "relationship", "note", "grouping"}
    for obj in bank_only:
        status, body, _ = await w.get("vendor", f"objects/{obj['id']}/")
        unknown_status, unknown, _ = await w.get("vendor", f"objects/{obj['type']}--{uuid.uuid4()}/")
        assert (status, body) == (unknown_status, unknown) == (404, unknown)
        assert await w.objects("vendor", match_id=obj["id"]) == []


async def served(w: World, key: str, minutes: tuple[float, ...] = (0, 1, 2, 3)) -> list[Any]:
    """Everything a key is answered, as served: walks of several page sizes (objects, manifest, each context
    type) and reads added_after these minutes (bodies and X-TAXII headers)."""
    walks: list[Any] = []
    for limit in (1, 2, 5, 50):
        walks.append(await w.pages(key, limit))
        walks.append(await w.pages(key, limit, "manifest/"))
        walks.append([await w.get(key, "objects/", limit=limit, match_type=t) for t in sorted(CONTEXT_TYPES)])
    walks.append([await w.get(key, "objects/", added_after=(T0 + timedelta(minutes=m)).isoformat()
                              .replace("+00:00", "Z"), limit=3) for m in minutes])
    return walks


async def test_another_organizations_strict_and_red_context_never_shows_nor_moves_a_page(world: World) -> None:
    w = world
    await shared(w)
    before = await served(w, "vendor")
    bank_before = await w.objects("bank")
    await secrets(w)
    # The bank's feed has its own AMBER+STRICT items' context now (so these really are in the store and in a feed)
    bank = await w.objects("bank")
    assert_self_contained(bank)
    assert len(bank) > len(bank_before)
    assert {o["name"] for o in bank if o["type"] == "malware"} == {"emotet", "qakbot", "secretfam"}
    assert {o["name"] for o in bank if o["type"] == "grouping"} == {"op-shared", "ghost", "northbank-ir"}
    assert {o["content"] for o in bank if o["type"] == "note"} >= {"internal only", "strictly ours"}
    strict = next(o["id"] for o in bank if o["type"] == "indicator" and "'strict.example'" in o["pattern"])
    assert strict in next(o for o in bank if o["type"] == "grouping" and o["name"] == "op-shared")["object_refs"]
    # ... and RED is in nobody's feed: not the item, its family, its comment nor its case.
    text = json.dumps(bank)
    assert "red.example" not in text and "redfam" not in text and "red comment" not in text
    # The vendor's answers are byte for byte what they were: no object, id, reference, count, date or cursor moved.
    assert await served(w, "vendor") == before
    vendor_text = json.dumps(before)
    for secret in ("strict.example", "strict2.example", "secretfam", "redfam", "internal only", "red comment",
                   "strictly ours", "ghost", "northbank-ir", strict):
        assert secret not in vendor_text, secret
    emotet = next(o for o in await w.objects("vendor") if o.get("name") == "emotet")
    assert emotet in bank  # the family's object is the same for both (the bank's strict emotet did not mark it)


async def test_a_grouping_comes_again_when_what_the_viewer_sees_in_it_changes(world: World) -> None:
    w = world
    await shared(w)
    _, first, headers = await w.get("vendor", "manifest/")
    last_added = headers["X-TAXII-Date-Added-Last"]
    w.clock.at(10)
    await w.say("bob", "submit late.example tlp:green")
    await w.say("alice", "case add op-shared #6")
    await w.say("bob", "comment #6 said while it was pending")
    w.clock.at(11)
    await w.say("mod", "approve #6")
    later = await w.objects("vendor", added_after=last_added)
    (grouping,) = [o for o in later if o["type"] == "grouping"]
    old = next(e for e in first["objects"] if e["id"] == grouping["id"])
    assert grouping["modified"] > old["version"] and len(grouping["object_refs"]) == 3
    # the comment made while the item was pending comes with it (a client reading what was added since its
    # last read gets it), its own `created` kept
    assert [o["type"] for o in later] == ["indicator", "note", "grouping"]
    note = later[1]
    assert note["content"] == "said while it was pending" and note["created"] < later[0]["modified"]
    _, manifest, _ = await w.get("vendor", "manifest/", added_after=last_added)
    assert [e["date_added"] for e in manifest["objects"]] == [manifest["objects"][0]["date_added"]] * 3
    # an item approved long ago, added to the case now: the grouping comes again with it
    w.clock.at(20)
    await w.say("alice", "case add op-shared #3")
    newest = manifest["objects"][-1]["date_added"]
    again = await w.objects("vendor", added_after=newest)
    assert [(o["type"], len(o["object_refs"])) for o in again] == [("grouping", 4)]
    assert again[0]["modified"] > grouping["modified"]


async def test_a_note_comes_again_with_its_indicator_and_is_read_by_its_stored_date(world: World) -> None:
    """A note's date_added is stored with the comment (0019) and moves with its indicator: an edit adds the
    indicator again, and its notes with it (a client reading what was added since gets both); a comment on an item
    approved long ago is added when it is made."""
    w = world
    await shared(w)
    _, _, headers = await w.get("vendor", "manifest/")
    last_added = headers["X-TAXII-Date-Added-Last"]
    w.clock.at(10)
    await w.say("alice", "edit #5 conf:90")
    later = await w.objects("vendor", added_after=last_added)
    assert [(o["type"], o.get("content")) for o in later if o["type"] in ("indicator", "note")] == [
        ("indicator", None), ("note", "scanning us")]
    _, manifest, headers = await w.get("vendor", "manifest/", added_after=last_added)
    assert {e["date_added"] for e in manifest["objects"]} == {manifest["objects"][0]["date_added"]}
    w.clock.at(11)
    await w.say("bob", "comment #1 still active today")
    (note,) = await w.objects("vendor", added_after=headers["X-TAXII-Date-Added-Last"])
    assert note["type"] == "note" and note["content"] == "still active today"
    async with w.store.unit_of_work(read_only=True) as uow:
        stored = {r.text: (r.created_at, r.added_at) for r in await uow.session.execute(
            select(CommentRow.text, CommentRow.created_at, CommentRow.added_at))}
    assert stored["still active today"][0] == stored["still active today"][1] == T0 + timedelta(minutes=11)
    assert stored["scanning us"][1] == T0 + timedelta(minutes=10) > stored["scanning us"][0]


def grouping_in(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (grouping,) = [o for o in objects if o["type"] == "grouping" and o["name"] == name]
    return grouping


def pattern_ids(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {o["pattern"].split("'")[1]: o["id"] for o in objects if o["type"] == "indicator"}


async def test_a_grouping_comes_again_smaller_when_an_indicator_the_viewer_sees_is_removed(world: World) -> None:
    w = world
    await shared(w)
    ids = pattern_ids(await w.objects("vendor"))
    w.clock.at(5)
    await w.say("alice", "case add op-shared #3")  # the case's latest change: removing it must not move it back
    first = await w.objects("vendor")
    assert grouping_in(first, "op-shared")["object_refs"] == sorted(ids[f"evil{n}.example"] for n in (1, 2, 3))
    reads = {}
    for key in ("vendor", "bank"):
        _, _, headers = await w.get(key, "manifest/")
        reads[key] = headers["X-TAXII-Date-Added-Last"]
    w.clock.at(10)
    await w.say("alice", "case remove op-shared #3")
    for key in ("vendor", "bank"):  # a client reading what was added since its last read gets the smaller grouping
        later = await w.objects(key, added_after=reads[key])
        assert [o["type"] for o in later] == ["grouping"], later
        (grouping,) = later
        assert grouping["object_refs"] == sorted(ids[f"evil{n}.example"] for n in (1, 2))
        assert grouping["modified"] > grouping_in(first, "op-shared")["modified"]
        assert grouping["modified"].startswith("2026-11-01T09:10:00")
        _, manifest, headers = await w.get(key, "manifest/", added_after=reads[key])
        assert [(e["id"], e["version"]) for e in manifest["objects"]] == [(grouping["id"], grouping["modified"])]
        assert grouping in await w.objects(key)  # the whole collection has the same (one) grouping
        reads[key] = headers["X-TAXII-Date-Added-Last"]
    removed = grouping["modified"]
    # removed from the only case it was in, the item itself is still served (nothing else moved for it)
    assert ids["evil3.example"] in {o["id"] for o in await w.objects("vendor")}
    # added back later: the grouping comes again, with it, and later still
    w.clock.at(15)
    await w.say("alice", "case add op-shared #3")
    (again,) = await w.objects("vendor", added_after=reads["vendor"])
    assert again["object_refs"] == sorted(ids[f"evil{n}.example"] for n in (1, 2, 3)) and again["modified"] > removed
    # ... and removed again: it moves once more (the removal's time is the latest one, not the first)
    _, _, headers = await w.get("vendor", "manifest/")
    w.clock.at(20)
    await w.say("mod", "case remove op-shared #3")
    (smaller,) = await w.objects("vendor", added_after=headers["X-TAXII-Date-Added-Last"])
    assert len(smaller["object_refs"]) == 2 and smaller["modified"].startswith("2026-11-01T09:20:00")
    assert_self_contained(await w.objects("vendor"))


async def test_removing_what_another_organization_may_not_see_moves_nothing(world: World) -> None:
    w = world
    await shared(w)
    await secrets(w)  # the bank's AMBER+STRICT #6 and RED #7 are in op-shared (added at minute 4)
    minutes = (0, 1, 2, 3, 4, 9, 10)
    before = await served(w, "vendor", minutes)
    bank = await w.objects("bank")
    strict = pattern_ids(bank)["strict.example"]
    assert strict in grouping_in(bank, "op-shared")["object_refs"]
    _, _, headers = await w.get("bank", "manifest/")
    w.clock.at(10)
    await w.say("alice", "case remove op-shared #6")  # AMBER+STRICT: the bank sees it, the vendor never did
    assert await served(w, "vendor", minutes) == before
    # the removal is real: the bank's grouping comes again without it
    (grouping,) = await w.objects("bank", added_after=headers["X-TAXII-Date-Added-Last"])
    assert grouping["name"] == "op-shared" and strict not in grouping["object_refs"]
    assert grouping["modified"].startswith("2026-11-01T09:10:00")
    # RED is in no key's feed: removing it moves nothing for the vendor nor for its own organization's key
    bank_before = await served(w, "bank", minutes)
    w.clock.at(11)
    await w.say("alice", "case remove op-shared #7")
    assert await served(w, "vendor", minutes) == before
    assert await served(w, "bank", minutes) == bank_before
    async with w.store.unit_of_work(read_only=True) as uow:  # (and both removals are kept)
        case = (await uow.context.cases_by_name("op-shared"))[0]
        assert await uow.context.case_indicator_ids(case.id) == [1, 2]


def identity_of(objects: list[dict[str, Any]], name: str) -> str:
    (found,) = [o["id"] for o in objects if o["type"] == "identity" and o["name"] == name]
    return found


async def test_a_grouping_left_with_nothing_the_viewer_sees_comes_again_over_its_author_alone(world: World) -> None:
    """STIX asks a grouping for one reference at least: once a viewer may see nothing in a case any more, the
    grouping comes again over the identity of the organization that made it, so that a client replaces the version
    that named what was removed; a case that never held anything the viewer may see is never served."""
    w = world
    await shared(w)
    await secrets(w)  # op-shared also holds the bank's AMBER+STRICT #6; "ghost" (GREEN) holds only #6
    objects = {key: await w.objects(key) for key in ("vendor", "bank")}
    northbank = identity_of(objects["vendor"], "Northbank")
    ids = pattern_ids(objects["bank"])
    assert "ghost" not in {o.get("name") for o in objects["vendor"]}
    assert grouping_in(objects["bank"], "ghost")["object_refs"] == [ids["strict.example"]]
    reads = {}
    for key in ("vendor", "bank"):
        _, _, headers = await w.get(key, "manifest/")
        reads[key] = headers["X-TAXII-Date-Added-Last"]
    vendor_before = await served(w, "vendor", (0, 1, 2, 3, 4, 9))
    w.clock.at(10)
    await w.say("alice", "case remove op-shared #1")
    w.clock.at(11)
    await w.say("alice", "case remove op-shared #2")
    (emptied,) = await w.objects("vendor", added_after=reads["vendor"])
    assert emptied["type"] == "grouping" and emptied["name"] == "op-shared"
    assert emptied["object_refs"] == [northbank] == [emptied["created_by_ref"]]
    assert emptied["modified"].startswith("2026-11-01T09:11:00")
    vendor_all = await w.objects("vendor")
    assert grouping_in(vendor_all, "op-shared") == emptied
    assert_self_contained(vendor_all)
    # the bank still sees its strict item in the case: a smaller grouping, not an empty one
    (bank_grouping,) = await w.objects("bank", added_after=reads["bank"])
    assert bank_grouping["object_refs"] == [ids["strict.example"]]
    # emptying the case the vendor never saw anything in moves nothing for the vendor, and empties it for the bank
    _, _, headers = await w.get("bank", "manifest/")
    vendor_now = await served(w, "vendor", (0, 1, 2, 3, 4, 9))
    w.clock.at(12)
    await w.say("alice", "case remove ghost #6")
    assert await served(w, "vendor", (0, 1, 2, 3, 4, 9)) == vendor_now != vendor_before
    (ghost,) = await w.objects("bank", added_after=headers["X-TAXII-Date-Added-Last"])
    assert ghost["name"] == "ghost" and ghost["object_refs"] == [northbank]
    assert_self_contained(await w.objects("bank"))
    # something the vendor may see added again: the grouping names it
    _, _, headers = await w.get("vendor", "manifest/")
    w.clock.at(15)
    await w.say("alice", "case add op-shared #3")
    (again,) = await w.objects("vendor", added_after=headers["X-TAXII-Date-Added-Last"])
    assert again["object_refs"] == [ids["evil3.example"]] and again["modified"] > emptied["modified"]


async def test_revoking_an_indicator_in_a_case_brings_the_grouping_again_without_it(world: World) -> None:
    w = world
    await shared(w)  # op-shared holds #1 and #2
    objects = await w.objects("vendor")
    ids, northbank = pattern_ids(objects), identity_of(objects, "Northbank")
    _, _, headers = await w.get("vendor", "manifest/")
    w.clock.at(10)
    await w.say("mod", "revoke #1 sinkholed by the registrar")
    later = await w.objects("vendor", added_after=headers["X-TAXII-Date-Added-Last"])
    assert [(o["type"], o.get("revoked", False)) for o in later] == [("indicator", True), ("grouping", False)]
    assert later[1]["object_refs"] == [ids["evil2.example"]]
    assert later[1]["modified"] == later[0]["modified"]  # both at the revocation
    _, _, headers = await w.get("vendor", "manifest/")
    w.clock.at(11)
    await w.say("mod", "revoke #2 sinkholed by the registrar")
    later = await w.objects("vendor", added_after=headers["X-TAXII-Date-Added-Last"])
    assert [(o["type"], o.get("object_refs")) for o in later] == [("indicator", None), ("grouping", [northbank])]
    assert_self_contained(await w.objects("vendor"))


async def test_revoking_what_a_viewer_may_not_see_moves_none_of_its_cases(world: World) -> None:
    w = world
    await shared(w)
    await secrets(w)  # #6 (AMBER+STRICT) is in op-shared, ghost and northbank-ir; #7 (RED) in op-shared, northbank-ir
    minutes = (0, 1, 2, 3, 4, 9, 10, 11)
    vendor_before = await served(w, "vendor", minutes)
    bank_objects = await w.objects("bank")
    northbank, ids = identity_of(bank_objects, "Northbank"), pattern_ids(bank_objects)
    bank_before = await served(w, "bank", minutes)
    w.clock.at(10)
    await w.say("mod2", "revoke #7 not ours after all")  # RED: in no key's feed, revoked or not
    assert await served(w, "bank", minutes) == bank_before
    _, _, headers = await w.get("bank", "manifest/")
    w.clock.at(11)
    await w.say("mod2", "revoke #6 not ours after all")
    assert await served(w, "vendor", minutes) == vendor_before
    later = await w.objects("bank", added_after=headers["X-TAXII-Date-Added-Last"])
    assert [(o["type"], o.get("revoked", False)) for o in later] == [("indicator", True)] + [("grouping", False)] * 3
    assert {o["name"]: o["object_refs"] for o in later if o["type"] == "grouping"} == {
        "op-shared": sorted(ids[f"evil{n}.example"] for n in (1, 2)), "ghost": [northbank],
        "northbank-ir": [northbank]}
    assert_self_contained(await w.objects("bank"))


async def test_a_vote_and_a_sighting_made_while_the_item_was_pending_come_with_its_approval(world: World) -> None:
    """Opinions and sightings are served with their approved indicator only: one made while the item was pending is
    added at the approval (0020), so a client reading what was added after its last read gets it."""
    w = world
    await shared(w)
    w.clock.at(10)
    await w.say("bob", "submit late.example tlp:green")  # #6
    await w.say("alice", "vote #6 confirm seen here")
    await w.say("alice", "sighting #6 count:3 proxy logs")
    w.clock.at(10.5)
    await w.say("bob", "submit other.example tlp:green")  # #7, approved after the vote and the sighting
    await w.say("mod", "approve #7")
    _, _, headers = await w.get("vendor", "manifest/")
    read = headers["X-TAXII-Date-Added-Last"]  # the client has read up to 09:10:30: nothing of #6 (pending)
    assert read.startswith("2026-11-01T09:10:30")
    w.clock.at(11)
    await w.say("mod", "approve #6")
    later = await w.objects("vendor", added_after=read)
    assert [o["type"] for o in later] == ["indicator", "opinion", "sighting"]
    opinion, sighting = later[1], later[2]
    assert opinion["opinion"] == "agree" and sighting["count"] == 3
    # each keeps its own time: the opinion its vote's, the sighting the time it was seen
    assert opinion["modified"].startswith("2026-11-01T09:10:00")
    assert sighting["last_seen"].startswith("2026-11-01T09:10:00")
    _, manifest, _ = await w.get("vendor", "manifest/", added_after=read)
    assert [e["date_added"][:19] for e in manifest["objects"]] == ["2026-11-01T09:11:00"] * 3  # the approval
    # a vote changed later is added at its change (the approval is older)
    _, _, headers = await w.get("vendor", "manifest/")
    w.clock.at(12)
    await w.say("alice", "vote #6 confirm still seen")
    (again,) = await w.objects("vendor", added_after=headers["X-TAXII-Date-Added-Last"])
    assert again["type"] == "opinion" and again["modified"].startswith("2026-11-01T09:12:00")
