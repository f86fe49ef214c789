"""Slack's delivery sink: the outbox's cards posted with `chat.postMessage`, edited with `chat.update`, and the
submitter's notices sent as direct messages. It only translates (bot.delivery decides what goes where).

Each posted card, line and direct-message notice carries message metadata with its delivery key, so a redelivery
after a crash finds the message it posted before instead of posting it twice: `conversations.history` from the
first attempt's start (`oldest`), every page of it (`cursor`), however many messages came since. A rate limit that
outlasts the Web API client's own retries becomes a `DeliveryError` with Slack's Retry-After, so the row is retried
then.

Every call is made with the token of the workspace it happens in (the channel's, the posted card's, the person's
identity's), never another's: `WorkspaceClients` gives the sink a client per workspace and says which workspaces
it serves (bot.delivery's workspace lanes).

* Single-token mode (`OneWorkspace`): the configured token, for its own workspace (learnt with `auth.test` at
  start); every other workspace is served ELSEWHERE (another `run` process, with that workspace's token).
* OAuth mode (`InstalledWorkspaces`): the bot token the installation store holds for the workspace (cached
  60 s there, a rotating token refreshed first), one client per token; a workspace without one is served NOWHERE
  (never installed, uninstalled, revoked), and its deliveries are dropped with an audit line.

A token Slack refuses (`not_authed`, `invalid_auth`, `account_inactive`, `token_revoked`) is never counted as
delivered: in OAuth mode that token serves nothing any more (the workspace is NOWHERE until a reinstall stores a
new token) and the rest of that workspace's part of the row is dropped, audited (`WorkspaceRefused`); in
single-token mode the configured token is the operator's to fix, so the row is retried, then parked for
`/ioc admin retry` once the token is replaced. A refused direct message (`user_not_found`: the person left the
workspace) and an edit of a card that is gone (`channel_not_found`, deleted, archived) are logged with their
workspace and not retried: nothing else can be done about them.

Issue 13: a comment goes in the thread of each posted card (`chat.postMessage` with the card's `thread_ts`), with
its key in its metadata; a redelivery looks through that thread (`conversations.replies` from the first attempt,
every page) before posting again. A case's card is one message (`chat.update`d when the case changes).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import DeliveryError, Serving, ThreadComment, WorkspaceRefused
from bot.domain import Channel, Identity, Platform, PostedCard, PostedCaseCard
from bot.results import CaseCard, IndicatorCard, Notice

from .blocks import Message, Renderer, section
from .mrkdwn import esc

log = logging.getLogger(__name__)

CARD_EVENT = "coalition_indicator_card"
NOTICE_EVENT = "coalition_notice"
COMMENT_EVENT = "coalition_comment"  # a comment in a card's thread
HISTORY_PAGE = 200  # conversations.history's page size while looking for an earlier attempt's post
# A card that cannot be edited any more (deleted, channel archived, bot removed): nothing to retry.
GONE = {"message_not_found", "channel_not_found", "cant_update_message", "is_archived", "not_in_channel",
        "edit_window_closed"}
CANNOT_POST = {"not_in_channel", "channel_not_found"}  # the bot is not in the channel (or cannot see it)
CANNOT_DM = {"user_not_found", "user_disabled", "cannot_dm_bot"}  # a person who cannot be told: nothing to retry
TOKEN_REFUSED = {"not_authed", "invalid_auth", "account_inactive", "token_revoked"}  # the token, not the call
CLIENTS_KEPT = 1000  # Web API clients kept (one per workspace token)


def delivery_error(e: SlackApiError) -> DeliveryError:
    response = e.response
    retry_after = None
    if getattr(response, "status_code", None) == 429:
        try:
            retry_after = float((response.headers or {}).get("Retry-After", 30))
        except (TypeError, ValueError):
            retry_after = 30.0
    return DeliveryError(f"Slack: {response.get('error', 'error')}", retry_after)


class WorkspaceClients(Protocol):
    """Which Web API client delivers into a workspace (`replies.workspace_key`, as channels and identities are
    stored), and which workspaces a sink serves."""

    workspaces: frozenset[str] | None  # the lanes claimed besides rows for every workspace (None: every lane)

    async def serves(self, workspace_id: str) -> Serving: ...

    async def client(self, workspace_id: str) -> AsyncWebClient | None:
        """The client with the workspace's own token, or None when this sink does not serve it."""

    def refused(self, workspace_id: str, client: AsyncWebClient) -> bool:
        """Slack refused this client's token: True when that is final (the workspace is not served any more and
        the rest of its part of the row is dropped), False when the row is to be retried."""


class OneWorkspace:
    """Single-token mode: one client, for its own workspace (None: unknown, every workspace; tests, benchmarks)."""

    def __init__(self, client: AsyncWebClient, workspace_id: str | None) -> None:
        self._client, self.workspace_id = client, workspace_id
        self.workspaces = None if workspace_id is None else frozenset({workspace_id})

    async def serves(self, workspace_id: str) -> Serving:
        return Serving.HERE if self.workspace_id in {None, workspace_id} else Serving.ELSEWHERE

    async def client(self, workspace_id: str) -> AsyncWebClient | None:
        return self._client if self.workspace_id in {None, workspace_id} else None

    def refused(self, workspace_id: str, client: AsyncWebClient) -> bool:
        return False  # the configured token is the operator's to replace: retried, then parked for an admin


class InstalledWorkspaces:
    """OAuth mode: each workspace's bot token from the installation store (adapters.slack.installation), one
    client per token made by `build` (the same API URL, session and retries as every other client)."""

    workspaces = None

    def __init__(self, bot_token: Callable[[str], Awaitable[str | None]],
                 build: Callable[[str], AsyncWebClient]) -> None:
        self.bot_token = bot_token  # EncryptedInstallationStore.bot_token: the workspace's token, or None
        self.build = build
        self._clients: OrderedDict[str, AsyncWebClient] = OrderedDict()  # token -> client
        self._refused: set[str] = set()  # tokens Slack refused: they serve nothing (a reinstall brings a new one)

    async def _token(self, workspace_id: str) -> str | None:
        token = await self.bot_token(workspace_id)
        return token if token and token not in self._refused else None

    async def serves(self, workspace_id: str) -> Serving:
        return Serving.HERE if await self._token(workspace_id) else Serving.NOWHERE

    async def client(self, workspace_id: str) -> AsyncWebClient | None:
        token = await self._token(workspace_id)
        if token is None:
            return None
        client = self._clients.pop(token, None) or self.build(token)
        self._clients[token] = client  # the most recently used last
        while len(self._clients) > CLIENTS_KEPT:
            self._clients.popitem(last=False)
        return client

    def refused(self, workspace_id: str, client: AsyncWebClient) -> bool:
        if client.token:
            self._refused.add(client.token)
            self._clients.pop(client.token, None)
        return True


class SlackSink:
    platform = Platform.SLACK

    def __init__(self, clients: WorkspaceClients | AsyncWebClient, renderer: Renderer,
                 remember: Callable[[str, str, int], None] = lambda channel, ts, indicator_id: None) -> None:
        self.clients: WorkspaceClients = OneWorkspace(clients, None) if isinstance(clients, AsyncWebClient) \
            else clients
        self.renderer = renderer
        self.remember = remember  # (channel, ts, indicator id) of every card posted: reactions find them

    @property
    def workspaces(self) -> frozenset[str] | None:
        return self.clients.workspaces

    @property
    def client(self) -> AsyncWebClient:
        """Single-token mode's one client."""
        if not isinstance(self.clients, OneWorkspace):
            raise AttributeError("an OAuth-mode sink has a client per workspace (clients.client(workspace))")
        return self.clients._client

    async def serves(self, workspace_id: str) -> Serving:
        return await self.clients.serves(workspace_id)

    async def _client(self, workspace_id: str) -> AsyncWebClient:
        client = await self.clients.client(workspace_id)
        if client is None:  # uninstalled since the row was planned
            raise WorkspaceRefused(workspace_id, "no installation serves it any more")
        return client

    def _error(self, e: SlackApiError, workspace_id: str, client: AsyncWebClient) -> DeliveryError:
        """A failed call's error for the deliverer: a refused token is final (OAuth mode) or retried."""
        error = str(e.response.get("error", "error"))
        if error in TOKEN_REFUSED:
            final = self.clients.refused(workspace_id, client)
            log.warning("Slack refused the bot token of workspace %s (%s): %s", workspace_id, error,
                        "it serves nothing more until the app is installed there again" if final else
                        "the row is retried (replace slack.bot_token, then /ioc admin retry what was parked)")
            if final:
                return WorkspaceRefused(workspace_id, f"Slack: {error}")
        return delivery_error(e)

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        indicator_id = card.indicator.id
        message = self.renderer.card_message(card, headline=headline)
        client = await self._client(channel.workspace_id)
        try:
            response = await client.chat_postMessage(
                channel=channel.channel_id, **message.payload(), unfurl_links=False, unfurl_media=False,
                metadata={"event_type": CARD_EVENT, "event_payload": {"key": key, "indicator_id": indicator_id}})
        except SlackApiError as e:
            raise self._error(e, channel.workspace_id, client) from e
        ts = str(response["ts"])
        self.remember(channel.channel_id, ts, indicator_id)
        return ts

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        if posted.message_id:
            await self._update(posted, self.renderer.card_message(card, purpose=posted.purpose), "card")

    async def _update(self, posted: PostedCard | PostedCaseCard, message: Message, what: str) -> None:
        """chat.update of a posted card; one deleted meanwhile (or its channel) is left alone."""
        client = await self._client(posted.workspace_id)
        try:
            await client.chat_update(channel=posted.channel_id, ts=posted.message_id, **message.payload())
        except SlackApiError as e:
            if e.response.get("error") in GONE:
                log.info("Slack %s %s in %s of workspace %s is gone (%s): not updated", what, posted.message_id,
                         posted.channel_id, posted.workspace_id, e.response.get("error"))
                return
            raise self._error(e, posted.workspace_id, client) from e

    async def post_comment(self, posted: PostedCard, comment: ThreadComment, *, key: str) -> str:
        """The comment as a reply in the card's thread, its author as the lookups show them, all of it escaped."""
        if not posted.message_id:
            return ""
        text = f":speech_balloon: *{esc(comment.author)}* on {comment.ref}: {esc(comment.text)}"
        client = await self._client(posted.workspace_id)
        try:
            response = await client.chat_postMessage(
                channel=posted.channel_id, thread_ts=posted.message_id, text=text, unfurl_links=False,
                unfurl_media=False, metadata={"event_type": COMMENT_EVENT, "event_payload": {"key": key}})
        except SlackApiError as e:
            if e.response.get("error") in GONE | {"thread_not_found"}:
                log.info("Slack card %s in %s of workspace %s is gone (%s): comment %s not threaded",
                         posted.message_id, posted.channel_id, posted.workspace_id, e.response.get("error"), key)
                return ""
            raise self._error(e, posted.workspace_id, client) from e
        return str(response["ts"])

    async def post_case_card(self, channel: Channel, card: CaseCard, *, key: str) -> str:
        message = self.renderer.message(card)
        client = await self._client(channel.workspace_id)
        try:
            response = await client.chat_postMessage(
                channel=channel.channel_id, **message.payload(), unfurl_links=False, unfurl_media=False,
                metadata={"event_type": CARD_EVENT, "event_payload": {"key": key, "case_id": card.case.id}})
        except SlackApiError as e:
            if (error := e.response.get("error")) in CANNOT_POST:  # said plainly where a parked row shows it
                raise DeliveryError(f"Slack: {error}: the bot cannot post in channel {channel.channel_id}, "
                                    f"{'which it cannot see' if error == 'channel_not_found' else 'not being in it'} "
                                    "(invite the app there: /invite @ and its name)") from e
            raise self._error(e, channel.workspace_id, client) from e
        return str(response["ts"])

    async def update_case_card(self, posted: PostedCaseCard, card: CaseCard) -> None:
        if posted.message_id:
            await self._update(posted, self.renderer.message(card), "case card")

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        message = Message(esc(notice.message), [section(esc(notice.message)),
                                                *self.renderer.card_blocks(notice.card, buttons=False)])
        client = await self._client(identity.workspace_id)
        try:
            dm = await client.conversations_open(users=identity.user_id)
            await client.chat_postMessage(channel=dm["channel"]["id"], **message.payload(),
                                          metadata={"event_type": NOTICE_EVENT, "event_payload": {"key": key}})
        except SlackApiError as e:
            if e.response.get("error") in CANNOT_DM:
                log.warning("Slack notice %s not sent: %s of workspace %s cannot be told (%s)", key, identity.user_id,
                            identity.workspace_id, e.response.get("error"))
                return
            raise self._error(e, identity.workspace_id, client) from e

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        client = await self._client(channel.workspace_id)
        try:
            response = await client.chat_postMessage(
                channel=channel.channel_id, text=esc(text), unfurl_links=False, unfurl_media=False,
                metadata={"event_type": CARD_EVENT, "event_payload": {"key": key}})
        except SlackApiError as e:
            raise self._error(e, channel.workspace_id, client) from e
        return str(response["ts"])

    async def post_file(self, channel: Channel, filename: str, data: bytes, text: str, *, key: str) -> str:
        """`files_upload_v2` into the channel, the text as its comment. An upload carries no message metadata:
        the key goes in the file's name (`file_key`), where `find_posted` reads it on a file of the bot's."""
        client = await self._client(channel.workspace_id)
        stem, dot, suffix = filename.rpartition(".")
        try:
            response = await client.files_upload_v2(
                channel=channel.channel_id, content=data, filename=f"{stem}-{file_key(key)}{dot}{suffix}",
                title=stem or filename, initial_comment=esc(text))
        except SlackApiError as e:
            raise self._error(e, channel.workspace_id, client) from e
        shared = response.get("file") or {}
        return str(shared.get("id") or key)

    async def find_posted(self, where: Channel | Identity | PostedCard, keys: Collection[str],
                          since: datetime) -> dict[str, str]:
        """The ts of each message the bot posted under one of `keys` since `since` (every message of the channel
        newer than that, page after page, until all are found or none is left): a card or a line by its metadata,
        a file (the weekly digest) by its name and its uploader, the bot's user. For a posted card: the comments
        in its thread."""
        if isinstance(where, PostedCard):
            return await self._find_in_thread(where, keys, since)
        missing, found = set(keys), {}
        cursor: str | None = None
        client = await self._client(where.workspace_id)
        by_file = {file_key(key): key for key in missing}
        me: str | None = None
        try:
            if isinstance(where, Channel):
                channel_id, event_type = where.channel_id, CARD_EVENT
            else:
                channel_id, event_type = (await client.conversations_open(users=where.user_id))["channel"]["id"], \
                    NOTICE_EVENT
            while missing:
                history = await client.conversations_history(
                    channel=channel_id, oldest=f"{since.timestamp():.6f}", limit=HISTORY_PAGE,
                    include_all_metadata=True, **({"cursor": cursor} if cursor else {}))
                for message in history.get("messages", []):
                    metadata: dict[str, Any] = message.get("metadata") or {}
                    key = (metadata.get("event_payload") or {}).get("key")
                    if key in missing and metadata.get("event_type") == event_type and message.get("bot_id"):
                        missing.discard(key)
                        found[key] = str(message["ts"])
                        if indicator_id := (metadata.get("event_payload") or {}).get("indicator_id"):
                            self.remember(channel_id, found[key], int(indicator_id))  # its reactions are votes
                    for shared in (message.get("files") or []) if isinstance(where, Channel) else []:
                        key = by_file.get(str(shared.get("name") or "").rpartition(".")[0][-FILE_KEY_LENGTH:])
                        if key in missing:
                            me = me or str((await client.auth_test()).get("user_id"))
                            if shared.get("user") == me:
                                missing.discard(key)
                                found[key] = str(message["ts"])
                cursor = (history.get("response_metadata") or {}).get("next_cursor") or None
                if not history.get("has_more") or not cursor:
                    break
        except SlackApiError as e:
            raise self._error(e, where.workspace_id, client) from e
        return found

    async def _find_in_thread(self, posted: PostedCard, keys: Collection[str], since: datetime) -> dict[str, str]:
        """The comments the bot posted under `keys` in a card's thread since `since` (`conversations.replies`:
        thread replies are not in the channel's history), every page."""
        missing, found = set(keys), {}
        if not posted.message_id:
            return found
        cursor: str | None = None
        client = await self._client(posted.workspace_id)
        try:
            while missing:
                replies = await client.conversations_replies(
                    channel=posted.channel_id, ts=posted.message_id, oldest=f"{since.timestamp():.6f}",
                    limit=HISTORY_PAGE, include_all_metadata=True, **({"cursor": cursor} if cursor else {}))
                for message in replies.get("messages", []):
                    metadata: dict[str, Any] = message.get("metadata") or {}
                    key = (metadata.get("event_payload") or {}).get("key")
                    if key in missing and metadata.get("event_type") == COMMENT_EVENT and message.get("bot_id"):
                        missing.discard(key)
                        found[key] = str(message["ts"])
                cursor = (replies.get("response_metadata") or {}).get("next_cursor") or None
                if not replies.get("has_more") or not cursor:
                    break
        except SlackApiError as e:
            if e.response.get("error") in GONE | {"thread_not_found"}:
                return found  # the card is gone: nothing is posted under it either
            raise self._error(e, posted.workspace_id, client) from e
        return found


FILE_KEY_LENGTH = 16


def file_key(key: str) -> str:
    """What a file posted under a delivery key carries at the end of its name (a digest of the key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:FILE_KEY_LENGTH]


__all__ = ["CARD_EVENT", "COMMENT_EVENT", "NOTICE_EVENT", "InstalledWorkspaces", "OneWorkspace", "SlackSink",
           "WorkspaceClients", "delivery_error", "file_key"]
