"""`/ioc` through Slack: signed slash commands in, response_url / chat.postMessage / files out."""

from __future__ import annotations

import asyncio
import json

from bot.domain import Platform
from bot.ioc import IOCType
from tests.adapters.slack.fake_slack import action_ids, all_text
from tests.adapters.slack.slack_world import SlackWorld


async def submit(slack: SlackWorld, user: str, text: str, channel: str = "DALICE") -> None:
    """A submission in the user's DM with the bot (private), waited for."""
    key = f"submit-{len(slack.mock.calls)}"
    status, _, _ = await slack.command(user, f"submit {text}", channel=channel, key=key)
    assert status == 200
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == key)


async def test_lookup_in_a_channel_is_ephemeral_and_acknowledged_at_once(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]7 tlp:green tags:emotet")
    status, body, seconds = await slack.command("bob", "lookup 203.0.113.7 198.51.100.99", key="look")
    assert status == 200 and body == "" and seconds < 1.0  # the acknowledgement: empty, at once

    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "look")
    assert reply["response_type"] == "ephemeral"
    text = all_text(reply.body)
    assert "`203.0.113.7`" in text and "TLP:GREEN" in text and "Northbank" in text
    assert "198.51.100.99" in text and "Not known to the coalition" in text
    assert "ioc:vote:1:confirm" in action_ids(reply["blocks"])
    assert not slack.mock.posts("CGENERAL")  # nothing in the channel


async def test_bare_value_and_slack_linked_domain_are_lookups(slack: SlackWorld) -> None:
    await submit(slack, "alice", "evil-updates[.]example tlp:green")
    # Slack sends a domain it linked as <http://x|x>: the person typed the domain
    await slack.command("bob", "<http://evil-updates.example|evil-updates.example>", key="bare")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "bare")
    assert "`evil-updates.example`" in all_text(reply.body) and "Domain" in all_text(reply.body)


async def test_lookups_in_a_channel_that_asks_for_it_are_public_live_cards(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]7 tlp:green")
    await slack.command("bob", "203.0.113.7", channel="COPEN")
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN")
    assert "`203.0.113.7`" in all_text(post.body)
    assert post["metadata"]["event_payload"]["indicator_id"] == 1


async def test_vote_in_a_channel_posts_a_public_card_that_is_remembered(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]7 tlp:green")
    status, _, _ = await slack.command("bob", "vote #1 confirm seen in our SOC", channel="CGENERAL", key="vote")
    assert status == 200
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CGENERAL")
    text = all_text(post.body)
    assert "Vote on #1 recorded" in text and "1 confirmation from 1 org" in text
    assert action_ids(post["blocks"]) == ["ioc:vote:1:confirm", "ioc:vote:1:false_positive"]  # no moderation here
    assert not [c for c in slack.mock.responses() if c["url_key"] == "vote"]  # a message of its own
    await slack.settle()
    async with slack.store.unit_of_work() as uow:
        posted = await uow.posted_cards.of_indicators([1], Platform.SLACK)
    ts = slack.mock.messages["CGENERAL"][0]["ts"]
    assert sorted((p.channel_id, p.purpose) for p in posted) == [("CGENERAL", "reply"), ("CMOD", "moderation")]
    assert [p.message_id for p in posted if p.channel_id == "CGENERAL"] == [ts]


async def test_an_amber_card_is_never_posted_in_a_green_channel(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 198.51.100[.]23 tlp:amber internal", channel="CGENERAL", key="amber")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "amber")
    assert reply["response_type"] == "ephemeral" and "TLP:AMBER" in all_text(reply.body)
    await slack.command("bob", "vote #1 confirm", channel="CGENERAL", key="amber-vote")
    (vote,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "amber-vote")
    assert vote["response_type"] == "ephemeral"
    await slack.settle()
    assert not slack.mock.posts("CGENERAL")
    assert slack.mock.posts("CMOD")  # the moderation channel (ceiling AMBER) got the submission


async def test_errors_are_ephemeral_with_the_right_form(slack: SlackWorld) -> None:
    await slack.command("alice", "vote #1", channel="CGENERAL", key="bad")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "bad")
    assert reply["response_type"] == "ephemeral"
    assert "a vote needs an indicator and a verdict" in all_text(reply.body)
    assert "/ioc vote #ID confirm|fp|withdraw" in all_text(reply.body)

    await slack.command("UNOBODY", "lookup 1.2.3.4", key="stranger")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "stranger")
    assert "not a member of the coalition yet" in all_text(reply.body)


async def test_join_with_an_invite_made_by_the_admin(slack: SlackWorld) -> None:
    await slack.command("admin", "admin invite create Northbank role:member", channel="DADMIN", key="invite")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "invite")
    code = reply["text"].split("/ioc join ")[1].split()[0]
    await slack.command("UNEWBIE", f"join {code}", channel="DNEWBIE", key="join")
    (joined,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "join")
    assert "you are now a member of Northbank" in all_text(joined.body)
    await slack.command("UNEWBIE", "whoami", channel="DNEWBIE", key="who")
    (who,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "who")
    assert "slack:UNEWBIE" in all_text(who.body)


async def test_export_uploads_the_file_to_the_persons_dm(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]7 tlp:green")
    await slack.command("mod", "approve #1", channel="DMOD", key="approve")
    await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "approve")
    await slack.command("bob", "export format:csv", channel="CGENERAL", key="export")
    (complete,) = await slack.mock.wait_for("files.completeUploadExternal")
    assert complete["channel_id"] == "DBOB"  # never the channel
    (upload,) = slack.mock.of("upload")
    data = slack.mock.uploads[upload["file_id"]].decode()
    assert "203.0.113.7" in data and data.splitlines()[0].startswith("id,")
    (note,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "export")
    assert note["response_type"] == "ephemeral" and "direct message" in all_text(note.body)


async def test_a_file_shared_in_a_dm_is_imported(slack: SlackWorld) -> None:
    file_id = slack.mock.add_file("iocs.txt", b"hxxp://drop[.]example/a.exe\n203.0.113[.]99\nnot an ioc\n",
                                  user="UALICE")
    await slack.event({"type": "file_shared", "file_id": file_id, "user_id": "UALICE", "channel_id": "DALICE",
                       "event_ts": "1.1"})
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "DALICE")
    text = all_text(post.body)
    assert "Import of iocs.txt" in text and "2 submitted for moderation" in text
    assert slack.mock.of("download")
    async with slack.store.unit_of_work() as uow:
        rows = await uow.indicators.by_values([(IOCType.URL, "http://drop.example/a.exe"),
                                               (IOCType.IPV4, "203.0.113.99")])
    assert sorted(r.status.value for r in rows) == ["pending", "pending"]
    assert {r.submitter_name for r in rows} == {"alice"}


async def test_a_dm_to_the_bot_is_a_command_without_ioc(slack: SlackWorld) -> None:
    await slack.event({"type": "message", "channel": "DALICE", "channel_type": "im", "user": "UALICE",
                       "text": "help vote", "ts": "1700000000.000001"})
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "DALICE")
    assert "/ioc vote #ID confirm|fp|withdraw" in all_text(post.body)


async def test_a_slow_store_never_delays_the_acknowledgement(slack: SlackWorld) -> None:
    dispatcher = slack.service.dispatcher
    original = dispatcher.handle_text

    async def slow(text, actor):
        await asyncio.sleep(1.5)  # far longer than an acknowledgement may take
        return await original(text, actor)

    dispatcher.handle_text = slow  # type: ignore[method-assign]
    try:
        status, _, seconds = await slack.command("bob", "lookup 1.2.3.4", key="slow")
        assert status == 200 and seconds < 0.5
        (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "slow", timeout=10)
        assert reply["response_type"] == "ephemeral"
    finally:
        dispatcher.handle_text = original  # type: ignore[method-assign]


async def test_the_command_text_keeps_mentions_for_the_grammar(slack: SlackWorld) -> None:
    await slack.command("admin", "admin member role <@UBOB|bob> moderator", channel="DADMIN", key="role")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "role")
    assert "bob" in all_text(reply.body) and "is now moderator" in all_text(reply.body)
    assert json.dumps(reply.body).count("<@") == 0  # and the answer mentions nobody


async def test_a_command_about_a_payload_file_is_not_lost(slack: SlackWorld) -> None:
    """bolt alone would read a form with "payload" in it as an interaction, and answer 404."""
    status, _, _ = await slack.command("alice", "submit hxxp://drop[.]example/payload.bin tlp:green payload",
                                       channel="DALICE", key="payload")
    assert status == 200
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "payload")
    assert "`http://drop.example/payload.bin`" in all_text(reply.body)


async def test_a_channel_the_bot_is_not_in_gets_the_answer_through_response_url(slack: SlackWorld) -> None:
    await submit(slack, "alice", "203.0.113[.]7 tlp:green")
    await slack.command("bob", "vote #1 confirm", channel="CNOTINHERE", key="notin")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "notin")
    assert reply["response_type"] == "in_channel" and "Vote on #1 recorded" in all_text(reply.body)
    assert [c.status for c in slack.mock.of("chat.postMessage", ok_only=False)
            if c.get("channel") == "CNOTINHERE"] == [400]  # tried, refused: not_in_channel


async def test_a_forged_button_is_answered_privately(slack: SlackWorld) -> None:
    await slack.click("bob", "ioc:nuke:1", channel="CGENERAL", key="forged")
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == "forged")
    assert reply["response_type"] == "ephemeral" and "is not one of this bot's buttons" in all_text(reply.body)
