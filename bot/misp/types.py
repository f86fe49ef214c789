"""The coalition's indicator types and TLP as MISP attribute types, tags and distribution levels, both ways."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from bot.domain import Status
from bot.ioc import IOCType
from bot.tlp import TLP

#: Our type -> the MISP attribute type it is exported as (MISP's describeTypes.json names).
MISP_TYPES: dict[IOCType, str] = {
    IOCType.IPV4: "ip-dst", IOCType.IPV6: "ip-dst", IOCType.CIDR: "ip-dst", IOCType.DOMAIN: "domain",
    IOCType.URL: "url", IOCType.EMAIL: "email-src", IOCType.MD5: "md5", IOCType.SHA1: "sha1",
    IOCType.SHA256: "sha256", IOCType.SHA512: "sha512", IOCType.CVE: "vulnerability", IOCType.ASN: "AS",
    IOCType.BTC: "btc",
}

#: MISP attribute type -> the types of ours its value may be (the value is classified by bot.ioc, and must be
#: one of these). Composite types (`filename|sha256`, `ip-dst|port`, `domain|ip`) are split on `|`.
OUR_TYPES: dict[str, frozenset[IOCType]] = {
    **{t: frozenset({IOCType.IPV4, IOCType.IPV6, IOCType.CIDR}) for t in ("ip-dst", "ip-src")},
    **{t: frozenset({IOCType.DOMAIN}) for t in ("domain", "hostname")},
    **{t: frozenset({IOCType.URL}) for t in ("url", "uri")},
    **{t: frozenset({IOCType.EMAIL}) for t in ("email", "email-src", "email-dst", "email-reply-to",
                                               "whois-registrant-email")},
    **{t: frozenset({IOCType(t)}) for t in ("md5", "sha1", "sha256", "sha512")},
    "vulnerability": frozenset({IOCType.CVE}),
    "AS": frozenset({IOCType.ASN}),
    "btc": frozenset({IOCType.BTC}),
}

#: Composite MISP types: which parts (0-based, split on `|`) carry an indicator, and as which MISP type.
COMPOSITE_TYPES: dict[str, tuple[tuple[int, str], ...]] = {
    **{f"filename|{h}": ((1, h),) for h in ("md5", "sha1", "sha256", "sha512")},
    "ip-dst|port": ((0, "ip-dst"),), "ip-src|port": ((0, "ip-src"),), "hostname|port": ((0, "hostname"),),
    "domain|ip": ((0, "domain"), (1, "ip-dst")),
}

#: TLP -> the event's distribution: CLEAR all communities (3), GREEN connected communities (2), AMBER this
#: community (1), AMBER+STRICT your organisation only (0). RED is never exported.
DISTRIBUTION: dict[TLP, int] = {TLP.CLEAR: 3, TLP.GREEN: 2, TLP.AMBER: 1, TLP.AMBER_STRICT: 0}
INHERIT_EVENT = 5  # an attribute's distribution: the event's

#: The MISP TLP taxonomy's tags (TLP 2.0: tlp:clear, tlp:amber+strict) and their colours in that taxonomy.
TLP_TAGS: dict[TLP, str] = {t: f"tlp:{t.value.lower()}" for t in DISTRIBUTION}
TLP_COLOURS: dict[TLP, str] = {TLP.CLEAR: "#ffffff", TLP.GREEN: "#33ff00", TLP.AMBER: "#ffc000",
                               TLP.AMBER_STRICT: "#ffc000"}


def misp_value(kind: IOCType, value: str) -> str:
    """The value as MISP stores it: an AS number without its `AS` prefix, anything else as we store it."""
    return value[2:] if kind is IOCType.ASN and value[:2].upper() == "AS" else value


def our_candidate(misp_type: str, value: str) -> str:
    """The text to classify for a MISP value: an AS number gets back its `AS` prefix."""
    value = value.strip()
    if misp_type == "AS":
        return value if value[:2].upper() == "AS" else "AS" + value
    return value


class MispRow(NamedTuple):
    """What the feed needs of an indicator (the store's lean read, `MispRepository.rows`): the fields named as
    `bot.domain.Indicator`'s, so that `bot.rules.can_see` reads it as it reads an indicator. `withdrawn`: when an
    approved indicator was revoked or passed its valid_until (the feed marks it deleted, so that MISP drops it)."""

    id: int
    stix_id: str
    type: IOCType
    value: str
    status: Status
    tlp: TLP
    note: str
    submitter_id: int
    org_id: int
    anonymous: bool
    first_seen: datetime
    last_seen: datetime
    created_at: datetime
    modified_at: datetime
    tags: tuple[str, ...]
    withdrawn: datetime | None = None  # revoked (when) or past its valid_until (then): a deleted attribute
