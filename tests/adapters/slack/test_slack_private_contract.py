"""Contract: a reply the core marks private is never posted where others can read it, on any entry point of the
Slack adapter (issue 10). Every listener the adapter registers with bolt is listed in ENTRY_POINTS and walked
below, from a shared channel where it can be, with commands whose answers the core keeps private (errors,
`whoami`, `stats`, an export, an import report); the test introspects the bolt app and fails when a listener is
registered that it does not walk. "Public" is read off the Slack mock's record: a `chat.postMessage` or
`chat.update` outside a direct message, a response_url answer `in_channel` or replacing the original, a file
shared outside a DM. Each step also checks its private answer came (ephemeral, a DM, a modal or its errors,
App Home), so it cannot pass by answering nothing. Run twice: answered in time, and with a store slower than
the acknowledgement budget (modal answers then follow out of band)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.slack.sink import CARD_EVENT
from tests.adapters.slack.fake_slack import Call, MockSlack
from tests.adapters.slack.slack_world import TEAM, TOKEN, SlackWorld

ENTRY_POINTS = {  # the listener's function -> the steps below that walk it
    "on_command": {"command whoami", "command stats", "command help", "command import", "command lookup",
                   "command submit", "command export", "command in a channel without the bot"},
    "on_action": {"button vote", "button reject", "button forged"},
    "on_reason": {"reason modal"},
    "on_share_shortcut": {"global shortcut"},
    "on_message_shortcut": {"message shortcut"},
    "on_submit": {"submission modal", "submission modal with a form error"},
    "on_reaction_added": {"reaction added"},
    "on_reaction_removed": {"reaction removed"},
    "on_message": {"direct message", "passive"},
    "on_home_opened": {"app home"},
    "on_file_shared": {"file in a DM", "file in a channel"},
    "_ignore": {"app mention"},
    "on_uninstalled": {"app uninstalled"},
    "on_channel_shared": {"channel shared"},
    "on_channel_unshared": {"channel unshared"},
}
PRIVATE_METHODS = {"chat.postEphemeral", "views.open", "views.publish", "views.update", "views.push"}


def public_posts(mock: MockSlack, mark: int) -> list[str]:
    out = []
    for call in mock.calls[mark:]:
        channel = str(call.get("channel") or call.get("channel_id") or "")
        if call.method in {"chat.postMessage", "chat.update"} and not channel.startswith("D"):
            out.append(f"{call.method} in {channel}: {json.dumps(call.body)[:200]}")
        elif call.method == "response_url" and (call.get("response_type") == "in_channel"
                                                or call.get("replace_original") is True):
            out.append(f"response_url in the channel: {json.dumps(call.body)[:200]}")
        elif call.method == "files.completeUploadExternal" and not channel.startswith("D"):
            out.append(f"a file shared in {channel}")
    return out


def private_answer(call: Call) -> bool:
    if call.method in PRIVATE_METHODS:
        return True
    if call.method == "response_url":
        return call.get("response_type") == "ephemeral"
    return call.method == "chat.postMessage" and str(call.get("channel", "")).startswith("D")


@pytest.mark.parametrize("timing", ["answered in time", "slow store"])
async def test_no_private_reply_reaches_a_channel_on_any_listener(slack: SlackWorld, timing: str) -> None:
    await walk_every_listener(slack, timing)


async def test_no_private_reply_reaches_a_channel_in_oauth_mode(slack_oauth: SlackWorld) -> None:
    """The same walk when the workspace installed the app through OAuth: every answer goes out with its token."""
    await walk_every_listener(slack_oauth, "answered in time")
    mock = slack_oauth.mock
    tokens = {c.token for c in mock.api_calls() if c.method not in {"response_url", "oauth.v2.access", "upload"}}
    assert tokens == mock.tokens_of(TEAM) and TOKEN not in tokens, tokens


async def walk_every_listener(slack: SlackWorld, timing: str) -> None:
    bot = slack.service.bot
    assert bot is not None
    if timing == "slow store":
        bot.ack_budget = 0.0  # modals are acknowledged before their command's answer, which then follows
    listeners = {listener.ack_function.__name__ for listener in bot.app._async_listeners}
    assert listeners == set(ENTRY_POINTS), "a listener is not walked by this test (or gone)"
    mock = slack.mock
    walked: set[str] = set()

    async def step(name: str, act: Callable[[], Awaitable[tuple[int, str, float]]], *,
                   answered: bool = True, public: list[str] | None = None) -> tuple[int, str]:
        await slack.settle()
        mark = mock.mark()
        status, body, _ = await act()
        assert status == 200, (name, body)
        await slack.settle()
        posted = public_posts(mock, mark)
        assert [p for p in posted if not any(p.startswith(ok) for ok in public or [])] == [], name
        if answered:
            assert any(private_answer(c) for c in mock.calls[mark:]) or "response_action" in body, \
                f"{name}: no private answer"
        walked.add(name)
        return status, body

    # a card of the bot in the shared channel (as the deliverer posts them), for buttons and reactions
    card_ts = "1700000000.000100"
    mock.messages.setdefault("CGENERAL", []).append({
        "type": "message", "ts": card_ts, "user": mock.bot_user_id, "bot_id": mock.bot_id, "text": "#1",
        "blocks": [], "metadata": {"event_type": CARD_EVENT, "event_payload": {"indicator_id": 1}}})

    # -- slash commands in the shared channel
    for verb, user, text in (("whoami", "alice", "whoami"), ("stats", "alice", "stats"), ("help", "alice", "help"),
                             ("import", "alice", "import"), ("lookup", "alice", "lookup 203.0.113.7"),
                             ("submit", "UNOBODY", "submit 203.0.113.7 tlp:green"),
                             ("export", "alice", "export format:txt")):
        await step(f"command {verb}", lambda u=user, t=text: slack.command(u, t, channel="CGENERAL"))
    await step("command in a channel without the bot", lambda: slack.command("alice", "whoami", channel="CNOTIN1"))

    # -- buttons on the card, the reason modal one opens, a forged button
    await step("button vote", lambda: slack.click("UNOBODY", "ioc:vote:1:confirm", channel="CGENERAL", ts=card_ts))
    await step("button reject", lambda: slack.click("alice", "ioc:reject:1", channel="CGENERAL", ts=card_ts))
    reason_view = slack.last_view()
    await step("reason modal", lambda: slack.submit_view("alice", reason_view, {
        "reason": {"reason": {"type": "plain_text_input", "value": "sinkholed"}}}))
    await step("button forged", lambda: slack.click("alice", "ioc:approve:not-a-number", channel="CGENERAL"))

    # -- shortcuts and the submission modal
    await step("global shortcut", lambda: slack.shortcut("UNOBODY", "share_indicator"))
    message = {"type": "message", "ts": "1700000000.000200", "user": "UBOB", "text": "seen 203.0.113[.]9"}
    await step("message shortcut", lambda: slack.shortcut("UNOBODY", "submit_from_message", message=message,
                                                          channel="CGENERAL"))
    submission = slack.last_view()
    assert json.loads(submission["private_metadata"])["channel"] == "CGENERAL"
    for name, tlp in (("submission modal", "GREEN"), ("submission modal with a form error", None)):
        values: dict[str, Any] = {"values": {"values": {"type": "plain_text_input", "value": "203.0.113.9"}}}
        if tlp:
            values["tlp"] = {"tlp": {"type": "static_select", "selected_option": {"value": tlp}}}
        else:
            values["confidence"] = {"confidence": {"type": "number_input", "value": "900"}}
        await step(name, lambda v=values: slack.submit_view("UNOBODY", submission, v))

    # -- reactions on the card
    for kind, name in (("reaction_added", "reaction added"), ("reaction_removed", "reaction removed")):
        event = {"type": kind, "user": "UNOBODY", "reaction": "white_check_mark", "item_user": mock.bot_user_id,
                 "item": {"type": "message", "channel": "CGENERAL", "ts": card_ts}, "event_ts": str(time.time())}
        await step(name, lambda e=event: slack.event(e), answered=kind == "reaction_added")

    # -- messages: a DM to the bot, passive mode in a channel
    await step("direct message", lambda: slack.event({"type": "message", "channel": "DALICE", "channel_type": "im",
                                                      "user": "UALICE", "text": "whoami", "ts": "1700000001.1"}))
    # passive mode's answer is built for the channel (the core marks it public): in the thread, and only that
    await step("passive", lambda: slack.event({"type": "message", "channel": "CPASSIVE", "channel_type": "channel",
                                               "user": "UNOBODY", "text": "is 203.0.113[.]7 bad?",
                                               "ts": "1700000001.2"}), answered=False,
               public=["chat.postMessage in CPASSIVE"])
    assert mock.posts("CPASSIVE")[-1]["thread_ts"] == "1700000001.2"

    # -- App Home, files (an import report), an event the bot ignores
    await step("app home", lambda: slack.event({"type": "app_home_opened", "user": "UALICE", "tab": "home",
                                                "channel": "DALICE"}))
    for channel, name in (("DALICE", "file in a DM"), ("CGENERAL", "file in a channel")):
        file_id = mock.add_file(f"iocs-{channel}.txt", b"nothing to see here\n", user="UALICE")
        await step(name, lambda f=file_id, c=channel: slack.event({
            "type": "file_shared", "file_id": f, "user_id": "UALICE", "channel_id": c, "file": {"id": f},
            "event_ts": str(time.time())}), answered=channel.startswith("D"))
    await step("app mention", lambda: slack.event({"type": "app_mention", "user": "UALICE", "channel": "CGENERAL",
                                                   "text": f"<@{mock.bot_user_id}> hello", "ts": "1700000001.3"}),
               answered=False)
    # Slack Connect: a channel shared with another organization's workspace: its ceiling is lowered, which the bot
    # says in the channel in a line of its own (no one's text); unshared again: nothing is said
    await step("channel shared", lambda: slack.event({"type": "channel_shared", "channel": "CGENERAL",
                                                      "connected_team_id": "T0OTHER", "event_ts": str(time.time())}),
               answered=False, public=["chat.postMessage in CGENERAL"])
    assert "lowered from TLP:GREEN to TLP:CLEAR" in mock.posts("CGENERAL")[-1]["text"]
    await step("channel unshared", lambda: slack.event({
        "type": "channel_unshared", "channel": "CGENERAL", "previously_connected_team_id": "T0OTHER",
        "is_ext_shared": False, "event_ts": str(time.time())}), answered=False)
    # the last step: an uninstall says nothing to anyone (in single-token mode it is only logged)
    await step("app uninstalled", lambda: slack.event({"type": "app_uninstalled", "event_ts": str(time.time())}),
               answered=False)

    assert set().union(*ENTRY_POINTS.values()) == walked
    report = [c for c in mock.of("chat.postMessage") if c["channel"] == "DALICE" and "Import of" in c["text"]]
    assert report, "the import report of the DM'd file"
