"""Which watches an indicator matches (issue 12): the pure part of "tell me when something concerns me".

A watch names what concerns its owner: a network (an IP or a CIDR), a domain (and everything under it), a brand
word (and its lookalikes), or a tag, a malware family or an indicator type, each optionally limited to one
organization's items. `WatchIndex` answers, for one indicator, the ids of every watch it matches, in a few
microseconds however many watches there are:

* networks: one dict per prefix length (an IP is masked once per length in use, so a lookup costs at most 33
  (IPv4) or 129 (IPv6) dict probes, usually a handful), plus the networks' sorted starts for a CIDR indicator,
  which also matches the watches inside it (two bisections);
* domains: the indicator's host and each of its parent domains probed in one dict (a reversed-label walk),
  for a domain, the host of a URL and the domain of an e-mail address;
* brand words: one Aho-Corasick automaton (pyahocorasick) over the brand words' skeletons, run over the host's
  skeleton: Unicode confusables folded to the Latin letters they imitate (confusable-homoglyphs' table, after
  decoding `xn--` labels), digits read as the letters they stand for (`n0rthbank`), `rn` as `m`, `vv` as `w`, and
  the hyphens and dots dropped, so `secure-northbank`, `northbank-login`, `n0rthbank` and `nоrthbank` (Cyrillic о)
  all contain `northbank`;
* tags, malware families and types: one dict each.

Who may see what is not decided here: the caller matches only what the watcher may see (bot.rules).
"""

from __future__ import annotations

import bisect
import contextlib
import enum
import functools
import ipaddress
from collections.abc import Iterable, Iterator
from datetime import datetime

from bot.context import ContextError, malware_name
from bot.ioc.types import IOCType
from bot.values import frozen

MIN_BRAND = 4  # shorter words would match half the internet


class WatchKind(enum.StrEnum):
    NETWORK = "network"
    DOMAIN = "domain"
    BRAND = "brand"
    TAG = "tag"
    MALWARE = "malware"
    TYPE = "type"


@frozen(slots=True)
class WatchTarget:
    """What one watch looks for, canonical: `198.51.100.0/24`, `northbank.example`, `northbank`, `phishing`,
    `emotet`, `url`. `org` limits it to that organization's items (compared case-insensitively)."""

    kind: WatchKind
    value: str
    org: str | None = None

    def __str__(self) -> str:
        shown = self.value if self.kind in (WatchKind.NETWORK, WatchKind.DOMAIN) else f"{self.kind}:{self.value}"
        return f"{shown} org:{self.org}" if self.org else shown


@frozen(slots=True)
class Subject:
    """An indicator as the matcher sees it."""

    type: IOCType
    value: str
    tags: tuple[str, ...] = ()
    malware: str | None = None
    org: str | None = None  # the submitting organization's name, None when anonymous to the watcher


@frozen(slots=True)
class Watch:
    """A member's watch: its target, the note they gave it, and how they are told. A channel watch (set by a
    moderator or an admin) alerts that channel, within its ceiling, instead of its owner."""

    id: int
    member_id: int
    target: WatchTarget
    note: str = ""
    channel: tuple[str, str, str] | None = None  # (platform, workspace id, channel id) of a channel watch
    digest: bool = False  # one message a day instead of an alert each time
    include_own: bool = False  # `self:on`: the owner's own organization's items alert them too
    created_at: datetime | None = None
    digested_at: datetime | None = None  # a digest watch: when its last day was summed up

    @property
    def ref(self) -> str:
        return f"W{self.id}"


class TargetError(ValueError):
    """A watch target that cannot be watched; the message says how to write one."""


HOW = ("a watch target is an IP or a CIDR (198.51.100.0/24), a domain (northbank.example), brand:WORD, tag:TAG, "
       "malware:NAME or type:TYPE")


def parse_target(text: str, org: str | None = None) -> WatchTarget:
    """A watch target from what a member typed, or a TargetError saying how to write one."""
    raw = text.strip()
    shown = raw if len(raw) <= 60 else raw[:59] + "…"
    org = org.strip() if org and org.strip() else None
    prefix, sep, rest = raw.partition(":")
    kind = prefix.casefold()
    if sep and kind in {"brand", "tag", "malware", "type"}:
        word = rest.strip().casefold()
        if not word:
            raise TargetError(f"`{shown}` names no {kind}: {HOW}")
        if kind == "brand":
            if not (word.isascii() and word.replace("-", "").isalnum()):
                raise TargetError(f"a brand is one word of letters and digits (brand:northbank), not `{shown}`")
            if len(skeleton(word)) < MIN_BRAND:
                raise TargetError(f"brand:{word} is too short to watch: at least {MIN_BRAND} letters")
            return WatchTarget(WatchKind.BRAND, word, org)
        if kind == "type":
            try:
                return WatchTarget(WatchKind.TYPE, IOCType(word).value, org)
            except ValueError:
                known = ", ".join(t.value for t in IOCType)
                raise TargetError(f"`{shown}` is not an indicator type; one of: {known}") from None
        if kind == "malware":  # one family however written (bot.context.malware_name): Cobalt-Strike, cobalt_strike
            try:
                word = malware_name(word)
            except ContextError as e:
                raise TargetError(str(e)) from None
        return WatchTarget(WatchKind(kind), word, org)
    from bot.ioc import classify  # the engine, only when a watch names a value

    found = classify(raw)
    if found is not None and found.type in (IOCType.IPV4, IOCType.IPV6, IOCType.CIDR):
        network = ipaddress.ip_network(found.value, strict=False)
        return WatchTarget(WatchKind.NETWORK, network.compressed, org)
    if found is not None and found.type is IOCType.DOMAIN:
        return WatchTarget(WatchKind.DOMAIN, found.value, org)
    raise TargetError(f"`{shown}` is not something to watch: {HOW}")


# ---------------------------------------------------------------- lookalikes

_LEET = str.maketrans({"0": "o", "1": "l", "i": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "-": None, ".": None, "_": None})


@functools.cache
def _homoglyphs() -> dict[int, str]:
    """Every Unicode character that imitates one ASCII letter or digit, mapped to it (Unicode's confusables,
    as confusable-homoglyphs ships them)."""
    from confusable_homoglyphs import confusables

    table: dict[int, str] = {}
    for char, glyphs in confusables.confusables_data.items():
        if len(char) != 1 or char.isascii():
            continue
        ascii_ = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii() and g["c"].isalnum()]
        if ascii_:
            table[ord(char)] = ascii_[0].lower()
    return table


def _unicode_host(host: str) -> str:
    if "xn--" not in host:
        return host
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError, ValueError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


def skeleton(text: str) -> str:
    """What a name looks like, folded: homoglyphs to the letters they imitate, digits to the letters they stand
    for, `rn` to `m`, `vv` to `w`, without hyphens or dots."""
    folded = _unicode_host(text.casefold())
    if not folded.isascii():
        folded = folded.translate(_homoglyphs()).casefold()
    return folded.translate(_LEET).replace("rn", "m").replace("vv", "w")


# ---------------------------------------------------------------- the index

def _host_of(subject: Subject) -> str | None:
    if subject.type is IOCType.DOMAIN:
        return subject.value
    if subject.type is IOCType.EMAIL:
        return subject.value.rpartition("@")[2]
    if subject.type is IOCType.URL:
        rest = subject.value.partition("://")[2] or subject.value
        authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
        if authority.startswith("["):
            return authority[1:].partition("]")[0]
        return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    return None


def _network_of(subject: Subject) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    value = subject.value
    if subject.type is IOCType.URL:
        value = _host_of(subject) or ""
    elif subject.type not in (IOCType.IPV4, IOCType.IPV6, IOCType.CIDR):
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


class _Networks:
    """Networks of one IP version: per prefix length, network address -> watch ids; and every network's
    (first address, last address, id) sorted, for the networks inside a CIDR."""

    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.by_length: dict[int, dict[int, list[int]]] = {}
        self.ranges: list[tuple[int, int, int]] = []
        self.sorted = True
        self.lengths: list[int] = []

    def add(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network, watch_id: int) -> None:
        first = int(network.network_address)
        self.by_length.setdefault(network.prefixlen, {}).setdefault(first, []).append(watch_id)
        self.ranges.append((first, int(network.broadcast_address), watch_id))
        self.sorted = False  # sorted when next needed: building 100,000 watches stays linear
        if network.prefixlen not in self.lengths:
            self.lengths = sorted(self.by_length)

    def remove(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network, watch_id: int) -> None:
        first = int(network.network_address)
        ids = self.by_length.get(network.prefixlen, {}).get(first, [])
        if watch_id in ids:
            ids.remove(watch_id)
        self.ranges.remove((first, int(network.broadcast_address), watch_id))

    def overlapping(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Iterator[int]:
        first, length, bits = int(network.network_address), network.prefixlen, self.bits
        for watched in self.lengths:  # the watched networks that contain it
            if watched > length:
                break
            mask = ((1 << watched) - 1) << (bits - watched) if watched else 0
            yield from self.by_length[watched].get(first & mask, ())
        if length < bits:  # the watched networks inside it (a CIDR indicator)
            if not self.sorted:
                self.ranges.sort()
                self.sorted = True
            last = int(network.broadcast_address)
            at = bisect.bisect_left(self.ranges, (first, -1, -1))
            while at < len(self.ranges) and self.ranges[at][0] <= last:
                start, end, watch_id = self.ranges[at]
                if end <= last and (end - start) < (last - first):
                    yield watch_id
                at += 1


class WatchIndex:
    """Every watch, indexed by kind; `match` gives the ids of the watches an indicator matches."""

    def __init__(self, watches: Iterable[tuple[int, WatchTarget]] = ()) -> None:
        self.targets: dict[int, WatchTarget] = {}
        self._networks = {4: _Networks(32), 6: _Networks(128)}
        self._domains: dict[str, list[int]] = {}
        self._words: dict[tuple[WatchKind, str], list[int]] = {}
        self._brands: dict[str, list[int]] = {}
        self._automaton: object | None = None
        self._limited: set[int] = set()  # the watches limited to one organization's items
        for watch_id, target in watches:
            self.add(watch_id, target)

    def __len__(self) -> int:
        return len(self.targets)

    def add(self, watch_id: int, target: WatchTarget) -> None:
        if watch_id in self.targets:
            self.remove(watch_id)
        self.targets[watch_id] = target
        if target.org:
            self._limited.add(watch_id)
        if target.kind is WatchKind.NETWORK:
            network = ipaddress.ip_network(target.value)
            self._networks[network.version].add(network, watch_id)
        elif target.kind is WatchKind.DOMAIN:
            self._domains.setdefault(target.value, []).append(watch_id)
        elif target.kind is WatchKind.BRAND:
            self._brands.setdefault(skeleton(target.value), []).append(watch_id)
            self._automaton = None
        else:
            self._words.setdefault((target.kind, target.value), []).append(watch_id)

    def remove(self, watch_id: int) -> None:
        target = self.targets.pop(watch_id, None)
        if target is None:
            return
        self._limited.discard(watch_id)
        if target.kind is WatchKind.NETWORK:
            network = ipaddress.ip_network(target.value)
            self._networks[network.version].remove(network, watch_id)
            return
        if target.kind is WatchKind.BRAND:
            bucket, key = self._brands, skeleton(target.value)
            self._automaton = None
        elif target.kind is WatchKind.DOMAIN:
            bucket, key = self._domains, target.value
        else:
            bucket, key = self._words, (target.kind, target.value)
        ids = bucket.get(key, [])
        if watch_id in ids:
            ids.remove(watch_id)
        if not ids:
            bucket.pop(key, None)

    def _brand_automaton(self) -> object | None:
        if self._automaton is None and self._brands:
            import ahocorasick

            automaton = ahocorasick.Automaton()
            for word in self._brands:
                automaton.add_word(word, word)
            automaton.make_automaton()
            self._automaton = automaton
        return self._automaton

    def match(self, subject: Subject) -> set[int]:
        """The ids of the watches this indicator matches (organization limits applied)."""
        found: list[int] = []
        network = _network_of(subject)
        if network is not None:
            found.extend(self._networks[network.version].overlapping(network))
        host = _host_of(subject)
        if host is not None and network is None:
            labels = host.split(".")
            for i in range(len(labels)):
                found.extend(self._domains.get(".".join(labels[i:]), ()))
            automaton = self._brand_automaton()
            if automaton is not None:
                for _, word in automaton.iter(skeleton(host)):  # type: ignore[attr-defined]
                    found.extend(self._brands[word])
        words = self._words
        if words:
            found.extend(words.get((WatchKind.TYPE, subject.type.value), ()))
            for tag in subject.tags:
                found.extend(words.get((WatchKind.TAG, tag.casefold()), ()))
            if subject.malware:
                found.extend(words.get((WatchKind.MALWARE, subject.malware.casefold()), ()))
        matched = set(found)
        limited = matched & self._limited
        if limited:
            org = subject.org.casefold() if subject.org else None
            matched -= {i for i in limited if (self.targets[i].org or "").casefold() != org}
        return matched


__all__ = ["HOW", "MIN_BRAND", "Subject", "TargetError", "Watch", "WatchIndex", "WatchKind", "WatchTarget",
           "parse_target", "skeleton"]
