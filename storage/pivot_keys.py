"""The indexed forms that make pivots range queries on both backends (issue 12, migration 0010).

* `net_first`, `net_last`: the first and last address of an IP, a CIDR, or the IP a URL is on, as fixed-width
  sortable text: the IP version, then the address in zero-padded lower-case hex (`4c6336400` is 198.51.100.0,
  `6` and 32 hex digits for IPv6). Within one version every key has the same width, so text order is address
  order, and the version digit keeps IPv4 and IPv6 apart. "Inside N" is one index range scan
  (`net_first BETWEEN first(N) AND last(N)`); "the CIDRs containing N" is at most 33 (IPv4) or 129 (IPv6)
  index probes, one per shorter prefix (`net_first IN (mask(N, L)...) AND net_last >= last(N)`), since
  networks are aligned: a CIDR whose first address is a mask of N and whose last is past N's contains N.
* `host_rev`: the host of a domain, URL or e-mail address reversed by labels, each label followed by a dot
  (`example.northbank.login.` for `login.northbank.example`), so that "this domain and everything under it" is
  the one index range `[R, R without its last dot + "/")` ('/' follows '.' in ASCII): every key that starts with
  `example.northbank.`, and not `example.northbank-login.`.

Why text and not PostgreSQL's `inet`: one representation and one set of queries on SQLite and PostgreSQL (the
same SQL is tested on both), and B-tree equality and range probes are as selective as a GiST `inet_ops` index
for these questions (containment is a handful of exact probes, inclusion one range). Both columns are
compared bytewise (COLLATE "C" on PostgreSQL, SQLite's BINARY), whatever the database's locale.

How hosts and networks are read is bot.watch_index's (the watches match the same way).
"""

from __future__ import annotations

import ipaddress

from bot.ioc.types import IOCType
from bot.watch_index import Subject, _host_of, _network_of

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NET_KEY_LENGTH = 33  # "6" and 32 hex digits
HOST_KEY_LENGTH = 300  # a DNS name is at most 253 characters; a longer "host" is not indexed
_WIDTH = {4: 8, 6: 32}
_NETWORK_TYPES = frozenset({IOCType.IPV4, IOCType.IPV6, IOCType.CIDR, IOCType.URL})
_HOST_TYPES = frozenset({IOCType.DOMAIN, IOCType.URL, IOCType.EMAIL})


def address_key(version: int, address: int) -> str:
    return f"{version}{address:0{_WIDTH[version]}x}"


def network_keys(network: Network) -> tuple[str, str]:
    """(first, last) of a network."""
    v = network.version
    return address_key(v, int(network.network_address)), address_key(v, int(network.broadcast_address))


def supernet_firsts(network: Network) -> list[str]:
    """The first address of every network that contains this one (itself included), one per prefix length."""
    bits, first = network.max_prefixlen, int(network.network_address)
    return sorted({address_key(network.version, first & (((1 << length) - 1) << (bits - length)))
                   for length in range(network.prefixlen + 1)})


def reversed_host(host: str) -> str:
    """`login.northbank.example` -> `example.northbank.login.`"""
    return "".join(label + "." for label in reversed(host.rstrip(".").lower().split(".")))


def under_range(rev: str) -> tuple[str, str]:
    """[low, high): the keys of the host `rev` is the key of, and of every host under it."""
    return rev, rev[:-1] + "/"


def parent_keys(rev: str) -> list[str]:
    """The keys of the domains above this host (`example.`, `example.northbank.` for `login.northbank.example`)."""
    labels = rev.split(".")[:-1]
    return ["".join(label + "." for label in labels[:k]) for k in range(1, len(labels))]


def parse_network(text: str) -> Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def network_of(type_: IOCType | str, value: str) -> Network | None:
    """The network an indicator is on: an IP (a /32 or /128), a CIDR, or the IP a URL's host is."""
    type_ = IOCType(type_)
    if type_ not in _NETWORK_TYPES:
        return None
    return _network_of(Subject(type_, value))


def host_of(type_: IOCType | str, value: str) -> str | None:
    """The DNS name of a domain, of a URL's host, of an e-mail address's domain (None for a URL on an IP)."""
    type_ = IOCType(type_)
    if type_ not in _HOST_TYPES or (type_ is IOCType.URL and network_of(type_, value) is not None):
        return None
    host = _host_of(Subject(type_, value))
    return host.rstrip(".").lower() if host else None


def pivot_keys(type_: IOCType | str, value: str) -> tuple[str | None, str | None, str | None]:
    """(net_first, net_last, host_rev) of an indicator; None where it has none."""
    network = network_of(type_, value)
    first, last = network_keys(network) if network is not None else (None, None)
    host = host_of(type_, value)
    host_rev = reversed_host(host) if host else None
    if host_rev is not None and (len(host_rev) > HOST_KEY_LENGTH or host_rev == "."):
        host_rev = None
    return first, last, host_rev


__all__ = ["HOST_KEY_LENGTH", "NET_KEY_LENGTH", "Network", "address_key", "host_of", "network_keys",
           "network_of", "parent_keys", "parse_network", "pivot_keys", "reversed_host", "supernet_firsts",
           "under_range"]
