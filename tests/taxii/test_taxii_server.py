"""The TAXII 2.1 server over real HTTP on 127.0.0.1, driven by the OASIS client (taxii2-client)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from aiohttp import web
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection, Server, as_pages

from adapters.config import TaxiiSettings
from adapters.taxii import create_app
from bot import exchange
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, Role
from storage.uow import Store
from tests.stix_helpers import assert_valid_bundle

MEDIA = "application/taxii+json;version=2.1"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


async def seed(store: Store, dispatcher: Dispatcher) -> dict[str, str]:
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("Northbank", "finance", 70)
        vendor = await uow.organizations.add("Sentinel Security", "security", 80)
        people = {"alice": (bank, Role.MEMBER), "bob": (vendor, Role.MEMBER), "mod": (vendor, Role.MODERATOR),
                  "mod2": (bank, Role.MODERATOR)}
        for name, (org, role) in people.items():
            member = await uow.members.add(org.id, name, role)
            from bot.domain import Identity

            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, "t", name))
        keys = {
            "bank": (await exchange.create_api_key(uow, "Northbank", "siem", created_by=None,
                                                   now=dispatcher.clock())).key,
            "vendor": (await exchange.create_api_key(uow, "Sentinel Security", "", created_by=None,
                                                     now=dispatcher.clock())).key,
        }
        await uow.commit()

    async def say(who: str, text: str) -> None:
        reply = await dispatcher.handle_text(text, Actor(Platform.CONSOLE, "t", who, "dm", private=True))
        assert "Error" not in type(reply.result).__name__, reply.result

    values = " ".join(f"evil{n}.example" for n in range(7))
    await say("bob", f"submit {values} tlp:green tags:phishing")
    await say("alice", "submit strict-secret.example tlp:amber+strict")
    await say("alice", "submit red-secret.example tlp:red")
    await say("mod", "approve " + " ".join(f"#{n}" for n in range(1, 8)))
    await say("mod2", "approve #8 #9")
    await say("alice", "vote #1 confirm seen here")
    return keys


@pytest.fixture
async def taxii(sqlite_store: Store):
    clock = Clock()
    dispatcher = Dispatcher(sqlite_store.unit_of_work, clock=clock)
    keys = await seed(sqlite_store, dispatcher)
    settings = TaxiiSettings(enabled=True, host="127.0.0.1", port=0, page_size=50)
    runner = web.AppRunner(create_app(sqlite_store.unit_of_work, dispatcher, settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", keys, settings
    finally:
        await runner.cleanup()


def collection_of(base: str, key: str, settings: TaxiiSettings) -> Collection:
    return Collection(f"{base}/coalition/collections/{settings.indicators_collection}/", user="key", password=key)


async def test_discovery_collections_and_paging_with_added_after(taxii) -> None:
    base, keys, settings = taxii

    def walk():
        server = Server(f"{base}/taxii2/", user="key", password=keys["vendor"])
        root = server.api_roots[0]
        titles = sorted(c.title for c in root.collections)
        coll = next(c for c in root.collections if c.id == settings.indicators_collection)
        pages = [p for p in as_pages(coll.get_objects, per_request=3)]
        objects = [o for p in pages for o in p.get("objects", [])]
        fifth = [o for o in objects if o["type"] == "indicator"][4]
        later = coll.get_objects(added_after=fifth["modified"])
        return server.title, titles, pages, objects, later, coll.get_manifest()

    title, titles, pages, objects, later, manifest = await asyncio.to_thread(walk)
    assert title == settings.title and titles == ["Coalition indicators", "Coalition submissions"]
    assert len(pages) >= 3 and all(len(p.get("objects", [])) <= 3 for p in pages)
    indicators = [o for o in objects if o["type"] == "indicator"]
    assert sorted(o["pattern"] for o in indicators) == sorted(
        f"[domain-name:value = 'evil{n}.example']" for n in range(7))  # the vendor sees no bank AMBER+STRICT/RED
    assert [o["type"] for o in objects].count("opinion") == 1
    assert len({o["id"] for o in objects}) == len(objects)
    fifth = [o for o in objects if o["type"] == "indicator"][4]
    earlier = objects[:objects.index(fifth) + 1]
    assert later["objects"] and all(o["id"] not in {x["id"] for x in earlier} for o in later["objects"])
    assert len(manifest["objects"]) == len(objects)
    # Self-contained: every identity and marking the objects reference is in the collection, read first.
    assert_valid_bundle({"type": "bundle", "id": "bundle--" + str(uuid.uuid4()), "objects": objects})
    supporting = {"identity", "marking-definition", "extension-definition"}
    kinds = [o["type"] in supporting for o in objects]
    assert kinds == sorted(kinds, reverse=True) and kinds.count(True) == 1 + 2 + 1 + 1 + 4
    # (identities: the coalition's, two organizations'; the TLP 2.0 and the x_coalition_origin extensions)
    # (the markings of the labels this key may see: CLEAR, GREEN, AMBER and its own AMBER+STRICT; never RED)
    assert "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1" not in {o["id"] for o in objects}


async def test_amber_strict_only_to_its_organization_and_red_to_no_key(taxii) -> None:
    base, keys, settings = taxii

    def fetch(key: str) -> list[dict]:
        return collection_of(base, key, settings).get_objects().get("objects", [])

    bank = await asyncio.to_thread(fetch, keys["bank"])
    vendor = await asyncio.to_thread(fetch, keys["vendor"])
    patterns = lambda objs: {o.get("pattern") for o in objs if o["type"] == "indicator"}  # noqa: E731
    assert "[domain-name:value = 'strict-secret.example']" in patterns(bank)
    assert "[domain-name:value = 'strict-secret.example']" not in patterns(vendor)
    assert not any("red-secret" in json.dumps(o) for o in bank + vendor)


async def test_unknown_and_revoked_keys_are_refused_with_a_taxii_error(taxii, sqlite_store) -> None:
    base, keys, _ = taxii

    def discover(key: str):
        return Server(f"{base}/taxii2/", user="key", password=key).title

    with pytest.raises((TAXIIServiceException, requests.HTTPError)) as raised:
        await asyncio.to_thread(discover, "cbk_not-a-key")
    assert "401" in str(raised.value)
    r = await asyncio.to_thread(requests.get, f"{base}/taxii2/", headers={"Accept": MEDIA}, timeout=5)
    assert r.status_code == 401 and r.headers["Content-Type"] == MEDIA and r.json()["http_status"] == "401"
    async with sqlite_store.unit_of_work() as uow:
        (vendor_key,) = [k for k in await uow.api_keys.list() if k.org_name == "Sentinel Security"]
        await uow.api_keys.revoke(vendor_key.id, datetime.now(UTC))
        await uow.commit()
    with pytest.raises((TAXIIServiceException, requests.HTTPError)):
        await asyncio.to_thread(discover, keys["vendor"])


async def test_post_to_the_submissions_collection_creates_pending_submissions(taxii, sqlite_store) -> None:
    base, keys, settings = taxii
    envelope = {"objects": [
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e",
         "created": "2026-10-02T08:00:00.000Z", "modified": "2026-10-02T08:00:00.000Z",
         "pattern": "[ipv4-addr:value = '198.51.100.99']", "pattern_type": "stix",
         "valid_from": "2026-10-02T08:00:00.000Z"},
        {"type": "malware", "spec_version": "2.1", "id": "malware--5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
         "created": "2026-10-02T08:00:00.000Z", "modified": "2026-10-02T08:00:00.000Z", "name": "x",
         "is_family": True}]}

    def post():
        coll = Collection(f"{base}/coalition/collections/{settings.submissions_collection}/", user="key",
                          password=keys["bank"])
        return coll.add_objects(json.dumps(envelope), wait_for_completion=False)

    status = await asyncio.to_thread(post)
    assert status.status == "complete" and status.total_count == 2 and status.failure_count == 1
    async with sqlite_store.unit_of_work(read_only=True) as uow:
        (ind,) = await uow.indicators.by_values([("ipv4", "198.51.100.99")])
    assert ind.status.value == "pending" and ind.org_name == "Northbank"
    r = await asyncio.to_thread(requests.get, f"{base}/coalition/collections/{settings.indicators_collection}/"
                                "objects/?limit=x", auth=("k", keys["bank"]), headers={"Accept": MEDIA}, timeout=5)
    assert r.status_code == 400 and r.json()["title"] == "Bad Request"
