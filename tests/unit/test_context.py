"""bot.context: threat types, malware family names and reference URLs, as a table of cases."""

from __future__ import annotations

import pytest

from bot.context import (
    THREAT_TYPES,
    ContextError,
    indicator_types,
    malware_name,
    reference,
    references,
    shown_reference,
    threat_type,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("botnet_cc", "botnet_cc"), ("C2", "botnet_cc"), ("payload-delivery", "payload_delivery"),
    ("Phishing", "phishing"), ("scanner", "scanner"), ("ransomware_leak", "ransomware_leak"), ("proxy", "anonymizer"),
])
def test_threat_types_and_aliases(raw, expected):
    assert threat_type(raw) == expected


@pytest.mark.parametrize("raw", ["", "evil", "botnet cc", "c2c", "payload_deliveryx"])
def test_an_unknown_threat_type_lists_them(raw):
    with pytest.raises(ContextError, match="threat: takes one of botnet_cc, payload_delivery, payload"):
        threat_type(raw)


def test_indicator_types_are_stix_vocabulary():
    vocabulary = {"anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity",
                  "attribution", "unknown"}
    for threat in THREAT_TYPES:
        assert set(indicator_types(threat)) <= vocabulary
    assert indicator_types("scanner") == ["anomalous-activity"]
    assert indicator_types("") == ["malicious-activity"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("emotet", "emotet"), ("Emotet", "emotet"), ("Cobalt Strike", "cobalt_strike"), ("cobalt-strike", "cobalt_strike"),
    ("  COBALT_STRIKE ", "cobalt_strike"), ("win.qakbot", "win.qakbot"), ("lock bit-3", "lock_bit_3"),
])
def test_malware_names_are_normalised(raw, expected):
    assert malware_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "_emotet", "emo/tet", "a" * 65, "emotet<@1>", "e\u202emotet", "émotet"])
def test_bad_malware_names_say_how(raw):
    with pytest.raises(ContextError, match="is not a family name; write letters, digits"):
        malware_name(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("https://reports.example/a?b=1", "https://reports.example/a?b=1"),
    ("hxxps://blog[.]example/x", "https://blog.example/x"),
    ("http://198.51.100.7:8080/report", "http://198.51.100.7:8080/report"),
])
def test_references(raw, expected):
    assert reference(raw) == expected


@pytest.mark.parametrize("raw", ["ftp://x.example/a", "https://", "javascript:alert(1)", "reports.example/a",
                                 "https://a b.example/", "https://x.example/" + "a" * 500, "http://a:99999/",
                                 "https://x.example/\u202e"])
def test_bad_references_say_how(raw):
    with pytest.raises(ContextError, match="is not a reference URL; give an http or https address"):
        reference(raw)


def test_at_most_three_references_and_shown_defanged():
    assert references(["https://a.example/1", "https://a.example/1", ""]) == ("https://a.example/1",)
    with pytest.raises(ContextError, match="at most 3 references"):
        references([f"https://a.example/{n}" for n in range(4)])
    assert shown_reference("https://reports.example/a") == "hxxps://reports[.]example/a"
