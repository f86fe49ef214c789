"""Loader and scorer for the hand-written chat corpus (data/chat_corpus.txt)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CORPUS_PATH = Path(__file__).parent / "data" / "chat_corpus.txt"


@dataclass
class Case:
    label: str
    text: str
    expected: dict[str, set[str]] = field(default_factory=dict)


def load_corpus(path: Path = CORPUS_PATH) -> list[Case]:
    cases: list[Case] = []
    cur: Case | None = None
    lines: list[str] = []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("%% "):
            if cur is not None:
                cur.text = "\n".join(lines)
                cases.append(cur)
            cur, lines = Case(line[3:].strip(), ""), []
        elif cur is None:
            continue
        elif line.startswith("=> "):
            typ, *vals = line[3:].split()
            cur.expected.setdefault(typ, set()).update(vals)
        else:
            lines.append(line)
    if cur is not None:
        cur.text = "\n".join(lines)
        cases.append(cur)
    return cases


def score(cases: list[Case], run: Callable[[str], dict[str, list[str]]]) -> tuple[float, float, float, list]:
    """Micro precision, recall, F1 over (type, value) pairs, and the per-case errors."""
    tp = fp = fn = 0
    errors = []
    for case in cases:
        got = {(t, v) for t, vals in run(case.text).items() for v in vals}
        exp = {(t, v) for t, vals in case.expected.items() for v in vals}
        tp += len(got & exp)
        fp += len(got - exp)
        fn += len(exp - got)
        if got != exp:
            errors.append((case.label, sorted(got - exp), sorted(exp - got)))
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, errors
