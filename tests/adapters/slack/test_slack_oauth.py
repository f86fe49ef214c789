"""OAuth distribution (issue 11): one process serves many workspaces. Two workspaces install the app through the
real install page and redirect (real HTTP, against the fake Slack's `oauth.v2.access`), whose tokens act only
in their own team (the fake answers `channel_not_found` / `user_not_found` to any other use and records it in
`cross_team`); each workspace's signed requests are then answered with its own token; an uninstall removes the
installation (its requests are refused cleanly, with no call made); the tokens are encrypted in the database.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from adapters.config import Settings, SlackSettings
from adapters.console.demo import seed
from adapters.runtime import Runtime
from adapters.slack.installation import TokenCipher, TokenKeyError, install_url
from adapters.slack.replies import split_workspace, team_of, workspace_key
from adapters.slack.service import SlackService
from bot.dispatcher import Dispatcher
from bot.domain import Channel, ChannelPurpose, Identity, Platform
from bot.tlp import TLP
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, Signer
from tests.adapters.slack.slack_world import SECRET, install_through_oauth
from tests.adapters.slack.slack_world import oauth_settings as slack_oauth_settings

KEY = Fernet.generate_key().decode()
A, B = "T0AAA", "T0BBB"
WORKSPACES = {  # team -> (member name, user id, their DM with the bot, a channel of the team)
    A: ("alice", "UALICE", "DALICE", "CAGENERAL"),
    B: ("bob", "UBOB", "DBOB", "CBGENERAL"),
}


@dataclass
class OAuthWorld:
    mock: MockSlack
    service: SlackService
    store: Store
    http: aiohttp.ClientSession
    signer: Signer

    @property
    def base(self) -> str:
        return self.service.url.removesuffix(self.service.settings.http_path)

    async def install(self, code: str, *, cookie: bool = True, state: str | None = None) -> tuple[int, str]:
        return await install_through_oauth(self.http, self.base, self.mock, code, cookie=cookie, state=state)

    async def post(self, body: str, content_type: str) -> tuple[int, str]:
        headers = {"Content-Type": content_type, **self.signer.headers(body)}
        async with self.http.post(self.service.url, data=body.encode(), headers=headers) as response:
            return response.status, await response.text()

    async def command(self, team: str, text_: str, *, key: str, enterprise: str | None = None,
                      org_wide: bool = False) -> tuple[int, str]:
        _, user, _, channel = WORKSPACES[team]
        fields = {"token": "legacy", "team_id": team, "team_domain": team.lower(), "channel_id": channel,
                  "channel_name": "general", "user_id": user, "user_name": WORKSPACES[team][0], "command": "/ioc",
                  "text": text_, "api_app_id": "A0COAL", "is_enterprise_install": "true" if org_wide else "false",
                  "response_url": self.mock.response_url(key), "trigger_id": f"trigger-{key}"}
        if enterprise:
            fields["enterprise_id"] = enterprise
        return await self.post(urllib.parse.urlencode(fields), "application/x-www-form-urlencoded")

    async def event(self, team: str, event: dict[str, Any]) -> tuple[int, str]:
        body = {"token": "legacy", "team_id": team, "api_app_id": "A0COAL", "type": "event_callback",
                "event": event, "event_id": f"Ev{time.monotonic_ns()}", "event_time": int(time.time()),
                "authorizations": [{"team_id": team, "user_id": self.mock.bot_user_id, "is_bot": True}]}
        return await self.post(json.dumps(body), "application/json")

    async def raw_tokens(self) -> list[str]:
        async with self.store.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT bot_token FROM slack_bots UNION ALL SELECT bot_token FROM slack_installations"))).all()
        return [r[0] for r in rows]

    async def installed_teams(self) -> set[str]:
        async with self.store.engine.connect() as conn:
            return {r[0] for r in (await conn.execute(text("SELECT team_id FROM slack_bots"))).all()}


def oauth_settings(mock: MockSlack, **overrides: Any) -> Settings:
    return slack_oauth_settings(mock, KEY, **overrides)


async def link_workspaces(store: Store) -> None:
    async with store.unit_of_work() as uow:
        for team, (name, user, _, channel) in WORKSPACES.items():
            member = (await uow.members.by_name(name))[0]
            await uow.members.link_identity(member.id, Identity(Platform.SLACK, team, user))
            await uow.channels.upsert(Channel(Platform.SLACK, team, channel, TLP.GREEN, ChannelPurpose.GENERAL))
        await uow.commit()


@pytest.fixture
async def oauth(store: Store) -> AsyncIterator[OAuthWorld]:
    mock = await MockSlack(token="xoxb-no-such-single-token").start()
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=())
    await seed(store, dispatcher, samples=False)
    await link_workspaces(store)
    service = SlackService(Runtime(oauth_settings(mock), store, dispatcher))
    await service.start()
    world = OAuthWorld(mock, service, store, aiohttp.ClientSession(), Signer(SECRET))
    try:
        yield world
    finally:
        await service.stop()
        await world.http.close()
        await mock.stop()


def workspace_of_mock(mock: MockSlack, team: str) -> str:
    _, user, dm, channel = WORKSPACES[team]
    return mock.add_workspace(team, channels=[dm, channel], users=[user])


async def test_two_workspaces_install_and_each_is_answered_with_its_own_token(oauth: OAuthWorld) -> None:
    mock = oauth.mock
    codes = {team: workspace_of_mock(mock, team) for team in WORKSPACES}
    for team, code in codes.items():
        status, page = await oauth.install(code)
        assert status == 200, page
    assert await oauth.installed_teams() == {A, B}
    assert [c.status for c in mock.of("oauth.v2.access", ok_only=False)] == [200, 200]

    # an export is a slash command whose answer needs the Web API: the person's DM (opened the first time), an
    # upload, a message
    for team in (A, B, A):
        mark = mock.mark()
        status, _ = await oauth.command(team, "export format:txt", key=f"export-{team}-{mark}")
        assert status == 200
        await oauth.service.settle()
        used = [c for c in mock.calls[mark:] if c.method not in {"response_url", "upload"}]
        assert {c.method for c in used} >= {"files.getUploadURLExternal", "files.completeUploadExternal"}, \
            [(c.method, c.status, c.body) for c in used]
        assert {c.token for c in used} <= mock.tokens_of(team) and all(c.token for c in used), \
            [(c.method, c.token) for c in used]
        completed = mock.of("files.completeUploadExternal")[-1]
        assert completed["channel_id"] == WORKSPACES[team][2]  # the person's own DM in their own workspace
    assert [c.token in mock.tokens_of(team) for c, team in zip(mock.of("conversations.open"), (A, B), strict=True)] \
        == [True, True]

    # a direct message to the bot (the Events API) is answered in that workspace, with its token
    for team in (B, A):
        name, user, dm, _ = WORKSPACES[team]
        mark = mock.mark()
        status, _ = await oauth.event(team, {"type": "message", "channel": dm, "channel_type": "im", "user": user,
                                             "text": "whoami", "ts": f"{time.time():.6f}"})
        assert status == 200
        await oauth.service.settle()
        answer = [c for c in mock.calls[mark:] if c.method == "chat.postMessage"]
        assert len(answer) == 1 and answer[0]["channel"] == dm and answer[0].token in mock.tokens_of(team)
        assert name in answer[0]["text"]
    assert mock.cross_team == []
    assert not [c for c in mock.calls if c.status == 401], "a call was made with no or a revoked token"
    # auth.test: once by each install, once more for each token's first request (bolt caches it per token)
    assert len(mock.of("auth.test")) == 4


async def test_tokens_are_encrypted_at_rest(oauth: OAuthWorld) -> None:
    mock = oauth.mock
    code = workspace_of_mock(mock, A)
    token = mock.install_codes[code]["access_token"]
    assert (await oauth.install(code))[0] == 200
    stored = await oauth.raw_tokens()
    assert len(stored) == 2  # the installation and its bot
    for value in stored:
        assert value.startswith(TokenCipher.PREFIX) and token not in value and token.split("-", 1)[1] not in value
        assert TokenCipher(KEY).open(value) == token
    # another key cannot read them: the workspace reads as not installed, its requests are refused cleanly
    other = TokenCipher(Fernet.generate_key().decode())
    with pytest.raises(InvalidToken):
        other.open(stored[0])
    store = oauth.service.bot.installation_store  # type: ignore[union-attr]
    assert store is not None
    store.cipher = other
    assert await store.async_find_bot(enterprise_id=None, team_id=A) is None
    assert await store.async_find_installation(enterprise_id=None, team_id=A) is None
    store.cipher = TokenCipher(KEY)
    found = await store.async_find_installation(enterprise_id=None, team_id=A)
    assert found is not None and found.bot_token == token


async def test_an_uninstall_removes_the_workspace_and_a_reinstall_resumes(
        oauth: OAuthWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    mock = oauth.mock
    for team in WORKSPACES:
        assert (await oauth.install(workspace_of_mock(mock, team)))[0] == 200
    status, _ = await oauth.event(A, {"type": "app_uninstalled", "event_ts": str(time.time())})
    mock.uninstall(A)
    assert status == 200
    await oauth.service.settle()
    assert await oauth.installed_teams() == {B}
    async with oauth.store.unit_of_work(read_only=True) as uow:
        audit = await uow.session.execute(text("SELECT action, detail FROM audit_log WHERE action LIKE 'slack.%'"))
        rows = [(r[0], r[1] if isinstance(r[1], dict) else json.loads(r[1])) for r in audit.all()]
    assert rows == [("slack.uninstalled", {"workspace": A, "installation": True})]

    # the uninstalled workspace's command is refused cleanly: a "reinstall" answer, no Web API call at all
    mark = mock.mark()
    status, _ = await oauth.command(A, "export format:txt", key="after-uninstall")
    assert status == 200
    await oauth.service.settle()
    after = mock.calls[mark:]
    assert [c.method for c in after] == ["response_url"], [(c.method, c.token) for c in after]
    assert "reinstall" in after[0]["text"].lower()
    # ... while the other workspace goes on
    mark = mock.mark()
    assert (await oauth.command(B, "export format:txt", key="b-still"))[0] == 200
    await oauth.service.settle()
    assert {c.token for c in mock.calls[mark:] if c.method == "conversations.open"} <= mock.tokens_of(B)

    # tokens_revoked removes the bot of a workspace too
    status, _ = await oauth.event(B, {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}})
    assert status == 200
    await oauth.service.settle()
    assert await oauth.installed_teams() == set()

    # a reinstall resumes, with a new token
    code = mock.add_workspace(A, channels=WORKSPACES[A][2:], users=[WORKSPACES[A][1]], code="code-again")
    new_token = mock.install_codes[code]["access_token"]
    assert (await oauth.install(code))[0] == 200
    mark = mock.mark()
    assert (await oauth.command(A, "export format:txt", key="reinstalled"))[0] == 200
    await oauth.service.settle()
    used = {c.token for c in mock.calls[mark:] if c.method.startswith("files.")}
    assert used == {new_token}
    assert mock.cross_team == []
    assert "app_uninstalled: the installation of T0AAA was removed" in caplog.text  # logged, and no secret is
    assert not [s for s in {mock.client_secret, KEY, *mock.team_tokens} if s in caplog.text]


async def test_a_forged_or_replayed_redirect_installs_nothing(oauth: OAuthWorld) -> None:
    mock = oauth.mock
    code = workspace_of_mock(mock, A)
    status, _ = await oauth.install(code, cookie=False)  # not the browser that started the install
    assert status == 400
    status, _ = await oauth.install(code, state="made-up-state")
    assert status in {400, 401}
    assert await oauth.installed_teams() == set()
    assert mock.of("oauth.v2.access", ok_only=False) == []
    # the states those two installs left behind are kept until they expire, then the next install page drops them
    async with oauth.store.engine.begin() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM slack_oauth_states"))).scalar() == 2
        await conn.execute(text("UPDATE slack_oauth_states SET expire_at = :past"),
                           {"past": datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)})
    assert (await oauth.install(code))[0] == 200  # a correct install still works (its state is consumed)
    async with oauth.store.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM slack_oauth_states"))).scalar() == 0
    assert await oauth.installed_teams() == {A}


async def test_a_rotating_token_is_refreshed_and_stored_encrypted(store: Store) -> None:
    mock = await MockSlack(token="xoxb-no-such-single-token").start()
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=())
    await seed(store, dispatcher, samples=False)
    await link_workspaces(store)
    # tokens live 12 hours; refreshing 12 hours ahead means every request refreshes first
    service = SlackService(Runtime(oauth_settings(mock, token_rotation_minutes=720), store, dispatcher))
    await service.start()
    world = OAuthWorld(mock, service, store, aiohttp.ClientSession(), Signer(SECRET))
    try:
        _, user, dm, channel = WORKSPACES[A]
        code = mock.add_workspace(A, channels=[dm, channel], users=[user], rotating=True)
        first = mock.install_codes[code]["access_token"]
        assert (await world.install(code))[0] == 200
        mark = mock.mark()
        assert (await world.command(A, "export format:txt", key="rotated"))[0] == 200
        await service.settle()
        refreshed = [c for c in mock.calls[mark:] if c.method == "oauth.v2.access"]
        assert refreshed and refreshed[0]["grant_type"] == "refresh_token"
        used = {c.token for c in mock.calls[mark:] if c.method == "conversations.open"}
        assert len(used) == 1 and used != {first} and used <= mock.tokens_of(A)
        stored = await world.raw_tokens()
        assert all(v.startswith(TokenCipher.PREFIX) for v in stored)
        latest = used.pop()
        assert latest in {TokenCipher(KEY).open(v) for v in stored}
        # a delivery (no request to refresh it) gets a fresh token too, and the new one is stored
        store = service.bot.installation_store  # type: ignore[union-attr]
        assert store is not None
        delivery_token = await store.bot_token(A)
        assert delivery_token not in {first, latest, None} and delivery_token in mock.tokens_of(A)
        assert delivery_token in {TokenCipher(KEY).open(v) for v in await world.raw_tokens()}
    finally:
        await service.stop()
        await world.http.close()
        await mock.stop()


def test_workspace_keys_follow_one_rule_for_enterprise_grid() -> None:
    assert workspace_key(None, "T1") == "T1"
    assert workspace_key("E1", "T1") == "E1:T1"
    assert workspace_key("E1", None) == "E1"  # an org-wide install's org-level surface
    for key in ("T1", "E1:T1", "E1"):
        assert workspace_key(*split_workspace(key)) == key
    assert team_of({"team_id": "T1", "enterprise_id": "E1"}) == "E1:T1"  # slash command in a Grid workspace
    assert team_of({"team": {"id": "T1", "enterprise_id": "E1"}, "enterprise": {"id": "E1"}}) == "E1:T1"
    assert team_of({"team": None, "enterprise": {"id": "E1"}, "user": {"team_id": "T2"}}) == "E1:T2"
    assert team_of({"team_id": "T1"}) == "T1"


async def test_a_grid_workspace_member_is_known_by_enterprise_and_team(oauth: OAuthWorld) -> None:
    mock = oauth.mock
    _, user, dm, channel = WORKSPACES[A]
    code = mock.add_workspace(A, channels=[dm, channel], users=[user], enterprise_id="E0ORG")
    assert (await oauth.install(code))[0] == 200
    async with oauth.store.unit_of_work() as uow:
        alice = (await uow.members.by_name("alice"))[0]
        await uow.members.link_identity(alice.id, Identity(Platform.SLACK, "E0ORG:" + A, "UALICE"))
        await uow.commit()
    mark = mock.mark()
    assert (await oauth.command(A, "whoami", key="grid", enterprise="E0ORG"))[0] == 200
    await oauth.service.settle()
    answers = [c for c in mock.calls[mark:] if c.method == "response_url"]
    assert answers and "alice" in json.dumps(answers[-1].body), answers


def test_settings_of_oauth_mode() -> None:
    assert SlackSettings(enabled=True, mode="http", client_id="1.2").missing() == [
        "slack.client_secret", "slack.signing_secret", "slack.token_key"]
    assert "http" in SlackSettings(enabled=True, mode="socket", client_id="1.2").missing()[0]
    assert SlackSettings(enabled=True, mode="socket", bot_token="x", app_token="y").missing() == []
    with pytest.raises(ValueError, match="public_url"):
        install_url(SlackSettings(client_id="1.2"))
    assert install_url(SlackSettings(client_id="1.2", public_url="https://bot.example.org/")) == \
        "https://bot.example.org/slack/install"
    for bad in ("", "not-a-key"):
        with pytest.raises(TokenKeyError, match="COALITION_SLACK_TOKEN_KEY"):
            TokenCipher(bad)


def test_the_install_url_command(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from adapters.cli import app

    for name in [n for n in os.environ if n.startswith("COALITION_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "coalition.toml"
    runner = CliRunner()
    config.write_text('[slack]\nenabled = true\nmode = "http"\nbot_token = "xoxb-1"\nsigning_secret = "s"\n')
    single = runner.invoke(app, ["slack", "install-url", "--config", str(config)])
    assert single.exit_code == 2 and "slack.client_id is not set" in single.output
    config.write_text('[slack]\nenabled = true\nmode = "http"\nclient_id = "111.222"\n')
    no_url = runner.invoke(app, ["slack", "install-url", "--config", str(config)])
    assert no_url.exit_code == 2 and "slack.public_url" in no_url.output
    config.write_text('[slack]\nenabled = true\nmode = "http"\nclient_id = "111.222"\n'
                      'public_url = "https://bot.example.org/"\n')
    ok = runner.invoke(app, ["slack", "install-url", "--config", str(config)])
    assert ok.exit_code == 0 and ok.output.strip() == "https://bot.example.org/slack/install"
    key = runner.invoke(app, ["slack", "token-key"])
    assert key.exit_code == 0 and TokenCipher(key.output.strip()).open(TokenCipher(key.output.strip()).seal("x")) == "x"


async def test_the_bot_token_of_a_workspace_for_deliveries(oauth: OAuthWorld) -> None:
    """What the per-workspace sink asks: the token of a channel's workspace, None where the app is not installed
    (never another workspace's), forgotten at an uninstall."""
    mock = oauth.mock
    tokens = {}
    for team in WORKSPACES:
        code = workspace_of_mock(mock, team)
        tokens[team] = mock.install_codes[code]["access_token"]
        assert (await oauth.install(code))[0] == 200
    grid = mock.add_workspace("T0GRID", enterprise_id="E0ORG")
    tokens["E0ORG:T0GRID"] = mock.install_codes[grid]["access_token"]
    assert (await oauth.install(grid))[0] == 200
    store = oauth.service.bot.installation_store  # type: ignore[union-attr]
    assert store is not None
    for workspace, token in tokens.items():
        assert await store.bot_token(workspace) == token
    assert await store.bot_token("T0GRID") is None  # the Grid team is known by its org and team only
    assert await store.bot_token("T0NOTINSTALLED") is None
    assert await oauth.event(A, {"type": "app_uninstalled"}) == (200, "")
    await oauth.service.settle()
    assert await store.bot_token(A) is None  # the cache was cleared by the uninstall
    assert await store.bot_token(B) == tokens[B]


async def test_an_org_wide_install_serves_the_teams_of_its_org(oauth: OAuthWorld) -> None:
    """Enterprise Grid: one install for the whole org (`is_enterprise_install`); a member is known by org + team +
    user; the org's uninstall removes it."""
    mock = oauth.mock
    _, user, dm, channel = WORKSPACES[A]
    code = mock.add_workspace(A, channels=[dm, channel], users=[user], enterprise_id="E0ORG", org_wide=True)
    token = mock.install_codes[code]["access_token"]
    assert (await oauth.install(code))[0] == 200
    async with oauth.store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT enterprise_id, team_id, is_enterprise_install FROM slack_bots"))).all()
    assert [tuple(r) for r in rows] == [("E0ORG", None, True)]
    async with oauth.store.unit_of_work() as uow:
        alice = (await uow.members.by_name("alice"))[0]
        await uow.members.link_identity(alice.id, Identity(Platform.SLACK, "E0ORG:" + A, user))
        await uow.commit()
    mark = mock.mark()
    assert (await oauth.command(A, "export format:txt", key="org", enterprise="E0ORG", org_wide=True))[0] == 200
    await oauth.service.settle()
    used = [c for c in mock.calls[mark:] if c.method.startswith(("files.", "conversations."))]
    assert used and {c.token for c in used} == {token}
    store = oauth.service.bot.installation_store  # type: ignore[union-attr]
    assert store is not None and await store.bot_token("E0ORG:" + A) == token
    body = {"token": "legacy", "team_id": A, "enterprise_id": "E0ORG", "is_enterprise_install": True,
            "api_app_id": "A0COAL", "type": "event_callback", "event": {"type": "app_uninstalled"},
            "event_id": "EvORG", "event_time": int(time.time())}
    assert (await oauth.post(json.dumps(body), "application/json"))[0] == 200
    await oauth.service.settle()
    assert await store.bot_token("E0ORG:" + A) is None
    assert mock.cross_team == []
