"""Watch alerts on Slack (issue 12): a watcher is told in a direct message through the real adapter and sink, never
of what they may not see, and a channel watch posts in its channel within its ceiling."""

from __future__ import annotations

from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld


def _dm_texts(slack: SlackWorld, user: str, since: int) -> list[str]:
    """What the bot posted in its direct message channel with `user` (the fake names it D + the id without U)."""
    return [all_text(c.body) for c in slack.mock.api_calls()[since:]
            if c.method == "chat.postMessage" and c.body.get("channel") == "D" + user.removeprefix("U")]


async def test_a_watcher_is_told_in_a_direct_message_and_a_channel_watch_posts_in_its_channel(
        slack: SlackWorld) -> None:
    await slack.command("bob", "watch add brand:northbank")
    await slack.settle()  # commands run as they arrive: bob's watch is W1, the channel's W2
    await slack.command("mod", "watch add brand:northbank channel", channel="CGENERAL")  # ceiling GREEN
    await slack.settle()
    mark = slack.mock.mark()
    await slack.command("alice", "submit n0rthbank-login.example tlp:green")
    await slack.settle()
    told = _dm_texts(slack, "UBOB", mark)
    assert len(told) == 1 and "Your watch W1 (brand:northbank) matched: #1 was submitted." in told[0]
    assert "n0rthbank" in told[0]
    assert not [c for c in slack.mock.posts("CGENERAL") if "Watch W2" in all_text(c.body)]  # pending: not relayed
    await slack.command("mod", "approve #1")
    await slack.settle()
    posts = [all_text(c.body) for c in slack.mock.posts("CGENERAL") if "Watch W2" in all_text(c.body)]
    assert len(posts) == 1
    mark = slack.mock.mark()
    await slack.command("alice", "submit northbank-pay.example tlp:amber+strict")
    await slack.command("alice", "submit secure-northbank.example tlp:amber")
    await slack.settle()
    assert not any("northbank-pay" in t for t in _dm_texts(slack, "UBOB", mark))  # AMBER+STRICT of Northbank
    told = _dm_texts(slack, "UBOB", mark)
    assert len(told) == 1 and "#3 was submitted" in told[0]
    assert not [c for c in slack.mock.posts("CGENERAL") if "northbank-pay" in all_text(c.body)
                or "secure-northbank" in all_text(c.body)]  # above the channel's GREEN ceiling
