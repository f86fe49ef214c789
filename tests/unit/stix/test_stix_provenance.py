"""An imported STIX object keeps its identity: the reader keeps its id, `created` and first author; the writer
re-emits them (the author in `x_coalition_origin`, declared by its extension-definition), never for an anonymous
item."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.domain import Indicator, Status
from bot.ioc import IOCType
from bot.stix import (
    ORIGIN_EXTENSION_DEFINITION,
    ORIGIN_EXTENSION_ID,
    ORIGIN_PROPERTY,
    ActIds,
    bundle,
    indicator_object,
    org_identity_id,
    read_file,
)
from bot.stix.ids import vulnerability_id
from bot.tlp import TLP
from tests.stix_helpers import assert_valid_bundle

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
IDS = ActIds(b"test secret, 32 bytes long......")
VENDOR = "identity--2f0c7a8e-6d3b-4a1c-9e5f-7b8d9c0a1b2c"
CERT = "identity--5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"


def read(objects: list[dict]) -> list:
    data = json.dumps({"type": "bundle", "id": "bundle--6a8c3f0e-1d2b-4c5d-8e9f-0a1b2c3d4e5f",
                       "objects": objects}).encode()
    return read_file(data, "in.json", default_tlp=TLP.AMBER, default_confidence=50, now=NOW).items


def indicator(object_id: str, pattern: str, **extra: object) -> dict:
    return {"type": "indicator", "spec_version": "2.1", "id": object_id, "created": "2026-09-30T10:11:12.345Z",
            "modified": "2026-10-01T00:00:00.000Z", "pattern": pattern, "pattern_type": "stix",
            "valid_from": "2026-09-30T10:11:12.345Z", **extra}


def test_the_reader_keeps_id_created_and_author_and_the_first_author_of_a_relayed_object() -> None:
    one = "indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d10"
    relayed = "indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d11"
    items = read([
        {"type": "identity", "spec_version": "2.1", "id": VENDOR, "created": "2020-01-01T00:00:00.000Z",
         "modified": "2020-01-01T00:00:00.000Z", "name": "  Sentinel\nSecurity ", "identity_class": "organization"},
        indicator(one, "[ipv4-addr:value = '198.51.100.7']", created_by_ref=VENDOR),
        indicator(relayed, "[domain-name:value = 'relayed.example']", created_by_ref=VENDOR,
                  x_coalition_origin={"created_by_ref": CERT, "name": "National CERT"}),
        {"type": "vulnerability", "spec_version": "2.1", "id": "vulnerability--1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
         "created": "2026-09-01T00:00:00.000Z", "modified": "2026-09-01T00:00:00.000Z", "name": "CVE-2026-12345"},
    ])
    by_value = {it.observable.value: it for it in items}
    first = by_value["198.51.100.7"]
    assert (first.source_id, first.origin_created_by, first.origin_name) == (one, VENDOR, "Sentinel Security")
    assert first.origin_created == datetime(2026, 9, 30, 10, 11, 12, 345000, tzinfo=UTC)
    second = by_value["relayed.example"]
    assert (second.source_id, second.origin_created_by, second.origin_name) == (relayed, CERT, "National CERT")
    cve = by_value["CVE-2026-12345"]  # stored as indicator--<uuid>: the export's vulnerability--<uuid> again
    assert vulnerability_id(cve.source_id) == "vulnerability--1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
    assert cve.origin_created_by == ""  # no author given: none made up


def test_an_object_with_several_values_gives_each_a_stable_id_of_its_own() -> None:
    both = indicator("indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d12",
                     "[ipv4-addr:value = '198.51.100.8'] OR [ipv4-addr:value = '198.51.100.9']")
    first, again = read([both]), read([both])
    ids = [it.source_id for it in first]
    assert len(set(ids)) == 2 and both["id"] not in ids and all(i.startswith("indicator--") for i in ids)
    assert ids == [it.source_id for it in again]  # the same on every import: the object is recognised again


def held(**kw: object) -> Indicator:
    base: dict = dict(id=1, stix_id="indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d10", type=IOCType.IPV4,
                      value="198.51.100.7", status=Status.APPROVED, tlp=TLP.GREEN, confidence=80, tags=(), note="",
                      submitter_id=1, submitter_name="alice", org_id=3, org_name="Partner CERT", anonymous=False,
                      first_seen=NOW, last_seen=NOW, valid_until=None, created_at=NOW, modified_at=NOW,
                      origin_created_by=VENDOR, origin_name="Sentinel Security",
                      origin_created=NOW - timedelta(days=30))
    base.update(kw)
    return Indicator(**base)


def test_the_writer_re_emits_id_created_and_first_author_declared_by_its_extension() -> None:
    ind = held()
    obj = indicator_object(ind)
    assert obj["id"] == ind.stix_id and obj["created"] == "2026-10-02T09:00:00.000Z"
    assert obj["modified"] == "2026-11-01T09:00:00.000Z"  # its version here: modified after created
    assert obj["created_by_ref"] == org_identity_id(3)  # the organization that shared it here vouches for it
    assert obj[ORIGIN_PROPERTY] == {"created_by_ref": VENDOR, "name": "Sentinel Security"}
    assert obj["extensions"] == {ORIGIN_EXTENSION_ID: {"extension_type": "toplevel-property-extension"}}
    doc = assert_valid_bundle(bundle([ind, held(id=2, stix_id="indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d13",
                                               value="198.51.100.10", origin_created_by="", origin_name="",
                                               origin_created=None)], {3: "Partner CERT"}, ids=IDS))
    assert ORIGIN_EXTENSION_DEFINITION in doc["objects"]
    plain = next(o for o in doc["objects"] if o.get("name") == "ipv4: 198.51.100.10")
    assert ORIGIN_PROPERTY not in plain and "extensions" not in plain


def test_an_anonymous_item_shows_no_provenance() -> None:
    obj = indicator_object(held(anonymous=True))
    assert ORIGIN_PROPERTY not in obj and "extensions" not in obj
    text = json.dumps(assert_valid_bundle(bundle([held(anonymous=True)], {3: "Partner CERT"}, ids=IDS)))
    assert "Sentinel" not in text and VENDOR not in text and "Partner CERT" not in text
    assert ORIGIN_EXTENSION_ID not in text
