"""MISP event JSON imported (issue 14) through `coalition-bot import` (in-process) and `/ioc import`, on SQLite and
PostgreSQL: types mapped back, to_ids false skipped and reported unless context is asked for, `tlp:` tags read
(unknown: RED, reported as the STIX importer reports it), a round trip through the feed keeps values and TLP,
a feed folder reads as its events, and malformed MISP JSON is a clear error that stores nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.commands import ImportFile
from bot.domain import Actor, Platform
from bot.misp.reader import CONTEXT_SKIPPED
from bot.results import ImportReport
from storage.uow import Store
from tests.misp.test_misp_feed import attributes, load
from tests.misp.world import World, attribute, dump, feed_files, misp_event, seed

SHA = "c" * 64


@pytest.fixture
async def world(store: Store, database_url: str) -> World:
    return await seed(store, database_url)


def event() -> dict:
    return misp_event([
        attribute("ip-dst", "192.0.2.44", tags=("tlp:amber",), comment="C2 of the wave", n=1),  # green + amber
        attribute("domain", "login-northbank.example", n=2),
        attribute("url", "https://login-northbank.example/verify", n=3),
        attribute("filename|sha256", f"invoice.exe|{SHA}", n=4),
        attribute("vulnerability", "CVE-2024-21413", n=5),
        attribute("AS", "64501", n=6),
        attribute("hostname", "cdn.login-northbank.example", to_ids=False, n=7),  # context
        attribute("domain", "chr-only.example", tags=("tlp:ex:chr",), n=8),  # an unknown TLP: RED
        attribute("text", "the campaign's name", n=9),  # not an indicator type
        attribute("ip-src", "not an address", n=10),
    ], objects=[{"name": "domain-ip", "Attribute": [attribute("domain|ip", "mail.login-northbank.example|192.0.2.45",
                                                              n=11)]}])


def new_refs(output: str) -> list[str]:
    found = re.search(r"^New: (.*)$", output, re.M)
    return re.findall(r"#\d+", found.group(1)) if found else []


async def test_a_misp_event_is_imported_reported_and_exported_again_with_its_values_and_tlp(
        world: World, tmp_path: Path) -> None:
    source = tmp_path / "from-circl.dat"  # no .json: the format is read from the content
    source.write_bytes(dump(event()))
    result = await world.cli("import", str(source), "--org", "Northbank")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "(misp): 11 read, 9 submitted for moderation" in out, out
    assert f"1 × {CONTEXT_SKIPPED}" in out and "1 × MISP type text is not an indicator type" in out
    assert "1 × not a valid ip-src value" in out
    assert "1 with a marking that is not understood: stored at TLP:RED" in out
    assert "read as RED: the label 'tlp:ex:chr' is not a TLP label" in out
    assert "its TLP tags disagree (tlp:green, tlp:amber): read as the most restrictive, TLP:AMBER" in out
    refs = new_refs(out)
    assert len(refs) == 9
    await world.say("mod", "approve " + " ".join(refs))

    exported = await world.cli("export", "--format", "misp-feed", "--output", str(tmp_path / "feed"),
                               "--org", "Northbank")
    assert exported.exit_code == 0, exported.output
    found = {v: (a.type, [t.name for t in a.tags if t.name.startswith("tlp:")], a.comment)
             for v, (_, a) in attributes(load(feed_files(tmp_path / "feed"))).items()}
    assert found == {
        "192.0.2.44": ("ip-dst", ["tlp:amber"], "C2 of the wave"),
        "login-northbank.example": ("domain", ["tlp:green"], "Phishing wave against banks"),
        "https://login-northbank.example/verify": ("url", ["tlp:green"], "Phishing wave against banks"),
        SHA: ("sha256", ["tlp:green"], "Phishing wave against banks"),
        "CVE-2024-21413": ("vulnerability", ["tlp:green"], "Phishing wave against banks"),
        "64501": ("AS", ["tlp:green"], "Phishing wave against banks"),
        "mail.login-northbank.example": ("domain", ["tlp:green"], "Phishing wave against banks"),
        "192.0.2.45": ("ip-dst", ["tlp:green"], "Phishing wave against banks"),
    }  # chr-only.example was read as RED: stored so, never in a feed
    async with world.store.unit_of_work(read_only=True) as uow:
        stored = {i.value: i.tlp.value for i in await uow.exchange.indicators_by_ids(range(1, 100))}
    assert stored["chr-only.example"] == "RED" and stored["192.0.2.44"] == "AMBER" and len(stored) == 9

    again = await world.cli("import", str(source), "--org", "Northbank", "--context")
    assert again.exit_code == 0 and CONTEXT_SKIPPED not in again.output, again.output
    assert "(misp): 11 read, 1 submitted for moderation, 9 already known" in again.output, again.output

    folder = await world.cli("import", str(tmp_path / "feed"), "--org", "Sentinel Security")  # a feed folder
    assert folder.exit_code == 0, folder.output
    assert "(misp): 8 read, 0 submitted for moderation, 8 already known" in folder.output, folder.output


async def test_ioc_import_in_chat_reads_misp_json_and_takes_context_when_asked(world: World) -> None:
    data = json.dumps([event()]).encode()  # a list of events
    alice = Actor(Platform.CONSOLE, "t", "alice", "dm", private=True)
    reply = await world.dispatcher.handle(ImportFile("export.json", data), alice)
    assert isinstance(reply.result, ImportReport), reply.result
    assert reply.result.format == "misp" and reply.result.created_count == 9
    assert dict(reply.result.skipped)[CONTEXT_SKIPPED] == 1 and reply.result.read_as_red == 1
    rest = json.dumps({"response": [event()]}).encode()  # MISP's REST answer to a search
    reply = await world.dispatcher.handle(ImportFile("search.txt", rest, context=True), alice)
    assert isinstance(reply.result, ImportReport) and reply.result.created_count == 1
    assert CONTEXT_SKIPPED not in dict(reply.result.skipped)


@pytest.mark.parametrize("body, says", [
    (b'{"Event": {"info": "x", "Attribute": [', "malformed JSON at line 1"),
    (b'{"Event": "an event"}', "item 0 is not a MISP event"),
    (b'{"Event": {"Attribute": [{"type": "ip-dst"}]}}', "event 0, attribute 0: an attribute needs a type and a value"),
    (b'{"Event": {"Attribute": {"type": "ip-dst"}}}', "event 0: Attribute is not a list"),
    (b'{"Event": {"Tag": [{"colour": "#fff"}], "Attribute": []}}', "event 0: a tag needs a name string"),
])
async def test_malformed_misp_json_is_a_clear_error_and_stores_nothing(world: World, tmp_path: Path, body: bytes,
                                                                       says: str) -> None:
    good = dump(misp_event([attribute("domain", "would-be-stored.example")]))
    # alone, and after a good event in a list: nothing of either is stored
    for data, message in ((body, says), (b"[" + good + b"," + body + b"]", says.replace("event 0", "event 1"))):
        source = tmp_path / "bad.json"
        source.write_bytes(data)
        result = await world.cli("import", str(source), "--org", "Northbank")
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        if data is body:
            assert f"Error: nothing was imported from bad.json: {says}" in result.output, result.output
        else:
            assert "Error: nothing was imported from bad.json: " in result.output and (
                message.replace("item 0", "item 1") in result.output or "malformed JSON" in result.output), \
                result.output
        assert await world.count() == 0


async def test_a_folder_that_is_not_a_feed_is_refused(world: World, tmp_path: Path) -> None:
    result = await world.cli("import", str(tmp_path), "--org", "Northbank")
    assert result.exit_code == 1 and "without manifest.json" in result.output, result.output
    (tmp_path / "manifest.json").write_text(json.dumps({"5e0b8c4e-1f9a-4d3b-9c2e-7a6b5c4d3e2f": {}}))
    result = await world.cli("import", str(tmp_path), "--org", "Northbank")
    assert result.exit_code == 1 and "5e0b8c4e-1f9a-4d3b-9c2e-7a6b5c4d3e2f.json is missing" in result.output
    assert await world.count() == 0
