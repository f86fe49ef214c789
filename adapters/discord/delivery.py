"""Discord's delivery sink: feed and moderation posts, live card edits, direct messages to submitters.

Idempotence: a post carries its delivery key in the embed footer; on a retry the sink first looks through the
channel's recent messages for one of the bot's carrying that key. Rate limits are discord.py's HTTP client's
business (it waits and retries); when it gives up, a 429 becomes `DeliveryError(retry_after=...)`.
"""

from __future__ import annotations

import contextlib
import logging

import discord

from bot.delivery import DeliveryError
from bot.domain import Channel, Identity, Platform, PostedCard
from bot.results import IndicatorCard, Notice

from .render import MENTIONS, card_embed, card_view, esc, indicator_id_of, to_message

log = logging.getLogger(__name__)

RETRY_SCAN = 50  # recent messages searched for an earlier attempt's post


class DiscordSink:
    platform = Platform.DISCORD

    def __init__(self, client: discord.Client, *, seed_reactions: tuple[str, ...] = ()) -> None:
        self.client = client
        self.seed_reactions = seed_reactions

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str,
                        retry: bool) -> str:
        target = self.client.get_partial_messageable(int(channel.channel_id))
        try:
            if retry:
                async for earlier in target.history(limit=RETRY_SCAN):
                    me = self.client.user
                    if me is not None and earlier.author.id == me.id and any(
                            f"delivery {key}" in (e.footer.text or "") for e in earlier.embeds):
                        return str(earlier.id)
            kw = {"content": f"**{esc(headline)}**", "embeds": [card_embed(card, key=key)],
                  "allowed_mentions": MENTIONS}
            view = card_view([card])
            if view is not None:
                kw["view"] = view
            message = await target.send(**kw)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        for emoji in self.seed_reactions:  # show people which reactions count as votes
            with contextlib.suppress(discord.HTTPException):
                await message.add_reaction(emoji)
        return str(message.id)

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        if posted.message_id is None:
            return
        message = self.client.get_partial_messageable(int(posted.channel_id)).get_partial_message(
            int(posted.message_id))
        try:
            if posted.purpose == "reply":  # a reply may show several cards: replace this one only
                full = await message.fetch()
                embeds = list(full.embeds)
                index = [indicator_id_of(e) for e in embeds]
                if card.indicator.id not in index:
                    return
                embeds[index.index(card.indicator.id)] = card_embed(card)
                if len(embeds) == 1:
                    await full.edit(embeds=embeds, view=card_view([card]), allowed_mentions=MENTIONS)
                else:  # buttons of the other cards stay as they are
                    await full.edit(embeds=embeds, allowed_mentions=MENTIONS)
                return
            await message.edit(embeds=[card_embed(card)], view=card_view([card]),
                               allowed_mentions=MENTIONS)
        except discord.NotFound:
            log.info("discord: card %s in %s was deleted; not updated", posted.message_id, posted.channel_id)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e

    async def post_text(self, channel: Channel, text: str, *, key: str, retry: bool) -> str:
        target = self.client.get_partial_messageable(int(channel.channel_id))
        try:
            nonce = key[:25]  # Discord's limit; the event id leads the key and the scan is of this channel only
            if retry:
                async for earlier in target.history(limit=RETRY_SCAN):
                    me = self.client.user
                    if me is not None and earlier.author.id == me.id and earlier.nonce == nonce:
                        return str(earlier.id)
            message = await target.send(esc(text), nonce=nonce, allowed_mentions=MENTIONS)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        return str(message.id)

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        try:
            user = discord.Object(int(identity.user_id))
            dm = await self.client.create_dm(user)  # type: ignore[arg-type]
            await dm.send(**to_message(notice).kwargs())
        except discord.Forbidden:
            log.info("discord: %s does not accept direct messages; notice %s dropped", identity.user_id, key)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e


def _delivery_error(e: discord.HTTPException) -> Exception:
    if e.status == 429:
        retry_after = None
        with contextlib.suppress(Exception):
            retry_after = float(e.response.headers.get("Retry-After", "")) if e.response else None
        return DeliveryError(f"Discord rate limit: {e.text}", retry_after=retry_after or 5.0)
    return DeliveryError(f"Discord {e.status}: {e.text}")
