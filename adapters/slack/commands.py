"""Slack surface: the slash command `/ioc` (acknowledged at once; the answer follows through response_url)."""

from __future__ import annotations

import logging
from typing import Any

from .mrkdwn import from_slack
from .replies import SlackBase, team_of

log = logging.getLogger(__name__)

class CommandListeners(SlackBase):
    """The slash command (`/ioc ...`)."""

    async def on_command(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        self.spawn(self.command(body), "slash command")

    async def command(self, body: dict[str, Any]) -> None:
        actor = self.actor(team_of(body), str(body.get("user_id", "")), str(body.get("channel_id", "")),
                           name=str(body.get("user_name", "")))
        async with self._slots:
            reply = await self.dispatcher.handle_text(from_slack(str(body.get("text", ""))), actor)
            await self.send_reply(reply, actor, response_url=body.get("response_url"))
