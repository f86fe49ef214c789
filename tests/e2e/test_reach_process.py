"""Reach (issue 11, "Done means"): ONE `coalition-bot run` process over ONE PostgreSQL store serves two Slack
workspaces, installed through the OAuth flow over HTTP against the running process, and one Discord bot in two
guilds.

The fake Slack (tests/adapters/slack/fake_slack.py) plays Slack's side of the install (its authorize page sends
the installer back with a code, its `oauth.v2.access` answers each workspace's own bot token) and its tokens act
only inside their own team: any call with one team's token about another team's channel or user is refused and
counted in `cross_team`, which must stay empty.

The walk: (1) workspaces TA and TB install the app (install page, Slack's authorize redirect, the process's
redirect, `oauth.v2.access`); (4, set up first) a Slack Connect channel shared by TA and TB is registered once as a
feed; (2) alice submits in TA, both moderation channels get the card, TB's moderator approves with its button, the
card reaches TA's and TB's feeds, the shared channel and both guilds' feeds exactly once, alice is told by DM in TA,
carol's confirm vote in TA edits every copy, each Slack edit with its own team's token; (3) TB uninstalls: a new
approval reaches TA, the shared channel and both guilds and nothing of TB, and the uninstall is audited; (5) no
call ever crossed teams. The process's log holds no secret and no error.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import os
import re
import socket
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot.domain import Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.uow import create_store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.adapters.slack.fake_slack import Call, MockSlack, Signer, action_ids, all_text
from tests.e2e.processes import stop_gracefully

EXE = str(Path(sys.executable).with_name("coalition-bot"))
SIGNING_SECRET = "reach-signing-secret-0123456789ab"
TOKEN_KEY = Fernet.generate_key().decode()
START_SECONDS = 60  # the process's start-up (imports, migrations, the Discord gateway) on a busy machine
WAIT = 15.0  # one delivery or answer


@dataclass(frozen=True)
class Team:
    """A member organization's Slack workspace as the fake knows it."""

    id: str
    users: dict[str, str]  # name -> user id
    general: str
    feed: str
    moderation: str

    @property
    def dms(self) -> list[str]:  # the fake's conversations.open answers "D" + the user id without its "U"
        return ["D" + uid.removeprefix("U") for uid in self.users.values()]

    @property
    def channels(self) -> list[str]:
        return [self.general, self.feed, self.moderation, *self.dms]


TA = Team("T0REACHA", {"alice": "UALICE", "carol": "UCAROL", "ann": "UANN"}, "CAGENERAL", "CAFEED", "CAMOD")
TB = Team("T0REACHB", {"mod": "UMOD"}, "CBGENERAL", "CBFEED", "CBMOD")
TEAMS = {t.id: t for t in (TA, TB)}
PEOPLE = {  # name -> (organization, role, team)
    "alice": ("Northbank", Role.MEMBER, TA), "carol": ("Sentinel Security", Role.MODERATOR, TA),
    "ann": ("Northbank", Role.ADMIN, TA), "mod": ("National CERT", Role.MODERATOR, TB)}
SHARED = "CSHARED"  # a Slack Connect channel of TA's, shared with TB
ONE, ONE_FEED = 740000000000000001, 740000000000000011
TWO, TWO_FEED = 740000000000000002, 740000000000000021


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _prepare(url: str) -> None:
    """The coalition in the (migrated, empty) store: three organizations, their people's Slack identities in their
    own workspace, each workspace's general, feed and moderation channels, each guild's feed."""
    store = create_store(url)
    try:
        async with store.unit_of_work() as uow:
            orgs: dict[str, Any] = {}
            for name, (org, role, team) in PEOPLE.items():
                if org not in orgs:
                    orgs[org] = await uow.organizations.add(org, "finance", 70)
                member = await uow.members.add(orgs[org].id, name, role)
                await uow.members.link_identity(member.id, Identity(Platform.SLACK, team.id, team.users[name]))
            for team in TEAMS.values():
                for channel, ceiling, purpose in ((team.general, TLP.GREEN, ChannelPurpose.GENERAL),
                                                  (team.feed, TLP.AMBER, ChannelPurpose.FEED),
                                                  (team.moderation, TLP.AMBER, ChannelPurpose.MODERATION)):
                    await uow.channels.upsert(Channel(Platform.SLACK, team.id, channel, ceiling, purpose))
            for guild, feed in ((ONE, ONE_FEED), (TWO, TWO_FEED)):
                await uow.channels.upsert(Channel(Platform.DISCORD, str(guild), str(feed), TLP.AMBER,
                                                  ChannelPurpose.FEED))
            await uow.commit()
    finally:
        await store.close()


@dataclass
class Reach:
    """The running process and the fakes around it."""

    slack: MockSlack
    discord: FakeDiscord
    http: aiohttp.ClientSession
    base: str  # the process's Slack HTTP endpoint, http://127.0.0.1:<port>
    database: str
    log: Path
    signer: Signer = field(default_factory=lambda: Signer(SIGNING_SECRET))
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    # ------------------------------------------------------------ the install, as an admin's browser does it

    async def install(self, team: Team) -> str:
        """An admin of `team` opens the install page, follows "Add to Slack" to Slack's authorize page, approves,
        and is sent back to the process's redirect with a code and the state: the page they land on."""
        async with self.http.get(f"{self.base}/slack/install", params={"team": team.id}) as page:
            assert page.status == 200, await page.text()
            body = await page.text()
            cookie = page.headers["Set-Cookie"].split(";")[0]  # the state, for this browser only
        found = re.search(r'<a href="([^"]+)"><img alt="Add to Slack"', body)
        assert found, body
        authorize = html.unescape(found.group(1))
        assert authorize.startswith(f"{self.slack.base_url}/oauth/v2/authorize?"), authorize
        async with self.http.get(authorize, allow_redirects=False) as approved:
            assert approved.status == 302, await approved.text()
            back = approved.headers["Location"]
        assert back.startswith(f"{self.base}/slack/oauth_redirect?"), back
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
        assert set(query) == {"code", "state"} and query["state"][0] in authorize
        async with self.http.get(back, headers={"Cookie": cookie}, allow_redirects=False) as landed:
            page_text = await landed.text()
            assert landed.status == 200, page_text
        return page_text

    async def installed_teams(self) -> dict[str, str]:
        """team id -> the bot token column as stored."""
        async with _connection(self.database) as conn:
            rows = (await conn.execute(text("SELECT team_id, bot_token FROM slack_bots"))).all()
        return {r[0]: r[1] for r in rows}

    # ------------------------------------------------------------ signed requests into the process

    async def post(self, body: str, content_type: str) -> tuple[int, str]:
        headers = {"Content-Type": content_type, **self.signer.headers(body)}
        async with self.http.post(f"{self.base}/slack/events", data=body.encode(), headers=headers) as response:
            return response.status, await response.text()

    async def command(self, name: str, line: str, *, channel: str | None = None) -> str:
        """`name` types `/ioc line` in `channel` (their workspace's general channel): the answer's text (the ack's
        body, the response_url message or a message the bot posted in that channel, whichever comes)."""
        _, _, team = PEOPLE[name]
        channel = channel or team.general
        key = f"cmd{next(self._ids)}"
        mark = self.slack.mark()
        fields = {"token": "legacy", "team_id": team.id, "team_domain": team.id.lower(), "channel_id": channel,
                  "channel_name": channel.lower(), "user_id": team.users[name], "user_name": name, "command": "/ioc",
                  "text": line, "api_app_id": "A0COAL", "is_enterprise_install": "false",
                  "response_url": self.slack.response_url(key), "trigger_id": f"trigger-{key}"}
        status, ack = await self.post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")
        assert status == 200, ack
        if ack.strip():
            return ack
        answer = await self.wait_call(lambda c: (c.method == "response_url" and c.get("url_key") == key)
                                      or (c.method == "chat.postMessage" and c.get("channel") == channel),
                                      since=mark, what=f"the answer to /ioc {line}")
        assert answer.method == "response_url" or answer.token in self.slack.tokens_of(team.id), \
            "a request answered with another workspace's token"
        return all_text(answer.body)

    async def press(self, name: str, action_id: str, channel: str, ts: str) -> str:
        """`name` presses a button of the bot's message `ts` in `channel` (a signed block action): the word the
        presser gets back."""
        _, _, team = PEOPLE[name]
        key = f"act{next(self._ids)}"
        mark = self.slack.mark()
        user = team.users[name]
        payload = {
            "type": "block_actions", "team": {"id": team.id, "domain": team.id.lower()},
            "user": {"id": user, "username": name, "name": name, "team_id": team.id}, "api_app_id": "A0COAL",
            "trigger_id": f"trigger-{key}", "response_url": self.slack.response_url(key),
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": channel.lower()}, "message": {"ts": ts, "type": "message"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": action_id,
                         "action_ts": str(time.time())}]}
        status, ack = await self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}),
                                      "application/x-www-form-urlencoded")
        assert status == 200, ack
        answer = await self.wait_call(lambda c: c.method == "response_url" and c.get("url_key") == key,
                                      since=mark, what=f"the answer to the button {action_id}")
        return all_text(answer.body)

    async def event(self, team: Team, event: dict[str, Any]) -> None:
        body = {"token": "legacy", "team_id": team.id, "api_app_id": "A0COAL", "type": "event_callback",
                "event": event, "event_id": f"Ev{next(self._ids):08d}", "event_time": int(time.time()),
                "authorizations": [{"team_id": team.id, "user_id": self.slack.bot_user_id, "is_bot": True}]}
        status, answer = await self.post(json.dumps(body), "application/json")
        assert status == 200, answer

    # ------------------------------------------------------------ waiting on what the fakes record

    async def wait_call(self, match: Callable[[Call], bool], *, since: int = 0, what: str) -> Call:
        """The first call (any status) after `since` that `match`es, polling the fake's record until WAIT."""
        deadline = time.monotonic() + WAIT
        while True:
            found = next((c for c in self.slack.calls[since:] if match(c)), None)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                seen = [(c.method, c.status, c.get("channel")) for c in self.slack.calls[since:]]
                raise AssertionError(f"timed out waiting for {what}; Slack calls since: {seen}")
            await asyncio.sleep(0.05)

    async def card_in(self, team: Team, channel: str, indicator_id: int, *, since: int = 0) -> Call:
        """The card of `indicator_id` posted in `channel`, with `team`'s own token."""
        posted = await self.slack.wait_for(
            "chat.postMessage", since=since, timeout=WAIT,
            where=lambda c: c.get("channel") == channel and _indicator_of(c) == indicator_id)
        assert posted[0].token in self.slack.tokens_of(team.id), (channel, posted[0].token)
        return posted[0]

    def cards(self, channel: str, indicator_id: int) -> int:
        """How many cards of `indicator_id` the fake holds in a Slack channel."""
        return sum(1 for m in self.slack.messages.get(channel, []) if _indicator_of(m) == indicator_id)

    def discord_cards(self, channel: int, indicator_id: int) -> int:
        return sum(1 for c in self.discord.calls_to("POST", rf"/channels/{channel}/messages")
                   if (c.json or {}).get("embeds") and c.json["embeds"][0]["title"].startswith(f"#{indicator_id} "))

    async def settled(self, *, platforms: tuple[str, ...] = ("slack", "discord")) -> None:
        """No outbox row of `platforms` left to deliver, none parked (the process delivers; the store says when)."""
        deadline = time.monotonic() + WAIT
        while True:
            async with _connection(self.database) as conn:
                pending = (await conn.execute(text(
                    "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND parked_at IS NULL "
                    "AND platform = ANY(:platforms)"), {"platforms": list(platforms)})).scalar_one()
                parked = (await conn.execute(text(
                    "SELECT platform, last_error FROM outbox WHERE parked_at IS NOT NULL"))).all()
            assert not parked, [tuple(p) for p in parked]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{pending} outbox rows of {platforms} still to deliver")
            await asyncio.sleep(0.1)


def _indicator_of(call_or_message: Any) -> int | None:
    """The indicator id a card carries in its message metadata (SlackSink.post_card)."""
    metadata = call_or_message.get("metadata") or {}
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    value = (metadata.get("event_payload") or {}).get("indicator_id")
    return int(value) if value is not None else None


class _connection:
    """A short-lived connection to the process's store (its own engine, closed after)."""

    def __init__(self, url: str) -> None:
        self.store = create_store(url)

    async def __aenter__(self) -> Any:
        self._conn = self.store.engine.connect()
        return await self._conn.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await self._conn.__aexit__(*exc)
        await self.store.close()


def _indicator_id(answer: str) -> int:
    found = re.search(r"#(\d+)", answer)
    assert found, answer
    return int(found.group(1))


@pytest.fixture
async def reach(postgres_url: str, tmp_path: Path) -> AsyncIterator[Reach]:
    await _prepare(postgres_url)
    slack = await MockSlack(token="xoxb-no-single-token-in-oauth-mode").start()
    discord = FakeDiscord()
    await discord.start()
    for guild, feed, name in ((ONE, ONE_FEED, "One"), (TWO, TWO_FEED, "Two")):
        discord.add_guild(guild, channels=[feed], name=name)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    config = tmp_path / "coalition.toml"
    config.write_text(
        "[slack]\nenabled = true\nmode = \"http\"\n"
        f"client_id = \"{slack.client_id}\"\npublic_url = \"{base}\"\napi_url = \"{slack.api_url}\"\n"
        f"authorize_url = \"{slack.base_url}/oauth/v2/authorize\"\nhttp_host = \"127.0.0.1\"\nhttp_port = {port}\n"
        "[discord]\nenabled = true\n"
        f"application_id = {APPLICATION_ID}\napi_url = \"{discord.api_url}\"\n"
        f"gateway_url = \"{discord.gateway_url}\"\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env.update({  # the secrets, as an operator keeps them: in the environment
        "COALITION_DATABASE_URL": postgres_url, "COALITION_SLACK_CLIENT_SECRET": slack.client_secret,
        "COALITION_SLACK_SIGNING_SECRET": SIGNING_SECRET, "COALITION_SLACK_TOKEN_KEY": TOKEN_KEY,
        "COALITION_DISCORD_TOKEN": "fake", "COALITION_WARNINGLISTS_ENABLED": "false",
        "COALITION_OPS_ENABLED": "false", "COALITION_DELIVERY_POLL_SECONDS": "0.2",
        "COALITION_LOGGING_LEVEL": "INFO"})
    log = tmp_path / "coalition-bot.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(EXE, "run", "--config", str(config), env=env,
                                                       stdout=sink, stderr=sink)
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())  # each request's cookie is set by hand
    world = Reach(slack, discord, http, base, postgres_url, log)
    try:
        try:
            await discord.wait_ready(timeout=START_SECONDS, count=1)
            await _http_ready(world, process)
        except (TimeoutError, AssertionError) as e:
            raise AssertionError(f"the process did not start:\n{world.log_tail()}") from e
        yield world
        assert process.returncode is None, f"the bot process died during the test:\n{world.log_tail()}"
    finally:
        await http.close()
        code = await stop_gracefully(process)
        await discord.stop()
        await slack.stop()
    assert code == 0, f"not a graceful stop ({code}):\n{world.log_tail()}"
    logged = log.read_text(errors="replace")
    secrets = [s for s in (slack.client_secret, SIGNING_SECRET, TOKEN_KEY, *slack.team_tokens) if s in logged]
    assert not secrets, "a secret is in the process's log"
    assert not [line for line in logged.splitlines() if " ERROR " in line or "Traceback" in line], logged[-6000:]


async def _http_ready(world: Reach, process: asyncio.subprocess.Process) -> None:
    """Until the Slack endpoint answers (an unsigned POST: 401, nothing parsed, nothing stored)."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        assert process.returncode is None, "the process exited"
        try:
            async with world.http.post(f"{world.base}/slack/events", data=b"{}") as response:
                if response.status == 401:
                    return
        except aiohttp.ClientConnectionError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the Slack endpoint did not answer")
        await asyncio.sleep(0.1)


def _add_workspaces(slack: MockSlack) -> None:
    for team in TEAMS.values():
        slack.add_workspace(team.id, channels=team.channels, users=team.users.values())


async def _install_both(world: Reach) -> None:
    """Step 1: both workspaces installed through the OAuth flow, their tokens stored encrypted."""
    _add_workspaces(world.slack)
    for team in TEAMS.values():
        assert "Thank you!" in await world.install(team)
    assert [c.status for c in world.slack.of("oauth.v2.access", ok_only=False)] == [200, 200]
    assert [c.get("team") for c in world.slack.of("oauth.authorize")] == [TA.id, TB.id]
    stored = await world.installed_teams()
    assert set(stored) == {TA.id, TB.id}
    for team_id, value in stored.items():
        assert value.startswith("fernet:") and not [t for t in world.slack.tokens_of(team_id) if t in value]


def _ts_of(slack: MockSlack, channel: str, indicator_id: int) -> str:
    """The ts of the card of `indicator_id` in `channel` (exactly one there)."""
    (ts,) = [m["ts"] for m in slack.messages.get(channel, []) if _indicator_of(m) == indicator_id]
    return ts


async def _audit(world: Reach, action: str) -> list[dict[str, Any]]:
    async with _connection(world.database) as conn:
        rows = (await conn.execute(text("SELECT detail FROM audit_log WHERE action = :action"),
                                   {"action": action})).all()
    return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


async def test_one_process_serves_two_workspaces_and_two_guilds(reach: Reach) -> None:
    """Issue 11's "Done means", walked in one process: install, submit in one workspace, approve in the other,
    cards everywhere exactly once, a vote edits every copy, the submitter told; an uninstall stops that workspace
    cleanly; a Slack Connect channel gets one card; no call ever crosses teams."""
    slack, discord = reach.slack, reach.discord
    try:
        # 1. both workspaces installed through the OAuth flow against the running process
        await _install_both(reach)

        # 4, set up here and checked at every approval below: a Slack Connect channel shared by TA and TB,
        # registered once (by TA's admin; TB's side finds the same registration)
        slack.share_channel(SHARED, TA.id, TB.id)
        reply = await reach.command("ann", "admin channel set purpose:feed ceiling:green", channel=SHARED)
        assert "Channel updated: ceiling TLP:GREEN, purpose feed" in reply and "(Slack Connect): yes" in reply, reply
        shown = await reach.command("mod", "admin channel show", channel=SHARED)
        assert "This channel: ceiling TLP:GREEN, purpose feed" in shown, shown
        async with _connection(reach.database) as conn:
            homes = (await conn.execute(text("SELECT workspace_id FROM channels WHERE channel_id = :c"),
                                        {"c": SHARED})).scalars().all()
        assert homes == [TA.id]

        # 2. alice submits in TA: the new-submission card reaches both workspaces' moderation channels
        mark, dmark = slack.mark(), len(discord.calls)
        first = _indicator_id(await reach.command("alice", "submit hxxp://reach-one[.]example/x tlp:green"))
        for team in (TA, TB):
            card = await reach.card_in(team, team.moderation, first, since=mark)
            assert f"ioc:approve:{first}" in action_ids(card.get("blocks")), card.body  # a moderator's card
        # TB's moderator approves with the button on the card in TB's moderation channel
        approved = await reach.press("mod", f"ioc:approve:{first}", TB.moderation,
                                     _ts_of(slack, TB.moderation, first))
        assert "Approved" in approved, approved
        for team, channel in ((TA, TA.feed), (TB, TB.feed), (TA, SHARED)):
            await reach.card_in(team, channel, first, since=mark)
        for feed in (ONE_FEED, TWO_FEED):
            await discord.wait_for_call("POST", rf"/channels/{feed}/messages", after=dmark, timeout=WAIT,
                                        predicate=lambda c: bool((c.json or {}).get("embeds")))
        told = await reach.wait_call(lambda c: c.method == "chat.postMessage" and c.get("channel") == "DALICE"
                                     and "was approved" in all_text(c.body), since=mark, what="alice's DM")
        assert told.status == 200 and told.token in slack.tokens_of(TA.id)
        await reach.settled()
        assert [reach.cards(channel, first) for channel in (TA.feed, TB.feed, SHARED)] == [1, 1, 1]
        assert [reach.cards(team.moderation, first) for team in (TA, TB)] == [1, 1]
        assert [reach.discord_cards(feed, first) for feed in (ONE_FEED, TWO_FEED)] == [1, 1]
        assert len([c for c in slack.posts("DALICE") if "was approved" in all_text(c.body)]) == 1

        # a confirm vote in TA edits both Slack copies, each with its own team's token, and both Discord copies
        mark, dmark = slack.mark(), len(discord.calls)
        await reach.command("carol", f"vote #{first} confirm")
        for team, channel in ((TA, TA.feed), (TB, TB.feed), (TA, SHARED)):
            ts = _ts_of(slack, channel, first)
            edit = (await slack.wait_for("chat.update", since=mark, timeout=WAIT,
                                         where=lambda c, ch=channel, ts=ts: c.get("channel") == ch
                                         and c.get("ts") == ts))[-1]
            assert edit.token in slack.tokens_of(team.id), (channel, team.id)
            assert "1 confirmation from 1 org" in all_text(edit.body)
        for feed in (ONE_FEED, TWO_FEED):
            (message_id,) = [m for m, body in discord.messages[feed].items()
                             if (body.get("embeds") or [{}])[0].get("title", "").startswith(f"#{first} ")]
            edited = await discord.wait_for_call("PATCH", rf"/channels/{feed}/messages/{message_id}", after=dmark,
                                                 timeout=WAIT)
            votes = [f["value"] for e in edited.json["embeds"] for f in e.get("fields", []) if f["name"] == "Votes"]
            assert votes == ["1 confirm (1 org), 0 false positive (0 orgs)"], votes
        await reach.settled()

        # 3. TB uninstalls the app: nothing more goes to TB, TA still receives, an audit line says so
        await reach.event(TB, {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})
        slack.uninstall(TB.id)
        deadline = time.monotonic() + WAIT
        while set(await reach.installed_teams()) != {TA.id}:
            assert time.monotonic() < deadline, "TB's installation was not removed"
            await asyncio.sleep(0.1)
        assert [d["workspace"] for d in await _audit(reach, "slack.uninstalled")] == [TB.id]
        mark, dmark = slack.mark(), len(discord.calls)
        second = _indicator_id(await reach.command("alice", "submit reach-two[.]example tlp:green"))
        await reach.card_in(TA, TA.moderation, second, since=mark)
        assert "Approved" in await reach.command("carol", f"approve #{second}")
        await reach.card_in(TA, TA.feed, second, since=mark)
        await reach.card_in(TA, SHARED, second, since=mark)
        for feed in (ONE_FEED, TWO_FEED):
            await discord.wait_for_call("POST", rf"/channels/{feed}/messages", after=dmark, timeout=WAIT,
                                        predicate=lambda c: bool((c.json or {}).get("embeds")))
        await reach.settled()
        after = slack.calls[mark:]
        assert not [(c.method, c.status) for c in after if c.token in slack.tokens_of(TB.id)], "TB's token used"
        assert not [(c.method, c.get("channel")) for c in after
                    if c.get("channel") in TB.channels or c.get("channel_id") in TB.channels], "a call into TB"
        assert [reach.cards(channel, second) for channel in (TA.feed, TB.feed, SHARED)] == [1, 0, 1]
        assert [reach.discord_cards(feed, second) for feed in (ONE_FEED, TWO_FEED)] == [1, 1]
        dropped = await _audit(reach, "delivery.dropped")  # if any of TB's part was planned: dropped, audited
        assert {d["workspace"] for d in dropped} <= {TB.id}, dropped

        # 5. no call was ever made with one team's token into another team's channel
        assert slack.cross_team == [], [(c.method, c.get("channel"), c.status) for c in slack.cross_team]
    except Exception as e:
        e.add_note(f"--- coalition-bot log ---\n{reach.log_tail()}")
        raise
