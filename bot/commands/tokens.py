"""Reading the words of a command: tokens, quoted names, options, durations, references, and the bounded numbers and
texts the store can keep."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import limits
from bot.ioc import Observable, classify
from bot.tlp import TLP

from .refs import IdRef, Ref, StixRef, ValueRef
from .usage import UsageError

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


_TOKEN = re.compile(r'[A-Za-z_]+:"[^"]*"|"[^"]*"|\S+')


_OPTION = re.compile(r"^([A-Za-z_]+):(.*)$", re.S)


_ID = re.compile(r"#?([0-9]{1,18})")  # fullmatch; ASCII digits only (str.isdigit() takes '²' and '٣')


_STIX_ID = re.compile(r"^indicator--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


_MEMBER_ID = re.compile(r"m([0-9]{1,18})", re.I)  # fullmatch


_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>$")


_DURATION = re.compile(r"([0-9]{1,7})([mhdw])", re.I)  # fullmatch


_NUMBER = re.compile(r"[0-9]{1,20}")  # fullmatch: ASCII digits only, and not thousands of them


_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


_VALUE_HINT = re.compile(r"\[\.\]|\(\.\)|\[dot\]|hxxp|\[:\]|\[@\]|\[at\]|://|^\d{1,3}\.\d{1,3}\.|^[0-9a-f]{30,}$", re.I)


_TRAILING = ",;"


def tokenize(text: str) -> list[str]:
    return [_unquote(t) for t in _TOKEN.findall(text.translate(_QUOTES))]


def _unquote(token: str) -> str:
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        return token[1:-1]
    m = _OPTION.match(token)
    if m and m.group(2).startswith('"') and m.group(2).endswith('"') and len(m.group(2)) >= 2:
        return f"{m.group(1)}:{m.group(2)[1:-1]}"
    return token


def parse_duration(text: str, verb: str, key: str = "") -> timedelta:
    """`30m`, `24h`, `7d`, `2w`: from one minute to ten years (`limits.DURATION_MAX`), so `now + d` never
    overflows."""
    m = _DURATION.fullmatch(text.strip())
    if not m:
        raise UsageError(f"{key + ': ' if key else ''}'{_shown(text)}' is not a duration; write a number and a unit "
                         "such as 30m, 24h, 7d or 2w", verb)
    delta = timedelta(**{_DURATION_UNITS[m.group(2).lower()]: int(m.group(1))})
    try:
        return limits.check_duration(key or "a duration", delta)
    except limits.LimitError as e:
        raise UsageError(f"{e}, not '{_shown(text)}'", verb) from None


def _shown(text: str, width: int = 60) -> str:
    """A piece of the person's own text, quoted back in an error: short, controls made visible."""
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"


def parse_ref(token: str, verb: str) -> Ref:
    token = token.strip().rstrip(_TRAILING)
    if m := _ID.fullmatch(token):
        return IdRef(int(m.group(1)))
    if _STIX_ID.match(token.lower()):
        return StixRef(token.lower())
    rejected: list[tuple[Observable, str]] = []
    if obs := classify(token, rejected=rejected):
        return ValueRef(obs)
    if rejected:
        raise UsageError(f"'{_shown(token)}' cannot be an indicator: {rejected[0][1]}", verb)
    raise UsageError(f"'{_shown(token)}' is neither an indicator id like #42 nor an indicator value", verb)


def _int_option(key: str, raw: str, verb: str, low: int, high: int) -> int:
    """A whole number written in ASCII digits, from low to high (every number the grammar takes is bounded)."""
    value = int(raw) if _NUMBER.fullmatch(raw) else low - 1
    if not low <= value <= high:
        raise UsageError(f"{key}: takes a whole number from {low:,} to {high:,}, not '{_shown(raw)}'", verb)
    return value


def _text(field: str, text: str, verb: str, max_len: int, *, multiline: bool = True) -> str:
    """A free text the store keeps: within its limit and without what no backend can store."""
    try:
        return limits.check_text(field, text, max_len, multiline=multiline)
    except limits.LimitError as e:
        raise UsageError(str(e), verb) from None


def _on_off(key: str, raw: str, verb: str) -> bool:
    lowered = raw.lower()
    if lowered in {"on", "yes", "true", "1"}:
        return True
    if lowered in {"off", "no", "false", "0"}:
        return False
    raise UsageError(f"{key}: takes on or off, not '{_shown(raw)}'", verb)


def _enum_option(enum_type, key: str, raw: str, verb: str, aliases: dict[str, str] | None = None):
    lowered = (aliases or {}).get(raw.lower(), raw.lower())
    try:
        return enum_type(lowered)
    except ValueError:
        choices = ", ".join(e.value for e in enum_type)
        raise UsageError(f"{key}: takes one of {choices}, not '{_shown(raw)}'", verb) from None


def _tlp_option(raw: str, verb: str) -> TLP:
    try:
        return TLP.parse(raw)
    except ValueError as e:
        raise UsageError(str(e), verb) from None


def _split_list(raw: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.strip().lower() for t in re.split(r"[,\s]+", raw) if t.strip()))


class _Options:
    """Separates `key:value` options (only the keys a verb knows) from the other tokens."""

    def __init__(self, tokens: list[str], known: set[str], verb: str) -> None:
        self.values: dict[str, str] = {}
        self.rest: list[str] = []
        for token in tokens:
            m = _OPTION.match(token)
            key = m.group(1).lower() if m else ""
            if m and key in known:
                if key in self.values:
                    raise UsageError(f"{key}: is given twice; give it once", verb)
                self.values[key] = m.group(2)
            else:
                self.rest.append(token)

    def get(self, key: str) -> str | None:
        return self.values.get(key)
