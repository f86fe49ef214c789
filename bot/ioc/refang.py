"""Refanging (undo defanging and chat markup) and defanging (safe display).

Everything here is linear in the input: ``str.translate``/``str.replace`` passes and
regular expressions whose every repetition is bounded or anchored on a literal.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

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
_ANGLE_RE = re.compile(
    r"<([@#!][^<>\s]{0,200}|[A-Za-z][A-Za-z0-9+.\-]{0,15}:[^<>|\s]{0,4000})(?:\|([^<>\n]{0,2000}))?>"
)

# Markdown link [label](url): keep the URL, and the label only if it says something else.
_MD_LINK_RE = re.compile(r"\[([^\[\]\n]{1,500})\]\(([A-Za-z][A-Za-z0-9+.\-]{0,15}://[^\s()]{1,4000})\)")

# Markdown emphasis with underscores around a token: _evil.com_ / __evil.com__
_MD_UNDERSCORE_RE = re.compile(
    r"(?:(?<=[\s(\[\"'])|^)(__?)(?=[^\s_])(\S{1,2000}?)(?<=[^\s_])\1(?=[\s.,;:!?)\]\"']|$)", re.MULTILINE
)

_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))

# Bracketed defangs: [.] (.) {.} [dot] [,] [@] [at] [:] [://] [/], any bracket mix, repeated
# brackets and up to three blanks inside and around ("example  [  .  ]  com"). The pattern starts with
# a blank or a bracket, so the regex engine skips quickly to the next candidate.
_BRACKET_RE = re.compile(
    r"\x20{0,3}[\[({]{1,4}\x20{0,3}(?:(\.|,|[dD][oO0][tT])|(@|[aA][tT])|(://)|(:)|(/))\x20{0,3}[\])}]{1,4}\x20{0,3}"
    # colons and slashes of a scheme or an IPv6 address in brackets, glued: http[:/]/, http:[//], 2001:db8[::]1
    r"|(?<=[\w:])[\[({](::|:?/{1,3})[\])}](?=[\w/\[])"
)
# Half or repeated brackets glued to a dot between two words: 10.10.10.]]]10, 10[[[.10, 111[.111.]111,
# exampledot]com, example[dotcom, example.com[/test.
_HALF_RE = re.compile(
    r"(?<=\w)(?:[\[({]{1,8}[.\ue000][\])}]{0,8}|[.\ue000][\])}]{1,8}|[\[({]{1,8}[dD][oO][tT]|[dD][oO][tT][\])}]{1,8})"
    r"(?=\w)|(?<=\w)[\[(]/(?=\w)"
)
_SIMPLE_BRACKETS = (("[.]", DOTMARK), ("(.)", DOTMARK), ("{.}", DOTMARK), ("[@]", "\ue001"), ("[:]", ":"),
                    ("[://]", "://"), ("[/]", "/"))
_DOT_BLANKS_RE = re.compile(r"(?<=\w)\x20{1,3}\ue000\x20{0,3}(?=\w)|\ue000\x20{1,3}(?=\w)")
# h**p / hxxp / hXXp / h00p / fxp / sfxp / fxps: only the letters after the h/f are replaced
_SCHEME_RE = re.compile(
    r"(?<=\b[hH])(?:[xX]{2,3}|\*\*|00)(?=[pP][sS]?\x20{0,2}(?:\[?:|__|\[?/))|(?<=\b[fF])[xX](?=[pP][sS]?\[?:)"
    r"|(?<=\b[sS][fF])[xX](?=[pP]\[?:)"
)
# iocextract's ftx:// and meow://
_SCHEME_WORD_RE = re.compile(r"\b(?:[fF][tT][xX]|[mM][eE][oO][wW])(?=[sS]?(?:\[?:|\[://))")
_SCHEME_US_RE = re.compile(
    r"(?<=\b[hH][tT][tT][pP])__(?=\w)|(?<=\b[hH][tT][tT][pP][sS])__(?=\w)|(?<=\b[fF][tT][pP])__(?=\w)"
)
# "http:// example.com" (blank after the scheme), "http:///example.com" (extra slash)
_SCHEME_GAP_RE = re.compile(r"(?<=\b[hH][tT][tT][pP]://)\x20{1,2}(?=[\w\[])|(?<=\b[hH][tT][tT][pP][sS]://)\x20{1,2}"
                            r"(?=[\w\[])|(?<=\b[hH][tT][tT][pP]://)/{1,3}(?=\w)|(?<=\b[hH][tT][tT][pP][sS]://)/{1,3}(?=\w)")
# ioc-fanger's four/five x's for http/https: xxxx://, xXxXx://, xxxxs://
_SCHEME_XXXX_RE = re.compile(r"(?<![\w.+\-])[xX]{4}([xXsS]?)(?=://)")
# a scheme written in brackets: [http]://, (hxxps)://
_SCHEME_BRACKETED_RE = re.compile(r"[\[(]((?:[hH][tTxX]{2}[pP]|[fF][tTxX][pP])[sS]?)[\])](?=\x20?:)")
# the separator broken apart or without its colon: http//host, https :// host, http: //host, http:/ /host
_SCHEME_SEP_RE = re.compile(
    r"\b((?:[hH][tT][tT][pP]|[fF][tT][pP])[sS]?)(?:\x20{1,2}:\x20{0,2}/\x20{0,2}/|:\x20{1,2}/\x20{0,2}/|:/\x20{1,2}/"
    r"|//)/{0,2}\x20{0,2}(?=[\w\[])"
)
# Runs of backslashes before a dot or a bracket (escaped for Markdown/regex): start only at the first
# backslash of a run, so a long run is scanned once.
_BACKSLASH_RE = re.compile(r"(?<!\\)\\{1,64}(\.)|(?<!\\)\\{1,64}(?=[\[\]()/])")
_WILD_RE = re.compile(r"(?<![\w*])\*\.(?=\w)")
_SPACED_AT_RE = re.compile(
    r"(?<=\w)(?:\x20{1,2}@\x20{0,2}|@\x20{1,2})(?=[\w\-]+\x20?[\[({]?\x20?[.\ue000])"
)
_ATMARK = "\ue001"
# A URL written percent-encoded where a URL may start ("http%3A%2F%2Fexample%2Ecom"), and "%2F" before a
# name at a token start: decoded. Inside a URL (a query "?u=http%3A%2F%2F...") nothing is decoded.
_URL_CHARS_NOT = r"\s<>\"'`|\\^{},"
_PCT_URL_RE = re.compile(
    r"(?<![^" + _URL_CHARS_NOT + r"])[A-Za-z][A-Za-z0-9+.\-]{0,15}%3[aA]%2[fF]%2[fF][^" + _URL_CHARS_NOT + r"]{1,4000}"
)
_PCT_SLASH_RE = re.compile(r"(?<![^" + _URL_CHARS_NOT + r"])%2[fF](?=\w)")
# "[IPv6:2001:db8::1]" (e-mail address literal), "ipv6:2001:db8::1"
_IPV6_TAG_RE = re.compile(r"\b[iI][pP][vV]6:(?=[0-9A-Fa-f]{0,4}:)")


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
    return m.group(6)


def _half_sub(m: re.Match[str]) -> str:
    return "/" if m.group(0)[-1] == "/" else DOTMARK


def _scheme_sub(m: re.Match[str]) -> str:
    return "t" if len(m.group(0)) == 1 else "tt"


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
        if "[" in text or "(" in text or "{" in text:
            text = _BRACKET_RE.sub(_bracket_sub, text)
        if _ATMARK in text:
            text = text.replace(" " + _ATMARK + " ", "@").replace(" " + _ATMARK, "@").replace(_ATMARK, "@")
    if "]" in text or ")" in text or "}" in text or "[" in text or "(" in text or "{" in text:
        text = _HALF_RE.sub(_half_sub, text)
    if DOTMARK in text and (" " + DOTMARK in text or DOTMARK + " " in text):
        text = _DOT_BLANKS_RE.sub(DOTMARK, text)
    # every defanged scheme form has a colon (brackets already refanged) or "__" (http__host)
    has_colon = ":" in text
    if has_colon and ("]:" in text or "):" in text or "] :" in text or ") :" in text):
        text = _SCHEME_BRACKETED_RE.sub(r"\1", text)
    if has_colon and ("xxxx" in text or "XXXX" in text or "xX" in text or "Xx" in text):
        text = _SCHEME_XXXX_RE.sub(_scheme_xxxx_sub, text)
    if has_colon or "__" in text or "//" in text:
        if ("xp" in text or "XP" in text or "xP" in text or "Xp" in text or "*p" in text or "*P" in text
                or "0p" in text or "0P" in text):
            text = _SCHEME_RE.sub(_scheme_sub, text)
        if has_colon and ("tx" in text or "tX" in text or "TX" in text or "Tx" in text or "eow" in text
                          or "EOW" in text):
            text = _SCHEME_WORD_RE.sub(_scheme_word_sub, text)
        if "__" in text:
            text = _SCHEME_US_RE.sub("://", text)
        if ("p//" in text or "P//" in text or "s//" in text or "S//" in text or " ://" in text or ": /" in text
                or ":/ /" in text):
            text = _SCHEME_SEP_RE.sub(r"\1://", text)
            has_colon = True
        if has_colon and (":// " in text or ":///" in text):
            text = _SCHEME_GAP_RE.sub("", text)
    if "*." in text:
        text = _WILD_RE.sub("", text)
    if " @" in text or "@ " in text:
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
    return " " + target + " " + label + " "


def _md_link_sub(m: re.Match[str]) -> str:
    label, url = m.group(1).strip(), m.group(2)
    bare = url.split("://", 1)[-1]
    if label in (url, bare) or label.rstrip("/") == bare.rstrip("/"):
        return " " + url + " "
    return " " + label + " " + url + " "


def normalize(text: str) -> str:
    """Refang ``text`` but keep defanged dots as :data:`DOTMARK` (for the extractor)."""
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
    if "](" in text:
        text = _MD_LINK_RE.sub(_md_link_sub, text)
    if "_" in text:
        text = _MD_UNDERSCORE_RE.sub(r"\2", text)
    if "||" in text:
        text = text.replace("||", " ")
    if "%" in text:
        if "%3" in text:
            text = _PCT_URL_RE.sub(_pct_sub, text)
        if "%2" in text:
            text = _PCT_SLASH_RE.sub(" ", text)
    if "6:" in text:
        text = _IPV6_TAG_RE.sub(" ", text)
    return _defang_pass(text)


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
