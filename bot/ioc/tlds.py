"""Top-level domains from the Public Suffix List shipped in ``publicsuffixlist`` (offline, lazy)."""

from __future__ import annotations

import functools
from importlib import resources

#: Special-use names (RFC 2606 / 6761 / 7686) that analysts use in examples and that are
#: real indicators (.onion), accepted although they are not delegated TLDs; and the IANA IDN test
#: TLDs (the internationalized ".test": ``إختبار``, ``测试``, ``परीक्षा``...), in punycode.
SPECIAL_TLDS = frozenset({
    "example", "test", "onion",
    "xn--kgbechtv", "xn--hgbk6aj7f53bba", "xn--0zwm56d", "xn--g6w251d", "xn--80akhbyknj4f",
    "xn--11b5bs3a9aj6g", "xn--jxalpdlp", "xn--9t4b11yi5a", "xn--deba0ad", "xn--zckzah", "xn--hlcj6aya9esc7a",
})


@functools.cache
def known_tlds() -> frozenset[str]:
    """Every top-level label of the PSL (ICANN and private sections), in ASCII (punycode) form."""
    data = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    out: set[str] = set(SPECIAL_TLDS)
    for line in data.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        label = line.rsplit(".", 1)[-1].lstrip("!*").strip()
        if not label:
            continue
        try:
            out.add(label.encode("idna").decode("ascii").lower())
        except UnicodeError:
            continue
    return frozenset(out)


def _ascii(label: str) -> str | None:
    try:
        return label.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


@functools.cache
def _psl_rules() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(plain rules, parents of ``*.`` rules, ``!`` exceptions) of the whole PSL, in ASCII."""
    data = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat").read_text("utf-8")
    plain: set[str] = set()
    wild: set[str] = set()
    excl: set[str] = set()
    for line in data.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0]
        target = plain
        if rule.startswith("!"):
            rule, target = rule[1:], excl
        elif rule.startswith("*."):
            rule, target = rule[2:], wild
        labels = [_ascii(lab) for lab in rule.split(".")]
        if all(labels):
            target.add(".".join(labels))  # type: ignore[arg-type]
    return frozenset(plain), frozenset(wild), frozenset(excl)


def is_public_suffix(name: str) -> bool:
    """Whether ``name`` (lower-case ASCII, no trailing dot) is a public suffix of the PSL, ICANN or
    private section (``com``, ``co.uk``, ``github.io``, ``s3.amazonaws.com``, ``workers.dev``)."""
    plain, wild, excl = _psl_rules()
    if name in plain or "." not in name:
        return True
    dot = name.find(".")
    return dot != -1 and name[dot + 1 :] in wild and name not in excl
