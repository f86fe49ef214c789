"""Obfuscated indicators beyond ``[.]``/``hxxp`` (issue 15), one table per class.

Each table row is (message, expected ``extract_grouped`` output); every class also has prose lines that
must yield nothing, so recall is not bought with precision. The conventions these tables pin down are
written in bot/ioc/__init__.py; the ones that differ from a peer tool carry an ``OURS:`` note here.
"""

from __future__ import annotations

import pytest

from bot.ioc import extract_grouped, refang

Row = tuple[str, dict[str, list[str]]]


def _check(text: str, expected: dict[str, list[str]]) -> None:
    assert extract_grouped(text) == expected, text


# --- scheme defangs beyond hxxp ---------------------------------------------------------------------------

SCHEMES: list[Row] = [
    ("hXXps://evil.com/a", {"url": ["https://evil.com/a"]}),
    ("HXXPS://evil.com/a and hXxP://evil.net/b", {"url": ["https://evil.com/a", "http://evil.net/b"]}),
    ("hxxxp://evil.com/a hxxxps://evil.net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("xxxx://evil.com/a", {"url": ["http://evil.com/a"]}),
    ("xxxxx://evil.com/a xXxXx://evil.net/b", {"url": ["https://evil.com/a", "https://evil.net/b"]}),
    ("xxxxs://proverka[.]host/", {"url": ["https://proverka.host/"]}),
    ("meow://evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http__evil.com/a https__evil.net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("http//evil.com/a https//evil.net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("hxxp//evil[.]com/a hxxps//evil[.]net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("http// evil.com/a", {"url": ["http://evil.com/a"]}),
    ("h**p://evil.com/a h**ps://evil.net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("fxp://evil.com/a fxps://evil.net/b", {"url": ["ftp://evil.com/a", "ftps://evil.net/b"]}),
    ("http[:]//evil.com/a hxxps[:]//evil[.]net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("http:/ /evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http:/ / evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http: //evil.com/a", {"url": ["http://evil.com/a"]}),
    ("https :// evil.com/a", {"url": ["https://evil.com/a"]}),
    ("http :///evil.com/a", {"url": ["http://evil.com/a"]}),
    ("hxxp ://evil[.]com/a", {"url": ["http://evil.com/a"]}),
    ("http[:/]/evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http:[//]evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http[:][//]evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http[:]/[/]evil.com/a", {"url": ["http://evil.com/a"]}),
    ("http(:)//evil.com/a http{:}//evil.net/b", {"url": ["http://evil.com/a", "http://evil.net/b"]}),
    ("http[://]evil.com/a", {"url": ["http://evil.com/a"]}),
    ("[http]://evil.com/a (https)://evil.net/b", {"url": ["http://evil.com/a", "https://evil.net/b"]}),
    ("[hxxps]://evil[.]com/a", {"url": ["https://evil.com/a"]}),
    ("JSON: \"hxxp:\\/\\/evil.com\\/a\\/b.php\"", {"url": ["http://evil.com/a/b.php"]}),
]

SCHEME_PROSE = [
    "see the list (a: b) and [x]: y",
    "http is a protocol and https too, ftp is older",
    "xxxx: redacted by the sender",
    "the ratio was 1:1 / 2 // comment",
    "a [http] header: value",
    "listening on [::]:8080",
]


@pytest.mark.parametrize(("text", "expected"), SCHEMES, ids=[t for t, _ in SCHEMES])
def test_scheme_defangs(text: str, expected: dict[str, list[str]]) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text", SCHEME_PROSE)
def test_scheme_prose_yields_nothing(text: str) -> None:
    _check(text, {})


def test_refang_rewrites_schemes() -> None:
    assert refang("hxxps//evil[.]com/a") == "https://evil.com/a"
    assert refang("[http]://evil.com") == "http://evil.com"
