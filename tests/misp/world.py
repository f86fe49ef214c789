"""A small coalition for the MISP tests: two organizations, their members and API keys, indicators at every TLP
(one anonymous, one pending), votes and sightings; the TAXII server on a free port; the command line in-process."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from typer.testing import CliRunner, Result

from adapters.cli import app
from adapters.config import TaxiiSettings
from adapters.taxii import create_app
from bot import exchange
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Identity, Platform, Role
from storage.uow import Store

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SHA256, MD5 = "a" * 64, "b" * 32


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    store: Store
    url: str
    dispatcher: Dispatcher
    clock: Clock
    keys: dict[str, str]
    base: str = ""

    async def say(self, who: str, text: str) -> Any:
        reply = await self.dispatcher.handle_text(text, Actor(Platform.CONSOLE, "t", who, "dm", private=True))
        assert "Error" not in type(reply.result).__name__, reply.result
        return reply.result

    async def get(self, path: str, org: str | None = "Northbank",
                  headers: dict[str, str] | None = None) -> tuple[int, bytes, CIMultiDict[str]]:
        sent = dict(headers or {})
        if org:
            sent["Authorization"] = f"Bearer {self.keys[org]}"
        async with aiohttp.ClientSession() as http, http.get(self.base + path, headers=sent) as response:
            return response.status, await response.read(), CIMultiDict(response.headers)

    async def cli(self, *args: str) -> Result:
        """`coalition-bot ARGS --database URL`, in-process through the typer app (its own event loop, in a
        thread: not this test's)."""
        return await asyncio.to_thread(CliRunner().invoke, app, [*args, "--database", self.url])

    async def count(self) -> int:
        async with self.store.unit_of_work(read_only=True) as uow:
            return len(await uow.exchange.indicators_by_ids(range(1, 1000)))


async def seed(store: Store, url: str) -> World:
    clock = Clock()
    dispatcher = Dispatcher(store.unit_of_work, clock=clock)
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("Northbank", "finance", 70)
        vendor = await uow.organizations.add("Sentinel Security", "security", 80)
        for name, org, role in (("alice", bank, Role.MEMBER), ("bob", vendor, Role.MEMBER),
                                ("mod", vendor, Role.MODERATOR), ("mod2", bank, Role.MODERATOR)):
            member = await uow.members.add(org.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, "t", name))
        keys = {org: (await exchange.create_api_key(uow, org, "misp", created_by=None, now=clock())).key
                for org in ("Northbank", "Sentinel Security")}
        await uow.commit()
    return World(store, url, dispatcher, clock, keys)


async def fill(world: World) -> None:
    """#1-#5 bob GREEN (tag c2, a note), #6-#9 bob AMBER (hashes, CVE, ASN), #10 bob pending, #11-#12 alice
    AMBER+STRICT, #13 alice RED, #14 alice anonymous CLEAR, #15 bob AMBER+STRICT; all but #10 approved; votes
    and sightings on #1, #2 and #14."""
    say = world.say
    await say("bob", "submit 198.51.100.7 198.51.100.0/24 2001:db8::1 evil-one.example "
                     "hxxp://evil-two[.]example/gate.php tlp:green tags:c2 seen at the gate")
    await say("bob", f"submit {SHA256} {MD5} CVE-2024-3400 AS64500 tlp:amber")
    await say("bob", "submit pending-only.example tlp:green")
    await say("alice", "submit strict-secret.example 203.0.113.9 tlp:amber+strict")
    await say("alice", "submit red-secret.example tlp:red")
    await say("alice", "submit anon-only.example tlp:clear anon")
    await say("bob", "submit bob-strict.example tlp:amber+strict")
    world.clock.advance(minutes=5)
    await say("mod", "approve " + " ".join(f"#{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15)))
    await say("mod2", "approve #11 #12 #13")
    world.clock.advance(minutes=5)
    await say("alice", "vote #1 confirm blocked it here")
    await say("mod2", "vote #2 fp our own range")
    await say("alice", "sighting #4 count:3")
    await say("bob", "vote #14 confirm")


async def serve(world: World) -> web.AppRunner:
    config = TaxiiSettings(enabled=True, host="127.0.0.1", port=0)
    runner = web.AppRunner(create_app(world.store.unit_of_work, world.dispatcher, config))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    world.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    return runner


def feed_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def misp_event(attributes: list[dict[str, Any]], tags: tuple[str, ...] = ("tlp:green",),
               objects: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A MISP event as a MISP instance exports it (the fields an import reads, and some it ignores)."""
    event: dict[str, Any] = {
        "uuid": "5e0b8c4e-1f9a-4d3b-9c2e-7a6b5c4d3e2f", "info": "Phishing wave against banks", "date": "2026-10-30",
        "threat_level_id": "2", "analysis": "1", "distribution": "1", "published": True,
        "Orgc": {"name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"},
        "Tag": [{"name": t} for t in tags], "Attribute": attributes}
    if objects:
        event["Object"] = objects
    return {"Event": event}


def attribute(type_: str, value: str, *, to_ids: bool = True, tags: tuple[str, ...] = (), comment: str = "",
              n: int = 0) -> dict[str, Any]:
    return {"uuid": f"6f1c9d5f-2a0b-4e4c-8d3f-{n:012d}", "type": type_, "category": "Network activity",
            "value": value, "to_ids": to_ids, "comment": comment, "timestamp": "1793523600",
            "Tag": [{"name": t} for t in tags]}


def dump(doc: Any) -> bytes:
    return json.dumps(doc).encode()
