"""Slack surface: modal submissions. Their validation errors must be the acknowledgement itself
(`response_action: errors`), so the command runs before acknowledging, within `ack_budget`."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from bot import actions, commands
from bot.audience import Reply
from bot.commands import FormError, UsageError
from bot.results import InternalError, UserError

from .blocks import Message
from .mrkdwn import truncate
from .replies import SlackBase, state_value, team_of, user_team_of

log = logging.getLogger(__name__)

_FORM_BLOCKS = {"values": "values", "tlp": "tlp", "confidence": "confidence", "tags": "tags", "valid": "valid",
                "note": "note", "threat": "threat", "malware": "malware", "references": "references"}


class ViewListeners(SlackBase):
    """The modals: the reason of Reject / Revoke, and the submission form."""

    async def on_reason(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The reason modal of Reject / Revoke: the command runs before the acknowledgement when it can, so a
        refusal is shown in the modal."""
        metadata = json.loads(view.get("private_metadata") or "{}")
        reason = str(state_value(view, "reason", "reason") or "")
        try:
            command = actions.to_command(actions.parse(str(metadata.get("action", ""))), reason)
        except UsageError as e:
            await ack(response_action="errors", errors={"reason": truncate(e.problem, 300)})
            return
        user = body.get("user") or {}
        actor = self.actor(team_of(body), str(user.get("id", "")), str(metadata.get("channel", "")),
                           private=bool(metadata.get("private", True)),
                           name=str(user.get("username") or user.get("name") or ""), user_team=user_team_of(body))

        async def answer(reply: Reply) -> None:
            result = reply.result
            if metadata.get("home"):
                await self.publish_home(actor.workspace_id, actor.user_id)
            short = self.renderer.head(result) + self.renderer.tail(result)
            message = Message(self.renderer.fallback(result), short) if short and not actor.private \
                else self.renderer.message(result)
            if not metadata.get("home") or isinstance(result, UserError | InternalError):
                await self.send_reply(Reply(result, private=True), actor,
                                      response_url=metadata.get("response_url") or None, message=message)

        reply = await self._run_before_ack(self.dispatcher.handle(command, actor), ack, answer, "reason modal")
        if reply is None:
            return  # acknowledged already; `answer` follows
        if isinstance(reply.result, UserError):
            await ack(response_action="errors", errors={"reason": truncate(reply.result.problem, 300)})
            return
        await ack()
        self.spawn(answer(reply), "reason modal")

    async def on_submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata = json.loads(view.get("private_metadata") or "{}")
        try:
            command = commands.submit_from_form(
                values=str(state_value(view, "values", "values") or ""),
                tlp=state_value(view, "tlp", "tlp"),
                confidence=state_value(view, "confidence", "confidence"),
                tags=state_value(view, "tags", "tags"),
                note=state_value(view, "note", "note"),
                anonymous="anon" in (state_value(view, "anonymity", "anonymous") or []),
                valid=state_value(view, "valid", "valid"),
                threat=state_value(view, "threat", "threat"),
                malware=state_value(view, "malware", "malware"),
                references=state_value(view, "references", "references"),
            )
        except FormError as e:
            await ack(response_action="errors",
                      errors={_FORM_BLOCKS.get(k, "values"): truncate(v, 300) for k, v in e.errors.items()})
            return
        user = body.get("user") or {}
        actor = self.actor(team_of(body), str(user.get("id", "")), str(metadata.get("channel", "")),
                           private=True, name=str(user.get("username") or user.get("name") or ""),
                           user_team=user_team_of(body))

        async def in_a_dm(reply: Reply) -> None:  # the modal closed before the store answered
            await self.send_reply(Reply(reply.result, private=True), dataclasses.replace(actor, channel_id=""),
                                  response_url=None)

        reply = await self._run_before_ack(self.dispatcher.handle(command, actor), ack, in_a_dm, "submission modal")
        if reply is None:
            return
        if isinstance(reply.result, UserError):
            await ack(response_action="errors", errors={"values": truncate(reply.result.problem, 300)})
        else:
            await ack(response_action="update", view=self.renderer.result_modal(reply.result, "Submitted"))
