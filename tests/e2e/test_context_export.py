"""Issue 13's context in exports: a STIX `malware` object per family (one id however many items name it) with an
`indicates` relationship from each indicator, `indicator_types` from the threat type and CSV columns (with the
references); comments as STIX `note`s and cases as `grouping`s of what the consumer may see; validated with the
project's STIX validator helper."""

from __future__ import annotations

import csv
import io
import json

from bot import commands
from bot.domain import Actor, Platform
from bot.results import FileResult, ImportReport
from tests.stix_helpers import assert_valid_bundle


def actor(name: str) -> Actor:
    return Actor(Platform.CONSOLE, "local", name, "direct", private=True, display_name=name)


async def _export(coalition, who: str, line: str = "export status:pending,approved") -> FileResult:
    reply = await coalition.dispatcher.handle(commands.parse(line), actor(who))
    assert isinstance(reply.result, FileResult), reply.result
    return reply.result


async def test_stix_export_has_malware_families_indicates_relationships_and_indicator_types(coalition):
    await coalition.say("alice", "/ioc submit 198.51.100.7 tlp:green threat:botnet_cc malware:Emotet "
                                 "ref:https://reports.example/emotet")
    await coalition.say("bob", "/ioc submit 203.0.113.9 tlp:amber threat:scanner malware:emotet")
    await coalition.say("carol", "/ioc submit 192.0.2.44 tlp:green")
    await coalition.say("alice", "/ioc submit evil-cdn[.]example tlp:amber+strict malware:secret_family")
    doc = assert_valid_bundle((await _export(coalition, "bob")).data.decode())
    objects = doc["objects"]
    indicators = {o["pattern"]: o for o in objects if o["type"] == "indicator"}
    assert set(indicators) == {"[ipv4-addr:value = '198.51.100.7']", "[ipv4-addr:value = '203.0.113.9']",
                               "[ipv4-addr:value = '192.0.2.44']"}  # not alice's AMBER+STRICT item
    emotet_c2 = indicators["[ipv4-addr:value = '198.51.100.7']"]
    assert emotet_c2["indicator_types"] == ["malicious-activity"]
    assert indicators["[ipv4-addr:value = '203.0.113.9']"]["indicator_types"] == ["anomalous-activity"]
    malware = [o for o in objects if o["type"] == "malware"]
    assert [(m["name"], m["is_family"]) for m in malware] == [("emotet", True)]  # one family, not the hidden one
    assert malware[0]["object_marking_refs"] == [indicators["[ipv4-addr:value = '198.51.100.7']"]
                                                 ["object_marking_refs"][0]]  # the least restrictive naming it
    relationships = [o for o in objects if o["type"] == "relationship"]
    assert sorted((r["relationship_type"], r["source_ref"], r["target_ref"]) for r in relationships) == sorted(
        ("indicates", indicators[p]["id"], malware[0]["id"])
        for p in ("[ipv4-addr:value = '198.51.100.7']", "[ipv4-addr:value = '203.0.113.9']"))
    assert "secret_family" not in (await _export(coalition, "bob")).data.decode()
    # deterministic: the same ids in a second export; alice sees her own family too
    again = assert_valid_bundle((await _export(coalition, "bob")).data.decode())
    assert {o["id"] for o in again["objects"] if o["type"] in ("malware", "relationship")} == {
        o["id"] for o in objects if o["type"] in ("malware", "relationship")}
    mine = assert_valid_bundle((await _export(coalition, "alice")).data.decode())
    assert sorted(o["name"] for o in mine["objects"] if o["type"] == "malware") == ["emotet", "secret_family"]


async def test_csv_export_has_the_context_columns(coalition):
    await coalition.say("alice", "/ioc submit 198.51.100.7 tlp:green threat:payload_delivery malware:qakbot "
                                 "ref:https://a.example/1 ref:https://b.example/2")
    rows = list(csv.DictReader(io.StringIO((await _export(coalition, "bob", "export format:csv status:pending"))
                                           .data.decode())))
    assert [(r["value"], r["threat_type"], r["malware"], r["references"]) for r in rows] == [
        ("198.51.100.7", "payload_delivery", "qakbot", "https://a.example/1 https://b.example/2")]


async def test_comments_are_stix_notes_and_cases_groupings_of_what_the_consumer_may_see(coalition):
    await coalition.say("alice", "/ioc case new op-nightfall tlp:green Phishing wave")
    await coalition.say("alice", "/ioc case new northbank-ir tlp:amber+strict ours")
    await coalition.say("alice", "/ioc submit 198.51.100.7 tlp:green case:op-nightfall")
    await coalition.say("alice", "/ioc submit 198.51.100.8 tlp:amber+strict case:northbank-ir")
    await coalition.say("alice", "/ioc case add op-nightfall #2")
    await coalition.say("bob", "/ioc comment #1 seen on our gateway")
    await coalition.say("alice", "/ioc comment #2 internal only")
    doc = assert_valid_bundle((await _export(coalition, "bob")).data.decode())
    indicator_ids = {o["id"] for o in doc["objects"] if o["type"] == "indicator"}
    (note,) = [o for o in doc["objects"] if o["type"] == "note"]
    assert note["content"] == "seen on our gateway" and note["object_refs"] == sorted(indicator_ids)
    (grouping,) = [o for o in doc["objects"] if o["type"] == "grouping"]  # not alice's AMBER+STRICT case
    assert grouping["name"] == "op-nightfall" and grouping["description"] == "Phishing wave"
    assert grouping["object_refs"] == sorted(indicator_ids)  # only the item bob may see
    assert "internal only" not in json.dumps(doc) and "northbank-ir" not in json.dumps(doc)
    mine = assert_valid_bundle((await _export(coalition, "alice")).data.decode())
    groupings = {o["name"]: o for o in mine["objects"] if o["type"] == "grouping"}
    assert set(groupings) == {"op-nightfall", "northbank-ir"} and len(groupings["op-nightfall"]["object_refs"]) == 2
    assert len([o for o in mine["objects"] if o["type"] == "note"]) == 2


async def test_an_imported_bundle_s_indicates_relationships_give_the_malware_family(coalition):
    marking = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"  # TLP 2.0 GREEN
    objects = [
        {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{n}1111111-1111-4111-8111-111111111111",
         "created": "2026-10-01T00:00:00.000Z", "modified": "2026-10-01T00:00:00.000Z",
         "pattern": f"[ipv4-addr:value = '198.51.100.{n}']", "pattern_type": "stix", "valid_from":
         "2026-10-01T00:00:00.000Z", "object_marking_refs": [marking]} for n in (1, 2, 3)]
    objects += [
        {"type": "malware", "spec_version": "2.1", "id": "malware--22222222-2222-4222-8222-222222222222",
         "created": "2026-10-01T00:00:00.000Z", "modified": "2026-10-01T00:00:00.000Z", "name": "Cobalt Strike",
         "is_family": True},
        {"type": "malware", "spec_version": "2.1", "id": "malware--33333333-3333-4333-8333-333333333333",
         "created": "2026-10-01T00:00:00.000Z", "modified": "2026-10-01T00:00:00.000Z", "name": "not/a family",
         "is_family": True},
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--44444444-4444-4444-8444-444444444444",
         "created": "2026-10-01T00:00:00.000Z", "modified": "2026-10-01T00:00:00.000Z",
         "relationship_type": "indicates", "source_ref": objects[0]["id"],
         "target_ref": "malware--22222222-2222-4222-8222-222222222222"},
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--55555555-5555-4555-8555-555555555555",
         "created": "2026-10-01T00:00:00.000Z", "modified": "2026-10-01T00:00:00.000Z",
         "relationship_type": "indicates", "source_ref": objects[1]["id"],
         "target_ref": "malware--33333333-3333-4333-8333-333333333333"},
    ]
    data = json.dumps({"type": "bundle", "id": "bundle--66666666-6666-4666-8666-666666666666",
                       "objects": objects}).encode()
    reply = await coalition.dispatcher.handle(commands.ImportFile("fam.json", data), actor("alice"))
    assert isinstance(reply.result, ImportReport) and reply.result.created_count == 3, reply.result
    async with coalition.store.unit_of_work(read_only=True) as uow:
        stored = {i.value: i.malware for i in await uow.indicators.by_ids([1, 2, 3])}
    assert stored == {"198.51.100.1": "cobalt_strike", "198.51.100.2": "", "198.51.100.3": ""}
