"""Issue 15: a file import in a Slack DM that is still running after `import_progress.after` seconds posts one
progress message in that DM (`chat.postMessage`) and edits it as it goes (`chat.update` on its ts), finally into
a done line; the report is the reply after it. A fast import posts no progress message at all."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.chat_progress import ProgressTiming
from adapters.console.demo import seed
from adapters.runtime import Runtime
from adapters.slack.service import SlackService
from bot.dispatcher import Dispatcher
from bot.domain import Platform
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, all_text
from tests.adapters.slack.slack_world import SlackWorld, link_slack_identities, slack_settings

COUNTS = re.compile(r"([0-9,]+) of ([0-9,]+) indicators \(([0-9]+) %\)")


def big_file(count: int) -> bytes:
    return "".join(f"c2-{i}.drop-zone.example\n" for i in range(count)).encode()


@pytest.fixture
async def slack_progress(sqlite_store: Store, mock_slack: MockSlack) -> AsyncIterator[SlackWorld]:
    """The Slack world with the progress message shown at once and edited at every step (the thresholds lowered
    the way a deployment would set them: the service's constructor)."""
    dispatcher = Dispatcher(sqlite_store.unit_of_work, delivery_platforms=(Platform.SLACK,))
    await seed(sqlite_store, dispatcher, samples=False)
    await link_slack_identities(sqlite_store)
    service = SlackService(Runtime(slack_settings(mock_slack), sqlite_store, dispatcher),
                           import_progress=ProgressTiming(after=0.0, every=0.0))
    await service.start()
    world = SlackWorld(mock_slack, service, sqlite_store, aiohttp.ClientSession())
    try:
        yield world
    finally:
        await world.close()


async def test_a_slow_import_posts_a_progress_message_and_edits_it(slack_progress: SlackWorld) -> None:
    slack = slack_progress
    name = "feed_<!channel>*x*.txt"  # the person's own file name, shown in their DM: escaped, never a broadcast
    file_id = slack.mock.add_file(name, big_file(5000), user="UALICE")
    await slack.event({"type": "file_shared", "file_id": file_id, "user_id": "UALICE", "channel_id": "DALICE",
                       "event_ts": "1.1"})
    await slack.mock.wait_for("chat.postMessage", 2, where=lambda c: c["channel"] == "DALICE")
    await slack.settle()
    first, report = slack.mock.posts("DALICE")
    # the whole file (130 KB: a download once stopped at the first 64 KB it was given)
    assert "Importing" in first["text"] and "5000 read, 5000 submitted for moderation" in all_text(report.body)
    updates = slack.mock.of("chat.update")
    progress_ts = slack.mock.messages["DALICE"][0]["ts"]
    assert updates and {(u["channel"], u["ts"]) for u in updates} == {("DALICE", progress_ts)}  # one message
    assert all(u.at < report.at for u in updates)  # the message is done before the report comes
    counts = [tuple(int(x.replace(",", "")) for x in m.groups()) for u in updates[:-1]
              if (m := COUNTS.search(u["text"]))]
    assert len(counts) >= 2, [u["text"] for u in updates]
    assert [c[0] for c in counts] == sorted({c[0] for c in counts})  # growing, each state shown once
    assert all(total == 5000 and pct == 100 * done // 5000 for done, total, pct in counts)
    assert updates[-1]["text"].startswith("Imported ") and "5,000 indicators in" in updates[-1]["text"]
    for text in [first["text"]] + [u["text"] for u in updates]:
        assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "*x*" not in text


async def test_a_fast_import_posts_no_progress_message(slack: SlackWorld) -> None:
    """The default thresholds (3 s): a small file's import is over before, and only the report is posted."""
    file_id = slack.mock.add_file("iocs.txt", big_file(20), user="UALICE")
    await slack.event({"type": "file_shared", "file_id": file_id, "user_id": "UALICE", "channel_id": "DALICE",
                       "event_ts": "1.1"})
    (report,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "DALICE")
    await slack.settle()
    assert "20 submitted for moderation" in all_text(report.body)
    assert len(slack.mock.posts("DALICE")) == 1 and not slack.mock.of("chat.update", ok_only=False)


async def test_failing_progress_calls_fail_nothing_and_log_no_file_name(slack_progress: SlackWorld,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    slack = slack_progress
    caplog.set_level(logging.INFO)
    slack.mock.fail("chat.update", times=2, status=400, error="cant_update_message")  # the first two edits
    file_id = slack.mock.add_file("case-4711-suspects.txt", big_file(3000), user="UALICE")
    await slack.event({"type": "file_shared", "file_id": file_id, "user_id": "UALICE", "channel_id": "DALICE",
                       "event_ts": "1.1"})
    await slack.mock.wait_for("chat.postMessage", 2, where=lambda c: c["channel"] == "DALICE")
    await slack.settle()
    report = slack.mock.posts("DALICE")[-1]
    assert "3000 read, 3000 submitted for moderation" in all_text(report.body)
    assert [c.status for c in slack.mock.of("chat.update", ok_only=False)][:2] == [400, 400]
    assert slack.mock.of("chat.update")[-1]["text"].startswith("Imported ")  # later edits went through
    assert "could not be edited (cant_update_message)" in caplog.text and "case-4711" not in caplog.text
