"""bot.watch_index: which watches an indicator matches (issue 12), by kind, against a brute-force reading."""

from __future__ import annotations

import ipaddress

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.ioc.types import IOCType
from bot.watch_index import Subject, TargetError, WatchIndex, WatchKind, WatchTarget, parse_target, skeleton

CYRILLIC_O = "\u043e"


def matches(target: str, subject: Subject, org: str | None = None) -> bool:
    return 1 in WatchIndex([(1, parse_target(target, org))]).match(subject)


NETWORKS = [  # (watch, indicator type, value, matches)
    ("198.51.100.0/24", IOCType.IPV4, "198.51.100.7", True),
    ("198.51.100.0/24", IOCType.IPV4, "198.51.101.7", False),
    ("198.51.100.7", IOCType.IPV4, "198.51.100.7", True),
    ("198.51.100.7", IOCType.IPV4, "198.51.100.8", False),
    ("198.51.100.0/24", IOCType.CIDR, "198.51.0.0/16", True),  # the indicator contains the watched range
    ("198.51.100.0/24", IOCType.CIDR, "198.51.100.128/25", True),  # inside it
    ("198.51.100.0/24", IOCType.CIDR, "198.51.101.0/24", False),
    ("198.51.100.0/24", IOCType.URL, "http://198.51.100.9:8080/gate.php", True),
    ("198.51.100.0/24", IOCType.URL, "http://198.51.101.9/gate.php", False),
    ("2001:db8::/32", IOCType.IPV6, "2001:db8::5", True),
    ("2001:db8::/32", IOCType.IPV6, "2001:db9::5", False),
    ("2001:db8::/32", IOCType.URL, "http://[2001:db8::1]:443/x", True),
    ("2001:db8::/32", IOCType.CIDR, "2001:db8:1::/48", True),
    ("0.0.0.0/0", IOCType.IPV4, "203.0.113.1", True),
    ("198.51.100.0/24", IOCType.IPV6, "::ffff:c633:6407", False),  # versions do not mix
    ("198.51.100.0/24", IOCType.DOMAIN, "northbank.example", False),
]

DOMAINS = [
    ("northbank.example", IOCType.DOMAIN, "northbank.example", True),
    ("northbank.example", IOCType.DOMAIN, "login.secure.northbank.example", True),
    ("northbank.example", IOCType.URL, "https://login.northbank.example/reset?u=1", True),
    ("northbank.example", IOCType.URL, "https://user:pw@northbank.example:8443/", True),
    ("northbank.example", IOCType.EMAIL, "ceo@northbank.example", True),
    ("northbank.example", IOCType.EMAIL, "northbank.example@evil.com", False),
    ("northbank.example", IOCType.DOMAIN, "northbank.example.evil.com", False),
    ("northbank.example", IOCType.DOMAIN, "mynorthbank.example", False),
    ("northbank.example", IOCType.DOMAIN, "example", False),
    ("northbank.example", IOCType.URL, "https://evil.com/northbank.example", False),
]

BRANDS = [  # brand:northbank
    ("northbank.example", True),
    ("n0rthbank.com", True),  # a digit for a letter
    ("north8ank.net", True),
    ("northbank-login.com", True),  # appended
    ("secure-northbank.com", True),  # prepended
    ("north-bank.com", True),  # hyphenated
    ("login.northbank-verify.ru", True),
    (idna.encode(f"n{CYRILLIC_O}rthbank.example", uts46=True).decode(), True),  # a Cyrillic о in an IDN
    (f"n{CYRILLIC_O}rthbank.example", True),  # the same, as Unicode
    ("n0rthbamk.com", False),  # another word
    ("southbank.com", False),
    ("northern-banking.com", False),
]


@pytest.mark.parametrize(("watch", "kind", "value", "expected"), NETWORKS)
def test_a_network_watch(watch: str, kind: IOCType, value: str, expected: bool) -> None:
    assert matches(watch, Subject(kind, value)) is expected


@pytest.mark.parametrize(("watch", "kind", "value", "expected"), DOMAINS)
def test_a_domain_watch(watch: str, kind: IOCType, value: str, expected: bool) -> None:
    assert matches(watch, Subject(kind, value)) is expected


@pytest.mark.parametrize(("host", "expected"), BRANDS)
def test_a_brand_watch_finds_lookalikes(host: str, expected: bool) -> None:
    assert matches("brand:northbank", Subject(IOCType.DOMAIN, host)) is expected
    assert matches("brand:northbank", Subject(IOCType.URL, f"https://{host}/login")) is expected
    assert matches("brand:northbank", Subject(IOCType.EMAIL, f"support@{host}")) is expected


def test_a_brand_is_not_matched_in_hashes_or_ips() -> None:
    assert not matches("brand:dead", Subject(IOCType.SHA256, "dead" * 16))
    assert not matches("brand:beef", Subject(IOCType.IPV4, "198.51.100.7"))


def test_tags_malware_and_types_with_an_organization_limit() -> None:
    phishing = Subject(IOCType.URL, "https://a.example/x", tags=("Phishing", "kit"), malware="Emotet",
                       org="Northbank")
    assert matches("tag:phishing", phishing)
    assert matches("tag:PHISHING", phishing)
    assert not matches("tag:botnet", phishing)
    assert matches("malware:emotet", phishing)
    assert not matches("malware:qakbot", phishing)
    assert matches("type:url", phishing)
    assert not matches("type:domain", phishing)
    assert matches("tag:phishing", phishing, org="northbank")
    assert not matches("tag:phishing", phishing, org="National CERT")
    anonymous = Subject(IOCType.URL, "https://a.example/x", tags=("phishing",), org=None)
    assert not matches("tag:phishing", anonymous, org="Northbank")  # an anonymous item names no organization
    assert matches("northbank.example", Subject(IOCType.DOMAIN, "northbank.example", org="Other"))
    assert not matches("northbank.example", Subject(IOCType.DOMAIN, "northbank.example", org="Other"),
                       org="Northbank")


@pytest.mark.parametrize(("text", "target"), [
    ("198.51.100.7/24", WatchTarget(WatchKind.NETWORK, "198.51.100.0/24")),
    ("198.51.100.7", WatchTarget(WatchKind.NETWORK, "198.51.100.7/32")),
    ("2001:DB8::/32", WatchTarget(WatchKind.NETWORK, "2001:db8::/32")),
    ("NorthBank.Example", WatchTarget(WatchKind.DOMAIN, "northbank.example")),
    ("northbank[.]example", WatchTarget(WatchKind.DOMAIN, "northbank.example")),
    ("brand:NorthBank", WatchTarget(WatchKind.BRAND, "northbank")),
    ("tag:Phishing", WatchTarget(WatchKind.TAG, "phishing")),
    ("malware:Cobalt_Strike", WatchTarget(WatchKind.MALWARE, "cobalt_strike")),
    ("type:URL", WatchTarget(WatchKind.TYPE, "url")),
])
def test_targets_are_read_canonically(text: str, target: WatchTarget) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize(("text", "says"), [
    ("hello", "is not something to watch"),
    ("brand:", "names no brand"),
    ("brand:abc", "too short"),
    ("brand:north bank", "one word"),
    ("type:banana", "not an indicator type; one of: ipv4"),
    ("https://northbank.example/x", "is not something to watch"),
    ("d41d8cd98f00b204e9800998ecf8427e", "is not something to watch"),
])
def test_a_target_that_cannot_be_watched_says_how_to_write_one(text: str, says: str) -> None:
    with pytest.raises(TargetError, match=says):
        parse_target(text)


def test_removing_a_watch_and_replacing_one() -> None:
    index = WatchIndex([(1, parse_target("198.51.100.0/24")), (2, parse_target("brand:northbank")),
                        (3, parse_target("tag:phishing")), (4, parse_target("northbank.example"))])
    subject = Subject(IOCType.URL, "https://northbank.example/x", tags=("phishing",))
    assert index.match(subject) == {2, 3, 4}
    index.remove(2)
    index.remove(3)
    assert index.match(subject) == {4}
    index.add(4, parse_target("other.example"))
    assert index.match(subject) == set()
    assert index.match(Subject(IOCType.IPV4, "198.51.100.1")) == {1}
    index.remove(1)
    assert index.match(Subject(IOCType.IPV4, "198.51.100.1")) == set()
    assert len(index) == 1


def test_skeletons_fold_lookalikes_to_one_form() -> None:
    assert skeleton("N0RTH-BANK") == skeleton("northbank") == skeleton(f"n{CYRILLIC_O}rthbank")
    assert skeleton("rnicrosoft") == skeleton("microsoft")
    assert skeleton("paypa1") == skeleton("paypal")


_networks = st.builds(lambda ip, length: ipaddress.ip_network(f"{ipaddress.IPv4Address(ip)}/{length}", strict=False),
                      st.integers(0, 2**32 - 1), st.integers(8, 32))


@settings(max_examples=60, deadline=None)
@given(st.lists(_networks, min_size=1, max_size=40), st.lists(_networks, min_size=1, max_size=20))
def test_network_matching_agrees_with_brute_force(watched: list, probes: list) -> None:
    index = WatchIndex((i, WatchTarget(WatchKind.NETWORK, n.compressed)) for i, n in enumerate(watched))
    for probe in probes:
        kind = IOCType.IPV4 if probe.prefixlen == 32 else IOCType.CIDR
        value = str(probe.network_address) if kind is IOCType.IPV4 else probe.compressed
        expected = {i for i, n in enumerate(watched) if n.overlaps(probe)}
        assert index.match(Subject(kind, value)) == expected
