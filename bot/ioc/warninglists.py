"""Known-benign values from the MISP warninglists shipped in ``pymispwarninglists`` (offline).

Our own index instead of the package's search: exact-value sets, a host-name suffix walk and
CIDR containment by one dict look-up per prefix length that occurs in the loaded lists. Nothing is
read at import time; :meth:`WarningLists.load` reads the chosen ``list.json`` files once.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.ioc.tlds import is_public_suffix
from bot.ioc.types import IOCType, Observable

log = logging.getLogger(__name__)

#: A sensible default: special-purpose ranges, public resolvers, empty-file and test hashes, and
#: very popular / vendor domains. Large lists (tranco 1M, crux 1M, nioc hashes, VPN ranges,
#: cloud provider ranges) are opt-in through ``include``.
DEFAULT_WARNINGLISTS: tuple[str, ...] = (
    "rfc1918",
    "rfc5735",
    "rfc6598",
    "rfc3849",
    "rfc6761",
    "multicast",
    "ipv6-linklocal",
    "public-dns-v4",
    "public-dns-v6",
    "public-dns-hostname",
    "empty-hashes",
    "eicar.com",
    "common-ioc-false-positive",
    "ti-falsepositives",
    "tranco10k",
    "cisco_top1000",
    "alexa",
    "google",
    "microsoft",
    "microsoft-office365",
    "whats-my-ip",
    "captive-portals",
    "security-provider-blogpost",
    "sinkholes",
)

_HOST_TYPES = frozenset({IOCType.DOMAIN, IOCType.URL, IOCType.EMAIL})
_HASH_TYPES = frozenset({IOCType.MD5, IOCType.SHA1, IOCType.SHA256, IOCType.SHA512})


def _lists_dir() -> Path:
    base = resources.files("pymispwarninglists").joinpath("data", "misp-warninglists", "lists")
    return Path(str(base))


def available_warninglists() -> list[str]:
    """Folder names of every list shipped in the package."""
    return sorted(p.name for p in _lists_dir().iterdir() if (p / "list.json").is_file())


@dataclass
class _NetIndex:
    # prefix length -> {network address as int: [list names]}
    by_len: dict[int, dict[int, list[str]]] = field(default_factory=dict)
    lens: list[int] = field(default_factory=list)

    def add(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network, name: str) -> None:
        bucket = self.by_len.setdefault(net.prefixlen, {})
        names = bucket.setdefault(int(net.network_address), [])
        if name not in names:
            names.append(name)

    def freeze(self, bits: int) -> None:
        self.lens = sorted(self.by_len, reverse=True)
        self._bits = bits

    def match(self, ip: int, prefixlen: int | None = None) -> list[str]:
        out: list[str] = []
        bits = self._bits
        for plen in self.lens:
            if prefixlen is not None and plen > prefixlen:
                continue
            mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
            names = self.by_len[plen].get(ip & mask)
            if names:
                out.extend(n for n in names if n not in out)
        return out


class WarningLists:
    """An index over some MISP warninglists. Build with :meth:`load`; look up with :meth:`match`."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self._human: dict[str, str] = {}
        self._exact: dict[str, list[str]] = {}  # lower-cased value -> list folder names
        self._suffix: dict[str, list[str]] = {}  # host name -> lists matching it and its sub-domains
        self._v4 = _NetIndex()
        self._v6 = _NetIndex()

    @classmethod
    def load(cls, include: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> WarningLists:
        """Load ``include`` (None: :data:`DEFAULT_WARNINGLISTS`) minus ``exclude``; names are the
        MISP list folder names (``public-dns-v4``). Unknown names raise ``ValueError``."""
        wanted = list(DEFAULT_WARNINGLISTS if include is None else include)
        dropped = set(exclude)
        root = _lists_dir()
        self = cls()
        loaded = []
        for name in wanted:
            if name in dropped or name in loaded:
                continue
            path = root / name / "list.json"
            if not path.is_file():
                raise ValueError(f"unknown warninglist {name!r}; see available_warninglists()")
            with path.open("rb") as fh:
                data = json.load(fh)
            self._add_list(name, data)
            loaded.append(name)
        self.names = tuple(loaded)
        self._v4.freeze(32)
        self._v6.freeze(128)
        return self

    def _add_list(self, name: str, data: dict) -> None:
        self._human[name] = str(data.get("name") or name)
        kind = data.get("type", "string")
        for raw in data.get("list", []):
            if not isinstance(raw, str):
                continue
            value = raw.strip().lower()
            if not value:
                continue
            if kind == "cidr" or (kind == "string" and _looks_ip(value)):
                try:
                    net = ipaddress.ip_network(value, strict=False)
                except ValueError:
                    self._put(self._exact, value, name)
                    continue
                (self._v4 if net.version == 4 else self._v6).add(net, name)
            elif kind == "hostname":
                self._put(self._suffix, value.strip(".").rstrip("/"), name)
            elif kind == "string":
                if value.startswith("."):  # ".google.com": the domain and its sub-domains
                    self._put(self._suffix, value.strip("."), name)
                else:
                    self._put(self._exact, value, name)
            # "substring" and "regex" lists are not indexed (slow by nature)

    @staticmethod
    def _put(index: dict[str, list[str]], key: str, name: str) -> None:
        names = index.setdefault(key, [])
        if name not in names:
            names.append(name)

    def _host_names(self, host: str) -> list[str]:
        """Lists matching ``host`` exactly or as a sub-domain of a listed name, without walking up
        past a registrable-domain boundary: once the walk reaches a public suffix (PSL, private
        section included: ``github.io``, ``s3.amazonaws.com``, ``workers.dev``), only an exact match
        of that name counts, so ``evil.github.io`` is not benign because ``github.io`` is listed."""
        out: list[str] = []
        exact = self._exact.get(host)
        if exact:
            out.extend(exact)
        suffix = self._suffix
        names = suffix.get(host)
        if names:
            out.extend(n for n in names if n not in out)
        h = host
        while True:
            dot = h.find(".")
            if dot == -1:
                break
            h = h[dot + 1 :]
            if is_public_suffix(h):
                break
            names = suffix.get(h)
            if names:
                out.extend(n for n in names if n not in out)
        return out

    def _ip_names(self, ip: str) -> list[str]:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return []
        index = self._v4 if addr.version == 4 else self._v6
        out = index.match(int(addr))
        exact = self._exact.get(ip)
        if exact:
            out.extend(n for n in exact if n not in out)
        return out

    def match_names(self, obs: Observable) -> list[str]:
        """Folder names of the lists that contain ``obs``."""
        t, v = obs.type, obs.value
        if t in (IOCType.IPV4, IOCType.IPV6):
            return self._ip_names(v)
        if t is IOCType.CIDR:
            try:
                net = ipaddress.ip_network(v, strict=False)
            except ValueError:
                return []
            index = self._v4 if net.version == 4 else self._v6
            return index.match(int(net.network_address), net.prefixlen)
        if t in _HASH_TYPES:
            return list(self._exact.get(v, ()))
        if t in _HOST_TYPES:
            out = list(self._exact.get(v.lower(), ()))
            host = _host_of(obs)
            if host:
                if host.startswith("["):
                    names = self._ip_names(host[1:-1])
                elif _looks_ip(host):
                    names = self._ip_names(host)
                else:
                    names = self._host_names(host)
                out.extend(n for n in names if n not in out)
            return out
        return list(self._exact.get(v.lower(), ()))

    def match(self, obs: Observable) -> list[str]:
        """Human names (``list.json`` "name") of the lists that contain ``obs``; [] if none."""
        return [self._human[n] for n in self.match_names(obs)]


def _looks_ip(value: str) -> bool:
    head = value.split("/", 1)[0]
    return bool(head) and (head.replace(".", "").isdigit() or (":" in head and "." not in head.strip(":")))


def _host_of(obs: Observable) -> str:
    v = obs.value
    if obs.type is IOCType.DOMAIN:
        return v
    if obs.type is IOCType.EMAIL:
        return v.rpartition("@")[2]
    rest = v.split("://", 1)[1] if "://" in v else v
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1 and i < cut:
            cut = i
    authority = rest[:cut].rpartition("@")[2]
    if authority.startswith("["):
        end = authority.find("]")
        return authority[: end + 1]
    return authority.rsplit(":", 1)[0] if ":" in authority else authority
