"""The Slack sink finds a post of an earlier, killed attempt by its delivery key however many messages came
since (conversations.history from the attempt's start, every page), in a channel and in a DM channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import Renderer
from adapters.slack.service import api_base_url
from adapters.slack.sink import SlackSink
from bot.domain import Channel, ChannelPurpose, Identity, Platform
from bot.tlp import TLP
from tests.adapters.slack.fake_slack import MockSlack

FEED = Channel(Platform.SLACK, "T0COAL", "CFINDFEED", TLP.GREEN, ChannelPurpose.FEED)


async def test_an_earlier_post_is_found_behind_hundreds_of_newer_messages(mock_slack: MockSlack) -> None:
    sink = SlackSink(AsyncWebClient(token=mock_slack.token, base_url=api_base_url(mock_slack.api_url)), Renderer())
    mock_slack.chatter(FEED.channel_id, 50)  # before the attempt started: never looked at
    started = datetime.now(UTC)
    ts = await sink.post_text(FEED, "12,000 new indicators wait for moderation", key="41:T0COAL:CFINDFEED")
    mock_slack.chatter(FEED.channel_id, 700)  # the channel went on: more than the old 200-message window
    before = len(mock_slack.of("conversations.history"))
    found = await sink.find_posted(FEED, ["41:T0COAL:CFINDFEED", "42:T0COAL:CFINDFEED"], started)
    assert found == {"41:T0COAL:CFINDFEED": ts}  # 42 was never posted: it is to be posted now
    pages = mock_slack.of("conversations.history")[before:]
    assert len(pages) == 4 and all(p["oldest"] == f"{started.timestamp():.6f}" for p in pages)  # 751 by 200
    # a search from after the post does not see it (the window is the attempt's, not the whole channel)
    assert await sink.find_posted(FEED, ["41:T0COAL:CFINDFEED"], started + timedelta(minutes=1)) == {}


async def test_a_dm_notice_is_found_by_its_key(mock_slack: MockSlack) -> None:
    sink = SlackSink(AsyncWebClient(token=mock_slack.token, base_url=api_base_url(mock_slack.api_url)), Renderer())
    alice = Identity(Platform.SLACK, "T0COAL", "U0ALICE")
    started = datetime.now(UTC)
    await sink.client.chat_postMessage(channel="D0ALICE", text="a card's text",  # a card, not a notice
                                       metadata={"event_type": "coalition_indicator_card",
                                                 "event_payload": {"key": "7:dm"}})
    assert await sink.find_posted(alice, ["7:dm"], started) == {}
    posted = await sink.client.chat_postMessage(channel="D0ALICE", text="Your indicator #3 was approved",
                                                metadata={"event_type": "coalition_notice",
                                                          "event_payload": {"key": "7:dm"}})
    mock_slack.chatter("D0ALICE", 300, user="U0ALICE")
    assert await sink.find_posted(alice, ["7:dm"], started) == {"7:dm": posted["ts"]}
