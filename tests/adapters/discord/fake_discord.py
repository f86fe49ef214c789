"""A small fake Discord on 127.0.0.1 for driving the real discord.py client in tests and benchmarks.

It speaks just enough of Discord's REST API (v10) and gateway protocol for Coalition Bot's Discord adapter:

* REST under ``fake.api_url`` (``http://127.0.0.1:PORT/api/v10``): ``users/@me``, ``applications/@me``,
  ``gateway[/bot]``, application commands (bulk overwrite, global and per guild), interaction callbacks,
  the interaction webhook (``@original`` GET/PATCH/DELETE, follow-ups), channel messages (POST, GET, PATCH,
  history), DM channels (``users/@me/channels``), reactions, and attachment downloads (``fake.add_file``).
  Multipart bodies (file uploads) are parsed: ``payload_json`` becomes the call's ``json``, files ``files``.
* A websocket gateway at ``fake.gateway_url``: HELLO, heartbeat ACKs, IDENTIFY -> READY + GUILD_CREATE for
  every guild added with ``add_guild``, RESUME -> RESUMED, and ``await fake.dispatch(EVENT, data)`` to
  push any event (MESSAGE_CREATE, MESSAGE_REACTION_ADD, INTERACTION_CREATE, ...) to connected clients.

Every REST call is recorded in ``fake.calls`` as a :class:`Call` (method, path, query, json, files).
``await fake.wait_for_call(method, path_regex, after=index, predicate=..., timeout=5)`` waits for one.
JSON responses carry ``Content-Type: application/json`` exactly (discord.py parses JSON only then).

Payload builders (``user``, ``slash``, ``component``, ``modal_submit``, ``autocomplete``,
``message_create``, ``reaction``) produce the shapes discord.py 2.7 parses; interactions carry
``attachment_size_limit``, which discord.py requires. Typical use::

    fake = FakeDiscord()
    await fake.start()
    fake.add_guild(GUILD, channels=[CHANNEL], members=[fake.user(ALICE, "alice")])
    ...  # start the bot with discord.api_url = fake.api_url, discord.gateway_url = fake.gateway_url
    await fake.wait_ready()
    mark = len(fake.calls)
    await fake.dispatch("INTERACTION_CREATE", fake.slash("ioc", "lookup", {"values": "1.2.3.4"},
                                                         user=alice, guild_id=GUILD, channel_id=CHANNEL))
    call = await fake.wait_for_call("POST", r"/interactions/\\d+/[^/]+/callback", after=mark)
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

APPLICATION_ID = 900000000000000001
BOT_ID = 900000000000000002
ALL_PERMISSIONS = str((1 << 50) - 1)
VIEW_CHANNEL, SEND_MESSAGES, ADMINISTRATOR = 1 << 10, 1 << 11, 1 << 3


@dataclass
class Call:
    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # form name -> (filename, data)
    at: float = field(default_factory=time.perf_counter)


def _snowflakes():
    """Ids as Discord makes them: the creation time in their high bits (so `after=<a time>` means what it says),
    always increasing."""
    last = 0
    while True:
        last = max(last + 1, int(time.time() * 1000 - 1420070400000) << 22)
        yield last


class FakeDiscord:
    def __init__(self, *, application_id: int = APPLICATION_ID, bot_id: int = BOT_ID, bot_name: str = "Coalition Bot",
                 record: bool = True) -> None:
        self.application_id = application_id
        self.bot = {"id": str(bot_id), "username": bot_name, "discriminator": "0", "global_name": bot_name,
                    "avatar": None, "bot": True, "flags": 0}
        self.record = record
        self.calls: list[Call] = []
        self.guilds: dict[int, dict[str, Any]] = {}
        self.gone_channels: set[int] = set()  # channels of guilds the bot was removed from (remove_guild)
        self.refused: list[Call] = []  # calls about those channels, each answered 403
        # the bot's permissions in a channel, as Discord resolves them (overwrites included) into an interaction's
        # app_permissions there (default: all); one without View Channel refuses its messages 403 Missing Access
        # (50001), one without Send Messages refuses a post 403 Missing Permissions (50013), both recorded in refused
        self.channel_permissions: dict[int, int] = {}
        self.messages: dict[int, dict[int, dict[str, Any]]] = {}  # channel id -> message id -> payload
        self.originals: dict[str, dict[str, Any]] = {}  # interaction token -> original response message
        self.files: dict[str, bytes] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> last bulk overwrite
        self.identifies: list[dict[str, Any]] = []
        self.tokens: dict[str, tuple[int, int | None]] = {}  # interaction token -> (channel id, guild id)
        self.dm_channels: dict[int, int] = {}  # user id -> the bot's DM channel with them
        self.threads: dict[int, dict[str, Any]] = {}  # thread id (= the message it was started on) -> the thread
        # Awaited after a REST call is recorded and applied, before its response goes out: a test can hold a
        # response (the platform did the work, the bot never hears back) to play a process dying mid-call.
        self.before_response: Callable[[Call], Awaitable[None]] | None = None
        # Each matches one call at most: done, but answered 503 (the bot hears of a failure: a retry must find it).
        self.lost: list[Callable[[Call], bool]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self._seq: dict[int, int] = {}
        self._ids = _snowflakes()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/files/{name}", self._file)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.host = host

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    def next_id(self) -> int:
        return next(self._ids)

    # ------------------------------------------------------------------ world

    def user(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name, "avatar": None,
                "bot": bot, "flags": 0}

    def member(self, user: dict[str, Any]) -> dict[str, Any]:
        return {"user": user, "roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0,
                "permissions": ALL_PERMISSIONS}

    def add_guild(self, guild_id: int, *, channels: list[int], members: list[dict[str, Any]] = (),  # type: ignore[assignment]
                  name: str = "Coalition") -> None:
        self.guilds[guild_id] = {
            "id": str(guild_id), "name": name, "owner_id": self.bot["id"], "icon": None, "splash": None,
            "roles": [{"id": str(guild_id), "name": "@everyone", "permissions": ALL_PERMISSIONS, "position": 0,
                       "color": 0, "hoist": False, "managed": False, "mentionable": False, "flags": 0}],
            "emojis": [], "stickers": [], "features": [],
            "channels": [{"id": str(c), "type": 0, "name": f"channel-{i}", "position": i, "guild_id": str(guild_id),
                          "permission_overwrites": [], "nsfw": False, "parent_id": None}
                         for i, c in enumerate(channels)],
            "members": [self.member(self.bot), *(self.member(u) for u in members)],
            "member_count": len(members) + 1, "threads": [], "presences": [], "voice_states": [],
            "stage_instances": [], "guild_scheduled_events": [], "unavailable": False, "large": False,
            "joined_at": _now(), "mfa_level": 0, "verification_level": 0, "explicit_content_filter": 0,
            "default_message_notifications": 0, "system_channel_flags": 0, "premium_tier": 0,
            "preferred_locale": "en-US", "nsfw_level": 0, "afk_timeout": 300, "afk_channel_id": None,
            "system_channel_id": None, "rules_channel_id": None, "public_updates_channel_id": None,
            "vanity_url_code": None, "description": None, "banner": None, "premium_subscription_count": 0,
            "max_members": 1000, "application_id": None,
        }
        for c in channels:
            self.messages.setdefault(c, {})

    async def join_guild(self, guild_id: int, *, channels: list[int], members: list[dict[str, Any]] = (),  # type: ignore[assignment]
                         name: str = "Coalition") -> None:
        """The bot is added to a guild while connected: GUILD_CREATE to every connected client."""
        self.add_guild(guild_id, channels=channels, members=members, name=name)
        await self.dispatch("GUILD_CREATE", self.guilds[guild_id])

    async def remove_guild(self, guild_id: int, *, connected: bool = True) -> None:
        """The bot is removed from a guild (kicked, or the guild deleted): GUILD_DELETE to connected clients
        (`connected=False`: none is told, as when no process was connected). From then on every REST call about
        one of its channels is refused like Discord's (403 Missing Access) and recorded in `refused`."""
        guild = self.guilds.pop(guild_id)
        self.gone_channels |= {int(c["id"]) for c in guild["channels"]}
        if connected:
            await self.dispatch("GUILD_DELETE", {"id": str(guild_id)})

    def chatter(self, channel_id: int, count: int, *, user_id: int = 1) -> None:
        """`count` people's messages in a channel (or DM channel), as if the conversation went on."""
        store = self.messages.setdefault(channel_id, {})
        author = self.user(user_id, "someone")
        for i in range(count):
            msg = self._message(channel_id, {"content": f"chatter {i}"}, author=author)
            store[int(msg["id"])] = msg

    def add_file(self, name: str, data: bytes) -> str:
        """Serve `data` as an attachment; returns its URL."""
        self.files[name] = data
        return f"http://{self.host}:{self.port}/files/{name}"

    # ------------------------------------------------------------------ recorded calls

    async def wait_for_call(self, method: str, path: str, *, after: int = 0, predicate=None,
                            timeout: float = 5.0) -> Call:  # noqa: ASYNC109
        """The first call at index >= `after` whose method matches and whose path fully matches the regex."""
        pattern = re.compile(path)

        def find() -> Call | None:
            for call in self.calls[after:]:
                if call.method == method and pattern.fullmatch(call.path) and (predicate is None or predicate(call)):
                    return call
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(find), timeout)
        found = find()
        assert found is not None
        return found

    def calls_to(self, method: str, path: str, *, after: int = 0) -> list[Call]:
        pattern = re.compile(path)
        return [c for c in self.calls[after:] if c.method == method and pattern.fullmatch(c.path)]

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ------------------------------------------------------------------ gateway

    async def wait_ready(self, timeout: float = 10.0, count: int = 1) -> None:  # noqa: ASYNC109
        """Until `count` IDENTIFYs were answered with READY (one per started client)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.identifies) >= count), timeout)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            if not ws.closed:
                await self._send_dispatch(ws, event, data)

    async def _send_dispatch(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        seq = self._seq[id(ws)] = self._seq.get(id(ws), 0) + 1
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": seq, "d": data}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.sockets.append(ws)
        try:
            await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
            async for msg in ws:
                if msg.type.name != "TEXT":
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    await self._send_dispatch(ws, "READY", {
                        "v": 10, "user": self.bot, "session_id": f"session-{self.next_id()}",
                        "resume_gateway_url": self.gateway_url, "shard": [0, 1],
                        "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
                        "application": {"id": str(self.application_id), "flags": 0},
                        "private_channels": [], "relationships": [],
                    })
                    for guild in self.guilds.values():
                        await self._send_dispatch(ws, "GUILD_CREATE", guild)
                    self.identifies.append(payload["d"])
                    await self._notify()
                elif op == 6:
                    await self._send_dispatch(ws, "RESUMED", {})
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    # ------------------------------------------------------------------ payload builders

    def _interaction(self, kind: int, data: dict[str, Any], *, user: dict[str, Any], guild_id: int | None,
                     channel_id: int, message: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.next_id()), "application_id": str(self.application_id), "type": kind,
            "token": f"tok{self.next_id()}", "version": 1, "channel_id": str(channel_id), "data": data,
            "locale": "en-US", "app_permissions": str(self.channel_permissions.get(channel_id, ALL_PERMISSIONS)),
            "entitlements": [],
            "attachment_size_limit": 25 * 1024 * 1024,
            "authorizing_integration_owners": {"0": str(guild_id)} if guild_id else {"1": user["id"]},
            "context": 0 if guild_id else 1,
        }
        self.tokens[payload["token"]] = (channel_id, guild_id)
        if guild_id is not None:
            channel = self.threads.get(channel_id) or {  # a thread (on a message) names its parent channel
                "id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "channel", "position": 0,
                "permission_overwrites": [], "nsfw": False, "parent_id": None}
            payload.update(guild_id=str(guild_id), guild_locale="en-US", member=self.member(user), channel=channel)
        else:
            payload.update(user=user, channel={"id": str(channel_id), "type": 1, "recipients": [user]})
        if message is not None:
            payload["message"] = message
        return payload

    def slash(self, group: str, sub: str, options: dict[str, Any], *, user: dict[str, Any], guild_id: int | None,
              channel_id: int, attachments: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """`/group sub name:value ...`; option types are guessed from the values (str 3, bool 5, int 4);
        `attachments` maps option names to attachment payloads (type 11)."""
        opts = [{"name": k, "type": 5 if isinstance(v, bool) else 4 if isinstance(v, int) else 3, "value": v}
                for k, v in options.items()]
        data: dict[str, Any] = {"id": str(self.next_id()), "name": group, "type": 1,
                                "options": [{"name": sub, "type": 1, "options": opts}]}
        if attachments:
            resolved = {}
            for name, att in attachments.items():
                opts.append({"name": name, "type": 11, "value": att["id"]})
                resolved[att["id"]] = att
            data["resolved"] = {"attachments": resolved}
        return self._interaction(2, data, user=user, guild_id=guild_id, channel_id=channel_id)

    def message_command(self, name: str, message: dict[str, Any], *, user: dict[str, Any], guild_id: int | None,
                        channel_id: int) -> dict[str, Any]:
        data = {"id": str(self.next_id()), "name": name, "type": 3, "target_id": message["id"],
                "resolved": {"messages": {message["id"]: message}}}
        return self._interaction(2, data, user=user, guild_id=guild_id, channel_id=channel_id)

    def autocomplete(self, group: str, sub: str, options: dict[str, Any], focused: str, *, user: dict[str, Any],
                     guild_id: int | None, channel_id: int) -> dict[str, Any]:
        opts = [{"name": k, "type": 4 if isinstance(v, int) and not isinstance(v, bool) else 3, "value": v,
                 **({"focused": True} if k == focused else {})} for k, v in options.items()]
        data = {"id": str(self.next_id()), "name": group, "type": 1,
                "options": [{"name": sub, "type": 1, "options": opts}]}
        return self._interaction(4, data, user=user, guild_id=guild_id, channel_id=channel_id)

    def component(self, custom_id: str, message: dict[str, Any], *, user: dict[str, Any], guild_id: int | None,
                  channel_id: int) -> dict[str, Any]:
        """A button press on `message` (a payload from `fake.messages` or an interaction's original)."""
        return self._interaction(3, {"custom_id": custom_id, "component_type": 2}, user=user, guild_id=guild_id,
                                 channel_id=channel_id, message=message)

    def modal_submit(self, modal: dict[str, Any], values: dict[str, str], *, user: dict[str, Any],
                     guild_id: int | None, channel_id: int, message: dict[str, Any] | None = None) -> dict[str, Any]:
        """Submit the modal a callback of type 9 opened (`modal` is that callback's `data`), text inputs
        filled from `values` (by custom id; missing ones empty)."""
        rows = []
        for comp in modal["components"]:
            inner = comp.get("components") or [comp.get("component")]
            for item in inner:
                if item and item.get("type") == 4:
                    rows.append({"type": 1, "components": [{"type": 4, "custom_id": item["custom_id"],
                                                            "value": values.get(item["custom_id"], "")}]})
        return self._interaction(5, {"custom_id": modal["custom_id"], "components": rows}, user=user,
                                 guild_id=guild_id, channel_id=channel_id, message=message)

    def message_create(self, content: str, *, author: dict[str, Any], channel_id: int, guild_id: int | None,
                       attachments: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        msg = self._message(channel_id, {"content": content, "attachments": list(attachments)}, author=author,
                            guild_id=guild_id)
        if guild_id is not None:
            msg["member"] = {k: v for k, v in self.member(author).items() if k != "user"}
        return msg

    def attachment(self, filename: str, data: bytes, content_type: str = "application/json") -> dict[str, Any]:
        url = self.add_file(filename, data)
        return {"id": str(self.next_id()), "filename": filename, "size": len(data), "url": url, "proxy_url": url,
                "content_type": content_type}

    def reaction(self, emoji: str, *, user_id: int, channel_id: int, message_id: int | str,
                 guild_id: int | None) -> dict[str, Any]:
        data: dict[str, Any] = {"user_id": str(user_id), "channel_id": str(channel_id), "message_id": str(message_id),
                                "emoji": {"id": None, "name": emoji}, "burst": False, "type": 0,
                                "message_author_id": self.bot["id"], "burst_colors": []}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
            data["member"] = self.member(self.user(user_id, f"user{user_id}"))
        return data

    def _message(self, channel_id: int, body: dict[str, Any], *, author: dict[str, Any] | None = None,
                 guild_id: int | None = None, message_id: int | None = None, flags: int = 0) -> dict[str, Any]:
        msg = {
            "id": str(message_id or self.next_id()), "channel_id": str(channel_id), "author": author or self.bot,
            "content": body.get("content") or "", "timestamp": _now(), "edited_timestamp": None, "tts": False,
            "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": body.get("attachments", []),
            "embeds": body.get("embeds") or [], "pinned": False, "type": 0, "components": body.get("components") or [],
            "flags": body.get("flags", flags) or 0,
        }
        if guild_id is not None:
            msg["guild_id"] = str(guild_id)
        return msg

    def _guild_of(self, channel_id: int) -> int | None:
        for gid, guild in self.guilds.items():
            if any(int(c["id"]) == channel_id for c in guild["channels"]):
                return gid
        return None

    # ------------------------------------------------------------------ REST

    async def _file(self, request: web.Request) -> web.Response:
        data = self.files.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: dict[str, tuple[str, bytes]] = {}
        if request.content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files[part.name or ""] = (part.filename or "", await part.read())
        elif request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        call = Call(request.method, path, dict(request.query), body, files)
        if self.record:
            self.calls.append(call)
        try:
            status, payload = self._route(call)
        finally:
            await self._notify()
        if self.before_response is not None:
            await self.before_response(call)
        if status < 300 and (lose := next((f for f in self.lost if f(call)), None)) is not None:
            self.lost.remove(lose)
            return web.Response(status=503, body=b'{"message": "Service Unavailable", "code": 0}',
                                headers={"Content-Type": "application/json"})
        if status == 204:
            return web.Response(status=204)
        # exactly `application/json` (no charset): discord.py parses JSON only then
        return web.Response(status=status, body=json.dumps(payload).encode(),
                            headers={"Content-Type": "application/json"})

    def _route(self, call: Call) -> tuple[int, Any]:
        m, p, body = call.method, call.path, call.json or {}
        if (gone := re.match(r"/channels/(\d+)", p)) and int(gone.group(1)) in self.gone_channels:
            self.refused.append(call)
            return 403, {"message": "Missing Access", "code": 50001}
        if (where := re.match(r"/channels/(\d+)/messages", p)) and int(where.group(1)) in self.channel_permissions:
            allowed = self.channel_permissions[int(where.group(1))]
            if not allowed & VIEW_CHANNEL:
                self.refused.append(call)
                return 403, {"message": "Missing Access", "code": 50001}
            if m == "POST" and not allowed & SEND_MESSAGES:
                self.refused.append(call)
                return 403, {"message": "Missing Permissions", "code": 50013}
        if p == "/users/@me" and m == "GET":
            return 200, self.bot
        if p in ("/applications/@me", "/oauth2/applications/@me") and m == "GET":
            return 200, {"id": str(self.application_id), "name": "Coalition Bot", "icon": None, "description": "",
                         "bot_public": False, "bot_require_code_grant": False, "verify_key": "0" * 64,
                         "flags": 0, "owner": self.user(1, "owner"), "team": None}
        if p in ("/gateway", "/gateway/bot") and m == "GET":
            return 200, {"url": self.gateway_url, "shards": 1,
                         "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0,
                                                 "max_concurrency": 1}}
        if r := re.fullmatch(r"/applications/(\d+)(?:/guilds/(\d+))?/commands", p):
            scope = r.group(2) or "global"
            if m == "PUT":
                cmds = [{"description": "", "options": [], "default_member_permissions": None, "nsfw": False, **c,
                         "id": str(self.next_id()), "application_id": r.group(1), "version": "1",
                         **({"guild_id": scope} if r.group(2) else {})} for c in body]
                self.commands[scope] = cmds
                return 200, cmds
            return 200, self.commands.get(scope, [])
        if r := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", p):
            token = r.group(2)
            kind = body.get("type")
            data = body.get("data") or {}
            channel_id, guild_id = self.tokens.get(token, (0, None))
            response: dict[str, Any] = {"interaction": {"id": r.group(1), "type": 2}}
            if kind in (4, 5):
                flags = int(data.get("flags") or 0)
                msg = self._message(channel_id, data, flags=flags | (128 if kind == 5 else 0), guild_id=guild_id)
                self.originals[token] = msg
                if not flags & 64:
                    self.messages.setdefault(channel_id, {})[int(msg["id"])] = msg
                response["interaction"].update(response_message_id=msg["id"],
                                               response_message_loading=kind == 5,
                                               response_message_ephemeral=bool(flags & 64))
                response["resource"] = {"type": kind, "message": msg}
            elif kind == 7:  # update the component's message
                response["resource"] = {"type": 7}
            else:
                response["resource"] = {"type": kind}
            return 200, response
        if r := re.fullmatch(r"/webhooks/(\d+)/([^/]+)/messages/(@original|\d+)", p):
            token, which = r.group(2), r.group(3)
            if which == "@original":
                msg = self.originals.get(token)
                if msg is None:
                    return 404, {"message": "Unknown Message", "code": 10008}
                if m == "DELETE":
                    del self.originals[token]
                    return 204, None
                if m == "PATCH":
                    msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
                    msg["flags"] = int(msg.get("flags") or 0) & ~128
                return 200, msg
            if m == "DELETE":
                return 204, None
            return 200, self._message(0, body, message_id=int(which))
        if (r := re.fullmatch(r"/webhooks/(\d+)/([^/]+)", p)) and m == "POST":
            channel_id, guild_id = self.tokens.get(r.group(2), (0, None))
            msg = self._message(channel_id, body, guild_id=guild_id)
            if not int(body.get("flags") or 0) & 64:
                self.messages.setdefault(channel_id, {})[int(msg["id"])] = msg
            return 200, msg
        if (r := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", p)) and m == "POST":
            channel_id, message_id = int(r.group(1)), int(r.group(2))
            if message_id not in self.messages.get(channel_id, {}):
                return 404, {"message": "Unknown Message", "code": 10008}
            if message_id in self.threads:
                return 400, {"message": "A thread has already been created for this message", "code": 160004}
            guild_id = self._guild_of(channel_id)
            thread = {"id": str(message_id), "type": 11, "parent_id": str(channel_id), "name": body.get("name"),
                      "owner_id": self.bot["id"], "last_message_id": None, "rate_limit_per_user": 0,
                      "message_count": 0, "member_count": 1, "flags": 0, "total_message_sent": 0,
                      "thread_metadata": {"archived": False, "locked": False, "archive_timestamp": _now(),
                                          "auto_archive_duration": body.get("auto_archive_duration", 1440)},
                      **({"guild_id": str(guild_id)} if guild_id is not None else {})}
            self.threads[message_id] = thread
            self.messages.setdefault(message_id, {})
            self.messages[channel_id][message_id]["thread"] = thread
            return 201, thread
        if (r := re.fullmatch(r"/channels/(\d+)/messages", p)) and int(r.group(1)) not in self.threads and any(
                int(r.group(1)) in msgs for msgs in self.messages.values()):  # a message's id, but no thread on it
            return 404, {"message": "Unknown Channel", "code": 10003}
        if r := re.fullmatch(r"/channels/(\d+)/messages", p):
            channel_id = int(r.group(1))
            store = self.messages.setdefault(channel_id, {})
            if m == "POST":
                msg = self._message(channel_id, body, guild_id=self._guild_of(channel_id))
                if call.files:
                    msg["attachments"] = [{"id": str(self.next_id()), "filename": fn, "size": len(data),
                                           "url": "", "proxy_url": ""} for fn, data in call.files.values()]
                store[int(msg["id"])] = msg
                return 200, msg
            # like Discord: `before` / `after` an id (the oldest ones after it), at most `limit`, newest first
            limit = min(int(call.query.get("limit", 50)), 100)
            if "after" in call.query:
                after = int(call.query["after"])
                page = sorted((x for i, x in store.items() if i > after), key=lambda x: int(x["id"]))[:limit]
                return 200, page[::-1]
            before = int(call.query.get("before", 0)) or None
            return 200, sorted((x for i, x in store.items() if before is None or i < before),
                               key=lambda x: -int(x["id"]))[:limit]
        if r := re.fullmatch(r"/channels/(\d+)/messages/(\d+)", p):
            msg = self.messages.get(int(r.group(1)), {}).get(int(r.group(2)))
            if msg is None:
                return 404, {"message": "Unknown Message", "code": 10008}
            if m == "PATCH":
                msg.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
                msg["edited_timestamp"] = _now()
            elif m == "DELETE":
                del self.messages[int(r.group(1))][int(r.group(2))]
                return 204, None
            return 200, msg
        if re.fullmatch(r"/channels/(\d+)/messages/(\d+)/reactions/[^/]+/@me", p):
            return 204, None
        if p == "/users/@me/channels" and m == "POST":  # one DM channel per person, as on Discord
            channel_id = self.dm_channels.setdefault(int(body["recipient_id"]), self.next_id())
            self.messages.setdefault(channel_id, {})
            return 200, {"id": str(channel_id), "type": 1, "last_message_id": None,
                         "recipients": [self.user(int(body["recipient_id"]), f"user{body['recipient_id']}")]}
        return 404, {"message": f"fake Discord has no route {m} {p}", "code": 0}


def _now() -> str:
    return datetime.now(UTC).isoformat()
