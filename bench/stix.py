"""STIX export/import throughput and a TAXII page at scale, with the `stix2` library path in the same run.

    .venv/bin/python bench/stix.py                       # 100k export/import, TAXII pages at 1M stored
    .venv/bin/python bench/stix.py --taxii-n 0           # export/import only
    .venv/bin/python bench/stix.py -n 1000 --comments 20000   # TAXII pages with 20,000 comments in the store
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import exchange
from bot.domain import Indicator, SightingRecord, Status, Verdict, VoteRecord
from bot.ioc import IOCType
from bot.rules import organization_visibility
from bot.stix import ActIds, BundleBuilder, BundleStream, read_file
from bot.tlp import TLP

NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)
KINDS = [(IOCType.IPV4, lambda i: f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"),
         (IOCType.DOMAIN, lambda i: f"host{i}.evil.example"),
         (IOCType.URL, lambda i: f"http://evil{i}.example/it%27s/a%5Cpath?id={i}&q=a+b"),
         (IOCType.SHA256, lambda i: f"{i:064x}"),
         (IOCType.EMAIL, lambda i: f"user{i}@evil.example")]


def indicators(n: int) -> list[Indicator]:
    out = []
    for i in range(n):
        t, v = KINDS[i % len(KINDS)]
        out.append(Indicator(
            id=i + 1, stix_id=f"indicator--{uuid.UUID(int=i + 1, version=4)}", type=t, value=v(i),
            status=Status.APPROVED, tlp=(TLP.CLEAR, TLP.GREEN, TLP.AMBER)[i % 3], confidence=i % 101,
            tags=("emotet", "phishing")[: i % 3], note="", submitter_id=1, submitter_name="a", org_id=1 + i % 3,
            org_name="Org", anonymous=i % 10 == 0, first_seen=NOW, last_seen=NOW,
            valid_until=NOW + timedelta(days=90), created_at=NOW, modified_at=NOW + timedelta(seconds=i)))
    return out


def export_ours(inds: list[Indicator]) -> tuple[str, int, float]:
    votes = {i.id: [VoteRecord(i.id, 7, 2, Verdict.CONFIRM, "", NOW, NOW)] for i in inds[::20]}
    sightings = {i.id: [SightingRecord(i.id, i.id, 3, 2, NOW)] for i in inds[::50]}
    started = time.perf_counter()
    builder = BundleBuilder({1: "A", 2: "B", 3: "C"}, ids=ActIds(bytes(32)))
    stream = BundleStream()
    parts = [stream.start()]
    for s in range(0, len(inds), 2000):
        batch = inds[s:s + 2000]
        parts.append(stream.write(builder.objects_for(batch, {i.id: votes[i.id] for i in batch if i.id in votes},
                                                      {i.id: sightings[i.id] for i in batch if i.id in sightings})))
    parts.append(stream.finish(builder))
    text = "".join(parts)
    return text, builder.count + len(builder.supporting_objects()), time.perf_counter() - started


def export_stix2(inds: list[Indicator]) -> float:
    import stix2

    from bot.stix import indicator_object

    started = time.perf_counter()
    objs = [stix2.parse(indicator_object(i), allow_custom=True) for i in inds]
    stix2.Bundle(objects=objs, allow_custom=True).serialize()
    return len(inds) / (time.perf_counter() - started)


def import_stix2(text: str, n: int) -> float:
    import stix2

    doc = json.loads(text)
    sample = [o for o in doc["objects"] if o["type"] == "indicator"][:n]
    started = time.perf_counter()
    for o in sample:
        stix2.parse(o, allow_custom=True)
    return len(sample) / (time.perf_counter() - started)


async def with_comments(store, n: int, comments: int) -> None:  # type: ignore[no-untyped-def]
    """Exactly `comments` comments in the store, on indicators drawn at random (seeded), made in the last 30 days;
    the table is not analyzed (as a store whose comments came after its last ANALYZE)."""
    import random

    from sqlalchemy import case, delete, func, insert, select, update

    from storage.models import CommentRow, IndicatorRow, MemberRow

    async with store.engine.begin() as conn:
        if (await conn.execute(select(func.count()).select_from(CommentRow))).scalar_one() == comments:
            return
        await conn.execute(delete(CommentRow))
        members = list((await conn.execute(select(MemberRow.id))).scalars())
        rnd = random.Random(7)
        rows = [{"indicator_id": rnd.randint(1, n), "member_id": rnd.choice(members), "text": f"seen in campaign {i}",
                 "created_at": (at := NOW - timedelta(seconds=rnd.randint(0, 30 * 86400))), "added_at": at}
                for i in range(comments)]
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(CommentRow), rows[start:start + 5000])
        changed = select(IndicatorRow.modified_at).where(IndicatorRow.id == CommentRow.indicator_id).scalar_subquery()
        await conn.execute(update(CommentRow).values(  # as the repositories keep it: added with its indicator
            added_at=case((CommentRow.created_at > changed, CommentRow.created_at), else_=changed)))


async def taxii_page(n: int, queries: int, comments: int = 0) -> dict:
    """Pages of 1,000 through `exchange.feed_page` + the JSON body, on a SQLite file of `n` indicators filled
    by bench/lookup.py's `fill` (kept in bench/out/ and reused), with `comments` comments: the first pages, then
    pages from the middle."""
    from lookup import OUT, filled_store
    from sqlalchemy import select

    from storage.models import IndicatorRow

    OUT.mkdir(exist_ok=True)
    path = OUT / f"stix-taxii-{n}.db"
    store = await filled_store(f"sqlite+aiosqlite:///{path}", n, keep=path)
    try:
        await with_comments(store, n, comments)
        async with store.engine.connect() as conn:
            middle = (await conn.execute(select(IndicatorRow.modified_at).where(IndicatorRow.id == n // 2)))\
                .scalar_one()
        view = organization_visibility(2)
        result: dict = {"stored": n, "comments": comments}
        for name, start in (("first pages", None), ("from the middle", (middle, 0, n // 2))):
            times, cursor, count = [], start, 0
            for _ in range(queries):
                started = time.perf_counter()
                async with store.unit_of_work(read_only=True) as uow:
                    objects, more, cursor = await exchange.feed_page(uow, view, cursor=cursor, added_after=None,
                                                                     types=[], stix_ids=[], limit=1000)
                    body = json.dumps({"more": more, "objects": [o for _, o in objects]})
                times.append(time.perf_counter() - started)
                count = len(objects)
                assert body
                if not more:
                    break
            times.sort()
            result[name] = {"objects_per_page": count, "median_ms": round(1000 * times[len(times) // 2], 1),
                            "p90_ms": round(1000 * times[int(len(times) * 0.9)], 1),
                            "max_ms": round(1000 * times[-1], 1)}
        return result
    finally:
        await store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=100_000, help="indicators exported and imported")
    ap.add_argument("--library-n", type=int, default=5_000, help="indicators through the stix2 library")
    ap.add_argument("--taxii-n", type=int, default=1_000_000,
                    help="stored indicators for the TAXII page (0: skip; the first fill of 1M takes a few minutes)")
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--comments", type=int, default=0, help="comments in the TAXII store (notes in its feed)")
    args = ap.parse_args()
    inds = indicators(args.n)
    text, objects, seconds = export_ours(inds)
    print(f"export ours: {objects:,} objects ({args.n:,} indicators) in {seconds:.2f} s = {objects / seconds:,.0f} "
          f"objects/s, {len(text) / 2**20:.1f} MB")
    print(f"export stix2 library: {export_stix2(inds[:args.library_n]):,.0f} indicators/s "
          f"(sample of {args.library_n:,})")
    data = text.encode()
    started = time.perf_counter()
    plan = read_file(data, "b.json", default_tlp=TLP.AMBER, default_confidence=50, now=NOW)
    seconds = time.perf_counter() - started
    print(f"import ours (parse + patterns + IOC engine): {plan.objects:,} objects, {plan.count:,} indicators "
          f"in {seconds:.2f} s = {plan.objects / seconds:,.0f} objects/s ({plan.count / seconds:,.0f} "
          "indicators/s)")
    assert plan.count == args.n, plan.skipped  # every generated indicator is importable
    print(f"import stix2 library (stix2.parse): {import_stix2(text, args.library_n):,.0f} indicators/s")
    if args.taxii_n:
        print("TAXII page of 1,000:", asyncio.run(taxii_page(args.taxii_n, args.pages, args.comments)))


if __name__ == "__main__":
    main()
