"""Slack text in and out: mrkdwn escaping that can never ping anyone, and Slack's formatting of incoming text.

Out: every user-supplied string (values, notes, tags, organization and member names, reasons) goes through
`esc`: `&`, `<`, `>` become entities, so `<!channel>`, `<!here>`, `<@U123>` and `<http://x|label>` written by
a person render as the literal text, never as a broadcast, a mention or a disguised link; `@channel`,
`@here` and `@everyone` get a word joiner after the `@` (inert even where Slack would link names). Indicator
values go in code (`code`), with backticks replaced, so they can neither break out of the code span nor
turn into links. Control characters are dropped.

In: slash-command text arrives with Slack's formatting (`<http://x.com|x.com>` for a domain Slack linked,
`<mailto:a@b.c|a@b.c>`, `&amp;`); `from_slack` gives back what the person typed, keeping user mentions
(`<@U123>`) for the grammar (`/ioc admin member role <@U123> moderator`).
"""

from __future__ import annotations

import re

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def esc(text: str) -> str:
    """A user-supplied string, safe inside mrkdwn: no mention, broadcast, link or control character."""
    return _BROADCAST.sub("@" + _WORD_JOINER, _CONTROL.sub(" ", str(text)).translate(_ENTITIES))


def code(value: str, limit: int = 2500) -> str:
    """An indicator value as inline code: escaped, on one line, backticks replaced, cut at `limit`."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return "`" + (esc(text).replace("`", "ˋ") or " ") + "`"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def from_slack(text: str) -> str:
    """What the person typed, from the text Slack sends (links unwrapped, entities decoded)."""

    def unwrap(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith(("@", "#", "!")):
            return m.group(0)  # a mention, a channel, a broadcast: kept as Slack wrote it
        if label:
            return label  # what was typed: Slack links a bare `evil.com` as <http://evil.com|evil.com>
        return target.removeprefix("mailto:")

    return _LINK.sub(unwrap, text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
