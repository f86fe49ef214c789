"""The Discord service that `coalition-bot run` starts and stops: the gateway client and its deliverer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapters.chat_progress import ProgressTiming
from adapters.contract import AdapterRuntime as Runtime

from .client import CoalitionClient
from .delivery import DiscordSink

log = logging.getLogger(__name__)


class DiscordService:
    name = "discord"

    def __init__(self, runtime: Runtime, *, guild_ready_timeout: float = 2.0, ready_timeout: float = 60.0,
                 deliver: bool = True, import_progress: ProgressTiming | None = None) -> None:
        """`import_progress`: when a file import's progress message is shown, and how often it is edited."""
        self.runtime = runtime
        settings = runtime.settings.discord
        self.client = CoalitionClient(settings, runtime.dispatcher, runtime.store.unit_of_work,
                                      default_tlp=runtime.settings.policy.default_tlp.lower(),
                                      guild_ready_timeout=guild_ready_timeout, import_progress=import_progress)
        self.sink = DiscordSink(self.client, seed_reactions=(settings.reaction_confirm,
                                                             settings.reaction_false_positive))
        self.deliverer = runtime.deliverer(self.sink)
        self.ready_timeout = ready_timeout
        self.deliver = deliver  # False: answer commands only (benchmarks on a store without the outbox)
        self._connection: asyncio.Task[None] | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        token = self.runtime.settings.discord.token
        if token is None:
            raise RuntimeError("discord.token is not set")
        await self.client.login(token.get_secret_value())  # REST login, then setup_hook (persistent buttons)
        self._connection = asyncio.create_task(self.client.connect(), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._connection}, timeout=self.ready_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._connection in done:
                await self._connection  # raises what stopped the gateway (bad token, missing intent...)
            raise TimeoutError(f"Discord gateway not ready after {self.ready_timeout:.0f} s")
        try:  # channels kept under "discord" move under their guild; guilds the bot left meanwhile are removed
            await self.client.lifecycle.adopt(self.client.guilds)
            await self.client.lifecycle.reconcile(self.client.guilds)
        except Exception as e:
            log.warning("discord: could not reconcile the registered channels with the guilds (%s)", e)
        if not self.deliver:
            return
        self.runtime.dispatcher.after_commit.append(self.deliverer.nudge)
        self._delivery = asyncio.create_task(self.deliverer.run_forever(lambda: self._stopping),
                                             name="discord-delivery")
        log.info("discord: connected as %s", self.client.user)

    def is_running(self) -> bool:
        """The gateway task is alive (a payload discord.py cannot parse would have ended it)."""
        return self._connection is not None and not self._connection.done() and not self.client.is_closed()

    async def stop(self) -> None:
        self._stopping = True
        self.deliverer.nudge()
        with contextlib.suppress(ValueError):
            self.runtime.dispatcher.after_commit.remove(self.deliverer.nudge)
        if self._delivery is not None:
            try:
                await asyncio.wait_for(self._delivery, timeout=10)
            except TimeoutError:
                log.warning("discord: delivery did not finish in 10 s")
        await self.client.close()
        if self._connection is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._connection, timeout=5)
