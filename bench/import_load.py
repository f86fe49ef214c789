"""Other commands during a 50 MB import: a TAXII POST of ~50 MB of STIX indicators into the TAXII server (aiohttp,
in the same event loop as the dispatcher, as in `coalition-bot run`), while members vote and look up every
200 ms through the same dispatcher, on SQLite and on PostgreSQL.

    .venv/bin/python bench/import_load.py                        # both backends, 50 MB
    .venv/bin/python bench/import_load.py --backend sqlite --mb 10
    .venv/bin/python bench/import_load.py --chunk 1000000        # the whole import as one transaction

Reported: the import's time and outcome; the event loop's lag (a 10 ms ticker: how late it wakes; every adapter
acknowledges from this loop, so this bounds how late an acknowledgement can be); and the time each concurrent
`vote` (a write) and `lookup` (a read) took from the command to its reply, and how many failed. Target (issue
10): every acknowledgement under 1 s while the import runs, no command failing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import requests
from aiohttp import web
from sqlalchemy.engine import make_url

from adapters.config import TaxiiSettings
from adapters.console.demo import WORKSPACE, seed
from adapters.runtime import settle
from adapters.taxii import create_app
from bot import exchange
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform
from bot.policy import Policy
from bot.results import InternalError, UserError
from bot.services import exchange as exchange_services
from storage.migrate import upgrade
from storage.uow import Store, create_store

OUT = Path(__file__).resolve().parent / "out"
MEDIA = "application/taxii+json;version=2.1"


def envelope(megabytes: float) -> tuple[bytes, int]:
    """A TAXII envelope of STIX indicators (domains, IPv4s, URLs; descriptions, labels, TLP markings) of about
    `megabytes`; and how many indicators it holds."""
    green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    parts: list[str] = []
    size, n = 0, 0
    while size < megabytes * 1_000_000:
        kind = n % 3
        if kind == 0:
            pattern = f"[domain-name:value = 'load-{n}.import-bench.example']"
        elif kind == 1:
            pattern = f"[ipv4-addr:value = '10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}']"
        else:
            pattern = f"[url:value = 'http://drop-{n % 977}.import-bench.example/p/{n}/payload.bin']"
        text = json.dumps({
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.UUID(int=n + 1, version=4)}",
            "created": "2026-11-01T09:00:00.000Z", "modified": "2026-11-01T09:00:00.000Z",
            "name": f"bench indicator {n}", "description": "Seen in the import load benchmark's campaign",
            "pattern": pattern, "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": "2026-11-01T09:00:00Z", "confidence": 60, "labels": ["bench", "malicious-activity"],
            "object_marking_refs": [green]})
        parts.append(text)
        size += len(text) + 1
        n += 1
    return ('{"objects":[' + ",".join(parts) + "]}").encode(), n


def pct(samples: list[float], q: int) -> float:
    if not samples:
        return float("nan")
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


def summary(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": round(pct(samples, 50), 1), "p99_ms": round(pct(samples, 99), 1),
            "max_ms": round(max(samples, default=float("nan")), 1)}


async def open_store(backend: str, pg_url: str) -> Store:
    if backend == "sqlite":
        OUT.mkdir(exist_ok=True)
        path = OUT / "import-load.db"
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        admin = make_url(pg_url)
        name = "coalition_bench_import"
        conn = await asyncpg.connect(user=admin.username, password=admin.password, host=admin.host,
                                     port=admin.port or 5432, database=admin.database)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = admin.set(database=name).render_as_string(hide_password=False)
    await upgrade(url)
    return create_store(url)


async def run_backend(backend: str, args: argparse.Namespace, body: bytes, count: int) -> dict:
    store = await open_store(backend, args.pg_url)
    dispatcher = Dispatcher(store.unit_of_work, policy=Policy(), clock=lambda: datetime.now(UTC))
    await seed(store, dispatcher, samples=False)

    async def say(who: str, text: str) -> tuple[float, bool]:
        t0 = time.perf_counter()
        reply = await dispatcher.handle_text(text, Actor(Platform.CONSOLE, WORKSPACE, who, "direct", private=True))
        return (time.perf_counter() - t0) * 1000, isinstance(reply.result, UserError | InternalError)

    for who, text in [("alice", "submit vote-target.import-bench.example tlp:green"), ("mod", "approve #1")]:
        _, failed = await say(who, text)
        assert not failed, text
    async with store.unit_of_work() as uow:
        key = (await exchange.create_api_key(uow, "Northbank", "bench", created_by=None,
                                             now=datetime.now(UTC))).key
        await uow.commit()
    settings = TaxiiSettings(enabled=True, host="127.0.0.1", port=0, max_content_length=len(body) + 1024)
    runner = web.AppRunner(create_app(store.unit_of_work, dispatcher, settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/coalition/collections/{settings.submissions_collection}/objects/"
    settle()  # as `coalition-bot run` does once started: start-up objects out of the GC's full passes

    done = asyncio.Event()
    lags: list[float] = []
    votes: list[float] = []
    lookups: list[float] = []
    failures: list[str] = []

    async def ticker() -> None:
        while not done.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(max(0.0, (time.perf_counter() - t0 - 0.01) * 1000))

    async def members() -> None:
        n = 0
        while not done.is_set():
            verdict = "confirm" if n % 2 else "false_positive"
            ms, failed = await say("bob", f"vote #1 {verdict}")
            votes.append(ms)
            if failed:
                failures.append(f"vote {n}")
            ms, failed = await say("carol", "lookup vote-target.import-bench.example")
            lookups.append(ms)
            if failed:
                failures.append(f"lookup {n}")
            n += 1
            await asyncio.sleep(args.interval)

    def post() -> requests.Response:
        return requests.post(url, data=body, auth=("k", key), timeout=3600,
                             headers={"Content-Type": MEDIA, "Accept": MEDIA})

    collections: list[float] = []  # full (generation 2) GC passes: they hold the GIL, so they stall the loop
    started_gc = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                started_gc[0] = time.perf_counter()
            else:
                collections.append((time.perf_counter() - started_gc[0]) * 1000)

    gc.callbacks.append(on_gc)
    background = [asyncio.create_task(ticker()), asyncio.create_task(members())]
    await asyncio.sleep(1)  # a baseline second before the import starts
    started = time.perf_counter()
    response = await asyncio.to_thread(post)
    took = time.perf_counter() - started
    done.set()
    gc.callbacks.remove(on_gc)
    await asyncio.gather(*background)
    await runner.cleanup()
    await store.close()
    status = response.json()
    report = status.get("x_coalition_report", {})
    return {"backend": backend, "body_mb": round(len(body) / 1e6, 1), "indicators": count,
            "chunk": exchange_services.IMPORT_CHUNK, "http_status": response.status_code, "import_s": round(took, 1),
            "submitted": report.get("submitted"), "loop_lag": summary(lags), "vote": summary(votes),
            "lookup": summary(lookups), "failed_commands": len(failures), "full_gc": summary(collections)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--mb", type=float, default=50.0, help="size of the POST body, MB")
    parser.add_argument("--chunk", type=int, default=None, help="indicators per transaction (default: the code's)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between a member's commands")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    if args.chunk:
        exchange_services.IMPORT_CHUNK = args.chunk
    body, count = envelope(args.mb)
    print(f"envelope: {len(body) / 1e6:.1f} MB, {count:,} indicators")
    for backend in ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]:
        print(json.dumps(asyncio.run(run_backend(backend, args, body, count))), flush=True)


if __name__ == "__main__":
    main()
