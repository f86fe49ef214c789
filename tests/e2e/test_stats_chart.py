"""`/ioc stats` with its picture (issue 14): the numbers are only what the asker may see (on SQLite and
PostgreSQL), the PNG is valid and small, the console writes it to a file, and `coalition-bot stats --chart`
draws it from the command line."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from adapters.charts import MAX_BYTES, stats_png
from adapters.cli import app
from adapters.console.channel import ConsoleChannel
from adapters.console.demo import seed
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, StatsTrends
from bot.results import StatsResult
from bot.rules import ANONYMOUS_ORG
from storage.uow import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday

    def __call__(self) -> datetime:
        return self.now


async def _say(dispatcher: Dispatcher, who: str, text: str):
    return (await dispatcher.handle_text(text, Actor(Platform.CONSOLE, "local", who, "direct", private=True))).result


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


async def test_the_numbers_are_only_what_the_asker_may_see(store: Store) -> None:
    clock = Clock()
    dispatcher = Dispatcher(store.unit_of_work, clock=clock)
    await seed(store, dispatcher, samples=False)
    clock.now -= timedelta(weeks=2)
    await _say(dispatcher, "alice", "submit old-one.example old-two.example tlp:green tags:phishing")
    clock.now += timedelta(hours=3)
    await _say(dispatcher, "mod", "approve #1 #2")
    clock.now += timedelta(weeks=2)
    await _say(dispatcher, "alice", "submit secret.example tlp:amber+strict tags:insider")
    await _say(dispatcher, "carol", "submit hidden-sender.example tlp:green tags:phishing anon")
    await _say(dispatcher, "bob", "submit mine.example tlp:green tags:c2")
    bob = await _say(dispatcher, "bob", "stats")
    alice = await _say(dispatcher, "alice", "stats")
    assert isinstance(bob, StatsResult) and isinstance(alice, StatsResult)
    t = bob.trends
    assert t is not None and len(t.week_starts) == 12 and t.week_starts[-1].weekday() == 0
    assert sum(t.submitted) == 5 - 1 and t.submitted[-1] == 2 and t.submitted[-3] == 2  # not alice's STRICT one
    assert sum(t.approved) == 2 and t.approved[-3] == 2 and t.median_decision_hours == 3.0
    assert dict(t.top_tags) == {"phishing": 3, "c2": 1}  # "insider" is on an item bob may not see
    assert dict(t.by_organization) == {"Northbank": 2, ANONYMOUS_ORG: 1, "Sentinel Security": 1}
    a = alice.trends
    assert a is not None and sum(a.submitted) == 5 and dict(a.top_tags)["insider"] == 1
    assert dict(a.by_organization) == {"Northbank": 3, ANONYMOUS_ORG: 1, "Sentinel Security": 1}
    carol = await _say(dispatcher, "carol", "stats")
    assert dict(carol.trends.by_organization)["National Cyber Unit"] == 1  # her own anonymous item is hers


def test_the_picture_is_a_small_valid_png() -> None:
    trends = StatsTrends(tuple(datetime(2026, 9, 7).date() + timedelta(weeks=n) for n in range(12)),
                         tuple(range(12)), tuple(range(0, 24, 2)), 5.5,
                         tuple((f"tag-{n}-$\\frac{{a}}{{b}}$", 40 - n) for n in range(8)),
                         (("Northbank", 50), (ANONYMOUS_ORG, 7)))
    png = stats_png(trends)
    width, height = png_size(png)
    assert len(png) <= MAX_BYTES and (width, height) == (1100, 650)
    empty = stats_png(StatsTrends(tuple(datetime(2026, 9, 7).date() + timedelta(weeks=n) for n in range(12)),
                                  (0,) * 12, (0,) * 12))
    assert png_size(empty) == (1100, 650)


async def test_the_console_writes_the_picture_to_a_file(sqlite_store: Store, tmp_path: Path) -> None:
    dispatcher = Dispatcher(sqlite_store.unit_of_work)
    await seed(sqlite_store, dispatcher, samples=True)
    out: list[str] = []
    channel = ConsoleChannel(dispatcher, out.append, "bob", charts=tmp_path)
    await channel.line("/ioc stats")
    chart = next(line for line in out if line.startswith("Chart: "))
    path = Path(chart.removeprefix("Chart: "))
    assert path.parent == tmp_path and png_size(path.read_bytes()) == (1100, 650)  # noqa: ASYNC240
    assert any("Last 12 weeks" in line for line in out)


def test_the_command_line_draws_it(sqlite_url: str, tmp_path: Path) -> None:
    target = tmp_path / "stats.png"
    result = CliRunner().invoke(app, ["stats", "--database", sqlite_url, "--chart", str(target)])
    assert result.exit_code == 0, result.output
    assert "Indicators by status" in result.output and f"Chart: {target}" in result.output
    assert png_size(target.read_bytes()) == (1100, 650)
    result = CliRunner().invoke(app, ["stats", "--database", sqlite_url, "--org", "Nobody"])
    assert result.exit_code == 2 and 'no organization called "Nobody"' in result.output
