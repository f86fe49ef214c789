"""The hand-written chat corpus: every message gives exactly its expected indicators."""

from __future__ import annotations

import pytest

from bot.ioc import extract_grouped
from tests.unit.ioc.corpus import load_corpus, score

CASES = load_corpus()


def test_corpus_is_large_and_covers_every_type() -> None:
    assert len(CASES) >= 150
    types = {t for c in CASES for t in c.expected}
    assert types == {"ipv4", "ipv6", "cidr", "domain", "url", "email", "md5", "sha1", "sha256", "sha512",
                     "cve", "asn", "btc"}
    assert sum(1 for c in CASES if not c.expected) >= 30  # negatives


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_case(case) -> None:
    got = {t: set(v) for t, v in extract_grouped(case.text).items()}
    assert got == case.expected


def test_micro_f1() -> None:
    p, r, f, _ = score(CASES, extract_grouped)
    assert f >= 0.97, (p, r, f)
