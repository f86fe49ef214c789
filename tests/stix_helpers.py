"""Checks every exported bundle in the tests goes through: stix2-validator (strict), plus what the validator
does not check: TLP 2.0 marking-definitions exactly as OASIS published them, and every marking referenced
is carried by the bundle."""

from __future__ import annotations

import json
from typing import Any

from stix2validator import ValidationOptions, validate_string

from bot.tlp import STIX_MARKING_IDS

TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
OFFICIAL = {  # id -> (name, tlp_2_0), from oasis-open/cti-stix-common-objects
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": ("TLP:CLEAR", "clear"),
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": ("TLP:GREEN", "green"),
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": ("TLP:AMBER", "amber"),
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": ("TLP:AMBER+STRICT", "amber+strict"),
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": ("TLP:RED", "red"),
}


def assert_valid_bundle(bundle: dict[str, Any] | str) -> dict[str, Any]:
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    doc = json.loads(text)
    result = validate_string(text, ValidationOptions(strict=True, version="2.1"))
    assert result.is_valid, [str(e) for e in getattr(result, "errors", [])] or result.as_dict()
    assert set(STIX_MARKING_IDS.values()) == set(OFFICIAL)
    by_id = {o["id"]: o for o in doc["objects"]}
    for obj in doc["objects"]:
        for ref in obj.get("object_marking_refs", []):
            assert ref in OFFICIAL, f"{obj['id']} references {ref}, not a TLP 2.0 marking"
            assert ref in by_id, f"{ref} is referenced but not in the bundle"
        if obj["type"] == "marking-definition":
            name, level = OFFICIAL[obj["id"]]
            assert obj["name"] == name and obj["created"] == "2022-10-01T00:00:00.000Z"
            assert obj["extensions"] == {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}}
            assert TLP2_EXTENSION in by_id
        for key in ("created_by_ref", "sighting_of_ref"):
            if key in obj and obj["type"] != "extension-definition":  # (OASIS's own identity)
                assert obj[key] in by_id, f"{obj['id']}: {key} {obj[key]} is not in the bundle"
    return doc
