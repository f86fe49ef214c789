"""Slack surface: the slash command `/ioc` (acknowledged at once; the answer follows through response_url).

The person is keyed by the workspace the command names (`team_id`: the invoking person's own, an external user's
in a Slack Connect channel too); the channel is the one registered, whatever workspace registered it
(adapters.slack.channels). Before `channel set|show`, and before any command in a channel no admin registered, the
adapter asks Slack whether the channel is shared with other organizations' workspaces (`conversations.info`'s
`is_ext_shared`, remembered a minute): a shared channel is public to them (CLEAR, bot.services). Before
`channel set|show` it also looks the channel's registration up afresh. A command in a channel that became shared
unbeknownst to the store records it as the `channel_shared` event would (adapters.slack.sharing), registered or not.
The same answer says whether the bot can post there (`is_member`, the token's `chat:write.public`:
adapters.slack.channels.postable_of), which a slash command does not: `case show` in a channel the app is not in
is refused at once (bot.cases), Slack asked again then rather than remembered, so a command run right after
`/invite` posts.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import commands

from .channels import postable_of
from .mrkdwn import from_slack
from .replies import team_of
from .sharing import SharingNotices

log = logging.getLogger(__name__)


class CommandListeners(SharingNotices):
    """The slash command (`/ioc ...`)."""

    async def on_command(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.command(body), "slash command")

    async def command(self, body: dict[str, Any]) -> None:
        text = from_slack(str(body.get("text", "")))
        actor = self.actor(team_of(body), str(body.get("user_id", "")), str(body.get("channel_id", "")),
                           name=str(body.get("user_name", "")))
        try:
            command: commands.Command | None = commands.parse(text)
        except commands.UsageError:
            command = None  # the dispatcher parses it again and says what is wrong
        about_channel = isinstance(command, commands.ChannelSet | commands.ChannelShow)
        if not actor.private:
            # is the channel shared with other organizations' workspaces (asked at most once a minute a channel; an
            # admin's channel set|show asks now)? A channel may have become shared while the bot missed the
            # channel_shared event: a registered one's ceiling falls to CLEAR, and in one no admin registered the
            # cards recorded there show nothing above CLEAR any more, before this command is answered
            shared = await self.shared_externally(actor.channel_id, fresh=about_channel,
                                                  posting=isinstance(command, commands.CaseShow))
            if shared is not None and not isinstance(command, commands.ChannelSet):
                await self.noticed_sharing(actor.channel_id, shared)  # as from the channel_shared event
        actor = await self.channels.place(actor, fresh=about_channel)
        async with self._slots:
            if command is None:
                reply = await self.dispatcher.handle_text(text, actor)
            else:
                reply = await self.dispatcher.handle(command, actor)
            if isinstance(command, commands.ChannelSet):
                self.channels.forget()
            await self.send_reply(reply, actor, response_url=body.get("response_url"))

    async def shared_externally(self, channel_id: str, *, fresh: bool = False, posting: bool = False) -> bool | None:
        """Slack's word on the channel being shared with other organizations' workspaces, asked at most once a
        minute (`fresh`: unless it never answered) and remembered (None: it would not say, e.g. the bot cannot see
        the channel; what the store remembers then stands). Whether the bot can post there is remembered from the
        same answer (`posting`: asked again unless Slack said lately that it can)."""
        if self.channels.asked_lately(channel_id) and (not fresh or self.channels.shared(channel_id) is not None) \
                and (not posting or self.channels.can_post(channel_id)):
            return self.channels.shared(channel_id)
        try:
            info = await self.client.conversations_info(channel=channel_id)
        except SlackApiError as e:
            log.info("conversations.info on %s: %s", channel_id, e.response.get("error"))
            self.channels.learn_shared(channel_id, None)
            self.channels.learn_can_post(channel_id, None)
            return None
        channel = info.get("channel") or {}
        headers = getattr(info, "headers", None) or {}
        scopes = next((str(v) for k, v in headers.items() if str(k).lower() == "x-oauth-scopes"), None)
        self.channels.learn_can_post(channel_id, postable_of(channel, scopes))
        shared = bool(channel.get("is_ext_shared"))
        self.channels.learn_shared(channel_id, shared)
        return shared
