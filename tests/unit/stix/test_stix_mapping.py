"""The STIX 2.1 mapping: patterns and their escaping, stable ids, TLP 2.0 markings, the validator."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import stix2

from bot.domain import Indicator, SightingRecord, Status, Verdict, VoteRecord
from bot.ioc import IOCType
from bot.stix import (
    COALITION_IDENTITY,
    ActIds,
    UnsupportedPattern,
    bundle,
    csv_rows,
    indicator_object,
    org_identity_id,
    parse_pattern,
    pattern_for,
)
from bot.tlp import TLP
from tests.stix_helpers import assert_valid_bundle

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
IDS = ActIds(b"test secret, 32 bytes long......")
EVERY_TYPE = [
    (IOCType.IPV4, "198.51.100.23", "[ipv4-addr:value = '198.51.100.23']"),
    (IOCType.IPV6, "2001:db8::1", "[ipv6-addr:value = '2001:db8::1']"),
    (IOCType.CIDR, "10.1.0.0/16", "[ipv4-addr:value = '10.1.0.0/16']"),
    (IOCType.CIDR, "2001:db8::/32", "[ipv6-addr:value = '2001:db8::/32']"),
    (IOCType.DOMAIN, "evil-cdn.example", "[domain-name:value = 'evil-cdn.example']"),
    (IOCType.URL, "http://evil.example/a'b\\c", "[url:value = 'http://evil.example/a\\'b\\\\c']"),
    (IOCType.EMAIL, "ceo@evil.example", "[email-addr:value = 'ceo@evil.example']"),
    (IOCType.MD5, "44d88612fea8a8f36de82e1278abb02f", "[file:hashes.'MD5' = '44d88612fea8a8f36de82e1278abb02f']"),
    (IOCType.SHA1, "3395856ce81f2b7382dee72602f798b642f14140",
     "[file:hashes.'SHA-1' = '3395856ce81f2b7382dee72602f798b642f14140']"),
    (IOCType.SHA256, "a" * 64, f"[file:hashes.'SHA-256' = '{'a' * 64}']"),
    (IOCType.SHA512, "b" * 128, f"[file:hashes.'SHA-512' = '{'b' * 128}']"),
    (IOCType.ASN, "AS13335", "[autonomous-system:number = 13335]"),
    (IOCType.BTC, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
     "[x-crypto-wallet:value = 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']"),
]


def indicator(n: int, type_: IOCType, value: str, **kw) -> Indicator:
    base = dict(id=n, stix_id=str(uuid.UUID(int=n, version=4)).join(("indicator--", "")), type=type_, value=value,
                status=Status.APPROVED, tlp=TLP.GREEN, confidence=80, tags=("emotet",), note="seen in SMS lures",
                submitter_id=1, submitter_name="alice", org_id=1, org_name="Northbank", anonymous=False,
                first_seen=NOW, last_seen=NOW, valid_until=NOW + timedelta(days=30), created_at=NOW,
                modified_at=NOW)
    base.update(kw)
    return Indicator(**base)


@pytest.mark.parametrize(("type_", "value", "pattern"), EVERY_TYPE)
def test_every_type_has_its_pattern_and_it_reads_back(type_, value, pattern) -> None:
    assert pattern_for(type_, value) == pattern
    stix2.Indicator(pattern=pattern, pattern_type="stix", valid_from=NOW, allow_custom=True)  # the library parses it
    if type_ is not IOCType.URL:  # (a quote ends a URL for the IOC engine, so it cannot come back as one)
        assert [(o.type, o.value) for o in parse_pattern(pattern)] == [(type_, value)]


def test_quotes_and_backslashes_are_escaped() -> None:
    pattern = pattern_for(IOCType.URL, "http://x.example/p?q=' OR 1=1 --\\")
    assert pattern == "[url:value = 'http://x.example/p?q=\\' OR 1=1 --\\\\']"
    from stix2patterns.v21.pattern import Pattern

    Pattern(pattern)  # the reference grammar parses it: the quote did not end the string
    assert "' OR 1=1" in pattern and "\\' OR 1=1" in pattern


def test_cve_is_a_vulnerability_and_not_patternable() -> None:
    assert pattern_for(IOCType.CVE, "CVE-2021-44228") is None
    obj = indicator_object(indicator(1, IOCType.CVE, "CVE-2021-44228"))
    assert obj["type"] == "vulnerability" and obj["name"] == "CVE-2021-44228"
    assert obj["external_references"] == [{"source_name": "cve", "external_id": "CVE-2021-44228"}]
    assert obj["id"].split("--")[1] == str(uuid.UUID(int=1, version=4))


def test_every_type_in_one_bundle_passes_the_validator_with_tlp_2_0_markings() -> None:
    inds = [indicator(n, t, v, tlp=list(TLP)[n % 5], anonymous=n % 4 == 0, org_id=1 + n % 2)
            for n, (t, v, _) in enumerate(EVERY_TYPE, start=1)]
    inds.append(indicator(99, IOCType.CVE, "CVE-2021-44228"))
    votes = {1: [VoteRecord(1, 7, 2, Verdict.CONFIRM, "seen in our SOC", NOW, NOW + timedelta(hours=1))],
             4: [VoteRecord(4, 8, 1, Verdict.FALSE_POSITIVE, "", NOW, NOW)],  # the anonymous submitter's own org
             99: [VoteRecord(99, 7, 2, Verdict.CONFIRM, "", NOW, NOW)]}
    sightings = {2: [SightingRecord(5, 2, 2, 3, NOW)]}
    doc = assert_valid_bundle(bundle(inds, {1: "Northbank", 2: "Sentinel Security"}, ids=IDS, votes=votes,
                                     sightings=sightings))
    by_type: dict[str, list] = {}
    for obj in doc["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    assert len(by_type["indicator"]) == len(EVERY_TYPE) and len(by_type["vulnerability"]) == 1
    assert len(by_type["marking-definition"]) == 5 and len(by_type["extension-definition"]) == 1
    opinions = {o["object_refs"][0]: o for o in by_type["opinion"]}
    assert opinions[inds[0].stix_id]["opinion"] == "agree"
    assert opinions[inds[0].stix_id]["created_by_ref"] == org_identity_id(2)
    assert opinions[inds[3].stix_id]["opinion"] == "disagree"
    assert opinions[inds[3].stix_id]["created_by_ref"] == COALITION_IDENTITY  # anonymity holds through votes
    anonymous = next(o for o in by_type["indicator"] if o["id"] == inds[3].stix_id)
    assert anonymous["created_by_ref"] == COALITION_IDENTITY
    assert "Northbank" not in json.dumps([o for o in doc["objects"] if o["type"] != "identity"])
    (sighting,) = by_type["sighting"]
    assert sighting["count"] == 3 and sighting["where_sighted_refs"] == [org_identity_id(2)]
    assert "alice" not in json.dumps(doc)  # members are never named


def test_exports_are_stable_and_a_change_moves_modified() -> None:
    ind = indicator(1, IOCType.DOMAIN, "evil.example")
    vote = VoteRecord(1, 7, 2, Verdict.CONFIRM, "", NOW, NOW)
    first = bundle([ind], {1: "N", 2: "S"}, ids=IDS, votes={1: [vote]})["objects"]
    again = bundle([ind], {1: "N", 2: "S"}, ids=IDS, votes={1: [vote]})["objects"]
    assert first == again
    changed = indicator_object(replace(ind, status=Status.REVOKED, modified_at=NOW + timedelta(days=1)))
    assert changed["id"] == first[0]["id"] and changed["modified"] > first[0]["modified"]
    assert changed["revoked"] is True


def test_csv_keeps_anonymity_and_defuses_formulas() -> None:
    rows = csv_rows([indicator(1, IOCType.DOMAIN, "evil.example", anonymous=True),
                     indicator(2, IOCType.URL, "http://x.example/", org_name="=cmd|' /C calc'!A0")],
                    viewer_org_id=2, header=True)
    assert "a coalition member" in rows and "Northbank" not in rows
    assert "'=cmd" in rows


@pytest.mark.parametrize(("pattern", "reason"), [
    ("[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'x.example']", "AND"),
    ("[url:value LIKE '%evil%']", "LIKE"),
    ("[ipv4-addr:value != '1.2.3.4']", "!="),
    ("[ipv4-addr:value = '1.2.3.4'] WITHIN 300 SECONDS", "WITHIN"),
    ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']", "FOLLOWEDBY"),
    ("[process:name = 'evil.exe']", "object path"),
    ("[file:hashes.'SSDEEP' = '3:abc']", "hash algorithm"),
    ("[ipv4-addr:value = 'not-an-ip']", "not a valid"),
    ("[ipv4-addr:value = '1.2.3.4'", "syntax"),
    ("ipv4-addr:value = '1.2.3.4'", "syntax"),
])
def test_patterns_we_do_not_import_say_why(pattern, reason) -> None:
    with pytest.raises(UnsupportedPattern, match=reason):
        parse_pattern(pattern)


def test_or_patterns_give_every_value() -> None:
    found = parse_pattern("[domain-name:value = 'a.example' OR domain-name:value = 'b.example'] OR "
                          "[file:hashes.MD5 = '44D88612FEA8A8F36DE82E1278ABB02F']")
    assert [(o.type.value, o.value) for o in found] == [
        ("domain", "a.example"), ("domain", "b.example"), ("md5", "44d88612fea8a8f36de82e1278abb02f")]
