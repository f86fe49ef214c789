"""Free-text extraction and single-value classification.

One pass: :func:`bot.ioc.refanging.normalize` (linear), then one ``finditer`` of a master regular
expression whose alternatives each start at a token boundary (a negative look-behind), so the
regex engine does a bounded amount of work per character. Each candidate is then validated and
canonicalized in Python.

To add a type: add a member to :class:`~bot.ioc.types.IOCType`, add an alternative
``(?P<name>...)`` to ``_ALTERNATIVES`` and a handler to ``_HANDLERS``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterator

from bot.ioc.btc import is_btc_address
from bot.ioc.refanging import DOTMARK, normalize
from bot.ioc.tlds import is_known_tld
from bot.ioc.types import IOCType, Observable
from bot.lazy_re import compiled_on_use
from bot.limits import value_problem

_D = r"[.\ue000]"  # a dot, plain or written defanged
_URLC = r"[^\s<>\"'`|\\^{},]"  # characters of a URL (after normalization)

_ALTERNATIVES: list[tuple[str, str]] = [
    ("url", r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,15}+://" + _URLC + r"++"),
    (
        "email",
        r"(?<![\w.%+@/\ue000])(?<![\w.%+@/\ue000]-)\w[\w.%+\-\ue000]{0,63}+@(?:[\w\-]++" + _D + r")+[\w\-]++(?!@)",
    ),
    (
        "ipv4",
        r"(?:(?<![\w.\ue000@/\\])|(?<=[^\d\ue000]\.\.))(?:[0-9]{1,3}" + _D + r"){3}[0-9]{1,3}(?!\w|" + _D + r"\w)"
        r"(?P<ipv4_tail>(?::[0-9]{1,5}(?!\d))?(?:/" + _URLC + r"*)?)",
    ),
    (
        "ipv6",
        r"(?<![\w:.\ue000])(?:[0-9A-Fa-f]{1,4}|(?=::))(?::[0-9A-Fa-f]{0,4}){2,7}"
        r"(?:(?<=[0-9A-Fa-f])(?:" + _D + r"[0-9]{1,3}){3})?(?P<ipv6_cidr>/[0-9]{1,3})?(?![\w:])",
    ),
    (
        "host",
        r"(?<![\w.\ue000@%+/\\])(?<![\w.\ue000]-)(?:\w[\w\-]*+" + _D + r")+[\w\-]++"
        r"(?P<host_tail>(?::[0-9]{1,5}(?!\d))?(?:/" + _URLC + r"*)?)",
    ),
    ("hash", r"(?<![\w\-])[0-9A-Fa-f]{32,128}+(?![\w\-])"),
    ("cve", r"(?<!\w)[Cc][Vv][Ee][\-_ ]?(?P<cve_y>[0-9]{4})[\-_ ](?P<cve_n>[0-9]{4,7})(?!\d)"),
    (
        "asn",
        r"(?<![\w\-])(?:[Aa][Ss][Nn]:?\x20?|AS:?\x20?|[Aa][Ss])(?P<asn_n>[0-9]{1,10})(?!\w|[.\-]\w)",
    ),
    (
        "btc",
        r"(?<![\w\-])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{6,87})(?![\w\-])",
    ),
]

# The shared look-behind/look-ahead make every position inside a word (and every blank) cost one
# or two steps; the alternatives only run where a token can start.
_GUARD = r"(?<!\w)(?=[\w:])(?=[\w\-+%]{0,200}+[.:@\ue000/]|[0-9A-Za-z]{25}|[cC][vV][eE]|[aA][sS])"
_MASTER = compiled_on_use(_GUARD + "(?:" + "|".join(f"(?P<{name}>{pat})" for name, pat in _ALTERNATIVES) + ")")

_HASH_TYPES = {32: IOCType.MD5, 40: IOCType.SHA1, 64: IOCType.SHA256, 128: IOCType.SHA512}

#: TLDs that are also common file extensions: a bare two-label ``name.ext`` on these is taken for a
#: file name unless it was written defanged (``setup[.]py``) or typed as an explicit argument.
FILE_EXT_TLDS = frozenset(
    {"py", "md", "sh", "rs", "so", "zip", "mov", "ps", "pm", "tf", "java", "cab", "one", "pl", "cc", "cs"}
)
#: Names of files that a table or a CSV line lists as files: only a key or a DNS record makes ``setup.py`` a domain.
FILE_STEMS = frozenset({
    "setup", "install", "build", "main", "index", "readme", "config", "test", "tests", "run", "start", "deploy",
    "bootstrap", "manage", "app", "lib", "mod", "init", "__init__", "changelog", "license", "contributing", "todo",
    "notes", "script", "update", "upgrade", "configure", "entrypoint", "docker-entrypoint", "conftest", "utils",
})
#: TLDs that are never a method name: ``evil.ru(`` is a host name glued to a parenthesis, while
#: ``logging.info(`` / ``socket.io(`` / ``window.open(`` are calls.
NOT_METHOD_TLDS = frozenset({"com", "net", "org", "ru", "su", "cn", "xyz", "top", "uk", "de", "fr", "nl", "br", "jp",
                             "kr", "ir", "tk", "ml", "ga", "cf", "gq", "pw", "onion", "biz", "us", "ua", "kz"})
#: First labels that mark program code (``self.name``, ``os.environ``) rather than a host name.
CODE_PREFIXES = frozenset({
    "self", "this", "cls", "args", "kwargs", "obj", "config", "cfg", "settings", "request", "req",
    "response", "resp", "res", "ctx", "os", "sys", "np", "pd", "re", "json", "math", "console",
    "window", "document", "logger", "logging", "log", "event", "err", "error", "data", "result",
    "item", "node", "env", "process", "module", "exports", "model", "options", "opts", "params",
    "props", "state", "app", "user", "msg", "message", "string", "str",
})

_VERSION_BEFORE = compiled_on_use(
    r"(?:\b(?:version|versions|ver|v|build|release|rel|firmware|fw|patch|update|kb|release|rev|"
    r"revision|chrome|firefox|windows|ios|android|python|java|openssl|kernel)\.?\s?:?\s?)$",
    re.IGNORECASE,
)
_TRAIL = ".,;:!?'\"*~" + DOTMARK
_CLOSERS = {")": "(", "]": "[", "}": "{", ">": "<"}


def _strip_trailing(s: str) -> str:
    while s:
        c = s[-1]
        if c in _TRAIL:
            s = s[:-1]
        elif c in _CLOSERS:
            if s.count(c) > s.count(_CLOSERS[c]):
                s = s[:-1]
            else:
                break
        else:
            break
    return s


def _ipv4(s: str) -> str | None:
    parts = s.split(".")
    if len(parts) != 4:
        return None
    out = []
    for p in parts:
        if not p.isdigit() or not p.isascii() or len(p) > 3:
            return None
        n = int(p)
        if n > 255:
            return None
        out.append(str(n))
    return ".".join(out)


def _ipv6(s: str) -> str | None:
    try:
        addr = ipaddress.IPv6Address(s)
    except ValueError:
        return None
    if int(addr) == 0:
        return None
    mapped = addr.ipv4_mapped
    if mapped is not None:  # RFC 5952 section 5: ::ffff:192.0.2.128
        return f"::ffff:{mapped}"
    return addr.compressed


def _to_ascii(host: str) -> str | None:
    if host.isascii():
        return host.lower()
    try:
        import idna

        return idna.encode(host, uts46=True).decode("ascii")
    except Exception:
        try:
            return host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None


def _domain(host: str, *, strict: bool, defanged: bool = False) -> str | None:
    """Canonical domain, or None. ``strict`` adds the free-text heuristics (file names, code)."""
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if len(labels) < 2:
        return None
    if strict and not defanged:
        tld_raw, first = labels[-1], labels[0]
        if len(labels) == 2:
            if tld_raw.lower() in FILE_EXT_TLDS or first.lower() in CODE_PREFIXES:
                return None
            # "it works.It is" -> sentence with a missing space, not a domain
            if tld_raw[:1].isupper() and tld_raw[1:].islower() and not first[:1].isupper():
                return None
        if any("_" in lab for lab in labels[-2:]):
            return None
    ascii_host = _to_ascii(host)
    if ascii_host is None or len(ascii_host) > 253:
        return None
    labels = ascii_host.split(".")
    for lab in labels:
        if not lab or len(lab) > 63 or lab[0] == "-" or lab[-1] == "-":
            return None
    tld = labels[-1]
    if not is_known_tld(tld):
        return None
    return ascii_host


def _host(host: str, *, strict: bool) -> str | None:
    """Canonical host of a URL: domain, IPv4 or bracketed IPv6."""
    if host.startswith("["):
        if not host.endswith("]"):
            return None
        v6 = _ipv6(host[1:-1])
        return f"[{v6}]" if v6 else None
    if host.count(":") > 1:
        v6 = _ipv6(host)
        return f"[{v6}]" if v6 else None
    if host.replace(".", "").isdigit():
        return _ipv4(host)
    return _domain(host, strict=strict)


def _split_authority(rest: str) -> tuple[str, str]:
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1 and i < cut:
            cut = i
    return rest[:cut], rest[cut:]


def _url(raw: str, *, strict: bool) -> str | None:
    scheme, _, rest = raw.partition("://")
    authority, path = _split_authority(rest)
    userinfo = ""
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
        userinfo += "@"
    port = ""
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            return None
        host, port = authority[: end + 1], authority[end + 1 :]
    elif authority.count(":") == 1:
        host, _, p = authority.partition(":")
        port = ":" + p
    else:
        host = authority
    if port and (port[0] != ":" or not (port[1:].isascii() and port[1:].isdigit())):
        if port == ":":
            port = ""
        else:
            return None
    canon = _host(host.replace(DOTMARK, "."), strict=False)
    if canon is None:
        return None
    return f"{scheme.lower()}://{userinfo}{canon}{port}{path.replace(DOTMARK, '.')}"


def _version_context(text: str, start: int) -> bool:
    return bool(_VERSION_BEFORE.search(text, max(0, start - 24), start))


Handler = Callable[[re.Match[str], str, bool], tuple[Observable | None, int]]


_QUERY_COMMA_RE = compiled_on_use(r",[0-9]{1,6}(?:,[0-9]{1,6}){0,8}(?=[^\w.,\ue000]|$)")


def _h_url(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    raw = m.group()
    if text[m.end() : m.end() + 1] == "," and "?" in raw:
        # a comma list of numbers in a query ("?family=Lato:400,700"); a CSV field stays a boundary
        more = _QUERY_COMMA_RE.match(text, m.end())
        if more:
            raw += more.group()
    raw = _strip_trailing(raw)
    value = _url(raw, strict=strict)
    return (Observable(IOCType.URL, value) if value else None), m.start() + len(raw)


def _h_email(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    raw = m.group()
    local, _, dom = raw.rpartition("@")
    if dom[:1].isdigit():
        ip = _ipv4(dom.replace(DOTMARK, "."))
        if ip is not None:  # a@127.0.0.1: not an e-mail address, but the address is an indicator
            return Observable(IOCType.IPV4, ip), m.end()
    local = local.replace(DOTMARK, ".")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None, m.end()
    canon = _domain(dom.replace(DOTMARK, "."), strict=False)
    if canon is None:
        return None, m.end()
    return Observable(IOCType.EMAIL, f"{local.lower()}@{canon}"), m.end()


def _h_ipv4(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    tail = m.group("ipv4_tail")
    core_end = m.end() - len(tail)
    core = text[m.start() : core_end]
    ip = _ipv4(core.replace(DOTMARK, "."))
    if ip is None:
        return None, m.end()
    if strict and DOTMARK not in core and _version_context(text, m.start()):
        return None, m.end()
    tail = _strip_trailing(tail)
    end = core_end + len(tail)
    if not tail:
        return Observable(IOCType.IPV4, ip), end
    if tail[0] == "/" and tail[1:].isascii() and tail[1:].isdigit() and len(tail) <= 3:
        if int(tail[1:]) <= 32:
            return Observable(IOCType.CIDR, f"{ip}{tail}"), end
        return Observable(IOCType.IPV4, ip), core_end
    if "/" in tail:
        return Observable(IOCType.URL, ip + tail.replace(DOTMARK, ".")), end
    return Observable(IOCType.IPV4, ip), end  # ip:port


def _h_ipv6(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    cidr = m.group("ipv6_cidr") or ""
    core = m.group()[: len(m.group()) - len(cidr)].replace(DOTMARK, ".")
    ip = _ipv6(core)
    if ip is None:
        if cidr and core.endswith("::"):
            try:
                ipaddress.IPv6Network(core + cidr, strict=False)
            except ValueError:
                return None, m.end()
            return Observable(IOCType.CIDR, f"{ipaddress.IPv6Address(core).compressed}{cidr}"), m.end()
        return None, m.end()
    if cidr:
        if int(cidr[1:]) > 128:
            return Observable(IOCType.IPV6, ip), m.end() - len(cidr)
        return Observable(IOCType.CIDR, ip + cidr), m.end()
    return Observable(IOCType.IPV6, ip), m.end()


def _h_host(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    tail = m.group("host_tail")
    core_end = m.end() - len(tail)
    core = text[m.start() : core_end]
    if len(core) > 253:
        return None, m.end()
    defanged = DOTMARK in core
    host = core.replace(DOTMARK, ".")
    labels = host.split(".")
    if all(lab.isdigit() for lab in labels):
        return None, m.end()  # version numbers, dates, octets over 255
    tail = _strip_trailing(tail)
    after = text[core_end : core_end + 1]
    if strict and not defanged:
        if not tail and after == "(" and labels[-1].lower() not in NOT_METHOD_TLDS:
            return None, m.end()  # function call: logging.info(
        if _version_context(text, m.start()) and any(c.isdigit() for c in host):
            return None, m.end()
    # a path makes a file-extension TLD a host: docs.rs/serde, invoice.zip/pay; so does a context that says
    # domain (a table cell, a CSV field, a DNS record, a "domain:"/"host:" key)
    named = defanged or "/" in tail
    if (strict and not named and len(labels) == 2 and labels[1].lower() in FILE_EXT_TLDS
            and "_" not in host and labels[0].lower() not in CODE_PREFIXES
            and _domain_context(text, m.start(), core_end)):
        named = True
    canon = _domain(host, strict=strict, defanged=named)
    if canon is None:
        return None, m.end()
    end = core_end + len(tail)
    if tail and "/" in tail:
        return Observable(IOCType.URL, canon + tail.replace(DOTMARK, ".")), end
    return Observable(IOCType.DOMAIN, canon), end


# What says "this bare name.ext is a domain", read around a two-label name on a file-extension TLD only.
_DOMAIN_KEY_RE = compiled_on_use(
    r"\b(?:domains?|hosts?|hostname|fqdn|dns|qname|query|rrname|sni|server_name|c2|cnc)[\"']?\x20{0,3}[:=]"
    r"\x20{0,3}[\"']?$",
    re.IGNORECASE,
)
_DNS_AFTER_RE = compiled_on_use(
    r"\.?[\x20\t]{1,8}(?:[0-9]{1,10}[\x20\t]{1,8})?(?:IN[\x20\t]{1,8})?"
    r"(?:A|AAAA|CNAME|MX|NS|TXT|SOA|PTR|SRV|CAA|DNAME|HTTPS|SVCB)(?![\w.])"
)
_DNS_BEFORE_RE = compiled_on_use(
    r"\b(?:CNAME|NS|PTR|DNAME|MX[\x20\t]{1,4}[0-9]{1,5}|SRV(?:[\x20\t]{1,4}[0-9]{1,5}){3})[\x20\t]{1,8}$"
)


def _domain_context(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (``evil.sh``) stands where a domain stands: a pipe-table cell, a CSV/TSV
    field glued to its separator, a DNS record, after a ``domain:``/``host:``/``"fqdn": "`` key."""
    before = text[max(0, start - 40) : start]
    after = text[end : end + 40]
    if _DOMAIN_KEY_RE.search(before) or _DNS_AFTER_RE.match(after) or _DNS_BEFORE_RE.search(before):
        return True
    if text[start:end].partition(".")[0].lower() in FILE_STEMS:
        return False  # "| setup.py | 12 |", "setup.py,install.sh": a table or a list of files
    # CSV/TSV: "evil.pl,1.2.3.4", "1.2.3.4;evil.pl", '"evil.pl","x"', "evil.rs<TAB>1.2.3.4": a separator glued to
    # the field with another field right behind it (not "setup.py, then", not an indented line)
    lead = before[:-1] if before[-1:] in "\"'" and before[-1:] else before
    trail = after[1:] if after[:1] in "\"'" and after[:1] else after
    if lead[-1:] and lead[-1:] in ",;\t" and lead[-2:-1] not in ("", " ", "\t", "\n"):
        return True
    if trail[:1] and trail[:1] in ",;\t" and trail[1:2] not in ("", " ", "\t", "\n"):
        return True
    # a pipe-table cell: "| evil.pl |", "evil.pl | 1.2.3.4 |" (a line with two pipes or more)
    left = before.rstrip(" \t")[-1:]
    right = after.lstrip(" \t")[:1]
    if "|" not in (left, right) or left not in ("|", "", "\n") or right not in ("|", "", "\n"):
        return False
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return text.count("|", line_start, len(text) if line_end == -1 else line_end) >= 2


def _h_hash(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    raw = m.group()
    t = _HASH_TYPES.get(len(raw))
    if t is None:
        return None, m.end()
    low = raw.lower()
    if strict and low.isdigit():
        return None, m.end()  # a long decimal number (ID, phone, timestamp), not a digest
    return Observable(t, low), m.end()


def _h_cve(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    year, num = m.group("cve_y"), m.group("cve_n")
    if not 1900 <= int(year) <= 2999:
        return None, m.end()
    return Observable(IOCType.CVE, f"CVE-{year}-{num}"), m.end()


def _h_asn(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    n = int(m.group("asn_n"))
    if not 0 < n < 4294967296:
        return None, m.end()
    return Observable(IOCType.ASN, f"AS{n}"), m.end()


def _h_btc(m: re.Match[str], text: str, strict: bool) -> tuple[Observable | None, int]:
    raw = m.group()
    if not is_btc_address(raw):
        return None, m.end()
    value = raw.lower() if raw[:3].lower() == "bc1" else raw
    return Observable(IOCType.BTC, value), m.end()


_HANDLERS: dict[str, Handler] = {
    "url": _h_url,
    "email": _h_email,
    "ipv4": _h_ipv4,
    "ipv6": _h_ipv6,
    "host": _h_host,
    "hash": _h_hash,
    "cve": _h_cve,
    "asn": _h_asn,
    "btc": _h_btc,
}


_SCHEMES_INSIDE = {"http", "https", "ftp", "ftps", "sftp"}  # a URL named inside another (a redirect target)
_FROM_SEGMENTS = {IOCType.DOMAIN, IOCType.IPV4, IOCType.IPV6, IOCType.EMAIL}
_SEGMENT_SLASH = compiled_on_use(r"(?<![:/])/(?!/)")  # a path's slashes, not those of a nested "scheme://"


def _scan(norm: str, *, strict: bool = True, inside_url: bool = False) -> Iterator[tuple[Observable, int, int]]:
    handlers = _HANDLERS
    for m in _MASTER.finditer(norm):
        obs, end = handlers[m.lastgroup](m, norm, strict)  # type: ignore[index]
        if obs is None:
            continue
        yield obs, m.start(), end
        if obs.type is IOCType.URL and not inside_url:
            # what a URL's path and query name (a hash on a sandbox page, a domain in a report URL, a redirect
            # target) is reported too; its host is not. One level deep, so the scan stays linear.
            raw = norm[m.start():end]
            after = raw.find("://")
            path = _PATH_START_RE.search(raw, after + 3 if after != -1 else 0)
            start = m.start() + (path.start() if path else len(raw))
            inside = norm[start:end]
            if _path_holds_nothing(inside):
                continue
            for inner, s, e in _scan(inside, strict=strict, inside_url=True):
                if inner.type is not IOCType.URL or inner.value.partition("://")[0] in _SCHEMES_INSIDE:
                    yield inner, start + s, start + e
            # path segments (/report/evil.com/, /ip/1.2.3.4/) name hosts too
            for inner, s, e in _scan(_SEGMENT_SLASH.sub(" ", inside), strict=strict, inside_url=True):
                if inner.type in _FROM_SEGMENTS:
                    yield inner, start + s, start + e


_PATH_START_RE = compiled_on_use(r"[/?#]")
_PATH_LABEL_RE = compiled_on_use(r"\.([^\W_][\w\-]*)")


def _path_holds_nothing(path: str) -> bool:
    """Whether a URL's path and query cannot name an indicator: no sign of one (see :func:`_nothing_to_find`),
    where a dot counts only before a label that can end a host (a TLD or a number): "/a/b/login.php?id=3" holds
    nothing, so the two scans of what a URL names are skipped for most URLs."""
    if not path.isascii():
        return False
    if "." in path:
        for label in _PATH_LABEL_RE.findall(path):
            if label.isdigit() or is_known_tld(label.lower()):
                return False
        path = path.replace(".", " ")
    return _nothing_to_find(path)


# Cheap pre-filter: what an indicator needs, not any digit or bracket (a chat line "[09:14] <nick> ..." has
# both and, most of the time, no indicator). After normalization every indicator is one of:
# * a name or an address with a dot (domain, URL, e-mail, IPv4, CIDR; a URL's host is one of these or IPv6):
#   written as a dot glued to what follows ("evil.com", "1.2.3.]]]4", "evil[.]com"), a bracket or a
#   backslash before a blank dot ("evil ( . ) com", "evil \\. com"), or a word/bracket form ("dot", "d0t",
#   "punto", "[,]", "%2E");
# * an IPv6 address: "::" (also "[::]"), a bracketed colon ("2001[:]db8"), or seven colons;
# * a hash or a Base58 BTC address: a run of 26 or more letters and digits (one bytes.translate and one
#   substring test); a bech32 address starts with "bc1";
# * a CVE ("cve") or an ASN ("as"/"asn", maybe ":" and a blank, then a digit).
# An ASCII message with none of these holds no indicator and skips normalization and scanning (most chat
# lines): substring tests and at most a few short regex searches. Non-ASCII text (full-width dots, zero-width
# characters) always goes through.
_DOT_SIGN_RE = compiled_on_use(r"\.[^\s]|[\[({\\]\x20{0,3}\.")
# one per bracket: literal starts
_BRACKET_SIGNS = tuple(compiled_on_use(re.escape(b) + r"\x20{0,3}[,:]") for b in "[({")
_ASN_SIGN_RE = compiled_on_use(r"asn?:?\x20?[0-9]")
_ALNUM_TABLE = bytes(0x78 if chr(i).isascii() and chr(i).isalnum() else 0x20 for i in range(256))
_ALNUM_RUN = b"x" * 26


def _nothing_to_find(text: str) -> bool:
    if not text.isascii():
        return False
    if "." in text and _DOT_SIGN_RE.search(text):
        return False
    if ":" in text and ("::" in text or text.count(":") >= 7):
        return False
    for bracket, sign in zip("[({", _BRACKET_SIGNS, strict=True):
        if bracket in text and sign.search(text):
            return False
    low = text.lower()
    if "dot" in low or "d0t" in low or "pun" in low or "pont" in low or "rroba" in low or "%2e" in low:
        return False
    if "cve" in low or "bc1" in low or ("as" in low and _ASN_SIGN_RE.search(low)):
        return False
    return len(text) < 26 or _ALNUM_RUN not in text.encode("ascii").translate(_ALNUM_TABLE)


# The same signs as _nothing_to_find, for RE2 over the UTF-8 bytes of a whole document (read as Latin-1, so any
# non-ASCII byte is a sign): one match per line that has one, the whole line. RE2 scans in linear time without
# a Python call per line; a line RE2 keeps that _nothing_to_find would skip (a vertical tab is not a blank to
# RE2) only costs time.
_SIGN_LINE_RE2 = (
    rb"[^\n]*(?:\.[^\s]|[\[({\\] {0,3}\.|::|[\[({] {0,3}[,:]|(?i:dot|d0t|pun|pont|rroba|%2e|cve|bc1|asn?:? ?[0-9])"
    rb"|[0-9A-Za-z]{26}|[\x80-\xff]|(?::[^\n:]*){6}:)[^\n]*"
)
#: Documents from this size on are filtered with RE2 (below it, the Python loop costs less than RE2's calls).
_RE2_FROM = 64 * 1024


@functools.cache
def _sign_lines():  # type: ignore[no-untyped-def]
    import re2

    options = re2.Options()
    options.encoding = re2.Options.Encoding.LATIN1
    return re2.compile(_SIGN_LINE_RE2, options)


def _lines_worth_reading(text: str) -> str:
    """``text`` without the lines that hold no indicator (see :func:`_nothing_to_find`), so a long document or a
    pasted log pays the refang and the scan only for its lines with indicators. What is found is the same:
    nothing the engine reads crosses a line break except the "version" look-back before an address, so a
    skipped line that ends in a version word is kept in front of the line after it."""
    if len(text) >= _RE2_FROM:
        return _lines_worth_reading_re2(text)
    return _lines_worth_reading_py(text)


def _lines_worth_reading_py(text: str) -> str:
    lines = text.split("\n")
    keep = [not _nothing_to_find(line) for line in lines]
    if all(keep):
        return text
    out: list[str] = []
    prev = ""
    for line, kept in zip(lines, keep, strict=True):
        if kept:
            if prev and _VERSION_BEFORE.search(prev[-24:] + "\n"):
                out.append(prev)
            out.append(line)
            prev = ""
        else:
            prev = line
    return "\n".join(out)


def _lines_worth_reading_re2(text: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    out: list[bytes] = []
    done = 0  # where the last kept line ended
    for m in _sign_lines().finditer(data):
        start, end = m.span()  # a slice of `data` costs less than the match's group()
        if start > done + 1:  # a skipped line right before this one: its end may be a version word
            prev_start = data.rfind(b"\n", 0, start - 1) + 1
            tail = data[max(prev_start, start - 25) : start - 1].decode("ascii", "replace")
            if _VERSION_BEFORE.search(tail + "\n"):
                out.append(data[prev_start : start - 1])
        out.append(data[start:end])
        done = end
    kept = b"\n".join(out)
    return text if len(kept) == len(data) else kept.decode("utf-8", "surrogatepass")


Rejected = list[tuple[Observable, str]]


def _storable(obs: Observable, rejected: Rejected | None) -> bool:
    """Never hand out a value the store cannot keep (over its type's limit, a NUL, a lone surrogate):
    it is left out, and reported in `rejected` (value, why) when the caller asks."""
    problem = value_problem(obs.type, obs.value)
    if problem is None:
        return True
    if rejected is not None and all(seen != obs for seen, _ in rejected):
        rejected.append((obs, problem))
    return False


def extract(text: str, *, rejected: Rejected | None = None) -> list[Observable]:
    """Every indicator in a chat message: canonical, de-duplicated, in order of first appearance.

    Values the store cannot keep (see :mod:`bot.limits`: a URL over 2,048 characters...) are left out and,
    when ``rejected`` is a list, appended to it with the reason."""
    if not text:
        return []
    if "\n" in text:
        text = _lines_worth_reading(text)
        if not text:
            return []
    elif _nothing_to_find(text):
        return []
    seen: dict[Observable, None] = {}
    for obs, _, _ in _scan(normalize(text)):
        if obs not in seen and _storable(obs, rejected):
            seen[obs] = None
    return list(seen)


def extract_grouped(text: str) -> dict[str, list[str]]:
    """``{type name: [values...]}`` in the order of :class:`IOCType`; types without values left out."""
    found = extract(text)
    out: dict[str, list[str]] = {}
    for t in IOCType:
        vals = [o.value for o in found if o.type is t]
        if vals:
            out[t.value] = vals
    return out


_WRAPPERS = "\"'`<>()[]{}*_~|,;"
_PREFIX_RE = compiled_on_use(
    r"^(?:md5|sha1|sha256|sha512|sha-1|sha-256|sha-512|hash|ip|ipv4|ipv6|url|domain|email)[:=]", re.IGNORECASE)


def classify(token: str, *, rejected: Rejected | None = None) -> Observable | None:
    """Type and canonicalize one value typed as an explicit argument, or None.

    More permissive than free text: no file-name/code/version heuristics (``evil.zip`` is a domain
    here), surrounding quotes/brackets are ignored. A bare number is not an ASN. A value the store cannot
    keep is None too, and appended to ``rejected`` (value, why) when given.
    """
    if not token:
        return None
    norm = normalize(token.strip()).strip()
    for cand in (norm, norm.strip(_WRAPPERS).strip()):
        obs = _classify_one(_PREFIX_RE.sub("", cand).strip())
        if obs is not None:
            return obs if _storable(obs, rejected) else None
    return None


def _classify_one(norm: str) -> Observable | None:
    if not norm:
        return None
    found = list(_scan(norm, strict=False, inside_url=True))  # one value: what its URL names is not another
    if len(found) != 1:
        return None
    obs, start, end = found[0]
    if start != 0:
        return None
    rest = norm[end:]
    if rest and _strip_trailing(rest) != "":
        return None
    return obs
