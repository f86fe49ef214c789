"""The TAXII server answers hostile input with a TAXII 400, over real HTTP: forged `next` cursors (a row id of
2^63 or more, a kind the feed has not, garbage), out-of-range timestamps, a 100,000-level nested envelope;
and a POST whose objects the store cannot keep stores the others and says which were skipped."""

from __future__ import annotations

import asyncio
import base64
import json

import requests

from adapters.taxii.app import INLINE_PARSE
from storage.uow import Store
from tests.taxii.test_taxii_server import MEDIA, taxii  # noqa: F401 - the fixture


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = {
    "row id 2^63": cursor(f"2026-11-01T09:00:00.000000Z|0|{2**63}"),
    "row id 10^30": cursor(f"2026-11-01T09:00:00.000000Z|0|{10**30}"),
    "negative row id": cursor("2026-11-01T09:00:00.000000Z|0|-1"),
    "a kind the feed has not": cursor("2026-11-01T09:00:00.000000Z|99|1"),
    "kind 2^64": cursor(f"2026-11-01T09:00:00.000000Z|{2**64}|1"),
    "a date before year 1 in UTC": cursor("0001-01-01T00:00:00+01:00|0|1"),
    "not a date": cursor("yesterday|0|1"),
    "unicode digits": cursor("2026-11-01T09:00:00.000000Z|0|²"),
    "two fields": cursor("2026-11-01T09:00:00.000000Z|0"),
    "not base64": "!!!not-base64!!!",
    "not text": base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    "very long": "A" * 5000,
}


def get(base: str, key: str, path: str, **params: str) -> requests.Response:
    return requests.get(f"{base}{path}", params=params, auth=("k", key), headers={"Accept": MEDIA}, timeout=10)


def assert_taxii_400(r: requests.Response) -> dict:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"] == MEDIA
    body = r.json()
    assert body["title"] == "Bad Request" and body["http_status"] == "400" and body["description"]
    return body


async def test_a_forged_next_cursor_is_a_taxii_400(taxii) -> None:  # noqa: F811
    base, keys, settings = taxii
    for name, forged in BAD_CURSORS.items():
        for what in ("objects", "manifest"):
            path = f"/coalition/collections/{settings.indicators_collection}/{what}/"
            r = await asyncio.to_thread(get, base, keys["bank"], path, next=forged)
            assert "next" in assert_taxii_400(r)["description"], name
    ok = await asyncio.to_thread(get, base, keys["bank"], f"/coalition/collections/{settings.indicators_collection}"
                                 "/objects/", limit="2")
    assert ok.status_code == 200 and ok.json()["more"] is True  # the server goes on serving
    genuine = await asyncio.to_thread(get, base, keys["bank"], f"/coalition/collections/"
                                      f"{settings.indicators_collection}/objects/", next=ok.json()["next"])
    assert genuine.status_code == 200


async def test_an_out_of_range_added_after_or_version_is_a_taxii_400(taxii) -> None:  # noqa: F811
    base, keys, settings = taxii
    path = f"/coalition/collections/{settings.indicators_collection}/objects/"
    for value in ["0001-01-01T00:00:00+01:00", "not a time", "9" * 5000]:
        assert_taxii_400(await asyncio.to_thread(get, base, keys["bank"], path, added_after=value))
        assert_taxii_400(await asyncio.to_thread(get, base, keys["bank"], path, **{"match[version]": value}))


def post(base: str, key: str, collection: str, body: bytes) -> requests.Response:
    return requests.post(f"{base}/coalition/collections/{collection}/objects/", data=body, auth=("k", key),
                         headers={"Accept": MEDIA, "Content-Type": MEDIA}, timeout=30)


async def test_a_deeply_nested_envelope_is_a_taxii_400(taxii) -> None:  # noqa: F811
    base, keys, settings = taxii
    for levels in (100_000, INLINE_PARSE):  # parsed on the event loop, and in a worker thread
        body = b'{"objects": ' + b"[" * levels + b"]" * levels + b"}"
        r = await asyncio.to_thread(post, base, keys["bank"], settings.submissions_collection, body)
        assert "nested too deeply" in assert_taxii_400(r)["description"]


async def test_a_post_with_objects_the_store_cannot_keep_stores_the_others(taxii, sqlite_store: Store) -> None:  # noqa: F811
    base, keys, settings = taxii
    common = {"spec_version": "2.1", "created": "2026-10-02T08:00:00.000Z", "modified": "2026-10-02T08:00:00.000Z",
              "pattern_type": "stix", "valid_from": "2026-10-02T08:00:00.000Z", "type": "indicator"}
    envelope = {"objects": [
        {**common, "id": "indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e",
         "pattern": "[ipv4-addr:value = '198.51.100.99']"},
        {**common, "id": "indicator--1b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e",
         "pattern": "[domain-name:value = 'nul-note.example']", "description": "a\u0000b"},
        {**common, "id": "indicator--2b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d3e",
         "pattern": "[domain-name:value = 'undefined-marking.example']",
         "object_marking_refs": ["marking-definition--11111111-2222-4333-8444-555555555555"]},
    ]}
    r = await asyncio.to_thread(post, base, keys["bank"], settings.submissions_collection,
                                json.dumps(envelope).encode())
    assert r.status_code == 202, r.text
    status = r.json()
    assert status["total_count"] == 3 and status["failure_count"] == 1
    report = status["x_coalition_report"]
    assert report["submitted"] == 2 and report["read_as_red"] == 1
    assert any("indicator--1b1c2d3e" in n and "NUL" in n for n in report["notes"])
    assert any("indicator--2b1c2d3e" in n and "read as RED" in n for n in report["notes"])
    async with sqlite_store.unit_of_work(read_only=True) as uow:
        held = await uow.indicators.by_values([("ipv4", "198.51.100.99"), ("domain", "nul-note.example"),
                                                ("domain", "undefined-marking.example")])
    assert sorted((i.value, i.tlp.value) for i in held) == [("198.51.100.99", "AMBER"),
                                                            ("undefined-marking.example", "RED")]
