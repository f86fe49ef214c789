"""Provenance of imported objects: `x_coalition_origin`, a STIX 2.1 top-level property extension.

An object the coalition imported (a file, a TAXII feed it pulls) keeps its id and `created`; who made it first is
said in `x_coalition_origin: {created_by_ref, name}` (the author identity's id and name, as far as they are
known). The property is declared by ORIGIN_EXTENSION_DEFINITION, which every bundle and feed carrying it
includes, so that strict validators and other platforms know what it is."""

from __future__ import annotations

from typing import Any

from bot.domain import Indicator
from bot.stix.ids import COALITION_IDENTITY, IDENTITY_CREATED, stable_uuid

ORIGIN_PROPERTY = "x_coalition_origin"
ORIGIN_EXTENSION_ID = f"extension-definition--{stable_uuid('extension/x_coalition_origin')}"
ORIGIN_EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": ORIGIN_EXTENSION_ID,
    "created_by_ref": COALITION_IDENTITY,
    "created": IDENTITY_CREATED,
    "modified": IDENTITY_CREATED,
    "name": "Coalition provenance",
    "description": "Who first made an object that a coalition imported from elsewhere and publishes again",
    "schema": "x_coalition_origin is an object: created_by_ref, the identity id of the object's first author (its "
              "created_by_ref where the coalition read it); name, that identity's name. Either may be missing.",
    "version": "1.0.0",
    "extension_types": ["toplevel-property-extension"],
    "extension_properties": [ORIGIN_PROPERTY],
}
_EXTENSIONS = {ORIGIN_EXTENSION_ID: {"extension_type": "toplevel-property-extension"}}


def has_origin(ind: Indicator) -> bool:
    """Whether an export shows this item's provenance: never for an anonymous item (its source could name the
    submitter's organization; bot.services stores none for it, this is the second lock)."""
    return bool(ind.origin_created_by or ind.origin_name) and not ind.anonymous


def add_origin(obj: dict[str, Any], ind: Indicator) -> None:
    """Set `x_coalition_origin` (only what is known) and declare its extension on `obj`."""
    found = {"created_by_ref": ind.origin_created_by, "name": ind.origin_name}
    obj[ORIGIN_PROPERTY] = {k: v for k, v in found.items() if v}
    obj["extensions"] = {**obj.get("extensions", {}), **_EXTENSIONS}
