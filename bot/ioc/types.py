"""Indicator types and the observable value object."""

from __future__ import annotations

import enum

from bot.values import frozen


class IOCType(enum.StrEnum):
    """The kinds of indicator the engine knows. Add a member here and a detector in
    :mod:`bot.ioc.extraction` to extend the engine."""

    IPV4 = "ipv4"
    IPV6 = "ipv6"
    CIDR = "cidr"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"
    MD5 = "md5"
    SHA1 = "sha1"
    SHA256 = "sha256"
    SHA512 = "sha512"
    CVE = "cve"
    ASN = "asn"
    BTC = "btc"


@frozen(slots=True)
class Observable:
    """One indicator in its canonical (refanged, normalized) form."""

    type: IOCType
    value: str
