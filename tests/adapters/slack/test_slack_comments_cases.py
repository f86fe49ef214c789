"""Issue 13 through Slack: comments threaded under every posted card (a reply with the card's `thread_ts`), once
even when a post's answer is lost, never where the item's TLP is now above the channel's ceiling; and live case
cards (posted by `/ioc case show` in a channel, `chat.update`d when the case or one of its indicators changes,
showing only what the channel may see)."""

from __future__ import annotations

from adapters.slack.sink import COMMENT_EVENT
from bot.domain import Platform
from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld


def replies(slack: SlackWorld, channel: str, ts: str) -> list[dict]:
    return [m for m in slack.mock.messages.get(channel, []) if m.get("thread_ts") == ts and m["ts"] != ts]


async def test_a_comment_is_threaded_once_under_every_card_within_its_ceiling(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]9 tlp:green", channel="COPEN")  # a live public reply
    await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD")
    await slack.settle()
    await slack.command("mod", "approve #1", channel="CMOD")
    await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CFEED")
    await slack.settle()
    async with slack.store.unit_of_work(read_only=True) as uow:  # the live copies: alice's public reply, the
        # moderation card, the moderator's public "Approved" reply in #moderation, the feed card
        copies = [(c.channel_id, c.message_id) for c in await uow.posted_cards.of_indicators([1], Platform.SLACK)]
    assert sorted(c for c, _ in copies) == ["CFEED", "CMOD", "CMOD", "COPEN"]

    slack.mock.lose("chat.postMessage")  # the first thread reply is posted, but its answer never arrives
    await slack.command("bob", "comment #1 seen in our gateway <!channel> *bold* <@UALICE>", key="com")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "com")
    assert said["response_type"] == "ephemeral" and "Comment added to #1 (1 comment)" in all_text(said.body)
    await slack.mock.wait_for("chat.postMessage", 4, where=lambda c: c.get("thread_ts"))  # the lost one, 3 more
    await slack.settle()
    for channel, ts in copies:  # once in each thread, the lost one found by its key, not posted again
        (reply,) = replies(slack, channel, ts)
        assert reply["metadata"]["event_type"] == COMMENT_EVENT
        text = reply["text"]
        assert text.startswith(":speech_balloon: *Sentinel Security* on #1: seen in our gateway"), text
        assert "<!channel>" not in text and "&lt;!channel&gt;" in text and "<@UALICE>" not in text
        assert "*bold*" not in text  # shown as typed, never as formatting
    assert len(slack.mock.of("conversations.replies")) == 4  # the retry looked in the threads first

    # raised to AMBER: #open-channel (GREEN) keeps its card, but no comment goes under it any more
    await slack.command("mod", "edit #1 tlp:amber", key="edit")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "edit")
    await slack.settle()
    mark = slack.mock.mark()
    await slack.command("carol", "comment #1 also at our ISP", key="com2")
    await slack.mock.wait_for("chat.postMessage", 3, since=mark, where=lambda c: c.get("thread_ts"))
    await slack.settle()
    for channel, ts in copies:
        assert len(replies(slack, channel, ts)) == (1 if channel == "COPEN" else 2), channel
    assert not [c for c in slack.mock.posts("COPEN") if "also at our ISP" in c.get("text", "")]


def _updates(slack: SlackWorld, channel: str, *, since: int) -> list:
    """The successful chat.update calls in `channel` since the mark, in order."""
    return [c for c in slack.mock.calls[since:] if c.method == "chat.update" and c.status == 200
            and c.get("channel") == channel]


async def test_a_case_card_in_a_channel_is_live_and_shows_only_what_the_channel_may_see(slack: SlackWorld) -> None:
    await slack.command("alice", "case new op-dusk tlp:green Phishing kit", channel="DALICE", key="new")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "new")
    # one after the other: commands run as they arrive, and the ids (#1 GREEN, #2 AMBER) would race
    await slack.command("alice", "submit 198.51.100.50 tlp:green case:op-dusk", channel="DALICE", key="green")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "green")
    await slack.command("alice", "submit 198.51.100.51 tlp:amber case:op-dusk", channel="DALICE")
    await slack.mock.wait_for("chat.postMessage", 2, where=lambda c: c["channel"] == "CMOD")
    await slack.settle()
    await slack.command("alice", "case show op-dusk", channel="COPEN", key="show")  # GREEN
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "show")
    assert said["response_type"] == "ephemeral" and "card is posted in this channel" in all_text(said.body)
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN")
    await slack.settle()
    text = all_text(post.body)
    assert "Case op-dusk" in text and "1 indicator this channel may see: 1 pending" in text, text
    assert "198.51.100.50" in text and "198.51.100.51" not in text and "#2" not in text
    ts = slack.mock.messages["COPEN"][0]["ts"]

    mark = slack.mock.mark()
    await slack.command("mod", "approve #1", channel="CMOD")
    await slack.mock.wait_for("chat.update", since=mark, where=lambda c: c["channel"] == "COPEN")
    await slack.settle()  # the approval may edit the card more than once (each of its events): the last one counts
    updates = _updates(slack, "COPEN", since=mark)
    assert {u["ts"] for u in updates} == {ts}
    assert "1 indicator this channel may see: 1 approved" in all_text(updates[-1].body)
    mark = slack.mock.mark()
    await slack.command("mod", "approve #2", channel="CMOD")  # AMBER: the GREEN channel's card is not touched
    await slack.mock.wait_for("chat.update", since=mark, where=lambda c: c["channel"] == "CMOD")
    await slack.settle()
    assert not [c for c in slack.mock.calls[mark:] if c.method == "chat.update" and c.get("channel") == "COPEN"]
    await slack.command("bob", "submit 203.0.113.60 tlp:clear", channel="DBOB")
    await slack.settle()
    mark = slack.mock.mark()
    await slack.command("alice", "case add op-dusk #3", channel="DALICE")
    await slack.mock.wait_for("chat.update", since=mark, where=lambda c: c["channel"] == "COPEN")
    await slack.settle()
    update = _updates(slack, "COPEN", since=mark)[-1]
    assert "2 indicators this channel may see: 1 approved, 1 pending" in all_text(update.body)
    assert "203.0.113.60" in all_text(update.body)

    # an AMBER case is not posted in a GREEN channel: the asker is told, privately, and nothing is posted
    await slack.command("alice", "case new op-amber tlp:amber", channel="DALICE")
    await slack.settle()
    mark = slack.mock.mark()
    await slack.command("alice", "case show op-amber", channel="COPEN", key="amber")
    (said,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "amber")
    assert said["response_type"] == "ephemeral"
    assert "case op-amber is TLP:AMBER, above what this channel may see" in all_text(said.body)
    await slack.settle()
    assert not [c for c in slack.mock.calls[mark:] if c.method == "chat.postMessage" and c.get("channel") == "COPEN"]
