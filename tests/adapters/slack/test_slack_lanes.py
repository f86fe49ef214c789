"""Slack deliveries per workspace (bot.delivery's workspace lanes, adapters.slack.sink): two workspaces, T0AAA and
T0BBB, whose tokens act only in their own team (the fake Slack answers `channel_not_found` / `user_not_found` to any
other use and records it in `cross_team`, which must stay empty).

* OAuth mode: one process, both workspaces installed through the install page: a submission in one reaches both
  moderation channels, an approval in the other both feeds, each with its own workspace's token; a vote edits
  every copy; the submitter is told in her own workspace. A workspace whose token Slack refuses is dropped with an
  audit line, and its token is not used again.
* Single-token mode: the process with T0AAA's token delivers T0AAA's part only; T0BBB's lane row waits (shown by
  `/ioc admin deliveries`), and T0BBB's uninstall drops it with an audit line and unregisters its channels.
On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from adapters.console.demo import seed
from adapters.runtime import Runtime
from adapters.slack.service import SlackService
from bot.dispatcher import Dispatcher
from bot.domain import Channel, ChannelPurpose, Identity, Platform
from bot.tlp import TLP
from storage.models import AuditRow, OutboxRow
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, Signer, all_text
from tests.adapters.slack.slack_world import SECRET, install_through_oauth, oauth_settings, slack_settings

A, B = "T0AAA", "T0BBB"
PEOPLE = {"alice": (A, "UALICE"), "admin": (A, "UADMIN"), "mod": (B, "UMOD"), "bob": (B, "UBOB")}
CHANNELS = {A: {"feed": "CAFEED", "moderation": "CAMOD"}, B: {"feed": "CBFEED", "moderation": "CBMOD"}}


@dataclass
class Lanes:
    mock: MockSlack
    store: Store
    dispatcher: Dispatcher
    http: aiohttp.ClientSession
    service: SlackService | None = None

    async def start(self, settings: Any) -> SlackService:
        self.service = SlackService(Runtime(settings, self.store, self.dispatcher))
        await self.service.start()
        return self.service

    @property
    def base(self) -> str:
        assert self.service is not None
        return self.service.url.removesuffix(self.service.settings.http_path)

    async def post(self, body: str, content_type: str) -> int:
        assert self.service is not None
        headers = {"Content-Type": content_type, **Signer(SECRET).headers(body)}
        async with self.http.post(self.service.url, data=body.encode(), headers=headers) as response:
            return response.status

    async def command(self, who: str, text: str, *, settle: bool = True,
                      channel: str | None = None) -> dict[str, Any] | None:
        """`who` types `/ioc text` in their workspace (in their DM with the bot, or in `channel`); returns the
        answer (through response_url) once delivered (`settle`: and the outbox rows of this process's lanes too)."""
        team, user = PEOPLE[who]
        key = f"{who}-{time.monotonic_ns()}"
        fields = {"token": "legacy", "team_id": team, "team_domain": team.lower(),
                  "channel_id": channel or f"D{user[1:]}", "channel_name": "x" if channel else "directmessage",
                  "user_id": user, "user_name": who, "command": "/ioc",
                  "text": text, "api_app_id": "A0COAL", "is_enterprise_install": "false",
                  "response_url": self.mock.response_url(key), "trigger_id": f"trigger-{key}"}
        assert await self.post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded") == 200
        if not settle:
            return None
        await self.settle()
        return next(c.body for c in self.mock.responses() if c.body.get("url_key") == key)

    async def event(self, team: str, event: dict[str, Any]) -> None:
        body = {"token": "legacy", "team_id": team, "api_app_id": "A0COAL", "type": "event_callback",
                "event": event, "event_id": f"Ev{time.monotonic_ns()}", "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": self.mock.bot_user_id, "is_bot": True}]}
        assert await self.post(json.dumps(body), "application/json") == 200
        await self.settle()

    async def settle(self) -> None:
        assert self.service is not None
        await self.service.settle()

    def cards(self, channel: str) -> list[Any]:
        return [c for c in self.mock.posts(channel) if c.get("metadata")]

    async def outbox(self) -> list[tuple[str | None, bool, str | None]]:
        async with self.store.unit_of_work(read_only=True) as uow:
            rows = (await uow.session.execute(select(OutboxRow.workspace_id, OutboxRow.delivered_at,
                                                     OutboxRow.last_error).order_by(OutboxRow.id))).all()
        return [(w, d is not None, e) for w, d, e in rows]

    async def audit(self, action: str) -> list[dict[str, Any]]:
        async with self.store.unit_of_work(read_only=True) as uow:
            rows = (await uow.session.execute(select(AuditRow.detail).where(AuditRow.action == action)
                                              .order_by(AuditRow.id))).scalars().all()
        return [r if isinstance(r, dict) else json.loads(r) for r in rows]


def workspace_of_mock(mock: MockSlack, team: str) -> str:
    """The workspace in the fake Slack: its channels, its people and their DMs; returns its install code."""
    users = [user for t, user in PEOPLE.values() if t == team]
    channels = [*CHANNELS[team].values(), *(f"D{u[1:]}" for u in users)]
    return mock.add_workspace(team, channels=channels, users=users)


@pytest.fixture
async def lanes(store: Store) -> AsyncIterator[Lanes]:
    mock = await MockSlack(token="xoxb-no-such-single-token").start()
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK,))
    await seed(store, dispatcher, samples=False)
    async with store.unit_of_work() as uow:
        for name, (team, user) in PEOPLE.items():
            member = (await uow.members.by_name(name))[0]
            await uow.members.link_identity(member.id, Identity(Platform.SLACK, team, user))
        for team, channels in CHANNELS.items():
            for purpose, channel in channels.items():
                await uow.channels.upsert(Channel(Platform.SLACK, team, channel, TLP.AMBER, ChannelPurpose(purpose)))
        await uow.commit()
    world = Lanes(mock, store, dispatcher, aiohttp.ClientSession())
    try:
        yield world
    finally:
        if world.service is not None:
            await world.service.stop()
        await world.http.close()
        await mock.stop()


async def test_one_oauth_process_delivers_into_each_workspace_with_its_own_token(lanes: Lanes) -> None:
    mock = lanes.mock
    await lanes.start(oauth_settings(mock, Fernet.generate_key().decode()))
    for team in (A, B):
        status, page = await install_through_oauth(lanes.http, lanes.base, mock, workspace_of_mock(mock, team))
        assert status == 200, page
    tokens = {team: mock.tokens_of(team) for team in (A, B)}

    # alice submits in A: both moderation channels get the card, each from its own workspace's token
    answer = await lanes.command("alice", "submit lanes-c2[.]example tlp:green")
    assert "#1" in all_text(answer)
    for team in (A, B):
        [card] = lanes.cards(CHANNELS[team]["moderation"])
        assert card.token in tokens[team] and "lanes-c2.example" in all_text(card.body)

    # mod approves in B: both feeds, and alice is told in her own workspace (her DM there, A's token)
    await lanes.command("mod", "approve #1")
    for team in (A, B):
        [card] = lanes.cards(CHANNELS[team]["feed"])
        assert card.token in tokens[team]
    [told] = [c for c in mock.posts("DALICE") if "was approved" in c.get("text", "")]
    assert told.token in tokens[A]
    assert [c.token in tokens[A] for c in mock.of("conversations.open")] == [True]

    # bob votes in B: every copy (two moderation cards, two feed cards) is edited with its own workspace's token
    mark = mock.mark()
    await lanes.command("bob", "vote #1 confirm")
    edits = [c for c in mock.calls[mark:] if c.method == "chat.update"]
    edited = {(c["channel"], c["ts"]): c.token for c in edits if "1 confirmation" in all_text(c.body)}
    assert sorted(channel for channel, _ in edited) == ["CAFEED", "CAMOD", "CBFEED", "CBMOD"]
    for (channel, _), token in edited.items():
        assert token in tokens[A if channel.startswith("CA") else B]

    assert mock.cross_team == [], [(c.method, c.get("channel"), c.token) for c in mock.cross_team]
    assert not [c for c in mock.calls if c.status == 401], "a call with no token or a revoked one"
    assert all(done for _, done, _ in await lanes.outbox())
    assert {w for w, _, _ in await lanes.outbox()} == {None}  # one process serves both: no lane row was needed
    assert await lanes.audit("delivery.dropped") == []


async def test_a_workspace_whose_token_slack_refuses_is_dropped_and_its_token_not_used_again(lanes: Lanes) -> None:
    mock = lanes.mock
    await lanes.start(oauth_settings(mock, Fernet.generate_key().decode()))
    for team in (A, B):
        assert (await install_through_oauth(lanes.http, lanes.base, mock, workspace_of_mock(mock, team)))[0] == 200
    mock.uninstall(B)  # B revoked the app (its event not received): its token answers invalid_auth
    await lanes.command("alice", "submit refused[.]example tlp:green")
    assert len(lanes.cards("CAMOD")) == 1 and lanes.cards("CBMOD") == []
    [drop] = await lanes.audit("delivery.dropped")
    assert (drop["workspace"], drop["posts"], drop["edits"], drop["notices"]) == (B, 1, 0, 0)
    assert "invalid_auth" in drop["reason"]
    refused = [c for c in mock.calls if c.token in mock.tokens_of(B) and c.status == 401]
    assert len(refused) == 1  # one try, then the token serves nothing more
    # the approval (by an admin of A) goes to A's feed and edits A's card; B's part is dropped without a call
    mark = mock.mark()
    assert "Approved" in all_text(await lanes.command("admin", "approve #1"))
    assert len(lanes.cards("CAFEED")) == 1 and lanes.cards("CBFEED") == []
    assert [c["channel"] for c in mock.calls[mark:] if c.method == "chat.update"] == ["CAMOD"]
    assert not [c for c in mock.calls[mark:] if c.token in mock.tokens_of(B)]
    drops = await lanes.audit("delivery.dropped")
    # (its moderation card was never posted: nothing to edit there)
    assert [(d["workspace"], d["posts"], d["edits"], d["notices"]) for d in drops[1:]] == [(B, 1, 0, 0)]
    assert drops[1]["reason"].startswith("no installation serves this workspace")
    assert all(done for _, done, _ in await lanes.outbox())
    assert mock.cross_team == []


async def test_a_single_token_process_leaves_the_other_workspaces_lane_waiting(lanes: Lanes) -> None:
    mock = lanes.mock
    code = workspace_of_mock(mock, A)
    workspace_of_mock(mock, B)
    token_a = mock.install_codes[code]["access_token"]
    await lanes.start(slack_settings(mock, bot_token=token_a))

    await lanes.command("alice", "submit waiting[.]example tlp:green")  # settles: A's part only
    assert len(lanes.cards("CAMOD")) == 1 and lanes.cards("CBMOD") == []
    assert await lanes.outbox() == [(None, True, None), (B, False, None)]
    await lanes.service.deliverer.drain()  # type: ignore[union-attr]
    assert (await lanes.outbox())[1] == (B, False, None)  # not this process's to deliver: it waits, untried
    listing = all_text(await lanes.command("admin", "admin deliveries"))
    assert f"slack, workspace {B}: 1 waiting" in listing and "no running process serves" in listing
    assert {c.token for c in mock.calls if c.token} == {token_a} and mock.cross_team == []

    # B removes the app (Slack sends the event to the app's one request URL): B's channels are unregistered and
    # its waiting row dropped, audited, in one transaction
    await lanes.event(B, {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})
    rows = await lanes.outbox()
    assert rows[1] == (B, True, "dropped: the app was uninstalled")
    assert await lanes.audit("delivery.dropped") == [
        {"workspace": B, "reason": "the app was uninstalled", "rows": 1}]
    assert await lanes.audit("workspace.removed") == [{"workspace": B, "channels": ["CBFEED", "CBMOD"]}]
    # the next submission is planned for A only: no lane row for B any more
    await lanes.command("alice", "submit after[.]example tlp:green")
    assert [w for w, _, _ in await lanes.outbox()][2:] == [None]
    assert all(done for _, done, _ in await lanes.outbox()) and mock.cross_team == []


async def test_a_refused_dm_is_logged_with_its_workspace_and_a_refused_token_is_retried_in_single_token_mode(
        lanes: Lanes, caplog: pytest.LogCaptureFixture) -> None:
    mock = lanes.mock
    code = workspace_of_mock(mock, A)
    token_a = mock.install_codes[code]["access_token"]
    await lanes.start(slack_settings(mock, bot_token=token_a))
    caplog.set_level("INFO")
    await lanes.command("alice", "submit told[.]example tlp:green")
    mock.fail("conversations.open", status=200, error="user_not_found")  # alice left the workspace
    assert "Approved" in all_text(await lanes.command("admin", "approve #1"))
    assert f"UALICE of workspace {A} cannot be told (user_not_found)" in caplog.text
    assert all(done for w, done, _ in await lanes.outbox() if w is None)  # nothing else can be done about it

    # Slack refuses the configured token itself: never counted delivered; retried (then parked for an admin)
    mock.fail("chat.postMessage", times=50, status=200, error="token_revoked")
    await lanes.command("alice", "submit refused-token[.]example tlp:green", settle=False)
    for _ in range(200):
        rows = [r for r in await lanes.outbox() if r[0] is None]
        if rows[-1][2]:
            break
        await asyncio.sleep(0.05)
    assert rows[-1][1] is False and rows[-1][2] == "DeliveryError: Slack: token_revoked", rows
    assert f"Slack refused the bot token of workspace {A} (token_revoked)" in caplog.text
    assert await lanes.audit("delivery.dropped") == []


async def test_an_uninstall_forgets_the_live_case_cards_posted_in_the_workspace(lanes: Lanes) -> None:
    """A live case card posted in a workspace the bot was then removed from is forgotten with the workspace's other
    cards: no edit is planned for it while nobody serves the workspace, nor after a reinstall (which starts afresh,
    an admin registering its channels again), whatever the case shows then."""
    mock = lanes.mock
    await lanes.start(oauth_settings(mock, Fernet.generate_key().decode()))
    for team in (A, B):
        assert (await install_through_oauth(lanes.http, lanes.base, mock, workspace_of_mock(mock, team)))[0] == 200
    await lanes.command("alice", "case new op-gone tlp:green")
    assert "card is posted in this channel" in all_text(await lanes.command("bob", "case show op-gone",
                                                                            channel="CBFEED"))
    assert ["Case op-gone" in all_text(c.body) for c in mock.posts("CBFEED")] == [True]
    await lanes.event(B, {"type": "app_uninstalled", "event_ts": f"{time.time():.6f}"})
    mock.uninstall(B)
    await lanes.command("alice", "submit 198.51.100.77 tlp:green case:op-gone")
    assert [d for d in await lanes.audit("delivery.dropped") if d.get("edits")] == []  # nothing planned for B
    # B installs the app again: the card posted before is not brought back to life
    code = mock.add_workspace(B, channels=[*CHANNELS[B].values(), "DMOD", "DBOB"], users=["UMOD", "UBOB"],
                              code="code-again")
    assert (await install_through_oauth(lanes.http, lanes.base, mock, code))[0] == 200
    mark = mock.mark()
    await lanes.command("alice", "submit 198.51.100.78 tlp:green case:op-gone")
    assert [c for c in mock.calls[mark:] if c.method == "chat.update" and c["channel"] == "CBFEED"] == []
    assert mock.cross_team == []
