"""Composition helpers for the command line (the composition root): the store, the warninglists and the
dispatcher are built once here and handed to whichever adapters run."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from adapters.contract import AdapterRuntime, Service
from bot.domain import OutboxEvent, Platform
from storage.migrate import upgrade_if_behind
from storage.uow import Store, create_store

if TYPE_CHECKING:  # imported where used: `open_store` needs neither the core's dispatcher nor the deliverers
    from adapters.config import Settings
    from bot.delivery import Deliverer, DeliverySink
    from bot.dispatcher import Dispatcher
    from bot.ioc import Observable, WarningLists

log = logging.getLogger(__name__)

__all__ = ["AdapterRuntime", "Runtime", "Service", "create_services", "delivery_platforms", "load_warninglists",
           "open_runtime", "open_store", "settle"]


@dataclass
class Runtime:
    """The composition root's answer to the adapter contract (adapters.contract.AdapterRuntime)."""

    settings: Settings
    store: Store
    dispatcher: Dispatcher
    delivery_observers: list[Callable[[str, OutboxEvent], None]] = field(default_factory=list)

    def deliverer(self, sink: DeliverySink) -> Deliverer:
        """A Deliverer for an adapter's sink, configured from `[delivery]` and observed by the metrics. The
        adapter appends `deliverer.nudge` to `dispatcher.after_commit` when it starts delivering."""
        from adapters.charts import stats_png
        from bot.delivery import Deliverer

        cfg = self.settings.delivery
        deliverer = Deliverer(self.store.unit_of_work, sink, clock=self.dispatcher.clock,
                              lease=timedelta(seconds=cfg.lease_seconds), poll_interval=cfg.poll_seconds,
                              max_attempts=cfg.max_attempts, chart=stats_png,
                              score_model=self.dispatcher.policy.score_model,
                              default_ceiling=self.dispatcher.policy.default_channel_ceiling)
        deliverer.observers.extend(self.delivery_observers)
        return deliverer


def settle() -> None:
    """After start-up: move everything allocated so far (warninglist and suffix indexes, clients, metadata)
    out of the garbage collector's sight, so that its full collections stay short while commands run."""
    gc.collect()
    gc.freeze()


def delivery_platforms(settings: Settings) -> tuple[Platform, ...]:
    """The platforms whose adapters deliver outbox rows in this deployment."""
    return tuple(p for p, enabled in ((Platform.SLACK, settings.slack.enabled),
                                      (Platform.DISCORD, settings.discord.enabled)) if enabled)


def create_services(runtime: Runtime) -> list[Service]:
    """One service per enabled adapter (imported only when enabled)."""
    services: list[Service] = []
    if runtime.settings.ops.enabled:  # first, so that the adapters' deliverers are observed by the metrics
        from adapters.ops import Metrics, OpsService

        metrics = Metrics()
        runtime.delivery_observers.append(metrics.delivery)
        services.append(OpsService(runtime, metrics, host=runtime.settings.ops.host, port=runtime.settings.ops.port))
    if runtime.settings.slack.enabled:
        from adapters.slack import create_service as slack_service

        services.append(slack_service(runtime))
    if runtime.settings.discord.enabled:
        from adapters.discord import create_service as discord_service

        services.append(discord_service(runtime))
    if runtime.settings.taxii.enabled:  # STIX/TAXII exchange
        from adapters.taxii import create_service as taxii_service

        services.append(taxii_service(runtime))
    return services


async def load_warninglists(settings: Settings) -> WarningLists | None:
    """The warninglist index, from its cache file (a few milliseconds) or, the first time for this selection
    and package version, built (a second or so) and cached; in a worker thread, so the event loop stays free."""
    from bot.ioc import WarningLists

    cfg = settings.warninglists
    if not cfg.enabled:
        return None
    return await asyncio.to_thread(WarningLists.load, cfg.include or None, cfg.exclude,
                                   cache_dir=cfg.cache_directory())


class WarningListsOnFirstUse:
    """The warninglist index loaded when a value is first matched, not at start-up: for the console, whose first
    command may match nothing (`/ioc help`), and where one person waits for the one answer anyway. The load is
    the same as `load_warninglists` (cache file or build), made once, in whichever thread matches first (a large
    import matches in a worker thread)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._index: WarningLists | None = None
        self._lock = threading.Lock()

    def match(self, obs: Observable) -> list[str]:
        index = self._index
        if index is None:
            with self._lock:
                if self._index is None:
                    from bot.ioc import WarningLists

                    cfg = self._settings.warninglists
                    self._index = WarningLists.load(cfg.include or None, cfg.exclude,
                                                    cache_dir=cfg.cache_directory())
                index = self._index
        return index.match(obs)


def _start_up_over() -> None:
    """`coalition-bot`'s start-up is over (the collector was off: adapters.cli.main): what it built lives on, so
    no collection need walk it (nor walk it now, all at once)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


async def _checked_store(settings: Settings, database_url: str | None, migrate: bool | None) -> Store:
    url = database_url or settings.database.url.get_secret_value()
    store = create_store(url)
    try:
        if settings.database.upgrade_on_start if migrate is None else migrate:
            await upgrade_if_behind(store.engine, url)
    except BaseException:
        await store.close()
        raise
    return store


@asynccontextmanager
async def open_store(settings: Settings, *, database_url: str | None = None, migrate: bool | None = None,
                     ) -> AsyncIterator[Store]:
    """The store alone, for commands that run no chat command and deliver nothing (export, import, API keys,
    stats, bootstrap): the schema checked as `open_runtime` does, and neither the dispatcher nor the warninglists
    (`import` loads those itself)."""
    store = await _checked_store(settings, database_url, migrate)
    try:
        _start_up_over()
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def open_runtime(settings: Settings, *, database_url: str | None = None, migrate: bool | None = None,
                       delivery_platforms: Sequence[Platform] = (),
                       warninglists: bool | Literal["on first use"] = True) -> AsyncIterator[Runtime]:
    """The store and the core for one command. The schema revision is checked with one query and migrated only
    when behind (`migrate`, default `database.upgrade_on_start`). `warninglists=False` for commands that match no
    value: they do not load the index; `"on first use"`: loaded when a value is first matched (the console)."""
    from bot.dispatcher import Dispatcher

    store = await _checked_store(settings, database_url, migrate)
    try:
        if warninglists == "on first use":
            matcher: WarningListsOnFirstUse | WarningLists | None = (
                WarningListsOnFirstUse(settings) if settings.warninglists.enabled else None)
        else:
            matcher = await load_warninglists(settings) if warninglists else None
        dispatcher = Dispatcher(store.unit_of_work, policy=settings.core_policy(),
                                warninglists=matcher, delivery_platforms=delivery_platforms)
        _start_up_over()
        yield Runtime(settings, store, dispatcher)
    finally:
        await store.close()
