"""Top-level domains from the Public Suffix List shipped in ``publicsuffixlist`` (offline, lazy)."""

from __future__ import annotations

import functools
from importlib import resources

#: Special-use names (RFC 2606 / 6761 / 7686) that analysts use in examples and that are
#: real indicators (.onion), accepted although they are not delegated TLDs.
SPECIAL_TLDS = frozenset({"example", "test", "onion"})


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
