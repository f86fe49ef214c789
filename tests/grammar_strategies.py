"""Hypothesis strategies for the command and button grammars: random text, and near-valid commands built from
a verb and random option tokens (`valid:`, `since:`, `page:`, `#id`...) with the values that broke the bot
before: Unicode digits, lone surrogates, NUL and other controls, huge numbers, over-long URLs."""

from __future__ import annotations

from hypothesis import strategies as st

from bot.commands import VERBS

VERB_FORMS = [*VERBS, "admin org add", "admin org list", "admin member list", "admin member role",
              "admin invite create", "admin channel set", "admin channel show", "admin deliveries", "admin retry",
              "admin apikey create", "admin apikey list", "admin apikey revoke", ""]

OPTION_KEYS = ["tlp", "conf", "confidence", "tags", "tag", "valid", "note", "count", "type", "status", "org",
               "since", "page", "sector", "trust", "role", "uses", "expires", "ceiling", "purpose", "passive",
               "ephemeral", "format"]

NASTY = ["²", "٣", "१२", "①", "½", "\u0000", "\ud800", "\udfff", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff",
         "\n", "\t", "\r", "“", "”", '"', "'", "#", ":", ",", "-1", "+5", "1_000", " 5 ", "0x10", "1e3", "∞", "NaN"]

SAMPLE_VALUES = [
    "198.51.100.23", "203.0.113[.]7", "evil[.]example", "hxxps://login-northbank[.]example/verify",
    "44d88612fea8a8f36de82e1278abb02f", "CVE-2021-44228", "AS13335", "2001:db8::1", "10.0.0.0/8",
    "bad@evil.example", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "evil-cdn.example",
    "http://evil.example/" + "a" * 2100, "http://evil.example/%00", "http%3A%2F%2Fevil%2Eexample%2F%00",
    "http://evil.example/\u0000x", "http://" + "a" * 70 + ".example/", "a" * 300 + ".example",
]

WORDS = ["confirm", "fp", "withdraw", "member", "moderator", "admin", "green", "amber", "red", "amber+strict",
         "on", "off", "feed", "moderation", "general", "anon", "override", "Northbank", "Sentinel Security",
         "National Cyber Unit", "m1", "m5", "m99999999999999999999", "<@alice>", "<@U123|x>", "k1", "stix", "csv"]

DURATIONS = ["1m", "30m", "24h", "7d", "2w", "3650d", "3651d", "521w", "522w", "999999w", "9999999m", "0d", "0m",
             "5y", "d", "7", "-1d", "٣d", "²w"]


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(min_value=-5, max_value=12).map(str),
        st.integers(min_value=0, max_value=10**25).map(str),
        st.sampled_from(["9223372036854775807", "9223372036854775808", "18446744073709551616", "0" * 30 + "1",
                         "9" * 18, "9" * 19, "9" * 400]),
        st.sampled_from(NASTY),
    )


def free_text(max_size: int = 80) -> st.SearchStrategy[str]:
    """Any text, surrogates and controls included, and some with the grammar's own characters."""
    return st.one_of(
        st.text(max_size=max_size),
        st.text(st.characters(exclude_categories=()), max_size=max_size),
        st.lists(st.sampled_from(list(" #:\"'“”,.;[]()/\\@-_+0123456789abcxyz") + NASTY),
                 max_size=max_size // 2).map("".join),
    )


def _value() -> st.SearchStrategy[str]:
    return st.one_of(numbers(), st.sampled_from(DURATIONS), st.sampled_from(WORDS), st.sampled_from(SAMPLE_VALUES),
                     free_text(20))


def option_tokens() -> st.SearchStrategy[str]:
    return st.one_of(
        st.builds(lambda k, v: f"{k}:{v}", st.sampled_from(OPTION_KEYS), _value()),
        st.builds(lambda k, v: f'{k}:"{v}"', st.sampled_from(OPTION_KEYS), _value()),
        numbers().map(lambda n: f"#{n}"),
        numbers(),
        st.sampled_from(SAMPLE_VALUES),
        st.sampled_from(WORDS),
        st.sampled_from(NASTY),
        free_text(12).filter(lambda t: t.strip() != ""),
    )


def command_texts() -> st.SearchStrategy[str]:
    """A verb (or admin form, or nothing: a bare lookup) and up to eight random tokens."""
    return st.builds(lambda verb, tokens, sep: sep.join([verb, *tokens]).strip(),
                     st.sampled_from(VERB_FORMS), st.lists(option_tokens(), max_size=8),
                     st.sampled_from([" ", "  ", "\n", " \t "]))


def action_ids() -> st.SearchStrategy[str]:
    verbs = st.sampled_from(["vote", "approve", "reject", "revoke", "queue", "lookup", "delete", ""])
    args = st.sampled_from(["", ":confirm", ":false_positive", ":withdraw", ":maybe", ":" + "x" * 30, ":\u0000"])
    return st.builds(lambda v, n, a, tail: f"ioc:{v}:{n}{a}{tail}", verbs, numbers(), args,
                     st.sampled_from(["", "", "\n", "²", ":x:y"]))


def reasons() -> st.SearchStrategy[str]:
    return st.one_of(free_text(40), st.sampled_from(["", "  ", "benign CDN", "x" * 501, "a\u0000b", "\ud83d"]))


# ---------------------------------------------------------------- commands that parse (to reach the services)

GOOD_VALUES = ["198.51.100.23", "203.0.113[.]7", "evil[.]example", "hxxps://login-northbank[.]example/verify",
               "44d88612fea8a8f36de82e1278abb02f", "CVE-2021-44228", "AS13335", "2001:db8::1", "10.0.0.0/8",
               "bad@evil.example", "evil-cdn.example", "8.8.8.8", "d41d8cd98f00b204e9800998ecf8427e",
               "http://evil.example/" + "a" * 2028, "http://Évil.example/ü",
               "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
               "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "xn--80ak6aa92e.com", "203.0.113.1/32", "2001:db8::/32",
               "a" * 63 + ".example", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]
TLPS = ["clear", "green", "amber", "amber+strict", "red", "TLP:AMBER", "white"]
GOOD_DURATIONS = ["1m", "59m", "24h", "7d", "2w", "3650d", "521w", "87600h", "5256000m"]


def ids() -> st.SearchStrategy[str]:
    """Mostly the seeded items (#1-#4) and their neighbours, sometimes the largest ids a BIGINT holds."""
    return st.one_of(st.integers(1, 8), st.integers(1, 10**18 - 1)).map(lambda n: f"#{n}")


def _refs() -> st.SearchStrategy[list[str]]:
    return st.lists(st.one_of(ids(), st.sampled_from(GOOD_VALUES),
                              st.just("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")), min_size=1, max_size=3)


def _words(max_size: int = 4) -> st.SearchStrategy[list[str]]:
    word = st.one_of(st.sampled_from(["seen", "in", "our", "SOC", "ça", "日本", "*bold*", "<!channel>", "@everyone",
                                      "\u202eevil", "x" * 400]),
                     st.text(st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1,
                             max_size=10))
    return st.lists(word, max_size=max_size)


def _opt(key: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.one_of(st.just([]), values.map(lambda v: [f"{key}:{v}"]))


def _join(*parts: list[str]) -> str:
    return " ".join(p for part in parts for p in part)


def parsing_commands() -> st.SearchStrategy[str]:
    """Commands of every verb that mostly parse, with values at the edges of their limits."""
    n = st.integers
    pages = st.one_of(n(1, 3), st.just(10_000)).map(str)
    tags = st.lists(st.sampled_from(["emotet", "c2", "phishing", "t" * 64, "a.b:c/d+e-f"]), min_size=1,
                    max_size=20).map(",".join)
    verbs = [
        st.builds(lambda vs, *o: _join(["submit"], vs, *o), st.lists(st.sampled_from(GOOD_VALUES), min_size=1,
                  max_size=4), _opt("tlp", st.sampled_from(TLPS)), _opt("conf", n(0, 100).map(str)),
                  _opt("tags", tags), _opt("valid", st.sampled_from(GOOD_DURATIONS)),
                  st.sampled_from([[], ["anon"], ["override"], ["anon", "override"]]), _words()),
        st.builds(lambda rs: _join(["lookup"], rs), _refs()),
        st.builds(lambda rs: _join(rs), _refs()),
        st.builds(lambda r, v, w: _join(["vote", r, v], w), ids(),
                  st.sampled_from(["confirm", "fp", "withdraw", "+1", "-1"]), _words()),
        st.builds(lambda r, c, w: _join(["sighting", r], c, w), ids(),
                  _opt("count", st.one_of(n(1, 5), st.just(1_000_000)).map(str)), _words()),
        st.builds(lambda *o: _join(["search"], *o), _opt("type", st.sampled_from(["url", "ip", "domain,url", "hash"])),
                  _opt("tag", st.sampled_from(["emotet", "phishing", "t" * 64])),
                  _opt("status", st.sampled_from(["approved", "pending", "open", "rejected,revoked,expired"])),
                  _opt("org", st.sampled_from(["Northbank", '"Sentinel Security"', "nobody"])),
                  _opt("since", st.sampled_from(GOOD_DURATIONS)), _opt("tlp", st.sampled_from(TLPS)),
                  _opt("page", pages), _words(2)),
        st.builds(lambda p: _join(["queue"], p), _opt("page", pages)),
        st.builds(lambda v, rs, w: _join([v], rs, w), st.sampled_from(["approve", "reject", "revoke"]),
                  st.lists(ids(), min_size=1, max_size=3), _words()),
        st.sampled_from(["whoami", "stats", "help", "help vote", "join abc", "admin org list", "admin channel show",
                         "admin deliveries", "admin apikey list", "admin member list", "admin member list Northbank",
                         "export", "export format:csv status:pending,approved tlp:red", "export format:txt since:3650d",
                         "admin retry 1", "admin retry 9223372036854775807", "admin apikey revoke 1",
                         "admin apikey create Northbank ci key"]),
        st.builds(lambda name, *o: _join(["admin", "org", "add", name], *o),
                  st.sampled_from(['"Bank of Example"', "Northbank", "E" * 100, "Ça Banque", '"日本 CERT"']),
                  _opt("sector", st.sampled_from(["finance", "s" * 50])), _opt("trust", n(0, 100).map(str))),
        st.builds(lambda m, r: _join(["admin", "member", "role", m, r]),
                  st.sampled_from(["m1", "m2", "m4", "m5", "m99", "m999999999999999999", "<@alice>", "<@nobody>"]),
                  st.sampled_from(["member", "moderator", "admin"])),
        st.builds(lambda org, *o: _join(["admin", "invite", "create", org], *o),
                  st.sampled_from(["Northbank", '"Sentinel Security"', "Nobody"]),
                  _opt("role", st.sampled_from(["member", "moderator", "admin"])),
                  _opt("uses", st.sampled_from(["1", "1000"])), _opt("expires", st.sampled_from(GOOD_DURATIONS))),
        st.builds(lambda *o: _join(["admin", "channel", "set"], *o), _opt("ceiling", st.sampled_from(TLPS[:3])),
                  _opt("purpose", st.sampled_from(["feed", "moderation", "general"])),
                  _opt("passive", st.sampled_from(["on", "off"])), _opt("ephemeral", st.sampled_from(["on", "off"]))),
    ]
    return st.one_of(*verbs)


def sprinkled(commands: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A command that parses, with one of the characters or numbers that broke the bot put somewhere in it
    (inside a note, a value, an option, an id), or with an option at or past its limit added."""
    crashy = st.sampled_from(["\x00", "\ud800", "\udfff", "\x1b", "²", "٣"])
    nasty = st.one_of(crashy, crashy, st.sampled_from(NASTY), st.sampled_from(["9" * 20, "999999w", "a" * 2100]))
    inserted = st.builds(lambda text, at, bad: text[: at % (len(text) + 1)] + bad + text[at % (len(text) + 1):],
                         commands, st.integers(0, 10_000), nasty)
    options = st.sampled_from(["valid:999999w", "since:999999w", "expires:999999w", "valid:3650d", "since:3650d",
                               "count:99999999999999999999", "page:10001", "page:10000", "uses:1000", "#" + "9" * 19,
                               "#" + "9" * 18, "trust:100", "conf:100", "note:\x00", "a\ud800b", "x" * 2001])
    appended = st.builds(lambda text, option: f"{text} {option}", commands, options)
    return st.one_of(inserted, appended)
