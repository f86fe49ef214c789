"""Lookup latency at scale: fill a store with N indicators, then time `/ioc lookup` in-process
(parse with the one grammar, dispatcher, store, pivots, plain-text render), one value at a time and as a paste of
1,000 values, on SQLite and on PostgreSQL.

The mix is realistic for pivots (issue 12): IPv4 addresses, CIDRs (/16, /24, /29) that contain some of them,
URLs on those IPs, domains under held parent domains, URLs on domains, e-mail addresses on the parent domains,
SHA-256 hashes; every lookup answers the related section (the networks an IP is inside, what is on a domain...).

    .venv/bin/python bench/lookup.py                       # both backends, 1,000,000 indicators
    .venv/bin/python bench/lookup.py --backend sqlite --rows 100000
    .venv/bin/python bench/lookup.py --compare-pivots   # each lookup with and without the pivots, interleaved

Targets (issue 2): p99 <= 5 ms on SQLite and <= 10 ms on PostgreSQL at 1M indicators; a paste of 1,000 values
looked up in <= 150 ms. The filled SQLite file is kept in bench/out/ and reused when it holds the same count; so
is the PostgreSQL database coalition_bench_lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

from bot.dispatcher import Dispatcher
from bot.domain import Actor, Identity, Platform, Role
from bot.text import render
from bot.tlp import TLP
from storage.migrate import upgrade
from storage.models import IndicatorRow, IndicatorTagRow, VoteRow, indicator_scope
from storage.pivot_keys import pivot_keys
from storage.uow import Store, create_store

OUT = Path(__file__).resolve().parent / "out"
TLPS = [TLP.CLEAR, TLP.GREEN, TLP.GREEN, TLP.AMBER, TLP.AMBER, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
STATUSES = ["approved", "approved", "pending", "rejected", "revoked"]
CHUNK = 20_000
ANALYST = Identity(Platform.CONSOLE, "bench", "analyst1")  # the member the lookups speak as


def _ip(i: int) -> str:
    return f"{10 + (i >> 24) % 200}.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def value_of(i: int) -> tuple[str, str]:
    slot = i % 20
    if slot == 17:  # a URL on an IP
        return "url", f"http://{_ip(i)}/p/{i}/payload.bin"
    if slot == 18:  # a network around the IPs: one /16 per 65,536, one /24 per 256, else a /29 (each unique)
        a, b, c = 10 + (i >> 24) % 200, (i >> 16) & 255, (i >> 8) & 255
        if i & 0xFFFF < 20:
            return "cidr", f"{a}.{b}.0.0/16"
        if i & 0xFF < 20:
            return "cidr", f"{a}.{b}.{c}.0/24"
        return "cidr", f"{a}.{b}.{c}.{i & 0xF8}/29"
    if slot == 19:  # the parent domains of the hosts below (bench-0 ... bench-996 among them), and mailboxes
        return ("domain", f"bench-{i // 40}.example") if (i // 20) % 2 else ("email", f"u{i}@bench-{i % 997}.example")
    kind = i % 4
    if kind == 0:
        return "ipv4", _ip(i)
    if kind == 1:
        return "domain", f"host-{i}.bench-{i % 997}.example"
    if kind == 2:
        return "sha256", hashlib.sha256(str(i).encode()).hexdigest()
    return "url", f"http://drop-{i % 5003}.example/p/{i}/payload.bin"


def rows(start: int, stop: int, org_ids: list[int], member_ids: list[int], now: datetime) -> list[dict]:
    out = []
    for i in range(start, stop):
        kind, value = value_of(i)
        net_first, net_last, host_rev = pivot_keys(kind, value)
        tlp = TLPS[i % len(TLPS)]
        out.append({
            "id": i + 1, "stix_id": f"indicator--{uuid.UUID(int=i + 1)}", "type": kind, "value": value,
            "status": STATUSES[i % len(STATUSES)], "tlp": tlp.value, "tlp_rank": tlp.rank, "confidence": i % 101,
            "note": "", "submitter_id": member_ids[i % len(member_ids)], "org_id": org_ids[i % len(org_ids)],
            "anonymous": i % 10 == 0, "first_seen": now, "last_seen": now,
            "valid_until": now + timedelta(days=365), "created_at": now - timedelta(seconds=i), "modified_at": now,
            "status_reason": "", "net_first": net_first, "net_last": net_last, "host_rev": host_rev,
            "scope": indicator_scope(tlp.rank, org_ids[i % len(org_ids)], member_ids[i % len(member_ids)]),
        })
    return out


async def seed_people(store: Store) -> tuple[list[int], list[int]]:
    async with store.unit_of_work() as uow:
        orgs = [await uow.organizations.add(f"Bench org {n}", "bench", 50) for n in range(3)]
        members = [await uow.members.add(org.id, f"analyst{n}", Role.MODERATOR if n == 0 else Role.MEMBER)
                   for n, org in enumerate(orgs)]
        await uow.members.link_identity(members[1].id, ANALYST)
        await uow.commit()
    return [o.id for o in orgs], [m.id for m in members]


async def fill(store: Store, n: int) -> None:
    from adapters.progress import ProgressReport

    now = datetime.now(UTC)
    org_ids, member_ids = await seed_people(store)
    started = time.perf_counter()
    pg = store.dialect == "postgresql"
    with ProgressReport("  fill", unit="indicators", totals=False) as progress:
        await _fill_rows(store, n, org_ids, member_ids, now, pg, progress)
    print(f"  filled in {time.perf_counter() - started:.1f} s")


async def _fill_rows(store: Store, n: int, org_ids: list[int], member_ids: list[int], now: datetime, pg: bool,
                     progress: Callable[[str, int, int | None], None]) -> None:
    async with store.engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection if pg else None
        columns = list(rows(0, 1, org_ids, member_ids, now)[0])
        for start in range(0, n, CHUNK):
            batch = rows(start, min(n, start + CHUNK), org_ids, member_ids, now)
            tags = [{"indicator_id": r["id"], "tag": f"family-{r['id'] % 50}"} for r in batch if r["id"] % 10 == 0]
            votes = [{"indicator_id": r["id"], "member_id": member_ids[j], "org_id": org_ids[j], "verdict": "confirm",
                      "previous_verdict": None, "reason": "", "created_at": now, "updated_at": now}
                     for r in batch if r["id"] % 20 == 0 for j in range(2)]
            if raw is not None:
                await raw.copy_records_to_table("indicators", records=[tuple(r[c] for c in columns) for r in batch],
                                                columns=columns)
                await raw.copy_records_to_table("indicator_tags", records=[(t["indicator_id"], t["tag"]) for t in tags],
                                                columns=["indicator_id", "tag"])
            else:
                await conn.execute(insert(IndicatorRow), batch)
                await conn.execute(insert(IndicatorTagRow), tags)
            await conn.execute(insert(VoteRow), votes)
            progress("indicators", min(n, start + CHUNK), n)
        if pg:
            await conn.exec_driver_sql("SELECT setval('indicators_id_seq', (SELECT max(id) FROM indicators))")
    if pg:
        async with store.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            # VACUUM too, as autovacuum would have by then: index-only scans need the visibility map
            await conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")


def pct(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if len(samples) > 1 else samples[0]


async def _no_pivots(*_: object) -> tuple[()]:
    return ()


async def compare_pivots(store: Store, identity: Identity, n: int, queries: int) -> dict:
    """Each single lookup twice, with the related section and without it, in alternating order, so that both see
    the same load (the machine is shared): wall time and this process's CPU time (process_time: the driver's
    threads included, the database server's work not)."""
    from bot import services

    dispatcher = Dispatcher(store.unit_of_work)
    actor = Actor(Platform.CONSOLE, identity.workspace_id, identity.user_id, "bench", private=True)
    rng = random.Random(7)
    related = services._related
    samples: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}

    async def timed(text: str, pivots: bool) -> tuple[float, float]:
        services._related = related if pivots else _no_pivots  # type: ignore[assignment]
        t0, c0 = time.perf_counter(), time.process_time()
        render((await dispatcher.handle_text(text, actor)).result)
        return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000

    try:
        for q in range(-50, queries):  # 50 of each to warm up
            i = rng.randrange(n) if q % 10 else n + rng.randrange(n)  # one in ten is unknown
            for pivots in ((True, False) if q % 2 else (False, True)):
                wall, cpu = await timed("lookup " + value_of(i)[1], pivots)
                if q >= 0:
                    samples[pivots][0].append(wall)
                    samples[pivots][1].append(cpu)
    finally:
        services._related = related  # type: ignore[assignment]
    out: dict = {"queries": queries}
    for pivots, name in ((True, "with"), (False, "without")):
        wall, cpu = samples[pivots]
        out[name] = {"p50_ms": round(pct(wall, 50), 3), "p99_ms": round(pct(wall, 99), 3),
                     "cpu_mean_ms": round(statistics.mean(cpu), 3), "cpu_p50_ms": round(pct(cpu, 50), 3)}
    return out


async def measure(store: Store, identity: Identity, n: int, queries: int, pastes: int) -> dict:
    dispatcher = Dispatcher(store.unit_of_work)
    actor = Actor(Platform.CONSOLE, identity.workspace_id, identity.user_id, "bench", private=True)
    rng = random.Random(7)

    async def timed(text: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        out = render((await dispatcher.handle_text(text, actor)).result)
        return (time.perf_counter() - t0) * 1000, out

    for _ in range(50):  # warm-up: connections, statement caches
        await timed("lookup " + value_of(rng.randrange(n))[1])
    single, found, related = [], 0, 0
    for q in range(queries):
        i = rng.randrange(n) if q % 10 else n + rng.randrange(n)  # one in ten is unknown
        ms, out = await timed("lookup " + value_of(i)[1])
        single.append(ms)
        found += out.startswith("#")
        related += "\nRelated to " in f"\n{out}"
    paste = []
    for _ in range(pastes):
        values = [value_of(rng.randrange(n))[1] for _ in range(1000)]
        ms, out = await timed("lookup " + " ".join(values))
        paste.append(ms)
    return {"single_p50_ms": round(pct(single, 50), 3), "single_p99_ms": round(pct(single, 99), 3),
            "single_found": found, "single_with_related": related, "queries": queries,
            "paste1000_p50_ms": round(pct(paste, 50), 1),
            "paste1000_p99_ms": round(pct(paste, 99), 1), "pastes": pastes}


async def filled_store(url: str, n: int, *, keep: Path | None = None) -> Store:
    """A migrated store holding exactly `n` bench indicators. `keep`: the SQLite file behind `url`, reused when
    it already holds `n` (filling 1M takes a minute) and rebuilt when it holds another count."""
    await upgrade(url)
    store = create_store(url)
    async with store.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(IndicatorRow))).scalar_one()
    if count == n:
        print(f"reusing {keep or url} ({n:,} indicators)")
        return store
    if count and keep is not None:
        await store.close()
        await asyncio.to_thread(keep.unlink)
        await upgrade(url)
        store = create_store(url)
    print(f"filling {n:,} indicators")
    await fill(store, n)
    return store


async def _holds(url: str, n: int) -> bool:
    """Whether the PostgreSQL bench database exists, is migrated to the head and holds `n` indicators."""
    from storage.migrate import current_async, head

    try:
        if await current_async(url) != head():
            return False
        store = create_store(url)
        try:
            async with store.engine.connect() as conn:
                return (await conn.execute(select(func.count()).select_from(IndicatorRow))).scalar_one() == n
        finally:
            await store.close()
    except Exception:  # no such database yet, or not a bench database: build it
        return False


async def run_backend(backend: str, n: int, args: argparse.Namespace) -> dict:
    keep = None
    if backend == "sqlite":
        OUT.mkdir(exist_ok=True)
        keep = OUT / f"lookup-{n}.db"
        url = f"sqlite+aiosqlite:///{keep}"
    else:
        admin = make_url(args.pg_url)
        name = "coalition_bench_lookup"
        url = admin.set(database=name).render_as_string(hide_password=False)
        conn = await asyncpg.connect(user=admin.username, host=admin.host, port=admin.port or 5432,
                                     database=admin.database)
        try:
            if not await _holds(url, n):  # reused when it holds the same count, as the SQLite file is
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
    store = await filled_store(url, n, keep=keep)
    try:
        if args.compare_pivots:
            return {"backend": backend, "rows": n, **await compare_pivots(store, ANALYST, n, args.queries)}
        result = await measure(store, ANALYST, n, args.queries, args.pastes)
    finally:
        await store.close()
    return {"backend": backend, "rows": n, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--pastes", type=int, default=30)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--without-pivots", action="store_true",
                        help="leave out the related section (issue 12), to see what the pivots cost")
    parser.add_argument("--compare-pivots", action="store_true",
                        help="time each single lookup with and without the related section, interleaved (wall "
                             "and CPU time); no pastes")
    args = parser.parse_args()
    if args.without_pivots:
        from bot import services

        services._related = _no_pivots  # type: ignore[assignment]
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [asyncio.run(run_backend(b, args.rows, args)) for b in backends]
    if args.compare_pivots:
        print(f"\n{'backend':<11} {'rows':>10} {'pivots':>8} {'lookup p50':>11} {'lookup p99':>11} {'CPU mean':>9} "
              f"{'CPU p50':>8}")
        for r in results:
            for name in ("with", "without"):
                m = r[name]
                print(f"{r['backend']:<11} {r['rows']:>10,} {name:>8} {m['p50_ms']:>9.2f}ms {m['p99_ms']:>9.2f}ms "
                      f"{m['cpu_mean_ms']:>7.2f}ms {m['cpu_p50_ms']:>6.2f}ms")
        OUT.mkdir(exist_ok=True)
        (OUT / "lookup-pivots.json").write_text(json.dumps(results, indent=2))
        return
    print(f"\n{'backend':<11} {'rows':>10} {'lookup p50':>11} {'lookup p99':>11} {'paste p50':>10} {'paste p99':>10} "
          f"{'with related':>13}")
    for r in results:
        print(f"{r['backend']:<11} {r['rows']:>10,} {r['single_p50_ms']:>9.2f}ms {r['single_p99_ms']:>9.2f}ms "
              f"{r['paste1000_p50_ms']:>8.1f}ms {r['paste1000_p99_ms']:>8.1f}ms "
              f"{r['single_with_related']:>6} of {r['queries']}")
    OUT.mkdir(exist_ok=True)
    (OUT / "lookup.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
