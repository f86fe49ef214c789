"""Known-benign values from the MISP warninglists shipped in ``pymispwarninglists`` (offline).

Our own index instead of the package's search: exact values, a host-name suffix walk and CIDR containment by one
look-up per prefix length that occurs in the loaded lists. Nothing is read at import time; :meth:`WarningLists.load`
reads the chosen ``list.json`` files once, or, given a cache directory, the index built from them the first time
(see :func:`_read_cache`): a file of sorted records, which answers a few values by binary search without reading
the ~135,000 records of the default lists, and is read whole into memory only once many values were asked
(:data:`LOOKUPS_BEFORE_LOADING`). The package itself is never imported (importing it loads jsonschema and its
format checkers: over a second): only its data files are read.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.ioc.package_data import package_dir
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


#: Bumped whenever the layout of the cache file or of the index changes: older files are then rebuilt.
CACHE_FORMAT = 2


def _package_dir() -> Path:
    return package_dir("pymispwarninglists")


def _lists_dir() -> Path:
    return _package_dir() / "data" / "misp-warninglists" / "lists"


def available_warninglists() -> list[str]:
    """Folder names of every list shipped in the package."""
    return sorted(p.name for p in _lists_dir().iterdir() if (p / "list.json").is_file())


#: The index's four parts: exact values, host names (each matching its sub-domains too), IPv4 and IPv6 networks.
#: A value's key is the value; a network's, one number of its prefix length and address (`_net_key`).
EXACT, SUFFIX, NET4, NET6 = "e", "s", "4", "6"
_PARTS = (NET4, NET6, EXACT, SUFFIX)  # the order of their records in the cache file (sorted as bytes)
_NETS = {4: (NET4, 32), 6: (NET6, 128)}
#: A cache file answers each value from its sorted records (a binary search, no parsing); after this many values
#: (a large import, a long-running bot) the whole index is read into memory once, which then answers faster.
LOOKUPS_BEFORE_LOADING = 500


def _net_key(bits: int, prefixlen: int, address: int) -> int:
    """A network's key: its prefix length above its address's `bits` bits (no formatting: a look-up of an
    address makes one per prefix length present)."""
    return prefixlen << bits | address


class WarningLists:
    """An index over some MISP warninglists. Build with :meth:`load`; look up with :meth:`match`."""

    def __init__(self) -> None:
        self.names: tuple[str, ...] = ()
        self._human: dict[str, str] = {}
        # part -> key -> folder names of the lists holding it; answered from a cache file's records instead
        # (`_Records`) until LOOKUPS_BEFORE_LOADING values were looked up
        self._parts: dict[str, Any] = {part: {} for part in _PARTS}  # str keys; int for the networks
        self._prefix_lengths: dict[str, list[int]] = {NET4: [], NET6: []}  # present in the lists, longest first
        self._records: _Records | None = None
        self._lookups = 0
        self._cache_file: tuple[Path, dict[str, Any]] | None = None  # where the records were read, and its key

    @classmethod
    def load(cls, include: Iterable[str] | None = None, exclude: Iterable[str] = (), *,
             cache_dir: Path | None = None) -> WarningLists:
        """Load ``include`` (None: :data:`DEFAULT_WARNINGLISTS`) minus ``exclude``; names are the
        MISP list folder names (``public-dns-v4``). Unknown names raise ``ValueError``.

        With ``cache_dir``, the index is read from the cache file of this selection and this version of
        the package when there is a sound one there, else built and written there for the next time."""
        dropped = set(exclude)
        selection: list[str] = []
        for name in DEFAULT_WARNINGLISTS if include is None else include:
            if name not in dropped and name not in selection:
                selection.append(name)
        if cache_dir is None:
            return cls._build(selection)
        key = _cache_key(selection)
        path = Path(cache_dir) / f"warninglists-{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]}.cache"
        cached = _read_cache(path, key)
        if cached is not None:
            return cached
        self = cls._build(selection)
        _write_cache(path, key, self)
        return self

    @classmethod
    def _build(cls, selection: list[str]) -> WarningLists:
        root = _lists_dir()
        self = cls()
        loaded = []
        for name in selection:
            path = root / name / "list.json"
            if not path.is_file():
                raise ValueError(f"unknown warninglist {name!r}; see available_warninglists()")
            with path.open("rb") as fh:
                data = json.load(fh)
            self._add_list(name, data)
            loaded.append(name)
        self.names = tuple(loaded)
        self._finish()
        return self

    def _add_list(self, name: str, data: dict) -> None:
        self._human[name] = str(data.get("name") or name)
        kind = data.get("type", "string")
        for raw in data.get("list", []):
            if not isinstance(raw, str):
                continue
            value = raw.strip().lower()
            if not value or "\t" in value or "\n" in value:  # no indicator holds either (nor can a record)
                continue
            if kind == "cidr" or (kind == "string" and _looks_ip(value)):
                try:
                    net = ipaddress.ip_network(value, strict=False)
                except ValueError:
                    self._put(EXACT, value, name)
                    continue
                part, bits = _NETS[net.version]
                self._put(part, _net_key(bits, net.prefixlen, int(net.network_address)), name)
            elif kind == "hostname":
                self._put(SUFFIX, value.strip(".").rstrip("/"), name)
            elif kind == "string":
                if value.startswith("."):  # ".google.com": the domain and its sub-domains
                    self._put(SUFFIX, value.strip("."), name)
                else:
                    self._put(EXACT, value, name)
            # "substring" and "regex" lists are not indexed (slow by nature)

    def _put(self, part: str, key: str | int, name: str) -> None:
        names = self._parts[part].setdefault(key, [])
        if name not in names:
            names.append(name)

    def _finish(self) -> None:
        """After the last list was added: the prefix lengths present, which a network look-up tries."""
        for part, bits in _NETS.values():
            self._prefix_lengths[part] = sorted({key >> bits for key in self._parts[part]}, reverse=True)

    def _get(self, part: str, key: str | int) -> Sequence[str]:
        return self._parts[part].get(key) or ()

    def _host_names(self, host: str) -> list[str]:
        """Lists matching ``host`` exactly or as a sub-domain of a listed name, without walking up
        past a registrable-domain boundary: once the walk reaches a public suffix (PSL, private
        section included: ``github.io``, ``s3.amazonaws.com``, ``workers.dev``), only an exact match
        of that name counts, so ``evil.github.io`` is not benign because ``github.io`` is listed."""
        out = list(self._get(EXACT, host))
        out.extend(n for n in self._get(SUFFIX, host) if n not in out)
        parents: list[tuple[str, Sequence[str]]] = []  # the host's listed proper suffixes, longest first
        h = host
        while (dot := h.find(".")) != -1:
            h = h[dot + 1 :]
            names = self._get(SUFFIX, h)
            if names:
                parents.append((h, names))
        # Only a listed parent needs the public-suffix walk (and the PSL, a fifth of a second to read the first
        # time): most values have none, and a command that matches only those never reads the PSL. The walk
        # goes up from the host and stops at the first public suffix on the way, listed or not.
        h = host
        for parent, names in parents:
            while h != parent:
                h = h[h.find(".") + 1 :]
                if is_public_suffix(h):
                    return out
            out.extend(n for n in names if n not in out)
        return out

    def _net_names(self, version: int, address: int, prefixlen: int | None = None) -> list[str]:
        """Lists holding a network that contains ``address`` (and, given ``prefixlen``, that whole network)."""
        part, bits = _NETS[version]
        get = self._parts[part].get
        out: list[str] = []
        for plen in self._prefix_lengths[part]:
            if prefixlen is not None and plen > prefixlen:
                continue
            mask = ((1 << plen) - 1) << (bits - plen) if plen else 0
            names = get(_net_key(bits, plen, address & mask))
            if names:
                out.extend(n for n in names if n not in out)
        return out

    def _ip_names(self, ip: str) -> list[str]:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return []
        out = self._net_names(addr.version, int(addr))
        out.extend(n for n in self._get(EXACT, ip) if n not in out)
        return out

    def match_names(self, obs: Observable) -> list[str]:
        """Folder names of the lists that contain ``obs``."""
        if self._records is not None:
            self._lookups += 1
            try:
                if self._lookups >= LOOKUPS_BEFORE_LOADING:
                    self._load_records()
                return self._match_names(obs)
            except _DamagedRecords as e:
                self._rebuild(e)
        return self._match_names(obs)

    def _match_names(self, obs: Observable) -> list[str]:
        t, v = obs.type, obs.value
        if t in (IOCType.IPV4, IOCType.IPV6):
            return self._ip_names(v)
        if t is IOCType.CIDR:
            try:
                net = ipaddress.ip_network(v, strict=False)
            except ValueError:
                return []
            return self._net_names(net.version, int(net.network_address), net.prefixlen)
        if t in _HASH_TYPES:
            return list(self._get(EXACT, v))
        if t in _HOST_TYPES:
            out = list(self._get(EXACT, v.lower()))
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
        return list(self._get(EXACT, v.lower()))

    def match(self, obs: Observable) -> list[str]:
        """Human names (``list.json`` "name") of the lists that contain ``obs``; [] if none."""
        return [self._human[n] for n in self.match_names(obs)]

    def _rebuild(self, damage: Exception) -> None:
        """A record of the cache file is not sound (its checksum was: written so, not damaged since): the index is
        built from the lists again, answers from memory, and is written again."""
        path, key = self._cache_file or (None, None)
        log.warning("warninglist cache %s is damaged (%s): rebuilding it", path, damage)
        built = self._build(list(self.names))
        self._parts, self._prefix_lengths, self._records = built._parts, built._prefix_lengths, None
        if path is not None and key is not None:
            _write_cache(path, key, built)

    def _load_records(self) -> None:
        """The cache file's records read into memory, which answers faster from now on. The new parts are made
        whole before they replace the file's (one assignment): a look-up in another thread sees one or the other."""
        records = self._records
        if records is not None:
            self._parts = records.parts()
            self._records = None

    # -- the cache file: a header line, a line of what the records refer to, then one record per line, sorted

    def _to_file(self) -> bytes:
        """Everything after the header line: the names, their human names and the groups of names that records
        refer to by number (JSON, one line); then `part TAB key TAB group` lines (a network's key in decimal),
        sorted as bytes."""
        groups: dict[tuple[str, ...], int] = {}
        lines = []
        for part in _PARTS:
            for key, names in self._parts[part].items():
                group = groups.setdefault(tuple(names), len(groups))
                lines.append(f"{part}\t{key}\t{group}".encode())
        lines.sort()
        meta = {"names": list(self.names), "human": self._human, "groups": [list(g) for g in groups],
                "prefix_lengths": self._prefix_lengths}
        return json.dumps(meta, separators=(",", ":")).encode() + b"\n" + b"\n".join(lines) + b"\n"

    @classmethod
    def _from_file(cls, body: bytes) -> WarningLists:
        """The index over :meth:`_to_file`'s output, answering from its records; a malformed one raises
        (KeyError, TypeError, ValueError): its second line at once, a record when it is read."""
        meta_line, _, records = body.partition(b"\n")
        meta = json.loads(meta_line)
        self = cls()
        self.names = tuple(_strings(meta["names"]))
        known = set(self.names)
        self._human = {str(k): str(v) for k, v in meta["human"].items()}
        groups = [tuple(_strings(g)) for g in meta["groups"]]
        if not known.issuperset(self._human) or not all(g and known.issuperset(g) for g in groups):
            raise ValueError("a name for a list that is not loaded")
        for part, bits in ((NET4, 32), (NET6, 128)):
            lengths = meta["prefix_lengths"][part]
            if not all(type(n) is int and 0 <= n <= bits for n in lengths):
                raise ValueError(f"prefix lengths {lengths!r}")
            self._prefix_lengths[part] = sorted(set(lengths), reverse=True)
        if records and not records.endswith(b"\n"):
            raise ValueError("the records do not end a line")
        self._records = _Records(records, groups)
        self._parts = {part: _RecordPart(self._records, part) for part in _PARTS}
        return self


class _DamagedRecords(ValueError):
    pass


class _Records:
    """A cache file's sorted records, looked up by binary search over the bytes: no record is parsed but the ~17
    a look-up visits. A visited record that is not sound raises _DamagedRecords (the index is then rebuilt)."""

    def __init__(self, data: bytes, groups: list[tuple[str, ...]]) -> None:
        self.data, self.groups = data, groups

    def get(self, part: str, key: str | int) -> tuple[str, ...] | None:
        data, prefix = self.data, f"{part}\t{key}\t".encode()
        lo, hi = 0, len(data)  # lo and hi are the starts of records (or the end)
        while lo < hi:
            mid = (lo + hi) // 2
            start = data.rfind(b"\n", lo, mid) + 1 or lo
            end = data.find(b"\n", start)
            if data.startswith(prefix, start):
                group = data[start + len(prefix) : end]
                if not group.isdigit() or int(group) >= len(self.groups):
                    raise _DamagedRecords(f"record {data[start:end][:80]!r}")
                return self.groups[int(group)]
            if data[start:end] < prefix:
                lo = end + 1
            else:
                hi = start
        return None

    def parts(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """All the records as the in-memory index (for many look-ups): one split of the whole text, no loop."""
        try:
            fields = self.data.decode().replace("\n", "\t").split("\t")
            if len(fields) % 3 != 1 or fields[-1]:
                raise ValueError("records of other than three fields")
            parts_, keys, groups = fields[0:-1:3], fields[1:-1:3], fields[2:-1:3]
            found: dict[str, dict[str, tuple[str, ...]]] = {}
            start = 0
            for part in _PARTS:  # the records are sorted: each part's are together, in this order
                end = bisect.bisect_right(parts_, part, start)
                part_keys = keys[start:end] if part in (EXACT, SUFFIX) else map(int, keys[start:end])
                found[part] = dict(zip(part_keys, map(self.groups.__getitem__, map(int, groups[start:end])),
                                       strict=True))
                start = end
            if start != len(parts_):
                raise ValueError("records of an unknown part")
        except (IndexError, UnicodeDecodeError, ValueError) as e:
            raise _DamagedRecords(str(e)) from e
        return found


class _RecordPart:
    """One part of the index as a mapping's `get`, answered from the records."""

    def __init__(self, records: _Records, part: str) -> None:
        self.records, self.part = records, part

    def get(self, key: str | int) -> tuple[str, ...] | None:
        return self.records.get(self.part, key)


def _strings(values: list[Any]) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TypeError("expected a list of strings")
    return values


def _cache_key(selection: list[str]) -> dict[str, Any]:
    """What the index depends on: the cache layout, the package's version and place, and the lists chosen (in
    order: it is the order in which list names are reported)."""
    return {"format": CACHE_FORMAT, "pymispwarninglists": _package_version(), "data": str(_lists_dir()),
            "lists": selection}


def _package_version() -> str | None:
    """The installed package's version, or None (data without metadata: nothing to tell versions apart, so no
    cache). Read from the one `.dist-info` folder beside the package, as pip installs it (one folder listed);
    importlib.metadata, which reads every installed distribution's metadata (~18 ms), only otherwise."""
    prefix = "pymispwarninglists-"
    found = list(_package_dir().parent.glob(f"{prefix}*.dist-info"))
    if len(found) == 1:
        return found[0].name[len(prefix):-len(".dist-info")]
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pymispwarninglists")
    except PackageNotFoundError:
        return None


def _read_cache(path: Path, key: dict[str, Any]) -> WarningLists | None:
    """The index in the cache file at `path`, or None when there is none or it is not sound.

    Not trusted blindly: the file is plain text (reading it runs no code, unlike a pickle); it must be ours
    (owned by this user), its first line must carry this exact key (anything else is stale: another version of
    the package, another selection, another layout) and the SHA-256 of the rest, which must match (a torn or
    damaged file); and the rest must have the shape of an index: its second line at once, each record when a
    look-up reads it. Anything else is rebuilt."""
    if key["pymispwarninglists"] is None:
        return None
    try:
        with path.open("rb") as fh:
            if hasattr(os, "getuid") and os.fstat(fh.fileno()).st_uid != os.getuid():
                log.warning("warninglist cache %s belongs to another user: not used", path)
                return None
            header = json.loads(fh.readline())
            body = fh.read()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("warninglist cache %s unreadable (%s): rebuilding it", path, e)
        return None
    try:
        if header.get("key") != key:
            log.info("warninglist cache %s is stale: rebuilding it", path)
            return None
        if header.get("sha256") != hashlib.sha256(body).hexdigest():
            raise ValueError("checksum mismatch")
        index = WarningLists._from_file(body)
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        log.warning("warninglist cache %s is damaged (%s): rebuilding it", path, e)
        return None
    index._cache_file = (path, key)
    return index


def _write_cache(path: Path, key: dict[str, Any], index: WarningLists) -> None:
    """Write the cache file atomically (a temporary file in the same directory, then renamed over): a reader
    sees the old file or the new one, never half of one. A cache that cannot be written costs only time."""
    if key["pymispwarninglists"] is None:
        return
    body = index._to_file()
    header = json.dumps({"key": key, "sha256": hashlib.sha256(body).hexdigest()}).encode()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".warninglists-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(header + b"\n" + body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        log.warning("warninglist cache %s not written (%s): the index will be built again next time", path, e)
    else:
        log.info("warninglist index cached in %s", path)


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
