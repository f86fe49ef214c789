"""Refanging (undo defanging and chat markup) and defanging (safe display).

Everything here is linear in the input: ``str.translate``/``str.replace`` passes and
regular expressions whose every repetition is bounded or anchored on a literal.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from bot.ioc.tlds import SPECIAL_TLDS, is_known_tld
from bot.lazy_re import compiled_on_use

#: Private-use character that stands for a dot that was written defanged (``[.]``, ``(dot)``...).
#: The extractor treats it as a dot and knows the writer meant an indicator.
DOTMARK = "\ue000"

_DELETE = dict.fromkeys(
    [
        0x00AD,  # soft hyphen
        0x061C,  # arabic letter mark
        0x180E,  # mongolian vowel separator
        *range(0x200B, 0x2010),  # zero-width space/non-joiner/joiner, LRM, RLM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2065),  # word joiner, invisible operators
        *range(0x2066, 0x206A),  # bidi isolates
        0xFEFF,  # BOM / zero-width no-break space
    ]
)
_TRANSLATE: dict[int, int | str | None] = dict(_DELETE)
# full-width ASCII forms -> ASCII
_TRANSLATE.update({cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)})
_TRANSLATE.update(
    {
        0x3002: ".",  # ideographic full stop
        0xFF61: ".",  # halfwidth ideographic full stop
        0x2024: ".",  # one dot leader
        0xFE52: ".",  # small full stop
        0x00A0: " ",  # no-break space
        0x2010: "-",  # hyphen
        0x2011: "-",  # non-breaking hyphen
        0x2012: "-",  # figure dash
        0x2013: "-",  # en dash
        0x2028: "\n",
        0x2029: "\n",
    }
)

# Slack: <http://x|label>, <mailto:a@b|a@b>, <#C123|chan>, <@U123>, <!here>; Discord: <http://x> (no embed)
_ANGLE_RE = compiled_on_use(
    r"<([@#!][^<>\s]{0,200}|[A-Za-z][A-Za-z0-9+.\-]{0,15}:[^<>|\s]{0,4000})(?:\|([^<>\n]{0,2000}))?>"
)

# Markdown link [label](url): keep the URL, and the label only if it says something else.
# The label may hold one level of brackets ("[evil[.]com](..)", "[**hxxp://evil[.]com**](..)"), the URL a
# defanged separator ("hxxp[:]//", "hxxp[://]"), one level of parentheses ("/wiki/a_(b)"), angle brackets and
# a title; every repetition is possessive.
_MD_LINK_RE = compiled_on_use(
    r"\[((?:[^\[\]\n]|\[[^\[\]\n]{0,40}\]){1,500}+)\]"
    r"\(<?([A-Za-z][A-Za-z0-9+.\-]{0,15}(?:://|\[:\]//|\[://\]|:(?=[^/\s]))"
    r"(?:[^\s()<>]|\([^\s()<>]{0,200}\)){1,4000}+)>?(?:\x20{1,4}\"[^\"\n]{0,200}\")?\)"
)

# Markdown emphasis with underscores around a token: _evil.com_ / __evil.com__
_MD_UNDERSCORE_RE = compiled_on_use(
    r"(_(?:(?<=[\s(\[\"']_)|(?<=^_))_?)(?=[^\s_])(\S{1,2000}?)(?<=[^\s_])\1(?=[\s.,;:!?)\]\"']|$)", re.MULTILINE
)

# Where an underscore can open emphasis (besides at the very start): this gate starts with a literal, which
# the regex engine finds with a fast search.
_MD_UNDERSCORE_GATE_RE = compiled_on_use(r"_(?<=[\s(\[\"']_)")

_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))

# Bracketed defangs: [.] (.) {.} [dot] [,] [@] [at] [:] [://] [/], any bracket mix, repeated
# brackets and up to three blanks inside and around ("example  [  .  ]  com"). The pattern starts with
# a blank or a bracket, so the regex engine skips quickly to the next candidate.
_BRACKET_RE = compiled_on_use(
    r"(?:\x20(?=\x20{0,2}[\[({])\x20{0,2}[\[({]|[\[({])[\[({]{0,3}\x20{0,3}(?:(\.|,|[dD][oO0][tT]|[pP][uU][nN][tT][oO]|[pP][oO][nN][tT][oO]|[pP][uU][nN][kK][tT])"
    r"|(@|[aA][tT]|[aA][rR][rR][oO][bB][aA])|(://)|(:)|(/)"
    # glued only (checked in _bracket_sub): the colons and slashes of a scheme or an IPv6 address (http[:/]/,
    # http:[//], 2001:db8[::]1), a port (evil[.]com[:8443]/x), the punctuation of a query (/a[?]x=1[&]y[=]2[#]t)
    r"|(::|:?/{1,3}|:[0-9]{1,5}|[?&=#]))\x20{0,3}[\])}]{1,4}\x20{0,3}"
)
# What _BRACKET_RE needs after its optional leading blanks: an opening bracket and, after up to three blanks,
# one of the characters its alternatives start with. The pattern itself starts with optional blanks, so the
# regex engine tries it at every position; this gate starts with a character set, which it skips to, so a
# chat line whose only brackets are "[09:14]" and "<nick>" costs one quick search.
# One search per kind of bracket, each starting with a literal, which the engine finds with a fast search (a
# leading character set is tried character by character).
_BRACKET_GATES = tuple(compiled_on_use(re.escape(b) + r"[\[({]{0,3}\x20{0,3}[.,:/@?&=#dDpPaA]") for b in "[({")
# Half or repeated brackets glued to a dot between two words: 10.10.10.]]]10, 10[[[.10, 111[.111.]111,
# exampledot]com, example[dotcom, example.com[/test.
# Every pattern from here on starts with one character or character set and checks what stands before it
# with a look-behind after it: the regex engine then skips to the candidates instead of trying every position.
_HALF_RE = compiled_on_use(
    r"[\[({.\ue000dD](?<=\w.)(?:(?<=[\[({])(?:[\[({]{0,7}[.\ue000][\])}]{0,8}|[\[({]{0,7}[dD][oO][tT]|(?<=[\[(])/)"
    r"|(?<=[.\ue000])[\])}]{1,8}|(?<=[dD])[oO][tT][\])}]{1,8})(?=\w)"
)
# What _HALF_RE needs, starting with a character (its own look-behind start is tried at every position).
# (one search per bracket, each starting with a literal, like _BRACKET_GATES)
_HALF_GATES = tuple(compiled_on_use(re.escape(b) + r"[.\ue000/dD]") for b in "[({") + tuple(
    compiled_on_use(re.escape(b) + r"(?<=[.\ue000tT].)") for b in "])}"
)
_SIMPLE_BRACKETS = (("[.]", DOTMARK), ("(.)", DOTMARK), ("{.}", DOTMARK), ("[@]", "\ue001"), ("[:]", ":"),
                    ("[://]", "://"), ("[/]", "/"))
_DOT_BLANKS_RE = compiled_on_use(r"\x20(?<=\w\x20)\x20{0,2}\ue000\x20{0,3}(?=\w)|\ue000\x20{1,3}(?=\w)")
# h**p / hxxp / hXXp / h00p / fxp / sfxp / fxps: only the letters after the h/f are replaced
_SCHEME_RE = compiled_on_use(
    r"[hHfFsS](?<=\b.)(?:(?<=[hH])(?:[xX]{2,3}|\*\*|00)(?=[pP][sS]?\x20{0,2}(?:\[?:|__|\[?/))"
    r"|(?<=[fF])[xX](?=[pP][sS]?\[?:)|(?<=[sS])[fF][xX](?=[pP]\[?:))"
)
# iocextract's ftx:// and meow://
_SCHEME_WORD_RE = compiled_on_use(r"[fFmM](?<=\b[fFmM])(?:(?<=[fF])[tT][xX]|(?<=[mM])[eE][oO][wW])(?=[sS]?(?:\[?:|\[://))")
_SCHEME_US_RE = compiled_on_use(
    r"(?<=\b[hH][tT][tT][pP])__(?=\w)|(?<=\b[hH][tT][tT][pP][sS])__(?=\w)|(?<=\b[fF][tT][pP])__(?=\w)"
)
# "http:// example.com" (blank after the scheme), "http:///example.com" (extra slash)
_SCHEME_GAP_RE = compiled_on_use(r"(?<=\b[hH][tT][tT][pP]://)\x20{1,2}(?=[\w\[])|(?<=\b[hH][tT][tT][pP][sS]://)\x20{1,2}"
                            r"(?=[\w\[])|(?<=\b[hH][tT][tT][pP]://)/{1,3}(?=\w)|(?<=\b[hH][tT][tT][pP][sS]://)/{1,3}(?=\w)")
# ioc-fanger's four/five x's for http/https: xxxx://, xXxXx://, xxxxs://
_SCHEME_XXXX_RE = compiled_on_use(r"(?<![\w.+\-])[xX]{4}([xXsS]?)(?=://)")
# a scheme written in brackets: [http]://, (hxxps)://
_SCHEME_BRACKETED_RE = compiled_on_use(r"[\[(]((?:[hH][tTxX]{2}[pP]|[fF][tTxX][pP])[sS]?)[\])](?=://)")
# the separator broken apart or without its colon: http//host, https :// host, http: //host, http:/ /host
_SCHEME_SEP_RE = compiled_on_use(
    r"\b((?:[hH][tT][tT][pP]|[fF][tT][pP])[sS]?)(?:\x20{1,2}:\x20{0,2}/\x20{0,2}/|:\x20{1,2}/\x20{0,2}/|:/\x20{1,2}/"
    r"|//)/{0,2}\x20{0,2}(?=[\w\[])"
)
# Runs of backslashes before a dot or a bracket (escaped for Markdown/regex): start only at the first
# backslash of a run, so a long run is scanned once.
_BACKSLASH_RE = compiled_on_use(r"(?<!\\)\\{1,64}(\.)|(?<!\\)\\{1,64}(?=[\[\]()/])")
_WILD_RE = compiled_on_use(r"(?<![\w*])\*\.(?=\w)")
_SPACED_AT_RE = compiled_on_use(
    r"(?:\x20(?<=\w\x20)\x20?@\x20{0,2}|@(?<=\w@)\x20{1,2})(?=[\w\-]+\x20?[\[({]?\x20?[.\ue000])"
)
_ATMARK = "\ue001"
# A URL written percent-encoded where a URL may start ("http%3A%2F%2Fexample%2Ecom"), and "%2F" before a
# name at a token start: decoded. Inside a URL (a query "?u=http%3A%2F%2F...") nothing is decoded.
_URL_CHARS_NOT = r"\s<>\"'`|\\^{},"
_PCT_URL_RE = compiled_on_use(
    r"(?<![^" + _URL_CHARS_NOT + r"])[A-Za-z][A-Za-z0-9+.\-]{0,15}%3[aA]%2[fF]%2[fF][^" + _URL_CHARS_NOT + r"]{1,4000}"
)
_PCT_SLASH_RE = compiled_on_use(r"(?<![^" + _URL_CHARS_NOT + r"])%2[fF](?=\w)")
# "[IPv6:2001:db8::1]" (e-mail address literal), "ipv6:2001:db8::1"
_IPV6_TAG_RE = compiled_on_use(r"[iI](?<=\b[iI])[pP][vV]6:(?=[0-9A-Fa-f]{0,4}:)")


# Word forms without brackets: "evil dot com", "evil-dot-com", "www DOT evil DOT ru", Spanish/Portuguese/German
# "punto"/"ponto"/"punkt", and an address "user at evil dot com", "usuario arroba evil punto com",
# "admin AT evil.com". Prose uses the same words ("at the end of the day", "the meeting at 10 dot 30", "the dot
# com bubble"), so a match is only rewritten when what it makes is a valid name on a real public suffix and its
# surroundings look like an address (see _word_name and _word_at_ok).
_WORD_DOTS = "dot|DOT|Dot|punto|PUNTO|ponto|PONTO|punkt|PUNKT"
_WSEP = r"(?:\x20{1,2}(?:" + _WORD_DOTS + r")\x20{1,2}|-(?:dot|DOT|Dot)-)"
# A label is a maximal run of letters and digits joined by hyphens, never through "-dot-"; every repetition is
# possessive and bounded, so a candidate is read once, left to right, without backtracking.
_WLABEL = r"[^\W_]++(?:-(?!(?:dot|DOT|Dot)-)[^\W_]++)*+"
_WSEG = r"[^\W_](?:[\w+]|-(?!(?:dot|DOT|Dot)-))*+"
_WLOCAL = _WSEG + r"(?:(?:[.\ue000]|" + _WSEP + r")" + _WSEG + r"){0,8}+"
_WORD_RE = compiled_on_use(
    r"(?<![\w.\-@\ue000])(?:"
    r"(?P<local>" + _WLOCAL + r")(?P<at>\x20{1,2}(?:at|AT|At|arroba|ARROBA)\x20{1,2})"
    r"(?P<dom>" + _WLABEL + r"(?:(?:" + _WSEP + r"|[.\ue000])" + _WLABEL + r"){1,30}+)"
    r"|(?P<name>" + _WLABEL + r"(?:[.\ue000]" + _WLABEL + r"){0,30}+(?:" + _WSEP + _WLABEL
    + r"(?:[.\ue000]" + _WLABEL + r"){0,30}+){1,30}+))(?![\w\-])"
)
_WSEP_RE = compiled_on_use(_WSEP)
# The word pass reads only around these (found with bytes.find on the text's ASCII-lowered copy): a spaced or
# hyphenated word dot, a spaced "arroba" or "AT".
_WORD_TRIGGERS = (b" dot ", b"-dot-", b" punto ", b" ponto ", b" punkt ", b" arroba ")
# The run of name characters that ends where a trigger starts (the first label, or a whole "a.b.c"), and an
# "at" word before it (then the mailbox before that is part of the candidate).
_RUN_BEFORE_RE = compiled_on_use(r"(?<![\w+.\-\ue000])[\w+.\-\ue000]{1,700}+\Z")
_AT_BEFORE_RE = compiled_on_use(r"\x20{1,2}(?:at|AT|At|arroba|ARROBA)\x20{1,2}\Z")
#: Words that do not start a host name written with word dots ("the dot com bubble", "a dot in").
_NOT_A_LABEL = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "if", "of", "at", "in", "on", "to", "by", "for", "with",
    "from", "as", "into", "onto", "than", "then", "so", "too", "very", "not", "no", "yes", "is", "are", "was",
    "were", "be", "been", "am", "it", "its", "this", "that", "these", "those", "there", "here", "which", "what",
    "who", "whom", "whose", "where", "when", "why", "how", "can", "will", "just", "do", "does", "did", "has",
    "have", "had", "my", "your", "our", "their", "his", "her", "him", "she", "he", "we", "they", "you", "me",
    "us", "them", "i", "also", "only", "even", "still", "over", "under", "about", "after", "before", "between",
    "each", "every", "some", "any", "all", "both", "such", "same", "other", "another", "more", "most", "less",
    "few", "many", "much", "one", "two", "per", "via", "big", "small", "red", "blue", "green", "black", "white",
    "new", "old", "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "en", "y", "que", "es",
    "por", "para", "con", "se", "lo", "le", "al", "su", "sus", "este", "esta", "ese", "esa", "os", "um", "uma",
    "da", "dos", "das", "na", "nas", "em", "ou", "com", "der", "die", "und", "ist", "ein", "eine",
})
#: A host name with a single spaced word dot must end in one of these or in a two-letter country code that is
#: not an English word: "red dot is", "the dot in", "a dot app" are prose.
_WORD_GTLDS = frozenset({"com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "xyz", "top", "onion",
                         "online", "site", "icu", "club", "mobi", "tech", "asia", "pro"})
_ENGLISH_2 = frozenset({"am", "an", "as", "at", "be", "by", "do", "go", "he", "hi", "id", "if", "in", "is", "it",
                        "me", "my", "no", "of", "oh", "ok", "on", "or", "so", "to", "up", "us", "we"})
#: "the whole dot com bubble": words after "dot com" that make it the idiom.
_DOTCOM_IDIOM = frozenset({"bubble", "boom", "bust", "crash", "era", "company", "companies", "startup", "startups",
                           "days", "mania", "millionaire", "millionaires", "age", "business", "businesses",
                           "economy", "world", "style", "domain", "domains"})
#: Words before a spaced "at" that make it prose ("look at", "hosted at", "me at"), not a mailbox.
_AT_PROSE = _NOT_A_LABEL | frozenset({
    "look", "looks", "stare", "stares", "arrive", "arrives", "live", "lives", "point", "points", "aim", "aims",
    "hit", "hits", "meet", "met", "see", "saw", "stop", "start", "starts", "stay", "stays", "based", "born",
    "home", "work", "back", "out", "up", "down", "now", "today", "tonight", "right", "left", "directly",
    "again", "later", "once", "reach", "reachable", "available", "online", "offline", "active", "visible",
    "run", "runs", "ran", "target", "targets", "attack", "attacks", "traffic", "activity", "beacon", "beacons",
    "callback", "callbacks", "request", "requests", "connection", "connections", "download", "downloads",
    "payload", "payloads", "server", "servers", "site", "sites", "page", "pages", "panel", "login", "portal",
    "file", "files", "spike", "spikes",
})
_VERSION_BEFORE_RE = compiled_on_use(r"(?:\b(?:version|ver|v|build|release|rev)\.?\x20?:?\x20?)$", re.IGNORECASE)
_FOLLOWING_WORD_RE = compiled_on_use(r"\x20{1,3}([A-Za-z]{2,20})")


def _word_name(name: str, text: str, start: int, end: int) -> str | None:
    """``name`` with its word dots as :data:`DOTMARK`, or None when it is not a host name (prose)."""
    pieces = _WSEP_RE.split(name)
    labels = [lab for piece in pieces for lab in piece.replace(DOTMARK, ".").split(".")]
    if all(lab.isdigit() for lab in labels):  # "1 dot 2 dot 3 dot 4" is an address, "10 dot 30" a time
        if _VERSION_BEFORE_RE.search(text, max(0, start - 12), start):
            return None
        if len(labels) == 4 and all(lab.isascii() and len(lab) <= 3 and int(lab) <= 255 for lab in labels):
            return DOTMARK.join(pieces)
        return None
    tld = labels[-1].lower()
    if not is_known_tld(tld) or (tld in SPECIAL_TLDS and tld != "onion"):
        return None
    if labels[0].lower() in _NOT_A_LABEL:
        return None
    spaced = "-" not in name[len(labels[0]) : len(labels[0]) + 1]
    if len(labels) == 2 and spaced and not (tld in _WORD_GTLDS or (len(tld) == 2 and tld not in _ENGLISH_2)):
        return None
    if tld == "com":
        nxt = _FOLLOWING_WORD_RE.match(text, end)
        if nxt and nxt.group(1).lower() in _DOTCOM_IDIOM:
            return None
    return DOTMARK.join(pieces)


def _word_at_ok(local: str, at: str, worded_domain: bool) -> bool:
    """Whether ``local at domain`` is a mailbox: "arroba" always; "AT" unless it follows a prose word; a spaced
    lower-case "at" only before a domain written with word dots and after a word that looks like a mailbox
    ("john", "first dot last", "abuse-desk", "x99"), not like a verb or a pronoun ("look", "hosted", "me")."""
    word = at.strip().lower()
    if word == "arroba":
        return True
    if at.strip() in ("at", "At") and not worded_domain:
        return False
    low = local.lower()
    if any(c.isdigit() or c in "._+-" + DOTMARK for c in low) or _WSEP_RE.search(local):
        return True
    if low in _AT_PROSE:
        return False
    return not (len(low) >= 5 and low.endswith(("ed", "ing")))


def _word_sub(m: re.Match[str]) -> str:
    name = m.group("name")
    if name is not None:
        conv = _word_name(name, m.string, m.start(), m.end())
        return m.group(0) if conv is None else conv
    local, at, dom = m.group("local"), m.group("at"), m.group("dom")
    worded = _WSEP_RE.search(dom) is not None
    conv = _word_name(dom, m.string, m.start("dom"), m.end()) if worded else dom
    if conv is not None and _word_at_ok(local, at, worded):
        return _WSEP_RE.sub(DOTMARK, local) + "@" + conv
    if worded and _WSEP_RE.search(local):  # "first dot last at home" -> leave the whole line alone
        return m.group(0)
    return local + at + (dom if conv is None else conv)


def _ascii_lowered(text: str) -> bytes:
    """``text`` with its ASCII letters lower-cased, one byte a character (a character past Latin-1 becomes "?"),
    so an ASCII word is found in it at the position it has in ``text``. For substring tests and positions only:
    once the text holds a DOTMARK it is two bytes a character, and ``str.lower`` is then ~4 times slower than
    this (45 against 11 ms on 9 MB)."""
    return text.encode("latin-1", "replace").lower()


def _word_trigger_positions(text: str) -> list[int]:
    low = _ascii_lowered(text)
    found: list[int] = []
    for word in _WORD_TRIGGERS:
        i = low.find(word)
        while i != -1:
            found.append(i)
            i = low.find(word, i + 1)
    i = text.find(" AT ")
    while i != -1:
        found.append(i)
        i = text.find(" AT ", i + 1)
    found.sort()
    return found


def _word_pass(text: str) -> str:
    """Rewrite the word forms of ``text`` (see :data:`_WORD_RE`), reading only around their trigger words, so
    a long document that merely contains "dot" somewhere costs a few substring searches, not a regex pass."""
    parts: list[str] = []
    done = floor = 0  # nothing before `floor` can start a candidate for a later trigger
    for i in _word_trigger_positions(text):
        if i < done:
            continue
        lo = max(done, floor, i - 700)
        floor = i + 1 if text[i] == " " else i  # a blank ends every run; a failed "-dot-" chain is not re-read
        prev = text[i - 1 : i]
        if not prev or not (prev.isalnum() or prev in "_+.-" + DOTMARK):
            continue
        run = _RUN_BEFORE_RE.search(text, lo, i)
        if run is None:
            continue
        m = None
        at = _AT_BEFORE_RE.search(text, max(done, run.start() - 12), run.start())
        if at is not None:
            local = _RUN_BEFORE_RE.search(text, max(done, at.start() - 700), at.start())
            if local is not None:
                m = _WORD_RE.match(text, local.start())
        if m is None or m.end() <= i:
            m = _WORD_RE.match(text, run.start())
        if m is None or m.end() <= i:
            continue
        parts.append(text[done : m.start()])
        parts.append(_word_sub(m))
        done = m.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def has_word_forms(text: str) -> bool:
    """Whether ``text`` may hold a word form ("evil dot com", "user arroba evil.com"). One lower-casing and five
    substring tests: this runs on every message, and most have none of these words."""
    low = text.lower()
    return "dot" in low or "pun" in low or "pont" in low or "rroba" in low or " AT " in text


def _gate(patterns: tuple[re.Pattern[str], ...], firsts: str, text: str) -> bool:
    """Whether one of ``patterns`` (each starting with the matching character of ``firsts``) is in ``text``."""
    for first, pat in zip(firsts, patterns, strict=True):  # noqa: SIM110 (a loop: any() and its generator cost more)
        if first in text and pat.search(text):
            return True
    return False


def _bracket_sub(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return DOTMARK
    if m.group(2) is not None:
        return "@"
    if m.group(3) is not None:
        return "://"
    if m.group(4) is not None:
        return ":"
    if m.group(5) is not None:
        return "/"
    return _glued_sep(m)


def _glued_sep(m: re.Match[str]) -> str:
    """``[::]``, ``[:/]``, ``[//]``, ``[:8443]``, ``[?]``... count only glued between the parts they join."""
    whole, sep, text = m.group(0), m.group(6), m.string
    start, end = m.start(), m.end()
    if whole[0] == " " or start == 0:
        return whole
    trail = whole[len(whole.rstrip(" ")) :]  # blanks the pattern took after the bracket
    before, after = text[start - 1], (" " if trail else text[end : end + 1])
    if sep[0] in "?&=#":
        ok = (before.isalnum() or before in "_/.=" + DOTMARK) and (after.isalnum() or after in "_%/.-")
    elif sep[1:2].isdigit():  # a port
        ok = (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")
    else:
        ok = (before.isalnum() or before in "_:") and (after.isalnum() or after in "_/[" or sep == "::")
    return sep + trail if ok else whole


def _half_sub(m: re.Match[str]) -> str:
    return "/" if m.group(0)[-1] == "/" else DOTMARK


def _scheme_sub(m: re.Match[str]) -> str:
    found = m.group(0)
    first = found[0]
    if first in "hH":
        return first + "tt"
    return first + "t" if first in "fF" else found[:2] + "t"


def _scheme_word_sub(m: re.Match[str]) -> str:
    w = m.group(0).lower()
    return "ftp" if w == "ftx" else "http"


def _scheme_xxxx_sub(m: re.Match[str]) -> str:
    return "https" if m.group(1) else "http"


def _pct_sub(m: re.Match[str]) -> str:
    return unquote(m.group(0))


def _defang_pass(text: str) -> str:
    if "\\" in text:
        text = _BACKSLASH_RE.sub(lambda m: DOTMARK if m.group(1) else "", text)
    if "[" in text or "(" in text or "{" in text:
        for old, new in _SIMPLE_BRACKETS:
            if old in text:
                text = text.replace(old, new)
        if _gate(_BRACKET_GATES, "[({", text):
            text = _BRACKET_RE.sub(_bracket_sub, text)
        if _ATMARK in text:
            text = text.replace(" " + _ATMARK + " ", "@").replace(" " + _ATMARK, "@").replace(_ATMARK, "@")
    if _gate(_HALF_GATES, "[({])}", text):
        text = _HALF_RE.sub(_half_sub, text)
    if DOTMARK in text and (" " + DOTMARK in text or DOTMARK + " " in text):
        text = _DOT_BLANKS_RE.sub(DOTMARK, text)
    # every defanged scheme form has a colon (brackets already refanged), "__" (http__host) or a slash (http//);
    # the case-blind tests run on one lower-cased copy (a substring test costs a pass over the text)
    has_colon = ":" in text
    has_slash = "/" in text
    has_under = "_" in text and "__" in text
    if has_colon or has_under or has_slash:
        low = _ascii_lowered(text)
        if has_slash and "://" in text:
            if "]://" in text or ")://" in text:
                text = _SCHEME_BRACKETED_RE.sub(r"\1", text)
            if b"xxxx" in low:
                text = _SCHEME_XXXX_RE.sub(_scheme_xxxx_sub, text)
        if b"xp" in low or b"*p" in low or b"0p" in low:
            text = _SCHEME_RE.sub(_scheme_sub, text)
        if has_colon and (b"ftx" in low or b"meow" in low):  # the words _SCHEME_WORD_RE rewrites, lower-cased
            text = _SCHEME_WORD_RE.sub(_scheme_word_sub, text)
        if has_under:
            text = _SCHEME_US_RE.sub("://", text)
        if has_slash and (b"p//" in low or b"s//" in low or " ://" in text or ": /" in text or ":/ /" in text):
            text = _SCHEME_SEP_RE.sub(r"\1://", text)
            has_colon = True
        if has_colon and (":// " in text or ":///" in text):
            text = _SCHEME_GAP_RE.sub("", text)
    if "*" in text and "*." in text:
        text = _WILD_RE.sub("", text)
    if "@" in text and (" @" in text or "@ " in text):
        text = _SPACED_AT_RE.sub("@", text)
    return text


def _angle_sub(m: re.Match[str]) -> str:
    target, label = m.group(1), m.group(2)
    if target[0] in "@#!":
        return " "
    low = target.lower()
    if low.startswith("mailto:"):
        return " " + (label if label and "@" in label else target[7:]) + " "
    if label is None:
        return " " + target + " "
    label = label.strip()
    # Slack auto-links a bare domain/e-mail/scheme-less URL: keep what the person typed.
    bare = target.split("://", 1)[-1]
    if label in (target, bare, bare.rstrip("/")) or label.rstrip("/") == bare.rstrip("/"):
        return " " + label + " "
    if _names_the_link(label, target):  # <https://evil.com/a|evil[.]com>: one link, reported as its URL
        return " " + target + " "
    return " " + target + " " + label + " "


def _names_the_link(label: str, url: str) -> bool:
    """Whether a link's label is the link itself, its host or what is left without the scheme, however each is
    defanged ("[evil[.]com](hxxp://evil[.]com/a)"): then the label is not another indicator."""
    label, url = refang(label).strip().strip("*_~`").lower().rstrip("/"), refang(url).lower()
    bare = url.split("://", 1)[-1] if "://" in url else url.partition(":")[2]
    host = bare.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    return label in (url.rstrip("/"), bare.rstrip("/"), host)


def _md_link_sub(m: re.Match[str]) -> str:
    label, url = m.group(1).strip(), m.group(2)
    if "](" in label:  # a badge: [![alt](image-url)](link-url)
        label = _MD_LINK_RE.sub(_md_link_sub, label)
    elif _names_the_link(label, url):
        return " " + url + " "
    return " " + label + " " + url + " "


def normalize(text: str) -> str:
    """Refang ``text`` but keep defanged dots as :data:`DOTMARK` (for the extractor)."""
    words = has_word_forms(text)  # on the text as written: mostly ASCII, where lower() and "in" are fastest
    if not text.isascii():
        text = text.translate(_TRANSLATE)
    if "<" in text:
        text = _ANGLE_RE.sub(_angle_sub, text)
    if "&" in text:
        for ent, ch in _ENTITIES:
            if ent in text:
                text = text.replace(ent, ch)
    if "`" in text:
        text = text.replace("`", " ")
    if "]" in text and "](" in text:  # a one-character test first: memchr, the cheapest test there is
        text = _MD_LINK_RE.sub(_md_link_sub, text)
    if "_" in text and (text[0] == "_" or _MD_UNDERSCORE_GATE_RE.search(text)):
        text = _MD_UNDERSCORE_RE.sub(r"\2", text)
    if "|" in text and "||" in text:
        text = text.replace("||", " ")
    if "%" in text:
        if "%3" in text:
            text = _PCT_URL_RE.sub(_pct_sub, text)
        if "%2" in text:
            text = _PCT_SLASH_RE.sub(" ", text)
    if ":" in text and ("v6:" in text or "V6:" in text):
        text = _IPV6_TAG_RE.sub(" ", text)
    text = _defang_pass(text)
    if words:
        text = _word_pass(text)
    return text


def refang(text: str) -> str:
    """Undo every common defang form and chat markup: ``hxxp``, ``[.]``, ``(dot)``, ``[@]``,
    Slack ``<url|label>``, Discord spoilers and code spans, zero-width/bidi characters,
    full-width and ideographic dots."""
    return normalize(text).replace(DOTMARK, ".")


def _defang_host(host: str) -> str:
    return host.replace(".", "[.]")


def defang(value: str) -> str:
    """Make a canonical indicator safe to display (not clickable, not auto-linked).

    URLs: ``http``->``hxxp``, ``https``->``hxxps``, ``ftp``->``fxp``, other schemes ``[://]``,
    dots of the host ``[.]``; e-mails ``[@]`` and ``[.]``; domains and IPv4 ``[.]``.
    Hashes, CVEs, ASNs, BTC addresses and IPv6 are returned unchanged.
    """
    if "://" in value:
        scheme, rest = value.split("://", 1)
        low = scheme.lower()
        if low in ("http", "https"):
            scheme_out = "hxxp" + low[4:] + "://"
        elif low == "ftp":
            scheme_out = "fxp://"
        else:
            scheme_out = scheme + "[://]"
        cut = len(rest)
        for sep in "/?#":
            i = rest.find(sep)
            if i != -1 and i < cut:
                cut = i
        return scheme_out + _defang_host(rest[:cut]) + rest[cut:]
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return local + "[@]" + _defang_host(domain)
    if ":" in value and "." not in value:  # IPv6 / v6 CIDR
        return value
    cut = len(value)
    for sep in "/?#":
        i = value.find(sep)
        if i != -1 and i < cut:
            cut = i
    return _defang_host(value[:cut]) + value[cut:]
