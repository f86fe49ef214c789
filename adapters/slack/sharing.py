"""Slack Connect: recording that a registered channel became shared with other organizations' workspaces (or not).

Slack says it in the `channel_shared` / `channel_unshared` events, in `conversations.info`'s `is_ext_shared` and in
an event's `is_ext_shared_channel`; whichever says it first, the registration learns it the same way
(bot.services.channel_sharing_changed): becoming shared lowers a ceiling above CLEAR to CLEAR, with an audit line,
and the bot says so in the channel in a line of its own words (no one's text); in a channel no admin registered,
the cards the bot recorded there (public replies, live case cards) show nothing above CLEAR from then on. A missed
event is thus caught up by the next word Slack says of the channel (a command there, a message's
`is_ext_shared_channel`), before anything above CLEAR is posted or edited there again; for a channel no admin
registered, once a process (not at every command).
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError

from bot import services
from bot.domain import Platform

from .replies import SlackBase

log = logging.getLogger(__name__)


class SharingNotices(SlackBase):
    """What the surfaces share about channels becoming (un)shared."""

    _sharing_lock: asyncio.Lock | None = None

    async def noticed_sharing(self, channel: str, shared: bool) -> None:
        """Slack said whether the channel is shared: remembered, and recorded on a registration that does not
        know it yet; a channel no admin registered found shared has the cards recorded there lowered, as the
        channel_shared event would have (once: not at every command or message in it)."""
        if not channel or channel.startswith("D"):
            return
        self.channels.learn_shared(channel, shared)
        registered = await self.channels.registered(channel)
        if registered is not None:
            if registered.shared_externally != shared:
                await self.channel_sharing(channel, shared=shared)
        elif shared and not self.channels.sharing_applied(channel):
            await self.channel_sharing(channel, shared=True, once=True)

    async def channel_sharing(self, channel: str, *, shared: bool, once: bool = False) -> None:
        """Record it on the channel's registration (if any), or, a channel no admin registered becoming shared,
        lower the cards recorded there (bot.services.channel_sharing_changed); a ceiling lowered to CLEAR is said
        in the channel. `once`: not again if this process told the store already."""
        if not channel or channel.startswith("D"):
            return
        self.channels.learn_shared(channel, shared)
        if self._sharing_lock is None:
            self._sharing_lock = asyncio.Lock()
        async with self._sharing_lock:  # the same news told twice at once (both workspaces' events): said once
            if once and self.channels.sharing_applied(channel):
                return
            async with self.uow_factory() as uow:
                changes = await services.channel_sharing_changed(uow, Platform.SLACK, channel, shared,
                                                                 self.dispatcher.clock())
                await uow.commit()
            if shared:
                self.channels.applied_sharing(channel)
            self.channels.forget()
        for change in changes:
            log.info("Slack channel %s of %s is %s shared with other organizations' workspaces%s", channel,
                     change.channel.workspace_id, "now" if shared else "no longer",
                     f": ceiling lowered from {change.lowered_from.value} to CLEAR" if change.lowered_from else "")
        lowered = [c for c in changes if c.lowered_from is not None]
        if lowered:  # one line, however many registrations the channel had (made before it was one channel)
            message = self.renderer.message(max(lowered, key=lambda c: c.lowered_from.rank))  # type: ignore[union-attr]
            try:
                await self.client.chat_postMessage(channel=channel, **message.payload(), unfurl_links=False,
                                                   unfurl_media=False)
            except SlackApiError as e:
                log.warning("cannot say in %s that its ceiling was lowered: %s", channel, e.response.get("error"))


__all__ = ["SharingNotices"]
