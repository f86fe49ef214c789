"""Discord's delivery sink: feed and moderation posts, live card edits, direct messages to submitters.

Idempotence: a post carries its delivery key (a card and a direct-message notice in the embed footer, a plain line
in a last small line); on a retry the sink first looks through every message of the channel (or the direct message
channel) posted since the first attempt started (`after`, paging oldest first) for one of the bot's carrying that
key. Rate limits are discord.py's HTTP client's
business (it waits and retries); when it gives up, a 429 becomes `DeliveryError(retry_after=...)`.

Issue 13: a comment goes in a thread started on the posted card's message (started by the first comment, named
after the indicator; a thread started on a message has that message's id, so nothing else is kept to find it
again), with its key in a small last line, as a plain line has; a redelivery looks through that thread first. A
case's card is one message (its key in a small last line), edited when the case changes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import Collection
from datetime import datetime

import discord

from bot.delivery import DeliveryError, Serving, ThreadComment
from bot.domain import Channel, Identity, Platform, PostedCard, PostedCaseCard
from bot.results import CaseCard, IndicatorCard, Notice
from bot.text import render

from .render import MENTIONS, card_embed, card_view, esc, indicator_id_of, to_message

log = logging.getLogger(__name__)

CANNOT_POST = {50001, 50013}  # Missing Access, Missing Permissions: the bot may not see or post in the channel

_KEY = re.compile(r"delivery (\S+)$")
MAX_CONTENT = 2000  # characters of a message's content
MAX_DESCRIPTION = 4096  # characters of an embed's description
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
THREAD_ARCHIVE_MINUTES = 10080  # a week without comments hides the thread (a new comment brings it back)


def _keys(message: dict) -> set[str]:
    """The delivery keys a message of the bot's (as the API returns it) carries: in an embed's footer or in its
    last line."""
    texts = [(e.get("footer") or {}).get("text") or "" for e in message.get("embeds") or []]
    texts.append(message.get("content") or "")
    return {m.group(1) for text in texts if (m := _KEY.search(text))}


class DiscordSink:
    """One bot token serves every guild the bot is in: every workspace lane is served here (a guild the bot left
    has its channels unregistered by adapters.discord.guilds, so nothing is planned there)."""

    platform = Platform.DISCORD
    workspaces = None  # every lane

    def __init__(self, client: discord.Client, *, seed_reactions: tuple[str, ...] = ()) -> None:
        self.client = client
        self.seed_reactions = seed_reactions

    async def serves(self, workspace_id: str) -> Serving:
        return Serving.HERE

    async def find_posted(self, where: Channel | Identity | PostedCard, keys: Collection[str],
                          since: datetime) -> dict[str, str]:
        """The id of each message the bot posted under one of `keys` since `since` (every message of the channel,
        or of the thread on a posted card, after that time, oldest first, 100 a page, until all are found or none
        is left)."""
        missing, found = set(keys), {}
        me = str(self.client.user.id) if self.client.user else None
        try:
            if isinstance(where, PostedCard):
                if where.message_id is None:
                    return found
                channel_id = int(where.message_id)  # the thread started on the card, if any
            elif isinstance(where, Channel):
                channel_id = int(where.channel_id)
            else:
                channel_id = (await self.client.create_dm(discord.Object(int(where.user_id)))).id  # type: ignore[arg-type]
            # the raw pages (no Message objects: a search may read thousands of messages)
            after = discord.utils.time_snowflake(since, high=False) - 1
            while missing:
                page = await self.client.http.logs_from(channel_id, 100, after=after)
                if not page:
                    break
                for earlier in sorted(page, key=lambda m: int(m["id"])):
                    if (earlier.get("author") or {}).get("id") == me:
                        for key in _keys(earlier) & missing:
                            missing.discard(key)
                            found[key] = str(earlier["id"])
                if len(page) < 100:  # the last page
                    break
                after = max(int(m["id"]) for m in page)
        except discord.NotFound as e:  # no thread on that card (nothing was posted in it), or the card is gone
            if isinstance(where, PostedCard):
                return found
            raise _delivery_error(e) from e
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        return found

    async def post_comment(self, posted: PostedCard, comment: ThreadComment, *, key: str) -> str:
        """The comment in the thread on the card's message: sent there, and when there is no thread yet, one is
        started on the message first (by another attempt meanwhile: that one is used)."""
        if posted.message_id is None:
            return ""
        footer = f"\n-# delivery {key}"
        head, text = f"💬 **{esc(comment.author)}** on {comment.ref}:", esc(comment.text)
        sent: dict = {"nonce": key[:25], "allowed_mentions": MENTIONS}
        if len(head) + 1 + len(text) + len(footer) <= MAX_CONTENT:
            sent["content"] = f"{head} {text}{footer}"
        else:  # a long comment (escaped, it may be twice as long) goes whole in an embed, the key in the content
            sent["content"] = head + footer
            sent["embed"] = discord.Embed(description=text if len(text) <= MAX_DESCRIPTION
                                          else text[:MAX_DESCRIPTION - 1] + "…")
        thread = self.client.get_partial_messageable(int(posted.message_id))  # a thread has its message's id
        try:
            try:
                message = await thread.send(**sent)
            except discord.NotFound:  # no thread on the card yet: the first comment starts it
                await self._start_thread(posted, f"Comments on {comment.ref}")
                message = await thread.send(**sent)
        except discord.NotFound:
            log.info("discord: card %s in %s was deleted; comment %s not threaded", posted.message_id,
                     posted.channel_id, key)
            return ""
        except discord.Forbidden as e:
            log.warning("discord: may not start or post in a thread on card %s in %s (%s); comment %s dropped",
                        posted.message_id, posted.channel_id, e.text, key)
            return ""
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        return str(message.id)

    async def _start_thread(self, posted: PostedCard, name: str) -> None:
        assert posted.message_id is not None
        channel = self.client.get_channel(int(posted.channel_id))
        try:
            if isinstance(channel, discord.TextChannel):
                await channel.get_partial_message(int(posted.message_id)).create_thread(
                    name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES)
            else:  # not in the cache (yet): the same call by the channel's id
                await self.client.http.start_thread_with_message(
                    int(posted.channel_id), int(posted.message_id), name=name,
                    auto_archive_duration=THREAD_ARCHIVE_MINUTES)
        except discord.HTTPException as e:
            if e.code != THREAD_EXISTS:
                raise

    async def post_case_card(self, channel: Channel, card: CaseCard, *, key: str) -> str:
        target = self.client.get_partial_messageable(int(channel.channel_id))
        try:
            message = await target.send(**_case_message(card, key), nonce=key[:25])
        except discord.Forbidden as e:
            if e.code in CANNOT_POST:  # said plainly where a parked row shows it
                raise DeliveryError(f"Discord {e.status} {e.text} ({e.code}): the bot cannot post in channel "
                                    f"{channel.channel_id} (give it View Channel and Send Messages there)") from e
            raise _delivery_error(e) from e
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        return str(message.id)

    async def update_case_card(self, posted: PostedCaseCard, card: CaseCard) -> None:
        if posted.message_id is None:
            return
        message = self.client.get_partial_messageable(int(posted.channel_id)).get_partial_message(
            int(posted.message_id))
        try:
            await message.edit(**_case_message(card, posted.delivery_key or ""))
        except discord.NotFound:
            log.info("discord: case card %s in %s was deleted; not updated", posted.message_id, posted.channel_id)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        target = self.client.get_partial_messageable(int(channel.channel_id))
        try:
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
            await message.edit(embeds=[card_embed(card, key=posted.delivery_key or "")], view=card_view([card]),
                               allowed_mentions=MENTIONS)
        except discord.NotFound:
            log.info("discord: card %s in %s was deleted; not updated", posted.message_id, posted.channel_id)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        target = self.client.get_partial_messageable(int(channel.channel_id))
        try:
            # the key in a small last line: Discord does not keep a message's nonce in the channel's history
            message = await target.send(f"{esc(text)}\n-# delivery {key}", nonce=key[:25], allowed_mentions=MENTIONS)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        return str(message.id)

    async def post_file(self, channel: Channel, filename: str, data: bytes, text: str, *, key: str) -> str:
        """The file attached to a message of the text, the key in its small last line as on a plain line."""
        target = self.client.get_partial_messageable(int(channel.channel_id))
        footer = f"\n-# delivery {key}"
        try:
            message = await target.send(esc(text)[:MAX_CONTENT - len(footer)] + footer, nonce=key[:25],
                                        file=discord.File(io.BytesIO(data), filename=filename),
                                        allowed_mentions=MENTIONS)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e
        return str(message.id)

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        try:
            user = discord.Object(int(identity.user_id))
            dm = await self.client.create_dm(user)  # type: ignore[arg-type]
            kwargs = to_message(notice).kwargs()
            if embeds := kwargs.get("embeds"):  # the key in the card's footer, as on a channel card
                embeds[0].set_footer(text=f"{embeds[0].footer.text or ''} · delivery {key}".lstrip(" ·"))
            else:
                kwargs["content"] = f"{kwargs.get('content') or ''}\n-# delivery {key}"
            await dm.send(**kwargs, nonce=key[:25])
        except discord.Forbidden:
            log.info("discord: %s does not accept direct messages; notice %s dropped", identity.user_id, key)
        except discord.HTTPException as e:
            raise _delivery_error(e) from e


def _case_message(card: CaseCard, key: str) -> dict:
    """A case's card as one message: its text (bot.text with Discord escaping) in the content or, longer, in an
    embed, cut (visibly) at an embed's 4,096 characters: a card that is edited in place has no file to carry the
    rest (as a long reply's plain text has); the key in a small last line."""
    footer = f"\n-# delivery {key}" if key else ""
    text = render(card, esc)
    if len(text) + len(footer) <= MAX_CONTENT:
        return {"content": text + footer, "embeds": [], "allowed_mentions": MENTIONS}
    if len(text) > MAX_DESCRIPTION:
        text = text[:MAX_DESCRIPTION - 1] + "…"
    return {"content": footer.strip() or None, "embeds": [discord.Embed(description=text)],
            "allowed_mentions": MENTIONS}


def _delivery_error(e: discord.HTTPException) -> Exception:
    if e.status == 429:
        retry_after = None
        with contextlib.suppress(Exception):
            retry_after = float(e.response.headers.get("Retry-After", "")) if e.response else None
        return DeliveryError(f"Discord rate limit: {e.text}", retry_after=retry_after or 5.0)
    return DeliveryError(f"Discord {e.status}: {e.text}")
