"""Slash-command lookups through the real discord.py client at 1M indicators: time to the interaction callback.

The fake Discord (tests/adapters/discord/fake_discord.py) runs in a child process so that it does not share
the bot's event loop; it dispatches bursts of 50 concurrent `/ioc lookup VALUE` INTERACTION_CREATE events over
its gateway and times each from the moment its payload is written to the websocket until the bot's
interaction callback (POST /interactions/{id}/{token}/callback) arrives. The bot is the Discord adapter's
service (`DiscordService`) on the SQLite store filled by bench/lookup.py (reused from bench/out/).

    .venv/bin/python bench/discord.py                      # 1,000,000 indicators, 40 bursts of 50
    .venv/bin/python bench/discord.py --rows 20000 --bursts 10

Target (Discord issue): p99 <= 100 ms from dispatch to callback with 50 concurrent lookups.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path and this file would shadow discord.py itself.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

OUT = ROOT / "bench" / "out"
GUILD, CHANNEL, USER = 700000000000000001, 700000000000000010, 800000000000000042


def fake_process(port_queue: multiprocessing.Queue, result_queue: multiprocessing.Queue, rows: int, bursts: int,
                 concurrency: int) -> None:
    from bench.lookup import value_of
    from tests.adapters.discord.fake_discord import FakeDiscord

    async def main() -> None:
        fake = FakeDiscord(record=False)
        sent: dict[str, float] = {}
        took: dict[str, float] = {}  # interaction id -> ms to the callback (the acknowledgement)
        answered: dict[str, float] = {}  # interaction id -> ms to the answer (callback with it, or the edit)
        by_token: dict[str, str] = {}
        done = asyncio.Event()
        route = fake._route

        def timed_route(call):
            now = time.perf_counter()
            if call.path.startswith("/interactions/"):
                iid = call.path.split("/")[2]
                if iid in sent:
                    took[iid] = (now - sent[iid]) * 1000
                    if (call.json or {}).get("type") == 4:  # the answer itself, not a deferral
                        answered[iid] = took[iid]
            elif call.path.startswith("/webhooks/") and call.method in {"PATCH", "POST"}:
                iid = by_token.get(call.path.split("/")[3], "")
                if iid in sent and iid not in answered:
                    answered[iid] = (now - sent[iid]) * 1000
            if sent and len(answered) >= len(sent) and len(took) >= len(sent):
                done.set()
            return route(call)

        fake._route = timed_route  # type: ignore[method-assign]
        await fake.start()
        user = fake.user(USER, "analyst1")
        fake.add_guild(GUILD, channels=[CHANNEL], members=[user])
        port_queue.put((fake.api_url, fake.gateway_url))
        await fake.wait_ready(timeout=120)
        rng = random.Random(7)
        samples: list[tuple[float, float]] = []
        for burst in range(bursts + 2):  # two warm-up bursts
            sent.clear()
            took.clear()
            answered.clear()
            done.clear()
            payloads = [fake.slash("ioc", "lookup", {"values": value_of(rng.randrange(rows))[1]}, user=user,
                                   guild_id=GUILD, channel_id=CHANNEL) for _ in range(concurrency)]
            ws = fake.sockets[0]
            for p in payloads:
                by_token[p["token"]] = p["id"]
                sent[p["id"]] = time.perf_counter()
                await fake._send_dispatch(ws, "INTERACTION_CREATE", p)
            await asyncio.wait_for(done.wait(), 30)
            if burst >= 2:
                samples.extend((took[i], answered[i]) for i in sent)
        result_queue.put(samples)
        await fake.stop()

    asyncio.run(main())


async def run_bot(api_url: str, gateway_url: str, url: str,
                  result_queue: multiprocessing.Queue) -> list[tuple[float, float]]:
    from pydantic import SecretStr

    from adapters.config import DiscordSettings, Settings
    from adapters.discord.service import DiscordService
    from adapters.runtime import Runtime, settle
    from bot.dispatcher import Dispatcher
    from bot.domain import Identity, Platform
    from storage.uow import create_store

    store = create_store(url)
    identity = Identity(Platform.DISCORD, "discord", str(USER))
    async with store.unit_of_work() as uow:  # the bench's analyst1 speaks on Discord too
        if await uow.members.by_identity(identity) is None:
            console = await uow.members.by_identity(Identity(Platform.CONSOLE, "bench", "analyst1"))
            await uow.members.link_identity(console.id, identity)
            await uow.commit()
    settings = Settings(discord=DiscordSettings(enabled=True, token=SecretStr("bench"), application_id=1,
                                                api_url=api_url, gateway_url=gateway_url),
                        warninglists={"enabled": False})
    runtime = Runtime(settings, store, Dispatcher(store.unit_of_work, delivery_platforms=()))
    service = DiscordService(runtime, guild_ready_timeout=0.1, deliver=False)  # lookups deliver nothing
    await service.start()
    settle()  # as `coalition-bot run` does once its adapters are up
    try:
        loop = asyncio.get_running_loop()
        samples = await loop.run_in_executor(None, result_queue.get)
        assert service.is_running()
    finally:
        await service.stop()
        await store.close()
    return samples


def pct(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bursts", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--database", help="a store filled by bench/lookup.py (default: its SQLite file); e.g. "
                        "postgresql://postgres@127.0.0.1:5432/coalition_bench_lookup")
    args = parser.parse_args()
    db = OUT / f"lookup-{args.rows}.db"
    if args.database is None and not db.exists():
        sys.exit(f"{db} is missing: run `.venv/bin/python bench/lookup.py --backend sqlite --rows {args.rows}` first")
    url = args.database or f"sqlite+aiosqlite:///{db}"
    ctx = multiprocessing.get_context("spawn")
    ports, results = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=fake_process, args=(ports, results, args.rows, args.bursts, args.concurrency))
    child.start()
    api_url, gateway_url = ports.get(timeout=30)
    samples = asyncio.run(run_bot(api_url, gateway_url, url, results))
    child.join(10)
    acks, answers = [a for a, _ in samples], [b for _, b in samples]
    summary = {"store": url.split(":")[0], "rows": args.rows, "concurrency": args.concurrency,
               "lookups": len(samples),
               "callback_ms": {"p50": round(pct(acks, 50), 1), "p90": round(pct(acks, 90), 1),
                               "p99": round(pct(acks, 99), 1), "max": round(max(acks), 1)},
               "answer_ms": {"p50": round(pct(answers, 50), 1), "p90": round(pct(answers, 90), 1),
                             "p99": round(pct(answers, 99), 1), "max": round(max(answers), 1)}}
    print(f"{len(samples)} lookups in bursts of {args.concurrency} at {args.rows:,} indicators "
          f"({summary['store']}):")
    for name, key in (("interaction callback", "callback_ms"), ("answer shown", "answer_ms")):
        f = summary[key]
        print(f"  {name:<21} p50 {f['p50']} ms, p90 {f['p90']} ms, p99 {f['p99']} ms, max {f['max']} ms")
    OUT.mkdir(exist_ok=True)
    (OUT / "discord.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
