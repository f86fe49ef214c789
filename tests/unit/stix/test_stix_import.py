"""Reading STIX bundles as MISP and OpenCTI export them; malformed input is refused as a whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.ioc import IOCType
from bot.stix import ImportFormatError, read_file
from bot.tlp import TLP

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def plan(data: bytes, name: str = "x.json"):
    return read_file(data, name, default_tlp=TLP.AMBER, default_confidence=50, now=NOW)


def test_misp_bundle() -> None:
    p = plan((DATA / "misp_export.json").read_bytes())
    got = {(i.observable.type, i.observable.value): i for i in p.items}
    assert set(got) == {(IOCType.IPV4, "198.51.100.77"), (IOCType.DOMAIN, "emotet-c2.example"),
                        (IOCType.URL, "http://emotet-c2.example/gate.php")}
    ip = got[(IOCType.IPV4, "198.51.100.77")]
    assert ip.tlp is TLP.GREEN and ip.tags == ("emotet",) and ip.note == "Emotet C2" and ip.confidence == 50
    assert got[(IOCType.DOMAIN, "emotet-c2.example")].tags == ("emotet-epoch-5",)
    assert got[(IOCType.DOMAIN, "emotet-c2.example")].confidence == 90
    assert p.objects == 8
    assert p.skipped["AND in pattern (only simple comparisons and OR are imported)"] == 1
    assert p.skipped["not an indicator: report"] == 1 and p.skipped["not an indicator: ipv4-addr"] == 1
    assert p.skipped["supporting object: identity"] == 1


def test_opencti_bundle() -> None:
    p = plan((DATA / "opencti_export.json").read_bytes())
    got = {(i.observable.type, i.observable.value): i for i in p.items}
    domain = got[(IOCType.DOMAIN, "bad.example")]
    assert domain.tlp is TLP.AMBER_STRICT  # OpenCTI's own marking id, read by its name
    assert domain.tags == ("phishing", "credential-theft") and domain.confidence == 75
    assert domain.valid_until == datetime(2099, 1, 1, tzinfo=UTC)
    assert got[(IOCType.SHA256, "0" * 63 + "1")].tlp is TLP.RED
    assert (IOCType.CVE, "CVE-2021-44228") in got
    assert p.skipped["pattern_type yara (only stix is imported)"] == 1
    assert p.skipped["expired (valid_until has passed)"] == 1
    assert p.skipped["not an indicator: malware"] == 1 and p.skipped["not an indicator: relationship"] == 1


def test_text_and_csv_go_through_the_ioc_engine() -> None:
    p = plan(b"value,comment\nhxxp://evil[.]example/x,phish\n198.51.100[.]5,c2\n198.51.100.5,dup\n", "list.csv")
    assert p.format == "text"
    assert [(i.observable.type, i.observable.value) for i in p.items] == [
        (IOCType.URL, "http://evil.example/x"), (IOCType.IPV4, "198.51.100.5")]


@pytest.mark.parametrize(("data", "message"), [
    (b'{"type": "bundle", "id": "bundle--x", "objects": [', "malformed JSON"),
    (b'[1, 2]', "not a STIX bundle"),
    (b'{"type": "indicator"}', "expected 'bundle'"),
    (b'{"type": "bundle", "id": "bundle--1", "objects": {}}', "'objects' is not a list"),
    (b'{"type": "bundle", "id": "bundle--5c2f7e6a-7f4c-4b0e-9b3a-0d6f8e7c9a11", "objects": [{"type": "x"}]}',
     "needs a type and an id"),
    (b'{"type": "bundle", "id": "bundle--5c2f7e6a-7f4c-4b0e-9b3a-0d6f8e7c9a11", "objects": [{"type": "indicator", '
     b'"id": "indicator--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "pattern_type": "stix", "valid_from": "x"}]}',
     "needs pattern"),
    (b'{"type": "bundle", "id": "bundle--5c2f7e6a-7f4c-4b0e-9b3a-0d6f8e7c9a11", "objects": [{"type": "indicator", '
     b'"id": "indicator--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "pattern": "[ipv4-addr:value = \'1.2.3.4\']", '
     b'"pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "confidence": 300}]}', "confidence"),
    (b'\xff\xfe{', "not UTF-8"),
])
def test_malformed_files_are_refused_with_a_clear_error(data, message) -> None:
    with pytest.raises(ImportFormatError, match=message):
        plan(data)


def _bundle(*indicators: dict) -> bytes:
    objects = [{"type": "indicator", "spec_version": "2.1", "id": f"indicator--{n:08d}-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "created": "2026-10-01T10:00:00.000Z", "modified": "2026-10-01T10:00:00.000Z",
                "pattern_type": "stix", "valid_from": "2026-10-01T10:00:00Z", **fields}
               for n, fields in enumerate(indicators)]
    return json.dumps({"type": "bundle", "id": "bundle--5c2f7e6a-7f4c-4b0e-9b3a-0d6f8e7c9a11",
                       "objects": objects}).encode()


def test_objects_the_store_cannot_keep_are_skipped_one_by_one_and_the_rest_is_read() -> None:
    long_url = "http://evil.example/" + "a" * 2100
    p = plan(_bundle(
        {"pattern": f"[url:value = '{long_url}']"},
        {"pattern": "[url:value = 'http://evil.example/\x00x']"},
        {"pattern": "[domain-name:value = 'nul-note.example']", "description": "see\x00this"},
        {"pattern": "[domain-name:value = 'good.example']", "description": "fine"},
    ))
    assert [(i.observable.type, i.observable.value) for i in p.items] == [(IOCType.DOMAIN, "good.example")]
    assert p.skipped_count == 3
    notes = "\n".join(p.notes)
    assert "object 2" in notes and "NUL" in notes  # the description with a NUL is named, with the reason
    assert p.notes_count >= 1


def test_a_deeply_nested_bundle_is_a_format_error_not_a_crash() -> None:
    with pytest.raises(ImportFormatError, match="nested too deeply"):
        plan(b'{"type": "bundle", "objects": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")


SAME_AS_JSON = [
    (DATA / "misp_export.json").read_text(), (DATA / "opencti_export.json").read_text(),
    '{}', ' { } ', '{"objects": []}', '{"objects":[ ]}', '\n{ "a" : [ 1 , [2, {"b": [3]}] ,"x"] , "c": {"d": []} }\n',
    '{"objects": [{"a": 1}], "objects": [2]}', '[1, 2]', '"text"', '{"a": "\\u00e9\\ud83d\\ude00"}',
]
NOT_JSON = ['{"a": 1,}', '{"a" 1}', '{"a": [1 2]}', '{"a": [1,]}', '{"a": 1} x', '{a: 1}', '{"a": [', '{"a": 1',
            '{"a": [1], "b": tru}']


@pytest.mark.parametrize("text", SAME_AS_JSON)
def test_decoding_in_steps_gives_what_json_loads_gives(text, monkeypatch) -> None:
    from bot.stix import importer

    monkeypatch.setattr(importer, "STREAM_ABOVE", 0)  # every document goes the big-file way
    assert importer.loads(text) == json.loads(text)
    assert importer.loads(text.encode()) == json.loads(text)
    assert importer.loads(text.encode("utf-16")) == json.loads(text)


@pytest.mark.parametrize("text", NOT_JSON)
def test_decoding_in_steps_refuses_what_json_loads_refuses_at_the_same_place(text, monkeypatch) -> None:
    from bot.stix import importer

    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    monkeypatch.setattr(importer, "STREAM_ABOVE", 0)
    with pytest.raises(ImportFormatError) as got:
        importer.loads(text)
    assert f"line {expected.value.lineno}, column {expected.value.colno}" in str(got.value)
