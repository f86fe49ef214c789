"""Exactly once under kill -9, heavier than the CI test (tests/e2e/test_crash_delivery.py).

Whole `coalition-bot run` processes (Slack and Discord adapters) against the fake Slack and fake Discord deliver
N approved cards to a feed channel on each platform and N DM notices (half on each platform), `--processes` at a
time, while one of them is killed with SIGKILL at `--kills` random points of the progress and a successor is
started; after each kill people write 210 more messages in every watched channel. At the end every card and
notice is counted per delivery key: lost and duplicated must both be zero.

    .venv/bin/python bench/crash.py                              # both backends, 2,000 cards, 60 kills
    .venv/bin/python bench/crash.py --backend sqlite --cards 1000 --kills 20 --seed 7
    .venv/bin/python bench/crash.py --postgres postgresql://postgres@127.0.0.1:5432/coalition_bench_crash
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from storage.migrate import upgrade  # noqa: E402
from tests.e2e.crash_world import crash_run  # noqa: E402

OUT = ROOT / "bench" / "out"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/coalition_bench_crash"


async def _recreate(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    conn = await asyncpg.connect(user=target.username, password=target.password, host=target.host,
                                 port=target.port or 5432, database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()


async def _one(backend: str, args: argparse.Namespace, tmp: Path) -> dict:
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'crash.db'}"
    else:
        url = args.postgres
        await _recreate(url)
    await upgrade(url)
    logs = tmp / backend
    logs.mkdir()
    outcome = await crash_run(url, logs, cards=args.cards, kills=args.kills, processes=args.processes,
                              lease=args.lease, seed=args.seed, limit=args.limit)
    print(outcome.summary(), flush=True)
    return {"backend": backend, "cards": outcome.cards, "posts_expected": 3 * outcome.cards,
            "kills": outcome.kills, "processes_started": outcome.processes, "seconds": round(outcome.seconds, 1),
            "approving_seconds": round(outcome.prepared, 1),
            "problems": outcome.problems(), "timeline": outcome.timeline}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--cards", type=int, default=2000, help="approved cards (a multiple of 500)")
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--processes", type=int, default=3, help="processes running at a time")
    parser.add_argument("--lease", type=float, default=5.0, help="delivery.lease_seconds of the processes")
    parser.add_argument("--seed", type=int, default=None, help="replay one run's kill points")
    parser.add_argument("--limit", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--postgres", default=POSTGRES, help="a PostgreSQL URL (the database is recreated)")
    args = parser.parse_args()
    if args.cards % 500:
        parser.error("--cards must be a multiple of 500")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix=f"crash-{backend}-") as tmp:
            results.append(asyncio.run(_one(backend, args, Path(tmp))))
    OUT.mkdir(exist_ok=True)
    (OUT / "crash.json").write_text(json.dumps(results, indent=2))
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
