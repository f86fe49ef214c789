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
