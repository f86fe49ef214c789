"""adapters.chat_progress.ChatProgress on its own (the Slack and Discord tests drive it through the real edges):
the edits are at most one every `every` seconds whatever the pace of the import, a post or edit that fails or
hangs fails nothing and logs no file name, and an import over within `after` posts nothing."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest

from adapters.chat_progress import ChatProgress, ProgressTiming
from bot.results import ImportReport

NAME = "secret-case-4711.json"


class Platform:
    def __init__(self, *, fail_edits: int = 0, hang: float = 0.0) -> None:
        self.posts: list[tuple[float, str]] = []
        self.edits: list[tuple[float, str]] = []
        self.fail_edits = fail_edits
        self.hang = hang

    async def post(self, text: str) -> str:
        await asyncio.sleep(self.hang)
        self.posts.append((time.monotonic(), text))
        return "m1"

    async def edit(self, handle: str, text: str) -> None:
        assert handle == "m1"
        if self.fail_edits:
            self.fail_edits -= 1
            raise RuntimeError(f"refused: {text}")  # an error that holds the message (so, the file's name)
        self.edits.append((time.monotonic(), text))


def report(done: int) -> ImportReport:
    return ImportReport(NAME, "text", done, (), done, 0, ())


async def run_import(progress: ChatProgress, chunks: int, pause: float) -> list[float]:
    """An import of `chunks` thousand indicators, `pause` seconds a chunk; how long each progress call took."""
    took = []
    progress("reading", 0, None)
    for n in range(1, chunks + 1):
        await asyncio.sleep(pause)
        started = time.perf_counter()
        progress("indicators", n * 1000, chunks * 1000)
        took.append(time.perf_counter() - started)
    return took


async def test_edits_are_throttled_and_end_in_a_done_line() -> None:
    platform = Platform()
    progress = ChatProgress(NAME, post=platform.post, edit=platform.edit,
                            timing=ProgressTiming(after=0.05, every=0.25)).start()
    started = time.monotonic()
    await run_import(progress, 20, 0.04)  # 0.8 s or more, a change every 40 ms
    elapsed = time.monotonic() - started
    await progress.finish(report(20_000))
    (posted, _), = platform.posts
    assert posted - started >= 0.05
    *steps, (_, last) = platform.edits
    assert 2 <= len(steps) <= elapsed / 0.25 + 1, steps  # at most one every 0.25 s, not one a chunk
    times = [posted] + [t for t, _ in steps]
    assert all(b - a >= 0.24 for a, b in itertools.pairwise(times)), times
    assert last.startswith(f"Imported {NAME}: 20,000 indicators in") and last.endswith("The report follows.")


async def test_a_failing_or_slow_platform_fails_nothing_and_logs_no_file_name(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    platform = Platform(fail_edits=100, hang=0.3)
    progress = ChatProgress(NAME, post=platform.post, edit=platform.edit,
                            timing=ProgressTiming(after=0.0, every=0.0)).start()
    took = await run_import(progress, 10, 0.02)
    assert max(took) < 0.01  # the import never waits for the platform (the post alone takes 0.3 s)
    await progress.finish(report(10_000))
    assert platform.posts and not platform.edits
    assert "could not be edited" in caplog.text and NAME not in caplog.text and "refused" not in caplog.text


async def test_an_import_over_in_time_posts_nothing() -> None:
    platform = Platform()
    progress = ChatProgress(NAME, post=platform.post, edit=platform.edit,
                            timing=ProgressTiming(after=0.5, every=0.0)).start()
    await run_import(progress, 3, 0.01)
    await progress.finish(report(3000))
    await asyncio.sleep(0.6)
    assert not platform.posts and not platform.edits and not progress.posted


async def test_a_stopped_import_says_so() -> None:
    platform = Platform()
    progress = ChatProgress(NAME, post=platform.post, edit=platform.edit,
                            timing=ProgressTiming(after=0.0, every=0.0)).start()
    await run_import(progress, 2, 0.02)
    await progress.finish(None)  # an error answer: the next message says why
    assert platform.edits[-1][1] == f"The import of {NAME} did not complete: see the next message."
