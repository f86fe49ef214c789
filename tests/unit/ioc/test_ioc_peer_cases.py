"""Cases adapted from other IOC extractors' test suites (data/peer_cases.txt), scored as a whole.

Individual cases may disagree with our rules on purpose (marked "OURS:" in their labels, with the
expected values already written under our rules); the corpus as a whole must stay above 0.97 micro F1.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.ioc import extract_grouped
from tests.unit.ioc.corpus import load_corpus, score

PEER_PATH = Path(__file__).parent / "data" / "peer_cases.txt"
CASES = load_corpus(PEER_PATH)


def test_peer_corpus_is_large() -> None:
    assert len(CASES) >= 150
    assert sum(1 for c in CASES if not c.expected) >= 20  # negatives


def test_peer_micro_f1() -> None:
    p, r, f, errors = score(CASES, extract_grouped)
    if f < 0.97:
        misses: Counter[str] = Counter()
        extras: Counter[str] = Counter()
        for _, fp, fn in errors:
            extras.update(t for t, _ in fp)
            misses.update(t for t, _ in fn)
        detail = "\n".join(f"  {label}: extra {fp} missing {fn}" for label, fp, fn in errors)
        raise AssertionError(
            f"peer corpus P={p:.3f} R={r:.3f} F1={f:.3f}\nmissed per type: {dict(misses)}\n"
            f"false positives per type: {dict(extras)}\n{detail}"
        )
