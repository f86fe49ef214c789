"""Fixtures of the Slack adapter's tests: `mock_slack` (fake_slack.MockSlack started on 127.0.0.1) and `slack`
(a slack_world.SlackWorld: the real adapter in HTTP mode on a migrated SQLite store with the demo coalition);
`slack_oauth`: the same world served through OAuth distribution, its workspace installed through the install page
and the redirect (its token is the mock's per-team token, not `TOKEN`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet

from adapters.console.demo import seed
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from bot.policy import Policy
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack
from tests.adapters.slack.slack_world import TEAM, TOKEN, SlackWorld, install_through_oauth, oauth_settings, start_slack


@pytest.fixture
def slack_policy() -> Policy:
    return Policy()


@pytest.fixture
async def mock_slack() -> AsyncIterator[MockSlack]:
    mock = await MockSlack(token=TOKEN, team_id=TEAM).start()
    try:
        yield mock
    finally:
        await mock.stop()


@pytest.fixture
async def slack(sqlite_store: Store, mock_slack: MockSlack, slack_policy: Policy) -> AsyncIterator[SlackWorld]:
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=slack_policy, delivery_platforms=(Platform.SLACK,))
    await seed(sqlite_store, dispatcher, samples=False)
    world = await start_slack(sqlite_store, dispatcher, mock_slack)
    try:
        yield world
    finally:
        await world.close()


@pytest.fixture
async def slack_oauth(sqlite_store: Store, mock_slack: MockSlack, slack_policy: Policy) -> AsyncIterator[SlackWorld]:
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=slack_policy, delivery_platforms=(Platform.SLACK,))
    await seed(sqlite_store, dispatcher, samples=False)
    settings = oauth_settings(mock_slack, Fernet.generate_key().decode())
    world = await start_slack(sqlite_store, dispatcher, mock_slack, settings=settings)
    try:
        code = mock_slack.add_workspace(TEAM)
        status, page = await install_through_oauth(world.http, world.url.removesuffix("/slack/events"), mock_slack,
                                                   code)
        assert status == 200, page
        yield world
    finally:
        await world.close()
