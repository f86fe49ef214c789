"""The adapter contract: what `coalition-bot run` (adapters.runtime, the composition root) gives an adapter, and
what it expects back. The runtime and the adapters both import this module and neither imports the other, so an
adapter can be built, tested and type-checked without the composition root (tests/adapters/slack/
test_slack_layout.py checks that no adapter module imports adapters.runtime when it is imported).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from adapters.config import Settings
    from bot.delivery import Deliverer, DeliverySink
    from bot.dispatcher import Dispatcher
    from bot.domain import OutboxEvent
    from storage.uow import Store


class Service(Protocol):
    """A running adapter (Slack, Discord, TAXII, ops): started and stopped by `coalition-bot run`."""

    name: str

    async def start(self) -> None:
        """Connect and begin serving; returns once running (work continues in background tasks)."""

    async def stop(self) -> None:
        """Finish in-flight work and disconnect."""


class AdapterRuntime(Protocol):
    """What the runtime hands an adapter's `create_service`: the settings, the store, the dispatcher (commands
    in), and a deliverer for the adapter's sink (outbox rows out), observed by the metrics."""

    settings: Settings
    store: Store
    dispatcher: Dispatcher
    delivery_observers: list[Callable[[str, OutboxEvent], None]]

    def deliverer(self, sink: DeliverySink) -> Deliverer:
        """A Deliverer for the adapter's sink, configured from `[delivery]`; the adapter appends `deliverer.nudge`
        to `dispatcher.after_commit` when it starts delivering. The sink says which workspaces it serves
        (`DeliverySink.serves`, `workspaces`): the deliverer claims only their lanes and delivers into each with its
        own credentials (bot.delivery, workspace lanes)."""
        ...


__all__ = ["AdapterRuntime", "Service"]
