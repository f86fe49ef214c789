"""The fast paths of extraction give what the full pass gives (issue 15, extraction speed).

The pre-filter skips a message that cannot hold an indicator: every message of the corpora and of the
obfuscation tables that yields something must pass it, and chat lines with a timestamp and a nick but no
indicator must not. A document is read line by line through the same filter and gives what the full pass gives.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ioc import Observable, extract
from bot.ioc.extraction import (
    _lines_worth_reading,
    _lines_worth_reading_py,
    _lines_worth_reading_re2,
    _nothing_to_find,
    _scan,
    _storable,
)
from bot.ioc.refanging import normalize
from tests.unit.ioc import test_ioc_obfuscation as obf
from tests.unit.ioc.corpus import load_corpus
from tests.unit.ioc.test_ioc_peer_cases import PEER_PATH

_TABLES = (obf.SCHEMES, obf.WORDS, obf.EMAILS, obf.ADDRESSES, obf.URLS, obf.FILE_TLDS)
_PROSE = (obf.SCHEME_PROSE, obf.WORD_PROSE, obf.EMAIL_PROSE, obf.ADDRESS_PROSE, obf.URL_PROSE, obf.FILE_TLD_PROSE)
TEXTS = sorted(
    {c.text for c in load_corpus()}
    | {c.text for c in load_corpus(PEER_PATH)}
    | {text for table in _TABLES for text, _ in table}
    | {text for prose in _PROSE for text in prose}
)
# Every line of every message on its own too: a line of a multi-line message is what a chat line is.
LINES = sorted({line for text in TEXTS for line in text.split("\n")} - set(TEXTS))


def _full_pass(text: str) -> list[str]:
    return [obs.value for obs, _, _ in _scan(normalize(text))]


@pytest.mark.parametrize("text", TEXTS + LINES)
def test_prefilter_never_skips_an_indicator(text: str) -> None:
    if _nothing_to_find(text):
        assert _full_pass(text) == [], text


def test_prefilter_skips_chat_lines_without_indicators() -> None:
    for line in (
        "[09:14] <alice> anyone seeing the new loader wave today",
        "[23:59:07] <bob_sec> ok 2 of them confirmed, 3 false positives, will escalate at 10:30",
        "[09:14] <[ops]zed> thanks (will do) {later}",
        "09:14 <dave-cert> as discussed: block, then vote",
        "[2026-11-30 09:14:22] <eve> ticket 4411 noted. Thanks.",
    ):
        assert _nothing_to_find(line), line


def test_prefilter_lets_through_what_indicators_need() -> None:
    for line in (
        "[09:14] <alice> evil[.]com", "[09:14] <alice> evil ( . ) com", "[09:14] <alice> 1[,]2[,]3[,]4",
        "[09:14] <alice> fe80[:][:]1", "[09:14] <alice> 2001:db8::1", "[09:14] <alice> see AS 13335",
        "[09:14] <alice> cve 2021 44228", "[09:14] <alice> evil dot com", "[09:14] <alice> evil[d0t]com",
        "[09:14] <alice> " + "ab" * 16, "[09:14] <alice> 1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        "[09:14] <alice> bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "[09:14] <alice> http%3A%2F%2Fevil%2Ecom",
    ):
        assert not _nothing_to_find(line), line


_SOUP = st.sampled_from(
    [*list("a1.:@/[](){}-_ <>|,%\\"), "[.]", "(.)", "[ . ]", "[,]", "[:]", "[::]", "::", "hxxp://", "dot", "d0t",
     "DOT", "punto", " at ", "arroba", "AS", "asn ", "cve", "CVE-", "bc1", "ff", "7", "[09:14] ", "<nick> ",
     "com", "evil", "%2E", "\n"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_SOUP, max_size=60).map("".join))
def test_prefilter_agrees_with_the_full_pass_on_soup(text: str) -> None:
    if _nothing_to_find(text):
        assert _full_pass(text) == [], text


def _full_extract(text: str) -> list[Observable]:
    seen: dict[Observable, None] = {}
    for obs, _, _ in _scan(normalize(text)):
        if obs not in seen and _storable(obs, None):
            seen[obs] = None
    return list(seen)


def test_a_document_reads_only_its_lines_with_indicators_and_finds_the_same() -> None:
    doc = "\n".join(
        [f"[09:{i % 60:02d}] <nick{i % 7}> {text}" if i % 2 else text for i, text in enumerate(TEXTS)]
        + ["firmware version", "1.2.3.4", "build v", "10.0.0.1 seen", "version:", " 8.8.8.8", "ok", "9.9.9.9"]
    )
    assert _lines_worth_reading(doc) != doc  # lines were skipped
    assert extract(doc) == _full_extract(doc)
    assert [o.value for o in extract("firmware version\n1.2.3.4\nok\n5.6.7.8")] == ["5.6.7.8"]


def test_re2_keeps_the_lines_the_python_filter_keeps() -> None:
    doc = "\n".join(
        [f"[09:{i % 60:02d}] <nick{i % 7}> {text}" if i % 2 else text for i, text in enumerate(TEXTS + LINES)]
        + ["firmware version", "1.2.3.4", "", "", "ok", "lone \ud800 surrogate", "caf\u00e9 evil[.]com", "\u200bx"]
    )
    assert _lines_worth_reading_re2(doc) == _lines_worth_reading_py(doc)
    big = (doc + "\n") * (70_000 // len(doc) + 1)
    assert len(big) >= 64 * 1024  # read with RE2
    assert _lines_worth_reading(big) == _lines_worth_reading_py(big)
    assert extract(big) == _full_extract(big)
