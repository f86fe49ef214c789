"""Known-benign values from the MISP warninglists shipped in ``pymispwarninglists`` (offline).

Our own index instead of the package's search: exact-value sets, a host-name suffix walk and
CIDR containment by one dict look-up per prefix length that occurs in the loaded lists. Nothing is
read at import time; :meth:`WarningLists.load` reads the chosen ``list.json`` files once, or, given a
cache directory, the index built from them the first time (see :func:`_read_cache`). The package itself
is never imported (importing it loads jsonschema and its format checkers: over a second): only its
data files are read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import ipaddress
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

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
CACHE_FORMAT = 1


def _package_dir() -> Path:
    spec = importlib.util.find_spec("pymispwarninglists")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pymispwarninglists is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _lists_dir() -> Path:
    return _package_dir() / "data" / "misp-warninglists" / "lists"


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
        path = Path(cache_dir) / f"warninglists-{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]}.json"
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
        parents: list[str] = []  # the host's proper suffixes, longest first
        h = host
        while (dot := h.find(".")) != -1:
            h = h[dot + 1 :]
            parents.append(h)
        last = max((i for i, p in enumerate(parents) if p in suffix), default=-1)
        # Only a listed parent needs the public-suffix walk (and the PSL, a fifth of a second to read the first
        # time): most values have none, and a command that matches only those never reads the PSL.
        for h in parents[: last + 1]:
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

    # -- the cache file: plain JSON, values grouped by the lists that hold them

    def _to_data(self) -> dict[str, Any]:
        def groups(index: dict[Any, list[str]]) -> list[list[Any]]:
            by_names: dict[tuple[str, ...], list[Any]] = {}
            for value, names in index.items():
                by_names.setdefault(tuple(names), []).append(value)
            return [[list(names), values] for names, values in by_names.items()]

        return {"names": list(self.names), "human": self._human, "exact": groups(self._exact),
                "suffix": groups(self._suffix),
                "v4": [[plen, groups(bucket)] for plen, bucket in self._v4.by_len.items()],
                "v6": [[plen, groups(bucket)] for plen, bucket in self._v6.by_len.items()]}

    @classmethod
    def _from_data(cls, data: dict[str, Any]) -> WarningLists:
        """The index from :meth:`_to_data`'s output; a malformed one raises (KeyError, TypeError, ValueError)."""
        self = cls()
        self.names = tuple(_strings(data["names"]))
        self._human = {str(k): str(v) for k, v in data["human"].items()}
        known = set(self.names)

        def fill(index: dict[Any, list[str]], groups: list[list[Any]]) -> None:
            for names, values in groups:
                shared = list(_strings(names))
                if not shared or not known.issuperset(shared) or not isinstance(values, list):
                    raise ValueError("a group of values with no list or an unknown list")
                # A value of another type than the index's keys could never match: not worth a check per value.
                index.update(zip(values, repeat(tuple(shared))))  # shared: nothing changes an index once built

        fill(self._exact, data["exact"])
        fill(self._suffix, data["suffix"])
        for net, field_ in ((self._v4, "v4"), (self._v6, "v6")):
            for plen, groups in data[field_]:
                if type(plen) is not int or not 0 <= plen <= (32 if field_ == "v4" else 128):
                    raise ValueError(f"prefix length {plen!r}")
                fill(net.by_len.setdefault(plen, {}), groups)
        if not known.issuperset(self._human):
            raise ValueError("a name for a list that is not loaded")
        self._v4.freeze(32)
        self._v6.freeze(128)
        return self


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

    Not trusted blindly: the file is plain JSON (reading it runs no code, unlike a pickle); it must be ours
    (owned by this user), its first line must carry this exact key (anything else is stale: another version of
    the package, another selection, another layout) and the SHA-256 of the rest, which must match (a torn or
    damaged file); and the rest must have the shape of an index. Anything else is rebuilt."""
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
        return WarningLists._from_data(json.loads(body))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        log.warning("warninglist cache %s is damaged (%s): rebuilding it", path, e)
        return None


def _write_cache(path: Path, key: dict[str, Any], index: WarningLists) -> None:
    """Write the cache file atomically (a temporary file in the same directory, then renamed over): a reader
    sees the old file or the new one, never half of one. A cache that cannot be written costs only time."""
    if key["pymispwarninglists"] is None:
        return
    body = json.dumps(index._to_data(), separators=(",", ":")).encode()
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
