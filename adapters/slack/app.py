"""Slack events, commands and interactions in, the core's commands through the dispatcher, Block Kit out.

Built on slack-bolt's `AsyncApp`; the same app serves HTTP mode and Socket Mode (adapters.slack.service).
The adapter only translates: roles, TLP, visibility, validation, and whether a reply is for the speaker alone
(`Reply.private`) are the core's decisions.

Acknowledging in time: Slack wants every request acknowledged within 3 seconds, whatever the store does.
Each listener acknowledges and hands its work to a task of its own (`spawn`), then returns, and bolt
(`process_before_response=True`) answers Slack's HTTP request right then; the answer follows through
`response_url`, `chat.postMessage` or `views.open`. A modal's submission is the exception: its validation errors
must be the acknowledgement itself (`response_action: errors`), so the form is checked at once (no I/O), then
the command runs for up to `ack_budget` seconds (2 s) before the acknowledgement; a slower store gets a plain
acknowledgement and the answer follows in a direct message.

Privacy: every reply to a person leaves through `send_reply`, the one function that honours the core's
`Reply.private` (an ephemeral answer through response_url or `chat.postEphemeral`, else a direct message);
only a public reply is posted in a channel. Modals, App Home and exports (uploaded to the person's DM) are
the person's own. The contract test (tests/adapters/slack/test_slack_private_contract.py) walks every listener.

A retried event (Slack's `X-Slack-Retry-Num`, or Socket Mode's retry attempt) whose event id was seen already
is acknowledged and dropped (`SeenEvents`). Bolt's request verification (signature and timestamp) stays on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import actions, commands
from bot.audience import Reply, cards_of
from bot.commands import FormError, IdRef, UsageError
from bot.delivery import remember_posted
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, PostedCard, Verdict
from bot.ioc import extract
from bot.ports import UnitOfWorkFactory
from bot.results import FileResult, InternalError, PassiveResult, UserError

from .blocks import REASON_CALLBACK, SUBMIT_CALLBACK, Message, Renderer, plural, section
from .mrkdwn import esc, from_slack, truncate
from .sink import CARD_EVENT

log = logging.getLogger(__name__)

SHARE_SHORTCUT = "share_indicator"
MESSAGE_SHORTCUT = "submit_from_message"
MAX_LIVE_CARDS = 5  # a public reply with more cards is one message (not edited later)
MAX_IMPORT_BYTES = 50 * 1024 * 1024
# Slash commands answered at once: more would only queue for the store's connections, and slow the
# acknowledgement of the requests still arriving.
WORK_SLOTS = 8
# chat.postMessage refused in the command's channel (the bot is not in it): answer through response_url.
POST_FALLBACK = {"not_in_channel", "channel_not_found", "restricted_action", "is_archived"}
_VOTE_BUTTON = re.compile(r"^ioc:vote:([0-9]{1,18}):")  # ASCII digits only: \d takes '٣'
_FORM_BLOCKS = {"values": "values", "tlp": "tlp", "confidence": "confidence", "tags": "tags", "valid": "valid",
                "note": "note"}


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


class _KeyLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or body.get("team_id")
               or (body.get("user") or {}).get("team_id") or "")


def state_value(view: dict[str, Any], block_id: str, action_id: str) -> Any:
    """What an input of a submitted view holds: text, the selected option's value, or the checked values."""
    element = (((view.get("state") or {}).get("values") or {}).get(block_id) or {}).get(action_id) or {}
    if "selected_options" in element:
        return [o.get("value") for o in element.get("selected_options") or []]
    if "selected_option" in element:
        return (element.get("selected_option") or {}).get("value")
    return element.get("value")


def message_text(message: dict[str, Any]) -> str:
    """A message's text with its attachments' (forwarded messages, unfurls), for the IOC engine."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        parts += [attachment.get(k) or "" for k in ("pretext", "title", "text", "fallback")]
    return "\n".join(p for p in parts if p)


class SlackBot:
    """The bolt app and its handlers."""

    def __init__(self, dispatcher: Dispatcher, uow_factory: UnitOfWorkFactory, client: AsyncWebClient, *,
                 signing_secret: str, session: aiohttp.ClientSession | None = None,
                 retry_handlers: list[AsyncRetryHandler] | None = None, renderer: Renderer | None = None,
                 confirm_emoji: str = "white_check_mark", false_positive_emoji: str = "x",
                 ack_budget: float = 2.0, work_slots: int = WORK_SLOTS) -> None:
        self.dispatcher = dispatcher
        self.uow_factory = uow_factory
        self.client = client
        self.session = session
        self.retry_handlers = retry_handlers
        self.renderer = renderer or Renderer(confirm_emoji=confirm_emoji, false_positive_emoji=false_positive_emoji)
        self.reactions = {confirm_emoji: Verdict.CONFIRM, false_positive_emoji: Verdict.FALSE_POSITIVE}
        self.ack_budget = ack_budget
        self.seen = SeenEvents()
        self._cards: OrderedDict[tuple[str, str], int] = OrderedDict()  # (channel, ts) -> indicator id
        self._dms: dict[str, str] = {}
        self._inflight: set[asyncio.Task[Any]] = set()
        self._reacting: dict[tuple[str, str, str], _KeyLock] = {}
        self._slots = asyncio.Semaphore(work_slots)

        app = AsyncApp(name="coalition-bot", client=client, signing_secret=signing_secret,
                       request_verification_enabled=True, process_before_response=True, logger=log)
        app.middleware(self.skip_retried_events)
        app.command(re.compile(r"^/"))(self.on_command)
        app.action(re.compile(r"^ioc:"))(self.on_action)
        app.view(SUBMIT_CALLBACK)(self.on_submit)
        app.view(REASON_CALLBACK)(self.on_reason)
        app.shortcut(SHARE_SHORTCUT)(self.on_share_shortcut)
        app.shortcut(MESSAGE_SHORTCUT)(self.on_message_shortcut)
        app.event("reaction_added")(self.on_reaction_added)
        app.event("reaction_removed")(self.on_reaction_removed)
        app.event("message")(self.on_message)
        app.event("app_home_opened")(self.on_home_opened)
        app.event("file_shared")(self.on_file_shared)
        for quiet in ("file_created", "file_change", "file_deleted", "file_public", "file_unshared", "app_mention",
                      "app_home_closed"):
            app.event(quiet)(self._ignore)
        self.app = app

    # ------------------------------------------------------------ plumbing

    def spawn(self, work: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run a handler's work after its acknowledgement, as a task that stop() waits for."""
        task = asyncio.ensure_future(self._guarded(work, what))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return task

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, Any], what: str) -> Any:
        try:
            return await work
        except Exception:
            log.exception("Slack %s failed (ref %s)", what, reference := secrets.token_hex(4))
            return InternalError(reference)

    async def idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - a deadline, not a cancel
        """Wait until no handler is running (shutdown, tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while pending := {t for t in self._inflight if t is not asyncio.current_task() and not t.done()}:
            left = deadline - loop.time()
            if left <= 0:
                log.warning("%d Slack handlers still running at shutdown", len(pending))
                return
            await asyncio.wait(pending, timeout=left)

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

    def actor(self, team: str, user: str, channel: str, *, private: bool | None = None, name: str = "") -> Actor:
        """Who speaks, where; `private`: only this person sees the reply (a DM with the bot, an ephemeral
        message, a modal, the App Home)."""
        return Actor(Platform.SLACK, team, user, channel, channel.startswith("D") if private is None else private,
                     display_name=name)

    def remember_card(self, channel: str, ts: str, indicator_id: int) -> None:
        self._cards[(channel, ts)] = indicator_id
        if len(self._cards) > 50_000:
            self._cards.popitem(last=False)

    async def respond(self, response_url: str | None, message: Message, *, ephemeral: bool,
                      replace_original: bool | None = None) -> bool:
        """Answer through the request's response_url (bolt's `respond`, with the shared session and retries)."""
        if not response_url:
            return False
        payload: dict[str, Any] = {"response_type": "ephemeral" if ephemeral else "in_channel", **message.payload()}
        if replace_original is not None:
            payload["replace_original"] = replace_original
        webhook = AsyncWebhookClient(response_url, session=self.session, retry_handlers=self.retry_handlers)
        response = await webhook.send_dict(payload)
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code, truncate(str(response.body), 200))
            return False
        return True

    async def dm_channel(self, user: str) -> str:
        if user not in self._dms:
            opened = await self.client.conversations_open(users=user)
            self._dms[user] = str(opened["channel"]["id"])
        return self._dms[user]

    async def tell(self, user: str, message: Message) -> None:
        """A direct message from the bot to one person."""
        await self.client.chat_postMessage(channel=await self.dm_channel(user), **message.payload(),
                                           unfurl_links=False, unfurl_media=False)

    async def private(self, actor: Actor, message: Message, response_url: str | None = None, *,
                      replace_original: bool | None = None) -> None:
        """Show `message` to this person alone, wherever they are (use `send_reply`: it decides)."""
        if await self.respond(response_url, message, ephemeral=True, replace_original=replace_original):
            return
        if actor.channel_id and not actor.channel_id.startswith("D"):
            try:
                await self.client.chat_postEphemeral(channel=actor.channel_id, user=actor.user_id,
                                                     **message.payload())
                return
            except SlackApiError as e:
                log.info("ephemeral message in %s refused (%s): sent as a DM", actor.channel_id,
                         e.response.get("error"))
        await self.tell(actor.user_id, message)

    async def _run_before_ack(self, work: Coroutine[Any, Any, Reply], ack: Callable[..., Awaitable[Any]],
                              then: Callable[[Reply], Coroutine[Any, Any, Any]], what: str) -> Reply | None:
        """Run the command for up to `ack_budget` seconds before acknowledging: its reply, or None when the store
        was slower (then the request is acknowledged, and `then(reply)` runs once the reply comes)."""
        task = self.spawn(work, what)
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), self.ack_budget)
        except TimeoutError:
            await ack()

            async def later() -> None:
                reply = await task
                await then(reply if isinstance(reply, Reply) else Reply(reply, True))

            self.spawn(later(), what)
            return None
        if isinstance(reply, InternalError):  # failed outside the dispatcher (logged with this reference)
            return Reply(reply, True)
        return reply

    # ------------------------------------------------------------ replies

    async def send_reply(self, reply: Reply, actor: Actor, *, response_url: str | None,
                         message: Message | None = None, replace_original: bool | None = None,
                         thread_ts: str | None = None) -> None:
        """THE way a reply leaves the adapter. Private (the core's `Reply.private`, or a conversation only this
        person sees): ephemeral, through response_url or `chat.postEphemeral`, else in the person's DM with the
        bot. Public: in the channel, its cards as messages of their own (recorded, so that they are edited when
        their indicator changes). `message` replaces the native rendering of the result."""
        result = reply.result
        if isinstance(result, FileResult):
            await self.send_file(result, actor, response_url)
            return
        if reply.private or actor.private:
            message = message or self.renderer.message(result)
            if actor.channel_id.startswith("D") and not response_url:
                await self.client.chat_postMessage(channel=actor.channel_id, **message.payload(),
                                                   unfurl_links=False, unfurl_media=False)
            else:
                await self.private(actor, message, response_url, replace_original=replace_original)
            return
        if message is not None:
            await self.client.chat_postMessage(channel=actor.channel_id, **message.payload(), thread_ts=thread_ts,
                                               unfurl_links=False, unfurl_media=False)
            return
        cards = cards_of(result)
        if cards and len(cards) <= MAX_LIVE_CARDS:
            try:
                await self.post_live(result, actor)
                return
            except SlackApiError as e:
                if e.response.get("error") not in POST_FALLBACK:
                    raise
                log.info("cannot post in %s (%s): answering through response_url, without live updates",
                         actor.channel_id, e.response.get("error"))
        if not await self.respond(response_url, self.renderer.message(result), ephemeral=False):
            await self.client.chat_postMessage(channel=actor.channel_id, **self.renderer.message(result).payload(),
                                               unfurl_links=False, unfurl_media=False)

    async def post_live(self, result: Any, actor: Actor) -> None:
        posted: list[PostedCard] = []
        try:
            for n, (card, message) in enumerate(self.renderer.live_messages(result)):
                try:
                    response = await self.client.chat_postMessage(
                        channel=actor.channel_id, **message.payload(), unfurl_links=False, unfurl_media=False,
                        metadata={"event_type": CARD_EVENT, "event_payload": {"indicator_id": card.indicator.id}})
                except SlackApiError:
                    if n == 0:
                        raise
                    log.exception("posting card %s in %s failed", card.indicator.ref, actor.channel_id)
                    continue
                ts = str(response["ts"])
                moderation = any(b.action_id.split(":")[1] in {"approve", "reject", "revoke"} for b in card.buttons)
                posted.append(PostedCard(Platform.SLACK, actor.workspace_id, actor.channel_id, card.indicator.id,
                                         "moderation" if moderation else "reply", message_id=ts))
                self.remember_card(actor.channel_id, ts, card.indicator.id)
        finally:
            await remember_posted(self.uow_factory, posted)

    async def send_file(self, result: FileResult, actor: Actor, response_url: str | None) -> None:
        """An export goes to the person's direct message with the bot, never to a channel: it holds what they
        may see in private."""
        try:
            dm = await self.dm_channel(actor.user_id)
            await self.client.files_upload_v2(channel=dm, content=result.data, filename=result.filename,
                                              title=result.filename, initial_comment=esc(result.summary))
        except SlackApiError as e:
            await self.private(actor, self.renderer.message(UserError(
                f"the file could not be uploaded ({e.response.get('error', 'error')}); try again later")),
                response_url)
            return
        if actor.channel_id != dm:
            await self.private(actor, Message(esc(result.summary), [section(
                f":outbox_tray: I sent you *{esc(result.filename)}* in our direct message: {esc(result.summary)}")]),
                response_url)

    # ------------------------------------------------------------ slash command

    async def on_command(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.command(body), "slash command")

    async def command(self, body: dict[str, Any]) -> None:
        actor = self.actor(team_of(body), str(body.get("user_id", "")), str(body.get("channel_id", "")),
                           name=str(body.get("user_name", "")))
        async with self._slots:
            reply = await self.dispatcher.handle_text(from_slack(str(body.get("text", ""))), actor)
            await self.send_reply(reply, actor, response_url=body.get("response_url"))

    # ------------------------------------------------------------ buttons

    async def on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.button(body, action), "button")

    async def button(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        container = body.get("container") or {}
        view = body.get("view") or {}
        in_home = view.get("type") == "home"
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        own_view = bool(view) or bool(container.get("is_ephemeral")) or channel.startswith("D")
        user = body.get("user") or {}
        actor = self.actor(team_of(body), str(user.get("id", "")), "" if in_home else channel,
                           private=own_view, name=str(user.get("username") or user.get("name") or ""))
        response_url = body.get("response_url")
        try:
            act = actions.parse(str(action.get("action_id", "")))
        except UsageError as e:  # not one of this bot's buttons (forged, or from another app)
            await self.send_reply(Reply(UserError(e.problem), private=True), actor, response_url=response_url)
            return
        if act.needs_reason:
            metadata = {"channel": actor.channel_id, "private": actor.private, "home": in_home,
                        "response_url": response_url or ""}
            await self.client.views_open(trigger_id=body.get("trigger_id"),
                                          view=self.renderer.reason_modal(act, metadata))
            return
        reply = await self.dispatcher.handle(actions.to_command(act), actor)
        result = reply.result
        # a press answers the presser alone: the cards in channels are edited for everyone through the outbox
        if in_home:
            if isinstance(result, UserError | InternalError):
                await self.send_reply(Reply(result, private=True), actor, response_url=None)  # a DM
            await self.publish_home(actor.workspace_id, actor.user_id)
            return
        if own_view or isinstance(result, UserError | InternalError) or act.verb in {"lookup", "queue"}:
            # the person's own message (ephemeral, DM): the whole answer, a new page in place of the old
            replace = True if act.verb == "queue" and container.get("is_ephemeral") else None
            await self.send_reply(Reply(result, private=True), actor, response_url=response_url,
                                  replace_original=replace)
            return
        short = self.renderer.head(result) + self.renderer.tail(result)  # the presser gets a word
        await self.send_reply(Reply(result, private=True), actor, response_url=response_url,
                              message=Message(self.renderer.fallback(result), short) if short else None)

    async def on_reason(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The reason modal of Reject / Revoke: the command runs before the acknowledgement when it can, so a
        refusal is shown in the modal."""
        metadata = json.loads(view.get("private_metadata") or "{}")
        reason = str(state_value(view, "reason", "reason") or "")
        try:
            command = actions.to_command(actions.parse(str(metadata.get("action", ""))), reason)
        except UsageError as e:
            await ack(response_action="errors", errors={"reason": truncate(e.problem, 300)})
            return
        user = body.get("user") or {}
        actor = self.actor(team_of(body), str(user.get("id", "")), str(metadata.get("channel", "")),
                           private=bool(metadata.get("private", True)),
                           name=str(user.get("username") or user.get("name") or ""))

        async def answer(reply: Reply) -> None:
            result = reply.result
            if metadata.get("home"):
                await self.publish_home(actor.workspace_id, actor.user_id)
            short = self.renderer.head(result) + self.renderer.tail(result)
            message = Message(self.renderer.fallback(result), short) if short and not actor.private \
                else self.renderer.message(result)
            if not metadata.get("home") or isinstance(result, UserError | InternalError):
                await self.send_reply(Reply(result, private=True), actor,
                                      response_url=metadata.get("response_url") or None, message=message)

        reply = await self._run_before_ack(self.dispatcher.handle(command, actor), ack, answer, "reason modal")
        if reply is None:
            return  # acknowledged already; `answer` follows
        if isinstance(reply.result, UserError):
            await ack(response_action="errors", errors={"reason": truncate(reply.result.problem, 300)})
            return
        await ack()
        self.spawn(answer(reply), "reason modal")

    # ------------------------------------------------------------ submission modal

    async def on_share_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.client.views_open(trigger_id=body.get("trigger_id"), view=self._submission_modal()),
                   "shortcut")

    async def on_message_shortcut(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.message_shortcut(body), "message shortcut")

    async def message_shortcut(self, body: dict[str, Any]) -> None:
        found = extract(message_text(body.get("message") or {}))[: self.dispatcher.policy.max_values_per_command]
        values: list[str] = []
        for obs in found:  # as many whole values as the input holds (3,000 characters)
            if sum(len(v) + 1 for v in values) + len(obs.value) > 3000:
                break
            values.append(obs.value)
        if not found:
            hint = "No indicator found in that message: paste them below."
        elif len(values) < len(found):
            hint = f"Found {len(found)} indicators; the first {len(values)} fit here, submit the rest next."
        else:
            hint = f"Found {plural(len(found), 'indicator')} in the message."
        channel = str((body.get("channel") or {}).get("id") or "")
        await self.client.views_open(trigger_id=body.get("trigger_id"),
                                     view=self._submission_modal(values="\n".join(values), channel=channel,
                                                                 hint=hint))

    def _submission_modal(self, **kwargs: Any) -> dict[str, Any]:
        policy = self.dispatcher.policy
        return self.renderer.submission_modal(default_tlp=policy.default_tlp,
                                              default_confidence=policy.default_confidence, **kwargs)

    async def on_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata = json.loads(view.get("private_metadata") or "{}")
        try:
            command = commands.submit_from_form(
                values=str(state_value(view, "values", "values") or ""),
                tlp=state_value(view, "tlp", "tlp"),
                confidence=state_value(view, "confidence", "confidence"),
                tags=state_value(view, "tags", "tags"),
                note=state_value(view, "note", "note"),
                anonymous="anon" in (state_value(view, "anonymity", "anonymous") or []),
                valid=state_value(view, "valid", "valid"),
            )
        except FormError as e:
            await ack(response_action="errors",
                      errors={_FORM_BLOCKS.get(k, "values"): truncate(v, 300) for k, v in e.errors.items()})
            return
        user = body.get("user") or {}
        actor = self.actor(team_of(body), str(user.get("id", "")), str(metadata.get("channel", "")),
                           private=True, name=str(user.get("username") or user.get("name") or ""))

        async def in_a_dm(reply: Reply) -> None:  # the modal closed before the store answered
            await self.send_reply(Reply(reply.result, private=True), dataclasses.replace(actor, channel_id=""),
                                  response_url=None)

        reply = await self._run_before_ack(self.dispatcher.handle(command, actor), ack, in_a_dm, "submission modal")
        if reply is None:
            return
        if isinstance(reply.result, UserError):
            await ack(response_action="errors", errors={"values": truncate(reply.result.problem, 300)})
        else:
            await ack(response_action="update", view=self.renderer.result_modal(reply.result, "Submitted"))

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
        entry = self._reacting.setdefault(key, _KeyLock())
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
        actor = self.actor(team_of(body), user, channel)
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
                await self.direct_message(team_of(body), user, channel, text)
            return
        if not text.strip() or not extract(text):
            return  # most messages: no store access at all
        async with self._slots:
            reply = await self.dispatcher.handle(commands.Passive(text), self.actor(team_of(body), user, channel))
        result = reply.result
        if reply.private or not isinstance(result, PassiveResult) or not result.items:
            return  # passive mode answers in the thread or not at all (no DM for every chat message)
        await self.send_reply(reply, self.actor(team_of(body), user, channel), response_url=None,
                              message=self.renderer.passive_message(result),
                              thread_ts=event.get("thread_ts") or event.get("ts"))

    async def direct_message(self, team: str, user: str, channel: str, text: str) -> None:
        """In a direct message with the bot, `/ioc` is optional: the message is the command."""
        text = from_slack(text).strip()
        if text.lower().startswith("/ioc"):
            text = text[4:]
        actor = self.actor(team, user, channel, private=True)
        reply = await self.dispatcher.handle_text(text, actor)
        await self.send_reply(reply, actor, response_url=None)

    # ------------------------------------------------------------ App Home

    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            self.spawn(self.publish_home(team_of(body), str(event.get("user", ""))), "App Home")

    async def publish_home(self, team: str, user: str) -> None:
        reply = await self.dispatcher.handle(commands.Home(), self.actor(team, user, "", private=True))
        await self.client.views_publish(user_id=user, view=self.renderer.home(reply.result))

    # ------------------------------------------------------------ files

    async def on_file_shared(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        self.spawn(self.file_shared(event, body, context), "file import")

    async def file_shared(self, event: dict[str, Any], body: dict[str, Any], context: Any) -> None:
        """A file shared with the bot in a direct message is imported (STIX 2.1 bundle, CSV or text)."""
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
        reply = await self.dispatcher.handle(commands.ImportFile(name, data), actor)
        await self.send_reply(reply, actor, response_url=None)

    async def download(self, url: str) -> bytes | None:
        if not url or self.session is None:
            return None
        headers = {"Authorization": f"Bearer {self.client.token}"}
        async with self.session.get(url, headers=headers) as response:
            if response.status != 200:
                log.warning("downloading a shared file answered %s", response.status)
                return None
            data = await response.content.read(MAX_IMPORT_BYTES + 1)
        return data if len(data) <= MAX_IMPORT_BYTES else None
