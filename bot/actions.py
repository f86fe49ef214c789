"""The one grammar for button and menu ids: `ioc:VERB:ID[:ARG]`, e.g. `ioc:vote:42:confirm`.

Slack action ids and Discord custom ids both carry these strings, so a press means the same everywhere and
a restarted bot can still decode the buttons it posted before.
"""

from __future__ import annotations

import re

from bot import commands, limits
from bot.commands import IdRef, UsageError
from bot.domain import Verdict
from bot.values import frozen

PREFIX = "ioc"
# fullmatch, ASCII digits only: an id fits BIGINT (18 digits), a page number is at most limits.PAGE_MAX
_ACTION = re.compile(r"ioc:(vote|approve|reject|revoke|queue|lookup):([0-9]{1,18})(?::([a-z_]{1,20}))?")


@frozen
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
    """Any string: an Action, or UsageError (and nothing else)."""
    m = _ACTION.fullmatch(action_id)
    if not m:
        raise UsageError(f"'{_shown(action_id)}' is not one of this bot's buttons")
    verb, target, arg = m.group(1), int(m.group(2)), m.group(3) or ""
    if verb == "vote" and arg not in {v.value for v in Verdict} | {"withdraw"}:
        raise UsageError(f"'{_shown(action_id)}' carries an unknown verdict")
    if verb == "queue" and not 1 <= target <= limits.PAGE_MAX:
        raise UsageError(f"'{_shown(action_id)}' names a page beyond {limits.PAGE_MAX:,}")
    return Action(verb, target, arg)


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text[:80])


def _reason(verb: str, reason: str) -> str:
    """A reason typed in a modal: the same limits as in a typed command."""
    try:
        return limits.check_text("reason", reason.strip(), limits.REASON_MAX)
    except limits.LimitError as e:
        raise UsageError(str(e), verb) from None


def to_command(action: Action, reason: str = "") -> commands.Command:
    ref = IdRef(action.target)
    if action.verb == "vote":
        return commands.Vote(ref, None if action.arg == "withdraw" else Verdict(action.arg), _reason("vote", reason))
    if action.verb == "approve":
        return commands.Approve((ref,), _reason("approve", reason))
    if action.verb == "reject":
        if not reason.strip():
            raise UsageError("a rejection needs a reason, so the submitter learns why", "reject")
        return commands.Reject((ref,), _reason("reject", reason))
    if action.verb == "revoke":
        if not reason.strip():
            raise UsageError("a revocation needs a reason, so the coalition learns why", "revoke")
        return commands.Revoke((ref,), _reason("revoke", reason))
    if action.verb == "queue":
        return commands.Queue(min(max(1, action.target), limits.PAGE_MAX))
    return commands.Lookup((ref,))
