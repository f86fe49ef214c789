"""STIX patterns for the coalition's indicator types: written with every value escaped, and read back for
the simple forms we accept on import (one comparison `=`, or an `OR` of them, in one or more observations).

Anything else (AND, qualifiers, other operators, paths we have no type for) is refused with a reason; the
importer reports it as skipped. Only `bot.ioc.classify` decides whether a value is valid for its type, so an
imported value is normalized exactly like one typed in chat.
"""

from __future__ import annotations

import re

from bot.ioc import IOCType, Observable, classify
from bot.values import frozen

HASH_NAMES = {IOCType.MD5: "MD5", IOCType.SHA1: "SHA-1", IOCType.SHA256: "SHA-256", IOCType.SHA512: "SHA-512"}
BTC_OBJECT = "x-crypto-wallet"  # no STIX 2.1 SCO for a wallet: a custom (x-) object, which the validator allows


class UnsupportedPattern(ValueError):
    """The pattern is valid STIX perhaps, but not one we turn into an indicator; str() is the reason."""


def escape(value: str) -> str:
    """A STIX pattern string literal's content: backslash and single quote escaped."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def pattern_for(type_: IOCType, value: str) -> str | None:
    """The STIX pattern of one indicator; None for types that are not patternable (CVE)."""
    if type_ is IOCType.IPV4:
        return f"[ipv4-addr:value = '{escape(value)}']"
    if type_ is IOCType.IPV6:
        return f"[ipv6-addr:value = '{escape(value)}']"
    if type_ is IOCType.CIDR:
        return f"[{'ipv6-addr' if ':' in value else 'ipv4-addr'}:value = '{escape(value)}']"
    if type_ is IOCType.DOMAIN:
        return f"[domain-name:value = '{escape(value)}']"
    if type_ is IOCType.URL:
        return f"[url:value = '{escape(value)}']"
    if type_ is IOCType.EMAIL:
        return f"[email-addr:value = '{escape(value)}']"
    if type_ in HASH_NAMES:
        return f"[file:hashes.'{HASH_NAMES[type_]}' = '{escape(value)}']"
    if type_ is IOCType.ASN:
        return f"[autonomous-system:number = {int(value.upper().removeprefix('AS'))}]"
    if type_ is IOCType.BTC:
        return f"[{BTC_OBJECT}:value = '{escape(value)}']"
    return None


# ---------------------------------------------------------------- reading

_HASH_KEYS = {
    "md5": IOCType.MD5, "sha1": IOCType.SHA1, "sha-1": IOCType.SHA1, "sha256": IOCType.SHA256,
    "sha-256": IOCType.SHA256, "sha512": IOCType.SHA512, "sha-512": IOCType.SHA512,
}
_PATHS: dict[str, tuple[IOCType, ...]] = {
    "ipv4-addr:value": (IOCType.IPV4, IOCType.CIDR),
    "ipv6-addr:value": (IOCType.IPV6, IOCType.CIDR),
    "domain-name:value": (IOCType.DOMAIN,),
    "x-opencti-hostname:value": (IOCType.DOMAIN,),
    "hostname:value": (IOCType.DOMAIN,),
    "url:value": (IOCType.URL,),
    "email-addr:value": (IOCType.EMAIL,),
    "email-message:from_ref.value": (IOCType.EMAIL,),
    "email-message:sender_ref.value": (IOCType.EMAIL,),
    "autonomous-system:number": (IOCType.ASN,),
    "x-crypto-wallet:value": (IOCType.BTC,),
    "cryptocurrency-wallet:value": (IOCType.BTC,),
    "x-opencti-cryptocurrency-wallet:value": (IOCType.BTC,),
}

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<lb>\[) | (?P<rb>\]) | (?P<lp>\() | (?P<rp>\)) |
      (?P<str>'(?:[^'\\]|\\.)*') |
      (?P<op>!=|<=|>=|=|<|>) |
      (?P<path>[a-z0-9][a-z0-9-]*:(?:[A-Za-z0-9_\-]+|'[^']*'|"[^"]*"|\[(?:\*|\d+)\]|\.)+) |
      (?P<num>-?\d+(?:\.\d+)?) |
      (?P<word>[A-Za-z_]+) |
      (?P<bad>.)
    )""", re.X)


def _tokens(pattern: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(pattern):
        m = _TOKEN.match(pattern, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup or "bad"
        out.append((kind, m.group(kind)))
    return out


@frozen
class _Comparison:
    path: str
    value: str


def _unescape(literal: str) -> str:
    body = literal[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", r"\1", body)


def _normal_path(path: str) -> tuple[str, IOCType | None]:
    """('file:hashes', MD5) for any spelling of a hash path; (path, None) otherwise."""
    lowered = path.lower()
    if lowered.startswith("file:hashes."):
        key = path[len("file:hashes."):].strip("'\"").lower()
        return "file:hashes", _HASH_KEYS.get(key)
    return lowered, None


# The form nearly every indicator has (ours, MISP's, OpenCTI's): one comparison of a path with a string. Read
# with one regex (the same path and string syntax as the tokens above); anything else takes the token reader.
_SINGLE = re.compile(r"""\[\s*([a-z0-9][a-z0-9-]*:(?:[A-Za-z0-9_\-]+|'[^']*'|"[^"]*"|\[(?:\*|\d+)\]|\.)+)"""
                     r"""\s*=\s*('(?:[^'\\]|\\.)*')\s*\]""")


def parse_pattern(pattern: str) -> list[Observable]:
    """The observables of a simple pattern: `[a = 'x']`, `[a = 'x' OR b = 'y']`, `[..] OR [..]`.

    Raises UnsupportedPattern with the reason for anything else."""
    single = _SINGLE.fullmatch(pattern.strip())
    if single is not None:
        return [_observable(_Comparison(single.group(1), _unescape(single.group(2))))]
    toks = _tokens(pattern.strip())
    if not toks:
        raise UnsupportedPattern("empty pattern")
    comparisons: list[_Comparison] = []
    i, n = 0, len(toks)
    depth_obs = False
    expect = "lb"
    while i < n:
        kind, text = toks[i]
        if kind == "bad":
            raise UnsupportedPattern(f"pattern syntax error near {text!r}")
        if expect == "lb":
            if kind == "lp":
                raise UnsupportedPattern("parenthesized pattern (only simple comparisons and OR are imported)")
            if kind != "lb":
                raise UnsupportedPattern("pattern syntax error: expected '['")
            depth_obs, expect, i = True, "cmp", i + 1
            continue
        if expect == "cmp":
            if kind == "lp":
                raise UnsupportedPattern("parenthesized comparison (only simple comparisons and OR are imported)")
            if kind == "word" and text.upper() == "NOT":
                raise UnsupportedPattern("NOT in pattern")
            if kind != "path" or i + 2 >= n:
                raise UnsupportedPattern("pattern syntax error: expected an object path")
            op_kind, op = toks[i + 1]
            if op_kind == "word":
                raise UnsupportedPattern(f"operator {op.upper()} (only = is imported)")
            if op_kind != "op":
                raise UnsupportedPattern("pattern syntax error: expected an operator")
            if op != "=":
                raise UnsupportedPattern(f"operator {op} (only = is imported)")
            lit_kind, lit = toks[i + 2]
            if lit_kind == "str":
                value = _unescape(lit)
            elif lit_kind == "num":
                value = lit
            elif lit_kind == "word" and lit.lower() in {"h", "b", "t"}:
                raise UnsupportedPattern("binary, hex or timestamp literal")
            else:
                raise UnsupportedPattern("pattern syntax error: expected a literal")
            comparisons.append(_Comparison(text, value))
            expect, i = "after_cmp", i + 3
            continue
        if expect == "after_cmp":
            if kind == "word" and text.upper() == "OR":
                expect, i = "cmp", i + 1
                continue
            if kind == "word" and text.upper() == "AND":
                raise UnsupportedPattern("AND in pattern (only simple comparisons and OR are imported)")
            if kind == "rb":
                depth_obs, expect, i = False, "after_obs", i + 1
                continue
            raise UnsupportedPattern(f"pattern syntax error near {text!r}")
        if expect == "after_obs":
            if kind == "word" and text.upper() == "OR":
                expect, i = "lb", i + 1
                continue
            if kind == "word" and text.upper() in {"AND", "FOLLOWEDBY"}:
                raise UnsupportedPattern(f"{text.upper()} between observations")
            if kind == "word" and text.upper() in {"WITHIN", "REPEATS", "START", "STOP"}:
                raise UnsupportedPattern(f"{text.upper()} qualifier")
            raise UnsupportedPattern(f"pattern syntax error near {text!r}")
    if depth_obs or expect not in {"after_obs"}:
        raise UnsupportedPattern("pattern syntax error: unbalanced brackets")
    return [_observable(c) for c in comparisons]


def _observable(c: _Comparison) -> Observable:
    path, hash_type = _normal_path(c.path)
    if path == "file:hashes":
        if hash_type is None:
            raise UnsupportedPattern(f"hash algorithm in {c.path} (MD5, SHA-1, SHA-256, SHA-512 are imported)")
        allowed: tuple[IOCType, ...] = (hash_type,)
        value = c.value
    else:
        allowed = _PATHS.get(path, ())
        if not allowed:
            raise UnsupportedPattern(f"object path {c.path} (no indicator type for it)")
        value = f"AS{c.value}" if allowed == (IOCType.ASN,) and c.value.isdigit() else c.value
    obs = classify(value.strip())
    if obs is None or obs.type not in allowed:
        raise UnsupportedPattern(f"'{c.value[:80]}' is not a valid {allowed[0].value}")
    return obs
