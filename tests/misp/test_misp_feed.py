"""The MISP feed (issue 14): `coalition-bot export --format misp-feed` in-process and `/misp/feed/` over HTTP, on
SQLite and PostgreSQL. Every event written loads with PyMISP and carries the expected attributes, tags and
sightings; nothing RED and no other organization's AMBER+STRICT; an anonymous item's event names no
organization; the same store exports the same bytes; the HTTP feed needs a key."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from pymisp import MISPEvent

from storage.uow import Store
from tests.misp.world import MD5, SHA256, World, feed_files, fill, seed, serve

PRIVATE = ("red-secret", "pending-only", "strict-secret", "203.0.113.9", "bob-strict")


@pytest.fixture
async def world(store: Store, database_url: str) -> World:
    found = await seed(store, database_url)
    await fill(found)
    return found


def load(files: dict[str, bytes]) -> dict[str, MISPEvent]:
    """Every event the manifest lists, loaded with PyMISP; the manifest and hashes.csv checked against them."""
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == {name[:-5] for name in files if name.endswith(".json") and name != "manifest.json"}
    events = {}
    for event_id, entry in manifest.items():
        event = MISPEvent()
        event.load(files[f"{event_id}.json"].decode())
        assert event.uuid == event_id and event.info == entry["info"] and event.Orgc.name == entry["Orgc"]["name"]
        assert [t.name for t in event.tags] == [t["name"] for t in entry["Tag"]]
        written = json.loads(files[f"{event_id}.json"])["Event"]
        again = event.to_feed(with_meta=True, with_distribution=True)["Event"]  # PyMISP writes the event back
        assert again["_manifest"] == {event_id: entry}
        assert again["Attribute"] == [{k: v for k, v in a.items() if k != "Sighting"} for a in written["Attribute"]]
        assert {k: v for k, v in again.items() if not k.startswith("_")} == \
            {k: v for k, v in written.items() if k != "Attribute"} | {"Attribute": again["Attribute"]}
        events[event_id] = event
    hashes = list(csv.reader(io.StringIO(files["hashes.csv"].decode())))
    assert sorted(hashes) == sorted([hashlib.md5(a.value.encode()).hexdigest(), e.uuid]
                                    for e in events.values() for a in e.attributes if not a.get("deleted"))
    return events


def attributes(events: dict[str, MISPEvent]) -> dict[str, tuple[MISPEvent, object]]:
    return {a.value: (e, a) for e in events.values() for a in e.attributes}


async def test_the_exported_feed_loads_with_pymisp_with_types_tags_and_sightings(world: World,
                                                                               tmp_path: Path) -> None:
    result = await world.cli("export", "--format", "misp-feed", "--output", str(tmp_path / "feed"))
    assert result.exit_code == 0, result.output
    files = feed_files(tmp_path / "feed")
    found = attributes(load(files))
    assert sorted(found) == sorted(["198.51.100.7", "198.51.100.0/24", "2001:db8::1", "evil-one.example",
                                    "http://evil-two.example/gate.php", SHA256, MD5, "CVE-2024-3400", "64500",
                                    "anon-only.example"])  # the coalition view: no AMBER+STRICT, RED or pending
    types = {v: a.type for v, (_, a) in found.items()}
    assert types == {"198.51.100.7": "ip-dst", "198.51.100.0/24": "ip-dst", "2001:db8::1": "ip-dst",
                     "evil-one.example": "domain", "http://evil-two.example/gate.php": "url", SHA256: "sha256",
                     MD5: "md5", "CVE-2024-3400": "vulnerability", "64500": "AS", "anon-only.example": "domain"}
    for value, (event, attr) in found.items():
        assert attr.to_ids is True and attr.distribution == 5
        tlp_tags = [t.name for t in attr.tags if t.name.startswith("tlp:")]
        assert tlp_tags == [t.name for t in event.tags]
        assert event.distribution == {"tlp:clear": 3, "tlp:green": 2, "tlp:amber": 1}[tlp_tags[0]], value
    event, gate = found["198.51.100.7"]
    assert [t.name for t in gate.tags] == ["tlp:green", "c2"] and gate.comment == "seen at the gate"
    assert event.Orgc.name == "Sentinel Security" and event.date.isoformat() == "2026-11-01"
    assert [(s.type, s.Organisation["name"]) for s in gate.sightings] == [("0", "Northbank")]
    assert [(s.type, s.Organisation["name"]) for s in found["198.51.100.0/24"][1].sightings] == [("1", "Northbank")]
    assert [(s.type, s.Organisation["name"]) for s in found["evil-one.example"][1].sightings] == [("0", "Northbank")]
    assert found[SHA256][0].tags[0].name == "tlp:amber"
    text = b"".join(files.values()).decode()
    for secret in (*PRIVATE, "alice", "mod2", "blocked it here", "our own range"):  # no person, no vote reason
        assert secret not in text, secret

    again = await world.cli("export", "--format", "misp-feed", "--output", str(tmp_path / "again"))
    assert again.exit_code == 0 and feed_files(tmp_path / "again") == files  # the same bytes, uuids and all

    no_folder = await world.cli("export", "--format", "misp-feed")
    assert no_folder.exit_code == 2 and "give --output DIR" in no_folder.output, no_folder.output


async def test_an_anonymous_items_event_names_no_organization(world: World, tmp_path: Path) -> None:
    result = await world.cli("export", "--format", "misp-feed", "--output", str(tmp_path), "--org", "Northbank")
    assert result.exit_code == 0, result.output
    files = feed_files(tmp_path)
    event, attr = attributes(load(files))["anon-only.example"]
    assert event.Orgc.name == "Coalition" and [a.value for a in event.attributes] == ["anon-only.example"]
    assert [(s.type, s.Organisation["name"]) for s in attr.sightings] == [("0", "Coalition")]  # bob's vote
    body = files[f"{event.uuid}.json"].decode()
    assert "Northbank" not in body and "Sentinel" not in body and "a coalition member" in event.info


async def test_an_organization_gets_its_feed_over_http_with_a_key(world: World) -> None:
    runner = await serve(world)
    try:
        for org in (None, "bad"):
            headers = {"Authorization": "Bearer cbk_nope"} if org else None
            status, body, response = await world.get("/misp/feed/manifest.json", org=None, headers=headers)
            assert status == 401 and b"evil" not in body and "Bearer" in response["WWW-Authenticate"]
        assert (await world.get("/misp/feed/00000000-0000-0000-0000-000000000000.json", org=None))[0] == 401
        feeds = {}
        for org in ("Northbank", "Sentinel Security"):
            status, manifest, headers = await world.get("/misp/feed/manifest.json", org=org)
            assert status == 200 and headers["Content-Type"].startswith("application/json")
            files = {"manifest.json": manifest, "hashes.csv": (await world.get("/misp/feed/hashes.csv", org=org))[1]}
            for event_id in json.loads(manifest):
                status, files[f"{event_id}.json"], _ = await world.get(f"/misp/feed/{event_id}.json", org=org)
                assert status == 200
            feeds[org] = attributes(load(files))
        bank, vendor = feeds["Northbank"], feeds["Sentinel Security"]
        assert {"strict-secret.example", "203.0.113.9"} <= set(bank) and "bob-strict.example" not in bank
        assert "bob-strict.example" in vendor and "strict-secret.example" not in vendor
        assert not {"red-secret.example", "pending-only.example"} & (set(bank) | set(vendor))
        event, _ = bank["strict-secret.example"]
        assert event.distribution == 0 and [t.name for t in event.tags] == ["tlp:amber+strict"]
        assert set(bank) - {"strict-secret.example", "203.0.113.9"} == set(vendor) - {"bob-strict.example"}

        status, _, headers = await world.get("/misp/feed/manifest.json")
        status, body, again = await world.get("/misp/feed/manifest.json", headers={"If-None-Match": headers["ETag"]})
        assert status == 304 and body == b"" and again["ETag"] == headers["ETag"]
        world.clock.advance(minutes=1)
        await world.say("alice", "vote #3 fp")  # a new vote: the feed is built anew, with its sighting
        status, manifest, changed = await world.get("/misp/feed/manifest.json",
                                                    headers={"If-None-Match": headers["ETag"]})
        assert status == 200 and changed["ETag"] != headers["ETag"]
        event_id = next(k for k, v in json.loads(manifest).items() if "TLP:GREEN" in v["info"])
        _, body, _ = await world.get(f"/misp/feed/{event_id}.json")
        event = MISPEvent()
        event.load(body.decode())
        assert [s.type for a in event.attributes if a.value == "2001:db8::1" for s in a.sightings] == ["1"]
        assert (await world.get("/misp/feed/00000000-0000-0000-0000-000000000000.json"))[0] == 404
        assert (await world.get("/misp/feed/passwords.txt"))[0] == 404
    finally:
        await runner.cleanup()


async def test_a_revoked_indicator_stays_in_its_event_as_a_deleted_attribute(world: World, tmp_path: Path) -> None:
    before = await world.cli("export", "--format", "misp-feed", "--output", str(tmp_path / "before"))
    assert before.exit_code == 0, before.output
    event_before, _ = attributes(load(feed_files(tmp_path / "before")))["evil-one.example"]
    world.clock.advance(hours=1)
    await world.say("mod", "revoke #4 a sinkhole now")
    after = await world.cli("export", "--format", "misp-feed", "--output", str(tmp_path / "after"))
    assert after.exit_code == 0, after.output
    files = feed_files(tmp_path / "after")
    found = attributes(load(files))
    event, gone = found["evil-one.example"]
    assert gone.deleted is True and gone.to_ids is False and event.uuid == event_before.uuid
    assert event.timestamp > event_before.timestamp  # MISP sees the event changed, fetches it, deletes the attribute
    assert json.loads(files["manifest.json"])[event.uuid]["timestamp"] == int(event.timestamp.timestamp())
    assert all(not a.get("deleted") for v, (_, a) in found.items() if v != "evil-one.example")
    assert hashlib.md5(b"evil-one.example").hexdigest().encode() not in files["hashes.csv"]
