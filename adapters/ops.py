"""Operations: a health endpoint, Prometheus metrics, structured logs and the maintenance loop.

`coalition-bot run` starts an `OpsService` next to the chat adapters: `GET /healthz` answers 200 when the
database answers and every chat adapter is connected, 503 otherwise, with a small JSON body that says which
dependency is down (`{"status": "unavailable", "down": ["database"], "database": "unreachable", "slack": "ok"}`);
`GET /metrics` serves Prometheus text from a registry of this process's own
(commands handled by verb, platform and outcome; command latency; outbox depth and age of the oldest row per
platform; deliveries by outcome). The maintenance loop expires indicators whose valid_until has passed (and, when
`[score] expire_below` is set, approved ones whose score fell below it), writes the daily digests of
`digest:daily` watches that are due and, when `[digest] weekly` is on, the week's digest of the feed channels.
"""

# Annotations evaluated where they are written (see adapters/cli.py).

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from adapters.contract import AdapterRuntime as Runtime
from bot import scoring, services
from bot.alerts import write_digests
from bot.dispatcher import Handled
from bot.domain import OutboxEvent, Platform
from bot.ports import StoreUnavailable, UnitOfWork
from bot.weekly import write_weekly
from storage.engine import unavailable_reason

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0  # seconds: a database that does not answer in time is reported down


async def _slack_connected(service: Any) -> bool:
    """Socket Mode: the WebSocket to Slack is open and answers pings. HTTP mode: the endpoint is listening."""
    socket = getattr(service, "socket", None)
    if socket is not None:
        return bool(await socket.client.is_connected())
    return getattr(service, "_runner", None) is not None


async def _discord_connected(service: Any) -> bool:
    """The gateway task runs, the client is ready and its WebSocket is open (during a reconnect it is not)."""
    ws = getattr(service.client, "ws", None)
    return bool(service.is_running() and service.client.is_ready() and ws is not None and ws.open)


ADAPTER_CHECKS: dict[str, Callable[[Any], Awaitable[bool]]] = {"slack": _slack_connected,
                                                               "discord": _discord_connected}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter("coalition_commands", "Commands handled", ["command", "platform", "outcome"],
                                registry=self.registry)
        self.latency = Histogram("coalition_command_seconds", "Time to handle a command", ["platform"],
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5),
                                 registry=self.registry)
        self.deliveries = Counter("coalition_deliveries", "Outbox deliveries by outcome",
                                  ["platform", "outcome"], registry=self.registry)
        self.outbox_depth = Gauge("coalition_outbox_pending", "Outbox rows not yet delivered nor parked",
                                  ["platform"], registry=self.registry)
        self.outbox_age = Gauge("coalition_outbox_oldest_seconds", "Age of the oldest pending outbox row",
                                ["platform"], registry=self.registry)

    def command_handled(self, handled: Handled) -> None:
        self.commands.labels(handled.command, handled.platform.value, handled.outcome).inc()
        self.latency.labels(handled.platform.value).observe(handled.seconds)

    def delivery(self, outcome: str, event: OutboxEvent) -> None:
        self.deliveries.labels(event.platform.value, outcome).inc()


class OpsService:
    name = "ops"

    def __init__(self, runtime: Runtime, metrics: Metrics, *, host: str, port: int,
                 expire_every: float = 60.0) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.host, self.port = host, port
        self.expire_every = expire_every
        self._runner: web.AppRunner | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self.adapters: list[Any] = []  # the chat adapters whose connection /healthz reports (see `watch`)
        runtime.dispatcher.observers.append(metrics.command_handled)

    def watch(self, services: Sequence[Any]) -> None:
        """Report these services' connections in /healthz too (`coalition-bot run` hands over all it starts)."""
        self.adapters = [s for s in services if getattr(s, "name", "") in ADAPTER_CHECKS]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/metrics", self.prometheus)
        return app

    async def health(self, _: web.Request) -> web.Response:
        checks = {"database": await self._database()}
        for adapter in self.adapters:
            try:
                connected = await ADAPTER_CHECKS[adapter.name](adapter)
            except Exception:  # a check must never fail the endpoint
                connected = False
            checks[adapter.name] = "ok" if connected else "disconnected"
        down = [name for name, state in checks.items() if state != "ok"]
        if down:
            return web.json_response({"status": "unavailable", "down": down, **checks}, status=503)
        return web.json_response({"status": "ok", **checks})

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                async with self.runtime.store.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as e:
            log.warning("health check: database unreachable: %s", unavailable_reason(e) or type(e).__name__)
            return "unreachable"
        return "ok"

    async def prometheus(self, _: web.Request) -> web.Response:
        now = self.runtime.dispatcher.clock()
        async with self.runtime.store.unit_of_work(read_only=True) as uow:
            pending = await uow.outbox.pending_stats(now)
        for platform in self.runtime.dispatcher.delivery_platforms:
            depth, age = pending.get(platform.value, (0, 0.0))
            self.metrics.outbox_depth.labels(platform.value).set(depth)
            self.metrics.outbox_age.labels(platform.value).set(age)
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self._maintenance = asyncio.create_task(self._expire_loop(), name="expire-indicators")
        log.info("health and metrics on http://%s:%s/healthz and /metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        if self._runner is not None:
            await self._runner.cleanup()

    async def _expire_loop(self) -> None:
        while True:
            await expire_once(self.runtime)
            await expire_by_score_once(self.runtime)
            await digest_once(self.runtime)
            await weekly_digest_once(self.runtime)
            await asyncio.sleep(self.expire_every)


async def maintenance_step(runtime: Runtime, doing: str, done: str,
                           work: Callable[[UnitOfWork, datetime, Sequence[Platform]], Awaitable[int]]) -> int:
    """One step of the maintenance loop in its own transaction: how many things it did. A failure is logged (an
    outage in one line, no traceback) and tried again at the next round; what it announced is delivered now."""
    try:
        async with runtime.store.unit_of_work() as uow:
            count = await work(uow, runtime.dispatcher.clock(), runtime.dispatcher.delivery_platforms)
            await uow.commit()
    except StoreUnavailable as e:
        log.warning("%s: the store is unavailable (%s)", doing, e.reason)
        return 0
    except Exception:
        log.exception("%s failed", doing)
        return 0
    if count:
        log.info(done, count)
        for listener in runtime.dispatcher.after_commit:
            listener()
    return count


async def expire_once(runtime: Runtime) -> int:
    """Expire the indicators whose valid_until has passed (bot.services.expire_due)."""
    async def expire(uow: UnitOfWork, now: datetime, platforms: Sequence[Platform]) -> int:
        return len(await services.expire_due(uow, now, platforms))

    return await maintenance_step(runtime, "expiring indicators", "expired %d indicators", expire)


async def expire_by_score_once(runtime: Runtime) -> int:
    """Expire the approved indicators whose score fell below `[score] expire_below`, when it is set
    (bot.scoring.expire_below_threshold); nothing at all when it is not."""
    policy = runtime.dispatcher.policy
    if policy.score_expire_below is None:
        return 0

    async def expire(uow: UnitOfWork, now: datetime, platforms: Sequence[Platform]) -> int:
        return len(await scoring.expire_below_threshold(uow, now, platforms, policy))

    return await maintenance_step(runtime, "expiring indicators by score", "expired %d indicators whose score fell "
                                  f"below {policy.score_expire_below:g}", expire)


async def digest_once(runtime: Runtime) -> int:
    """Write the daily digests of watches that are due (bot.alerts.write_digests)."""
    return await maintenance_step(runtime, "watch digests", "wrote %d watch digests", write_digests)


async def weekly_digest_once(runtime: Runtime) -> int:
    """Write the week's digest for every feed channel when `[digest] weekly` is on and it is due
    (bot.weekly.write_weekly: once per week, whichever process gets there first); nothing when it is off."""
    schedule = runtime.settings.digest.schedule()
    if schedule is None:
        return 0

    async def write(uow: UnitOfWork, now: datetime, platforms: Sequence[Platform]) -> int:
        return await write_weekly(uow, now, platforms, schedule)

    return await maintenance_step(runtime, "weekly digest", "wrote the weekly digest (%d)", write)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
