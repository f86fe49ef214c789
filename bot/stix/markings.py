"""TLP 2.0 as STIX 2.1 marking definitions (FIRST/OASIS, cti-stix-common-objects).

The `stix2` library predefines only the TLP 1.0 markings. TLP 2.0 is published by OASIS as a property
extension, `extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`, with one fixed marking-definition
per label (ids in `bot.tlp.STIX_MARKING_IDS`). The objects below are exactly those published objects; a
bundle that references a marking carries the marking-definition and the extension-definition.
"""

from __future__ import annotations

from typing import Any

from bot.tlp import STIX_MARKING_IDS, TLP

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"

# objects/extension-definition/extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json
TLP2_EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": TLP2_EXTENSION_ID,
    "created_by_ref": "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01",
    "created": TLP2_CREATED,
    "modified": TLP2_CREATED,
    "name": "TLP 2.0",
    "description": "This defines TLP 2.0 as a STIX extension",
    "schema": "https://github.com/oasis-open/cti-stix-common-objects/tree/master/extension-definition-specifications/"
              "tlp-2.0",
    "version": "1.0.0",
    "extension_types": ["property-extension"],
}


def _marking(tlp: TLP) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": STIX_MARKING_IDS[tlp],
        "created": TLP2_CREATED,
        "name": tlp.label,
        "extensions": {
            TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": tlp.value.lower()},
        },
    }


TLP2_MARKINGS: dict[TLP, dict[str, Any]] = {tlp: _marking(tlp) for tlp in TLP}

# The TLP 1.0 ids of STIX 2.1 (section 7.2.1.4), read on import only: WHITE is CLEAR in TLP 2.0.
TLP1_MARKING_IDS = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}

TLP_BY_MARKING_ID: dict[str, TLP] = {**TLP1_MARKING_IDS, **{v: k for k, v in STIX_MARKING_IDS.items()}}


def tlp_of_marking_object(obj: dict[str, Any]) -> TLP | None:
    """The TLP a marking-definition found in an imported bundle stands for, if any (MISP and OpenCTI
    sometimes mint their own ids: `definition_type: tlp` / `statement`, or a `TLP:...` name)."""
    known = TLP_BY_MARKING_ID.get(str(obj.get("id", "")))
    if known is not None:
        return known
    candidates: list[str] = []
    ext = obj.get("extensions")
    if isinstance(ext, dict) and isinstance(ext.get(TLP2_EXTENSION_ID), dict):
        candidates.append(str(ext[TLP2_EXTENSION_ID].get("tlp_2_0", "")))
    definition = obj.get("definition")
    if isinstance(definition, dict):
        candidates += [str(definition.get("tlp", "")), str(definition.get("statement", ""))]
    candidates += [str(obj.get("name", "")), str(obj.get("definition_type", ""))]
    for text in candidates:
        if text and text.lower().lstrip().startswith(("tlp:", "clear", "white", "green", "amber", "red")):
            try:
                return TLP.parse(text.strip())
            except ValueError:
                continue
    return None
