"""`/ioc export`, a file shared to the bot, and admin API keys, through the dispatcher on a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from bot import commands
from bot.domain import Actor, Platform
from bot.results import ApiKeyCreated, FileResult, ImportReport, UserError
from storage.models import ApiKeyRow, AuditRow, IndicatorRow
from tests.stix_helpers import assert_valid_bundle

DATA = Path(__file__).resolve().parents[1] / "unit" / "stix" / "data"


def actor(name: str) -> Actor:
    return Actor(Platform.CONSOLE, "local", name, "direct", private=True, display_name=name)


async def count(coalition, stmt) -> int:
    async with coalition.store.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def test_export_in_chat_is_a_valid_bundle_of_what_the_person_may_see(coalition) -> None:
    await coalition.say("alice", "/ioc submit evil-cdn[.]example tlp:amber+strict tags:c2 internal")
    await coalition.say("carol", "/ioc submit hxxps://login-northbank[.]example/verify tlp:green tags:phishing")
    await coalition.say("mod", "/ioc approve #2")
    await coalition.say("bob", "/ioc vote #2 confirm seen it")
    await coalition.say("bob", "/ioc sighting #2 count:4")
    reply = await coalition.dispatcher.handle(commands.parse("export"), actor("bob"))
    assert reply.private and isinstance(reply.result, FileResult)
    doc = assert_valid_bundle(reply.result.data.decode())
    values = [o["pattern"] for o in doc["objects"] if o["type"] == "indicator"]
    assert values == ["[url:value = 'https://login-northbank.example/verify']"]  # not alice's AMBER+STRICT
    assert {o["type"] for o in doc["objects"]} >= {"opinion", "sighting", "identity", "marking-definition"}
    mine = await coalition.dispatcher.handle(commands.parse("export format:csv status:pending,approved"),
                                             actor("alice"))
    assert "evil-cdn.example" in mine.result.data.decode() and mine.result.filename.endswith(".csv")
    pending = await coalition.dispatcher.handle(commands.parse("export status:pending format:txt"), actor("bob"))
    assert pending.result.data == b""


async def test_import_a_file_in_chat_and_a_malformed_one_stores_nothing(coalition) -> None:
    data = (DATA / "misp_export.json").read_bytes()
    reply = await coalition.dispatcher.handle(commands.ImportFile("misp.json", data), actor("alice"))
    report = reply.result
    assert isinstance(report, ImportReport), report
    assert report.created_count == 3 and report.objects == 8 and dict(report.skipped)["not an indicator: report"] == 1
    out = await coalition.say("mod", "/ioc queue")
    assert "198.51.100.77" in out and "status pending · TLP:GREEN" in out
    again = await coalition.dispatcher.handle(commands.ImportFile("misp.json", data), actor("bob"))
    assert again.result.created_count == 0 and again.result.known_count == 3
    before = await count(coalition, select(func.count()).select_from(IndicatorRow))
    bad = await coalition.dispatcher.handle(commands.ImportFile("bad.json", data[:-10]), actor("alice"))
    assert isinstance(bad.result, UserError) and "malformed JSON" in bad.result.problem
    assert await count(coalition, select(func.count()).select_from(IndicatorRow)) == before
    assert await count(coalition, select(func.count()).select_from(AuditRow).where(AuditRow.action == "import")) == 2


async def test_admin_api_keys(coalition) -> None:
    created = await coalition.dispatcher.handle(commands.parse('admin apikey create Northbank "SIEM feed"'),
                                                actor("admin"))
    assert created.private and isinstance(created.result, ApiKeyCreated)
    key = created.result.key
    async with coalition.store.engine.connect() as conn:
        stored = (await conn.execute(select(ApiKeyRow.key_sha256, ApiKeyRow.prefix))).one()
    assert key not in stored and stored.prefix == key[:12]
    out = await coalition.say("admin", "/ioc admin apikey list")
    assert "Northbank" in out and "active" in out and key not in out
    out = await coalition.say("alice", "/ioc admin apikey list")
    assert "Only admins" in out
    out = await coalition.say("admin", f"/ioc admin apikey revoke {created.result.api_key.id}")
    assert "revoked" in out
    out = await coalition.say("admin", f"/ioc admin apikey revoke {created.result.api_key.id}")
    assert "not an active API key" in out


def test_import_without_a_file_says_how() -> None:
    import pytest

    with pytest.raises(commands.UsageError, match="attach the file"):
        commands.parse("import")
    _ = json
