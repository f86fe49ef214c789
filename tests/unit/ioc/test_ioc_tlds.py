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


def test_the_top_level_labels_are_the_last_labels_of_the_rules():
    known = tlds.known_tlds()
    assert {"com", "uk", "jp", "xn--p1ai", "example", "onion"} <= known
    assert "co.uk" not in known and "" not in known and all(t == t.lower() and t.isascii() for t in known)
