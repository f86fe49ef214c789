"""The one grammar for button and menu ids: `ioc:VERB:ID[:ARG]`, e.g. `ioc:vote:42:confirm`.

Slack action ids and Discord custom ids both carry these strings, so a press means the same everywhere and
a restarted bot can still decode the buttons it posted before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import commands
from bot.commands import IdRef, UsageError
from bot.domain import Verdict

PREFIX = "ioc"
_ACTION = re.compile(r"^ioc:(vote|approve|reject|revoke|queue|lookup):(\d{1,18})(?::([a-z_]{1,20}))?$")


@dataclass(frozen=True)
class Action:
    verb: str
    target: int  # an indicator id, or a page number for `queue`
    arg: str = ""

    @property
    def id(self) -> str:
        return f"{PREFIX}:{self.verb}:{self.target}" + (f":{self.arg}" if self.arg else "")

    @property
    def needs_reason(self) -> bool:
        """Reject and revoke ask for a reason (a modal) before they become a command."""
        return self.verb in {"reject", "revoke"}


def vote(indicator_id: int, verdict: Verdict) -> Action:
    return Action("vote", indicator_id, verdict.value)


def parse(action_id: str) -> Action:
    m = _ACTION.match(action_id)
    if not m:
        raise UsageError(f"'{action_id[:80]}' is not one of this bot's buttons")
    verb, target, arg = m.group(1), int(m.group(2)), m.group(3) or ""
    if verb == "vote" and arg not in {v.value for v in Verdict} | {"withdraw"}:
        raise UsageError(f"'{action_id[:80]}' carries an unknown verdict")
    return Action(verb, target, arg)


def to_command(action: Action, reason: str = "") -> commands.Command:
    ref = IdRef(action.target)
    if action.verb == "vote":
        return commands.Vote(ref, None if action.arg == "withdraw" else Verdict(action.arg), reason)
    if action.verb == "approve":
        return commands.Approve((ref,), reason)
    if action.verb == "reject":
        if not reason.strip():
            raise UsageError("a rejection needs a reason, so the submitter learns why", "reject")
        return commands.Reject((ref,), reason.strip())
    if action.verb == "revoke":
        if not reason.strip():
            raise UsageError("a revocation needs a reason, so the coalition learns why", "revoke")
        return commands.Revoke((ref,), reason.strip())
    if action.verb == "queue":
        return commands.Queue(max(1, action.target))
    return commands.Lookup((ref,))
