"""Public interface: types, extract order/dedup, grouped shape, classify, refang/defang."""

from __future__ import annotations

import dataclasses

import pytest

from bot.ioc import IOCType, Observable, classify, defang, extract, extract_grouped, refang
from tests.unit.ioc.corpus import load_corpus


def test_ioctype_values() -> None:
    assert [t.value for t in IOCType] == ["ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1",
                                          "sha256", "sha512", "cve", "asn", "btc"]
    assert IOCType.IPV4 == "ipv4"


def test_observable_is_frozen_and_hashable() -> None:
    o = Observable(IOCType.DOMAIN, "evil.com")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.value = "x"  # type: ignore[misc]
    assert {o, Observable(IOCType.DOMAIN, "evil.com")} == {o}


def test_extract_order_and_dedup() -> None:
    text = "evil[.]com then 1.2.3.4 then EVIL.COM and 1.2.3[.]4 and CVE-2021-44228"
    assert extract(text) == [
        Observable(IOCType.DOMAIN, "evil.com"),
        Observable(IOCType.IPV4, "1.2.3.4"),
        Observable(IOCType.CVE, "CVE-2021-44228"),
    ]


def test_extract_grouped_shape() -> None:
    assert extract_grouped("hxxp://a-b[.]com/x 8.8.8[.]8") == {"ipv4": ["8.8.8.8"], "url": ["http://a-b.com/x"]}
    assert extract_grouped("") == {}
    assert extract_grouped("nothing here") == {}


def test_same_indicator_slack_and_discord_is_one_value() -> None:
    slack = "<https://evil-login.com/a?b=1&amp;c=2|https://evil-login.com/a?b=1&amp;c=2>"
    discord = "||<hxxps://evil-login[.]com/a?b=1&c=2>||"
    assert extract(slack) == extract(discord) == [Observable(IOCType.URL, "https://evil-login.com/a?b=1&c=2")]


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("203.0.113[.]7", (IOCType.IPV4, "203.0.113.7")),
        ("hxxp://evil[.]example/x", (IOCType.URL, "http://evil.example/x")),
        ("evil.example", (IOCType.DOMAIN, "evil.example")),
        ("AS13335", (IOCType.ASN, "AS13335")),
        ("asn 13335", (IOCType.ASN, "AS13335")),
        ("cve-2021-44228", (IOCType.CVE, "CVE-2021-44228")),
        ("bad[@]evil[.]com", (IOCType.EMAIL, "bad@evil.com")),
        ("D41D8CD98F00B204E9800998ECF8427E", (IOCType.MD5, "d41d8cd98f00b204e9800998ecf8427e")),
        ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
         (IOCType.SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")),
        ("10.0.0.0/8", (IOCType.CIDR, "10.0.0.0/8")),
        ("2001:0db8::0001", (IOCType.IPV6, "2001:db8::1")),
        ("invoice.zip", (IOCType.DOMAIN, "invoice.zip")),
        ("`evil.com`", (IOCType.DOMAIN, "evil.com")),
        ("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", (IOCType.BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")),
    ],
)
def test_classify(token: str, expected: tuple[IOCType, str]) -> None:
    assert classify(token) == Observable(*expected)


@pytest.mark.parametrize("token", ["13335", "", "   ", "hello", "report.pdf", "evil.com and bad.com", "1.2.3",
                                   "300.1.1.1", "abc123", "CVE-21-1"])
def test_classify_rejects(token: str) -> None:
    assert classify(token) is None


def test_classify_round_trip_on_corpus() -> None:
    for case in load_corpus():
        for obs in extract(case.text):
            assert classify(obs.value) == obs, obs


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("http://evil.com/a.php", "hxxp://evil[.]com/a.php"),
        ("https://evil.com/", "hxxps://evil[.]com/"),
        ("ftp://evil.com/x", "fxp://evil[.]com/x"),
        ("evil.com", "evil[.]com"),
        ("1.2.3.4", "1[.]2[.]3[.]4"),
        ("bad@evil.com", "bad[@]evil[.]com"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_defang(value: str, shown: str) -> None:
    assert defang(value) == shown
    assert refang(shown) == value


def test_refang_forms() -> None:
    assert refang("hXXps[:]//a[dot]b(.)c{.}d\\.e [at] f") == "https://a.b.c.d.e@f"
    assert refang("evil\u200b.com\u202e") == "evil.com"
    assert refang("evil．com evil。com") == "evil.com evil.com"
    assert refang("<http://x.com|x.com> <mailto:a@b.co|a@b.co> &amp;") == " x.com   a@b.co  &"
