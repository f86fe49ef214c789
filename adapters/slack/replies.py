"""The Slack adapter's shared plumbing: the bot's state, its background work (`spawn`, `idle`), and THE way a
reply leaves the adapter (`send_reply`). The surfaces (commands, actions, views, events, installation) build
on `SlackBase`; adapters/slack/app.py puts them together in one bolt app.

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
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot import commands
from bot.audience import Reply, cards_of
from bot.delivery import remember_posted
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, PostedCard, StatsTrends, Verdict
from bot.ports import UnitOfWorkFactory
from bot.results import FileResult, InternalError, StatsResult, UserError

from .blocks import Message, Renderer, section
from .channels import ChannelDirectory, PlacingDispatcher
from .mrkdwn import esc, truncate
from .sink import CARD_EVENT

log = logging.getLogger(__name__)

MAX_LIVE_CARDS = 5  # a public reply with more cards is one message (not edited later)
MAX_IMPORT_BYTES = 50 * 1024 * 1024
# how to let the bot post in a channel, said when it cannot (bot.cases: a case's card)
POST_HERE_FIX = "invite the app into it (type /invite @ followed by the app's name here)"
# Slash commands answered at once: more would only queue for the store's connections, and slow the
# acknowledgement of the requests still arriving.
WORK_SLOTS = 8
# chat.postMessage refused in the command's channel (the bot is not in it): answer through response_url.
POST_FALLBACK = {"not_in_channel", "channel_not_found", "restricted_action", "is_archived"}


class KeyLock:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


def workspace_key(enterprise_id: str | None, team_id: str | None) -> str:
    """THE rule of a Slack workspace's id in the store (`Actor.workspace_id`, identities, channels): the team id,
    prefixed by its Enterprise Grid org when it has one ("E123:T456"), so that an identity is keyed by
    enterprise + team + user, and two orgs' teams can never be taken for one another."""
    team, enterprise = team_id or "", enterprise_id or ""
    return f"{enterprise}:{team}" if enterprise and team and enterprise != team else team or enterprise


def split_workspace(workspace_id: str) -> tuple[str | None, str | None]:
    """(enterprise id, team id) of a `workspace_key`: what the installation store is asked for its token."""
    enterprise, _, team = workspace_id.rpartition(":")
    if not enterprise and team.startswith("E"):
        return team, None  # an org-wide install's org-level surface (no team)
    return enterprise or None, team or None


def enterprise_of(body: dict[str, Any]) -> str:
    return str((body.get("enterprise") or {}).get("id") or body.get("enterprise_id")
               or (body.get("team") or {}).get("enterprise_id") or "")


def team_of(body: dict[str, Any]) -> str:
    """The workspace of a request (`workspace_key`: its Enterprise Grid org and its team)."""
    team = str((body.get("team") or {}).get("id") or body.get("team_id")
               or (body.get("user") or {}).get("team_id") or "")
    return workspace_key(enterprise_of(body), team)


def user_team_of(body: dict[str, Any]) -> str:
    """The workspace of an interaction's person (`user.team_id`) where it is not the request's: an external user in a
    Slack Connect channel, whose `team` is the workspace of the app's message. "" otherwise, and in an Enterprise
    Grid org, where `user.team_id` may be the person's home team rather than the workspace they act in."""
    user = body.get("user")
    team = str(user.get("team_id") or "") if isinstance(user, dict) else ""
    if not team or enterprise_of(body):
        return ""
    return team


def state_value(view: dict[str, Any], block_id: str, action_id: str) -> Any:
    """What an input of a submitted view holds: text, the selected option's value, or the checked values."""
    element = (((view.get("state") or {}).get("values") or {}).get(block_id) or {}).get(action_id) or {}
    if "selected_options" in element:
        return [o.get("value") for o in element.get("selected_options") or []]
    if "selected_option" in element:
        return (element.get("selected_option") or {}).get("value")
    return element.get("value")




# The Web API client of the request being handled (OAuth mode: authorized with its workspace's token, set by
# SlackBot.use_request_client); the tasks a listener spawns copy it with their context.
request_client: ContextVar[AsyncWebClient | None] = ContextVar("slack_request_client", default=None)


class SlackBase:
    """What every surface shares: the state of the bot, its background work, and THE way a reply leaves."""

    @property
    def client(self) -> AsyncWebClient:
        """The client of the request being handled (its workspace's token), else the configured one."""
        return request_client.get() or self.default_client

    def __init__(self, dispatcher: Dispatcher, uow_factory: UnitOfWorkFactory, client: AsyncWebClient, *,
                 signing_secret: str, session: aiohttp.ClientSession | None = None,
                 retry_handlers: list[AsyncRetryHandler] | None = None, renderer: Renderer | None = None,
                 confirm_emoji: str = "white_check_mark", false_positive_emoji: str = "x",
                 ack_budget: float = 2.0, work_slots: int = WORK_SLOTS) -> None:
        # every actor is placed in its channel's registered workspace first (Slack Connect: adapters.slack.channels)
        self.channels = ChannelDirectory(uow_factory)
        self.dispatcher = PlacingDispatcher(dispatcher, self.channels)
        self.uow_factory = uow_factory
        self.default_client = client
        self.session = session
        self.retry_handlers = retry_handlers
        self.renderer = renderer or Renderer(confirm_emoji=confirm_emoji, false_positive_emoji=false_positive_emoji)
        self.reactions = {confirm_emoji: Verdict.CONFIRM, false_positive_emoji: Verdict.FALSE_POSITIVE}
        self.ack_budget = ack_budget
        self._cards: OrderedDict[tuple[str, str], int] = OrderedDict()  # (channel, ts) -> indicator id
        self._dms: dict[str, str] = {}
        self._inflight: set[asyncio.Task[Any]] = set()
        self._reacting: dict[tuple[str, str, str], KeyLock] = {}
        self._slots = asyncio.Semaphore(work_slots)

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


    def actor(self, team: str, user: str, channel: str, *, private: bool | None = None, name: str = "",
              user_team: str = "", shared: bool | None = None) -> Actor:
        """Who speaks, where; `private`: only this person sees the reply (a DM with the bot, an ephemeral
        message, a modal, the App Home). `user_team`: the person's own workspace when it is not `team` (an
        external user in a Slack Connect channel); `shared`: the request says the channel is shared with other
        organizations' workspaces."""
        return Actor(Platform.SLACK, team, user, channel, channel.startswith("D") if private is None else private,
                     display_name=name, identity_workspace_id=user_team if user_team != team else "",
                     channel_shared=shared, post_here_fix=POST_HERE_FIX)

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
            if isinstance(result, StatsResult) and result.trends is not None:
                await self.send_chart(result.trends, actor)
            return
        if message is not None:
            await self.client.chat_postMessage(channel=actor.channel_id, **message.payload(), thread_ts=thread_ts,
                                               unfurl_links=False, unfurl_media=False)
            return
        cards = cards_of(result)
        if cards and len(cards) <= MAX_LIVE_CARDS:
            try:
                await self.post_live(result, actor, record=reply.live)
                return
            except SlackApiError as e:
                if e.response.get("error") not in POST_FALLBACK:
                    raise
                log.info("cannot post in %s (%s): answering through response_url, without live updates",
                         actor.channel_id, e.response.get("error"))
        if not await self.respond(response_url, self.renderer.message(result), ephemeral=False):
            await self.client.chat_postMessage(channel=actor.channel_id, **self.renderer.message(result).payload(),
                                               unfurl_links=False, unfurl_media=False)

    async def post_live(self, result: Any, actor: Actor, *, record: bool = True) -> None:
        """Each card a message of its own (its reactions are votes), recorded to be kept up to date unless the core
        said not to (`Reply.live`)."""
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
            await remember_posted(self.uow_factory, posted if record else [])

    async def send_chart(self, trends: StatsTrends, actor: Actor) -> None:
        """`/ioc stats`'s picture (adapters.charts, drawn off the event loop) in the person's direct message with
        the bot: it shows what they may see in private."""
        from adapters.charts import stats_png

        try:
            png = await asyncio.to_thread(stats_png, trends)
            dm = await self.dm_channel(actor.user_id)
            await self.client.files_upload_v2(channel=dm, content=png, filename="coalition-stats.png",
                                              title="Coalition indicators, the last 12 weeks",
                                              initial_comment="The last 12 weeks, counting only what you may see.")
        except SlackApiError as e:
            log.info("the stats chart could not be uploaded to %s (%s)", actor.user_id, e.response.get("error"))

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

    # ------------------------------------------------------------ App Home

    async def publish_home(self, team: str, user: str) -> None:
        reply = await self.dispatcher.handle(commands.Home(), self.actor(team, user, "", private=True))
        await self.client.views_publish(user_id=user, view=self.renderer.home(reply.result))

    def _submission_modal(self, **kwargs: Any) -> dict[str, Any]:
        policy = self.dispatcher.policy
        return self.renderer.submission_modal(default_tlp=policy.default_tlp,
                                              default_confidence=policy.default_confidence, **kwargs)
