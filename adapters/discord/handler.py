"""Interactions and events in, the core's commands through the dispatcher, replies out.

The adapter only translates: the core decides roles, TLP, visibility and validation, and whether a reply is
private (an ephemeral response) or public (the channel sees it).

Privacy: every reply leaves through `reply`, the one function that honours the core's `Reply.private`: an
interaction gets an ephemeral response or follow-up (`send`); a message, a file or a reaction, which have no
ephemeral answer, gets a direct message when private (`_send_outside`). Nothing the core marks private is ever
posted in a channel; the contract test (tests/adapters/discord/test_discord_private_contract.py) walks every
registered entry point.

Deadline and privacy: Discord wants a first response within 3 seconds, and the response's ephemerality is
fixed by that first response, but only the core's answer says whether the reply is private. So the command
runs at once and the handler waits for it up to `defer_after` (1 s): almost every command answers by then
and gets a direct response with the right visibility. Only a slow one is deferred: ephemerally, unless its
verb may answer publicly (submit, vote, sighting, moderation, lookup, search); if such a public "thinking"
response then meets a private answer, it is deleted and the answer sent as an ephemeral follow-up. Exports
and imports are deferred at once (ephemerally: their answers are always private). Under load (more than
`busy` interactions being answered already) a new one is deferred at once too: acknowledging first keeps
every interaction inside the deadline however many arrive together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any

import discord

from adapters.chat_progress import ChatProgress, ProgressTiming
from bot import actions, commands, limits
from bot.audience import Reply, cards_of
from bot.commands import FormError, IdRef, UsageError
from bot.delivery import remember_posted
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, PostedCard, StatsTrends, Verdict
from bot.ioc import extract
from bot.ports import UnitOfWorkFactory
from bot.results import InternalError, PassiveResult, StatsResult, UserError
from bot.text import plain
from bot.values import frozen

from .render import MENTIONS, Message, card_embed, esc, indicator_id_of, passive_text, to_message

log = logging.getLogger(__name__)

# Workspaces on Discord: a channel belongs to its guild (Actor.workspace_id and Channel.workspace_id are the guild
# id, so a guild's channels can be unregistered when the bot leaves it), but user ids are global snowflakes, so a
# person's identity lives in one namespace for every guild and for direct messages (Identity.workspace_id is
# "discord"). A direct message has no guild: its workspace is that namespace too.
WORKSPACE = "discord"


def workspace_of(guild_id: int | None) -> str:
    """The workspace id of a channel: its guild's id, or "discord" for a direct message."""
    return str(guild_id) if guild_id else WORKSPACE
MAX_IMPORT_BYTES = 25 * 1024 * 1024
# how to let the bot post in a channel, said when it cannot (bot.cases: a case's card)
POST_HERE_FIX = ("someone who manages the channel can give the bot the View Channel and Send Messages permissions "
                 "there (Send Messages in Threads in a thread)")
PUBLIC_VERBS = {"submit", "vote", "sighting", "approve", "reject", "revoke", "lookup", "search"}


@frozen
class Origin:
    """Where an event without an interaction came from (a message, a file, a reaction): who, and the channel a
    public answer would go to (None: the event has no public answer, e.g. a reaction)."""

    user_id: int
    channel: discord.abc.Messageable | None = None
    dm: bool = False  # the channel is this person's direct message with the bot
    message: discord.Message | None = None  # answered as a reply to it


def actor_for(user: discord.abc.User, channel_id: int | None, guild_id: int | None,
              channel: object = None) -> Actor:
    """`channel`: the channel object, when known: a thread's parent channel (whose registration, and so whose
    ceiling, the thread has: everyone in that channel reads its threads) goes to the core."""
    parent = channel.parent_id if isinstance(channel, discord.Thread) else None
    return Actor(Platform.DISCORD, workspace_of(guild_id), str(user.id), str(channel_id or user.id),
                 private=guild_id is None, display_name=user.name, identity_workspace_id=WORKSPACE,
                 parent_channel_id=str(parent or ""), post_here_fix=POST_HERE_FIX)


def can_post(interaction: discord.Interaction) -> bool | None:
    """Whether the bot may post in the interaction's channel, from the permissions Discord resolved for it there
    (`app_permissions`, overwrites included): a slash command works where the bot may not send messages, and a card
    posted there through the outbox would be refused (50001 Missing Access, 50013 Missing Permissions). None: not
    said (no permission bit at all)."""
    perms = interaction.app_permissions
    if not perms.value:  # absent from the payload (discord.py reads it as 0)
        return None
    if perms.administrator:
        return True
    send = perms.send_messages_in_threads if isinstance(interaction.channel, discord.Thread) else perms.send_messages
    return bool(perms.view_channel and send)


class Handler:
    def __init__(self, client: discord.Client, dispatcher: Dispatcher, uow_factory: UnitOfWorkFactory, *,
                 reaction_confirm: str = "✅", reaction_false_positive: str = "❌", default_tlp: str = "amber",
                 defer_after: float = 1.0, busy: int = 4, import_progress: ProgressTiming | None = None) -> None:
        """`import_progress`: when a file import's progress message is shown, and how often it is edited."""
        self.client = client
        self.dispatcher = dispatcher
        self.uow_factory = uow_factory
        self.reactions = {reaction_confirm: Verdict.CONFIRM, reaction_false_positive: Verdict.FALSE_POSITIVE}
        self.default_tlp = default_tlp
        self.defer_after = defer_after
        self.busy = busy
        self.import_progress = import_progress or ProgressTiming()
        self._answering = 0
        self._pressure = asyncio.Event()  # set while more than `busy` interactions are being answered
        self._card_of_message: OrderedDict[int, int | None] = OrderedDict()  # message id -> indicator id

    # ------------------------------------------------------------------ commands

    def actor(self, interaction: discord.Interaction) -> Actor:
        actor = actor_for(interaction.user, interaction.channel_id, interaction.guild_id, interaction.channel)
        return dataclasses.replace(actor, bot_can_post=can_post(interaction)) if not actor.private else actor

    async def run_text(self, interaction: discord.Interaction, text: str, *, verb: str,
                       amend: dict[str, Any] | None = None, defer_now: bool = False) -> None:
        """`/ioc VERB ...` built from typed options: parse with the one grammar, then dispatch. `amend` sets
        free-text fields (a note, a reason) on the parsed command verbatim, so their words are never taken for
        options."""
        actor = self.actor(interaction)

        async def work() -> Reply | tuple[Reply, Message]:
            try:
                command = commands.parse(text)
                if amend:
                    command = dataclasses.replace(command, **{k: v for k, v in amend.items() if v})  # type: ignore[type-var]
            except UsageError as e:
                return Reply(UserError(e.problem, e.usage), private=True)
            reply = await self.dispatcher.handle(command, actor)
            if isinstance(reply.result, StatsResult) and reply.result.trends is not None:
                return reply, await self._with_chart(reply.result, reply.result.trends)
            return reply

        await self.answer(interaction, work(), public=verb in PUBLIC_VERBS, defer_now=defer_now)

    async def run_command(self, interaction: discord.Interaction, command: commands.Command, *, public: bool,
                          defer_now: bool = False) -> None:
        await self.answer(interaction, self.dispatcher.handle(command, self.actor(interaction)), public=public,
                          defer_now=defer_now)

    @staticmethod
    async def _with_chart(result: StatsResult, trends: StatsTrends) -> Message:
        """`/ioc stats` answers with its picture attached (drawn off the event loop, within the deferral)."""
        from adapters.charts import stats_png

        msg = to_message(result)
        msg.files.append(("coalition-stats.png", await asyncio.to_thread(stats_png, trends)))
        return msg

    async def answer(self, interaction: discord.Interaction, work: Awaitable[Reply | tuple[Reply, Message]], *,
                     public: bool, defer_now: bool = False, component: bool = False) -> None:
        task = asyncio.ensure_future(work)
        self._answering += 1
        if self._answering > self.busy:
            self._pressure.set()
        try:
            await self._answer(interaction, task, public=public, component=component,
                               defer_now=defer_now or self._pressure.is_set())
        finally:
            self._answering -= 1
            if self._answering <= self.busy:
                self._pressure.clear()

    async def _answer(self, interaction: discord.Interaction, task: asyncio.Future[Reply | tuple[Reply, Message]], *,
                      public: bool,
                      defer_now: bool, component: bool) -> None:
        if not defer_now:  # until the answer is ready, the deadline nears, or load arrives: then acknowledge
            pressure = asyncio.ensure_future(self._pressure.wait())
            await asyncio.wait({task, pressure}, timeout=self.defer_after, return_when=asyncio.FIRST_COMPLETED)
            pressure.cancel()
        deferred_public = False
        if not task.done() and not interaction.response.is_done():  # (`/ioc import` deferred already)
            if component:
                await interaction.response.defer()  # nothing shown; the answer edits the message or follows up
            else:
                deferred_public = public and interaction.guild_id is not None
                await interaction.response.defer(ephemeral=not deferred_public, thinking=True)
        done = await task
        reply, msg = done if isinstance(done, tuple) else (done, None)
        try:
            await self.send(interaction, reply, deferred_public=deferred_public, component=component, msg=msg)
        except discord.HTTPException:
            log.exception("discord: could not answer interaction %s", interaction.id)

    async def reply(self, to: discord.Interaction | Origin, reply: Reply, *, msg: Message | None = None) -> None:
        """THE way a reply leaves the adapter: private (the core's `Reply.private`) is seen by this person alone
        (an ephemeral response, or a direct message), public goes to the channel. `msg` replaces the native
        rendering of `reply.result`."""
        if isinstance(to, discord.Interaction):
            await self.send(to, reply, msg=msg)
        else:
            await self._send_outside(to, reply, msg=msg)

    async def _send_outside(self, origin: Origin, reply: Reply, *, msg: Message | None = None) -> None:
        kwargs = (msg or to_message(reply.result)).kwargs()
        if origin.channel is not None and (origin.dm or not reply.private):
            if origin.message is not None:
                await origin.message.reply(**kwargs, mention_author=False)
            else:
                await origin.channel.send(**kwargs)
            return
        try:
            dm = await self.client.create_dm(discord.Object(origin.user_id))  # type: ignore[arg-type]
            await dm.send(**kwargs)
        except discord.HTTPException as e:  # DMs closed: a private answer is dropped, never posted in the channel
            log.info("discord: could not send a private answer to %s by DM (%s)", origin.user_id, e.status)

    async def send(self, interaction: discord.Interaction, reply: Reply, *, deferred_public: bool = False,
                   component: bool = False, msg: Message | None = None) -> None:
        msg = msg or to_message(reply.result)
        if component and await self._edit_in_place(interaction, reply, msg):
            return
        response = interaction.response
        message_id: int | None = None
        if not response.is_done():
            callback = await response.send_message(**msg.kwargs(), ephemeral=reply.private)
            message_id = callback.message_id
        elif component:
            sent = await interaction.followup.send(**msg.kwargs(), ephemeral=reply.private, wait=True)
            message_id = sent.id
        elif reply.private and deferred_public:
            await interaction.delete_original_response()
            await interaction.followup.send(**msg.kwargs(), ephemeral=True)
        else:  # deferred with the right visibility (or an ephemeral defer: only ever less visible)
            kw = msg.edit_kwargs()
            if msg.files:
                kw["attachments"] = msg.kwargs()["files"]
            sent_msg = await interaction.edit_original_response(**kw)
            message_id = sent_msg.id
        if not reply.private and reply.live and msg.cards and message_id is not None \
                and interaction.channel_id is not None:
            await self.remember(interaction.channel_id, message_id, msg, guild_id=interaction.guild_id)

    async def remember(self, channel_id: int, message_id: int, msg: Message, *, guild_id: int | None = None) -> None:
        """A public reply shows these cards: edit it when their indicators change (live cards)."""
        self._cache(message_id, msg.cards[0].indicator.id if len(msg.cards) == 1 else None)
        await remember_posted(self.uow_factory, [
            PostedCard(Platform.DISCORD, workspace_of(guild_id), str(channel_id), card.indicator.id, "reply",
                       message_id=str(message_id)) for card in msg.cards])

    async def _edit_in_place(self, interaction: discord.Interaction, reply: Reply, msg: Message) -> bool:
        """A press on a one-card message: show the card as it is now in that message, when whoever sees the
        message may see the answer (a public answer, or a message only the presser sees)."""
        pressed = interaction.message
        if pressed is None or len(pressed.embeds) != 1 or len(msg.cards) != 1:
            return False
        if indicator_id_of(pressed.embeds[0]) != msg.cards[0].indicator.id:
            return False
        only_presser = interaction.guild_id is None or pressed.flags.ephemeral
        if reply.private and not only_presser:
            return False
        kw = {"content": pressed.content or None, "embeds": [card_embed(msg.cards[0])], "view": msg.view,
              "allowed_mentions": MENTIONS}
        if interaction.response.is_done():
            await interaction.edit_original_response(**kw)
        else:
            await interaction.response.edit_message(**kw)
        return True

    # ------------------------------------------------------------------ buttons and modals

    async def on_action(self, interaction: discord.Interaction, action_id: str) -> None:
        try:
            action = actions.parse(action_id)
        except UsageError as e:
            await self.reply(interaction, Reply(UserError(e.problem, e.usage), private=True))
            return
        if action.needs_reason:
            from .buttons import ReasonModal

            await interaction.response.send_modal(ReasonModal(action))
            return
        await self.answer(interaction, self._action(interaction, action, ""), public=True, component=True)

    async def on_reason(self, interaction: discord.Interaction, action: actions.Action, reason: str) -> None:
        await self.answer(interaction, self._action(interaction, action, reason), public=True,
                          component=interaction.message is not None)

    async def _action(self, interaction: discord.Interaction, action: actions.Action, reason: str) -> Reply:
        try:
            command = actions.to_command(action, reason)
        except UsageError as e:
            return Reply(UserError(e.problem, e.usage), private=True)
        return await self.dispatcher.handle(command, self.actor(interaction))

    async def on_submit_form(self, interaction: discord.Interaction, fields: dict[str, str]) -> None:
        try:
            command = commands.submit_from_form(values=fields.get("values", ""), tlp=fields.get("tlp"),
                                                confidence=fields.get("confidence"), tags=fields.get("tags"),
                                                note=fields.get("note"))
        except FormError as e:
            labels = {"values": "Indicators", "tlp": "TLP", "confidence": "Confidence", "tags": "Tags",
                      "valid": "Valid", "note": "Note"}
            text = "Nothing was submitted; please fix:\n" + "\n".join(
                f"**{labels.get(k, k)}**: {esc(v)}" for k, v in e.errors.items())
            await self.reply(interaction, Reply(UserError("nothing was submitted"), private=True),
                             msg=Message(content=text))
            return
        await self.run_command(interaction, command, public=True)

    def submit_modal(self, message: discord.Message) -> discord.ui.Modal:
        from .buttons import SubmitModal

        values = "\n".join(o.value for o in extract(message.content or "")[:200])
        return SubmitModal(values, self.default_tlp)

    # ------------------------------------------------------------------ autocomplete

    async def suggest_indicators(self, interaction: discord.Interaction, current: str) -> list[tuple[str, str]]:
        text = current.strip().lstrip("#")
        if text.isascii() and text.isdigit() and len(text) <= 18:  # '²'.isdigit(); ids fit a BIGINT
            command: commands.Command = commands.Lookup((IdRef(int(text)),))
        elif len(text) >= 3:
            command = commands.Search(text=limits.storable(text, 100))
        else:
            command = commands.Search()
        try:
            reply = await asyncio.wait_for(self.dispatcher.handle(command, self.actor(interaction)), 2.0)
        except TimeoutError:
            return []
        out = []
        for card in cards_of(reply.result)[:25]:
            ind = card.indicator
            out.append((plain(f"{ind.ref} {ind.type.value} {ind.value}")[:100], ind.ref))  # nothing invisible
        return out

    async def suggest_tags(self, interaction: discord.Interaction, current: str) -> list[str]:
        """Tags of the newest indicators this person may see, starting with what was typed."""
        prefix = current.strip().lower()
        try:
            reply = await asyncio.wait_for(self.dispatcher.handle(commands.Search(), self.actor(interaction)), 2.0)
        except TimeoutError:
            return []
        tags = dict.fromkeys(t for card in cards_of(reply.result) for t in card.indicator.tags if t.startswith(prefix))
        return list(tags)[:25]

    async def suggest_malware(self, interaction: discord.Interaction, current: str) -> list[str]:
        """Malware families already named on the indicators this person may see, most used first, starting with
        what was typed (normalised as the grammar stores them: Cobalt-S finds cobalt_strike)."""
        try:
            reply = await asyncio.wait_for(self.dispatcher.handle(commands.MalwareNames(limits.storable(current, 100)),
                                                                  self.actor(interaction)), 2.0)
        except TimeoutError:
            return []
        return list(getattr(reply.result, "names", ()))[:25]

    # ------------------------------------------------------------------ messages: files and passive mode

    async def on_message(self, message: discord.Message) -> None:
        me = self.client.user
        if message.author.bot or (me is not None and message.author.id == me.id):
            return
        guild_id = message.guild.id if message.guild else None
        actor = actor_for(message.author, message.channel.id, guild_id, message.channel)
        to_bot = guild_id is None or (me is not None and me in message.mentions)
        if message.attachments and to_bot:
            for attachment in message.attachments[:5]:
                await self._import(message, attachment, actor)
            return
        if guild_id is None or not message.content:
            return
        reply = await self.dispatcher.handle(commands.Passive(message.content), actor)
        if reply.private or not isinstance(reply.result, PassiveResult) or not reply.result.items:
            return  # passive mode answers in the channel or not at all (no direct message per chat message)
        await self.reply(Origin(message.author.id, message.channel, message=message), reply,
                         msg=Message(content=passive_text(reply.result)))

    async def _import(self, message: discord.Message, attachment: discord.Attachment, actor: Actor) -> None:
        """A file sent to the bot (in a DM, or with a mention in a channel) is imported; the report is private:
        in the DM, or sent as a DM when the file came in a channel."""
        if attachment.size > MAX_IMPORT_BYTES:
            reply = Reply(UserError(f"{attachment.filename} is larger than {MAX_IMPORT_BYTES // 2**20} MB"),
                          private=True)
        else:
            data = await attachment.read()
            dm = message.channel if message.guild is None else None
            progress = self.progress_message(attachment.filename, dm, message.author.id).start()
            result: Any = None
            try:
                reply = await self.dispatcher.handle(commands.ImportFile(attachment.filename, data), actor,
                                                     progress=progress)
                result = reply.result
            finally:
                await progress.finish(result)
        await self.reply(Origin(message.author.id, message.channel, dm=message.guild is None, message=message),
                         reply)

    def progress_message(self, name: str, channel: discord.abc.Messageable | None, user_id: int) -> ChatProgress:
        """An import's progress (issue 15), shown where its report goes: in `channel` (the person's DM with the
        bot), or, for a file sent in a guild channel, whose report is private, in a DM to the person. A message,
        then edits of it; the person's own file name, escaped."""

        async def post(text: str) -> discord.Message:
            target = channel or await self.client.create_dm(discord.Object(user_id))  # type: ignore[arg-type]
            return await target.send(content=text, allowed_mentions=MENTIONS)

        async def edit(sent: discord.Message, text: str) -> None:
            await sent.edit(content=text, allowed_mentions=MENTIONS)

        return ChatProgress(esc(name[:100]), post=post, edit=edit, timing=self.import_progress)

    async def run_import(self, interaction: discord.Interaction, command: commands.ImportFile) -> None:
        """`/ioc import FILE` (deferred ephemerally already): an import still running after
        `import_progress.after` seconds shows its progress in the deferred response (only the person sees it),
        edited as it goes; the report then replaces it, as the answer of any deferred command does."""
        actor = self.actor(interaction)

        async def show(_: Any, text: str) -> discord.Interaction:
            await interaction.edit_original_response(content=text, allowed_mentions=MENTIONS)
            return interaction

        async def post(text: str) -> discord.Interaction:
            return await show(None, text)

        progress = ChatProgress(esc(command.filename[:100]), post=post, edit=show, timing=self.import_progress)

        async def work() -> Reply:
            progress.start()
            result: Any = None
            try:
                reply = await self.dispatcher.handle(command, actor, progress=progress)
                result = reply.result
            finally:
                await progress.finish(result, last_line=False)  # the report is the next edit of that response
            return reply

        await self.answer(interaction, work(), public=False, defer_now=True)

    # ------------------------------------------------------------------ reactions as votes

    async def on_reaction(self, payload: discord.RawReactionActionEvent, added: bool) -> None:
        me = self.client.user
        if me is None or payload.user_id == me.id:
            return
        verdict = self.reactions.get(str(payload.emoji))
        if verdict is None:
            return
        indicator_id = await self.indicator_of_message(payload.channel_id, payload.message_id,
                                                       getattr(payload, "message_author_id", None))
        if indicator_id is None:
            return
        user = payload.member or self.client.get_user(payload.user_id)
        actor = Actor(Platform.DISCORD, workspace_of(payload.guild_id), str(payload.user_id), str(payload.channel_id),
                      private=payload.guild_id is None, display_name=user.name if user else "",
                      identity_workspace_id=WORKSPACE)
        vote = (commands.Vote(IdRef(indicator_id), verdict) if added
                else commands.Vote(IdRef(indicator_id), None, withdraw_only=verdict))
        reply = await self.dispatcher.handle(vote, actor)
        if isinstance(reply.result, UserError | InternalError):  # tell the person why their reaction did nothing
            with contextlib.suppress(discord.HTTPException):
                await self.reply(Origin(payload.user_id), reply)  # no channel: only ever a direct message

    def _cache(self, message_id: int, indicator_id: int | None) -> None:
        self._card_of_message[message_id] = indicator_id
        self._card_of_message.move_to_end(message_id)
        while len(self._card_of_message) > 10_000:
            self._card_of_message.popitem(last=False)

    async def indicator_of_message(self, channel_id: int, message_id: int, author_id: int | None) -> int | None:
        """The indicator a one-card message of the bot shows, or None (not the bot's, not one card)."""
        if message_id in self._card_of_message:
            return self._card_of_message[message_id]
        me = self.client.user
        if me is None or (author_id is not None and author_id != me.id):
            return None
        try:
            data = await self.client.http.get_message(channel_id, message_id)
        except discord.HTTPException:
            return None
        found = None
        if str(data.get("author", {}).get("id")) == str(me.id):
            ids = [indicator_id_of(discord.Embed.from_dict(e)) for e in data.get("embeds", [])]
            ids = [i for i in ids if i is not None]
            found = ids[0] if len(ids) == 1 else None
        self._cache(message_id, found)
        return found

