"""Relay between platforms and outbox throughput.

1. Latency: one `coalition-bot run` process with the Slack and Discord adapters over a SQLite store; a moderator
   approves an indicator on Discord (a slash command through the fake Discord's gateway) and the time is taken
   until the card reaches the Slack feed channel (chat.postMessage at the mock Slack Web API). Target (issue 7):
   p99 <= 500 ms.
2. Throughput: in this process, one Deliverer with the real Slack sink (slack_sdk against the mock) drains N
   approvals' outbox rows (each a card posted to a feed channel, reserved and recorded for idempotency). Target:
   >= 500 deliveries/s per process.

    .venv/bin/python bench/relay.py                    # 200 approvals relayed, 5,000 deliveries drained
    .venv/bin/python bench/relay.py --approvals 50 --deliveries 1000
    .venv/bin/python bench/relay.py --database postgresql://postgres@127.0.0.1:5432/coalition_bench_relay
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from adapters.console.demo import seed  # noqa: E402
from adapters.slack.blocks import Renderer  # noqa: E402
from adapters.slack.sink import SlackSink  # noqa: E402
from bot.delivery import Deliverer  # noqa: E402
from bot.dispatcher import Dispatcher  # noqa: E402
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform  # noqa: E402
from bot.tlp import TLP  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.uow import create_store  # noqa: E402
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord  # noqa: E402
from tests.adapters.slack.fake_slack import MockSlack  # noqa: E402
from tests.adapters.slack.slack_world import SECRET, TOKEN, link_slack_identities  # noqa: E402

OUT = ROOT / "bench" / "out"
GUILD, D_MOD = 730000000000000001, 730000000000000012
MOD = 830000000000000003
EXE = str(Path(sys.executable).with_name("coalition-bot"))


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


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


def mock_slack_process(urls: multiprocessing.Queue, control: multiprocessing.Queue,
                       counts: multiprocessing.Queue) -> None:
    """The mock Slack Web API in its own process, as Slack is elsewhere in a real deployment."""

    async def serve() -> None:
        slack = MockSlack(light_responses=True)
        await slack.start()
        urls.put(slack.api_url)
        loop = asyncio.get_running_loop()
        while (await loop.run_in_executor(None, control.get)) == "count":
            calls = list(slack.calls)
            counts.put((len(calls), sum(1 for c in calls if c.method == "chat.postMessage"
                                        and c.get("channel") == "CRELAY")))
        await slack.stop()

    asyncio.run(serve())


async def throughput(url: str, deliveries: int) -> dict:
    from slack_sdk.web.async_client import AsyncWebClient

    ctx = multiprocessing.get_context("spawn")
    urls, control, counts = ctx.Queue(), ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=mock_slack_process, args=(urls, control, counts))
    child.start()
    api_url = urls.get(timeout=30)
    loop = asyncio.get_running_loop()

    async def count() -> tuple[int, int]:
        control.put("count")
        return await loop.run_in_executor(None, counts.get)

    store = create_store(url)
    try:
        async with store.unit_of_work() as uow:  # approved indicators whose events wait in the outbox
            first = 1 + (await uow.indicators.stats()).by_status.get("approved", 0)
        dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK,))
        mod = Actor(Platform.SLACK, "T0COAL", "UMOD", "DMOD", private=True)
        for start in range(first, first + deliveries, 500):
            ids = " ".join(f"#{i}" for i in range(start, min(first + deliveries, start + 500)))
            await dispatcher.handle_text(f"approve {ids}", mod)
        async with aiohttp.ClientSession() as session:  # one connection pool, as the Slack service has
            client = AsyncWebClient(token=TOKEN, base_url=api_url, session=session)
            deliverer = Deliverer(store.unit_of_work, SlackSink(client, Renderer()), clock=dispatcher.clock,
                                  batch=100)
            calls_before, _ = await count()
            started = time.perf_counter()
            await deliverer.drain()
            seconds = time.perf_counter() - started
        calls_after, relayed = await count()
    finally:
        await store.close()
        control.put("stop")
        child.join(10)
    calls = calls_after - calls_before
    return {"rows": relayed, "platform_calls": calls, "seconds": round(seconds, 2),
            "rows_per_second": round(relayed / seconds), "calls_per_second": round(calls / seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--approvals", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--database", help="a PostgreSQL URL (the database is emptied); default a new SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-") as tmp:
        url = args.database or f"sqlite:///{tmp}/relay.db"
        if args.database:
            import asyncpg
            from sqlalchemy.engine import make_url

            target = make_url(args.database)

            async def recreate() -> None:
                conn = await asyncpg.connect(user=target.username, host=target.host, port=target.port or 5432,
                                             database="postgres")
                await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{target.database}"')
                await conn.close()

            asyncio.run(recreate())
        asyncio.run(prepare(url, args.approvals + args.deliveries))
        relay = asyncio.run(latency(url, args.approvals))
        drain = asyncio.run(throughput(url, args.deliveries))
    result = {"store": url.split(":")[0], "relay": relay, "outbox": drain}
    print(f"store {result['store']}")
    print(f"approval on Discord -> card in the Slack feed: {relay['approvals']} approvals, p50 {relay['p50_ms']} ms, "
          f"p99 {relay['p99_ms']} ms, max {relay['max_ms']} ms")
    print(f"outbox drained by one deliverer: {drain['rows']} approvals in {drain['seconds']} s = "
          f"{drain['rows_per_second']} rows/s ({drain['platform_calls']} Slack API calls: two feed posts and a DM "
          f"to the submitter each, {drain['calls_per_second']} calls/s)")
    OUT.mkdir(exist_ok=True)
    (OUT / "relay.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
