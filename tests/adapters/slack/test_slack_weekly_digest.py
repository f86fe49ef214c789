"""The weekly digest on Slack (issue 14): the chart uploaded with files_upload_v2 into each feed channel, its
comment the numbers that channel may see; a retry after a killed attempt finds the upload it made (by the key in
the file's name, uploaded by the bot) and does not upload it twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from adapters.charts import stats_png
from adapters.config import DigestSettings, Settings
from adapters.ops import weekly_digest_once
from adapters.runtime import Runtime
from adapters.slack.blocks import Renderer
from adapters.slack.service import api_base_url
from adapters.slack.sink import SlackSink, file_key
from bot.delivery import Deliverer, DeliveryError
from bot.dispatcher import Dispatcher
from bot.domain import Channel, ChannelPurpose, Platform
from bot.tlp import TLP
from tests.adapters.slack.fake_slack import MockSlack
from tests.e2e.weekly_seed import AMBER_SUBMITTED, GREEN_SUBMITTED, feeds, seed_week

MONDAY_NINE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ON = Settings(digest=DigestSettings(weekly=True))
PNG = b"\x89PNG\r\n\x1a\n"


def _sink(mock: MockSlack) -> SlackSink:
    return SlackSink(AsyncWebClient(token=mock.token, base_url=api_base_url(mock.api_url)), Renderer())


class KilledAfterOneUpload(SlackSink):
    """Its first upload goes through, then the attempt dies before anything is recorded."""

    uploads = 0

    async def post_file(self, channel: Channel, filename: str, data: bytes, text: str, *, key: str) -> str:
        found = await super().post_file(channel, filename, data, text, key=key)
        self.uploads += 1
        if self.uploads == 1:
            raise DeliveryError("killed right after the upload")
        return found


async def test_each_feed_channel_gets_its_chart_once_even_after_a_killed_attempt(sqlite_store, mock_slack, clock):
    clock.now = MONDAY_NINE
    dispatcher = Dispatcher(sqlite_store.unit_of_work, clock=clock, delivery_platforms=(Platform.SLACK,))
    await seed_week(sqlite_store, dispatcher, feeds(Platform.SLACK, mock_slack.team_id, "CWEEKGREEN", "CWEEKAMBER"),
                    clock)
    sink = KilledAfterOneUpload(AsyncWebClient(token=mock_slack.token, base_url=api_base_url(mock_slack.api_url)),
                                Renderer())
    deliverer = Deliverer(sqlite_store.unit_of_work, sink, clock=clock, chart=stats_png, max_attempts=3)
    await deliverer.drain()
    assert mock_slack.of("files.completeUploadExternal") == []  # cards and lines only so far
    clock.now = MONDAY_NINE + timedelta(minutes=1)
    assert await weekly_digest_once(Runtime(ON, sqlite_store, dispatcher)) == 1
    await deliverer.drain()  # one upload, then killed
    assert len(mock_slack.of("files.completeUploadExternal")) == 1
    clock.advance(timedelta(minutes=5))  # the row's retry is due
    await deliverer.drain()
    completed = mock_slack.of("files.completeUploadExternal")
    assert sorted(c["channel_id"] for c in completed) == ["CWEEKAMBER", "CWEEKGREEN"]  # once each, none twice
    comments = {c["channel_id"]: c["initial_comment"] for c in completed}
    assert f"Last week (from 2026-10-26): {GREEN_SUBMITTED} submitted" in comments["CWEEKGREEN"]
    assert f"Last week (from 2026-10-26): {AMBER_SUBMITTED} submitted" in comments["CWEEKAMBER"]
    assert "ambertag" in comments["CWEEKAMBER"] and "ambertag" not in comments["CWEEKGREEN"]
    assert all("redtag" not in c and "stricttag" not in c and "a coalition member 1" in c for c in comments.values())
    for call in completed:  # the PNG itself, named with the key's digest, shared in the channel by the bot
        (shared,) = call["files"]
        assert mock_slack.uploads[shared["id"]].startswith(PNG)
        (message,) = [m for m in mock_slack.messages[call["channel_id"]] if m.get("files")]
        assert message["files"][0]["name"].startswith("coalition-weekly-2026-11-02-")


async def test_an_upload_is_found_by_its_key_and_only_the_bots(mock_slack: MockSlack) -> None:
    sink = _sink(mock_slack)
    feed = Channel(Platform.SLACK, mock_slack.team_id, "CWEEKFIND", TLP.GREEN, ChannelPurpose.FEED)
    started = datetime.now(UTC) - timedelta(seconds=1)
    key = "88:T0COAL:CWEEKFIND"
    # someone else uploads a file with the same name: not the bot's, not found
    file_id = mock_slack.add_file(f"coalition-weekly-2026-11-02-{file_key(key)}.png", PNG, user="U0SOMEONE")
    mock_slack.messages.setdefault(feed.channel_id, []).append(
        {"type": "message", "ts": f"{datetime.now(UTC).timestamp():.6f}", "user": "U0SOMEONE",
         "files": [mock_slack.files[file_id]]})
    assert await sink.find_posted(feed, [key], started) == {}
    await sink.post_file(feed, "coalition-weekly-2026-11-02.png", PNG + b"chart", "Weekly digest", key=key)
    mock_slack.chatter(feed.channel_id, 250)
    found = await sink.find_posted(feed, [key, "89:T0COAL:CWEEKFIND"], started)
    (message,) = [m for m in mock_slack.messages[feed.channel_id] if m.get("user") == mock_slack.bot_user_id]
    assert found == {key: message["ts"]}
