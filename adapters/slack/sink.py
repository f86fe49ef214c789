"""Slack's delivery sink: the outbox's cards posted with `chat.postMessage`, edited with `chat.update`, and the
submitter's notices sent as direct messages. It only translates (bot.delivery decides what goes where).

Each posted card, line and direct-message notice carries message metadata with its delivery key, so a redelivery
after a crash finds the message it posted before instead of posting it twice: `conversations.history` from the
first attempt's start (`oldest`), every page of it (`cursor`), however many messages came since. A rate limit that
outlasts the Web API client's own retries becomes a `DeliveryError` with Slack's Retry-After, so the row is retried
then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import DeliveryError
from bot.domain import Channel, Identity, Platform, PostedCard
from bot.results import IndicatorCard, Notice

from .blocks import Message, Renderer, section
from .mrkdwn import esc

log = logging.getLogger(__name__)

CARD_EVENT = "coalition_indicator_card"
NOTICE_EVENT = "coalition_notice"
HISTORY_PAGE = 200  # conversations.history's page size while looking for an earlier attempt's post
# A card that cannot be edited any more (deleted, channel archived, bot removed): nothing to retry.
GONE = {"message_not_found", "channel_not_found", "cant_update_message", "is_archived", "not_in_channel",
        "edit_window_closed"}


def delivery_error(e: SlackApiError) -> DeliveryError:
    response = e.response
    retry_after = None
    if getattr(response, "status_code", None) == 429:
        try:
            retry_after = float((response.headers or {}).get("Retry-After", 30))
        except (TypeError, ValueError):
            retry_after = 30.0
    return DeliveryError(f"Slack: {response.get('error', 'error')}", retry_after)


class SlackSink:
    platform = Platform.SLACK

    def __init__(self, client: AsyncWebClient, renderer: Renderer,
                 remember: Callable[[str, str, int], None] = lambda channel, ts, indicator_id: None) -> None:
        self.client = client
        self.renderer = renderer
        self.remember = remember  # (channel, ts, indicator id) of every card posted: reactions find them

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        indicator_id = card.indicator.id
        message = self.renderer.card_message(card, headline=headline)
        try:
            response = await self.client.chat_postMessage(
                channel=channel.channel_id, **message.payload(), unfurl_links=False, unfurl_media=False,
                metadata={"event_type": CARD_EVENT, "event_payload": {"key": key, "indicator_id": indicator_id}})
        except SlackApiError as e:
            raise delivery_error(e) from e
        ts = str(response["ts"])
        self.remember(channel.channel_id, ts, indicator_id)
        return ts

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        if not posted.message_id:
            return
        message = self.renderer.card_message(card, purpose=posted.purpose)
        try:
            await self.client.chat_update(channel=posted.channel_id, ts=posted.message_id, **message.payload())
        except SlackApiError as e:
            if e.response.get("error") in GONE:
                log.info("card %s in %s is gone (%s): not updated", posted.message_id, posted.channel_id,
                         e.response.get("error"))
                return
            raise delivery_error(e) from e

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        message = Message(esc(notice.message), [section(esc(notice.message)),
                                                *self.renderer.card_blocks(notice.card, buttons=False)])
        try:
            dm = await self.client.conversations_open(users=identity.user_id)
            await self.client.chat_postMessage(channel=dm["channel"]["id"], **message.payload(),
                                               metadata={"event_type": NOTICE_EVENT, "event_payload": {"key": key}})
        except SlackApiError as e:
            if e.response.get("error") in {"user_not_found", "user_disabled", "cannot_dm_bot"}:
                log.info("cannot tell %s: %s", identity.user_id, e.response.get("error"))
                return
            raise delivery_error(e) from e

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        try:
            response = await self.client.chat_postMessage(
                channel=channel.channel_id, text=esc(text), unfurl_links=False, unfurl_media=False,
                metadata={"event_type": CARD_EVENT, "event_payload": {"key": key}})
        except SlackApiError as e:
            raise delivery_error(e) from e
        return str(response["ts"])

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        """The ts of each message the bot posted under one of `keys` since `since` (every message of the channel
        newer than that, page after page, until all are found or none is left)."""
        missing, found = set(keys), {}
        cursor: str | None = None
        try:
            if isinstance(where, Channel):
                channel_id, event_type = where.channel_id, CARD_EVENT
            else:
                channel_id, event_type = (await self.client.conversations_open(users=where.user_id))["channel"]["id"], \
                    NOTICE_EVENT
            while missing:
                history = await self.client.conversations_history(
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
                cursor = (history.get("response_metadata") or {}).get("next_cursor") or None
                if not history.get("has_more") or not cursor:
                    break
        except SlackApiError as e:
            raise delivery_error(e) from e
        return found


__all__ = ["CARD_EVENT", "NOTICE_EVENT", "SlackSink", "delivery_error"]
