"""The store's limits, in one place: what any path (chat, forms, buttons, files, TAXII, the command line) may
hand to the store, so that every backend accepts exactly the same things and a person learns which limit they
hit instead of "Something went wrong" (PostgreSQL refuses a NUL byte and a value over its column; SQLite
takes both; neither can encode a lone surrogate).

API (pure, no I/O; every limit is at most its column in ``storage/models.py``):

* ``text_problem(text, *, multiline=True) -> str | None``: why this text cannot be stored at all (a NUL or
  another control character, a lone surrogate), or None. ``multiline`` allows tab, line feed and carriage
  return (notes, reasons); names and tags are single-line.
* ``check_text(field, text, max_len, *, multiline=True) -> str``: the text, or ``LimitError`` naming the
  field and the limit (never truncates).
* ``value_problem(type, value) -> str | None``: why an indicator value of this type cannot be stored (longer
  than ``VALUE_MAX[type]``, or a character ``text_problem`` refuses), or None. ``type`` is an ``IOCType`` or
  its string.
* ``check_value(type, value) -> str``: the value, or ``LimitError``.
* ``check_int(field, value, low, high) -> int`` and ``check_duration(field, delta) -> timedelta``: bounded
  numbers (ids fit BIGINT, counts INTEGER) and durations (``now + d`` never overflows).
* ``storable(text, max_len) -> str``: what is left of a text we did not ask for (a platform display name)
  after removing what cannot be stored and cutting it to ``max_len``.

``LimitError`` is a ``ValueError`` whose ``str()`` is a sentence a person can act on ("note: at most 2,000
characters (this one has 2,345); shorten it"); ``.field`` and ``.problem`` hold its parts.
"""

from __future__ import annotations

import re
from datetime import timedelta

# ---------------------------------------------------------------- numbers (column types)

BIGINT_MAX = 2**63 - 1  # ids (BigId: BIGINT on PostgreSQL, a 64-bit rowid on SQLite)
INTEGER_MAX = 2**31 - 1  # counts and uses (INTEGER)
ID_MAX = BIGINT_MAX

CONFIDENCE_MAX = 100  # SMALLINT
TRUST_MAX = 100  # SMALLINT
PAGE_MAX = 10_000
SIGHTING_COUNT_MAX = 1_000_000  # sightings.count INTEGER
INVITE_USES_MAX = 1_000  # invites.max_uses INTEGER

#: the longest duration anywhere (valid:, since:, expires:): ten years, so that ``now + d`` never overflows
DURATION_MAX = timedelta(days=3650)
DURATION_MIN = timedelta(minutes=1)

# ---------------------------------------------------------------- texts (column sizes)

#: indicators.value is VARCHAR(2048); each type has its own, tighter, maximum.
VALUE_COLUMN_MAX = 2048
VALUE_MAX: dict[str, int] = {
    "url": 2048,
    "email": 254,  # RFC 5321 path limit
    "domain": 253,  # RFC 1035
    "ipv4": 15,
    "ipv6": 39,
    "cidr": 43,  # an IPv6 address and /128
    "md5": 32,
    "sha1": 40,
    "sha256": 64,
    "sha512": 128,
    "cve": 20,
    "asn": 12,  # AS4294967295
    "btc": 90,  # bech32 addresses have at most 90 characters
}

NOTE_MAX = 2000  # an indicator's note (a STIX description becomes the note): TEXT
DESCRIPTION_MAX = NOTE_MAX
REASON_MAX = 500  # a vote's, rejection's or revocation's reason, an approval note, a sighting note: TEXT
SEARCH_TEXT_MAX = 200
ORG_NAME_MAX = 100  # organizations.name VARCHAR(200)
SECTOR_MAX = 50  # organizations.sector VARCHAR(100)
MEMBER_NAME_MAX = 100  # members.name VARCHAR(200)
API_KEY_NAME_MAX = 100  # api_keys.name VARCHAR(100)
TAG_MAX_LEN = 64  # indicator_tags.tag VARCHAR(100)
TAG_MAX_COUNT = 20
INVITE_CODE_MAX = 100


class LimitError(ValueError):
    """Input the store cannot keep: names the field, the limit and how to fix it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


# C0 controls but tab, line feed, carriage return; DEL; lone surrogates (a str can hold them, no encoding can)
_BAD_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BAD_LINE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def _describe(char: str) -> str:
    code = ord(char)
    if code == 0:
        return "a NUL character (U+0000)"
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate (U+{code:04X}, half of a character)"
    if char in "\t\n\r":
        return "a line break or tab"
    return f"a control character (U+{code:04X})"


def text_problem(text: str, *, multiline: bool = True) -> str | None:
    """Why this text cannot be stored (as a sentence fragment), or None."""
    m = (_BAD_MULTILINE if multiline else _BAD_LINE).search(text)
    if m is None:
        return None
    return f"contains {_describe(m.group())}, which cannot be stored; remove it"


def check_text(field: str, text: str, max_len: int, *, multiline: bool = True) -> str:
    """The text unchanged, or LimitError naming the field and the limit."""
    if problem := text_problem(text, multiline=multiline):
        raise LimitError(field, problem)
    if len(text) > max_len:
        raise LimitError(field, f"at most {max_len:,} characters (this one has {len(text):,}); shorten it")
    return text


def value_problem(type: str, value: str) -> str | None:
    """Why an indicator value of this type cannot be stored, or None."""
    limit = VALUE_MAX.get(str(type), VALUE_COLUMN_MAX)
    if problem := text_problem(value, multiline=False):
        return f"the {type} {problem}"
    if len(value) > limit:
        return f"a {type} has at most {limit:,} characters (this one has {len(value):,})"
    return None


def check_value(type: str, value: str) -> str:
    if problem := value_problem(type, value):
        raise LimitError(str(type), problem)
    return value


def check_int(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise LimitError(field, f"takes a whole number from {low:,} to {high:,}, not {value:,}")
    return value


def _duration_text(delta: timedelta) -> str:
    return f"{delta.days}d" if delta.days else f"{int(delta.total_seconds() // 60)}m"


def check_duration(field: str, delta: timedelta) -> timedelta:
    if not DURATION_MIN <= delta <= DURATION_MAX:
        raise LimitError(field, f"takes a duration from {_duration_text(DURATION_MIN)} to "
                                f"{_duration_text(DURATION_MAX)} (ten years)")
    return delta


def storable(text: str, max_len: int) -> str:
    """A text we did not ask for (a display name), without what cannot be stored, cut to max_len."""
    return _BAD_LINE.sub("", text)[:max_len].strip()
