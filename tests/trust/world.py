"""Two (or three) worlds built by the same script, and what one person observes of one command in each.

A *world* is a fresh store seeded the same way every time: three organizations (A = Northbank, B = Sentinel
Security, C = National Cyber Unit), in A a submitter, a second member, a moderator and an admin, in B a member,
a moderator and an admin, in C a member and a moderator; every person linked on Slack and Discord; on each
platform general channels of ceiling CLEAR, GREEN and AMBER (passive mode on, lookups answered in the channel),
a moderation and a feed channel; an API key per organization; one visible background indicator (#1, GREEN,
approved). Then, depending on the world's kind:

* ``absent``: nothing more (the probed value V, #2 and V's STIX id are unknown);
* ``held``: A's submitter holds V (#2) at the TLP under test, anonymous or not, pending or approved, with a
  confirmation and a sighting by A's admin, and the network NET (#3) likewise (issue 12's pivots: V is a subdomain
  of PARENT, NET contains NET_ADDRESS, so a lookup of either, `search within:NET` and `search domain:PARENT` are
  about A's items without naming them);
* ``other``: the same, but of a different value W (so that ids, counts and shapes align with ``held`` when
  the command under test creates rows).

`observe` runs one probe (a chat command through the dispatcher, a button or a removed reaction as the adapters
turn them into commands, a passive-mode message, a file import in chat, an organization's import and export as
the CLI does them, TAXII GETs and POST over HTTP) and records everything the probe produces: the reply (plain
text, Slack Block Kit, Discord message, the file), whether it is private, and for probes with side effects
whether any row was written, the outbox rows and what their delivery would post and to whom
(bot.delivery.plan: channel cards, edits, direct-message notices, one-line notices), the audit rows, the counts
the viewer sees afterwards (stats, search), and the state of A's item (row, votes, sightings, audit) before and
after.

Normalisations (the only differences allowed between worlds), applied to every recorded string:

* UUIDs (``--8-4-4-4-12``) become ``--<uuid>``: new items get random STIX ids, TAXII statuses random ids;
* ``reference 1a2b3c4d`` of an internal error becomes ``reference <ref>`` (random per error);
* in the TAXII POST's status resource, ISO timestamps become ``<now>`` (its request_timestamp is the wall
  clock); the core's clock is fixed (`BUILT_AT`, then `PROBED_AT`), so no other time differs;
* outbox and audit rows are compared without their row ids and delivery keys (the seeding of ``held``
  wrote more rows than that of ``absent``, so the row ids of what the probe writes differ; their content may
  not).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from adapters.config import TaxiiSettings
from adapters.discord import render as discord_render
from adapters.slack.blocks import Renderer as SlackRenderer
from adapters.taxii import create_app
from bot import actions, commands, delivery, exchange, rules, services
from bot.audience import Reply
from bot.dispatcher import Dispatcher
from bot.domain import (
    Actor,
    Channel,
    ChannelPurpose,
    ExportFilter,
    Identity,
    Indicator,
    Member,
    OutboxEvent,
    Platform,
    Role,
    Status,
    Verdict,
)
from bot.policy import Policy
from bot.results import InternalError, UserError
from bot.text import render
from bot.tlp import TLP
from storage.models import ALL_TABLES, AuditRow, IndicatorRow, MemberRow, OutboxRow, SightingRow, VoteRow
from storage.uow import Store, create_store

BUILT_AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PROBED_AT = BUILT_AT + timedelta(hours=1)  # probes run later, so that a `touch` of A's item would show

ORG_A, ORG_B, ORG_C = "Northbank", "Sentinel Security", "National Cyber Unit"
ORGANIZATIONS = [(ORG_A, "finance", 70), (ORG_B, "security vendor", 80), (ORG_C, "law enforcement", 90)]
SUBMITTER = "a_member"
PEOPLE = [  # name, organization, role
    (SUBMITTER, ORG_A, Role.MEMBER),
    ("a_member2", ORG_A, Role.MEMBER),
    ("a_moderator", ORG_A, Role.MODERATOR),
    ("a_admin", ORG_A, Role.ADMIN),
    ("b_member", ORG_B, Role.MEMBER),
    ("b_moderator", ORG_B, Role.MODERATOR),
    ("b_admin", ORG_B, Role.ADMIN),
    ("c_member", ORG_C, Role.MEMBER),
    ("c_moderator", ORG_C, Role.MODERATOR),
]
VIEWERS = [name for name, _, _ in PEOPLE if not name.startswith("c_")]
WORKSPACES = {Platform.SLACK: "T0TRUST", Platform.DISCORD: "G0TRUST"}
PLATFORMS = (Platform.SLACK, Platform.DISCORD)
# Where a command is typed: a direct message, a channel no admin registered (policy default ceiling), and
# registered general channels of each shareable ceiling.
PLACES: dict[str, TLP | None] = {"dm": None, "none": None, "clear": TLP.CLEAR, "green": TLP.GREEN,
                                 "amber": TLP.AMBER}
API_KEYS = {ORG_A: "cbk_trust-probe-key-of-northbank-0000000000000",
            ORG_B: "cbk_trust-probe-key-of-sentinel-0000000000000",
            ORG_C: "cbk_trust-probe-key-of-ncu-00000000000000000000"}

V = "v-probe.pivot.example"  # the value probed for
PARENT = "pivot.example"  # V's parent domain, which nobody holds
NET = "203.0.113.0/24"  # A's network (#3), held with V in the ``held`` and ``other`` worlds
NET_ADDRESS = "203.0.113.7"  # inside NET, which nobody holds
W = "w-probe.example"  # the other value the ``other`` world holds instead
TAG = "trust-probe"
BACKGROUND = "198.51.100.7"
NOTE = "seen in our SOC"


class Clock:
    def __init__(self) -> None:
        self.now = BUILT_AT

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    store: Store
    dispatcher: Dispatcher
    clock: Clock
    kind: str
    members: dict[str, Member]
    item: Indicator | None  # A's item (held or other); None in the absent world
    taxii: TestClient | None = None
    settings: TaxiiSettings = field(default_factory=lambda: TaxiiSettings(enabled=True, page_size=1000))


def channel_id(place: str) -> str:
    return f"{place}-chan"


def actor(name: str, platform: Platform, place: str) -> Actor:
    if place == "dm":
        return Actor(platform, WORKSPACES[platform], name, f"D-{name}", private=True, display_name=name)
    return Actor(platform, WORKSPACES[platform], name, channel_id(place), private=False, display_name=name)


def tlp_token(tlp: TLP) -> str:
    return tlp.value.lower()


# ---------------------------------------------------------------- databases

class Databases:
    """Migrated databases on one backend, emptied, saved and restored cheaply.

    SQLite: a world is a file; empty = a copy of the migrated template, save = keep the file, restore = copy it.
    PostgreSQL: one database (the session's); empty = DELETE every table and restart the sequences (much faster
    than TRUNCATE, which locks and rewrites every table), save = read every row and sequence, restore = empty,
    COPY the rows back and set the sequences, in one transaction.

    The worlds handed out to probes all live at one URL per backend (SQLite: ``world.db``, overwritten by each
    restore) and share one Store, whose engine keeps its compiled statements from world to world: an engine per
    world compiled every statement again, a third of the SQLite half's time. Closing a world closes only its
    connections (`Store.close` disposes the pool; the engine stays usable), so the file can be replaced."""

    def __init__(self, backend: str, *, sqlite_template: Path | None = None, tmp: Path | None = None,
                 pg_url: str | None = None, pg_connect: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.backend = backend
        self.sqlite_template = sqlite_template
        self.tmp = tmp
        self.pg_url = pg_url
        self.pg_connect = pg_connect
        self.n = 0
        self.snapshots: dict[Any, tuple[Any, dict[str, Member], Indicator | None]] = {}
        self.stores: dict[str, Store] = {}
        self.sequence_names: list[str] | None = None  # PostgreSQL: the schema's sequences (read once)

    def store(self, url: str) -> Store:
        """The Store of `url`, one for the session (see the class)."""
        if url not in self.stores:
            self.stores[url] = create_store(url)
        return self.stores[url]

    def _copy(self, path: Path) -> str:
        assert self.tmp is not None
        self.n += 1
        copy = self.tmp / f"world-{self.n}.db"
        shutil.copyfile(path, copy)
        return f"sqlite:///{copy}"

    async def empty_url(self) -> str:
        if self.backend == "sqlite":
            assert self.sqlite_template is not None
            return self._copy(self.sqlite_template)
        await self.restore_rows({}, {})
        assert self.pg_url is not None
        return self.pg_url

    async def save(self, url: str) -> Any:
        if self.backend == "sqlite":
            return Path(url.removeprefix("sqlite:///"))
        assert self.pg_connect is not None
        conn = await self.pg_connect()
        try:
            rows = {}
            for table in ALL_TABLES:
                found = await conn.fetch(f'SELECT * FROM "{table.name}"')
                if found:
                    rows[table.name] = (list(found[0].keys()), [tuple(r.values()) for r in found])
            sequences = {}
            for name in await self._sequences(conn):
                r = await conn.fetchrow(f'SELECT last_value, is_called FROM "{name}"')
                sequences[name] = (r["last_value"], r["is_called"])
            return rows, sequences
        finally:
            await conn.close()

    async def restore(self, saved: Any) -> str:
        if self.backend == "sqlite":
            return self._copy(saved)
        await self.restore_rows(*saved)
        assert self.pg_url is not None
        return self.pg_url

    async def restore_rows(self, rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
                           sequences: dict[str, tuple[int, bool]]) -> None:
        assert self.pg_connect is not None
        conn = await self.pg_connect()
        try:
            if self.sequence_names is None:
                self.sequence_names = await self._sequences(conn)
            async with conn.transaction():  # one round trip to empty, one COPY per table, one to set the ids
                await conn.execute("; ".join(f'DELETE FROM "{table.name}"' for table in reversed(ALL_TABLES)))
                for table in ALL_TABLES:
                    if table.name in rows:
                        columns, records = rows[table.name]
                        await conn.copy_records_to_table(table.name, records=records, columns=columns)
                settings = [(name, *sequences.get(name, (1, False))) for name in self.sequence_names]
                if settings:
                    await conn.execute("SELECT " + ", ".join(
                        f"setval('\"{name}\"', {int(value)}, {'true' if called else 'false'})"
                        for name, value, called in settings))
        finally:
            await conn.close()

    @staticmethod
    async def _sequences(conn: Any) -> list[str]:
        return [r["relname"] for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema()")]

    async def restore_working(self, saved: Any) -> str:
        """Restore a snapshot at the backend's one URL of handed-out worlds (its connections must be closed)."""
        if self.backend == "sqlite":
            assert self.tmp is not None
            work = self.tmp / "world.db"
            for leftover in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(saved, work)
            return f"sqlite:///{work}"
        return await self.restore(saved)

    def discard(self, url: str) -> None:
        if self.backend == "sqlite":
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)


async def fresh_world(db: Databases, kind: str, *, tlp: TLP, anonymous: bool, status: str) -> tuple[World, str]:
    """A world as `build` makes it, restored from a snapshot: the base (everything but A's item) is built once
    per backend, each kind of world once from the base, and every world handed out is a restored copy."""
    if "base" not in db.snapshots:
        url = await db.empty_url()
        world = _open(url, "absent", {}, None, BUILT_AT)
        await seed_base(world)
        await close(world)
        db.snapshots["base"] = (await db.save(url), world.members, None)
    key = (kind, tlp, anonymous, status) if kind != "absent" else "base"
    if key not in db.snapshots:
        base, members, _ = db.snapshots["base"]
        url = await db.restore(base)
        world = _open(url, kind, dict(members), None, BUILT_AT)
        await seed_item(world, tlp=tlp, anonymous=anonymous, status=status)
        await close(world)
        db.snapshots[key] = (await db.save(url), world.members, world.item)
    saved, members, item = db.snapshots[key]
    url = await db.restore_working(saved)
    return _open(url, kind, members, item, PROBED_AT, db.store(url)), url


# ---------------------------------------------------------------- building a world

async def _say(d: Dispatcher, who: str, text: str) -> None:
    answer = await d.handle_text(text, actor(who, Platform.SLACK, "dm"))
    if isinstance(answer.result, UserError | InternalError):
        raise AssertionError(f"seeding the world failed at {who}: {text!r}: {render(answer.result)}")


def _open(url: str, kind: str, members: dict[str, Member], item: Indicator | None, now: datetime,
          store: Store | None = None) -> World:
    clock = Clock()
    clock.now = now
    store = store or create_store(url)
    d = Dispatcher(store.unit_of_work, policy=Policy(), clock=clock, delivery_platforms=PLATFORMS)
    return World(store, d, clock, kind, members, item)


async def build(url: str, kind: str, *, tlp: TLP, anonymous: bool, status: str) -> World:
    world = _open(url, kind, {}, None, BUILT_AT)
    await seed_base(world)
    await seed_item(world, tlp=tlp, anonymous=anonymous, status=status)
    return world


async def seed_base(world: World) -> None:
    """What every world holds: organizations, people, channels, API keys, the visible background item #1."""
    store, d, members = world.store, world.dispatcher, world.members
    async with store.unit_of_work() as uow:
        orgs = {name: await uow.organizations.add(name, sector, trust) for name, sector, trust in ORGANIZATIONS}
        for name, org, role in PEOPLE:
            member = await uow.members.add(orgs[org].id, name, role)
            for platform, workspace in WORKSPACES.items():
                await uow.members.link_identity(member.id, Identity(platform, workspace, name))
            members[name] = member
        for platform, workspace in WORKSPACES.items():
            for place, ceiling in PLACES.items():
                if ceiling is not None:
                    await uow.channels.upsert(Channel(platform, workspace, channel_id(place), ceiling,
                                                      ChannelPurpose.GENERAL, passive=True, ephemeral_lookups=False))
            await uow.channels.upsert(Channel(platform, workspace, "mod-chan", TLP.AMBER, ChannelPurpose.MODERATION))
            await uow.channels.upsert(Channel(platform, workspace, "feed-chan", TLP.AMBER, ChannelPurpose.FEED))
        for org_name, key in API_KEYS.items():
            await uow.api_keys.add(orgs[org_name].id, "probe", exchange.key_digest(key), key[:12], None, BUILT_AT)
        await uow.commit()
    await _say(d, "c_member", f"submit {BACKGROUND} tlp:green tags:background scanner seen everywhere")
    await _say(d, "b_moderator", "approve #1")


async def seed_item(world: World, *, tlp: TLP, anonymous: bool, status: str) -> None:
    """A's item of the world's kind (none in ``absent``); then the clock moves on to the probes' time."""
    world.clock.now = BUILT_AT
    if world.kind != "absent":
        d = world.dispatcher
        value = V if world.kind == "held" else W
        await _say(d, SUBMITTER, f"submit {value} tlp:{tlp_token(tlp)} conf:70 tags:{TAG} "
                                 f"{'anon ' if anonymous else ''}{NOTE}")
        if status == "approved":
            await _say(d, "a_moderator", "approve #2")
        await _say(d, "a_admin", "vote #2 confirm same campaign")
        await _say(d, "a_admin", "sighting #2 count:3")
        await _say(d, SUBMITTER, f"submit {NET} tlp:{tlp_token(tlp)} conf:70 tags:{TAG} "
                                 f"{'anon ' if anonymous else ''}{NOTE}")
        if status == "approved":
            await _say(d, "a_moderator", "approve #3")
        async with world.store.unit_of_work(read_only=True) as uow:
            item = await uow.indicators.get(2)
        assert item is not None and item.value == value and item.tlp is tlp, item
        world.item = item
    world.clock.now = PROBED_AT


async def close(world: World) -> None:
    if world.taxii is not None:
        await world.taxii.close()
    await world.store.close()


# ---------------------------------------------------------------- normalising

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_REFERENCE = re.compile(r"reference [0-9a-f]{6,}")
_WALL_CLOCK = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def normal(text: str, *, wall_clock: bool = False) -> str:
    text = _REFERENCE.sub("reference <ref>", _UUID.sub("<uuid>", text))
    return _WALL_CLOCK.sub("<now>", text) if wall_clock else text


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


# ---------------------------------------------------------------- rendering, on every platform

_SLACK = SlackRenderer()


def renderings(result: object) -> dict[str, Any]:
    """The reply as each platform shows it: the plain text (console, fallbacks), Slack Block Kit and the
    Discord message (content, embeds, file names and sizes, buttons), each rendered by the adapters' pure
    functions; a file's content under "file" (and its STIX objects checked for attribution, `attributed`)."""
    out: dict[str, Any] = {"text": normal(render(result))}
    try:
        out["slack"] = normal(dumps(_SLACK.message(result).payload()))
    except Exception as e:  # a renderer crash is an observation too (and differs from a clean rendering)
        out["slack"] = f"slack renderer raised {type(e).__name__}: {e}"
    try:
        msg = discord_render.to_message(result)
        view = [(getattr(c, "custom_id", None), getattr(c, "label", None)) for c in (msg.view.children if msg.view
                                                                                      else [])]
        out["discord"] = normal(dumps({"content": msg.content, "embeds": [e.to_dict() for e in msg.embeds],
                                       "files": [(n, len(d)) for n, d in msg.files], "view": view}))
    except Exception as e:
        out["discord"] = f"discord renderer raised {type(e).__name__}: {e}"
    data = getattr(result, "data", None)
    if isinstance(data, bytes):
        text = data.decode("utf-8", "replace")
        out["file"] = normal(text)
        if text.startswith("{"):
            out["attributed"] = attributed(json.loads(text).get("objects", []))
    return out


def attributed(objects: list[Any]) -> list[str]:
    """The STIX objects other than identities that name organization A or reference its identity: an anonymous
    item's indicator, opinions and sightings must reference neither (identities list every organization, and
    are no attribution by themselves)."""
    a_ids = {o.get("id") for o in objects if isinstance(o, dict) and o.get("type") == "identity"
             and o.get("name") == ORG_A}
    found = []
    for o in objects:
        if not isinstance(o, dict) or o.get("type") == "identity":
            continue
        text = json.dumps(o)
        if ORG_A in text or any(i and i in text for i in a_ids):
            found.append(normal(text))
    return found


# ---------------------------------------------------------------- what the store saw

async def _rows(store: Store, table: Any, *where: Any) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(select(table).where(*where).order_by(table.c.id))
        return [dict(r._mapping) for r in result]


async def marks(store: Store) -> tuple[int, int]:
    """The newest outbox and audit row ids."""
    found = await fingerprint(store)
    return found[-2], found[-1]


async def item_state(world: World) -> str:
    """A's item as the store holds it, with every vote, sighting and audit row about it."""
    assert world.item is not None
    i = world.item.id
    state = {
        "indicator": await _rows(world.store, IndicatorRow.__table__, IndicatorRow.__table__.c.id == i),
        "votes": await _rows(world.store, VoteRow.__table__, VoteRow.__table__.c.indicator_id == i),
        "sightings": await _rows(world.store, SightingRow.__table__, SightingRow.__table__.c.indicator_id == i),
        "audit": await _rows(world.store, AuditRow.__table__, AuditRow.__table__.c.indicator_id == i),
    }
    return json.dumps(state, sort_keys=True, default=str, indent=1)  # a row a line: the diff shows which changed


async def written_since(world: World, mark: tuple[int, int]) -> tuple[list[str], list[str], list[str]]:
    """The outbox rows and audit rows written after `mark`, and what delivering those outbox rows would do
    (bot.delivery.plan: cards posted to channels, edits, direct-message notices, one-line notices)."""
    outbox = await _rows(world.store, OutboxRow.__table__, OutboxRow.__table__.c.id > mark[0])
    audit = await _rows(world.store, AuditRow.__table__, AuditRow.__table__.c.id > mark[1])
    outbox_seen = [normal(dumps([r["platform"], r["event"], r["payload"]])) for r in outbox]
    audit_seen = [normal(dumps([r["action"], r["platform"], r["member_id"], r["indicator_id"], r["detail"]]))
                  for r in audit]
    planned: list[str] = []
    for platform in PLATFORMS:
        events = [OutboxEvent(r["id"], r["event"], r["payload"], Platform(r["platform"]), r["created_at"])
                  for r in outbox if r["platform"] == platform.value]
        if not events:
            continue
        async with world.store.unit_of_work(read_only=True) as uow:
            plans = await delivery.plan(uow, events, world.clock())
        for event in events:
            for d in plans.get(event.id, []):
                planned.append(normal(_delivery_text(d)))
    return outbox_seen, audit_seen, planned


def _delivery_text(d: delivery.Delivery) -> str:
    if isinstance(d, delivery.PostCard):
        return dumps(["post", d.channel.platform.value, d.channel.channel_id, d.headline, render(d.card),
                      _SLACK.card_message(d.card, headline=d.headline).payload()])
    if isinstance(d, delivery.UpdateCard):
        return dumps(["edit", d.posted.platform.value, d.posted.channel_id, render(d.card)])
    if isinstance(d, delivery.Notify):
        return dumps(["dm", d.identity.platform.value, d.identity.user_id, render(d.notice),
                      discord_render.to_message(d.notice).content])
    return dumps(["text", d.channel.platform.value, d.channel.channel_id, d.text])


# ---------------------------------------------------------------- probes

@dataclass(frozen=True)
class Probe:
    """One way of naming V (or its id, or its STIX id) to the bot.

    kind: chat (a command typed), passive (a message in a channel with passive mode on), file (a file shared to
    the bot in chat), org_import (an organization's import as `coalition-bot import` does it), taxii_get (the
    feed read over HTTP with the viewer's organization's key), taxii_post (a POST of V to the submissions
    collection). `creates` is true when the probe may create an item: it is then compared with the ``other``
    world (ids align), else with the ``absent`` one (counts differ by the item)."""

    name: str
    kind: str
    text: str = ""
    creates: bool = False
    mutates: bool = False


def stix_bundle(value: str) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--6f1b9b4e-1111-4c4c-8888-000000000001", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--6f1b9b4e-2222-4c4c-8888-000000000002",
        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "pattern_type": "stix",
        "pattern": f"[domain-name:value = '{value}']", "valid_from": "2026-11-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],  # TLP 2.0 GREEN
    }]}).encode()


async def observe(world: World, viewer: str, platform: Platform, place: str, probe: Probe,
                  refs: dict[str, str]) -> dict[str, Any]:
    """Everything `viewer` (on `platform`, in `place`) and the store see of `probe`; `refs` fills the probe's
    {id} and {stix} (taken from the ``held`` world, so that both worlds get the same text)."""
    text = probe.text.format(**refs, v=V, tag=TAG)
    before = await item_state(world) if probe.mutates and world.kind == "held" else None
    counted = await fingerprint(world.store) if probe.mutates else ()
    seen: dict[str, Any] = {}
    if probe.kind in ("chat", "passive", "file", "action", "unreact"):
        who = actor(viewer, platform, place)
        answer: Reply
        if probe.kind == "chat" and text == "home":  # Slack's App Home (no /ioc verb)
            answer = await world.dispatcher.handle(commands.Home(), who)
        elif probe.kind == "chat":
            answer = await world.dispatcher.handle_text(text, who)
        elif probe.kind == "passive":
            answer = await world.dispatcher.handle(commands.Passive(text), who)
        elif probe.kind == "file":
            name, _, kind = text.partition(":")
            data = stix_bundle(V) if kind == "stix" else f"{V}\n".encode()
            answer = await world.dispatcher.handle(commands.ImportFile(name, data), who)
        elif probe.kind == "action":  # a button (Slack action id, Discord custom id), a reason from its modal
            action_id, _, reason = text.partition("|")
            answer = await world.dispatcher.handle(actions.to_command(actions.parse(action_id), reason), who)
        else:  # a removed reaction: withdraw only the vote it stood for
            answer = await world.dispatcher.handle(commands.Vote(commands.IdRef(int(text)), None,
                                                                 withdraw_only=Verdict.CONFIRM), who)
        seen["private"] = answer.private
        seen.update(renderings(answer.result))
        seen["public"] = None if answer.private else seen["slack"] + seen["discord"] + seen["text"]
    elif probe.kind == "org_import":
        org = world.members[viewer].org_name
        try:
            report = await services.import_as_organization(
                world.store.unit_of_work, org_name=org, member_name="cli import", platform=Platform.CLI,
                filename="cli.txt", now=world.clock(), policy=world.dispatcher.policy,
                delivery_platforms=PLATFORMS, data=f"{V}\n".encode())
            seen.update(renderings(report))
        except commands.UsageError as e:
            seen["error"] = e.problem
    elif probe.kind == "org_export":  # `coalition-bot export --org`: what the organization's key may receive
        org_id = world.members[viewer].org_id
        parts: list[str] = []
        flt = ExportFilter(statuses=(Status.PENDING, Status.APPROVED))
        async with world.store.unit_of_work(read_only=True) as uow:
            await exchange.write_export(uow, rules.organization_visibility(org_id), flt, text, parts.append,
                                        viewer_org_id=org_id)
        seen["file"] = normal("".join(parts))
        if text == "stix":
            seen["attributed"] = attributed(json.loads("".join(parts)).get("objects", []))
    elif probe.kind in ("taxii_get", "taxii_post"):
        seen.update(await _taxii(world, viewer, probe, text))
    else:
        raise AssertionError(probe.kind)
    if probe.mutates:
        changed = await fingerprint(world.store) != counted
        seen["changed"] = changed
        if changed:  # (unchanged: no row was written, so nothing to deliver and the viewer's counts are as before)
            outbox, audit, planned = await written_since(world, counted[-2:])
            seen["outbox"], seen["audit"], seen["delivery"] = outbox, audit, planned
            seen["after"] = await _counts(world, viewer, platform)
        if before is not None:
            seen["item_before"], seen["item_after"] = before, await item_state(world)
    return seen


async def _counts(world: World, viewer: str, platform: Platform) -> str:
    """What the viewer may count afterwards: stats and a search of everything (its total, its cards)."""
    parts = []
    for text in ("stats", "search"):
        answer = await world.dispatcher.handle_text(text, actor(viewer, platform, "dm"))
        parts.append(render(answer.result))
    return normal("\n".join(parts))


def organization_of(viewer: str) -> str:
    return next(org for name, org, _ in PEOPLE if name == viewer)


async def _taxii(world: World, viewer: str, probe: Probe, text: str) -> dict[str, Any]:
    if world.taxii is None:
        world.taxii = TestClient(TestServer(create_app(world.store.unit_of_work, world.dispatcher, world.settings)))
        await world.taxii.start_server()
    key = API_KEYS[organization_of(viewer)]
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/taxii+json;version=2.1"}
    s = world.settings
    base = f"/{s.api_root}/collections/"
    seen: dict[str, Any] = {}
    if probe.kind == "taxii_post":
        envelope = json.loads(stix_bundle(V))
        response = await world.taxii.post(base + f"{s.submissions_collection}/objects/", headers={
            **headers, "Content-Type": "application/taxii+json;version=2.1"}, data=json.dumps(
            {"objects": envelope["objects"]}))
        body = await response.text()
        seen["status"] = response.status
        seen["body"] = normal(body, wall_clock=True)
        return seen
    path = base + f"{s.indicators_collection}/" + text
    pages, cursor, objects = [], None, []
    for _ in range(20):
        url = path + (f"?next={cursor}" if cursor else "")
        response = await world.taxii.get(url, headers=headers)
        body = await response.text()
        pages.append([response.status, normal(body),
                      {h: response.headers.get(h) for h in ("X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last")}])
        try:
            data = json.loads(body)
        except ValueError:
            break
        if isinstance(data, dict):
            objects += [o for o in data.get("objects", []) if isinstance(o, dict)]
        cursor = data.get("next") if isinstance(data, dict) and data.get("more") else None
        if not cursor:
            break
    seen["pages"] = normal(dumps(pages))
    seen["attributed"] = attributed(objects)
    return seen


async def fingerprint(store: Store) -> tuple[int, ...]:
    """Row counts of every table a command may write, and the newest outbox and audit row ids, in one query: a
    probe that changed none of them left the world as built (the last two are `marks`)."""
    counted = [IndicatorRow.__table__, VoteRow.__table__, SightingRow.__table__, AuditRow.__table__,
               OutboxRow.__table__, MemberRow.__table__]
    columns = [select(func.count()).select_from(t).scalar_subquery() for t in counted]
    columns += [select(func.coalesce(func.max(t.c.id), 0)).scalar_subquery()
                for t in (OutboxRow.__table__, AuditRow.__table__)]
    async with store.engine.connect() as conn:
        return tuple((await conn.execute(select(*columns))).one())


Job = tuple[str, Platform, str, Probe]


async def run_jobs(db: Databases, kind: str, *, tlp: TLP, anonymous: bool, status: str, jobs: list[Job],
                   refs: dict[str, str] | None, fresh_each: bool, extra: dict[str, str] | None = None,
                   ) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Observe every job in a world of `kind`. A world is reused from one job to the next as long as the job
    wrote no row (`fingerprint`), else built afresh; with `fresh_each`, every job gets a fresh world.
    Returns the refs of A's item (from this world unless given) and the observations, in order."""
    world: World | None = None
    url = ""
    found: list[dict[str, Any]] = []
    try:
        clean = False
        for viewer, platform, place, probe in jobs:
            if world is None or fresh_each or not clean:
                if world is not None:
                    await close(world)
                    db.discard(url)
                world, url = await fresh_world(db, kind, tlp=tlp, anonymous=anonymous, status=status)
                if refs is None:
                    assert world.item is not None
                    refs = {"id": str(world.item.id), "stix": world.item.stix_id, **(extra or {})}
            found.append(await observe(world, viewer, platform, place, probe, refs))
            clean = not found[-1].get("changed")
    finally:
        if world is not None:
            await close(world)
            db.discard(url)
    assert refs is not None
    return refs, found


def run(coro: Any) -> Any:
    return asyncio.run(coro)
