"""Slack surface: where a channel is registered, and whether it is shared with other organizations (Slack Connect).

A Slack Connect channel has one id in every workspace it is shared with, so the coalition registers it once: a
request names the workspace it came from (and its person's own team), but the channel's settings are those kept
under the workspace that registered it, whose token delivers there. `ChannelDirectory` knows which workspace that
is (a snapshot of the store's Slack channels, kept `ttl` seconds, taken again at once before an admin's
`channel set|show`) and what Slack said lately of each channel being shared (`conversations.info`'s
`is_ext_shared`, the `channel_shared` / `channel_unshared` events, an event's `is_ext_shared_channel`).
`place(actor)` puts a request's actor there: `workspace_id` the channel's registered workspace (for a channel not
registered yet, the workspace whose token answers the request: `token_workspace`), the person's identity still
their own team's (`identity_workspace_id`), `channel_shared` what Slack said, `bot_can_post` whether the bot can
post there as `conversations.info` said lately (`postable_of`: a slash command works in a channel the app is not in,
where a card posted through the outbox would be refused `not_in_channel`). `PlacingDispatcher` places every actor
a surface hands to the dispatcher, so no surface can forget it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from bot import commands
from bot.audience import Reply
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, Platform
from bot.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)

HOMES_TTL = 30.0  # seconds a snapshot of where channels are registered is used
SHARED_TTL = 60.0  # seconds what Slack said of a channel being shared is remembered
MAX_SHARED = 50_000

# The workspace whose token answers the request being handled (bolt's authorization: the configured token's in
# single-token mode, the installation's in OAuth mode); set by SlackBot.note_token_workspace, "" when unknown.
token_workspace: ContextVar[str] = ContextVar("slack_token_workspace", default="")


class ChannelDirectory:
    """Where each Slack channel is registered, and what Slack said of its being shared (see the module)."""

    def __init__(self, uow_factory: UnitOfWorkFactory, *, ttl: float = HOMES_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.uow_factory = uow_factory
        self.ttl = ttl
        self.clock = clock
        self._homes: dict[str, Channel] = {}
        self._taken = float("-inf")
        self._shared: dict[str, tuple[bool | None, float]] = {}  # channel -> (shared, None: Slack would not say; until)
        self._postable: dict[str, tuple[bool | None, float]] = {}  # channel -> (bot can post, None: not known; until)
        self._applied: dict[str, None] = {}  # channels whose being shared the store has been told (see sharing_applied)
        self._lock = asyncio.Lock()

    async def registered(self, channel_id: str, *, fresh: bool = False) -> Channel | None:
        """The channel's registration (the first, should there be several), from a snapshot at most `ttl` old."""
        if fresh or self.clock() - self._taken > self.ttl:
            taken = self._taken
            async with self._lock:
                if fresh or self._taken == taken:  # not taken again meanwhile by another request
                    await self._snapshot()
        return self._homes.get(channel_id)

    async def _snapshot(self) -> None:
        try:
            async with self.uow_factory(read_only=True) as uow:
                channels = await uow.channels.list()
        except Exception as e:  # the command itself meets the outage and answers it
            log.warning("Slack channels: where channels are registered could not be read (%s)", type(e).__name__)
            return
        homes: dict[str, Channel] = {}
        for channel in channels:
            if channel.platform is Platform.SLACK:
                homes.setdefault(channel.channel_id, channel)
        self._homes, self._taken = homes, self.clock()

    def forget(self) -> None:
        """The store's channels changed here: the next lookup takes a new snapshot."""
        self._taken = float("-inf")

    def shared(self, channel_id: str) -> bool | None:
        """What Slack said lately of the channel being shared with other organizations' workspaces, or None."""
        known = self._shared.get(channel_id)
        if known is None or known[1] < self.clock():
            return None
        return known[0]

    def asked_lately(self, channel_id: str) -> bool:
        """Whether Slack was asked (or told) lately about the channel's sharing, whatever it answered."""
        known = self._shared.get(channel_id)
        return known is not None and known[1] >= self.clock()

    def learn_shared(self, channel_id: str, shared: bool | None) -> None:
        if len(self._shared) >= MAX_SHARED:
            self._shared.pop(next(iter(self._shared)))
        self._shared[channel_id] = (shared, self.clock() + SHARED_TTL)
        if shared is False:  # shared again later: told again
            self._applied.pop(channel_id, None)

    def can_post(self, channel_id: str) -> bool | None:
        """What `conversations.info` said lately of the bot being able to post in the channel (`postable_of`), or
        None."""
        known = self._postable.get(channel_id)
        if known is None or known[1] < self.clock():
            return None
        return known[0]

    def learn_can_post(self, channel_id: str, postable: bool | None) -> None:
        if len(self._postable) >= MAX_SHARED:
            self._postable.pop(next(iter(self._postable)))
        self._postable[channel_id] = (postable, self.clock() + SHARED_TTL)

    def sharing_applied(self, channel_id: str) -> bool:
        """Whether this process told the store (bot.services.channel_sharing_changed) that the channel is shared
        since it last heard it was not: a channel no admin registered is told once, not at every command or
        message (forgotten when Slack says it is unshared; a process that restarts tells it once more, harmlessly)."""
        return channel_id in self._applied

    def applied_sharing(self, channel_id: str) -> None:
        if len(self._applied) >= MAX_SHARED:
            self._applied.pop(next(iter(self._applied)))
        self._applied[channel_id] = None

    async def place(self, actor: Actor, *, fresh: bool = False) -> Actor:
        """The actor in the channel's registered workspace (see the module); a DM or App Home is left as it is."""
        if actor.platform is not Platform.SLACK or not actor.channel_id or actor.channel_id.startswith("D"):
            return actor
        home = await self.registered(actor.channel_id, fresh=fresh)
        shared = self.shared(actor.channel_id)
        # a channel not registered yet is registered where the token answering here can deliver
        answering = token_workspace.get() or actor.workspace_id
        workspace = home.workspace_id if home is not None else answering
        # what Slack said is of the bot of the workspace answering here; another workspace's token delivers there
        # (a Slack Connect channel registered by another workspace): then it is not known
        postable = actor.bot_can_post if actor.bot_can_post is not None or workspace != answering \
            else self.can_post(actor.channel_id)
        if workspace == actor.workspace_id and (shared is None or shared == actor.channel_shared) \
                and postable == actor.bot_can_post:
            return actor
        return replace(actor, workspace_id=workspace,
                       identity_workspace_id=actor.identity_workspace_id or actor.workspace_id,
                       channel_shared=actor.channel_shared if shared is None else shared, bot_can_post=postable)


class PlacingDispatcher:
    """The dispatcher, every actor placed first (`ChannelDirectory.place`); everything else is the dispatcher's."""

    def __init__(self, dispatcher: Dispatcher, directory: ChannelDirectory) -> None:
        self._dispatcher = dispatcher
        self.directory = directory

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dispatcher, name)

    async def handle(self, command: commands.Command, actor: Actor, **options: Any) -> Reply:
        """`options`: the dispatcher's (`progress`)."""
        return await self._dispatcher.handle(command, await self.directory.place(actor), **options)

    async def handle_text(self, text: str, actor: Actor) -> Reply:
        return await self._dispatcher.handle_text(text, await self.directory.place(actor))


def postable_of(channel: dict[str, Any], scopes: str | None) -> bool | None:
    """Whether the bot can post in a channel, from `conversations.info`'s channel and the token's scopes (the
    `x-oauth-scopes` header of Slack's answer, None when absent): a member can; a non-member can post in a public
    channel only with `chat:write.public`, never in a private one. None: not known (Slack did not say)."""
    member = channel.get("is_member")
    if member is None:
        return None
    if member:
        return True
    if channel.get("is_private") or channel.get("is_mpim") or channel.get("is_im"):
        return False
    if scopes is None:
        return None
    return "chat:write.public" in {s.strip() for s in scopes.split(",")}


__all__ = ["ChannelDirectory", "PlacingDispatcher", "postable_of", "token_workspace"]
