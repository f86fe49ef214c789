"""Slack surface: the Events API. A retried event (Slack's `X-Slack-Retry-Num`, or Socket Mode's retry attempt)
whose event id was seen already is acknowledged and dropped (`SeenEvents`).

Slack Connect: an event in a channel shared with other organizations' workspaces may come from any of them, and
its person may be of another team than the event's (`user_team`): they act as themselves, keyed by their own
team (`user_workspace`), in the channel as registered (adapters.slack.channels). `channel_shared` /
`channel_unshared` record that a registered channel is (no longer) shared (adapters.slack.sharing)."""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from adapters.chat_progress import ChatProgress, ProgressTiming
from bot import commands
from bot.audience import Reply
from bot.commands import IdRef
from bot.domain import Actor
from bot.ioc import extract
from bot.results import InternalError, PassiveResult, UserError

from .mrkdwn import esc, from_slack, truncate
from .replies import KeyLock, enterprise_of, team_of, workspace_key
from .sharing import SharingNotices
from .sink import CARD_EVENT

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 50 * 1024 * 1024
_VOTE_BUTTON = re.compile(r"^ioc:vote:([0-9]{1,18}):")  # ASCII digits only: \d takes '٣'


class SeenEvents:
    """Event ids already handled (bounded): Slack's retries of an event are acknowledged and not processed."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True



def user_workspace(body: dict[str, Any], event: dict[str, Any]) -> str:
    """The workspace of the event's person (`workspace_key`): the event's own, or in a Slack Connect channel an
    external person's team (`user_team`), of the event's Enterprise Grid org only when the channel is not shared
    with other organizations."""
    team = str(event.get("user_team") or "")
    if not team or team == str(body.get("team_id") or ""):
        return team_of(body)
    return workspace_key("" if body.get("is_ext_shared_channel") else enterprise_of(body), team)


def shared_channel(body: dict[str, Any]) -> bool | None:
    """What the event says of its channel being shared with other organizations' workspaces (None: nothing)."""
    shared = body.get("is_ext_shared_channel")
    return {True: True, False: False, "true": True, "false": False}.get(shared) if shared is not None else None


class EventListeners(SharingNotices):
    """Events API: reactions as votes, messages (passive mode, DMs), App Home, shared files."""

    seen: SeenEvents
    import_progress: ProgressTiming  # when an import's progress message is posted, how often it is edited

    async def skip_retried_events(self, body: dict[str, Any], req: Any, next: Callable[[], Awaitable[Any]]) -> Any:
        """Slack retries an event it thinks was not acknowledged; one seen before is acknowledged, not redone."""
        event_id = body.get("event_id")
        if isinstance(event_id, str) and event_id and not self.seen.first_time(event_id):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("event %s delivered again (retry %s, %s): skipped", event_id, retry,
                     (req.headers.get("x-slack-retry-reason") or ["-"])[0])
            return BoltResponse(status=200, body="")
        return await next()

    async def _ignore(self) -> None:
        return None

    # ------------------------------------------------------------ reactions

    async def on_reaction_added(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self.spawn(self._reaction(event, body, context, added=True), "reaction")

    async def on_reaction_removed(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self.spawn(self._reaction(event, body, context, added=False), "reaction")

    async def _reaction(self, event: dict[str, Any], body: dict[str, Any], context: Any, *, added: bool) -> None:
        """A vote emoji on one of the bot's cards is a vote; removing it withdraws the vote if it is still that
        verdict. One person's reactions on one message are handled one at a time, in the order they came."""
        item = event.get("item") or {}
        key = (str(item.get("channel", "")), str(item.get("ts", "")), str(event.get("user", "")))
        entry = self._reacting.setdefault(key, KeyLock())
        entry.users += 1
        try:
            async with entry.lock:
                await self._vote_by_reaction(event, body, context, added=added)
        finally:
            entry.users -= 1
            if not entry.users:
                del self._reacting[key]

    async def _vote_by_reaction(self, event: dict[str, Any], body: dict[str, Any], context: Any, *,
                                added: bool) -> None:
        verdict = self.reactions.get(str(event.get("reaction", "")).split("::")[0])
        item = event.get("item") or {}
        if verdict is None or item.get("type") != "message":
            return
        bot_user = context.get("bot_user_id")
        if event.get("item_user") and bot_user and event["item_user"] != bot_user:
            return  # not the bot's message
        channel, ts, user = str(item.get("channel", "")), str(item.get("ts", "")), str(event.get("user", ""))
        indicator_id = await self.indicator_of(channel, ts)
        if indicator_id is None:
            return
        vote = commands.Vote(IdRef(indicator_id), verdict) if added else \
            commands.Vote(IdRef(indicator_id), None, withdraw_only=verdict)
        actor = await self.event_actor(body, event, user, channel)
        reply = await self.dispatcher.handle(vote, actor)
        if added and isinstance(reply.result, UserError | InternalError):  # a removal with nothing to undo: quiet
            await self.send_reply(Reply(reply.result, private=True), actor, response_url=None)

    async def indicator_of(self, channel: str, ts: str) -> int | None:
        """The indicator of a card the bot posted: remembered, or read from the message (metadata, buttons)."""
        if (channel, ts) in self._cards:
            return self._cards[(channel, ts)]
        try:
            history = await self.client.conversations_history(channel=channel, latest=ts, oldest=ts, inclusive=True,
                                                              limit=1, include_all_metadata=True)
        except SlackApiError as e:
            log.info("cannot read message %s in %s: %s", ts, channel, e.response.get("error"))
            return None
        messages = [m for m in history.get("messages", []) if str(m.get("ts")) == ts]
        if not messages:
            return None
        message = messages[0]
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if (message.get("metadata") or {}).get("event_type") == CARD_EVENT and re.fullmatch(
                "[0-9]{1,18}", str(payload.get("indicator_id", ""))):
            found = {int(payload["indicator_id"])}
        else:
            found = {int(m.group(1)) for block in message.get("blocks") or [] if block.get("type") == "actions"
                     for element in block.get("elements") or []
                     if (m := _VOTE_BUTTON.match(str(element.get("action_id", ""))))}
        if len(found) != 1:
            return None
        indicator_id = found.pop()
        self.remember_card(channel, ts, indicator_id)
        return indicator_id

    # ------------------------------------------------------------ messages: passive mode, DMs

    async def on_message(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self.spawn(self.channel_message(event, body, context), "message")

    async def channel_message(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        subtype = event.get("subtype")
        user = str(event.get("user") or "")
        if subtype not in (None, "thread_broadcast", "file_share") or event.get("bot_id") or not user \
                or user == context.get("bot_user_id"):
            return
        channel, text = str(event.get("channel", "")), str(event.get("text") or "")
        if event.get("channel_type") == "im" or channel.startswith("D"):
            if subtype is None and text.strip():
                await self.direct_message(user_workspace(body, event), user, channel, text)
            return
        if (shared := shared_channel(body)) is not None:  # Slack Connect: caught up here if the event was missed
            await self.noticed_sharing(channel, shared)
        if not text.strip() or not extract(text):
            return  # most messages: no store access at all (but the snapshot of channels, at most every 30 s)
        actor = await self.event_actor(body, event, user, channel)
        async with self._slots:
            reply = await self.dispatcher.handle(commands.Passive(text), actor)
        result = reply.result
        if reply.private or not isinstance(result, PassiveResult) or not result.items:
            return  # passive mode answers in the thread or not at all (no DM for every chat message)
        await self.send_reply(reply, actor, response_url=None,
                              message=self.renderer.passive_message(result),
                              thread_ts=event.get("thread_ts") or event.get("ts"))

    async def event_actor(self, body: dict[str, Any], event: dict[str, Any], user: str, channel: str) -> Actor:
        """The event's person, as themselves, in the channel as registered (adapters.slack.channels)."""
        if (shared := shared_channel(body)) is not None:
            await self.noticed_sharing(channel, shared)
        return await self.channels.place(self.actor(team_of(body), user, channel,
                                                    user_team=user_workspace(body, event), shared=shared))

    async def direct_message(self, team: str, user: str, channel: str, text: str) -> None:
        """In a direct message with the bot, `/ioc` is optional: the message is the command."""
        text = from_slack(text).strip()
        if text.lower().startswith("/ioc"):
            text = text[4:]
        actor = self.actor(team, user, channel, private=True)
        reply = await self.dispatcher.handle_text(text, actor)
        await self.send_reply(reply, actor, response_url=None)

    # ------------------------------------------------------------ Slack Connect: channels shared, unshared

    async def on_channel_shared(self, event: dict[str, Any]) -> None:
        self.spawn(self.channel_sharing(str(event.get("channel") or ""), shared=True), "channel shared")

    async def on_channel_unshared(self, event: dict[str, Any]) -> None:
        """Unshared from one workspace; `is_ext_shared`: still shared with others (then nothing changes)."""
        channel = str(event.get("channel") or "")
        if event.get("is_ext_shared") in {True, "true"}:
            self.channels.learn_shared(channel, True)
            return
        self.spawn(self.channel_sharing(channel, shared=False), "channel unshared")

    # ------------------------------------------------------------ App Home

    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            self.spawn(self.publish_home(team_of(body), str(event.get("user", ""))), "App Home")

    # ------------------------------------------------------------ files

    async def on_file_shared(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self.spawn(self.file_shared(event, body, context), "file import")

    async def file_shared(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        """A file shared with the bot in a direct message is imported (STIX 2.1 bundle, CSV or text). An import
        still running after `import_progress.after` seconds gets a progress message in that DM (`import_progress`),
        edited as it goes and at the end into a done line; the report is the reply after it."""
        user, channel = str(event.get("user_id") or ""), str(event.get("channel_id") or "")
        file_id = str(event.get("file_id") or (event.get("file") or {}).get("id") or "")
        bot_user = context.get("bot_user_id")
        if not file_id or not user or user == bot_user or not channel.startswith("D"):
            return
        actor = self.actor(team_of(body), user, channel, private=True)
        info = (await self.client.files_info(file=file_id))["file"]
        if info.get("user") == bot_user:
            return  # the bot's own upload (an export)
        name = str(info.get("name") or info.get("title") or f"{file_id}.txt")
        if int(info.get("size") or 0) > MAX_IMPORT_BYTES:
            await self.send_reply(Reply(UserError(f"{name} is larger than {MAX_IMPORT_BYTES // 2**20} MB; "
                                                  "split it, or use `coalition-bot import`"), True),
                                  actor, response_url=None)
            return
        data = await self.download(str(info.get("url_private_download") or info.get("url_private") or ""))
        if data is None:
            await self.send_reply(Reply(UserError(f"{name} could not be downloaded from Slack; share it again"),
                                        True), actor, response_url=None)
            return
        progress = self.progress_message(name, channel).start()
        result: Any = None
        try:
            reply = await self.dispatcher.handle(commands.ImportFile(name, data), actor, progress=progress)
            result = reply.result
        finally:
            await progress.finish(result)
        await self.send_reply(reply, actor, response_url=None)

    def progress_message(self, name: str, channel: str) -> ChatProgress:
        """An import's progress, shown in `channel` (the person's DM with the bot: their own file's name, escaped)
        with `chat.postMessage`, then `chat.update` on the same ts."""
        client = self.client  # the request's (OAuth mode: its workspace's token)

        async def post(text: str) -> str:
            posted = await client.chat_postMessage(channel=channel, text=text, unfurl_links=False,
                                                   unfurl_media=False)
            return str(posted["ts"])

        async def edit(ts: str, text: str) -> None:
            await client.chat_update(channel=channel, ts=ts, text=text)

        return ChatProgress(esc(truncate(name, 100)), post=post, edit=edit, timing=self.import_progress)

    async def download(self, url: str) -> bytes | None:
        if not url or self.session is None:
            return None
        headers = {"Authorization": f"Bearer {self.client.token}"}
        async with self.session.get(url, headers=headers) as response:
            if response.status != 200:
                log.warning("downloading a shared file answered %s", response.status)
                return None
            data = bytearray()  # to the end: `content.read(n)` gives what has arrived, perhaps 64 KB of it
            async for chunk in response.content.iter_chunked(1 << 16):
                data += chunk
                if len(data) > MAX_IMPORT_BYTES:
                    return None
        return bytes(data)
