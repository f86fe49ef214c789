"""The Slack adapter as a service of `coalition-bot run`: the Web API client, the bolt app in HTTP mode or
Socket Mode, and the deliverer of the outbox's Slack rows.

* HTTP mode (`slack.mode = "http"`, `slack.signing_secret`): one aiohttp endpoint (`slack.http_host`,
  `slack.http_port`, `slack.http_path`) for events, slash commands and interactivity. Every request's
  signature and timestamp are verified here on the raw bytes BEFORE anything parses the body (`verify`):
  unsigned, badly signed or older than 5 minutes is 401 and nothing is parsed; a correctly signed request
  whose body or timestamp is malformed (not JSON, nested too deep, not a JSON object, a field the adapter
  reads of the wrong type: `SHAPE`) is 400 (`parse_body`), never a 500 or a traceback. Bolt then verifies
  once more and handles it.
* Socket Mode (`slack.mode = "socket"`, `slack.app_token`): a WebSocket to Slack, no public URL. An envelope
  whose payload does not have the shape the adapter reads (`SHAPE`) is acknowledged and dropped, as HTTP
  mode answers it 400.
* OAuth distribution (`slack.client_id`, HTTP mode; adapters.slack.installation): the same endpoint, plus the
  install page (`slack.install_path`) and the redirect (`slack.redirect_path`); no token of its own, each
  request is answered with its workspace's token from the store.
* Deliveries (adapters.slack.sink): every one is made with its workspace's own token: in single-token mode the
  configured token's workspace (learnt with `auth.test`) and no other (another workspace's lane waits for the
  process that has its token); in OAuth mode every installed workspace, each with the token the store holds.
* The Web API is `slack.api_url` (GovSlack, Enterprise deployments, tests); rate limits (429) are retried
  after Slack's Retry-After, connection resets retried once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
import urllib.parse
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from adapters.chat_progress import ProgressTiming
from adapters.config import SlackSettings
from adapters.contract import AdapterRuntime as Runtime
from bot.delivery import Deliverer
from bot.domain import Platform

from .app import SlackBot
from .blocks import Renderer
from .installation import oauth_settings
from .replies import workspace_key
from .sink import InstalledWorkspaces, OneWorkspace, SlackSink

log = logging.getLogger(__name__)

RATE_LIMIT_RETRIES = 5
NUDGE_DELAY = 0.05  # seconds
MAX_BODY = 4 * 1024 * 1024  # Slack's requests are far smaller
MAX_AGE = 300  # seconds: Slack's own window for a request's timestamp
MAX_DEPTH = 64  # nesting of a request's JSON: Slack's payloads stay under 20


class BadRequest(ValueError):
    """A signed request whose body cannot be what Slack sends (answered 400)."""


def verify(secret: str, raw: bytes, timestamp: str | None, signature: str | None, *,
           now: float | None = None) -> int:
    """Slack's signature check on the raw body, before any parsing: 401 (not from Slack, or a stale replay),
    400 (signed, but its timestamp is not a number), or 200."""
    if not secret or not timestamp or not signature or not signature.startswith("v0="):
        return 401
    expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode("utf-8", "replace") + b":" + raw,
                                hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return 401
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return 400
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_AGE:
        return 401
    return 200


def _depth_ok(text: str, limit: int = MAX_DEPTH) -> bool:
    """Brackets nest at most `limit` deep (strings skipped): checked before json.loads, which recurses."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _json_object(text: str) -> dict[str, Any]:
    if text.count("[") + text.count("{") > MAX_DEPTH and not _depth_ok(text):  # json.loads recurses
        raise BadRequest("JSON nested too deep")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise BadRequest("not JSON") from e
    if not isinstance(value, dict):
        raise BadRequest("not a JSON object")
    return value


def parse_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The body of a verified request as Slack sends it: JSON (events) or a form, perhaps with a JSON
    `payload` (interactivity), whose fields the adapter reads have their types (`SHAPE`). Anything else
    raises BadRequest."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest("not UTF-8") from e
    if content_type == "application/json" or text.startswith("{"):
        body = _json_object(text)
    else:
        try:
            params = dict(urllib.parse.parse_qsl(text, keep_blank_values=True, strict_parsing=False,
                                                 max_num_fields=1000))
        except ValueError as e:
            raise BadRequest("not a form") from e
        body = _json_object(params["payload"]) if "payload" in params else params
    problem = shape_problem(body, SHAPE)
    if problem:
        raise BadRequest(problem)
    return body


def _url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _json_object_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if not value:
        return True
    try:
        return isinstance(_json_object(value), dict)
    except BadRequest:
        return False


_ID = {"id": str}


def _flag(value: Any) -> bool:
    """A boolean, in JSON (events) or in a form ("true", "false")."""
    return isinstance(value, bool) or value in {"true", "false"}


# What the adapter and bolt read of a request, by type: a signed request that holds something else at one of these
# places (a string for a list, a number for an id) is answered 400 here rather than failing in a handler. Keys
# not listed are not checked; a None is accepted anywhere (Slack sends nulls, e.g. `team` in org installs).
SHAPE: dict[str, Any] = {
    "type": str, "token": str, "team_id": str, "api_app_id": str, "event_id": str, "challenge": str,
    "callback_id": str, "trigger_id": str, "response_url": _url, "user_id": str, "channel_id": str, "text": str,
    "command": str, "user_name": str, "enterprise_id": str, "is_ext_shared_channel": _flag,
    "user": {"id": str, "team_id": str, "username": str, "name": str},
    "team": {"id": str, "domain": str, "enterprise_id": str}, "enterprise": _ID,
    "channel": {"id": str, "name": str},
    "container": {"type": str, "channel_id": str, "message_ts": str, "view_id": str, "is_ephemeral": bool},
    "message": {"ts": str, "text": str, "thread_ts": str, "attachments": [dict], "blocks": [dict], "user": str},
    "view": {"id": str, "type": str, "callback_id": str, "private_metadata": _json_object_text,
             "state": {"values": {str: {str: dict}}}, "app_installed_team_id": str},
    "actions": [{"action_id": str, "block_id": str, "value": str, "type": str}],
    "authorizations": [{"team_id": str, "user_id": str, "enterprise_id": str}],
    "event": {"type": str, "user": str, "channel": str, "text": str, "ts": str, "thread_ts": str, "subtype": str,
              "bot_id": str, "channel_type": str, "tab": str, "reaction": str, "item_user": str, "event_ts": str,
              "item": {"type": str, "channel": str, "ts": str}, "file_id": str, "user_id": str, "channel_id": str,
              "file": _ID, "user_team": str, "source_team": str, "connected_team_id": str, "is_ext_shared": _flag},
}


def shape_problem(value: Any, spec: Any, where: str = "body") -> str | None:
    """Where `value` does not have the shape `spec` gives (a type, a predicate, {key: spec}, [spec]), or None."""
    if value is None and where != "body":
        return None
    if isinstance(spec, type):
        return None if isinstance(value, spec) else f"{where} is not a {spec.__name__}"
    if isinstance(spec, list):
        if not isinstance(value, list):
            return f"{where} is not a list"
        return next((p for i, item in enumerate(value) if (p := shape_problem(item, spec[0], f"{where}[{i}]"))),
                    None)
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return f"{where} is not an object"
        if len(spec) == 1 and next(iter(spec)) is str:  # {str: spec}: every value
            inner = next(iter(spec.values()))
            return next((p for k, v in value.items() if (p := shape_problem(v, inner, f"{where}.{k}"))), None)
        return next((p for key, inner in spec.items() if key in value
                     and (p := shape_problem(value[key], inner, f"{where}.{key}"))), None)
    return None if spec(value) else f"{where} is not valid"


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """bolt's Socket Mode handler, with HTTP mode's check of the payload's shape before bolt reads it."""

    async def handle(self, client: Any, req: SocketModeRequest) -> None:  # type: ignore[override]
        payload = req.payload
        problem = shape_problem(payload, SHAPE) if isinstance(payload, dict) else "the payload is not an object"
        if problem:
            log.info("Slack Socket Mode: envelope %s dropped (%s)", req.envelope_id, problem)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)


def retry_handlers() -> list[AsyncRetryHandler]:
    return [AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)]


def api_base_url(api_url: str) -> str:
    return api_url if api_url.endswith("/") else api_url + "/"


def fix_form_body(request: AsyncBoltRequest) -> AsyncBoltRequest:
    """bolt (1.30) reads any form body with the substring "payload" in it as an interaction and, finding no
    `payload` field, as nothing at all: `/ioc submit hxxp://evil/payload.bin` would be answered 404. Such a body
    is parsed again here, the way bolt parses a correct one (the signature is still checked on the raw body)."""
    raw = request.raw_body
    if request.body or not raw or raw.startswith("{") or "payload" not in raw:
        return request
    body = parse_body(raw.encode(), "application/x-www-form-urlencoded")
    request.body = body
    request.context = build_async_context(AsyncBoltContext({}), body)
    return request


def secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


class SlackService:
    name = "slack"

    def __init__(self, runtime: Runtime, *, ack_budget: float = 2.0,
                 import_progress: ProgressTiming | None = None) -> None:
        """`import_progress`: when a file import's progress message is posted and how often it is edited."""
        self.runtime = runtime
        self.import_progress = import_progress
        self.settings: SlackSettings = runtime.settings.slack
        self.dispatcher = runtime.dispatcher
        self.uow_factory = runtime.store.unit_of_work
        self.ack_budget = ack_budget
        self.session: aiohttp.ClientSession | None = None
        self.client: AsyncWebClient | None = None
        self.bot: SlackBot | None = None
        self.deliverer: Deliverer | None = None
        self.socket: AsyncSocketModeHandler | None = None
        self.port: int | None = None
        self.team_id = ""
        self.workspace_id = ""  # single-token mode: the token's workspace (replies.workspace_key)
        self.bot_user_id = ""
        self.sink: SlackSink | None = None
        self._runner: web.AppRunner | None = None
        self._delivery: asyncio.Task[None] | None = None
        self._stopping = False
        self._nudge_pending = False

    def nudge(self) -> None:
        """A command was committed: deliver soon. Nudges within `NUDGE_DELAY` are one (the deliverer's claim is a
        write transaction, and most commands, lookups above all, have nothing to deliver)."""
        if self._nudge_pending or self.deliverer is None:
            return
        self._nudge_pending = True

        def fire() -> None:
            self._nudge_pending = False
            if self.deliverer is not None:
                self.deliverer.nudge()

        asyncio.get_running_loop().call_later(NUDGE_DELAY, fire)

    def build(self) -> SlackBot:
        """The Web API client and the bolt app (no connection yet)."""
        s = self.settings
        self.session = self.session or aiohttp.ClientSession()
        handlers = retry_handlers()
        # OAuth mode: no token here; bolt's authorize gives each request its workspace's token from the store
        self.client = AsyncWebClient(token=None if s.oauth else secret(s.bot_token), base_url=api_base_url(s.api_url),
                                     session=self.session, retry_handlers=handlers)
        self.bot = SlackBot(self.dispatcher, self.uow_factory, self.client, signing_secret=secret(s.signing_secret),
                            session=self.session, retry_handlers=handlers,
                            renderer=Renderer(confirm_emoji=s.reaction_confirm,
                                              false_positive_emoji=s.reaction_false_positive),
                            confirm_emoji=s.reaction_confirm, false_positive_emoji=s.reaction_false_positive,
                            ack_budget=self.ack_budget, import_progress=self.import_progress,
                            oauth=oauth_settings(s, self.runtime.store.engine, self.client) if s.oauth else None)
        return self.bot

    def socket_handler(self) -> AsyncSocketModeHandler:
        """Socket Mode: bolt's handler with the app-level token, its Web API calls on `slack.api_url`."""
        bot = self.bot or self.build()
        return CheckedSocketModeHandler(bot.app, app_token=secret(self.settings.app_token), web_client=self.client)

    async def start(self) -> None:
        bot = self.build()
        assert self.client is not None
        if self.settings.oauth:
            store = bot.installation_store
            assert store is not None
            self._start_delivery(SlackSink(InstalledWorkspaces(store.bot_token, self.workspace_client), bot.renderer,
                                           remember=bot.remember_card))
            await self._start_http(bot)
            log.info("Slack adapter, OAuth distribution: HTTP mode on %s:%s%s, install page %s; delivering to every "
                     "installed workspace with its own token", self.settings.http_host, self.port,
                     self.settings.http_path, self.settings.install_path)
            return
        auth = await self.client.auth_test()  # a wrong token fails here, at start-up, not at the first message
        self.team_id, self.bot_user_id = str(auth.get("team_id", "")), str(auth.get("user_id", ""))
        self.workspace_id = workspace_key(str(auth.get("enterprise_id") or "") or None, self.team_id or None)
        self._start_delivery(SlackSink(OneWorkspace(self.client, self.workspace_id), bot.renderer,
                                       remember=bot.remember_card))
        if self.settings.mode == "http":
            await self._start_http(bot)
            log.info("Slack adapter for team %s (bot %s): HTTP mode on %s:%s%s", self.team_id, self.bot_user_id,
                     self.settings.http_host, self.port, self.settings.http_path)
        else:
            self.socket = self.socket_handler()
            await self.socket.connect_async()
            log.info("Slack adapter for team %s (bot %s): Socket Mode", self.team_id, self.bot_user_id)

    def workspace_client(self, token: str) -> AsyncWebClient:
        """OAuth mode: a client with one workspace's bot token, on `slack.api_url` with the shared session and the
        same retries as every other client."""
        return AsyncWebClient(token=token, base_url=api_base_url(self.settings.api_url), session=self.session,
                              retry_handlers=retry_handlers())

    def _start_delivery(self, sink: SlackSink) -> None:
        self.sink = sink
        self.deliverer = self.runtime.deliverer(sink)  # configured from [delivery], observed by the metrics
        self.dispatcher.after_commit.append(self.nudge)
        self._delivery = asyncio.create_task(self.deliverer.run_forever(lambda: self._stopping),
                                             name="slack-delivery")

    async def _start_http(self, bot: SlackBot) -> None:
        path = self.settings.http_path
        signing_secret = secret(self.settings.signing_secret)

        async def handle(request: web.Request) -> web.Response:
            raw = await request.read()  # bytes, unparsed, until the signature holds
            status = verify(signing_secret, raw, request.headers.get("X-Slack-Request-Timestamp"),
                            request.headers.get("X-Slack-Signature"))
            if status != 200:
                log.info("Slack HTTP: request refused (%s: %s)", status,
                         "bad timestamp" if status == 400 else "signature or timestamp not valid")
                return web.Response(status=status, text="invalid request" if status == 400 else "unauthorized")
            try:
                parse_body(raw, request.content_type)
                bolt_request = fix_form_body(await to_bolt_request(request))
            except BadRequest as e:
                log.info("Slack HTTP: signed request with a malformed body refused (%s)", e)
                return web.Response(status=400, text="malformed body")
            return await to_aiohttp_response(await bot.app.async_dispatch(bolt_request))

        web_app = web.Application(client_max_size=MAX_BODY)
        web_app.router.add_post(path, handle)
        flow = bot.app.oauth_flow
        if flow is not None:  # OAuth distribution: the install page and the redirect (bolt's, unsigned GETs)
            async def install(request: web.Request) -> web.Response:
                return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

            async def redirect(request: web.Request) -> web.Response:
                return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

            web_app.router.add_get(self.settings.install_path, install)
            web_app.router.add_get(self.settings.redirect_path, redirect)
        self._runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.http_host, self.settings.http_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        """The HTTP endpoint (HTTP mode)."""
        host = self.settings.http_host if self.settings.http_host not in {"0.0.0.0", "::"} else "127.0.0.1"  # noqa: S104
        return f"http://{host}:{self.port}{self.settings.http_path}"

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until no handler runs and the outbox holds no Slack row this process is to deliver (tests,
        benchmarks): another workspace's lane, left to the process with its token, is not waited for."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self.bot is not None:
                await self.bot.idle(max(0.0, deadline - loop.time()))
            pending = 0
            if self.deliverer is not None and self.sink is not None:  # the rows of the lanes this process serves
                serving = self.sink.workspaces
                async with self.uow_factory(read_only=True) as uow:
                    pending = sum(lane.rows for lane in await uow.outbox.pending_lanes(self.dispatcher.clock())
                                  if lane.platform is Platform.SLACK
                                  and (serving is None or lane.workspace_id is None or lane.workspace_id in serving))
            busy = self.bot is not None and any(not t.done() for t in self.bot._inflight)
            if not pending and not busy:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"Slack adapter not settled: {pending} outbox rows to deliver")
            if self.deliverer is not None:
                self.deliverer.nudge()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        self._stopping = True
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close_async()
        if self._runner is not None:
            await self._runner.cleanup()  # no new requests; the ones in flight are answered
        if self.bot is not None:
            await self.bot.idle(10.0)
        if self.deliverer is not None:
            with contextlib.suppress(ValueError):
                self.dispatcher.after_commit.remove(self.nudge)
            self.deliverer.nudge()
        if self._delivery is not None:
            try:
                await asyncio.wait_for(self._delivery, 10.0)
            except TimeoutError:
                log.warning("Slack delivery did not stop in time; the outbox keeps what is left")
        if self.session is not None:
            await self.session.close()

