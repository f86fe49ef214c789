"""`/ioc case show` in a channel the bot cannot post in (a slash command works in any channel, the app in it or not):
the person is told at once, privately, to invite the app, and nothing is queued; where it can post (a member, or a
public channel with chat:write.public) the card is posted; and a card whose post is refused all the same (Slack
would not say) is parked with an error that says why."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from adapters.config import Settings
from adapters.console.demo import seed
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from bot.policy import Policy
from storage.models import OutboxRow
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, all_text
from tests.adapters.slack.slack_world import SlackWorld, slack_settings, start_slack


async def case_rows(slack: SlackWorld) -> list[tuple[str, str | None]]:
    async with slack.store.unit_of_work(read_only=True) as uow:
        rows = (await uow.session.execute(select(OutboxRow).where(OutboxRow.event == "case.posted"))).all()
        return [(r.payload["channel_id"], r.last_error) for r in rows]


def post_attempts(slack: SlackWorld, channel: str) -> list[int]:
    return [c.status for c in slack.mock.of("chat.postMessage", ok_only=False) if c.get("channel") == channel]


async def new_case(slack: SlackWorld, name: str) -> None:
    await slack.command("alice", f"case new {name} tlp:green", channel="DALICE", key=f"new-{name}")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == f"new-{name}")


async def test_a_case_is_not_posted_where_the_app_is_not_in_the_channel(slack: SlackWorld) -> None:
    await new_case(slack, "op-notin")
    await slack.command("alice", "case show op-notin", channel="CNOTIN1", key="notin")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "notin")
    text = all_text(said.body)
    assert said["response_type"] == "ephemeral", said.body
    assert "the bot cannot post in this channel, so case op-notin's card is not posted here" in text, text
    assert "/invite @" in text and "card is posted" not in text
    assert [c.get("channel") for c in slack.mock.of("conversations.info")] == ["CNOTIN1"]
    await slack.settle()
    assert post_attempts(slack, "CNOTIN1") == [] and await case_rows(slack) == []  # nothing queued, nothing tried

    # where the bot is a member, the card is posted as before
    await slack.command("alice", "case show op-notin", channel="COPEN", key="open")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "open")
    assert "card is posted in this channel" in all_text(said.body)
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN")
    assert "Case op-notin" in all_text(post.body)

    # the app allowed to post in public channels it is not in (chat:write.public): Slack is asked again at once
    # (not the answer remembered a moment ago) and the card is posted there
    slack.mock.scopes += ",chat:write.public"
    await slack.command("alice", "case show op-notin", channel="CNOTIN1", key="public")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "public")
    assert "card is posted in this channel" in all_text(said.body), all_text(said.body)
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CNOTIN1")
    assert "Case op-notin" in all_text(post.body)
    assert len(slack.mock.of("conversations.info")) == 3


@pytest.fixture
async def parking(sqlite_store: Store, mock_slack: MockSlack) -> AsyncIterator[SlackWorld]:
    """The Slack world, a failed delivery parked at once."""
    dispatcher = Dispatcher(sqlite_store.unit_of_work, policy=Policy(), delivery_platforms=(Platform.SLACK,))
    await seed(sqlite_store, dispatcher, samples=False)
    settings = Settings(slack=slack_settings(mock_slack).slack, delivery={"max_attempts": 1})
    world = await start_slack(sqlite_store, dispatcher, mock_slack, settings=settings)
    try:
        yield world
    finally:
        await world.close()


async def test_a_refused_case_card_is_parked_saying_the_bot_is_not_in_the_channel(parking: SlackWorld) -> None:
    slack = parking
    await new_case(slack, "op-unknown")
    slack.mock.fail("conversations.info", status=200, error="internal_error")  # Slack would not say: as before
    await slack.command("alice", "case show op-unknown", channel="CNOTIN2", key="show")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "show")
    assert "card is posted in this channel" in all_text(said.body)
    await slack.settle()
    assert post_attempts(slack, "CNOTIN2") == [400]  # not_in_channel
    ((channel, error),) = await case_rows(slack)
    assert channel == "CNOTIN2" and "the bot cannot post in channel CNOTIN2, not being in it" in (error or "")
    await slack.command("admin", "admin deliveries", channel="DADMIN", key="deliveries")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "deliveries")
    listing = all_text(said.body)
    assert "case.posted case 1 after 1 attempts" in listing, listing
    assert "Slack: not_in_channel: the bot cannot post in channel CNOTIN2, not being in it (invite the app there" \
        in listing, listing
