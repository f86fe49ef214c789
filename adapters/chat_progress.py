"""A chat import's progress message (issue 15): the core's plain progress callback (`progress(what, done, total)`,
see bot.exchange.Progress) turned into one message in the conversation, posted only when the import has not
finished `after` seconds (3 s) after it started, then edited as the import goes, at most once every `every`
seconds (2 s: Slack's `chat.update` is a tier 3 method, Discord rate-limits edits too), and finally edited into a
done line (or into the line that says the import stopped: the report, or the error, is the reply that follows).
An import finished within `after` posts nothing.

Platform-free: each adapter gives `post(text) -> handle` and `edit(handle, text)` (Slack `chat.postMessage` and
`chat.update`, Discord a message and its edit) and the file's name escaped for its markup. The callback only
records where the import is and returns at once; the posting and editing run in a task of their own, so the
import never waits for the platform, and a post or an edit that fails is logged (without the file's name or the
message: the progress lines never name a file, see adapters/progress.py) and changes nothing else.

    progress = ChatProgress(esc(name), post=..., edit=..., timing=self.import_progress).start()
    reply = await dispatcher.handle(commands.ImportFile(name, data), actor, progress=progress)
    await progress.finish(reply.result)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.results import ImportReport
from bot.values import frozen

log = logging.getLogger(__name__)


@frozen
class ProgressTiming:
    """When a chat import shows its progress: a message once it has run `after` seconds, edited at most every
    `every` seconds; `finish_within`: how long the end of the import waits for the message's last call."""

    after: float = 3.0
    every: float = 2.0
    finish_within: float = 5.0


def _why(error: BaseException) -> str:
    """What went wrong, in a few words, without the request (it holds the message, and so the file's name)."""
    response = getattr(error, "response", None)
    code = response.get("error") if isinstance(response, dict) or hasattr(response, "get") else None
    status = getattr(error, "status", None)
    return str(code or (f"HTTP {status}" if status else type(error).__name__))


class ChatProgress:
    """The `progress` of one chat import (a callable for the core), and the message that shows it."""

    def __init__(self, name: str, *, post: Callable[[str], Awaitable[Any]],
                 edit: Callable[[Any, str], Awaitable[Any]], timing: ProgressTiming | None = None,
                 unit: str = "indicators", clock: Callable[[], float] = time.monotonic) -> None:
        """`name`: the file's name, escaped for the platform's markup by the adapter (it is shown, never logged);
        `post(text)` posts the message and returns what `edit(handle, text)` needs to edit it."""
        self.name = name
        self.post = post
        self.edit = edit
        self.timing = timing or ProgressTiming()
        self.unit = unit
        self.clock = clock
        self.phase = ""
        self.done = 0
        self.total: int | None = None
        self.started = self.phase_started = clock()
        self.phase_first = 0
        self.shown: list[str] = []  # the texts the message has shown, in order (the first one posted)
        self.handle: Any = None
        self._changed = asyncio.Event()
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ the core's side

    def __call__(self, what: str, done: int, total: int | None) -> None:
        """Where the import is; returns at once (called on the event loop, between chunks)."""
        now = self.clock()
        if what != self.phase:
            self.phase, self.phase_started, self.phase_first = what, now, done
        self.done, self.total = done, total
        self._changed.set()

    # ------------------------------------------------------------ the adapter's side

    def start(self) -> ChatProgress:
        """Start the clock and the task that posts and edits the message (call it as the import starts)."""
        self.started = self.phase_started = self.clock()
        self._task = asyncio.create_task(self._show(), name="import-progress")
        return self

    async def finish(self, result: Any = None, *, last_line: bool = True) -> None:
        """The import is over (`result`: what the core answered): no more progress edits; a message that was
        posted is edited into its last line (`last_line=False`: left for the reply to replace, as a Discord
        interaction's response is). Waits at most `timing.finish_within` for each call to the platform."""
        self._finished.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self.timing.finish_within)
            except TimeoutError:
                self._task.cancel()
                log.info("import progress: the message's last call did not end in time; left as it is")
                return
        if self.handle is not None and last_line:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._edit(self.final_text(result)), self.timing.finish_within)

    @property
    def posted(self) -> bool:
        return self.handle is not None

    # ------------------------------------------------------------ texts

    def text(self, now: float | None = None) -> str:
        """`Importing export.json: 12,000 of 50,000 indicators (24 %), about 20 s left`."""
        now = self.clock() if now is None else now
        done, total = self.done, self.total
        if self.phase in ("", "reading") or (not done and not total):
            return f"Importing {self.name}: reading the file…"
        text = f"Importing {self.name}: {done:,}"
        if total:
            text += f" of {total:,} {self.unit} ({100 * done // total} %)"
        else:
            text += f" {self.unit}"
        elapsed = now - self.phase_started
        rate = (done - self.phase_first) / elapsed if elapsed > 0 else 0.0
        if total and rate > 0 and done < total:
            text += f", about {_duration((total - done) / rate, at_least=1)} left"
        return text

    def final_text(self, result: Any) -> str:
        """The last state of the message: done, or stopped (the reply that follows says how far it got, and why:
        the counts seen here may include a chunk that was rolled back)."""
        spent = _duration(self.clock() - self.started)
        if isinstance(result, ImportReport) and not result.stopped:
            count = self.total if self.total is not None else self.done
            return f"Imported {self.name}: {count:,} {self.unit} in {spent}. The report follows."
        if isinstance(result, ImportReport):
            return f"The import of {self.name} stopped partway, after {spent}: the report follows."
        return f"The import of {self.name} did not complete: see the next message."

    # ------------------------------------------------------------ the message

    async def _show(self) -> None:
        timing = self.timing
        if await self._wait(self._finished, timing.after):
            return  # done within `after`: no message at all
        self._changed.clear()
        text = self.text()
        try:
            self.handle = await self.post(text)
        except Exception as e:  # the import goes on without its progress message
            log.warning("import progress: the message could not be posted (%s)", _why(e))
            return
        self.shown.append(text)
        last = self.clock()
        while not self._finished.is_set():
            await self._moved()
            if self._finished.is_set():
                return
            wait = last + timing.every - self.clock()
            if wait > 0 and await self._wait(self._finished, wait):
                return
            self._changed.clear()
            text = self.text()
            if text != self.shown[-1]:
                await self._edit(text)
            last = self.clock()

    async def _edit(self, text: str) -> None:
        try:
            await self.edit(self.handle, text)
        except Exception as e:  # a failed edit fails nothing: the next one shows the state then
            log.warning("import progress: the message could not be edited (%s)", _why(e))
            return
        self.shown.append(text)

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> bool:
        """Whether `event` was set within `seconds`."""
        if event.is_set():
            return True
        if seconds <= 0:
            await asyncio.sleep(0)
            return event.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        return event.is_set()

    async def _moved(self) -> None:
        """Until the import moves on (a progress call) or ends."""
        if self._changed.is_set() or self._finished.is_set():
            return
        waiters = [asyncio.ensure_future(self._changed.wait()), asyncio.ensure_future(self._finished.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

def _duration(seconds: float, *, at_least: float = 0.0) -> str:
    """`0.8 s`, `12 s`, `3 min`."""
    seconds = max(seconds, at_least)
    if seconds < 10:
        return f"{seconds:.0f} s" if at_least >= 1 or seconds == int(seconds) else f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
