"""Operations: a health endpoint, Prometheus metrics, structured logs and the maintenance loop.

`coalition-bot run` starts an `OpsService` next to the chat adapters: `GET /healthz` answers 200 when the
store answers (503 otherwise), `GET /metrics` serves Prometheus text from a registry of this process's own
(commands handled by verb, platform and outcome; command latency; outbox depth and age of the oldest row per
platform; deliveries by outcome). The maintenance loop expires indicators whose valid_until has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from adapters.runtime import Runtime
from bot import services
from bot.dispatcher import Handled
from bot.domain import OutboxEvent

log = logging.getLogger(__name__)


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
        runtime.dispatcher.observers.append(metrics.command_handled)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/metrics", self.prometheus)
        return app

    async def health(self, _: web.Request) -> web.Response:
        try:
            async with self.runtime.store.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as e:
            log.warning("health check: store unreachable: %s", type(e).__name__)
            return web.json_response({"status": "unavailable", "store": "unreachable"}, status=503)
        return web.json_response({"status": "ok", "store": "ok"})

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
            await asyncio.sleep(self.expire_every)


async def expire_once(runtime: Runtime) -> int:
    """Expire what is due; a failure is logged and tried again at the next round."""
    try:
        async with runtime.store.unit_of_work() as uow:
            ids = await services.expire_due(uow, runtime.dispatcher.clock(), runtime.dispatcher.delivery_platforms)
            await uow.commit()
    except Exception:
        log.exception("expiring indicators failed")
        return 0
    if ids:
        log.info("expired %d indicators", len(ids))
        for listener in runtime.dispatcher.after_commit:
            listener()
    return len(ids)


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
