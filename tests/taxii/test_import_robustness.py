"""Imports on both backends (SQLite file, PostgreSQL): what the store cannot keep is reported object by object
and the rest is stored; markings not understood are RED; a deeply nested file is a usage error; big imports are
written in chunks; and opinion/sighting ids are keyed with the deployment's secret."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from adapters.console.demo import WORKSPACE, seed
from bot import commands, exchange, services
from bot.dispatcher import Dispatcher
from bot.domain import Actor, ExportFilter, Platform
from bot.policy import Policy
from bot.results import ImportReport, UserError
from bot.rules import coalition_visibility, organization_visibility
from bot.services import exchange as exchange_services
from bot.stix import STIX_IDS_SECRET, ActIds
from bot.text import render
from storage.models import DeploymentSecretRow, IndicatorRow, OutboxRow
from storage.uow import Store

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def actor(name: str) -> Actor:
    return Actor(Platform.CONSOLE, WORKSPACE, name, "direct", private=True, display_name=name)


def indicator(n: int, pattern: str, **fields: object) -> dict:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.UUID(int=n, version=4)}",
            "created": "2026-10-01T10:00:00.000Z", "modified": "2026-10-01T10:00:00.000Z", "pattern": pattern,
            "pattern_type": "stix", "valid_from": "2026-10-01T10:00:00Z", **fields}


def bundle(*objects: dict) -> bytes:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}).encode()


@pytest.fixture
async def dispatcher(store: Store) -> Dispatcher:
    d = Dispatcher(store.unit_of_work, policy=Policy(), clock=Clock())
    await seed(store, d, samples=False)
    return d


async def values(store: Store) -> dict[str, str]:
    async with store.engine.connect() as conn:
        return {v: tlp for v, tlp in (await conn.execute(select(IndicatorRow.value, IndicatorRow.tlp))).all()}


async def test_objects_the_store_cannot_keep_are_reported_and_the_others_stored(store, dispatcher) -> None:
    """PostgreSQL refuses a NUL byte and a value over its column; SQLite takes both. Either way the same answer:
    the bad objects are named in the report, the good ones are stored (before, one such object rolled the whole
    import back with an internal error on PostgreSQL)."""
    data = bundle(
        indicator(1, "[domain-name:value = 'good-one.example']"),
        indicator(2, "[url:value = 'http://evil.example/" + "a" * 2100 + "']"),
        indicator(3, "[url:value = 'http://evil.example/\u0000x']"),
        indicator(4, "[domain-name:value = 'nul-in-note.example']", description="see\u0000this"),
        indicator(5, "[domain-name:value = 'good-two.example']", description="fine " * 1000),  # cut to 2,000
    )
    reply = await dispatcher.handle(commands.ImportFile("mi\x00xed.json", data), actor("alice"))  # a NUL in the name
    report = reply.result
    assert isinstance(report, ImportReport), report
    assert report.filename == "mixed.json"
    assert report.created_count == 2 and report.objects == 5 and sum(n for _, n in report.skipped) == 3
    assert set(await values(store)) == {"good-one.example", "good-two.example"}
    text = render(report)
    assert "Object by object" in text and f"object 3 (indicator--{uuid.UUID(int=4, version=4)})" in text
    assert "NUL" in text
    # the same through what `coalition-bot import` and a TAXII POST call
    again = await services.import_as_organization(
        store.unit_of_work, org_name="National Cyber Unit", member_name="feed", platform=Platform.TAXII,
        filename="taxii", now=T0, policy=Policy(), objects=json.loads(data)["objects"])
    assert again.known_count == 2 and again.created_count == 0 and again.notes_count == 1


async def test_a_deeply_nested_bundle_in_chat_is_a_usage_error_and_stores_nothing(store, dispatcher) -> None:
    nested = b'{"type": "bundle", "id": "bundle--1", "objects": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    reply = await dispatcher.handle(commands.ImportFile("deep.json", nested), actor("alice"))
    assert isinstance(reply.result, UserError) and "nested too deeply" in reply.result.problem
    assert reply.result.usage  # says how to do it right
    assert await values(store) == {}


async def test_a_marking_not_understood_is_stored_at_red_and_the_report_says_why(store, dispatcher) -> None:
    undefined = "marking-definition--11111111-2222-4333-8444-555555555555"
    data = bundle(indicator(1, "[domain-name:value = 'marked.example']", object_marking_refs=[undefined]),
                  indicator(2, "[domain-name:value = 'labelled.example']", labels=["tlp:red"]),
                  indicator(3, "[domain-name:value = 'plain.example']"))
    reply = await dispatcher.handle(commands.ImportFile("m.json", data), actor("alice"))
    report = reply.result
    assert isinstance(report, ImportReport) and report.read_as_red == 1
    assert await values(store) == {"marked.example": "RED", "labelled.example": "RED", "plain.example": "AMBER"}
    text = render(report)
    assert "stored at TLP:RED" in text and f"{undefined} is not defined in the file" in text


async def test_a_big_import_is_written_in_chunks_each_its_own_transaction(store, dispatcher, monkeypatch) -> None:
    monkeypatch.setattr(exchange_services, "IMPORT_CHUNK", 4)
    commits = 0
    real = type(store.unit_of_work()).commit

    async def counting(self) -> None:
        nonlocal commits
        commits += 1
        await real(self)

    monkeypatch.setattr(type(store.unit_of_work()), "commit", counting)
    data = "\n".join(f"host{n}.example" for n in range(10)).encode()
    reply = await dispatcher.handle(commands.ImportFile("list.txt", data), actor("alice"))
    assert reply.result.created_count == 10 and len(await values(store)) == 10
    assert commits >= 1 + 3  # the read ends the first transaction, then one per chunk of 4 (and the dispatcher's)


async def test_a_chunked_import_posts_one_notice_for_the_whole_file(store, monkeypatch) -> None:
    monkeypatch.setattr(exchange_services, "IMPORT_CHUNK", 4)
    d = Dispatcher(store.unit_of_work, policy=Policy(), clock=Clock(), delivery_platforms=(Platform.CONSOLE,))
    await seed(store, d, samples=False)
    data = "\n".join(f"host{n}.example" for n in range(30)).encode()
    reply = await d.handle(commands.ImportFile("list.txt", data), actor("alice"))
    assert reply.result.created_count == 30
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow.event, OutboxRow.payload))).all()
    assert [(event, payload["count"]) for event, payload in rows] == [("indicators.submitted", 30)]
    assert len(rows[0].payload["indicator_ids"]) == 30


async def test_a_blocked_value_in_the_last_chunk_still_refuses_the_whole_file(store, monkeypatch) -> None:
    from bot.ioc import WarningLists
    from bot.policy import WarninglistAction

    monkeypatch.setattr(exchange_services, "IMPORT_CHUNK", 4)
    d = Dispatcher(store.unit_of_work, policy=Policy(warninglist_action=WarninglistAction.BLOCK), clock=Clock(),
                   warninglists=WarningLists.load())
    await seed(store, d, samples=False)
    data = ("\n".join(f"host{n}.example" for n in range(9)) + "\n8.8.8.8\n").encode()
    reply = await d.handle(commands.ImportFile("list.txt", data), actor("alice"))
    assert isinstance(reply.result, UserError) and "8.8.8.8" in reply.result.problem
    assert "nothing was imported" in reply.result.problem
    assert await values(store) == {}


async def test_an_import_that_fails_midway_keeps_the_chunks_before_and_says_so(store, dispatcher,
                                                                                monkeypatch) -> None:
    monkeypatch.setattr(exchange_services, "IMPORT_CHUNK", 4)
    real = exchange_services.store_submissions
    calls = 0

    async def failing(ctx, items, **kw):
        nonlocal calls
        calls += 1
        if calls == 2:
            await real(ctx, items, **kw)  # written, then the store fails before the commit: rolled back
            raise ConnectionError("the store went away")
        return await real(ctx, items, **kw)

    monkeypatch.setattr(exchange_services, "store_submissions", failing)
    data = "\n".join(f"host{n}.example" for n in range(10)).encode()
    reply = await dispatcher.handle(commands.ImportFile("list.txt", data), actor("alice"))
    report = reply.result
    assert isinstance(report, ImportReport), report
    assert report.created_count == 4 and report.stopped.startswith("stopped after 4 of 10 indicators")
    assert "Import the file again" in render(report)
    assert set(await values(store)) == {f"host{n}.example" for n in range(4)}


async def test_the_id_secret_is_made_once_and_keys_the_exported_opinion_ids(store, dispatcher) -> None:
    async with store.unit_of_work(read_only=True) as uow:  # made in a read-only unit of work, rolled back after
        first = await uow.secrets.get_or_create(STIX_IDS_SECRET)
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.secrets.get_or_create(STIX_IDS_SECRET) == first and len(first) == 32
    for who, text in [("alice", "submit vote-me.example tlp:green"), ("mod", "approve #1"),
                      ("bob", "vote #1 confirm")]:
        reply = await dispatcher.handle(commands.parse(text), actor(who))
        assert not isinstance(reply.result, UserError), reply.result

    async def opinion_ids() -> list[str]:
        parts: list[str] = []
        async with store.unit_of_work(read_only=True) as uow:
            await exchange.write_export(uow, coalition_visibility(), ExportFilter(), "stix", parts.append,
                                        viewer_org_id=None)
        return [o["id"] for o in json.loads("".join(parts))["objects"] if o["type"] == "opinion"]

    (opinion,) = await opinion_ids()
    async with store.unit_of_work(read_only=True) as uow:
        (ind,) = await uow.indicators.by_values([("domain", "vote-me.example")])
        (bob,) = await uow.members.by_name("bob")
    assert opinion == ActIds(first).opinion_id(ind.stix_id, bob.id)
    assert await opinion_ids() == [opinion]  # stable
    async with store.unit_of_work(read_only=True) as uow:  # the TAXII feed gives the same id
        feed, _, _ = await exchange.feed_page(uow, organization_visibility(bob.org_id), cursor=None, added_after=None,
                                              types=["opinion"], stix_ids=[], limit=50)
    assert [o["id"] for _, o in feed] == [opinion]
    async with store.engine.begin() as conn:  # another deployment's secret: other ids
        await conn.execute(delete(DeploymentSecretRow))
    (other,) = await opinion_ids()
    assert other != opinion
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(DeploymentSecretRow))).scalar_one() == 1

