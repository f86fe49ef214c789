"""Database outages: at start-up, while a whole `coalition-bot run` process serves Discord, and under the core.

* `run` against a PostgreSQL port nothing listens on retries with backoff, one clear line per attempt (the
  password never shown), and gives up after `database.start_wait_seconds` with a clear message, no traceback.
* A running process whose database goes away (a TCP relay to the real PostgreSQL is cut) answers Discord users
  "the coalition's store is unavailable right now; try again in a minute", says so on /healthz (503, JSON
  naming the database), and serves again, unrestarted, when the database is back.
* The dispatcher over a store whose database is unreachable (closed port, SQLite file that cannot be opened,
  backends terminated with `pg_terminate_backend`, the database dropped) answers the same private text, logs
  one warning line and no traceback, and counts the outcome as `unavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from adapters.cli import app
from bot.dispatcher import Dispatcher, Handled
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, Role
from bot.results import STORE_UNAVAILABLE, Unavailable
from bot.text import render
from bot.tlp import TLP
from storage.migrate import upgrade
from storage.uow import Store, create_store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.conftest import POSTGRES_URL
from tests.e2e.processes import stop_gracefully

EXE = str(Path(sys.executable).with_name("coalition-bot"))
GUILD, CHANNEL, FEED = 720000000000000001, 720000000000000010, 720000000000000011
ALICE, MODERATOR = 820000000000000001, 820000000000000002
OUTAGE_TEXT = "Sorry: the coalition's store is unavailable right now; try again in a minute."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env.update({f"COALITION_{k.upper()}": v for k, v in settings.items()})
    return env


class Relay:
    """A TCP relay on 127.0.0.1:port to the real PostgreSQL server: `up()` and `down()` (which also cuts every
    relayed connection) make the database come and go for whoever connects through it."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        self.server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def _lines(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace"))


async def _until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------------------------------------- start-up


def test_run_retries_a_closed_port_with_one_line_per_attempt_then_exits_cleanly(tmp_path):
    port = free_port()  # nothing listens on it
    url = f"postgresql://bot:hunter2@127.0.0.1:{port}/coalition"
    started = time.monotonic()
    done = subprocess.run(
        [EXE, "run"], capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=clean_env(database_url=url, database_start_wait_seconds="4", discord_enabled="true",
                      discord_token="not-used", discord_application_id=str(APPLICATION_ID)))
    took = time.monotonic() - started
    out = done.stdout + done.stderr
    shown = f"postgresql://bot:***@127.0.0.1:{port}/coalition"
    retries = [line for line in done.stderr.splitlines() if "unavailable: connection refused; retrying in" in line]
    assert [line.split("retrying in ")[1] for line in retries] == ["1s", "2s"]  # backoff: 1 s, then 2 s
    assert all(f"database at {shown} unavailable" in line for line in retries)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(f"Cannot start: the database at {shown} is unavailable after ")
    assert "(connection refused)" in done.stderr.splitlines()[-1]
    assert "Traceback" not in out and "hunter2" not in out and "ConnectionRefusedError" not in out
    assert took < 30  # bounded: 4 s of waiting plus the interpreter's start


def test_console_and_bootstrap_say_the_database_is_unavailable_without_a_traceback(tmp_path):
    url = f"postgresql://bot:hunter2@127.0.0.1:{free_port()}/coalition"
    done = subprocess.run([EXE, "console", "--database", url], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, input="/ioc whoami\n", env=clean_env())
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "Cannot start: the database at postgresql://bot:***@127.0.0.1:")
    assert "(connection refused)" in done.stderr
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr + done.stdout
    # bootstrap takes the same path (in process here: the message is the same, and no interpreter to start)
    result = CliRunner().invoke(app, ["bootstrap", "--org", "Coalition Secretariat", "--database", url],
                                env=clean_env())
    assert result.exit_code == 1 and "Cannot start: the database at" in result.output
    assert ("hunter2" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)


def test_a_wrong_role_is_not_waited_for(tmp_path, postgres_url):
    url = make_url(postgres_url).set(username=f"nobody_{secrets.token_hex(3)}", password="s3cret-pw")
    result = CliRunner().invoke(app, ["run"], env=clean_env(
        database_url=url.render_as_string(hide_password=False), discord_enabled="true", discord_token="not-used",
        discord_application_id=str(APPLICATION_ID)))
    assert result.exit_code == 1 and "retrying" not in result.output, result.output
    assert "refused the connection" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output and "s3cret-pw" not in result.output


# ------------------------------------------------------------------------------ a running process


@pytest.fixture
async def fake():
    fake = FakeDiscord(record=True)
    await fake.start()
    fake.add_guild(GUILD, channels=[CHANNEL, FEED], members=[fake.user(ALICE, "alice"), fake.user(MODERATOR, "mod")])
    try:
        yield fake
    finally:
        await fake.stop()


async def _ask(fake: FakeDiscord, sub: str, options: dict) -> str:
    """A slash command through the fake Discord; the text of its answer (immediate or after a deferral)."""
    mark = len(fake.calls)
    payload = fake.slash("ioc", sub, options, user=fake.user(ALICE, "alice"), guild_id=GUILD, channel_id=CHANNEL)
    await fake.dispatch("INTERACTION_CREATE", payload)
    call = await fake.wait_for_call("POST", rf"/interactions/{payload['id']}/{payload['token']}/callback",
                                    after=mark, timeout=20)
    if call.json["type"] == 5:  # deferred: the answer is an edit of the original
        call = await fake.wait_for_call("PATCH", rf"/webhooks/\d+/{payload['token']}/messages/@original",
                                        after=mark, timeout=20)
        data = call.json
    else:
        data = call.json["data"]
    assert data.get("flags", 0) & 64, "an answer about the store's state is for the asker alone"
    return (data.get("content") or "") + str(data.get("embeds") or "")


async def _health(port: int) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
        return response.status, await response.json()


async def test_a_running_process_rides_out_a_database_outage(postgres_url, fake):
    real = make_url(postgres_url)
    async with create_store(postgres_url) as store:  # alice of Northbank, directly in the real database
        await _seed(store)
        async with store.unit_of_work() as uow:  # a moderator of another organization, and a feed channel
            cert = await uow.organizations.add("National CERT", "cert", 90)
            mod = await uow.members.add(cert.id, "mod", Role.MODERATOR)
            await uow.members.link_identity(mod.id, Identity(Platform.DISCORD, "discord", str(MODERATOR)))
            await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(FEED), TLP.GREEN,
                                              ChannelPurpose.FEED))
            await uow.commit()
    relay = Relay(real.host or "127.0.0.1", real.port or 5432)
    ops_port = free_port()
    env = clean_env(database_url=real.set(port=relay.port, host="127.0.0.1").render_as_string(hide_password=False),
                    database_start_wait_seconds="60", discord_enabled="true", discord_token="fake",
                    discord_application_id=str(APPLICATION_ID), discord_api_url=fake.api_url,
                    discord_gateway_url=fake.gateway_url, ops_port=str(ops_port), warninglists_enabled="false",
                    logging_level="WARNING", delivery_poll_seconds="300")  # only a NOTIFY wakes its deliverer
    process = await asyncio.create_subprocess_exec(EXE, "run", env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    lines: list[str] = []
    reader = asyncio.create_task(_lines(process.stderr, lines))
    try:
        # 1. the database is down at start: the process waits, saying so, and starts once it is back
        await _until(lambda: any("retrying in" in line for line in lines), 30, "a retry line")
        await relay.up()
        await fake.wait_ready(timeout=60)
        await _until(lambda: _port_open(ops_port), 30, "the ops endpoint")
        for _ in range(300):  # the ops endpoint starts before the Discord adapter is ready
            health = await _health(ops_port)
            if health[0] == 200:
                break
            await asyncio.sleep(0.1)
        assert health == (200, {"status": "ok", "database": "ok", "discord": "ok"})
        assert "Northbank" in await _ask(fake, "whoami", {})

        # 2. the database goes away: users are told, /healthz names it
        await relay.down()
        try:
            got = await _ask(fake, "whoami", {})
        except TimeoutError:
            raise AssertionError("PROCESS LOG:\n" + "\n".join(lines[-60:])) from None
        assert got == OUTAGE_TEXT
        assert await _ask(fake, "lookup", {"values": "198.51.100.7"}) == OUTAGE_TEXT
        status, body = await _health(ops_port)
        assert status == 503 and body == {"status": "unavailable", "down": ["database"], "database": "unreachable",
                                          "discord": "ok"}

        # 3. it comes back: the same process serves again, and hears other processes' commits again (its LISTEN
        #    connection was cut too): an approval committed here reaches the feed without waiting for a poll
        await relay.up()
        assert "Northbank" in await _ask(fake, "whoami", {})
        assert (await _health(ops_port))[0] == 200
        async with create_store(postgres_url) as store:
            here = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.DISCORD,))
            submitted = await here.handle_text("submit after-the-outage.example tlp:green", ACTOR)
            ref = submitted.result.created[0].indicator.ref
            moderator = Actor(Platform.DISCORD, "discord", str(MODERATOR), "dm", private=True)
            assert (await here.handle_text(f"approve {ref}", moderator)).result.cards
        await _until(lambda: "after-the-outage.example" in str(fake.messages.get(FEED, {})), 30,
                     "the approval reached the feed channel through the restored LISTEN")
    finally:
        code = await stop_gracefully(process)
        await asyncio.wait_for(reader, 5)
        if relay.server is not None:
            await relay.down()
    log = "".join(lines)
    assert code == 0, log[-3000:]
    assert log.count("bot.dispatcher: command ") == 2, log[-3000:]  # one warning line per command
    assert log.count("the store is unavailable (connection") >= 2 and "did not finish" not in log
    assert "failed (ref " not in log  # no command was taken for a bug
    assert "Traceback" not in log, log[-3000:]  # an outage is a few clear lines, in every part of the process


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# ---------------------------------------------------------------------------- under the dispatcher


ACTOR = Actor(Platform.DISCORD, "discord", str(ALICE), "dm", private=True)
COMMANDS = ("whoami", "lookup 198.51.100.7", "submit evil-outage.example tlp:green", "vote #1 confirm",
            "sighting #1", "search type:domain", "stats", "queue")


async def _assert_outage_answers(dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[Handled] = []
    dispatcher.observers.append(outcomes.append)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        for line in COMMANDS:
            answer = await dispatcher.handle_text(line, ACTOR)
            assert isinstance(answer.result, Unavailable) and answer.private, (line, answer)
            assert render(answer.result) == OUTAGE_TEXT
    assert [h.outcome for h in outcomes] == ["unavailable"] * len(COMMANDS)
    warnings = [r for r in caplog.records if r.name == "bot.dispatcher"]
    assert len(warnings) == len(COMMANDS) and all(r.levelno == logging.WARNING and r.exc_info is None
                                                  for r in warnings)
    assert all("the store is unavailable" in r.getMessage() for r in warnings)


@pytest.mark.parametrize("where", ["postgresql closed port", "sqlite file that cannot be opened"])
async def test_a_store_that_cannot_be_reached_answers_the_outage_text(where, tmp_path, caplog):
    url = (f"postgresql://bot:pw@127.0.0.1:{free_port()}/coalition" if where.startswith("postgresql")
           else f"sqlite:///{tmp_path / 'no-such-directory' / 'coalition.db'}")
    async with create_store(url) as store:
        await _assert_outage_answers(Dispatcher(store.unit_of_work), caplog)


@pytest.fixture
async def own_postgres_database(postgres_url):
    """A migrated PostgreSQL database of this test's own, which the test may take away (postgres_url guarantees
    the server; the shared session database is left alone)."""
    admin = make_url(POSTGRES_URL)
    name = f"coalition_outage_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        url = admin.set(database=name).render_as_string(hide_password=False)
        await upgrade(url)
        yield conn, name, url
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def _seed(store: Store) -> None:
    async with store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 50)
        member = await uow.members.add(org.id, "alice", Role.MODERATOR)
        await uow.members.link_identity(member.id, Identity(Platform.DISCORD, "discord", str(ALICE)))
        await uow.commit()


async def test_terminated_connections_and_a_dropped_database_answer_the_outage_text(own_postgres_database, caplog):
    admin, name, url = own_postgres_database
    async with create_store(url) as store:
        await _seed(store)
        dispatcher = Dispatcher(store.unit_of_work)
        assert "Northbank" in render((await dispatcher.handle_text("whoami", ACTOR)).result)  # a pooled connection

        # the server ends every session of the database (a failover, an admin): the next command is told, the
        # one after it has a new connection
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            answer = await dispatcher.handle_text("submit lost-connection.example tlp:green", ACTOR)
        assert isinstance(answer.result, Unavailable) and render(answer.result) == OUTAGE_TEXT
        assert "(connection lost)" in caplog.text and "Traceback" not in caplog.text
        assert "Northbank" in render((await dispatcher.handle_text("whoami", ACTOR)).result)
        async with store.engine.connect() as conn:  # the failed submission left nothing behind
            assert (await conn.execute(text("SELECT count(*) FROM indicators"))).scalar_one() == 0

        # the database is gone altogether
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await _assert_outage_answers(dispatcher, caplog)
    assert STORE_UNAVAILABLE in OUTAGE_TEXT


async def test_taxii_answers_503_during_an_outage(caplog):
    from aiohttp import web

    from adapters.config import TaxiiSettings
    from adapters.taxii.app import create_app

    async with create_store(f"postgresql://bot:pw@127.0.0.1:{free_port()}/coalition") as store:
        runner = web.AppRunner(create_app(store.unit_of_work, Dispatcher(store.unit_of_work),
                                          TaxiiSettings(enabled=True, port=0)))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            with caplog.at_level(logging.WARNING):
                async with aiohttp.ClientSession() as http, http.get(
                        f"http://127.0.0.1:{port}/taxii2/", headers={"Authorization": "Bearer some-key"}) as response:
                    assert response.status == 503
                    body = await response.json(content_type=None)
        finally:
            await runner.cleanup()
    assert body["title"] == "Service Unavailable" and STORE_UNAVAILABLE in body["description"]
    assert "the store is unavailable (connection refused)" in caplog.text and "Traceback" not in caplog.text


# Every command that opens the store, as a user types it; and those that open none. A new command must be named in
# one of the two, so none can skip the outage message.
STORE_COMMANDS = {
    "apikey create": ["apikey", "create", "Acme"], "apikey list": ["apikey", "list"],
    "apikey revoke": ["apikey", "revoke", "3"], "bootstrap": ["bootstrap", "--org", "Acme"],
    "console": ["console"], "db backup": ["db", "backup", "{tmp}/copy.db"], "db current": ["db", "current"],
    "db upgrade": ["db", "upgrade"], "export": ["export"], "import": ["import", "{tmp}/empty.csv", "--org", "Acme"],
    "run": ["run"], "stats": ["stats"], "taxii": ["taxii"],
    "taxii pull": ["taxii", "pull", "https://cti.example/api/", "--collection", "c", "--as", "Acme"],
}
NO_STORE_COMMANDS = {"config check", "config reference", "discord invite-url", "discord sync", "extract",
                     "slack install-url", "slack token-key"}


def test_every_command_is_named_as_opening_the_store_or_not():
    import typer

    def names(cmd, prefix=()):  # type: ignore[no-untyped-def]
        subs = getattr(cmd, "commands", None)
        if subs is None:
            return [" ".join(prefix)]
        own = [" ".join(prefix)] if prefix and getattr(cmd, "invoke_without_command", False) else []
        return own + [n for name, sub in subs.items() for n in names(sub, (*prefix, name))]

    assert sorted(names(typer.main.get_command(app))) == sorted([*STORE_COMMANDS, *NO_STORE_COMMANDS])


@pytest.mark.parametrize("where", ["sqlite file that cannot be opened", "postgresql closed port"])
@pytest.mark.parametrize("command", sorted(STORE_COMMANDS))
def test_every_store_command_says_the_database_is_unavailable_in_one_line(command, where, tmp_path):
    """Through the installed script, as a user runs it: exit status 1 and one line saying which database is
    unavailable and why; no traceback (the command's own, nor a database driver thread's as the process exits),
    no password."""
    (tmp_path / "empty.csv").write_text("")
    url, shown, reason = (
        (f"sqlite:///{tmp_path}/no-such-directory/x.db", f"sqlite:///{tmp_path}/no-such-directory/x.db",
         "the database file's directory does not exist" if command == "run" else "unable to open database file")
        if where.startswith("sqlite") else
        (f"postgresql://bot:hunter2@127.0.0.1:{free_port()}/coalition",
         "postgresql://bot:***@127.0.0.1:", "connection refused"))
    args = [a.replace("{tmp}", str(tmp_path)) for a in STORE_COMMANDS[command]]
    done = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path, input="",
                          env=clean_env(database_url=url, database_start_wait_seconds="0", taxii_enabled="true",
                                        logging_level="WARNING"))
    out = done.stdout + done.stderr
    if command == "db backup" and where.startswith("postgresql"):  # SQLite's online backup: said before connecting
        assert done.returncode == 2 and done.stderr == "db backup copies SQLite stores; back PostgreSQL up with " \
            "pg_dump.\n", out
        return
    assert done.returncode == 1, out
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Cannot start: the database at {shown}") and f"({reason})" in line, line
    assert "Traceback" not in out and "Exception in thread" not in out and "hunter2" not in out
