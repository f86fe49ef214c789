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
from tests.e2e.console_world import ConsoleWorld


@dataclass
class Coalition(ConsoleWorld):
    dispatcher: Dispatcher | None = None
    clock: object = None


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
    return Coalition(sqlite_store, ConsoleChannel(dispatcher, output.append, "", deliverer), output, dispatcher, clock)
