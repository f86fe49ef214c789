"""Contract: a reply the core marks private is never posted where others can read it, on any entry point of the
Discord adapter (issue 10: "Discord posts import reports in the channel").

Every entry point the adapter registers (slash commands and their autocompletes, the message context menu,
persistent buttons, modals, gateway listeners) is listed in ENTRY_POINTS and walked below, in a shared channel,
with a command whose answer the core keeps private: an error, `whoami`, `stats`, an import report, an export.
The test introspects the client (command tree, dynamic items, modal classes, listeners) and fails when the
adapter registers something it does not walk. "Public" is read off the fake Discord's record: a non-ephemeral
interaction response or follow-up, an edit of one, or a message posted or edited in a guild channel. Each
step also waits for its private answer (ephemeral, a direct message, a modal or autocomplete choices), so it
cannot pass by answering nothing. Run twice: answered at once, and deferred first (a slow store).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import pytest

import adapters.discord.buttons
import adapters.discord.client
import adapters.discord.handler
from tests.adapters.discord.fake_discord import Call, FakeDiscord
from tests.adapters.discord.world import FEED, GENERAL, GUILD, MODERATION, World

GUILD_CHANNELS = {GENERAL, FEED, MODERATION}
DM_CHANNEL = 990000000000000077

# entry point -> how it is walked (the step's name in `steps` below)
ENTRY_POINTS = {
    **{f"/ioc {verb}": f"slash {verb}" for verb in (
        "submit", "lookup", "vote", "sighting", "search", "queue", "approve", "reject", "revoke", "join", "whoami",
        "link", "home", "stats", "help", "export", "import", "admin", "watch", "edit", "reopen", "why", "comment",
        "case")},
    **{f"autocomplete /ioc {verb} {option}": f"autocomplete {verb} {option}" for verb, option in (
        ("submit", "tags"), ("lookup", "values"), ("vote", "indicator"), ("sighting", "indicator"),
        ("search", "tag"), ("approve", "indicators"), ("reject", "indicators"), ("revoke", "indicators"),
        ("export", "tag"), ("edit", "indicator"), ("reopen", "indicator"), ("why", "indicator"),
        ("submit", "malware"), ("edit", "malware"), ("comment", "indicator"), ("case", "indicators"))},
    "context menu Submit indicators": "context menu",
    "button CardButton": "button",
    "modal ReasonModal": "reason modal",
    "modal SubmitModal": "submit modal",
    "listener on_message": "file in a channel, file in a DM, passive",
    "listener on_raw_reaction_add": "reaction added",
    "listener on_raw_reaction_remove": "reaction removed",
    "listener on_guild_join": "guild joined",
    "listener on_guild_available": "guild back after an outage",
    "listener on_guild_remove": "guild removed",
}
OTHER_GUILD, OTHER_CHANNEL = 700000000000000901, 700000000000000911


def registered(client: discord.Client) -> set[str]:
    """What the adapter registers with discord.py: every way an event reaches it."""
    found: set[str] = set()
    for command in client.tree.get_commands():  # type: ignore[attr-defined]
        if isinstance(command, discord.app_commands.ContextMenu):
            found.add(f"context menu {command.name}")
            continue
        subs = command.walk_commands() if isinstance(command, discord.app_commands.Group) else [command]
        for sub in subs:
            found.add(f"/{sub.qualified_name}")
            found |= {f"autocomplete /{sub.qualified_name} {p.name}" for p in sub.parameters if p.autocomplete}
    found |= {f"button {item.__name__}" for item in client._connection._view_store._dynamic_items.values()}
    found |= {f"view {type(view).__name__}" for view in client.persistent_views}
    for module in (adapters.discord.buttons, adapters.discord.handler, adapters.discord.client):
        found |= {f"modal {name}" for name, cls in vars(module).items()
                  if inspect.isclass(cls) and issubclass(cls, discord.ui.Modal) and cls.__module__ == module.__name__}
    own = {name for klass in type(client).__mro__ if klass.__module__.startswith("adapters.")
           for name in vars(klass) if name.startswith("on_")}
    found |= {f"listener {name}" for name in own | set(getattr(client, "extra_events", {}))}
    return found


def public_posts(fake: FakeDiscord, mark: int) -> list[str]:
    """What became readable by others after `mark`."""
    out: list[str] = []
    public_tokens: set[str] = set()
    for call in fake.calls[mark:]:
        body = call.json if isinstance(call.json, dict) else {}
        if m := re.fullmatch(r"/interactions/\d+/([^/]+)/callback", call.path):
            data = body.get("data") or {}
            if body.get("type") in (4, 5) and not int(data.get("flags") or 0) & 64:
                public_tokens.add(m.group(1))
                if body.get("type") == 4:
                    out.append(f"public response {json.dumps(data)[:200]}")
            elif body.get("type") == 7:
                out.append(f"edited a channel message {json.dumps(data)[:200]}")
        elif m := re.fullmatch(r"/webhooks/\d+/([^/]+)/messages/@original", call.path):
            if m.group(1) in public_tokens and call.method == "PATCH":
                out.append(f"public deferred answer {json.dumps(body)[:200]}")
        elif re.fullmatch(r"/webhooks/\d+/[^/]+", call.path) and call.method == "POST":
            if not int(body.get("flags") or 0) & 64:
                out.append(f"public follow-up {json.dumps(body)[:200]}")
        elif ((m := re.fullmatch(r"/channels/(\d+)/messages(?:/\d+)?", call.path)) and call.method in ("POST", "PATCH")
              and int(m.group(1)) in GUILD_CHANNELS):
            out.append(f"{call.method} in channel {m.group(1)}: {json.dumps(body)[:200]}")
    return out


def private_answer(fake: FakeDiscord) -> Callable[[Call], bool]:
    """A call that answers the person alone (every channel outside the guild is a direct message here)."""
    def match(call: Call) -> bool:
        body = call.json if isinstance(call.json, dict) else {}
        if call.path.endswith("/callback"):
            return body.get("type") in (8, 9) or (body.get("type") in (4, 5) and
                                                  bool(int((body.get("data") or {}).get("flags") or 0) & 64))
        if re.fullmatch(r"/webhooks/\d+/[^/]+", call.path):
            return bool(int(body.get("flags") or 0) & 64)
        if call.path.endswith("/messages/@original") and call.method == "PATCH":
            token = call.path.split("/")[3]
            return bool(int(fake.originals.get(token, {}).get("flags") or 0) & 64)
        if m := re.fullmatch(r"/channels/(\d+)/messages", call.path):
            return call.method == "POST" and int(m.group(1)) not in GUILD_CHANNELS
        return False
    return match


def card_message(fake: FakeDiscord, channel: int = GENERAL, indicator: int = 1) -> dict[str, Any]:
    """A card the bot posted earlier in a shared channel (as delivered cards look: embed with the footer)."""
    msg = fake._message(channel, {"embeds": [{"title": f"#{indicator} · ipv4", "description": "`203.0.113.7`",
                                              "footer": {"text": f"Coalition Bot · indicator #{indicator}"}}],
                                  "components": [{"type": 1, "components": [
                                      {"type": 2, "style": 2, "label": "Confirm",
                                       "custom_id": f"ioc:vote:{indicator}:confirm"},
                                      {"type": 2, "style": 4, "label": "Reject",
                                       "custom_id": f"ioc:reject:{indicator}"}]}]}, guild_id=GUILD)
    fake.messages.setdefault(channel, {})[int(msg["id"])] = msg
    return msg


@pytest.mark.parametrize("timing", ["answered at once", "deferred first"])
async def test_no_private_reply_reaches_a_channel_on_any_entry_point(world: World, timing: str) -> None:
    fake = world.fake
    assert registered(world.client) == set(ENTRY_POINTS), "an entry point is not walked by this test (or gone)"
    if timing == "deferred first":
        world.client.handler.defer_after = 0.0  # every answer is late: the interaction is acknowledged first
    users = world.users
    walked: list[str] = []

    async def step(name: str, act: Callable[[], Awaitable[Any]], *, answered: bool = True) -> Any:
        mark = len(fake.calls)
        result = await act()
        answer = await _wait_private(fake, mark) if answered else await asyncio.sleep(0.5)
        await asyncio.sleep(0.05)  # anything sent after the answer would show here
        assert public_posts(fake, mark) == [], name
        assert answer is not None or not answered, f"{name}: no private answer"
        walked.append(name)
        return result

    async def slash(sub: str, options: dict[str, Any], user: str = "stranger", **kw: Any) -> dict[str, Any]:
        payload = fake.slash("ioc", sub, options, user=users[user], guild_id=GUILD, channel_id=GENERAL, **kw)
        await fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    # -- every /ioc verb, in a shared channel, with a private answer
    skip_only = fake.attachment("notes.txt", b"nothing to see here\n", "text/plain")
    slashes = {
        "submit": ({"values": "not-an-indicator"}, "alice"),
        "lookup": ({"values": "203.0.113.7"}, "stranger"),
        "vote": ({"indicator": "#99", "verdict": "confirm"}, "alice"),
        "sighting": ({"indicator": "#99"}, "alice"),
        "search": ({}, "stranger"),
        "queue": ({}, "alice"),
        "approve": ({"indicators": "#99"}, "alice"),
        "reject": ({"indicators": "#99", "reason": "no"}, "alice"),
        "revoke": ({"indicators": "#99", "reason": "no"}, "alice"),
        "join": ({"code": "NOT-A-CODE"}, "stranger"),
        "whoami": ({}, "alice"),
        "link": ({}, "alice"),  # a one-time link code: for alice's eyes only
        "home": ({}, "alice"),
        "stats": ({}, "alice"),
        "help": ({}, "alice"),
        "export": ({"format": "txt"}, "alice"),
        "admin": ({"command": "org list"}, "alice"),
        "watch": ({"action": "list"}, "alice"),  # what alice watches is hers
        "edit": ({"indicator": "#99", "confidence": 80}, "alice"),
        "reopen": ({"indicator": "#99", "reason": "second look"}, "alice"),
        "why": ({"indicator": "#99"}, "alice"),
        "comment": ({"indicator": "#99", "text": "seen it"}, "alice"),
        "case": ({"action": "list"}, "alice"),
    }
    for verb, (options, user) in slashes.items():
        await step(f"slash {verb}", lambda v=verb, o=options, u=user: slash(v, o, u))
    await step("slash import", lambda: slash("import", {}, "alice", attachments={"file": skip_only}))
    await step("slash link with a code", lambda: slash("link", {"code": "NOT-A-CODE"}, "stranger"))

    # -- autocompletes: choices only the typist sees
    for entry, how in ENTRY_POINTS.items():
        if how.startswith("autocomplete"):
            _, verb, option = how.split()
            payload = fake.autocomplete("ioc", verb, {option: "20"}, option, user=users["alice"], guild_id=GUILD,
                                        channel_id=GENERAL)
            await step(how, lambda p=payload: fake.dispatch("INTERACTION_CREATE", p))

    # -- the context menu, then its modal: a form error, and a stranger's submission
    message = fake.message_create("seen 203.0.113[.]9", author=users["bob"], channel_id=GENERAL, guild_id=GUILD)

    async def open_menu() -> dict[str, Any]:
        mark = len(fake.calls)
        menu = fake.message_command("Submit indicators", message, user=users["stranger"], guild_id=GUILD,
                                    channel_id=GENERAL)
        await fake.dispatch("INTERACTION_CREATE", menu)
        return (await fake.wait_for_call("POST", rf"/interactions/{menu['id']}/[^/]+/callback", after=mark)).json

    modal = await step("context menu", open_menu)
    for values in ({"values": "203.0.113.9", "tlp": "purple"}, {"values": "203.0.113.9", "tlp": "green"}):
        modal = await open_menu()
        form = fake.modal_submit(modal["data"], values, user=users["stranger"], guild_id=GUILD, channel_id=GENERAL)
        await step("submit modal", lambda f=form: fake.dispatch("INTERACTION_CREATE", f))

    # -- a button on a card in the channel, and the reason modal it opens
    card = card_message(fake)
    press = fake.component("ioc:vote:1:confirm", card, user=users["stranger"], guild_id=GUILD, channel_id=GENERAL)
    await step("button", lambda: fake.dispatch("INTERACTION_CREATE", press))
    mark = len(fake.calls)
    reject = fake.component("ioc:reject:1", card, user=users["stranger"], guild_id=GUILD, channel_id=GENERAL)
    await fake.dispatch("INTERACTION_CREATE", reject)
    opened = (await fake.wait_for_call("POST", rf"/interactions/{reject['id']}/[^/]+/callback", after=mark)).json
    assert opened["type"] == 9
    reason = fake.modal_submit(opened["data"], {"reason": "spam"}, user=users["stranger"], guild_id=GUILD,
                               channel_id=GENERAL, message=card)
    await step("reason modal", lambda: fake.dispatch("INTERACTION_CREATE", reason))

    # -- messages: a file mentioned to the bot in the channel (the import report), a file in a DM, passive mode
    def file_message(channel: int, guild: int | None) -> dict[str, Any]:
        att = fake.attachment(f"iocs-{channel}.txt", b"nothing to see here\n", "text/plain")
        msg = fake.message_create(f"<@{fake.bot['id']}> import this", author=users["alice"], channel_id=channel,
                                  guild_id=guild, attachments=[att])
        msg["mentions"] = [fake.bot]
        return msg

    await step("file in a channel", lambda: fake.dispatch("MESSAGE_CREATE", file_message(GENERAL, GUILD)))
    await step("file in a DM", lambda: fake.dispatch("MESSAGE_CREATE", file_message(DM_CHANNEL, None)))
    chat = fake.message_create("is 203.0.113[.]7 bad?", author=users["stranger"], channel_id=GENERAL,
                               guild_id=GUILD)
    await step("passive", lambda: fake.dispatch("MESSAGE_CREATE", chat), answered=False)

    # -- reactions on a card in the channel: a stranger's vote is refused in a DM
    for event, how in (("MESSAGE_REACTION_ADD", "reaction added"), ("MESSAGE_REACTION_REMOVE", "reaction removed")):
        react = fake.reaction("✅", user_id=int(users["stranger"]["id"]), channel_id=GENERAL, message_id=card["id"],
                              guild_id=GUILD)
        await step(how, lambda e=event, r=react: fake.dispatch(e, r))

    # -- guild events: the bot added to a guild, the guild unavailable then back, the bot removed (no one answered)
    await step("guild joined", lambda: fake.join_guild(OTHER_GUILD, channels=[OTHER_CHANNEL],
                                                        members=[users["alice"]]), answered=False)

    async def outage_and_back() -> None:
        await fake.dispatch("GUILD_DELETE", {"id": str(OTHER_GUILD), "unavailable": True})
        await fake.dispatch("GUILD_CREATE", fake.guilds[OTHER_GUILD])

    await step("guild back after an outage", outage_and_back, answered=False)
    await step("guild removed", lambda: fake.remove_guild(OTHER_GUILD), answered=False)

    assert {how for how in ENTRY_POINTS.values() for how in how.split(", ")} <= set(walked)
    world.assert_running()


async def _wait_private(fake: FakeDiscord, mark: int) -> Call | None:
    """The first private answer after `mark`; after an ephemeral "thinking" acknowledgement, the answer that
    completes it (an edit of it or a follow-up), so that what is checked next is the whole exchange."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while loop.time() < deadline:
        found = next((call for call in fake.calls[mark:] if private_answer(fake)(call)), None)
        if found is not None and isinstance(found.json, dict) and found.json.get("type") == 5:
            token = found.path.split("/")[3]
            found = next((c for c in fake.calls[mark:] if c.path.startswith("/webhooks/")
                          and c.path.split("/")[3] == token and c.method in ("PATCH", "POST")), None)
        if found is not None:
            return found
        await asyncio.sleep(0.02)
    return None
