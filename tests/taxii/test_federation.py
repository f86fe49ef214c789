"""Federation without duplicates (issue 14): `coalition-bot taxii pull` from the project's own TAXII server running
in a second process (over its own SQLite store), into the store under test (SQLite and PostgreSQL).

The first pull brings the approved indicators in as pending submissions of `--as ORG` under their own STIX ids,
`created` and author; the second asks with `added_after` and brings nothing; a new approval upstream arrives on
the third. The same objects imported from a file afterwards are the same indicators (by STIX id); a value held
under another id is one indicator too, and the report says so. The export re-emits the ids, `created` and the
first author in `x_coalition_origin`, and an anonymous item upstream is never traced to its organization."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from adapters.cli import app
from bot import exchange, services, stix
from bot.dispatcher import Dispatcher
from bot.domain import Actor, ExportFilter, Identity, Platform, Role, Status, Submission
from bot.ioc import IOCType, Observable
from bot.policy import Policy
from bot.rules import organization_visibility
from bot.services import Context, store_submissions
from bot.tlp import STIX_MARKING_IDS, TLP
from storage.uow import Store, create_store
from tests.stix_helpers import assert_valid_bundle

CLI = Path(sys.executable).with_name("coalition-bot")
COLLECTION = "5f1dd5b8-4c35-4f2e-9a8e-6f6b0b7c2d11"  # the server's default read collection


class Clock:
    """Upstream's clock: a second further on each time it is read, starting an hour ago."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def say(dispatcher: Dispatcher, who: str, text: str) -> None:
    reply = await dispatcher.handle_text(text, Actor(Platform.CONSOLE, "t", who, "dm", private=True))
    assert "Error" not in type(reply.result).__name__, reply.result


async def seed_upstream(store: Store, dispatcher: Dispatcher) -> str:
    """Two organizations; four GREEN values of the vendor and one anonymous of the bank approved, one bank
    AMBER+STRICT (never in the vendor's feed); the vendor's API key."""
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("Northbank", "finance", 70)
        vendor = await uow.organizations.add("Sentinel Security", "security", 80)
        for name, org, role in (("alice", bank, Role.MEMBER), ("bob", vendor, Role.MEMBER),
                                ("mod", vendor, Role.MODERATOR)):
            member = await uow.members.add(org.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, "t", name))
        key = (await exchange.create_api_key(uow, "Sentinel Security", "partner", created_by=None,
                                             now=dispatcher.clock())).key
        await uow.commit()
    await say(dispatcher, "bob", "submit " + " ".join(f"evil{n}.example" for n in range(4)) + " tlp:green "
              "tags:phishing")
    await say(dispatcher, "alice", "submit anon-bank.example tlp:green anon")
    await say(dispatcher, "alice", "submit strict-bank.example tlp:amber+strict")
    await say(dispatcher, "mod", "approve #1 #2 #3 #4 #5")
    return key


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "COALITION_DATABASE_URL": url, "COALITION_WARNINGLISTS_ENABLED": "false"}
    env.pop("COALITION_TAXII_PULL_KEY", None)
    server = subprocess.Popen([str(CLI), "taxii", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/taxii2/", timeout=1).status_code == 401:
                return server
        except requests.ConnectionError:
            time.sleep(0.05)
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
    server.kill()
    raise AssertionError("the TAXII server did not start")


async def invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    # The command runs its own event loop: in a thread, not on this test's.
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def export_of(store: Store, org_name: str, statuses: tuple[Status, ...]) -> dict:
    async with store.unit_of_work(read_only=True) as uow:
        org = await uow.organizations.by_name(org_name)
        assert org is not None
        parts: list[str] = []
        await exchange.write_export(uow, organization_visibility(org.id), ExportFilter(statuses=statuses), "stix",
                                    parts.append, viewer_org_id=org.id)
    return assert_valid_bundle("".join(parts))


async def test_taxii_pull_is_incremental_and_one_object_is_one_indicator(
        database_url: str, _sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COALITION_WARNINGLISTS_ENABLED", "false")
    monkeypatch.delenv("COALITION_TAXII_PULL_KEY", raising=False)
    up_path = tmp_path / "upstream.db"
    shutil.copyfile(_sqlite_template, up_path)
    up_url = f"sqlite:///{up_path}"
    upstream = create_store(up_url)
    up_dispatcher = Dispatcher(upstream.unit_of_work, clock=Clock())
    key = await seed_upstream(upstream, up_dispatcher)
    server = await asyncio.to_thread(start_server, up_url, port := free_port())
    here = create_store(database_url)
    try:
        async with here.unit_of_work() as uow:
            await uow.organizations.add("Partner CERT", "government", 60)
            await uow.commit()
        api = f"http://127.0.0.1:{port}/coalition/"
        pull = ("taxii", "pull", api, "--collection", COLLECTION, "--as", "Partner CERT", "--database", database_url)

        # 1. Everything the vendor's key may see: pending submissions of Partner CERT, under their own ids.
        first = await invoke(*pull, env={"COALITION_TAXII_PULL_KEY": key})
        assert first.exit_code == 0, first.output
        assert key not in first.output and "from the start" in first.output
        async with here.unit_of_work(read_only=True) as uow:
            pulled = await uow.exchange.export_batch(ExportFilter(statuses=tuple(Status)),
                                                     organization_visibility(1), 0, 100)
        up = await export_of(upstream, "Sentinel Security", (Status.APPROVED,))
        up_indicators = {o["id"]: o for o in up["objects"] if o["type"] == "indicator"}
        assert sorted(i.value for i in pulled) == ["anon-bank.example"] + [f"evil{n}.example" for n in range(4)]
        assert {i.stix_id for i in pulled} == set(up_indicators)
        assert all(i.status is Status.PENDING and i.org_name == "Partner CERT" for i in pulled)
        vendor_identity = next(o["id"] for o in up["objects"]
                               if o["type"] == "identity" and o["name"] == "Sentinel Security")
        for ind in pulled:
            original = up_indicators[ind.stix_id]
            assert stix.timestamp(ind.origin_created) == original["created"]  # type: ignore[arg-type]
            assert ind.origin_created_by == original["created_by_ref"]
            if ind.value == "anon-bank.example":  # anonymous upstream: the coalition's identity, never the bank's
                assert (ind.origin_created_by, ind.origin_name) == (stix.COALITION_IDENTITY, "Coalition")
            else:
                assert (ind.origin_created_by, ind.origin_name) == (vendor_identity, "Sentinel Security")

        # 2. Incremental: asked with added_after (what was read last), nothing new, no duplicate.
        async with here.unit_of_work(read_only=True) as uow:
            since = await uow.exchange.pull_state(api, COLLECTION)
        assert since is not None
        second = await invoke(*pull, "--key", key)
        assert second.exit_code == 0, second.output
        assert f"nothing new (added after {since})" in second.output, second.output

        # 3. A new approval upstream arrives, alone.
        await say(up_dispatcher, "bob", "submit late-one.example tlp:green")
        await say(up_dispatcher, "mod", "approve #7")
        third = await invoke(*pull, "--key", key)
        assert third.exit_code == 0, third.output
        assert "added after" in third.output and "late-one.example" not in third.output  # refs, not values
        async with here.unit_of_work(read_only=True) as uow:
            now_held = await uow.exchange.export_batch(ExportFilter(statuses=tuple(Status)),
                                                       organization_visibility(1), 0, 100)
            assert await uow.exchange.pull_state(api, COLLECTION) > since  # type: ignore[operator]
        assert len(now_held) == 6 and {i.value for i in now_held} - {i.value for i in pulled} == {"late-one.example"}

        # 4. The same objects from a file (the upstream's export): one indicator each; a value under another id
        #    is the held one, and the report says so.
        up = await export_of(upstream, "Sentinel Security", (Status.APPROVED,))
        source = tmp_path / "upstream.json"
        source.write_text(json.dumps(up))
        imported = await invoke("import", str(source), "--org", "Partner CERT", "--database", database_url)
        assert imported.exit_code == 0, imported.output
        assert "0 submitted for moderation, 6 already known" in imported.output, imported.output
        assert "held already" not in imported.output  # known by their ids
        other = dict(next(o for o in up["objects"] if o.get("name") == "domain: evil0.example"))
        other["id"] = f"indicator--{uuid.uuid4()}"
        source.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [other]}))
        imported = await invoke("import", str(source), "--org", "Partner CERT", "--database", database_url)
        assert imported.exit_code == 0, imported.output
        held_id = next(i.stix_id for i in now_held if i.value == "evil0.example")
        assert "0 submitted for moderation, 1 already known" in imported.output, imported.output
        assert f"{other['id']}: its value is held already as {held_id}" in imported.output, imported.output
        async with here.unit_of_work(read_only=True) as uow:
            after = await uow.exchange.export_batch(ExportFilter(statuses=tuple(Status)),
                                                    organization_visibility(1), 0, 100)
        assert sorted(i.stix_id for i in after) == sorted(i.stix_id for i in now_held)  # no duplicate

        # 5. The export re-emits the original ids and created, the first author said in x_coalition_origin; the
        #    coalition's side (Partner CERT here) is created_by_ref. Nothing names the bank.
        out = await export_of(here, "Partner CERT", (Status.PENDING,))
        mine = {o["id"]: o for o in out["objects"] if o["type"] == "indicator"}
        assert set(up_indicators) <= set(mine)
        partner = next(o["id"] for o in out["objects"] if o["type"] == "identity" and o["name"] == "Partner CERT")
        for object_id, original in up_indicators.items():
            assert mine[object_id]["created"] == original["created"]
            assert mine[object_id]["created_by_ref"] == partner
            assert mine[object_id][stix.ORIGIN_PROPERTY]["created_by_ref"] == original["created_by_ref"]
            assert stix.ORIGIN_EXTENSION_ID in mine[object_id]["extensions"]
        assert stix.ORIGIN_EXTENSION_DEFINITION in out["objects"]
        assert "Northbank" not in json.dumps(out)

        # 6. A refused key and a server that is down: one line each, exit 1, no traceback, the key never shown.
        refused = await invoke(*pull, "--key", "cbk_wrong-key-0123456789")
        assert refused.exit_code == 1 and "refused the key (HTTP 401)" in refused.output, refused.output
        assert "Traceback" not in refused.output and "cbk_wrong" not in refused.output
        down = await invoke("taxii", "pull", f"http://127.0.0.1:{free_port()}/coalition/", "--collection",
                            COLLECTION, "--as", "Partner CERT", "--key", key, "--database", database_url)
        assert down.exit_code == 1 and "cannot be reached" in down.output and "Traceback" not in down.output
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 30)
        await here.close()
        await upstream.close()


async def test_taxii_pull_every_stops_cleanly_on_sigterm(sqlite_url: str, sqlite_store: Store) -> None:
    """`--every`: the first round is told (here: the server is down, one line and a retry later), and SIGTERM
    ends the process at once, cleanly (exit 0, no traceback)."""
    async with sqlite_store.unit_of_work() as uow:
        await uow.organizations.add("Partner CERT", "government", 60)
        await uow.commit()
    env = {**os.environ, "COALITION_WARNINGLISTS_ENABLED": "false", "COALITION_TAXII_PULL_KEY": "cbk_secret-key"}
    proc = await asyncio.create_subprocess_exec(
        str(CLI), "taxii", "pull", f"http://127.0.0.1:{free_port()}/api/", "--collection", "c1", "--as",
        "Partner CERT", "--every", "15m", "--database", sqlite_url, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert "cannot be reached" in line and "Trying again at the next round." in line, line
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err and b"cbk_secret-key" not in line.encode() + out + err


async def test_an_anonymous_submission_keeps_neither_the_source_id_nor_its_author(store: Store) -> None:
    """No edge submits an import anonymously today; the store's one path makes sure none ever keeps provenance
    that could name the submitter's organization (its source's id, author or created)."""
    source_id = f"indicator--{uuid.uuid4()}"
    async with store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 70)
        member = await uow.members.add(org.id, "alice", Role.MEMBER)
        ctx = Context(uow, Actor(Platform.CLI, "", "m1", "", private=True), member, None, datetime.now(UTC),
                      Policy())
        done = await store_submissions(ctx, [Submission(
            Observable(IOCType.DOMAIN, "anon-source.example"), TLP.GREEN, 60, (), "", None, anonymous=True,
            source_id=source_id, origin_created_by="identity--2f0c7a8e-6d3b-4a1c-9e5f-7b8d9c0a1b2c",
            origin_name="Northbank SOC", origin_created=datetime(2026, 1, 1, tzinfo=UTC))], source="import:x")
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        (stored,) = await uow.indicators.by_ids(done.created_ids)
    assert stored.anonymous and stored.stix_id != source_id
    assert (stored.origin_created_by, stored.origin_name, stored.origin_created) == ("", "", None)


async def test_an_object_held_where_the_importer_may_not_see_it_stays_unseen(store: Store) -> None:
    """The same object (one STIX id) imported by two organizations: at AMBER+STRICT by one, the other's import
    neither finds nor touches it, and its id does not tell that it is held (the restricted item's id is derived
    from the source's and its scope; the shared import keeps the source's, as it would were nobody holding it);
    shared at GREEN, it is one indicator."""
    async with store.unit_of_work() as uow:
        for name in ("Northbank", "Sentinel Security"):
            await uow.organizations.add(name, "finance", 70)
        await uow.commit()

    def obj(object_id: str, value: str, tlp: TLP) -> dict:
        return {"type": "indicator", "spec_version": "2.1", "id": object_id, "created": "2026-10-02T08:00:00.000Z",
                "modified": "2026-10-02T08:00:00.000Z", "pattern": f"[domain-name:value = '{value}']",
                "pattern_type": "stix", "valid_from": "2026-10-02T08:00:00.000Z",
                "object_marking_refs": [STIX_MARKING_IDS[tlp]]}

    async def import_as(org: str, *objects: dict):  # type: ignore[no-untyped-def]
        return await services.import_as_organization(
            store.unit_of_work, org_name=org, member_name="feed", platform=Platform.TAXII, filename="feed",
            now=datetime.now(UTC), policy=Policy(), objects=list(objects))

    strict, shared = f"indicator--{uuid.uuid4()}", f"indicator--{uuid.uuid4()}"
    first = await import_as("Northbank", obj(strict, "strict.example", TLP.AMBER_STRICT),
                            obj(shared, "shared.example", TLP.GREEN))
    second = await import_as("Sentinel Security", obj(strict, "strict.example", TLP.GREEN),
                             obj(shared, "shared.example", TLP.GREEN))
    assert (first.created_count, second.created_count, second.known_count) == (2, 1, 1)
    assert not second.notes  # nothing said about the item it may not see
    async with store.unit_of_work(read_only=True) as uow:
        rows = await uow.indicators.by_values([(IOCType.DOMAIN, "strict.example"), (IOCType.DOMAIN, "shared.example")])
    by_org = sorted((r.value, r.org_name, r.stix_id == (strict if r.value.startswith("strict") else shared))
                    for r in rows)
    assert by_org == [("shared.example", "Northbank", True), ("strict.example", "Northbank", False),
                      ("strict.example", "Sentinel Security", True)]


async def test_the_point_reached_is_kept_per_server_and_collection(store: Store) -> None:
    at = datetime.now(UTC)
    async with store.unit_of_work() as uow:
        assert await uow.exchange.pull_state("http://a.example/api", "c1") is None
        await uow.exchange.save_pull_state("http://a.example/api", "c1", "2026-11-01T09:00:00.000001Z", at)
        await uow.exchange.save_pull_state("http://a.example/api", "c2", "2026-11-02T09:00:00.000001Z", at)
        await uow.commit()
    async with store.unit_of_work() as uow:
        await uow.exchange.save_pull_state("http://a.example/api", "c1", "2026-11-03T09:00:00.123456Z", at)
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.exchange.pull_state("http://a.example/api", "c1") == "2026-11-03T09:00:00.123456Z"
        assert await uow.exchange.pull_state("http://a.example/api", "c2") == "2026-11-02T09:00:00.000001Z"
        assert await uow.exchange.pull_state("http://b.example/api", "c1") is None


def test_a_key_is_never_sent_over_plain_http_to_another_machine() -> None:
    from adapters.taxii.pull import PullError, fetch

    with pytest.raises(PullError, match=re.escape("not sent over plain http:// to taxii.example.org: use the "
                                                  "server's https")):
        fetch("http://taxii.example.org/api/", "collection", "secret-key", None)


async def test_a_pull_names_the_malware_family_even_when_the_family_came_in_an_earlier_pull(
        sqlite_url: str, _sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The collection serves a family once (with its first indicator); a later indicator of it arrives with its
    `indicates` relationship only, and the pull reads the family again to name it."""
    monkeypatch.setenv("COALITION_WARNINGLISTS_ENABLED", "false")
    monkeypatch.delenv("COALITION_TAXII_PULL_KEY", raising=False)
    up_path = tmp_path / "upstream.db"
    shutil.copyfile(_sqlite_template, up_path)
    up_url = f"sqlite:///{up_path}"
    upstream = create_store(up_url)
    up_dispatcher = Dispatcher(upstream.unit_of_work, clock=Clock())
    key = await seed_upstream(upstream, up_dispatcher)
    await say(up_dispatcher, "bob", "submit c2-one.example tlp:green threat:botnet_cc malware:Emotet")
    await say(up_dispatcher, "mod", "approve #7")
    server = await asyncio.to_thread(start_server, up_url, port := free_port())
    here = create_store(sqlite_url)
    try:
        async with here.unit_of_work() as uow:
            await uow.organizations.add("Partner CERT", "government", 60)
            await uow.commit()
        pull = ("taxii", "pull", f"http://127.0.0.1:{port}/coalition/", "--collection", COLLECTION, "--as",
                "Partner CERT", "--database", sqlite_url, "--key", key)
        first = await invoke(*pull)
        assert first.exit_code == 0, first.output
        await say(up_dispatcher, "bob", "submit c2-two.example tlp:green malware:emotet")
        await say(up_dispatcher, "mod", "approve #8")
        second = await invoke(*pull)
        assert second.exit_code == 0, second.output
        async with here.unit_of_work(read_only=True) as uow:
            pulled = await uow.exchange.export_batch(ExportFilter(statuses=tuple(Status)),
                                                     organization_visibility(1), 0, 100)
        families = {i.value: i.malware for i in pulled}
        assert families["c2-one.example"] == families["c2-two.example"] == "emotet"
        assert families["evil0.example"] in ("", None)
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.to_thread(server.wait, 30)
        await here.close()
        await upstream.close()
