"""A small stand-in of Slack for tests and benchmarks: the Web API on 127.0.0.1, response_url endpoints, file
upload and download URLs, and a signer of requests exactly as Slack signs them.

Every Web API call is recorded (method, parsed body, HTTP status). Messages posted with `chat.postMessage` are
kept per channel so that `chat.update`, `conversations.history` and `reactions.get` answer like Slack. A
method can be made to answer 429 with Retry-After a given number of times. Block Kit payloads get the checks
Slack makes that a renderer can break (50 blocks a message, 100 a view, text lengths, unique action ids);
a violation answers `invalid_blocks`, as Slack does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    status: int = 200
    at: float = field(default_factory=time.perf_counter)
    token: str = ""  # the token that made the call (Authorization header or `token` field)

    def __getitem__(self, key: str) -> Any:
        return self.body[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _texts(node: Any) -> list[str]:
    """Every text of a Block Kit structure (to search rendered payloads)."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                out.append(value)
            else:
                out += _texts(value)
    elif isinstance(node, list):
        for item in node:
            out += _texts(item)
    return out


def all_text(payload: dict[str, Any]) -> str:
    return "\n".join(_texts(payload))


def action_ids(blocks: list[dict[str, Any]] | None) -> list[str]:
    return [e.get("action_id", "") for b in blocks or [] if b.get("type") == "actions" for e in b.get("elements", [])]


def check_blocks(blocks: Any, limit: int) -> str | None:
    """What Slack would refuse in these blocks (a subset of its checks), or None."""
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        return "blocks is not a list"
    if len(blocks) > limit:
        return f"{len(blocks)} blocks (max {limit})"
    ids = action_ids(blocks)
    if len(ids) != len(set(ids)):
        return f"duplicate action ids {ids}"
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        return f"duplicate block ids {block_ids}"
    for b in blocks:
        kind = b.get("type")
        if kind not in {"section", "context", "actions", "divider", "header", "input", "image", "rich_text"}:
            return f"unknown block type {kind}"
        if kind == "section":
            if "text" not in b and "fields" not in b:
                return "a section needs text or fields"
            if len(b.get("text", {}).get("text", "")) > 3000:
                return "section text over 3000"
            if len(b.get("fields", [])) > 10 or any(len(f["text"]) > 2000 for f in b.get("fields", [])):
                return "section fields over the limits"
        if kind == "context" and (not b.get("elements") or len(b["elements"]) > 10):
            return "context elements 1-10"
        if kind == "actions":
            if not b.get("elements") or len(b["elements"]) > 25:
                return "actions elements 1-25"
            for e in b["elements"]:
                if len(e.get("text", {}).get("text", "")) > 75 or len(e.get("action_id", "")) > 255:
                    return "button over the limits"
        if kind == "header" and len(b.get("text", {}).get("text", "")) > 150:
            return "header over 150"
        for text in _texts(b):
            if len(text) > 3000:
                return "a text over 3000"
    return None


def check_view(view: Any) -> str | None:
    if not isinstance(view, dict) or view.get("type") not in {"modal", "home"}:
        return "view type"
    if view.get("type") == "modal":
        if len(view.get("title", {}).get("text", "")) > 24:
            return "modal title over 24"
        for key in ("submit", "close"):
            if key in view and len(view[key].get("text", "")) > 24:
                return f"modal {key} over 24"
        if len(view.get("private_metadata", "")) > 3000:
            return "private_metadata over 3000"
        for b in view.get("blocks", []):
            element = b.get("element") or {}
            if len(element.get("initial_value", "") or "") > 3000:
                return "initial_value over 3000"
    return check_blocks(view.get("blocks", []), 100)


class MockSlack:
    """`await mock.start()`; point the bot's `slack.api_url` at `mock.api_url`."""

    def __init__(self, *, team_id: str = "T0COAL", bot_user_id: str = "UBOT", bot_id: str = "BBOT",
                 token: str = "xoxb-test-token", light_responses: bool = False, latency: float = 0.0) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.token = token
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.reactions: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}
        self.failures: dict[str, list[tuple[int, dict[str, str], dict[str, Any]]]] = {}
        self.lost: dict[str, int] = {}  # method -> how many of its next calls are done but answered with an error
        self.delay: dict[str, float] = {}
        self.latency = latency  # seconds every Web API call takes before it is answered (benchmarks: a round trip)
        self.light_responses = light_responses  # response_url bodies kept raw, unchecked (benchmarks)
        self.listeners: list[Any] = []  # called with each recorded Call (benchmarks wait on them, not by polling)
        self._ts = itertools.count(1)
        self._last_ts = 0
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self._sockets: list[web.WebSocketResponse] = []
        self.socket_connected = asyncio.Event()
        # OAuth distribution (issue 11): more workspaces, each with its own tokens that act only in its team
        self.client_id, self.client_secret = "111.222", "oauth-client-secret"
        self.team_tokens: dict[str, str] = {}  # token -> team id (tokens installed through oauth.v2.access)
        self.channel_teams: dict[str, str] = {}  # channel -> the team it belongs to (checked for team tokens)
        self.user_teams: dict[str, str] = {}  # user -> the team (checked by conversations.open)
        self.install_codes: dict[str, dict[str, Any]] = {}  # code -> the oauth.v2.access answer
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> team id (token rotation)
        self.revoked: set[str] = set()  # tokens of uninstalled workspaces: invalid_auth
        self.cross_team: list[Call] = []  # calls made with one team's token about another team: must stay empty
        self.shared_channels: dict[str, set[str]] = {}  # Slack Connect: channel -> every team it is shared with
        # the bot token's scopes, said in every Web API answer's `x-oauth-scopes` header as Slack does: without
        # chat:write.public (an app installed before it asked for it), posts in a channel the bot is not in (CNOTIN…)
        # are refused not_in_channel; with it, such a public channel takes them
        self.scopes = "commands,chat:write,im:write,channels:read,groups:read"
        self.redirect_uri = ""  # the app's redirect URL, where the authorize page sends the installer back
        self._token = ""

    # ------------------------------------------------------------ server

    async def start(self) -> MockSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}", self._download)
        app.router.add_get("/socket", self._socket)
        app.router.add_get("/oauth/v2/authorize", self._authorize)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, key: str | None = None) -> str:
        return f"{self.base_url}/respond/{key or next(self._ids)}"

    # ------------------------------------------------------------ test controls

    def fail(self, method: str, times: int = 1, *, status: int = 429, retry_after: int = 0,
             error: str = "ratelimited") -> None:
        """The next `times` calls of `method` answer `status` (429: with Retry-After)."""
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self.failures.setdefault(method, []).extend([(status, headers, {"ok": False, "error": error})] * times)

    def lose(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` are done (a message is posted) but answered `fatal_error`, as when
        the platform did the work and the answer never reached the bot: a retry must find it, not do it again."""
        self.lost[method] = self.lost.get(method, 0) + times

    def add_file(self, name: str, data: bytes, *, user: str, mimetype: str = "text/plain") -> str:
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": name, "title": name, "user": user, "size": len(data),
                               "mimetype": mimetype, "url_private_download": f"{self.base_url}/files/{file_id}",
                               "url_private": f"{self.base_url}/files/{file_id}"}
        self.uploads[file_id] = data
        return file_id

    def react(self, channel: str, ts: str, name: str, user: str, *, remove: bool = False) -> None:
        users = self.reactions.setdefault((channel, ts), {}).setdefault(name, [])
        if remove:
            if user in users:
                users.remove(user)
        elif user not in users:
            users.append(user)

    def of(self, method: str, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def posts(self, channel: str | None = None) -> list[Call]:
        return [c for c in self.of("chat.postMessage") if channel is None or c.get("channel") == channel]

    def responses(self) -> list[Call]:
        return self.of("response_url")

    def api_calls(self) -> list[Call]:
        return list(self.calls)

    def mark(self) -> int:
        """A point in the record: `wait_for(..., since=mark)` looks at the calls after it only."""
        return len(self.calls)

    async def wait_for(self, method: str, count: int = 1, *, where: Any = None, since: int = 0,
                       timeout: float = 10.0) -> list[Call]:  # noqa: ASYNC109
        """Wait until at least `count` successful calls of `method` (matching `where`) were recorded."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.calls[since:] if c.method == method and c.status == 200
                     and (where is None or where(c))]
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(c.method, c.status) for c in self.calls]
                raise AssertionError(f"timed out waiting for {count} × {method}; calls so far: {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(left, 0.5))

    def add_workspace(self, team_id: str, *, channels: Any = (), users: Any = (), enterprise_id: str | None = None,
                      code: str | None = None, bot_user_id: str | None = None, rotating: bool = False,
                      org_wide: bool = False) -> str:
        """A workspace that can install the app: `oauth.v2.access` with `code` (returned) answers a bot token of
        its own, which acts only in its `channels` and with its `users` (else `channel_not_found` /
        `user_not_found`, and the call is recorded in `cross_team`). `rotating`: the token expires in 12 hours
        and comes with a refresh token. `org_wide`: an Enterprise Grid org-wide install of `enterprise_id`
        (no team in the answer; the token acts in the whole org, `team_id` being one of its teams)."""
        code = code or f"code-{team_id}"
        n = next(self._ids)
        token = f"xoxb-{team_id}-{n}" if not rotating else f"xoxe.xoxb-1-{team_id}-{n}"
        answer: dict[str, Any] = {
            "ok": True, "app_id": "A0COAL", "authed_user": {"id": f"U{team_id}INSTALLER"},
            "scope": "chat:write,commands",
            "token_type": "bot", "access_token": token, "bot_user_id": bot_user_id or self.bot_user_id,
            "team": {"id": team_id, "name": f"Team {team_id}"},
            "enterprise": {"id": enterprise_id, "name": f"Org {enterprise_id}"} if enterprise_id else None,
            "is_enterprise_install": False}
        if rotating:
            answer.update(refresh_token=f"xoxe-1-refresh-{team_id}-{n}", expires_in=43200)
            self.refresh_tokens[answer["refresh_token"]] = team_id
        scope = team_id
        if org_wide:
            assert enterprise_id, "an org-wide install needs its org"
            answer.update(team=None, is_enterprise_install=True)
            scope = enterprise_id
        self.install_codes[code] = answer
        self.team_tokens[token] = scope
        for channel in channels:
            self.channel_teams[channel] = scope
        for user in users:
            self.user_teams[user] = scope
        return code

    def share_channel(self, channel: str, *teams: str) -> None:
        """A Slack Connect channel: one id in each of `teams`, whose tokens all act in it (no cross-team call);
        `conversations.info` says `is_ext_shared` (the first team is its host, as in `channel_teams`)."""
        self.shared_channels[channel] = set(teams)
        self.channel_teams.setdefault(channel, teams[0])

    def unshare_channel(self, channel: str) -> None:
        self.shared_channels.pop(channel, None)

    def tokens_of(self, team_id: str) -> set[str]:
        return {t for t, team in self.team_tokens.items() if team == team_id}

    def uninstall(self, team_id: str) -> None:
        """The workspace removed the app: its tokens stop working."""
        self.revoked |= self.tokens_of(team_id)

    def _foreign(self, method: str, body: dict[str, Any], token: str) -> str | None:
        """The error Slack would answer a team token used about another team's channel or user, else None."""
        team = self.team_tokens.get(token)
        if team is None:
            return None
        channel = str(body.get("channel") or body.get("channel_id") or "")
        if channel and self.channel_teams.get(channel, team) != team and team not in self.shared_channels.get(
                channel, ()):
            return "channel_not_found"
        users = str(body.get("users") or body.get("user") or "")
        if users and method in {"conversations.open", "chat.postEphemeral"} and \
                any(self.user_teams.get(u, team) != team for u in users.split(",")):
            return "user_not_found"
        return None

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)

    # ------------------------------------------------------------ handlers

    def _record(self, method: str, body: dict[str, Any], status: int = 200) -> Call:
        call = Call(method, body, status, token=self._token)
        self.calls.append(call)
        self._changed.set()
        for listener in self.listeners:
            listener(call)
        return call

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.query)
        raw = await request.read()
        if request.content_type == "application/json" and raw:
            body.update(json.loads(raw))
        elif raw and request.content_type in {"application/x-www-form-urlencoded", ""}:
            body.update({k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode(), keep_blank_values=True).items()})
        elif raw and request.content_type.startswith("multipart/"):
            form = await request.post()
            body.update({k: v for k, v in form.items() if isinstance(v, str)})
        return {k: _maybe_json(v) for k, v in body.items()}

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await self._body(request)
        if self.latency or method in self.delay:  # the platform's round trip, plus a method's own delay
            await asyncio.sleep(self.latency + self.delay.get(method, 0.0))
        if self.failures.get(method):
            status, headers, answer = self.failures[method].pop(0)
            self._record(method, body, status)
            return web.json_response(answer, status=status, headers=headers)
        app_level = method == "apps.connections.open" and request.headers.get("Authorization", "").startswith(
            "Bearer xapp-")
        authorization = request.headers.get("Authorization", "")
        self._token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else \
            str(body.get("token") or "")
        if method == "oauth.v2.access":  # the app's client id and secret (HTTP Basic), not a token
            self._token = ""
            return web.json_response(self._record_answer(method, body, self._oauth_v2_access(body, authorization)))
        if self._token in self.revoked:
            self._record(method, body, 401)
            return web.json_response({"ok": False, "error": "invalid_auth"})
        team_token = self._token in self.team_tokens
        if not app_level and not team_token and authorization != f"Bearer {self.token}" \
                and body.get("token") != self.token:
            self._record(method, body, 401)
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if team_token and (foreign := self._foreign(method, body, self._token)):
            self.cross_team.append(self._record(method, body, 400))
            return web.json_response({"ok": False, "error": foreign})
        if app_level:
            body["authorization"] = request.headers["Authorization"][len("Bearer "):]
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        answer = handler(body) if handler else {"ok": False, "error": "unknown_method"}
        self._record(method, body, 200 if answer.get("ok") else 400)
        if answer.get("ok") and self.lost.get(method):  # done, but the caller hears of a failure
            self.lost[method] -= 1
            return web.json_response({"ok": False, "error": "fatal_error"})
        return web.json_response(answer, headers={"x-oauth-scopes": self.scopes})

    async def _respond(self, request: web.Request) -> web.Response:
        self._token = ""  # response_url needs no token
        if self.light_responses:
            self._record("response_url", {"raw": await request.text(), "url_key": request.match_info["key"]})
            return web.Response(text="ok")
        body = await request.json()
        body["url_key"] = request.match_info["key"]
        problem = check_blocks(body.get("blocks"), 50)
        self._record("response_url", body, 400 if problem else 200)
        if problem:
            return web.Response(status=400, text=f"invalid_blocks: {problem}")
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = await request.read()
        self._record("upload", {"file_id": file_id, "size": len(self.uploads[file_id])})
        return web.Response(text="OK - " + str(len(self.uploads[file_id])))

    async def _download(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if (token != self.token and (token not in self.team_tokens or token in self.revoked)) \
                or file_id not in self.uploads:
            return web.Response(status=404)
        self._token = token
        self._record("download", {"file_id": file_id})
        return web.Response(body=self.uploads[file_id])

    async def _authorize(self, request: web.Request) -> web.Response:
        """Slack's authorize page, the installer having approved: back to the app's `redirect_uri` with the code of
        the workspace the link names (`team`, as bolt's install page passes it on) and the app's `state`."""
        query = request.query
        self._token = ""
        self._record("oauth.authorize", dict(query))
        team = query.get("team")
        code = next((c for c, answer in self.install_codes.items() if team
                     and team in {(answer.get("team") or {}).get("id"), (answer.get("enterprise") or {}).get("id")}),
                    None)
        redirect = query.get("redirect_uri") or self.redirect_uri
        if query.get("client_id") != self.client_id or code is None or not redirect:
            return web.Response(status=400, text="invalid_client_id, unknown team or no redirect_uri")
        params = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
        raise web.HTTPFound(f"{redirect}?{params}")

    # ------------------------------------------------------------ Socket Mode

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then relay envelopes (`send_envelope`); acknowledgements are recorded as
        `socket_ack` calls, with the envelope id and the payload sent back."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0COAL"}})
        self.socket_connected.set()
        async for message in ws:
            if message.type == web.WSMsgType.TEXT:
                data = json.loads(message.data)
                self._record("socket_ack", {"envelope_id": data.get("envelope_id"),
                                            "payload": data.get("payload") or {}})
        self._sockets.remove(ws)
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any], *, envelope_id: str | None = None,
                            retry_attempt: int = 0) -> str:
        """Send a Socket Mode envelope (`slash_commands`, `interactive`, `events_api`) to the connected app."""
        await asyncio.wait_for(self.socket_connected.wait(), 10)
        envelope_id = envelope_id or f"env-{next(self._ids)}"
        await self._sockets[-1].send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                           "accepts_response_payload": kind != "events_api",
                                           "retry_attempt": retry_attempt, "retry_reason": ""})
        return envelope_id

    # ------------------------------------------------------------ Web API methods

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        team = self.team_tokens.get(self._token, self.team_id)
        return {"ok": True, "url": "https://coalition.example.slack.com/", "team": "Coalition",
                "user": "coalition-bot", "team_id": team, "user_id": self.bot_user_id,
                "bot_id": self.bot_id, "is_enterprise_install": False}

    def _record_answer(self, method: str, body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        self._record(method, body, 200 if answer.get("ok") else 400)
        return answer

    def _oauth_v2_access(self, body: dict[str, Any], authorization: str) -> dict[str, Any]:
        """An install (`code`) or a token rotation (`grant_type=refresh_token`), for the app's client only."""
        basic = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != basic and (body.get("client_id"), body.get("client_secret")) != (
                self.client_id, self.client_secret):
            return {"ok": False, "error": "invalid_client_id"}
        if body.get("grant_type") == "refresh_token":
            team = self.refresh_tokens.get(str(body.get("refresh_token", "")))
            if team is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            n = next(self._ids)
            token, refresh = f"xoxe.xoxb-1-{team}-{n}", f"xoxe-1-refresh-{team}-{n}"
            self.team_tokens[token] = team
            self.refresh_tokens[refresh] = team
            return {"ok": True, "app_id": "A0COAL", "token_type": "bot", "access_token": token,
                    "refresh_token": refresh, "expires_in": 43200, "team": {"id": team}, "enterprise": None,
                    "is_enterprise_install": False, "bot_user_id": self.bot_user_id, "scope": "chat:write,commands"}
        answer = self.install_codes.pop(str(body.get("code", "")), None)
        return answer or {"ok": False, "error": "invalid_code"}

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        if problem := check_blocks(body.get("blocks"), 50):
            return {"ok": False, "error": "invalid_blocks", "detail": problem}
        if not body.get("text") and not body.get("blocks"):
            return {"ok": False, "error": "no_text"}
        channel = str(body.get("channel", ""))
        if channel.startswith("CNOTIN") and "chat:write.public" not in self.scopes.split(","):
            return {"ok": False, "error": "not_in_channel"}
        ts = self._next_ts()
        message = {"type": "message", "ts": ts, "user": self.bot_user_id, "bot_id": self.bot_id,
                   "text": body.get("text", ""), "blocks": body.get("blocks"), "metadata": body.get("metadata"),
                   "thread_ts": body.get("thread_ts")}
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def chatter(self, channel: str, count: int, *, user: str = "U0SOMEONE") -> None:
        """`count` people's messages in a channel (or DM), as if the conversation went on."""
        for i in range(count):
            self.messages.setdefault(channel, []).append(
                {"type": "message", "ts": self._next_ts(), "user": user, "text": f"chatter {i}"})

    def _next_ts(self) -> str:
        """A message ts as Slack makes it: the posting time (so `oldest=<a time>` means what it says), unique and
        increasing within the fake."""
        self._last_ts = max(self._last_ts + 1, int(time.time() * 1_000_000))  # microseconds
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        if problem := check_blocks(body.get("blocks"), 50):
            return {"ok": False, "error": "invalid_blocks", "detail": problem}
        message = self.message(str(body.get("channel", "")), str(body.get("ts", "")))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        message.update(text=body.get("text", ""), blocks=body.get("blocks"))
        return {"ok": True, "channel": body["channel"], "ts": body["ts"], "text": body.get("text", "")}

    def _chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        if problem := check_blocks(body.get("blocks"), 50):
            return {"ok": False, "error": "invalid_blocks", "detail": problem}
        return {"ok": True, "message_ts": f"{1_800_000_000 + next(self._ts)}.000200"}

    def _views(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if problem := check_view(view):
            return {"ok": False, "error": "invalid_arguments", "detail": problem}
        return {"ok": True, "view": {**view, "id": f"V{next(self._ids):08d}"}}

    _views_open = _views_publish = _views_update = _views_push = _views

    def _conversations_open(self, body: dict[str, Any]) -> dict[str, Any]:
        users = str(body.get("users", ""))
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0].lstrip("U")}}

    def _conversations_info(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = str(body.get("channel", ""))
        shared = len(self.shared_channels.get(channel, ())) > 1
        answer: dict[str, Any] = {"id": channel, "is_channel": True, "is_im": channel.startswith("D"),
                                  "is_private": False, "is_shared": shared, "is_ext_shared": shared,
                                  "is_org_shared": False}
        if not channel.startswith("D"):  # as Slack: no is_member on a direct message
            answer["is_member"] = not channel.startswith("CNOTIN")
        return {"ok": True, "channel": answer}

    def _conversations_history(self, body: dict[str, Any]) -> dict[str, Any]:
        # as on Slack: a thread's replies are not in the channel's history (conversations.replies has them)
        messages = [m for m in reversed(self.messages.get(str(body.get("channel", "")), []))
                    if not m.get("thread_ts") or m["thread_ts"] == m["ts"]]
        latest, oldest = body.get("latest"), body.get("oldest")
        inclusive = str(body.get("inclusive", "")).lower() in {"1", "true"}
        if latest:
            messages = [m for m in messages if float(m["ts"]) < float(latest)
                        or (inclusive and m["ts"] == str(latest))]
        if oldest:
            messages = [m for m in messages if float(m["ts"]) > float(oldest)
                        or (inclusive and m["ts"] == str(oldest))]
        # newest first, `limit` per page; the next page is the older rest (the cursor says where it starts)
        limit = min(int(body.get("limit", 100) or 100), 999)
        if cursor := body.get("cursor"):
            older = base64.b64decode(str(cursor)).decode()
            messages = [m for m in messages if float(m["ts"]) < float(older)]
        more = len(messages) > limit
        page = messages[:limit]
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": base64.b64encode(page[-1]["ts"].encode()).decode()
                                      if more else ""}}

    def _conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        """The thread's parent first, then its replies oldest first (those after `oldest`), `limit` a page; the
        next page starts after the cursor's ts."""
        ts = str(body.get("ts", ""))
        thread = [m for m in self.messages.get(str(body.get("channel", "")), [])
                  if m["ts"] == ts or m.get("thread_ts") == ts]
        parent, replies = [m for m in thread if m["ts"] == ts], [m for m in thread if m["ts"] != ts]
        if oldest := body.get("oldest"):
            replies = [m for m in replies if float(m["ts"]) > float(oldest)]
        if cursor := body.get("cursor"):
            after = base64.b64decode(str(cursor)).decode()
            replies = [m for m in replies if float(m["ts"]) > float(after)]
        limit = min(int(body.get("limit", 100) or 100), 999)
        more = len(replies) > limit
        page = replies[:limit]
        return {"ok": True, "messages": ([] if cursor else parent) + page, "has_more": more,
                "response_metadata": {"next_cursor": base64.b64encode(page[-1]["ts"].encode()).decode()
                                      if more else ""}}

    def _reactions_get(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("timestamp", ""))
        message = dict(self.message(channel, ts) or {"type": "message", "ts": ts})
        message["reactions"] = [{"name": name, "users": users, "count": len(users)}
                                for name, users in self.reactions.get((channel, ts), {}).items() if users]
        return {"ok": True, "type": "message", "channel": channel, "message": message}

    def _files_info(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.files.get(str(body.get("file", "")))
        return {"ok": True, "file": found} if found else {"ok": False, "error": "file_not_found"}

    def _files_getUploadURLExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):08d}"
        self.files[file_id] = {"id": file_id, "name": body.get("filename"), "title": body.get("filename"),
                               "user": self.bot_user_id, "size": int(body.get("length", 0) or 0)}
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, body: dict[str, Any]) -> dict[str, Any]:
        files = body.get("files") or []
        shared = [{**self.files.get(f["id"], {}), "title": f.get("title")} for f in files]
        if channel := body.get("channel_id"):  # shared in the channel: one message with the files, as Slack does
            self.messages.setdefault(str(channel), []).append(
                {"type": "message", "ts": self._next_ts(), "user": self.bot_user_id, "upload": True,
                 "text": body.get("initial_comment", ""), "files": shared})
        return {"ok": True, "files": shared}

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"{self.base_url.replace('http', 'ws')}/socket"}


class Signer:
    """Signs a request body like Slack: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def headers(self, body: str, *, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        digest = hmac.new(self.secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}
