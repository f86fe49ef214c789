"""Events through Slack: reactions as votes, passive mode, retried events."""

from __future__ import annotations

import re

from bot.domain import Tally
from bot.ioc import IOCType
from tests.adapters.slack.fake_slack import all_text
from tests.adapters.slack.slack_world import SlackWorld


async def card_in_open_channel(slack: SlackWorld) -> str:
    await slack.command("alice", "submit 203.0.113[.]7 tlp:green", channel="COPEN")
    await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN")
    await slack.settle()
    return slack.mock.messages["COPEN"][0]["ts"]


async def tally(slack: SlackWorld, indicator_id: int = 1) -> Tally:
    async with slack.store.unit_of_work() as uow:
        return await uow.votes.tally(indicator_id)


def reaction(kind: str, user: str, ts: str, name: str = "white_check_mark", channel: str = "COPEN",
             item_user: str = "UBOT") -> dict:
    return {"type": kind, "user": user, "reaction": name, "item_user": item_user,
            "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1700000001.000001"}


async def test_reactions_on_a_bot_card_vote_and_removing_them_withdraws(slack: SlackWorld) -> None:
    ts = await card_in_open_channel(slack)
    mark = slack.mock.mark()
    status, _, seconds = await slack.event(reaction("reaction_added", "UBOB", ts))
    assert status == 200 and seconds < 1.0
    await slack.mock.wait_for("chat.update", where=lambda u: "1 confirmation from 1 org" in all_text(u.body),
                              since=mark)
    assert await tally(slack) == Tally(confirm=1, confirm_orgs=1)

    mark = slack.mock.mark()
    await slack.event(reaction("reaction_added", "UCAROL", ts, name="x"))
    await slack.mock.wait_for("chat.update", where=lambda u: "1 false positive from 1 org" in all_text(u.body),
                              since=mark)
    assert await tally(slack) == Tally(1, 1, 1, 1)

    mark = slack.mock.mark()
    await slack.event(reaction("reaction_removed", "UBOB", ts))
    await slack.mock.wait_for("chat.update", where=lambda u: "0 confirmations from 0 orgs" in all_text(u.body),
                              since=mark)
    assert await tally(slack) == Tally(0, 1, 0, 1)


async def test_removing_an_emoji_withdraws_only_the_vote_it_made(slack: SlackWorld) -> None:
    ts = await card_in_open_channel(slack)
    await slack.event(reaction("reaction_added", "UBOB", ts))
    await slack.event(reaction("reaction_added", "UBOB", ts, name="x"))  # the latest vote counts: false positive
    await slack.settle()
    assert await tally(slack) == Tally(false_positive=1, false_positive_orgs=1)
    await slack.event(reaction("reaction_removed", "UBOB", ts))  # the confirmation it made was replaced already
    await slack.settle()
    assert await tally(slack) == Tally(false_positive=1, false_positive_orgs=1)
    assert not slack.mock.of("chat.postEphemeral")  # nothing to undo is no news
    mark = slack.mock.mark()
    await slack.event(reaction("reaction_removed", "UBOB", ts, name="x"))
    await slack.mock.wait_for("chat.update", where=lambda u: "0 false positives from 0 orgs" in all_text(u.body),
                              since=mark)
    assert await tally(slack) == Tally()


async def test_reactions_found_from_the_message_after_a_restart(slack: SlackWorld) -> None:
    ts = await card_in_open_channel(slack)
    slack.service.bot._cards.clear()  # type: ignore[union-attr]  # what the bot remembered is gone
    await slack.event(reaction("reaction_added", "UBOB", ts, name="x"))
    await slack.settle()
    assert await tally(slack) == Tally(false_positive=1, false_positive_orgs=1)
    (history,) = slack.mock.of("conversations.history")
    assert history["channel"] == "COPEN" and history["latest"] == ts


async def test_other_reactions_and_other_messages_are_ignored(slack: SlackWorld) -> None:
    ts = await card_in_open_channel(slack)
    before = len(slack.mock.calls)
    await slack.event(reaction("reaction_added", "UBOB", ts, name="tada"))
    await slack.event(reaction("reaction_added", "UBOB", "1700000000.999999", item_user="UCAROL"))
    await slack.settle()
    assert slack.mock.calls[before:] == []
    assert await tally(slack) == Tally()


async def test_a_reaction_by_a_stranger_is_answered_privately(slack: SlackWorld) -> None:
    ts = await card_in_open_channel(slack)
    await slack.event(reaction("reaction_added", "UNOBODY", ts))
    (said,) = await slack.mock.wait_for("chat.postEphemeral")
    assert said["user"] == "UNOBODY" and said["channel"] == "COPEN"
    assert "not a member of the coalition yet" in all_text(said.body)


async def test_passive_mode_answers_in_the_thread_and_stores_nothing(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]7 tlp:green", channel="DALICE", key="s")
    await slack.command("alice", "submit 198.51.100[.]50 tlp:amber", channel="DALICE", key="s2")
    await slack.mock.wait_for("response_url", 2)
    message = {"type": "message", "channel": "CPASSIVE", "channel_type": "channel", "user": "UCAROL",
               "ts": "1700000100.000100",
               "text": "anyone seen 203.0.113[.]7 or <http://new-bad.example|new-bad.example> or 198.51.100.50?"}
    await slack.event(message)
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CPASSIVE")
    assert post["thread_ts"] == "1700000100.000100"
    text = all_text(post.body)
    assert re.search(r"`203\.0\.113\.7`: \*#[12]\* :hourglass_flowing_sand: pending · TLP:GREEN", text)
    assert "`new-bad.example` (Domain): not known to the coalition" in text
    # the AMBER one is above the channel's ceiling: it answers exactly like an unknown one
    assert "`198.51.100.50` (IPv4): not known to the coalition" in text
    async with slack.store.unit_of_work() as uow:
        assert not await uow.indicators.by_values([(IOCType.DOMAIN, "new-bad.example")])

    # a channel without passive mode, a message without indicators, an edit: no answer
    await slack.event({**message, "channel": "CGENERAL", "ts": "1700000100.000200"})
    await slack.event({**message, "text": "good morning", "ts": "1700000100.000300"})
    await slack.event({**message, "subtype": "message_changed", "ts": "1700000100.000400"})
    await slack.event({**message, "bot_id": "BOTHER", "ts": "1700000100.000500"})
    await slack.settle()
    assert len(slack.mock.posts("CPASSIVE")) == 1 and not slack.mock.posts("CGENERAL")


async def test_a_retried_event_is_processed_once(slack: SlackWorld) -> None:
    message = {"type": "message", "channel": "CPASSIVE", "channel_type": "channel", "user": "UCAROL",
               "ts": "1700000200.000100", "text": "is 203.0.113.9 known?"}
    first = await slack.event(message, event_id="Ev0RETRY01")
    again = await slack.event(message, event_id="Ev0RETRY01", retry_num=1)
    third = await slack.event(message, event_id="Ev0RETRY01", retry_num=2)
    assert first[0] == again[0] == third[0] == 200
    await slack.settle()
    assert len(slack.mock.posts("CPASSIVE")) == 1
    # a different event is processed
    await slack.event({**message, "ts": "1700000200.000200"}, event_id="Ev0RETRY02", retry_num=1)
    await slack.mock.wait_for("chat.postMessage", 2, where=lambda c: c["channel"] == "CPASSIVE")


async def test_a_big_submission_is_one_line_in_the_moderation_channel(slack: SlackWorld) -> None:
    values = " ".join(f"bulk-{i}[.]example" for i in range(25))
    await slack.command("alice", f"submit {values} tlp:green")
    posts = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD")
    await slack.settle()
    assert len(slack.mock.posts("CMOD")) == 1
    assert posts[0]["text"].startswith("25 new indicators from ") and "wait for moderation" in posts[0]["text"]
