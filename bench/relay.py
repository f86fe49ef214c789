"""Relay between platforms, and outbox throughput with one or several deliverer processes.

1. Latency: one `coalition-bot run` process with the Slack and Discord adapters over the store; a moderator
   approves an indicator on Discord (a slash command through the fake Discord's gateway) and the time is taken
   until the card reaches the Slack feed channel (chat.postMessage at the mock Slack Web API). Target (issue 7):
   p99 <= 500 ms.
2. Throughput and scale-out (issues 7 and 11): `--processes N` deliverer PROCESSES (real OS processes, each with
   its own Store, its own Deliverer and the real Slack sink, slack_sdk over aiohttp) share one database's outbox,
   claiming with `FOR UPDATE SKIP LOCKED` on PostgreSQL. The mock Slack Web API runs in a process of its own, as
   Slack is elsewhere in a deployment, and answers every call `--latency-ms` late (the platform's round trip).

   The rows are what an approval costs in the demo coalition's Slack workspace (adapters/console/demo.py's seed
   with the Slack identities and channels of tests/adapters/slack/slack_world.py: one feed channel CFEED, one
   moderation channel CMOD, both AMBER). alice submitted the indicators (TLP:GREEN) in commands of 20, so each got
   its own card in CMOD (posted at set-up through a Deliverer, message ids recorded as in production); then a
   moderator approved them all. Each approval is one outbox row and four Web API calls, in this order: the card
   posted in CFEED (chat.postMessage), the moderation card in CMOD edited to show the decision (chat.update), and
   alice told by direct message (conversations.open, chat.postMessage).

   Every measured run starts from a copy of that set-up (PostgreSQL: CREATE DATABASE ... TEMPLATE; SQLite: a copy
   of the file) and is timed from the moment every process is ready (imported, connected) until the last one
   finds nothing left to claim. Then it is checked, and the bench stops with exit status 1 otherwise: every row
   delivered (none waiting, none parked); chat.postMessage counted per delivery key at the fake (message
   metadata carries the key): each row's two keys (the feed card's and the notice's) posted exactly once and no
   other key; every call answered ok (so every edit found its card).

    .venv/bin/python bench/relay.py                    # SQLite: 200 approvals relayed, 2,000 drained by 1 process
    .venv/bin/python bench/relay.py --approvals 50 --deliveries 1000
    .venv/bin/python bench/relay.py --database postgresql://postgres@127.0.0.1:5432/coalition_bench_relay \\
        --skip-latency --processes 1 2 4 --latency-ms 20 --concurrency 16 --repeat 3     # issue 11's scale-out

With --database the named PostgreSQL database (and two more named after it, `_scale` and `_run`) are created
for the bench and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from adapters.console.demo import seed  # noqa: E402
from adapters.slack.blocks import Renderer  # noqa: E402
from adapters.slack.sink import SlackSink  # noqa: E402
from bot.delivery import Deliverer  # noqa: E402
from bot.dispatcher import Dispatcher, utc_now  # noqa: E402
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform  # noqa: E402
from bot.tlp import TLP  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import create_store  # noqa: E402
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord  # noqa: E402
from tests.adapters.slack.fake_slack import MockSlack  # noqa: E402
from tests.adapters.slack.slack_world import SECRET, TEAM, TOKEN, link_slack_identities  # noqa: E402

OUT = ROOT / "bench" / "out"
GUILD, D_MOD = 730000000000000001, 730000000000000012
MOD = 830000000000000003
EXE = str(Path(sys.executable).with_name("coalition-bot"))
FEED, MODERATION = "CFEED", "CMOD"  # the demo workspace's channels (tests/adapters/slack/slack_world.py)
SUBMIT_EACH = 20  # values per submit command: at most bot.services.BIG_SUBMISSION, so each one gets its own card


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


# ---------------------------------------------------------------------------------------------------- 1. latency


async def prepare(url: str, values: int) -> None:
    """The demo coalition with Slack and Discord identities, a Slack feed channel, and `values` pending
    indicators submitted by alice (nothing delivers while this runs)."""
    await upgrade(url)
    store = create_store(url)
    try:
        dispatcher = Dispatcher(store.unit_of_work)
        await seed(store, dispatcher, samples=False)
        await link_slack_identities(store)
        async with store.unit_of_work() as uow:
            mod = (await uow.members.by_name("mod"))[0]
            await uow.members.link_identity(mod.id, Identity(Platform.DISCORD, "discord", str(MOD)))
            await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(D_MOD), TLP.AMBER,
                                              ChannelPurpose.MODERATION))
            await uow.channels.upsert(Channel(Platform.SLACK, "T0COAL", "CRELAY", TLP.AMBER, ChannelPurpose.FEED))
            await uow.commit()
        alice = Actor(Platform.SLACK, "T0COAL", "UALICE", "DALICE", private=True)
        for start in range(0, values, 500):
            batch = " ".join(f"relay-{i}.example" for i in range(start, min(values, start + 500)))
            await dispatcher.handle_text(f"submit {batch} tlp:green", alice)
    finally:
        await store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def latency(url: str, approvals: int) -> dict:
    slack, discord = MockSlack(light_responses=True), FakeDiscord(record=False)
    await slack.start()
    await discord.start()
    discord.add_guild(GUILD, channels=[D_MOD], members=[discord.user(MOD, "mod")])
    arrived: dict[int, float] = {}
    got = asyncio.Event()

    def on_call(call) -> None:
        if call.method == "chat.postMessage" and call.get("channel") == "CRELAY":
            payload = (call.get("metadata") or {}).get("event_payload") or {}
            arrived[int(payload.get("indicator_id", 0))] = time.perf_counter()
            got.set()

    slack.listeners.append(on_call)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env.update({
        "COALITION_DATABASE_URL": url, "COALITION_WARNINGLISTS_ENABLED": "false", "COALITION_OPS_ENABLED": "false",
        "COALITION_LOGGING_LEVEL": "WARNING", "COALITION_SLACK_ENABLED": "true", "COALITION_SLACK_MODE": "http",
        "COALITION_SLACK_BOT_TOKEN": TOKEN, "COALITION_SLACK_SIGNING_SECRET": SECRET,
        "COALITION_SLACK_API_URL": slack.api_url, "COALITION_SLACK_HTTP_HOST": "127.0.0.1",
        "COALITION_SLACK_HTTP_PORT": str(free_port()), "COALITION_DISCORD_ENABLED": "true",
        "COALITION_DISCORD_TOKEN": "bench", "COALITION_DISCORD_APPLICATION_ID": str(APPLICATION_ID),
        "COALITION_DISCORD_API_URL": discord.api_url, "COALITION_DISCORD_GATEWAY_URL": discord.gateway_url,
    })
    process = await asyncio.create_subprocess_exec(EXE, "run", env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.DEVNULL)
    try:
        await discord.wait_ready(timeout=60)
        await asyncio.sleep(2.0)  # the submissions' moderation posts go out first
        user = discord.user(MOD, "mod")
        took: list[float] = []
        for indicator_id in range(1, approvals + 1):
            got.clear()
            started = time.perf_counter()
            await discord.dispatch("INTERACTION_CREATE", discord.slash(
                "ioc", "approve", {"indicators": f"#{indicator_id}"}, user=user, guild_id=GUILD,
                channel_id=D_MOD))
            async with asyncio.timeout(10):
                while indicator_id not in arrived:
                    await got.wait()
                    got.clear()
            took.append((arrived[indicator_id] - started) * 1000)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
        await discord.stop()
        await slack.stop()
    return {"approvals": len(took), "p50_ms": round(pct(took, 50), 1), "p99_ms": round(pct(took, 99), 1),
            "max_ms": round(max(took), 1)}


# ---------------------------------------------------------------------------------- 2. throughput and scale-out


def slack_sink(api_url: str, session: aiohttp.ClientSession) -> SlackSink:
    """The Slack sink as `coalition-bot run` builds it in single-token mode (adapters/slack/service.py): one client
    with the bot token, serving its own workspace (the one auth.test names) and leaving any other to the process
    that holds its token; the same retry handlers, one aiohttp session per process; its Web API at the mock."""
    from slack_sdk.web.async_client import AsyncWebClient

    from adapters.slack.service import api_base_url, retry_handlers
    from adapters.slack.sink import OneWorkspace

    client = AsyncWebClient(token=TOKEN, base_url=api_base_url(api_url), session=session,
                            retry_handlers=retry_handlers())
    return SlackSink(OneWorkspace(client, TEAM), Renderer())


def mock_slack_process(conn: Connection) -> None:
    """The mock Slack Web API in its own process. Commands over the pipe: ("latency", seconds); ("reset", None)
    forgets the calls and every message but the moderation cards (each run edits those); ("tally", None) answers
    the calls since the reset: by method, not ok, and chat.postMessage per delivery key."""

    async def serve() -> None:
        slack = MockSlack(light_responses=True)
        await slack.start()
        methods: Counter[str] = Counter()
        posts: Counter[str] = Counter()
        failed: list[tuple[str, int]] = []
        cpu = time.process_time()

        def on_call(call) -> None:
            methods[call.method] += 1
            if call.status != 200:
                failed.append((call.method, call.status))
            if call.method == "chat.postMessage":
                posts[str(((call.get("metadata") or {}).get("event_payload") or {}).get("key"))] += 1

        slack.listeners.append(on_call)
        conn.send(slack.api_url)
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "latency":
                slack.latency = float(argument)
            elif command == "reset":
                methods.clear()
                posts.clear()
                failed.clear()
                slack.calls.clear()
                cpu = time.process_time()
                for channel in [c for c in slack.messages if c != MODERATION]:
                    del slack.messages[channel]
            elif command == "tally":
                conn.send({"methods": dict(methods), "posts": dict(posts), "failed": failed[:20],
                           "failed_count": len(failed), "cpu": time.process_time() - cpu})
                continue
            else:
                break
            conn.send("ok")
        await slack.stop()

    asyncio.run(serve())


class FakeSlack:
    """The parent's handle on the mock Slack process."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=mock_slack_process, args=(child,), daemon=True)
        self.process.start()
        if not self.conn.poll(60):
            raise SystemExit("the mock Slack process did not start")
        self.api_url: str = self.conn.recv()

    def ask(self, command: str, argument: Any = None) -> Any:
        self.conn.send((command, argument))
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send(("stop", None))
        self.process.join(10)


async def prepare_scale(url: str, rows: int, api_url: str) -> None:
    """The set-up every run copies: the demo coalition in its Slack workspace, `rows` indicators submitted by
    alice with their cards delivered to the moderation channel, then all approved (their rows wait)."""
    await upgrade(url)
    store = create_store(url)
    try:
        dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK,))
        await seed(store, dispatcher, samples=False)
        await link_slack_identities(store)
        alice = Actor(Platform.SLACK, TEAM, "UALICE", "DALICE", private=True)
        for start in range(0, rows, SUBMIT_EACH):
            values = " ".join(f"scale-{i}.example" for i in range(start, min(rows, start + SUBMIT_EACH)))
            await dispatcher.handle_text(f"submit {values} tlp:green", alice)
        async with aiohttp.ClientSession() as session:  # the moderation cards, as a deliverer posts them
            await Deliverer(store.unit_of_work, slack_sink(api_url, session), clock=utc_now, batch=200,
                            concurrency=64).drain()
        async with store.unit_of_work() as uow:  # alice's submissions, all pending
            ids = sorted(i.id for i in await uow.indicators.by_ids(range(1, rows + 1)))
        mod = Actor(Platform.SLACK, TEAM, "UMOD", "DMOD", private=True)
        for start in range(0, len(ids), 500):
            await dispatcher.handle_text("approve " + " ".join(f"#{i}" for i in ids[start:start + 500]), mod)
        outbox = await outbox_state(store)
        if outbox["approved"] != rows or outbox["pending"] != rows:
            raise SystemExit(f"set-up: expected {rows} approval rows waiting, found {outbox}")
    finally:
        await store.close()


async def outbox_state(store) -> dict[str, Any]:
    """The Slack outbox's approval rows: how many, delivered, waiting, parked, and their ids."""
    from sqlalchemy import select

    from storage.models import OutboxRow

    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(OutboxRow.id, OutboxRow.delivered_at, OutboxRow.parked_at).where(
            OutboxRow.platform == Platform.SLACK.value, OutboxRow.event == "indicator.approved"))).all()
    return {"approved": len(rows), "ids": [r.id for r in rows],
            "delivered": sum(1 for r in rows if r.delivered_at is not None),
            "parked": sum(1 for r in rows if r.parked_at is not None and r.delivered_at is None),
            "pending": sum(1 for r in rows if r.delivered_at is None and r.parked_at is None)}


def deliverer_process(url: str, api_url: str, concurrency: int, batch: int, ready, go, results) -> None:
    """One deliverer process: its own Store, Deliverer and Slack sink. It says when it is ready (connected), waits
    for the start, drains the outbox with the others and reports when it found nothing left to claim."""

    async def work() -> dict[str, Any]:
        store = create_store(url)
        outcomes: Counter[str] = Counter()
        try:
            async with aiohttp.ClientSession() as session:
                deliverer = Deliverer(store.unit_of_work, slack_sink(api_url, session), clock=utc_now,
                                      batch=batch, concurrency=concurrency)
                deliverer.observers.append(lambda outcome, event: outcomes.update([outcome]))
                async with store.unit_of_work(read_only=True) as uow:  # connected before the clock starts
                    await uow.outbox.pending_stats(utc_now())
                ready.put(os.getpid())
                await asyncio.get_running_loop().run_in_executor(None, go.wait)
                started, cpu = time.monotonic(), time.process_time()
                await deliverer.drain()
                finished, cpu = time.monotonic(), time.process_time() - cpu
        finally:
            await store.close()
        return {"pid": os.getpid(), "started": started, "finished": finished, "cpu": cpu, "outcomes": dict(outcomes)}

    try:
        results.put(asyncio.run(work()))
    except BaseException:
        results.put({"pid": os.getpid(), "error": traceback.format_exc()})
        ready.put(os.getpid())  # the parent is not left waiting


@dataclass
class Databases:
    """The set-up copied into a fresh database for each run: PostgreSQL databases or SQLite files."""

    template: str
    run: str

    def _pg(self, url: str):
        from sqlalchemy.engine import make_url

        return make_url(url)

    async def _admin(self, *statements: str) -> None:
        import asyncpg

        target = self._pg(self.template)
        conn = await asyncpg.connect(user=target.username, host=target.host, port=target.port or 5432,
                                     database="postgres")
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    @property
    def postgres(self) -> bool:
        return self.template.startswith("postgresql")

    async def create_template(self) -> None:
        if self.postgres:
            name = self._pg(self.template).database
            await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

    async def fresh_run(self) -> None:
        if self.postgres:
            run, template = self._pg(self.run).database, self._pg(self.template).database
            await self._admin(f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)',
                              f'CREATE DATABASE "{run}" TEMPLATE "{template}"')
        else:
            shutil.copyfile(self.template.split("///", 1)[1], self.run.split("///", 1)[1])

    async def drop(self) -> None:
        if self.postgres:
            await self._admin(*(f'DROP DATABASE IF EXISTS "{self._pg(u).database}" WITH (FORCE)'
                                for u in (self.run, self.template)))


def cpu_ticks() -> list[int]:
    """The machine's CPU time so far (/proc/stat: user, nice, system, idle, iowait, ...), in ticks."""
    with open("/proc/stat") as f:
        return [int(n) for n in f.readline().split()[1:]]


def busy_share(before: list[int], after: list[int]) -> float:
    """How busy the machine's CPUs were between two readings (0 to 1), whoever kept them busy."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    idle = spent[3] + spent[4]
    return round(1 - idle / max(1, sum(spent)), 2)


def check(state: dict[str, Any], tally: dict[str, Any], rows: int) -> list[str]:
    """What went wrong in a run: rows not delivered, keys posted twice or never, calls not answered ok."""
    problems: list[str] = []
    if state["delivered"] != rows:
        problems.append(f"{rows - state['delivered']} of {rows} rows not delivered ({state['pending']} waiting, "
                        f"{state['parked']} parked)")
    expected = {key for i in state["ids"] for key in (f"{i}:{TEAM}:{FEED}", f"{i}:dm")}
    posts: dict[str, int] = tally["posts"]
    twice = sorted(k for k, n in posts.items() if n > 1)
    never = sorted(expected - set(posts))
    other = sorted(set(posts) - expected)
    if twice:
        problems.append(f"{len(twice)} delivery keys posted more than once: {twice[:10]}")
    if never:
        problems.append(f"{len(never)} delivery keys never posted: {never[:10]}")
    if other:
        problems.append(f"{len(other)} posts under unexpected keys: {other[:10]}")
    if tally["failed_count"]:
        problems.append(f"{tally['failed_count']} calls not answered ok: {tally['failed']}")
    return problems


async def quiet(below: float, patience: float) -> float:
    """Wait (at most `patience` seconds) until the machine's CPUs are less busy than `below` over 3 s, as other
    work on a shared machine comes and goes; the busy share last seen."""
    deadline = time.monotonic() + patience
    while True:
        before = cpu_ticks()
        await asyncio.sleep(3)
        busy = busy_share(before, cpu_ticks())
        if busy < below or below >= 1 or time.monotonic() > deadline:
            return busy


async def scale_run(dbs: Databases, slack: FakeSlack, rows: int, processes: int, concurrency: int,
                    batch: int, quiet_below: float) -> dict[str, Any]:
    """One measured run: `processes` deliverer processes drain a fresh copy of the set-up."""
    await dbs.fresh_run()
    slack.ask("reset")
    busy_before = await quiet(quiet_below, 60)
    ctx = multiprocessing.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    children = [ctx.Process(target=deliverer_process, args=(dbs.run, slack.api_url, concurrency, batch, ready,
                                                            go, results)) for _ in range(processes)]
    for child in children:
        child.start()
    loop = asyncio.get_running_loop()
    for _ in children:
        await loop.run_in_executor(None, ready.get, True, 120)
    started, machine = time.monotonic(), cpu_ticks()
    go.set()
    reports = [await loop.run_in_executor(None, results.get, True, 1800) for _ in children]
    machine = busy_share(machine, cpu_ticks())
    for child in children:
        child.join(30)
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise SystemExit("a deliverer process failed:\n" + "\n".join(errors))
    seconds = max(r["finished"] for r in reports) - started
    store = create_store(dbs.run)
    try:
        state = await outbox_state(store)
    finally:
        await store.close()
    tally = slack.ask("tally")
    problems = check(state, tally, rows)
    calls = sum(n for method, n in tally["methods"].items() if method != "response_url")
    result = {"processes": processes, "concurrency": concurrency, "batch": batch, "rows": state["delivered"],
              "seconds": round(seconds, 2), "rows_per_second": round(state["delivered"] / seconds, 1),
              "calls": calls, "calls_per_row": round(calls / max(1, state["delivered"]), 2),
              "calls_by_method": tally["methods"], "duplicates": sum(n - 1 for n in tally["posts"].values() if n > 1),
              "per_process_rows": [r["outcomes"].get("delivered", 0) for r in reports],
              "cpu_seconds": {"deliverers": round(sum(r["cpu"] for r in reports), 2),
                              "mock_slack": round(tally["cpu"], 2)},
              "machine_busy_before": busy_before, "machine_busy": machine, "load_average": round(os.getloadavg()[0], 2),
              "problems": problems}
    if problems:
        print(json.dumps(result, indent=2))
        raise SystemExit("scale-out run failed its checks:\n  " + "\n  ".join(problems))
    return result


async def scale_out(dbs: Databases, rows: int, process_counts: list[int], concurrencies: list[int], batch: int,
                    latency_ms: float, repeat: int, quiet_below: float) -> list[dict[str, Any]]:
    slack = FakeSlack()
    try:
        await dbs.create_template()
        slack.ask("latency", 0.0)  # the set-up's moderation cards go out at once
        started = time.monotonic()
        await prepare_scale(dbs.template, rows, slack.api_url)
        print(f"set-up: {rows} approvals waiting, their moderation cards posted ({time.monotonic() - started:.0f} s)",
              flush=True)
        slack.ask("latency", latency_ms / 1000)
        runs: list[dict[str, Any]] = []
        for round_ in range(repeat):  # rounds interleave the configurations, so a busy minute hits all alike
            for concurrency in concurrencies:
                for processes in process_counts:
                    run = await scale_run(dbs, slack, rows, processes, concurrency, batch, quiet_below)
                    run["round"] = round_ + 1
                    runs.append(run)
                    print(f"  round {round_ + 1}: {processes} process(es), concurrency {concurrency}: "
                          f"{run['rows']} rows in {run['seconds']} s = {run['rows_per_second']} rows/s, "
                          f"{run['calls_per_row']} calls/row, duplicates {run['duplicates']}, "
                          f"per process {run['per_process_rows']}; CPU s: {run['cpu_seconds']}, machine busy "
                          f"{run['machine_busy_before']:.0%} before, {run['machine_busy']:.0%} during, load "
                          f"{run['load_average']}", flush=True)
        return runs
    finally:
        slack.stop()


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = []
    for concurrency in dict.fromkeys(r["concurrency"] for r in runs):
        base = None
        for processes in dict.fromkeys(r["processes"] for r in runs):
            mine = [r for r in runs if r["concurrency"] == concurrency and r["processes"] == processes]
            median = statistics.median(r["rows_per_second"] for r in mine)
            base = median if processes == 1 else base
            table.append({"concurrency": concurrency, "processes": processes, "runs": len(mine),
                          "rows_per_second": [r["rows_per_second"] for r in mine], "median": round(median, 1),
                          "calls_per_second": round(median * mine[0]["calls_per_row"]),
                          "vs_one_process": round(median / base, 2) if base else None})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approvals", type=int, default=200, help="approvals relayed for the latency")
    parser.add_argument("--deliveries", type=int, default=2000, help="outbox rows drained in each throughput run")
    parser.add_argument("--database", help="a PostgreSQL URL (created and dropped); default new SQLite files")
    parser.add_argument("--processes", type=int, nargs="+", default=[1], help="deliverer processes (e.g. 1 2 4)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="how long each Slack Web API call takes")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16],
                        help="indicators each deliverer delivers at once (Deliverer's default: 16)")
    parser.add_argument("--batch", type=int, default=50, help="rows a deliverer claims at once (its default: 50)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration (the median is shown)")
    parser.add_argument("--quiet-below", type=float, default=1.0,
                        help="before each run wait (up to 60 s) until the CPUs are less busy than this share "
                             "(e.g. 0.2) over 3 s: a shared machine's other work")
    parser.add_argument("--skip-latency", action="store_true", help="measure the throughput only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-") as tmp:
        url = args.database or f"sqlite:///{tmp}/relay.db"
        base = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1].removesuffix(".db")
        dbs = Databases(f"{base}_scale" + ("" if args.database else ".db"),
                        f"{base}_run" + ("" if args.database else ".db"))
        relay = None
        try:
            if not args.skip_latency:
                if args.database:
                    asyncio.run(Databases(url, url).create_template())
                asyncio.run(prepare(url, args.approvals))
                relay = asyncio.run(latency(url, args.approvals))
                print(f"approval on Discord -> card in the Slack feed: {relay['approvals']} approvals, p50 "
                      f"{relay['p50_ms']} ms, p99 {relay['p99_ms']} ms, max {relay['max_ms']} ms", flush=True)
            runs = asyncio.run(scale_out(dbs, args.deliveries, args.processes, args.concurrency, args.batch,
                                         args.latency_ms, args.repeat, args.quiet_below))
        finally:
            asyncio.run(dbs.drop())
            if args.database and not args.skip_latency:
                asyncio.run(Databases(url, url).drop())
    table = summarize(runs)
    print(f"store {url.split(':')[0]}; {args.deliveries} approval rows a run, 4 Slack calls each (feed card, "
          f"moderation card edited, DM: conversations.open + chat.postMessage); latency {args.latency_ms} ms a call; "
          f"batch {args.batch}; zero duplicates and every row delivered in every run")
    print("| concurrency | processes | rows/s (runs) | median rows/s | Slack calls/s | vs 1 process |")
    for t in table:
        print(f"| {t['concurrency']} | {t['processes']} | {', '.join(map(str, t['rows_per_second']))} | "
              f"{t['median']} | {t['calls_per_second']} | {t['vs_one_process']}x |")
    OUT.mkdir(exist_ok=True)
    (OUT / "relay.json").write_text(json.dumps({"store": url.split(":")[0], "relay": relay,
                                               "latency_ms": args.latency_ms, "scale_out": table, "runs": runs},
                                              indent=2))


if __name__ == "__main__":
    main()
