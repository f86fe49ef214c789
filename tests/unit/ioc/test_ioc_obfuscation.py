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


# --- word forms ------------------------------------------------------------------------------------------

WORDS: list[Row] = [
    ("evil dot com", {"domain": ["evil.com"]}),
    ("EVIL DOT COM and evil DOT ru", {"domain": ["evil.com", "evil.ru"]}),
    ("evil(dot)com evil[dot]net evil{dot}org", {"domain": ["evil.com", "evil.net", "evil.org"]}),
    ("evil-dot-com", {"domain": ["evil.com"]}),
    ("evil[d0t]com and evil(D0T)net", {"domain": ["evil.com", "evil.net"]}),
    ("evil{.}com", {"domain": ["evil.com"]}),
    ("www dot evil dot co dot uk", {"domain": ["www.evil.co.uk"]}),
    ("mail.evil dot com", {"domain": ["mail.evil.com"]}),
    ("evil punto com and evil ponto com dot br", {"domain": ["evil.com", "evil.com.br"]}),
    ("böse punkt de", {"domain": ["xn--bse-sna.de"]}),
    ("evil-dot-com/gate.php", {"url": ["evil.com/gate.php"]}),
    ("hxxp://evil dot com/gate", {"url": ["http://evil.com/gate"]}),
    ("Visit google dot com today", {"domain": ["google.com"]}),
    ("1 dot 2 dot 3 dot 4", {"ipv4": ["1.2.3.4"]}),
    ("user at evil dot com", {"email": ["user@evil.com"]}),
    ("John at evil dot com", {"email": ["john@evil.com"]}),
    ("first dot last at company dot com", {"email": ["first.last@company.com"]}),
    ("user(at)evil.com user[at]evil.net user{at}evil.org",
     {"email": ["user@evil.com", "user@evil.net", "user@evil.org"]}),
    ("user (at) evil (dot) com", {"email": ["user@evil.com"]}),
    ("admin AT evil.com and admin AT evil DOT net", {"email": ["admin@evil.com", "admin@evil.net"]}),
    ("usuario arroba dominio punto com", {"email": ["usuario@dominio.com"]}),
    ("usuario arroba dominio.com.br", {"email": ["usuario@dominio.com.br"]}),
    ("me(arroba)example(punto)com and me [arroba] example [ponto] net",
     {"email": ["me@example.com", "me@example.net"]}),
    # OURS: a spaced "at" after a verb or a pronoun is prose; the domain written with word dots still counts
    ("look at evil dot com", {"domain": ["evil.com"]}),
    ("it is hosted at evil dot com now", {"domain": ["evil.com"]}),
    ("beacons at evil dot com every minute", {"domain": ["evil.com"]}),
    # OURS: a spaced lower-case "at" before a plainly written domain is prose ("we saw it at evil.com")
    ("we saw it at evil.com", {"domain": ["evil.com"]}),
    ("look at evil[.]com", {"domain": ["evil.com"]}),
    ("Look At evil.com", {"domain": ["evil.com"]}),
    # the word pass and the scheme gates read an ASCII-lowered copy, one byte a character: characters past Latin-1
    # (an emoji, a snowman, a defanged dot already rewritten), or one whose lower case is longer (İ), before the
    # form must not shift where it is found
    ("İstanbul ekibi: user at evil dot com", {"email": ["user@evil.com"]}),
    ("🚨☃ evil[.]net, then user at evil dot com", {"domain": ["evil.net"], "email": ["user@evil.com"]}),
    ("🚨 HXXPS://evil[.]com/a and bad DOT example DOT org",
     {"url": ["https://evil.com/a"], "domain": ["bad.example.org"]}),
]

WORD_PROSE = [
    "at the end of the day",
    "dot matrix printers are loud",
    "a dot matrix printer",
    "the meeting at 10 dot 30",
    "we arrived at 10 dot 30 at the office",
    "meet me at noon",
    "the dot com bubble",
    "a whole dot com bubble burst in 2000",
    "the red dot in the middle",
    "polka dot dress",
    "the dot is red",
    "click the blue dot app",
    "connect the dots at the end",
    "version 1 dot 2 dot 3 dot 4",
    "evil dot example and evil dot test",
    "LOOK AT THE END",
    "nos vemos en la oficina arroba de la semana",
    "ese punto es importante",
    "the AT command set",
]


@pytest.mark.parametrize(("text", "expected"), WORDS, ids=[t for t, _ in WORDS])
def test_word_forms(text: str, expected: dict[str, list[str]]) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text", WORD_PROSE)
def test_word_form_prose_yields_nothing(text: str) -> None:
    _check(text, {})


def test_refang_rewrites_word_forms_only_where_they_make_an_address() -> None:
    assert refang("user at evil dot com") == "user@evil.com"
    assert refang("the meeting at 10 dot 30") == "the meeting at 10 dot 30"
    assert refang("the dot com bubble") == "the dot com bubble"


# --- defanged e-mail local parts -------------------------------------------------------------------------

EMAILS: list[Row] = [
    ("first[.]last[@]company[.]com", {"email": ["first.last@company.com"]}),
    ("first(.)last(at)company(.)com", {"email": ["first.last@company.com"]}),
    ("first{.}last{at}company{.}com", {"email": ["first.last@company.com"]}),
    ("first[dot]last[at]company[dot]com", {"email": ["first.last@company.com"]}),
    ("j[.]doe[.]1990[@]mail[.]evil[.]ru", {"email": ["j.doe.1990@mail.evil.ru"]}),
    ("a[.]b[.]c@evil.com", {"email": ["a.b.c@evil.com"]}),
    ("First[.]Last [@] Company[.]com", {"email": ["first.last@company.com"]}),
    ("contact: first[.]last@company[.]com, second[.]one(at)company(dot)com",
     {"email": ["first.last@company.com", "second.one@company.com"]}),
    # OURS: a local part that would start with a dot or hold two in a row is no address, and its domain is not
    # reported on its own either (what was written is one broken value, not a domain)
    ("first[.][.]last[@]company[.]com", {}),
    ("[.]first[@]company[.]com", {}),
]

EMAIL_PROSE = [
    "first[.]last is not a mailbox",
    "send it [@] the team",
]


@pytest.mark.parametrize(("text", "expected"), EMAILS, ids=[t for t, _ in EMAILS])
def test_defanged_local_parts(text: str, expected: dict[str, list[str]]) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text", EMAIL_PROSE)
def test_local_part_prose_yields_nothing(text: str) -> None:
    _check(text, {})


# --- IPv6 defangs and IPv4 separators other than [.] -----------------------------------------------------

ADDRESSES: list[Row] = [
    ("2001[:]db8[:]85a3[::]1", {"ipv6": ["2001:db8:85a3::1"]}),
    ("2001[:]db8[::]1 and fe80[::]1", {"ipv6": ["2001:db8::1", "fe80::1"]}),
    ("[2001[:]db8[::]1]", {"ipv6": ["2001:db8::1"]}),
    ("2001[:]0db8[:]0000[:]0000[:]0000[:]ff00[:]0042[:]8329", {"ipv6": ["2001:db8::ff00:42:8329"]}),
    ("2001(:)db8(::)1 2001{:}db8{::}2", {"ipv6": ["2001:db8::1", "2001:db8::2"]}),
    ("2001:db8[:]:3 and 2001:db8[:][:]4", {"ipv6": ["2001:db8::3", "2001:db8::4"]}),
    ("2001[::] is the prefix host", {"ipv6": ["2001::"]}),
    ("::ffff[:]192[.]0[.]2[.]128", {"ipv6": ["::ffff:192.0.2.128"]}),
    ("2001[:]db8[::]/32", {"cidr": ["2001:db8::/32"]}),
    ("hxxp://[2001[:]db8[::]1]:8080/x", {"url": ["http://[2001:db8::1]:8080/x"]}),
    ("1(.)2(.)3(.)4", {"ipv4": ["1.2.3.4"]}),
    ("1[dot]2[dot]3[dot]4 and 5(dot)6(dot)7(dot)8", {"ipv4": ["1.2.3.4", "5.6.7.8"]}),
    ("1{.}2{.}3{.}4 and 5[,]6[,]7[,]8", {"ipv4": ["1.2.3.4", "5.6.7.8"]}),
    ("1 [.] 2 [.] 3 [.] 4", {"ipv4": ["1.2.3.4"]}),
    ("1[d0t]2[d0t]3[d0t]4", {"ipv4": ["1.2.3.4"]}),
    ("1-dot-2-dot-3-dot-4 and 5 dot 6 dot 7 dot 8", {"ipv4": ["1.2.3.4", "5.6.7.8"]}),
    ("1[.]2.3(.)4", {"ipv4": ["1.2.3.4"]}),
    ("1(.)2(.)3(.)0/24", {"cidr": ["1.2.3.0/24"]}),
    ("1\\.2\\.3\\.4", {"ipv4": ["1.2.3.4"]}),
    # OURS: host:port is the host (as for plain addresses)
    ("10[.]0[.]0[.]1[:]8080", {"ipv4": ["10.0.0.1"]}),
]

ADDRESS_PROSE = [
    "listening on [::]:8080",
    "std[::]vector and Foo(::)bar",
    "chapter 1(.)2 of the book",
    "the score was 1 dot 2",
    "release 1[.]2[.]3",
]


@pytest.mark.parametrize(("text", "expected"), ADDRESSES, ids=[t for t, _ in ADDRESSES])
def test_address_defangs(text: str, expected: dict[str, list[str]]) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text", ADDRESS_PROSE)
def test_address_prose_yields_nothing(text: str) -> None:
    _check(text, {})


# --- URLs with defanged ports and paths, URLs wrapped in markup --------------------------------------------

URLS: list[Row] = [
    ("hxxps://evil[.]com[:]8443/gate[.]php?id=1", {"url": ["https://evil.com:8443/gate.php?id=1"]}),
    ("hxxps://evil[.]com(:)8443(/)gate.php", {"url": ["https://evil.com:8443/gate.php"]}),
    ("hxxps://evil[.]com{:}8443{/}gate.php", {"url": ["https://evil.com:8443/gate.php"]}),
    ("hxxps://evil[.]com[:8443]/gate.php", {"url": ["https://evil.com:8443/gate.php"]}),
    ("hxxps://1[.]2[.]3[.]4[:]8443/x", {"url": ["https://1.2.3.4:8443/x"]}),
    ("evil[.]com[:]8080[/]login", {"url": ["evil.com:8080/login"]}),
    ("hxxp://evil[.]com/a[/]b(/)c[.]exe", {"url": ["http://evil.com/a/b/c.exe"]}),
    ("hxxp://evil[.]com/a[.]b[?]x=1[&]y[=]2[#]top", {"url": ["http://evil.com/a.b?x=1&y=2#top"]}),
    ("hxxp://user:pass[@]evil[.]com[:]21/x", {"url": ["http://user:pass@evil.com:21/x"]}),
    ("hxxp[:]//evil[.]com[:]443[/]", {"url": ["http://evil.com:443/"]}),
    # Slack
    ("<hxxp://evil[.]com/a|label>", {"url": ["http://evil.com/a"]}),
    ("*<http://evil.com/a|evil>* and _<hxxp://evil[.]net/b|here>_", {"url": ["http://evil.com/a", "http://evil.net/b"]}),
    ("<https://evil.com/a?b=1&amp;c=2|click>", {"url": ["https://evil.com/a?b=1&c=2"]}),
    ("&lt;hxxp://evil[.]com/a&gt;", {"url": ["http://evil.com/a"]}),
    # OURS: a label that names the link's own host is the same link: its URL only
    ("<https://evil.com/a|evil[.]com>", {"url": ["https://evil.com/a"]}),
    ("<https://evil.com/a|other[.]net>", {"url": ["https://evil.com/a"], "domain": ["other.net"]}),
    # Markdown
    ("[click here](hxxp://evil[.]com/a)", {"url": ["http://evil.com/a"]}),
    ("[x](hxxp[:]//evil[.]com/a) [y](hxxp[://]evil[.]net/b)", {"url": ["http://evil.com/a", "http://evil.net/b"]}),
    ("[x](hxxp://evil[.]com/wiki/a_(b)c)", {"url": ["http://evil.com/wiki/a_(b)c"]}),
    ("[x](<http://evil.com/a>) [y](http://evil.net/b \"title\")", {"url": ["http://evil.com/a", "http://evil.net/b"]}),
    ("[**hxxp://evil[.]com/a**](hxxp://evil[.]com/a)", {"url": ["http://evil.com/a"]}),
    ("[evil[.]com](hxxp://evil[.]com/a)", {"url": ["http://evil.com/a"]}),
    ("[other.com](http://evil.com/a)", {"url": ["http://evil.com/a"], "domain": ["other.com"]}),
    ("[mail me](mailto:bob@evil.com)", {"email": ["bob@evil.com"]}),
    ("![img](http://evil.com/i.png) [ref]: http://evil.net/r", {"url": ["http://evil.com/i.png", "http://evil.net/r"]}),
    ("[![Chat at https://gitter.im/a/b](https://badges.gitter.im/a/b.svg)](https://gitter.im/a/b)",
     {"url": ["https://gitter.im/a/b", "https://badges.gitter.im/a/b.svg"]}),
]

URL_PROSE = [
    "see [1](2) and array[i](x)",
    "[note](#section) and [x]( y )",
    "answer [?] and [=] signs, port [:80] alone",
]


@pytest.mark.parametrize(("text", "expected"), URLS, ids=[t for t, _ in URLS])
def test_url_ports_paths_and_markup(text: str, expected: dict[str, list[str]]) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text", URL_PROSE)
def test_url_markup_prose_yields_nothing(text: str) -> None:
    _check(text, {})


# --- domains on a TLD that is also a source-file extension -------------------------------------------------

FILE_TLDS: list[Row] = [
    ("| evil.pl | 1.2.3.4 |", {"domain": ["evil.pl"], "ipv4": ["1.2.3.4"]}),
    ("|evil.cc|c2|", {"domain": ["evil.cc"]}),
    ("evil.pl | 1.2.3.4 | c2", {"domain": ["evil.pl"], "ipv4": ["1.2.3.4"]}),
    ("evil.pl,1.2.3.4,malware", {"domain": ["evil.pl"], "ipv4": ["1.2.3.4"]}),
    ("1.2.3.4;evil.sh", {"ipv4": ["1.2.3.4"], "domain": ["evil.sh"]}),
    ('"evil.py","c2"', {"domain": ["evil.py"]}),
    ("evil.rs\t1.2.3.4", {"domain": ["evil.rs"], "ipv4": ["1.2.3.4"]}),
    ("evil.sh. 300 IN A 1.2.3.4", {"domain": ["evil.sh"], "ipv4": ["1.2.3.4"]}),
    ("evil.sh IN A 1.2.3.4 and evil.md AAAA 2001:db8::1",
     {"domain": ["evil.sh", "evil.md"], "ipv4": ["1.2.3.4"], "ipv6": ["2001:db8::1"]}),
    ("www.evil.com. CNAME cdn.sh.", {"domain": ["www.evil.com", "cdn.sh"]}),
    ("evil.com. MX 10 mail.cc.", {"domain": ["evil.com", "mail.cc"]}),
    ("domain: evil.py", {"domain": ["evil.py"]}),
    ("host: evil.rs and Host: evil.md", {"domain": ["evil.rs", "evil.md"]}),
    ('{"domain": "evil.pl", "fqdn":"x.cc"}', {"domain": ["evil.pl", "x.cc"]}),
    ("domain=evil.sh", {"domain": ["evil.sh"]}),
    ("http://evil.md/x and evil.rs/serde", {"url": ["http://evil.md/x", "evil.rs/serde"]}),
    ("user@evil.cc", {"email": ["user@evil.cc"]}),
    ("evil[.]py", {"domain": ["evil.py"]}),
    # OURS: a key or a DNS record makes even a common file name a domain; a table or a CSV line does not
    ("host: setup.py", {"domain": ["setup.py"]}),
]

FILE_TLD_PROSE = [
    "please run install.sh and setup.py",
    "run setup.py, then install.sh",
    "curl x | sh install.sh",
    "cat setup.py | grep x",
    "see README.md and main.rs",
    "python setup.py install",
    "| setup.py | 12 |",
    "files: setup.py,install.sh",
    "the perl script evil.pl crashed",
    "\t_g_l_y_f.py",
    "\tsetup.py\tinstall.sh",
]


@pytest.mark.parametrize(("text", "expected"), FILE_TLDS, ids=[t for t, _ in FILE_TLDS])
def test_file_extension_tlds_in_domain_context(text: str, expected: dict[str, list[str]]) -> None:
    _check(text, expected)


@pytest.mark.parametrize("text", FILE_TLD_PROSE)
def test_bare_file_names_yield_nothing(text: str) -> None:
    _check(text, {})
