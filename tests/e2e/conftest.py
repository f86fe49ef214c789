"""A demo coalition on a real SQLite file, driven through the console adapter like a person would."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from adapters.console.channel import ConsoleChannel
from adapters.console.delivery import ConsoleSink
from adapters.console.demo import seed
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from bot.ioc import WarningLists
from bot.policy import Policy
from storage.uow import Store


@dataclass
class Coalition:
    store: Store
    dispatcher: Dispatcher
    clock: object
    channel: ConsoleChannel
    output: list[str]

    async def say(self, speaker: str, line: str, *, where: str | None = None) -> str:
        """`speaker` types `line` (in the private conversation, or in shared channel `where`)."""
        self.output.clear()
        self.channel.speaker = speaker
        self.channel.channel = where or "direct"
        await self.channel.line(line)
        return "\n".join(self.output)


@pytest.fixture(scope="session")
def warninglists() -> WarningLists:
    return WarningLists.load()


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
async def coalition(sqlite_store: Store, warninglists: WarningLists, policy: Policy, clock) -> Coalition:
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=policy, clock=clock, warninglists=warninglists,
                            delivery_platforms=(Platform.CONSOLE,))
    output: list[str] = []
    deliverer = Deliverer(sqlite_store.unit_of_work, ConsoleSink(output.append), clock=clock)
    await seed(sqlite_store, dispatcher, samples=False)
    return Coalition(sqlite_store, dispatcher, clock, ConsoleChannel(dispatcher, output.append, "", deliverer), output)
