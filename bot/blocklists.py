"""Blocklists for firewalls, DNS resolvers and IDS (issue 14): what `/feeds/NAME` serves, as plain text.

Each list holds the approved, unexpired indicators an organization's key may see (bot.rules.
organization_visibility: CLEAR, GREEN, AMBER and its own AMBER+STRICT; never RED), of the list's types:

* `ipv4.txt`, `ipv6.txt`: addresses and networks (CIDRs) of that version, one a line (pfSense/OPNsense URL
  table aliases, Suricata's IP reputation after a `,1,100` suffix, iptables ipset restore);
* `domain.txt`, `url.txt`, `sha256.txt`, `md5.txt`: one value a line;
* `all.csv`: `id,type,value,tlp` with a header, every type;
* `rpz.zone`: a DNS Response Policy Zone (RFC draft-vixie-dnsop-dns-rpz) for BIND, Unbound and PowerDNS: each
  domain and its subdomains answered NXDOMAIN (`CNAME .`), each IP and network as an `rpz-ip` trigger.

The values are written as stored (canonical); nothing a member wrote (notes, tags) is in any list.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from bot.domain import ExportFilter, Status
from bot.ioc import IOCType
from bot.tlp import TLP
from bot.values import frozen


@frozen
class Blocklist:
    name: str
    types: tuple[IOCType, ...]
    media_type: str
    version: int | None = None  # 4 or 6: only networks of that IP version


LISTS: dict[str, Blocklist] = {b.name: b for b in (
    Blocklist("ipv4.txt", (IOCType.IPV4, IOCType.CIDR), "text/plain; charset=utf-8", 4),
    Blocklist("ipv6.txt", (IOCType.IPV6, IOCType.CIDR), "text/plain; charset=utf-8", 6),
    Blocklist("domain.txt", (IOCType.DOMAIN,), "text/plain; charset=utf-8"),
    Blocklist("url.txt", (IOCType.URL,), "text/plain; charset=utf-8"),
    Blocklist("sha256.txt", (IOCType.SHA256,), "text/plain; charset=utf-8"),
    Blocklist("md5.txt", (IOCType.MD5,), "text/plain; charset=utf-8"),
    Blocklist("all.csv", (), "text/csv; charset=utf-8"),
    Blocklist("rpz.zone", (IOCType.DOMAIN, IOCType.IPV4, IOCType.IPV6, IOCType.CIDR), "text/dns; charset=utf-8"),
)}


_TLP_BY_RANK = {t.rank: t for t in TLP}
_TLP_NAME_BY_RANK = {t.rank: t.value.lower() for t in TLP}
_CSV_QUOTED = re.compile(r'[,"\n\r]')
_FORMULA = ("=", "+", "-", "@")


def _needs_quoting(values: str) -> bool:
    """Whether `_csv` may change one of these values, joined by NULs (never a miss; a NUL inside a value could
    only make a false alarm, which costs the row-by-row path)."""
    return (_CSV_QUOTED.search(values) is not None or values.startswith(_FORMULA)
            or any("\x00" + c in values for c in _FORMULA))


class FilterError(ValueError):
    """A query parameter a list cannot take; the message says how to write it."""


def parse_filter(blocklist: Blocklist, query: dict[str, str], now: datetime) -> ExportFilter:
    """The list's filter from its query parameters: `type=` (all.csv and rpz.zone), `tag=`, `since=` (a
    timestamp or a duration such as 7d: changed since then)."""
    types = blocklist.types
    if query.get("type"):
        wanted = []
        for name in query["type"].split(","):
            try:
                wanted.append(IOCType(name.strip().lower()))
            except ValueError:
                known = ", ".join(t.value for t in IOCType)
                raise FilterError(f"type: one or more of {known}, separated by commas") from None
        if types and not set(wanted) <= set(types):
            raise FilterError(f"{blocklist.name} holds only {', '.join(t.value for t in types)}")
        types = tuple(wanted)
    tags = tuple(t.strip().lower() for t in query.get("tag", "").split(",") if t.strip())
    if len(tags) > 20 or any(len(t) > 64 for t in tags):
        raise FilterError("tag: at most 20 tags of at most 64 characters, separated by commas")
    since = _since(query["since"], now) if query.get("since") else None
    unknown = set(query) - {"type", "tag", "since", "min_score", "key"}
    if unknown:
        raise FilterError(f"{sorted(unknown)[0][:40]} is not a filter of the lists: type=, tag=, since= or "
                          "min_score=")
    return ExportFilter(statuses=(Status.APPROVED,), types=types, tags=tags, since=since)


def parse_min_score(query: dict[str, str]) -> int | None:
    """`min_score=N` (0-100): only the items whose score (bot.score) is at least N, or None."""
    raw = query.get("min_score")
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and 0 <= int(raw) <= 100):
        raise FilterError("min_score: a whole number from 0 to 100 (see /ioc why #ID for how a score is reached)")
    return int(raw)


def _since(text: str, now: datetime) -> datetime:
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip()
    if text[:-1].isdigit() and text[-1:].lower() in units and len(text) <= 8:
        return now - timedelta(**{units[text[-1].lower()]: int(text[:-1])})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError("since: a duration such as 7d or 24h, or a timestamp such as 2026-11-01T00:00:00Z") \
            from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def etag(org_id: int, blocklist: Blocklist, flt: ExportFilter,
         version: tuple[datetime | None, datetime | None, int], now: datetime, min_score: int | None = None) -> str:
    """A validator of one list as one organization gets it with these filters. It changes whenever the list
    may have: an approval, a revocation, an expiry (swept, or an item's valid_until passing: the next one to come
    is part of it), an edit, a TLP raised out of the organization's sight. Computed over what the organization
    may see only, so nothing it may not see ever changes it. Coarse (a change to one of its items outside this
    list changes it too, costing one download) but never stale. `since=` in durations is read as a time, so such
    a list is revalidated by time too. A `min_score` list changes as scores decay, with nothing stored changing:
    its validator changes every day as well."""
    latest, upcoming, count = version
    horizon = flt.since.isoformat() if flt.since else "-"
    raw = (f"{org_id}|{blocklist.name}|{flt.types}|{flt.tags}|{horizon}|{latest.isoformat() if latest else '-'}|"
           f"{upcoming.isoformat() if upcoming and upcoming > now else '-'}|{count}"
           f"{f'|{min_score}|{now.date().isoformat()}' if min_score is not None else ''}")
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def _version_of(value: str) -> int:
    return 6 if ":" in value else 4


def lines(blocklist: Blocklist, rows: Iterable[tuple[int, str, str, int]]) -> Iterable[str]:
    """The lines of a list for these rows (id, type, value, tlp rank), each ending with a newline."""
    if blocklist.name == "all.csv":
        for row_id, kind, value, rank in rows:
            yield f"{row_id},{kind},{_csv(value)},{_TLP_BY_RANK[rank].value.lower()}\n"
    elif blocklist.name == "rpz.zone":
        for _, kind, value, _ in rows:
            yield from _rpz(kind, value)
    else:
        for _, _, value, _ in rows:
            if blocklist.version is None or _version_of(value) == blocklist.version:
                yield value + "\n"


def text(blocklist: Blocklist, rows: Sequence[tuple[int, str, str, int]]) -> bytes:
    """The lines of a list for a batch of rows (id, type, value, tlp rank), as one encoded string: one join per
    batch (the same lines as `lines`, without a generator step per row)."""
    name = blocklist.name
    if name == "all.csv":
        ranks = _TLP_NAME_BY_RANK
        if _needs_quoting("\x00".join([row[2] for row in rows])):  # one search for the batch
            body = [f"{row_id},{kind},{_csv(value)},{ranks[rank]}" for row_id, kind, value, rank in rows]
        else:  # nothing to quote (the usual case)
            body = [f"{row_id},{kind},{value},{ranks[rank]}" for row_id, kind, value, rank in rows]
    elif name == "rpz.zone":
        return "".join(lines(blocklist, rows)).encode()
    elif blocklist.version is None:
        body = [row[2] for row in rows]
    else:
        v6 = blocklist.version == 6
        body = [row[2] for row in rows if (":" in row[2]) is v6]
    return ("\n".join(body) + "\n").encode() if body else b""


def head(blocklist: Blocklist, org_name: str, latest: datetime | None, now: datetime) -> str:
    """What a list starts with: a CSV header, a zone's SOA and NS, nothing for the text lists (devices read
    every line as a value)."""
    if blocklist.name == "all.csv":
        return "id,type,value,tlp\n"
    if blocklist.name == "rpz.zone":
        serial = int((latest or now).timestamp())
        return (f"; Coalition Bot response policy zone for {_zone_comment(org_name)}\n"
                "$TTL 300\n"
                f"@ IN SOA localhost. hostmaster.localhost. ({serial} 3600 600 86400 300)\n"
                "@ IN NS localhost.\n")
    return ""


def _zone_comment(text: str) -> str:
    return "".join(c if c.isprintable() and c not in ";\n\r" else "?" for c in text)[:100]


def _csv(value: str) -> str:
    if any(c in value for c in ',"\n\r') or value[:1] in "=+-@":
        return '"' + ("'" + value if value[:1] in "=+-@" else value).replace('"', '""') + '"'
    return value


def _rpz(kind: str, value: str) -> Iterable[str]:
    if kind == IOCType.DOMAIN.value:
        yield f"{value} CNAME .\n*.{value} CNAME .\n"
        return
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return
    if network.version == 4:
        octets = str(network.network_address).split(".")
        yield f"{network.prefixlen}.{'.'.join(reversed(octets))}.rpz-ip CNAME .\n"
    else:
        yield f"{network.prefixlen}.{_rpz_v6(network.network_address)}.rpz-ip CNAME .\n"


def _rpz_v6(address: ipaddress.IPv6Address) -> str:
    """An IPv6 address as RPZ writes it: its eight groups reversed, without leading zeros, the longest run of
    zero groups (two or more) written once as `zz`."""
    groups = [format(int(g, 16), "x") for g in address.exploded.split(":")]
    best, run = (0, 0), (0, 0)
    for i, g in enumerate(groups):
        run = (run[0], run[1] + 1) if g == "0" else (i + 1, 0)
        if run[1] > best[1]:
            best = run
    if best[1] >= 2:
        groups = [*groups[:best[0]], "zz", *groups[best[0] + best[1]:]]
    return ".".join(reversed(groups))


__all__ = ["LISTS", "Blocklist", "FilterError", "etag", "head", "lines", "parse_filter", "parse_min_score", "text"]
