"""`/ioc stats` on Slack (issue 14): the text answer privately, and the chart uploaded to the person's direct message
with the bot (files_upload_v2), never to the channel."""

from __future__ import annotations

import struct

from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld


async def test_stats_sends_the_chart_to_the_persons_dm(slack: SlackWorld) -> None:
    await slack.command("alice", "submit evil-one[.]example tlp:green tags:phishing")
    await slack.command("bob", "stats", channel="CGENERAL", key="stats")
    (text,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "stats")
    assert text["response_type"] == "ephemeral" and "Last 12 weeks" in all_text(text.body)
    (complete,) = await slack.mock.wait_for("files.completeUploadExternal", timeout=20)
    assert complete["channel_id"] == "DBOB"  # never the channel
    (upload,) = slack.mock.of("upload")
    data = slack.mock.uploads[upload["file_id"]]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (1100, 650)
