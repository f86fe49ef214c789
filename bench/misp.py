"""The MISP feed export at scale (issue 14): a store holding N approved indicators (mixed types, CLEAR to AMBER,
three organizations, 10% anonymous, tags on 10%, two votes on 5%, a sighting on 2%, created over a year: so
about 365 days x 4 authors x 3 TLPs events), exported as `coalition-bot export --format misp-feed` does it.

Reported: the export in-process (read from the store in id batches, events built, files written: what the
target counts), the same as the installed command in a fresh process (interpreter start and the PyMISP import
included), the events, files and bytes, and a second export giving the same bytes. Target: 100k indicators in
<= 10 s.

    .venv/bin/python bench/misp.py                       # SQLite, 100,000 indicators
    .venv/bin/python bench/misp.py --indicators 20000
    .venv/bin/python bench/misp.py --database postgresql://postgres@127.0.0.1:5432/coalition_bench_misp
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from adapters.misp_files import export_feed  # noqa: E402
from bench.lookup import rows  # noqa: E402
from bot.domain import ExportFilter, Role  # noqa: E402
from bot.rules import coalition_visibility  # noqa: E402
from bot.tlp import TLP  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import IndicatorRow, IndicatorTagRow, SightingRow, VoteRow  # noqa: E402
from storage.uow import Store, create_store  # noqa: E402

OUT = ROOT / "bench" / "out"
EXE = str(Path(sys.executable).with_name("coalition-bot"))
CHUNK = 20_000
TLPS = [TLP.CLEAR, TLP.GREEN, TLP.GREEN, TLP.AMBER]


async def fill(store: Store, n: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    async with store.unit_of_work() as uow:
        orgs = [await uow.organizations.add(f"Bench org {k}", "bench", 50) for k in range(3)]
        members = [await uow.members.add(org.id, f"analyst{k}", Role.MEMBER) for k, org in enumerate(orgs)]
        await uow.commit()
    org_ids, member_ids = [o.id for o in orgs], [m.id for m in members]
    async with store.engine.begin() as conn:
        for start in range(0, n, CHUNK):
            batch = rows(start, min(n, start + CHUNK), org_ids, member_ids, now)
            for r in batch:
                i = r["id"] - 1
                tlp = TLPS[i % len(TLPS)]
                created = now - timedelta(days=365) + timedelta(seconds=i * 365 * 86400 // n)
                r.update(status="approved", tlp=tlp.value, tlp_rank=tlp.rank, created_at=created,
                         modified_at=created + timedelta(hours=1), first_seen=created, last_seen=created,
                         note="seen in a phishing wave" if i % 7 == 0 else "")
            await conn.execute(insert(IndicatorRow), batch)
            tags = [{"indicator_id": r["id"], "tag": f"family-{r['id'] % 50}"} for r in batch if r["id"] % 10 == 0]
            votes = [{"indicator_id": r["id"], "member_id": member_ids[j], "org_id": org_ids[j],
                      "verdict": "confirm" if j else "false_positive", "previous_verdict": None, "reason": "",
                      "created_at": now, "updated_at": now} for r in batch if r["id"] % 20 == 0 for j in range(2)]
            sightings = [{"indicator_id": r["id"], "org_id": org_ids[1], "member_id": member_ids[1], "count": 3,
                          "seen_at": now, "seen_day": now.date()} for r in batch if r["id"] % 50 == 0]
            for table, values in ((IndicatorTagRow, tags), (VoteRow, votes), (SightingRow, sightings)):
                if values:
                    await conn.execute(insert(table), values)
            print(f"  filled {min(n, start + CHUNK):,}", end="\r", flush=True)
    print()


async def filled(url: str, n: int, keep: Path | None) -> Store:
    await upgrade(url)
    store = create_store(url)
    async with store.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(IndicatorRow))).scalar_one()
    if count == n:
        print(f"reusing {keep or url} ({n:,} indicators)")
        return store
    if count:
        if keep is None:
            raise SystemExit(f"{url} holds {count:,} indicators: give an empty database")
        await store.close()
        await asyncio.to_thread(keep.unlink)
        await upgrade(url)
        store = create_store(url)
    print(f"filling {n:,} indicators")
    await fill(store, n)
    return store


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a SQLite file in bench/out)")
    args = parser.parse_args()
    n = args.indicators
    OUT.mkdir(exist_ok=True)
    keep = None
    if args.database:
        url = args.database
        make_url(url)
    else:
        keep = OUT / f"misp-{n}.db"
        url = f"sqlite+aiosqlite:///{keep}"
    store = await filled(url, n, keep)
    folder = OUT / "misp-feed"
    results = []
    for run in range(2):
        shutil.rmtree(folder, ignore_errors=True)
        started, cpu = time.perf_counter(), time.process_time()
        async with store.unit_of_work(read_only=True) as uow:
            stats = await export_feed(uow, coalition_visibility(), ExportFilter(), folder, now=datetime.now(UTC),
                                      progress=lambda *_: None)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        results.append((elapsed, digest(folder)))
        files = list(folder.iterdir())
        size = sum(p.stat().st_size for p in files)
        print(f"in-process export {run + 1}: {stats.indicators:,} indicators in {elapsed:.2f} s "
              f"({stats.indicators / elapsed:,.0f}/s; {cpu:.2f} s of CPU), {len(files) - 2:,} events, "
              f"{size / 2**20:.1f} MB, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    await store.close()
    assert results[0][1] == results[1][1], "two exports of the same store differ"
    print(f"the two exports are byte-identical (sha256 {results[0][1]})")
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    done = await asyncio.to_thread(subprocess.run, [EXE, "export", "--format", "misp-feed", "--output", str(folder),
                                                    "--database", url], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"coalition-bot export --format misp-feed (a fresh process): {elapsed:.2f} s; "
          f"same bytes: {digest(folder) == results[0][1]}")
    print(f"date {date.today().isoformat()}, target <= 10 s for 100k")


if __name__ == "__main__":
    asyncio.run(main())
