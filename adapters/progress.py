"""Progress of long command-line work (import, export, `db backup`, bench fills), rendered from the core's plain
callback (`progress(what, done, total)`, see bot.exchange.Progress): on a terminal a rich bar with the count, the
rate and the time left; otherwise (a pipe, a log file, systemd) one log line every few seconds; and in both a line
with the totals at the end. Everything goes to standard error: standard output may be the export itself.
Rich is imported only to draw a bar (a command's start-up does not pay for it otherwise).

    with ProgressReport("import bundle.json", unit="indicators") as progress:
        await services.import_as_organization(..., progress=progress)
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

#: Seconds between two progress lines when standard error is not a terminal.
LOG_EVERY = 5.0

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)  # progress lines are wanted even where a command keeps other INFO lines out


def _bar(console: Console) -> Progress:
    """A rich bar: spinner, label, bar, done/total, items per second, time left, time spent."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        SpinnerColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Items per second (rich's own speed column counts bytes)."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")

    return Progress(SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
                    MofNCompleteColumn(), RateColumn(), TextColumn("eta"), TimeRemainingColumn(), TimeElapsedColumn(),
                    console=console, transient=False,
                    redirect_stdout=False, redirect_stderr=False)  # standard output may be the export


class ProgressReport:
    """A callable for the core's `progress=` parameter, and a context manager around the work."""

    def __init__(self, title: str, *, unit: str, console: Console | None = None, every: float | None = None,
                 totals: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        """`console`: where to draw and write (default: standard error, through rich only if it is a terminal).
        `totals=False` for a command that prints its own totals line (with `elapsed`)."""
        self.title = title
        self.totals = totals
        self.unit = unit
        if console is None and sys.stderr.isatty():
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console
        self.every = LOG_EVERY if every is None else every
        self.clock = clock
        self.terminal = console is not None and console.is_terminal
        self.bar: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        self.phase = ""
        self.done = 0
        self.total: int | None = None
        self.started = self.phase_started = self.last_line = 0.0
        self.phase_first = 0

    def __enter__(self) -> ProgressReport:
        self.started = self.phase_started = self.last_line = self.clock()
        if self.terminal and self.console is not None:
            self.bar = _bar(self.console)
            self.bar.start()
        return self

    def __call__(self, what: str, done: int, total: int | None) -> None:
        now = self.clock()
        if what != self.phase:
            self.phase, self.phase_started, self.phase_first = what, now, done
        self.done, self.total = done, total
        if self.bar is not None:
            task = self.tasks.get(what)
            if task is None:
                for earlier in self.tasks.values():  # a new phase: the earlier ones are over
                    completed = self.bar.tasks[earlier].completed
                    self.bar.update(earlier, total=completed, visible=bool(completed))  # "reading...": gone
                task = self.tasks[what] = self.bar.add_task(f"{self.title}: {what}", total=total, completed=done)
            self.bar.update(task, total=total, completed=done)
        elif now - self.last_line >= self.every:
            self.last_line = now
            if log.hasHandlers():
                log.info("%s", self.line(now))
            else:  # logging not set up (a bench script): the line goes to standard error as it is
                self._write(self.line(now))

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def line(self, now: float) -> str:
        """One progress line: `import in.json: indicators 12,000 of 50,000 (24%), 4,100/s, about 9 s left`."""
        what, done, total = self.phase, self.done, self.total
        elapsed = now - self.phase_started
        rate = (done - self.phase_first) / elapsed if elapsed > 0 else 0.0
        if total is None and not done:
            return f"{self.title}: {what}..."
        text = f"{self.title}: {what} {done:,}"
        if total:
            text += f" of {total:,} ({100 * done / total:.0f}%)"
        if rate:
            text += f", {rate:,.0f}/s"
            if total and done < total:
                text += f", about {(total - done) / rate:,.0f} s left"
        return text

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()
        if not self.totals or (kind is not None and not self.done):  # nothing done: the error says it all
            return
        elapsed = self.elapsed
        rate = self.done / elapsed if elapsed > 0 else 0.0
        state = "stopped after" if kind is not None else "done:"
        what = self.unit if self.phase in ("", self.unit) else self.phase  # e.g. "objects fetched" when stopped there
        self._write(f"{self.title} {state} {self.done:,} {what} in {elapsed:,.1f} s"
                    + (f" ({rate:,.0f}/s)" if rate else "") + ".")

    def _write(self, line: str) -> None:
        if self.console is not None:
            self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        else:
            print(line, file=sys.stderr, flush=True)
