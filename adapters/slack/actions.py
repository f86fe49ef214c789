"""Slack surface: button presses (`ioc:...` action ids) and the shortcuts that open the submission modal."""

from __future__ import annotations

import logging
from typing import Any

from bot import actions
from bot.audience import Reply
from bot.commands import UsageError
from bot.ioc import extract
from bot.results import InternalError, UserError

from .blocks import Message, plural
from .replies import SlackBase, team_of, user_team_of

log = logging.getLogger(__name__)

SHARE_SHORTCUT = "share_indicator"
MESSAGE_SHORTCUT = "submit_from_message"


def message_text(message: dict[str, Any]) -> str:
    """A message's text with its attachments' (forwarded messages, unfurls), for the IOC engine."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        parts += [attachment.get(k) or "" for k in ("pretext", "title", "text", "fallback")]
    return "\n".join(p for p in parts if p)



class ActionListeners(SlackBase):
    """Buttons on cards and pages, and the global and message shortcuts."""

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
                           private=own_view, name=str(user.get("username") or user.get("name") or ""),
                           user_team=user_team_of(body))
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
