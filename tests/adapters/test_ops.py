"""Operations: health, Prometheus metrics over real HTTP, JSON logs, expiry, SQLite backup."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from adapters.config import Settings
from adapters.ops import JsonFormatter, Metrics, OpsService, expire_once
from adapters.runtime import Runtime
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Identity, Platform, Role
from storage.uow import create_store


@pytest.fixture
async def ops(sqlite_store, clock):
    dispatcher = Dispatcher(sqlite_store.unit_of_work, clock=clock, delivery_platforms=(Platform.SLACK,))
    runtime = Runtime(Settings(), sqlite_store, dispatcher)
    metrics = Metrics()
    service = OpsService(runtime, metrics, host="127.0.0.1", port=0, expire_every=3600)
    await service.start()
    port = service._runner.addresses[0][1]
    async with sqlite_store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 50)
        member = await uow.members.add(org.id, "alice", Role.MODERATOR)
        await uow.members.link_identity(member.id, Identity(Platform.SLACK, "T1", "U1"))
        await uow.commit()
    try:
        yield runtime, f"http://127.0.0.1:{port}"
    finally:
        await service.stop()


async def test_health_and_metrics(ops):
    runtime, base = ops
    actor = Actor(Platform.SLACK, "T1", "U1", "D1", private=True)
    await runtime.dispatcher.handle_text("submit metrics[.]example tlp:green", actor)
    await runtime.dispatcher.handle_text("vote #1 maybe", actor)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200 and await response.json() == {"status": "ok", "database": "ok"}
        async with http.get(f"{base}/metrics") as response:
            body = await response.text()
    assert 'coalition_commands_total{command="submit",outcome="ok",platform="slack"} 1.0' in body
    assert 'coalition_commands_total{command="unparsed",outcome="user_error",platform="slack"} 1.0' in body
    assert 'coalition_outbox_pending{platform="slack"} 1.0' in body
    assert 'coalition_command_seconds_count{platform="slack"} 2.0' in body


class Adapter:
    """Stands in for a chat adapter's connection state only: /healthz asks the real ones the same questions
    (the Discord service's `is_running()` and its client's readiness and WebSocket; Slack's Socket Mode client)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True
        self.client = self
        self.ws = self
        self.socket = None
        self._runner = object()

    def is_running(self) -> bool:
        return self.up

    def is_ready(self) -> bool:
        return True

    @property
    def open(self) -> bool:
        return True


@pytest.mark.parametrize("database", ["sqlite file that cannot be opened", "postgresql closed port"])
async def test_health_says_which_dependency_is_down(tmp_path, database, caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    url = (f"sqlite:///{tmp_path / 'missing' / 'x.db'}" if database.startswith("sqlite")
           else f"postgresql://bot:hunter2@127.0.0.1:{closed}/coalition")
    store = create_store(url)
    service = OpsService(Runtime(Settings(), store, Dispatcher(store.unit_of_work)), Metrics(), host="127.0.0.1",
                         port=0, expire_every=3600)
    discord = Adapter("discord")
    service.watch([service, discord, Adapter("taxii")])  # TAXII is served, not connected: not reported
    await service.start()
    try:
        port = service._runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503 and response.content_type == "application/json"
                assert await response.json() == {"status": "unavailable", "down": ["database"],
                                                 "database": "unreachable", "discord": "ok"}
            discord.up = False
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503 and await response.json() == {
                    "status": "unavailable", "down": ["database", "discord"], "database": "unreachable",
                    "discord": "disconnected"}
        assert await expire_once(service.runtime) == 0  # the maintenance loop rides the outage out too
    finally:
        await service.stop()
        await store.close()
    assert "Traceback" not in caplog.text and "hunter2" not in caplog.text


async def test_health_reports_a_disconnected_adapter_over_a_working_database(sqlite_store):
    service = OpsService(Runtime(Settings(), sqlite_store, Dispatcher(sqlite_store.unit_of_work)), Metrics(),
                         host="127.0.0.1", port=0, expire_every=3600)
    slack, discord = Adapter("slack"), Adapter("discord")
    service.watch([slack, discord])
    await service.start()
    try:
        port = service._runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200 and await response.json() == {
                    "status": "ok", "database": "ok", "slack": "ok", "discord": "ok"}
            slack._runner = None  # HTTP mode: the endpoint is not listening
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503 and await response.json() == {
                    "status": "unavailable", "down": ["slack"], "database": "ok", "slack": "disconnected",
                    "discord": "ok"}
    finally:
        await service.stop()


async def test_expiry_is_audited_and_announced(ops, clock):
    runtime, _ = ops
    actor = Actor(Platform.SLACK, "T1", "U1", "D1", private=True)
    await runtime.dispatcher.handle_text("submit brief[.]example tlp:green valid:1h", actor)
    assert await expire_once(runtime) == 0
    clock.advance(timedelta(hours=2))
    assert await expire_once(runtime) == 1
    async with runtime.store.unit_of_work(read_only=True) as uow:
        assert (await uow.indicators.get(1)).status.value == "expired"
        events = await uow.outbox.claim(Platform.SLACK, clock(), timedelta(seconds=1), 10)
    assert [e.event for e in events] == ["indicator.submitted", "indicator.expired"]


def test_json_logs_are_one_object_per_line():
    record = logging.LogRecord("bot.delivery", logging.WARNING, __file__, 1, "row %s failed", (7,), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.delivery" and entry["message"] == "row 7 failed"


def test_db_backup_copies_a_sqlite_store(tmp_path: Path, sqlite_url: str):
    """The backup through the installed command once; the refusal to overwrite in-process (the same typer app:
    an interpreter's start costs about two seconds here), on a migrated file as `db upgrade` leaves it."""
    from typer.testing import CliRunner

    from adapters.cli import app

    exe = str(Path(sys.executable).with_name("coalition-bot"))
    done = subprocess.run([exe, "db", "backup", str(tmp_path / "copy.db"), "--database", sqlite_url],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tables = {r[0] for r in sqlite3.connect(tmp_path / "copy.db").execute("select name from sqlite_master")}
    assert {"indicators", "votes", "outbox", "alembic_version"} <= tables
    again = CliRunner().invoke(app, ["db", "backup", str(tmp_path / "copy.db"), "--database", sqlite_url])
    assert again.exit_code == 2 and "exists already" in again.output, again.output


async def test_health_asks_the_real_slack_socket_whether_it_is_connected(sqlite_store):
    from adapters.slack.service import SlackService
    from tests.adapters.slack.fake_slack import MockSlack
    from tests.adapters.slack.slack_world import TEAM, TOKEN, slack_settings

    mock = await MockSlack(token=TOKEN, team_id=TEAM).start()
    settings = slack_settings(mock, mode="socket", app_token="xapp-1-A0COAL-1234-abcdef", signing_secret=None)
    runtime = Runtime(settings, sqlite_store, Dispatcher(sqlite_store.unit_of_work))
    slack = SlackService(runtime)
    service = OpsService(runtime, Metrics(), host="127.0.0.1", port=0, expire_every=3600)
    service.watch([service, slack])
    await service.start()
    await slack.start()
    stopped = False
    try:
        await asyncio.wait_for(mock.socket_connected.wait(), 10)
        port = service._runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200 and await response.json() == {
                    "status": "ok", "database": "ok", "slack": "ok"}
            await slack.stop()  # the WebSocket to Slack is closed
            stopped = True
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503 and await response.json() == {
                    "status": "unavailable", "down": ["slack"], "database": "ok", "slack": "disconnected"}
    finally:
        if not stopped:
            await slack.stop()
        await service.stop()
        await mock.stop()
