"""Top-level domains from the Public Suffix List shipped in ``publicsuffixlist`` (offline, lazy)."""

from __future__ import annotations

import functools

from bot.ioc.package_data import package_dir

#: Special-use names (RFC 2606 / 6761 / 7686) that analysts use in examples and that are
#: real indicators (.onion), accepted although they are not delegated TLDs; and the IANA IDN test
#: TLDs (the internationalized ".test": ``إختبار``, ``测试``, ``परीक्षा``...), in punycode.
SPECIAL_TLDS = frozenset({
    "example", "test", "onion",
    "xn--kgbechtv", "xn--hgbk6aj7f53bba", "xn--0zwm56d", "xn--g6w251d", "xn--80akhbyknj4f",
    "xn--11b5bs3a9aj6g", "xn--jxalpdlp", "xn--9t4b11yi5a", "xn--deba0ad", "xn--zckzah", "xn--hlcj6aya9esc7a",
})


def _psl_text() -> str:
    return (package_dir("publicsuffixlist") / "public_suffix_list.dat").read_text("utf-8")


@functools.cache
def _top_labels() -> tuple[frozenset[str], frozenset[str]]:
    """Every top-level label of the PSL (ICANN and private sections): (the ASCII ones, lower-cased, with
    :data:`SPECIAL_TLDS`; the others as the list writes them, in Unicode). The Unicode ones are not converted
    to punycode here: a few labels asked about are, instead (`is_known_tld`), which spares reading the list
    ~6 ms of the IDNA codec."""
    # A rule's last label; a line that starts with "/" is a comment (no rule does), a blank line gives "".
    labels = {line.rsplit(".", 1)[-1].strip().lstrip("!*") for line in _psl_text().splitlines()
              if line and line[0] != "/"}
    ascii_labels = {a for a in map(_ascii, filter(str.isascii, labels)) if a}
    return frozenset(SPECIAL_TLDS | ascii_labels), frozenset(label for label in labels if not label.isascii())


def is_known_tld(label: str) -> bool:
    """Whether ``label`` (lower-case ASCII: punycode for an internationalized one) is a top-level label of the
    PSL or a special-use one (:data:`SPECIAL_TLDS`). ``xn--p1ai`` is known as the list's ``рф``: decoded, and
    encoded back to the very same label (no other spelling of it counts), which is what the IDNA codec makes of
    each of the list's labels (tests/unit/ioc/test_ioc_tlds.py)."""
    ascii_labels, unicode_labels = _top_labels()
    if label in ascii_labels:
        return True
    if not label.startswith("xn--"):
        return False
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return False
    return decoded in unicode_labels and "xn--" + decoded.encode("punycode").decode("ascii") == label


@functools.cache
def _ascii(label: str) -> str | None:
    """A label in lower-case ASCII (punycode), or None. An ASCII label is what IDNA would make of it, without the
    codec; each label is converted once (the list repeats them): reading the list took ~40 ms, most of it IDNA."""
    if label.isascii():
        return label.lower() if 0 < len(label) < 64 else None
    try:
        return label.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


@functools.cache
def _psl_rules() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(plain rules, parents of ``*.`` rules, ``!`` exceptions) of the whole PSL, in ASCII."""
    plain: set[str] = set()
    wild: set[str] = set()
    excl: set[str] = set()
    for line in _psl_text().splitlines():
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
