"""Running a command against the store: every command that opens it goes through `run_with_store`, so that an
unreachable database ends the command with one clear line and exit status 1, never a traceback."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from adapters.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


def store_url(settings: Settings, database: str | None) -> str:
    """The store a command opens: `--database`, else the setting."""
    return database or settings.database.url.get_secret_value()


async def wait_for_database(url: str, budget: float) -> None:
    """Start-up: try the database until it answers, backing off (1 s, 2 s, 4 s ... at most 15 s) with one warning
    line per failed attempt, for at most `budget` seconds; then `StoreUnavailable` goes up. An error that is not
    an outage (a wrong password, a missing role) goes up at once: waiting would not cure it."""
    from tenacity import AsyncRetrying, retry_if_exception_type, stop_before_delay, wait_exponential

    from bot.ports import StoreUnavailable
    from storage.engine import probe, safe_url

    def attempt_failed(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.warning("database at %s unavailable: %s; retrying in %.0fs", safe_url(url),
                    getattr(error, "reason", "unavailable"), delay)

    async for attempt in AsyncRetrying(retry=retry_if_exception_type(StoreUnavailable),
                                       wait=wait_exponential(multiplier=1, min=1, max=15),
                                       stop=stop_before_delay(budget), before_sleep=attempt_failed, reraise=True):
        with attempt:
            await probe(url)


def run_with_store(main: Callable[[], Coroutine[Any, Any, T]], url: str, *, wait: float | None = None) -> T:
    """`asyncio.run(main())` for commands that open the store: an unreachable database ends the command with a
    clear message and exit status 1, never a traceback. With `wait` (seconds), `run`'s start-up retries first."""
    import asyncio

    from bot.ports import StoreUnavailable
    from storage.engine import safe_url, unavailable_reason

    started = time.monotonic()
    if wait is not None:
        try:
            asyncio.run(_driver_threads_settled(lambda: wait_for_database(url, wait)))
        except StoreUnavailable as e:
            exit_unavailable(safe_url(url), e.reason, f" after {time.monotonic() - started:.0f} s")
        except Exception as e:  # not an outage: a wrong password, role or URL
            detail = str(getattr(e, "orig", None) or e).splitlines()[0]  # e.g. role "bot" does not exist
            typer.echo(f"Cannot start: the database at {safe_url(url)} refused the connection: {detail}. "
                       "Check database.url (COALITION_DATABASE_URL).", err=True)
            raise typer.Exit(1) from None
    try:
        return asyncio.run(_driver_threads_settled(main))
    except Exception as e:
        reason = unavailable_reason(e)
        if reason is None:
            raise
        exit_unavailable(safe_url(url), reason)


def exit_unavailable(shown: str, reason: str, waited: str = "") -> NoReturn:
    """One line on standard error saying the database cannot be used now and what to check; exit status 1."""
    typer.echo(f"Cannot start: the database at {shown} is unavailable{waited} ({reason}). Check that it runs and "
               "that database.url (COALITION_DATABASE_URL) is right, then start again.", err=True)
    raise typer.Exit(1)


async def _driver_threads_settled(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`main()`; when it fails, the database driver's worker threads are let finish first. aiosqlite stops a
    connection's thread when a connect fails, and that thread then reports to the event loop: once `asyncio.run`
    has closed the loop, Python prints the thread's "Event loop is closed" traceback as the command exits."""
    import asyncio

    try:
        return await main()
    except Exception:
        workers = [t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")]
        if workers:
            await asyncio.to_thread(lambda: [t.join(1.0) for t in workers])
        raise
