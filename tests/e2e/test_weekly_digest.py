"""The weekly digest (issue 14): written by the maintenance loop once per week when due, whatever number of
processes run it, and posted in each feed channel with the numbers that channel may see (console sink here; the
Slack and Discord sinks in tests/adapters/*/test_*_weekly_digest.py). On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from adapters.charts import stats_png
from adapters.config import DigestSettings, Settings
from adapters.console.delivery import ConsoleSink
from adapters.ops import weekly_digest_once
from adapters.runtime import Runtime
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from bot.weekly import WEEKLY_EVENT
from storage.uow import create_store
from tests.e2e.weekly_seed import (
    AMBER_APPROVED,
    AMBER_SUBMITTED,
    GREEN_APPROVED,
    GREEN_SUBMITTED,
    feeds,
    seed_week,
)

MONDAY_NINE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ON = Settings(digest=DigestSettings(weekly=True, day="monday", hour=9))


async def _weekly_rows(store, platform: Platform) -> list:
    async with store.unit_of_work() as uow:  # rolled back: the rows stay as they were
        rows = await uow.outbox.claim(platform, MONDAY_NINE + timedelta(days=30), timedelta(seconds=1), 100)
    return [r for r in rows if r.event == WEEKLY_EVENT]


async def test_written_once_a_week_by_two_maintenance_loops(database_url, clock, caplog):
    clock.now = MONDAY_NINE - timedelta(minutes=1)
    platforms = (Platform.SLACK, Platform.DISCORD)
    stores = [create_store(database_url), create_store(database_url)]
    try:
        loops = [Runtime(ON, s, Dispatcher(s.unit_of_work, clock=clock, delivery_platforms=platforms))
                 for s in stores]
        assert await asyncio.gather(*(weekly_digest_once(r) for r in loops)) == [0, 0]  # not due yet
        clock.now = MONDAY_NINE + timedelta(seconds=30)
        written = await asyncio.gather(*(weekly_digest_once(r) for r in loops))
        assert sorted(written) == [0, 1]  # one of the two loops wrote it
        for _ in range(3):  # the next rounds of both, an hour later
            clock.advance(timedelta(hours=1))
            assert await asyncio.gather(*(weekly_digest_once(r) for r in loops)) == [0, 0]
        restarted = create_store(database_url)  # a restart in the same week
        stores.append(restarted)
        again = Runtime(ON, restarted, Dispatcher(restarted.unit_of_work, clock=clock, delivery_platforms=platforms))
        assert await weekly_digest_once(again) == 0
        for platform in platforms:  # one row per delivering platform
            (row,) = await _weekly_rows(stores[0], platform)
            assert row.payload == {"week": "2026-11-02", "at": MONDAY_NINE.isoformat()}
        clock.now = MONDAY_NINE + timedelta(days=7, minutes=1)  # the next week
        assert sorted(await asyncio.gather(*(weekly_digest_once(r) for r in loops))) == [0, 1]
        assert len(await _weekly_rows(stores[0], Platform.SLACK)) == 2
        async with stores[1].unit_of_work(read_only=True) as uow:
            assert str(await uow.weekly_digests.last()) == "2026-11-09"
        assert "failed" not in caplog.text and "unavailable" not in caplog.text  # the loser waited, then did nothing
    finally:
        for s in stores:
            await s.close()


async def test_a_week_whose_moment_passed_a_day_ago_is_skipped(store, clock):
    runtime = Runtime(ON, store, Dispatcher(store.unit_of_work, clock=clock, delivery_platforms=(Platform.SLACK,)))
    clock.now = MONDAY_NINE + timedelta(days=1, minutes=1)  # the process was down all Monday
    assert await weekly_digest_once(runtime) == 0
    clock.now = MONDAY_NINE + timedelta(days=7)
    assert await weekly_digest_once(runtime) == 1


@pytest.mark.parametrize("settings", [Settings(), Settings(digest=DigestSettings(weekly=False, day="monday"))])
async def test_nothing_when_off(store, clock, settings):
    runtime = Runtime(settings, store, Dispatcher(store.unit_of_work, clock=clock,
                                                  delivery_platforms=(Platform.SLACK,)))
    clock.now = MONDAY_NINE
    assert settings.digest.schedule() is None
    assert await weekly_digest_once(runtime) == 0
    assert await _weekly_rows(store, Platform.SLACK) == []
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.weekly_digests.last() is None


def test_the_day_is_read_and_a_wrong_one_explained():
    assert DigestSettings(day="Fri").day == "friday"
    assert DigestSettings(weekly=True, day="sunday", hour=23).schedule().moment(MONDAY_NINE) == \
        datetime(2026, 11, 1, 23, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a day of the week; use one of monday"):
        DigestSettings(day="someday")
    with pytest.raises(ValueError):
        DigestSettings(hour=24)


async def test_each_feed_channel_gets_the_numbers_it_may_see(store, clock, tmp_path):
    clock.now = MONDAY_NINE
    dispatcher = Dispatcher(store.unit_of_work, clock=clock, delivery_platforms=(Platform.CONSOLE,))
    channels = feeds(Platform.CONSOLE, "console", "feed-green", "feed-amber")
    await seed_week(store, dispatcher, channels, clock)
    output: list[str] = []
    deliverer = Deliverer(store.unit_of_work, ConsoleSink(output.append, tmp_path), clock=clock, chart=stats_png)
    await deliverer.drain()
    output.clear()  # the submissions' and approvals' own posts
    clock.now = MONDAY_NINE + timedelta(minutes=1)
    assert await weekly_digest_once(Runtime(ON, store, dispatcher)) == 1
    await deliverer.drain()
    posts = {line.split("]", 1)[0].removeprefix("[#"): line for line in output}
    assert set(posts) == {"feed-green", "feed-amber"}  # feed channels only, each once
    green, amber = posts["feed-green"], posts["feed-amber"]
    assert f"Last week (from 2026-10-26): {GREEN_SUBMITTED} submitted, {GREEN_APPROVED} approved" in green
    assert f"Last week (from 2026-10-26): {AMBER_SUBMITTED} submitted, {AMBER_APPROVED} approved" in amber
    assert "TLP:GREEN and below" in green and "TLP:AMBER and below" in amber
    assert "ambertag" in amber and "ambertag" not in green  # the AMBER item counts in the AMBER feed only
    for text in (green, amber):  # never AMBER+STRICT or RED; the anonymous item under no organization's name
        assert "stricttag" not in text and "redtag" not in text
        assert "a coalition member 1" in text
    assert "Weekshield 2" in green and "Weekshield 3" in amber
    for channel in ("feed-green", "feed-amber"):
        (chart,) = tmp_path.glob(f"{channel}-coalition-weekly-2026-11-02.png")
        assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and f"(chart: {chart})" in posts[channel]
    output.clear()
    clock.advance(timedelta(hours=1))
    assert await weekly_digest_once(Runtime(ON, store, dispatcher)) == 0
    await deliverer.drain()
    assert output == []
