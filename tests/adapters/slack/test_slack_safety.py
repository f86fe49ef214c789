"""Safety at the Slack edge: signatures and timestamps, inert user text, rate limits; and how the service is built
(HTTP mode, Socket Mode, `coalition-bot run`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import time
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from adapters.console.demo import seed
from adapters.runtime import Runtime, create_services
from adapters.slack.service import SlackService
from bot.dispatcher import Dispatcher
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, Signer, all_text
from tests.adapters.slack.slack_world import SECRET, TEAM, TOKEN, SlackWorld, link_slack_identities, slack_settings

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("how", ["bad signature", "old timestamp", "no signature", "other body"])
async def test_unsigned_or_stale_requests_get_401_and_cause_no_call(slack: SlackWorld, how: str) -> None:
    await slack.settle()
    before = len(slack.mock.calls)
    fields = slack.command_fields("mod", "approve #1")
    body = urllib.parse.urlencode(fields)
    if how == "bad signature":
        status, _, _ = await slack.post(body, "application/x-www-form-urlencoded", sign=False,
                                        signature="v0=" + "0" * 64)
    elif how == "old timestamp":  # correctly signed, six minutes ago: a replay
        status, _, _ = await slack.post(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 360)
    elif how == "no signature":
        status, _, _ = await slack.post(body, "application/x-www-form-urlencoded", sign=False)
    else:  # signed for one body, sent with another
        headers = Signer(SECRET).headers(urllib.parse.urlencode({**fields, "text": "whoami"}))
        status, _, _ = await slack.post(body, "application/x-www-form-urlencoded", sign=False, headers=headers)
    assert status == 401
    event = json.dumps({"type": "event_callback", "team_id": TEAM, "event_id": "EvBAD",
                        "event": {"type": "app_home_opened", "user": "UMOD", "tab": "home"}})
    status, _, _ = await slack.post(event, "application/json", sign=False, signature="v0=" + "1" * 64)
    assert status == 401
    await slack.settle()  # had anything been let through, its handler would have run by now
    assert slack.mock.calls[before:] == []


async def test_channel_pings_and_mentions_in_a_note_are_inert(slack: SlackWorld) -> None:
    note = "urgent <!channel> <!here> <@U123> @here @channel <https://phish.example|click me> & more"
    await slack.command("alice", f"submit 203.0.113[.]7 tlp:green {note}", channel="COPEN")
    (post,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN")
    (mod,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD")
    for payload in (post.body, mod.body):
        everything = json.dumps(payload, ensure_ascii=False)
        for active in ("<!channel>", "<!here>", "<@U123>", "<https://", "@here", "@channel"):
            assert active not in everything, active
        text = all_text(payload)
        assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt;" in text
        assert "@\u2060here @\u2060channel" in text and "&amp; more" in text


async def test_the_events_url_answers_slacks_challenge(slack: SlackWorld) -> None:
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    status, text, _ = await slack.post(body, "application/json")
    assert status == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in text
    status, _, _ = await slack.post(body, "application/json", sign=False)
    assert status == 401


def test_mrkdwn_escaping_and_slack_text() -> None:
    from adapters.slack.mrkdwn import code, esc, from_slack

    assert esc("<!everyone> a&b @Everyone") == "&lt;!everyone&gt; a&amp;b @\u2060Everyone"
    assert esc("evil\u202etxt.exe\x1b[31m") == "evil&lt;U+202E&gt;txt.exe&lt;U+001B&gt;[31m"
    assert code("http://x.example/`whoami`<b>") == "`http://x.example/ˋwhoamiˋ&lt;b&gt;`"
    assert code("a" * 3000).endswith("…`") and len(code("a" * 3000)) < 2600
    assert from_slack("submit <http://evil.example|evil.example> <http://evil.example/x> "
                      "<mailto:a@b.example|a@b.example> &lt;3 &amp; <@U1|bob> <#C1|general>") == \
        "submit evil.example http://evil.example/x a@b.example <3 & <@U1|bob> <#C1|general>"


async def test_a_rate_limited_post_is_retried_not_dropped(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]7 tlp:green", channel="DALICE", key="s")
    await slack.mock.wait_for("response_url")
    await slack.settle()
    slack.mock.fail("chat.postMessage", times=2, retry_after=0)
    await slack.command("bob", "vote #1 confirm", channel="COPEN")
    (posted,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "COPEN", timeout=15)
    attempts = [c.status for c in slack.mock.of("chat.postMessage", ok_only=False) if c.get("channel") == "COPEN"]
    assert attempts == [429, 429, 200]
    assert "Vote on #1 recorded" in all_text(posted.body)


async def test_a_rate_limited_update_is_retried_by_the_client(slack: SlackWorld) -> None:
    await slack.command("alice", "submit 203.0.113[.]7 tlp:green", channel="COPEN")
    await slack.mock.wait_for("chat.postMessage", 2)
    await slack.settle()
    slack.mock.fail("chat.update", times=1, retry_after=0)
    await slack.command("bob", "vote #1 fp", channel="DBOB")
    await slack.mock.wait_for("chat.update", 2, where=lambda u: "1 false positive" in all_text(u.body), timeout=15)
    assert 429 in [c.status for c in slack.mock.of("chat.update", ok_only=False)]


async def test_the_web_api_client_is_built_from_the_settings(slack: SlackWorld) -> None:
    client = slack.service.client
    assert client is not None and client.base_url == slack.mock.api_url and client.token == TOKEN
    assert any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers)
    assert slack.service.bot is not None and slack.service.bot.app.client is client
    # the app checked its token at start-up, then bolt once more at the first request it authorized
    assert slack.mock.of("auth.test")


async def test_socket_mode_handler_is_built_with_the_app_token(sqlite_store: Store, mock_slack: MockSlack) -> None:
    settings = slack_settings(mock_slack, app_token="xapp-1-A0COAL-123-abc")
    settings.slack.mode = "socket"
    service = SlackService(Runtime(settings, sqlite_store, Dispatcher(sqlite_store.unit_of_work)))
    try:
        handler = service.socket_handler()
        assert handler.app_token == "xapp-1-A0COAL-123-abc"
        assert handler.app is service.bot.app  # type: ignore[union-attr]
        assert handler.client.web_client.base_url == mock_slack.api_url
    finally:
        if service.session is not None:
            await service.session.close()


async def test_coalition_bot_run_creates_the_slack_service_when_enabled(sqlite_store: Store,
                                                                        mock_slack: MockSlack) -> None:
    runtime = Runtime(slack_settings(mock_slack), sqlite_store, Dispatcher(sqlite_store.unit_of_work))
    (service,) = [s for s in create_services(runtime) if s.name == "slack"]
    assert isinstance(service, SlackService)
    assert slack_settings(mock_slack).missing() == []
    assert [m for m in slack_settings(mock_slack, signing_secret=None).missing()] == ["slack.signing_secret"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_coalition_bot_run_serves_slack_over_http(sqlite_url: str, mock_slack: MockSlack,
                                                        tmp_path: Path) -> None:
    """The real command line: `coalition-bot run` with Slack's settings in the environment."""
    from storage.uow import create_store

    store = create_store(sqlite_url)
    try:
        await seed(store, Dispatcher(store.unit_of_work), samples=False)
        await link_slack_identities(store)
    finally:
        await store.close()
    port = free_port()
    env = {**os.environ, "COALITION_DATABASE_URL": sqlite_url, "COALITION_SLACK_ENABLED": "true",
           "COALITION_SLACK_MODE": "http", "COALITION_SLACK_BOT_TOKEN": TOKEN,
           "COALITION_SLACK_SIGNING_SECRET": SECRET, "COALITION_SLACK_API_URL": mock_slack.api_url,
           "COALITION_SLACK_HTTP_HOST": "127.0.0.1", "COALITION_SLACK_HTTP_PORT": str(port),
           "COALITION_WARNINGLISTS_ENABLED": "false", "COALITION_OPS_PORT": str(free_port()),
           "COALITION_CONFIG": str(tmp_path / "coalition.toml")}
    (tmp_path / "coalition.toml").write_text("")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from adapters.cli import main; main()", "run", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        body = urllib.parse.urlencode({"team_id": TEAM, "channel_id": "DALICE", "user_id": "UALICE",
                                       "user_name": "alice", "command": "/ioc", "text": "whoami",
                                       "response_url": mock_slack.response_url("run")})
        async with aiohttp.ClientSession() as http:
            for _ in range(200):  # up to 20 s to start
                try:
                    async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(), headers={
                            "Content-Type": "application/x-www-form-urlencoded", **Signer(SECRET).headers(body)}) as r:
                        assert r.status == 200
                        break
                except aiohttp.ClientConnectorError:
                    assert process.returncode is None, "coalition-bot run exited"
                    await asyncio.sleep(0.1)
        (reply,) = await mock_slack.wait_for("response_url", timeout=10)
        assert re.search(r"You are alice \(m\d+\), member of Northbank", all_text(reply.body))
    finally:
        if process.returncode is None:
            process.terminate()
        output = (await asyncio.wait_for(process.communicate(), 15))[0].decode()
    assert process.returncode == 0, output
    assert "slack adapter started" in output


def test_the_manifest_declares_what_the_adapter_handles() -> None:
    """slack-manifest.yml (read line by line: no YAML parser is a dependency) matches the adapter's handlers."""
    from adapters.slack.app import MESSAGE_SHORTCUT, SHARE_SHORTCUT

    lines = [line.split("#")[0].rstrip() for line in (ROOT / "slack-manifest.yml").read_text().splitlines()]
    items = {line.strip()[2:] for line in lines if line.strip().startswith("- ")}
    assert "command: /ioc" in items
    assert "should_escape: true" in {line.strip() for line in lines}
    assert {f"callback_id: {SHARE_SHORTCUT}", f"callback_id: {MESSAGE_SHORTCUT}"} <= {line.strip() for line in lines}
    assert {"app_home_opened", "file_shared", "message.channels", "message.groups", "message.im", "reaction_added",
            "reaction_removed"} <= items
    assert {"commands", "chat:write", "chat:write.public", "im:write", "im:history", "channels:history",
            "groups:history", "reactions:read", "files:read", "files:write"} <= items
    assert "is_enabled: true" in {line.strip() for line in lines}  # interactivity
    assert "home_tab_enabled: true" in {line.strip() for line in lines}


DEEP = "[" * 100_000 + "]" * 100_000
MALFORMED = {  # name: (body, content type, timestamp override)
    "payload not JSON": ("payload=%7Bnot-json", "application/x-www-form-urlencoded", None),
    "payload nested 100k deep": ("payload=" + urllib.parse.quote('{"a":' + DEEP + "}"),
                                 "application/x-www-form-urlencoded", None),
    "event nested 100k deep": ('{"type":"event_callback","event":' + DEEP + "}", "application/json", None),
    "event not JSON": ('{"type": "event_callback", ', "application/json", None),
    "event a JSON list": ("[1, 2]", "application/json", None),
    "payload a JSON string": ("payload=%22x%22", "application/x-www-form-urlencoded", None),
    "timestamp not a number": (urllib.parse.urlencode({"command": "/ioc", "text": "whoami"}),
                               "application/x-www-form-urlencoded", "12ab"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_bodies_are_400_when_signed_and_401_unsigned_never_500(
        slack: SlackWorld, case: str, caplog: pytest.LogCaptureFixture) -> None:
    body, content_type, timestamp = MALFORMED[case]
    await slack.settle()
    before = len(slack.mock.calls)
    caplog.set_level("DEBUG")
    status, _, seconds = await slack.post(body, content_type, timestamp=timestamp)  # type: ignore[arg-type]
    assert status == 400, case
    status, _, _ = await slack.post(body, content_type, sign=False)
    assert status == 401
    status, _, _ = await slack.post(body, content_type, sign=False, signature="v0=" + "0" * 64)
    assert status == 401
    assert seconds < 2
    await slack.settle()
    assert slack.mock.calls[before:] == []  # nothing reached a handler
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= 40], "a traceback or an error was logged"


def test_the_signature_is_checked_on_the_raw_bytes_before_any_parsing() -> None:
    from adapters.slack.service import verify

    raw = b"payload=%7Bnot-json"
    good = Signer(SECRET).headers(raw.decode(), timestamp=1_700_000_000)
    ts, sig = good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"]
    assert verify(SECRET, raw, ts, sig, now=1_700_000_100) == 200
    assert verify(SECRET, raw, ts, sig, now=1_700_000_301) == 401  # more than 5 minutes: a replay
    assert verify(SECRET, raw + b" ", ts, sig, now=1_700_000_000) == 401
    assert verify(SECRET, raw, ts, None, now=1_700_000_000) == 401
    assert verify(SECRET, raw, None, sig, now=1_700_000_000) == 401
    assert verify("", raw, ts, sig, now=1_700_000_000) == 401  # no secret configured: nothing is trusted
    odd = Signer(SECRET).headers(raw.decode(), timestamp="１７００000000")  # type: ignore[arg-type]
    assert verify(SECRET, raw, odd["X-Slack-Request-Timestamp"], odd["X-Slack-Signature"]) == 400


NOTE = ("*bold* _it_ ~st~ `code` ```fence``` :smile: <!here> <@U1> <#C1> <http://x.example|y> &<> @everyone\n"
        "> quoted line\n- listed \u200b*zw*\u200b evil\u202etxt.exe \u2066iso\u2069 \u061c \ufeff soft\u00adhyphen")


async def test_a_note_with_every_mrkdwn_construct_is_shown_literally(slack: SlackWorld) -> None:
    from tests.adapters.test_user_text_literal import slack_formatting, slack_shown

    await slack.shortcut("bob", "share_indicator")
    (opened,) = await slack.mock.wait_for("views.open")
    status, body, _ = await slack.submit_view("bob", opened["view"], {
        "values": {"values": {"type": "plain_text_input", "value": "203.0.113.99"}},
        "tlp": {"tlp": {"type": "static_select", "selected_option": {"value": "GREEN"}}},
        "tags": {"tags": {"type": "plain_text_input", "value": "apt_28, x:y"}},
        "note": {"note": {"type": "plain_text_input", "value": NOTE}},
    })
    assert status == 200, body
    (mod_card,) = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD")
    for payload in (json.loads(body)["view"], mod_card.body):
        texts = [t for t in all_text(payload).split("\n") if "Note:" in t]
        assert texts, all_text(payload)
        note = texts[0].split("*Note:* ", 1)[1]
        assert slack_formatting(note) == []  # nothing formatted, linked, mentioned, quoted or hidden
        assert slack_shown(note) == (" ".join(NOTE.split("\n")).replace("\u200b", "<U+200B>")
                                     .replace("\u202e", "<U+202E>").replace("\u2066", "<U+2066>")
                                     .replace("\u2069", "<U+2069>").replace("\u061c", "<U+061C>")
                                     .replace("\ufeff", "<U+FEFF>").replace("\u00ad", "<U+00AD>"))
        assert "\u202e" not in json.dumps(payload, ensure_ascii=False)


SIGNED_MISSHAPEN = [  # correctly signed, valid JSON, but not what Slack sends at a place the adapter reads
    ("form", {"payload": json.dumps({"type": "block_actions", "actions": "x"})}),
    ("form", {"payload": json.dumps({"type": "block_actions", "actions": [None], "user": "x"})}),
    ("form", {"payload": json.dumps({"type": "block_actions", "actions": [{"action_id": 5}], "user": {"id": 3}})}),
    ("form", {"payload": json.dumps({"type": "view_submission", "view": "x", "user": {"id": "U"}})}),
    ("form", {"payload": json.dumps({"type": "view_submission", "user": {"id": "UALICE"}, "team": {"id": TEAM},
                                     "view": {"callback_id": "ioc_submit", "private_metadata": "{bad"}})}),
    ("form", {"payload": json.dumps({"type": "view_submission", "user": {"id": "UALICE"}, "team": {"id": TEAM},
                                     "view": {"callback_id": "ioc_reason", "private_metadata": "[1]"}})}),
    ("form", {"payload": json.dumps({"type": "message_action", "callback_id": "submit_from_message",
                                     "message": "x", "channel": 5, "user": {"id": "UALICE"}})}),
    ("form", {"payload": json.dumps({"type": 5})}),
    ("form", {"command": "/ioc", "text": "whoami", "user_id": "UALICE", "team_id": TEAM, "channel_id": "CGENERAL",
              "response_url": "ftp://x"}),
    ("json", {"type": "event_callback", "event": "x"}),
    ("json", {"type": "event_callback", "team_id": TEAM, "event": {"type": "message", "channel": 5, "text": {}}}),
    ("json", {"type": "event_callback", "team_id": TEAM, "event": {"type": "reaction_added", "item": "x"}}),
    ("json", {"type": "event_callback", "team_id": TEAM,
              "event": {"type": "file_shared", "file_id": ["x"], "user_id": "UALICE", "channel_id": "DALICE"}}),
    ("json", {"type": "event_callback", "event_id": ["x"], "event": {"type": "app_home_opened", "user": "UALICE"}}),
    ("json", {"type": "url_verification", "challenge": {"a": 1}}),
]


async def test_signed_but_misshapen_requests_are_400_and_log_no_error(slack: SlackWorld,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    await slack.settle()
    before = len(slack.mock.calls)
    for kind, body in SIGNED_MISSHAPEN:
        if kind == "form":
            status, _, _ = await slack.form(body)
        else:
            status, _, _ = await slack.post(json.dumps(body), "application/json")
        assert status == 400, body
    await slack.settle()
    assert slack.mock.calls[before:] == []
    assert not [(r.name, r.getMessage()) for r in caplog.records if r.exc_info or r.levelno >= 40]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                               st.sampled_from(["type", "user", "team", "view", "actions", "event", "item",
                                                "private_metadata", "state", "values", "response_url", "x"]),
                               inner, max_size=5), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(json.dumps), json_values.map(lambda v: "payload=" + urllib.parse.quote(
    json.dumps(v))), st.text(), st.binary().map(lambda b: b.decode("latin-1"))), st.booleans())
def test_any_body_parses_to_an_object_or_is_a_bad_request(body: str, as_json: bool) -> None:
    from adapters.slack.service import SHAPE, BadRequest, parse_body, shape_problem

    try:
        parsed = parse_body(body.encode("utf-8", "surrogatepass"),
                            "application/json" if as_json else "application/x-www-form-urlencoded")
    except BadRequest:
        return
    assert isinstance(parsed, dict) and shape_problem(parsed, SHAPE) is None
