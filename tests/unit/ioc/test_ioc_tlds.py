"""The Public Suffix List as the engine reads it (bot.ioc.tlds): the fast path for ASCII labels gives what the IDNA
codec gives, for every label of the list."""

from __future__ import annotations

from bot.ioc import tlds


def _by_codec(label: str) -> str | None:
    try:
        return label.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def test_every_label_of_the_list_converts_as_the_idna_codec_converts_it():
    labels = {label for line in tlds._psl_text().splitlines() if line.strip() and not line.startswith("//")
              for label in line.strip().lstrip("!*.").split(".")}
    assert len(labels) > 5000 and any(not label.isascii() for label in labels)
    assert {label: tlds._ascii(label) for label in labels} == {label: _by_codec(label) for label in labels}
    for odd in ("a" * 64, "COM", "Xn--P1ai", "рф", "a" * 63):
        assert tlds._ascii(odd) == _by_codec(odd), odd
    assert tlds._ascii("") is None  # no label (the codec gives ""): both are refused by the callers


def _top_labels_by_codec() -> set[str]:
    """The top-level labels as the list's rules end, each converted by the IDNA codec."""
    labels = {line.strip().rsplit(".", 1)[-1].lstrip("!*") for line in tlds._psl_text().splitlines()
              if line.strip() and not line.startswith("//")}
    return {a for a in map(_by_codec, labels) if a} | tlds.SPECIAL_TLDS


def test_the_top_level_labels_are_the_last_labels_of_the_rules_as_the_idna_codec_writes_them():
    known = _top_labels_by_codec()
    assert {"com", "uk", "jp", "xn--p1ai", "ck", "example", "onion"} <= known and "co.uk" not in known
    assert sum(label.startswith("xn--") for label in known) > 100
    assert all(tlds.is_known_tld(label) for label in known)
    # ... and nothing else: each known label changed in every way that could still decode, and other names
    unknown = {"co.uk", "", "xn--", "xn--p1ai-", "xn--p1aj", "xn--p1a", "xn--xn--p1ai", "p1ai", "рф", "Com", "COM",
               "xn--P1AI", "xn--p1ai.", "comm", "exampl", "localhost", "local", "lan", "internal", "xn--zz", "xn--a"}
    unknown |= {label[:-1] + ("a" if label[-1] != "a" else "b") for label in known}
    unknown |= {label + "a" for label in known}
    unknown -= known
    assert not [label for label in unknown if tlds.is_known_tld(label)]
