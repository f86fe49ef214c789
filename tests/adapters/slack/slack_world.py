"""A Slack workspace around the real adapter, for tests (and for cross-platform tests: import it).

The adapter's bolt app runs in HTTP mode on 127.0.0.1; `SlackWorld` sends it correctly signed requests as Slack
would (slash commands, button presses, view submissions, shortcuts, events) and its Web API client talks to
`fake_slack.MockSlack`, which records every call. `start_slack(store, dispatcher, mock)` builds and starts it on a store
seeded with the demo coalition (adapters/console/demo.py) plus the Slack identities and channels below.

Slack users of the demo coalition (workspace T0COAL): UALICE (alice, Northbank, member), UBOB (bob, Sentinel
Security, member), UCAROL (carol, National Cyber Unit, member), UMOD (mod, Sentinel Security, moderator),
UADMIN (admin, National Cyber Unit, admin); UNOBODY is not a member.
Channels: CGENERAL (ceiling GREEN, lookups ephemeral), COPEN (GREEN, lookups in the channel), CFEED (AMBER,
feed), CMOD (AMBER, moderation), CPASSIVE (GREEN, passive mode on). MockSlack refuses posts in channels
named CNOTIN… (not_in_channel: the bot is not in them, as `conversations.info` says; `mock.scopes` lacks
chat:write.public).
"""

from __future__ import annotations

import html as html_lib
import itertools
import json
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from adapters.config import Settings, SlackSettings
from adapters.runtime import Runtime
from adapters.slack.service import SlackService
from bot.dispatcher import Dispatcher
from bot.domain import Channel, ChannelPurpose, Identity, Platform
from bot.tlp import TLP
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, Signer

TEAM = "T0COAL"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
USERS = {"alice": "UALICE", "bob": "UBOB", "carol": "UCAROL", "mod": "UMOD", "admin": "UADMIN"}
CHANNELS = [  # id, ceiling, purpose, passive, ephemeral lookups
    ("CGENERAL", TLP.GREEN, ChannelPurpose.GENERAL, False, True),
    ("COPEN", TLP.GREEN, ChannelPurpose.GENERAL, False, False),
    ("CFEED", TLP.AMBER, ChannelPurpose.FEED, False, True),
    ("CMOD", TLP.AMBER, ChannelPurpose.MODERATION, False, True),
    ("CPASSIVE", TLP.GREEN, ChannelPurpose.GENERAL, True, True),
]


@dataclass
class SlackWorld:
    """What a test drives: `slack.command("alice", "lookup 1.2.3.4")`, then assert on `slack.mock`'s calls."""

    mock: MockSlack
    service: SlackService
    store: Store
    http: aiohttp.ClientSession
    signer: Signer = field(default_factory=lambda: Signer(SECRET))
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return self.service.url

    async def post(self, body: str, content_type: str, *, sign: bool = True, timestamp: int | None = None,
                   signature: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, str, float]:
        """POST to the bot's endpoint; returns (status, body, seconds until the answer)."""
        sent = {"Content-Type": content_type, **(headers or {})}
        if sign:
            sent.update(self.signer.headers(body, timestamp=timestamp))
        if signature is not None:
            sent["X-Slack-Signature"] = signature
            sent.setdefault("X-Slack-Request-Timestamp", str(int(time.time())))
        started = time.perf_counter()
        async with self.http.post(self.url, data=body.encode(), headers=sent) as response:
            text = await response.text()
            return response.status, text, time.perf_counter() - started

    async def form(self, fields: dict[str, str], **kwargs: Any) -> tuple[int, str, float]:
        return await self.post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded", **kwargs)

    async def interaction(self, payload: dict[str, Any], **kwargs: Any) -> tuple[int, str, float]:
        return await self.form({"payload": json.dumps(payload)}, **kwargs)

    def command_fields(self, user: str, text: str, channel: str = "CGENERAL", key: str | None = None
                       ) -> dict[str, str]:
        user_id = USERS.get(user, user)
        return {"token": "legacy", "team_id": TEAM, "team_domain": "coalition", "channel_id": channel,
                "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
                "user_id": user_id, "user_name": user, "command": "/ioc", "text": text,
                "api_app_id": "A0COAL", "is_enterprise_install": "false",
                "response_url": self.mock.response_url(key or f"cmd{next(self._ids)}"),
                "trigger_id": f"trigger-{next(self._ids)}"}

    async def command(self, user: str, text: str, *, channel: str = "CGENERAL", key: str | None = None,
                      **kwargs: Any) -> tuple[int, str, float]:
        return await self.form(self.command_fields(user, text, channel, key), **kwargs)

    async def click(self, user: str, action_id: str, *, channel: str = "CGENERAL", ts: str | None = None,
                    ephemeral: bool = False, home: bool = False, key: str | None = None) -> tuple[int, str, float]:
        user_id = USERS.get(user, user)
        payload: dict[str, Any] = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "coalition"},
            "user": {"id": user_id, "username": user, "name": user, "team_id": TEAM}, "api_app_id": "A0COAL",
            "trigger_id": f"trigger-{next(self._ids)}",
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": action_id,
                         "action_ts": str(time.time())}],
        }
        if home:
            payload["container"] = {"type": "view", "view_id": "VHOME"}
            payload["view"] = {"id": "VHOME", "type": "home", "blocks": [], "state": {"values": {}}}
        else:
            payload["container"] = {"type": "message", "message_ts": ts or "1.0", "channel_id": channel,
                                    "is_ephemeral": ephemeral}
            payload["channel"] = {"id": channel, "name": channel.lower()}
            payload["message"] = {"ts": ts or "1.0", "type": "message"}
            payload["response_url"] = self.mock.response_url(key or f"act{next(self._ids)}")
        return await self.interaction(payload)

    async def submit_view(self, user: str, view: dict[str, Any], values: dict[str, dict[str, Any]]
                          ) -> tuple[int, str, float]:
        """Submit `view` (as opened by the bot) with `values`: {block_id: {action_id: element state}}."""
        user_id = USERS.get(user, user)
        submitted = {**view, "id": "VMODAL", "state": {"values": values}}
        payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "coalition"},
                   "user": {"id": user_id, "username": user, "name": user, "team_id": TEAM},
                   "api_app_id": "A0COAL", "trigger_id": f"trigger-{next(self._ids)}", "view": submitted}
        return await self.interaction(payload)

    async def shortcut(self, user: str, callback_id: str, *, message: dict[str, Any] | None = None,
                       channel: str = "CGENERAL") -> tuple[int, str, float]:
        user_id = USERS.get(user, user)
        payload: dict[str, Any] = {"type": "shortcut" if message is None else "message_action",
                                   "callback_id": callback_id, "team": {"id": TEAM, "domain": "coalition"},
                                   "user": {"id": user_id, "username": user, "name": user, "team_id": TEAM},
                                   "api_app_id": "A0COAL", "trigger_id": f"trigger-{next(self._ids)}",
                                   "action_ts": str(time.time())}
        if message is not None:
            payload.update(message=message, channel={"id": channel, "name": channel.lower()},
                           message_ts=message.get("ts", "1.0"),
                           response_url=self.mock.response_url(f"sc{next(self._ids)}"))
        return await self.interaction(payload)

    async def event(self, event: dict[str, Any], *, event_id: str | None = None, retry_num: int | None = None,
                    **kwargs: Any) -> tuple[int, str, float]:
        body = {"token": "legacy", "team_id": TEAM, "api_app_id": "A0COAL", "type": "event_callback",
                "event": event, "event_id": event_id or f"Ev{next(self._ids):08d}",
                "event_time": int(time.time()), "authorizations": [
                    {"team_id": TEAM, "user_id": self.mock.bot_user_id, "is_bot": True}]}
        headers = dict(kwargs.pop("headers", {}) or {})
        if retry_num is not None:
            headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"})
        return await self.post(json.dumps(body), "application/json", headers=headers, **kwargs)

    async def settle(self) -> None:
        """Wait until the adapter's handlers are done and the outbox's Slack rows are delivered."""
        await self.service.settle()

    async def close(self) -> None:
        await self.service.stop()
        await self.http.close()

    def last_view(self, method: str = "views.open") -> dict[str, Any]:
        return self.mock.of(method)[-1]["view"]


async def link_slack_identities(store: Store, team: str = TEAM) -> None:
    async with store.unit_of_work() as uow:
        for name, user_id in USERS.items():
            member = (await uow.members.by_name(name))[0]
            await uow.members.link_identity(member.id, Identity(Platform.SLACK, team, user_id))
        for channel_id, ceiling, purpose, passive, ephemeral in CHANNELS:
            await uow.channels.upsert(Channel(Platform.SLACK, team, channel_id, ceiling, purpose, passive, ephemeral))
        await uow.commit()


def slack_settings(mock: MockSlack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"enabled": True, "mode": "http", "bot_token": TOKEN, "signing_secret": SECRET,
                              "api_url": mock.api_url, "http_host": "127.0.0.1", "http_port": 0, **overrides}
    slack = SlackSettings(**values)
    return Settings(slack=slack)


async def start_slack(store: Store, dispatcher: Dispatcher, mock: MockSlack, *, settings: Settings | None = None,
                      link: bool = True, ack_budget: float = 2.0) -> SlackWorld:
    """Start the real Slack adapter (HTTP mode, 127.0.0.1, any free port) on `store`, whose demo coalition
    (adapters/console/demo.py's `seed`) gets the Slack identities and channels above (`link`). The dispatcher
    should deliver to Slack (`delivery_platforms` with Platform.SLACK). Close it with `await world.close()`."""
    if link:
        await link_slack_identities(store)
    service = SlackService(Runtime(settings or slack_settings(mock), store, dispatcher), ack_budget=ack_budget)
    await service.start()
    return SlackWorld(mock, service, store, aiohttp.ClientSession())


async def install_through_oauth(http: aiohttp.ClientSession, base: str, mock: MockSlack, code: str, *,
                                cookie: bool = True, state: str | None = None) -> tuple[int, str]:
    """An admin opens the install page at `base` (the adapter's address), follows "Add to Slack" (Slack answers
    with `code`, see `MockSlack.add_workspace`) and lands on the redirect with the state: (status, page) of the
    redirect. `cookie=False`: another browser; `state`: a state of one's own instead of the one issued."""
    async with http.get(base + "/slack/install") as page:
        assert page.status == 200
        html = await page.text()
        set_cookie = page.headers.get("Set-Cookie", "")
    link = re.search(r'<a href="([^"]+)"><img alt="Add to Slack"', html)
    assert link, html
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(html_lib.unescape(link.group(1))).query)
    assert query["client_id"] == [mock.client_id] and "chat:write" in query["scope"][0]
    headers = {"Cookie": set_cookie.split(";")[0]} if cookie else {}
    params = {"code": code, "state": state or query["state"][0]}
    async with http.get(base + "/slack/oauth_redirect", params=params, headers=headers) as done:
        return done.status, await done.text()


def oauth_settings(mock: MockSlack, token_key: str, **overrides: Any) -> Settings:
    """Settings of OAuth distribution against `mock` (no bot token: each workspace's comes from its install)."""
    values: dict[str, Any] = {
        "enabled": True, "mode": "http", "client_id": mock.client_id, "client_secret": mock.client_secret,
        "signing_secret": SECRET, "token_key": token_key, "api_url": mock.api_url, "http_host": "127.0.0.1",
        "http_port": 0, "authorize_url": mock.base_url + "/oauth/v2/authorize", **overrides}
    return Settings(slack=SlackSettings(**values))
