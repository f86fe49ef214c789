"""Slack text in and out: mrkdwn escaping that shows user text as its literal characters, and Slack's formatting
of incoming text.

Out: every user-supplied string (notes, tags, organization and member names, reasons) goes through `esc`:
* nothing invisible (`bot.text.visible`): zero-width and bidirectional controls are shown as `<U+202E>`, and
  line breaks become spaces, so a note shown inline cannot start a quote or a list;
* `&`, `<`, `>` become entities, so `<!channel>`, `<!here>`, `<@U123>`, `<#C1>` and `<http://x|y>` written by a
  person render as the literal text, never as a broadcast, a mention or a disguised link; `@channel`, `@here`
  and `@everyone` get a word joiner after the `@` (inert even where Slack would link names);
* mrkdwn has no escape character, so a formatting character that could open or close a run (`*bold*`,
  `_it_`, `~st~`: one at a word's edge) is replaced by its look-alike (∗ ˍ ∼), every backtick by ˋ, the first
  colon of an `:emoji:` code by ∶ and a leading `>` by ›. The same character inside a word (`apt_28`, `a*b`),
  which Slack never formats, stays as typed. User-supplied zero-width characters cannot re-enable formatting
  (`*` + U+200B): they are made visible first.
Indicator values go in code (`code`): the same, but in a code span, where Slack formats nothing, so only
backticks are replaced. Where a whole text object is user text, blocks.py uses `plain_text` instead.

In: slash-command text arrives with Slack's formatting (`<http://x.com|x.com>` for a domain Slack linked,
`<mailto:a@b.c|a@b.c>`, `&amp;`); `from_slack` gives back what the person typed, keeping user mentions
(`<@U123>`) for the grammar (`/ioc admin member role <@U123> moderator`).
"""

from __future__ import annotations

import re

from bot.text import visible

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_WORD_JOINER = "\u2060"
_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
LOOKALIKES = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
# a formatting character at a word's edge: what could open or close a run
_EDGE = re.compile(r"(?<![0-9A-Za-z])[*_~]|[*_~](?![0-9A-Za-z])")
_EMOJI = re.compile(r":(?=[0-9A-Za-z_+'\-]+:)")
_QUOTE = re.compile(r"^(\s*)&gt;")


def _inert(text: str) -> str:
    """Visible, one line, entities, no broadcast: safe in mrkdwn and in code spans."""
    return _BROADCAST.sub("@" + _WORD_JOINER, visible(str(text)).translate(_ENTITIES))


def esc(text: str) -> str:
    """A user-supplied string, shown literally in mrkdwn: no formatting, mention, broadcast, link, emoji or
    invisible character."""
    out = _EDGE.sub(lambda m: LOOKALIKES[m.group(0)], _inert(text)).replace("`", LOOKALIKES["`"])
    return _QUOTE.sub("\\1\u203a", _EMOJI.sub("\u2236", out))


def code(value: str, limit: int = 2500) -> str:
    """An indicator value as inline code: visible, on one line, backticks replaced, cut at `limit`."""
    text = " ".join(visible(str(value)).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    return "`" + (_inert(text).replace("`", LOOKALIKES["`"]) or " ") + "`"


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
