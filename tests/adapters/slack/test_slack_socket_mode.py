"""Socket Mode end to end: the service opens the connection with the app-level token (apps.connections.open on
`slack.api_url`), and envelopes sent over the WebSocket are acknowledged and answered like HTTP requests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.console.demo import seed
from adapters.runtime import Runtime
from adapters.slack.service import SlackService
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, all_text
from tests.adapters.slack.slack_world import TEAM, link_slack_identities, slack_settings

APP_TOKEN = "xapp-1-A0COAL-1234-abcdef"


@pytest.fixture
async def socket_service(sqlite_store: Store, mock_slack: MockSlack) -> AsyncIterator[SlackService]:
    dispatcher = Dispatcher(sqlite_store.unit_of_work, delivery_platforms=(Platform.SLACK,))
    await seed(sqlite_store, dispatcher, samples=False)
    await link_slack_identities(sqlite_store)
    settings = slack_settings(mock_slack, mode="socket", app_token=APP_TOKEN, signing_secret=None)
    assert settings.missing() == []
    service = SlackService(Runtime(settings, sqlite_store, dispatcher))
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def test_socket_mode_connects_with_the_app_token(socket_service: SlackService, mock_slack: MockSlack) -> None:
    (opened,) = mock_slack.of("apps.connections.open")
    assert socket_service.socket is not None and socket_service.socket.app_token == APP_TOKEN
    assert socket_service.port is None  # no HTTP endpoint in Socket Mode
    assert opened["authorization"] == APP_TOKEN  # the app-level token, on the configured Web API
    await mock_slack.socket_connected.wait()


async def test_a_slash_command_over_the_socket(socket_service: SlackService, mock_slack: MockSlack) -> None:
    envelope = await mock_slack.send_envelope("slash_commands", {
        "team_id": TEAM, "channel_id": "DALICE", "channel_name": "directmessage", "user_id": "UALICE",
        "user_name": "alice", "command": "/ioc", "text": "submit hxxp://drop[.]example/payload.bin tlp:green",
        "response_url": mock_slack.response_url("sock"), "trigger_id": "t1"})
    (ack,) = await mock_slack.wait_for("socket_ack", where=lambda c: c["envelope_id"] == envelope)
    assert ack["payload"] == {}  # acknowledged at once, empty
    (reply,) = await mock_slack.wait_for("response_url", where=lambda c: c["url_key"] == "sock")
    assert reply["response_type"] == "ephemeral" and "`http://drop.example/payload.bin`" in all_text(reply.body)


async def test_events_over_the_socket_and_a_retry_handled_once(socket_service: SlackService,
                                                               mock_slack: MockSlack) -> None:
    event = {"token": "x", "team_id": TEAM, "api_app_id": "A0COAL", "type": "event_callback",
             "event_id": "EvSOCKET1", "event_time": 1,
             "event": {"type": "app_home_opened", "user": "UMOD", "tab": "home"}}
    await mock_slack.send_envelope("events_api", event)
    await mock_slack.wait_for("socket_ack")
    await mock_slack.send_envelope("events_api", event, retry_attempt=1)
    await mock_slack.wait_for("socket_ack", 2)
    await socket_service.settle()
    (published,) = mock_slack.of("views.publish")
    assert "moderator of *Sentinel Security*" in all_text(published["view"])


async def test_a_misshapen_envelope_is_acknowledged_and_dropped_without_an_error(
        socket_service: SlackService, mock_slack: MockSlack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    bad = [("interactive", {"type": "block_actions", "actions": "x"}),
           ("interactive", {"type": "view_submission", "user": {"id": "UALICE"},
                            "view": {"callback_id": "ioc_submit", "private_metadata": "{not json"}}),
           ("events_api", {"type": "event_callback", "team_id": TEAM, "event": {"type": "reaction_added",
                                                                                "item": "x"}}),
           ("slash_commands", {"team_id": TEAM, "command": "/ioc", "text": ["whoami"], "user_id": "UALICE"})]
    for kind, payload in bad:
        envelope = await mock_slack.send_envelope(kind, payload)
        await mock_slack.wait_for("socket_ack", where=lambda c, e=envelope: c["envelope_id"] == e)
    await socket_service.settle()
    assert [c.method for c in mock_slack.calls if c.method not in {"socket_ack", "auth.test",
                                                                    "apps.connections.open"}] == []
    assert not [(r.name, r.getMessage()) for r in caplog.records if r.exc_info or r.levelno >= 40]
    # and a well-formed one after them is answered
    await mock_slack.send_envelope("slash_commands", {
        "team_id": TEAM, "channel_id": "DALICE", "user_id": "UALICE", "user_name": "alice", "command": "/ioc",
        "text": "whoami", "response_url": mock_slack.response_url("after"), "trigger_id": "t2"})
    (reply,) = await mock_slack.wait_for("response_url", where=lambda c: c["url_key"] == "after")
    assert "You are alice" in all_text(reply.body)
