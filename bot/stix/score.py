"""The coalition's score on exported objects: `x_coalition_score`, a STIX 2.1 top-level property extension.

STIX `confidence` stays the submitter's own; the score (bot.score: confirmations and false positives weighted by
the organizations' trust, sightings, decay) at the time of the export is said in `x_coalition_score` (0-100),
declared by SCORE_EXTENSION_DEFINITION, which every bundle carrying it includes."""

from __future__ import annotations

from typing import Any

from bot.stix.ids import COALITION_IDENTITY, IDENTITY_CREATED, stable_uuid

SCORE_PROPERTY = "x_coalition_score"
SCORE_EXTENSION_ID = f"extension-definition--{stable_uuid('extension/x_coalition_score')}"
SCORE_EXTENSION_DEFINITION: dict[str, Any] = {
    "type": "extension-definition",
    "spec_version": "2.1",
    "id": SCORE_EXTENSION_ID,
    "created_by_ref": COALITION_IDENTITY,
    "created": IDENTITY_CREATED,
    "modified": IDENTITY_CREATED,
    "name": "Coalition score",
    "description": "The coalition's explainable score of an indicator at the time of the export",
    "schema": "x_coalition_score is an integer from 0 to 100: half the submitter's confidence, plus confirmations "
              "by other organizations and sightings, minus false-positive votes (each organization weighted by its "
              "trust), decayed since the last sighting or confirmation (MISP's polynomial decay over per-type "
              "lifetimes); `/ioc why` explains it in the coalition's chat.",
    "version": "1.0.0",
    "extension_types": ["toplevel-property-extension"],
    "extension_properties": [SCORE_PROPERTY],
}
_EXTENSIONS = {SCORE_EXTENSION_ID: {"extension_type": "toplevel-property-extension"}}


def add_score(obj: dict[str, Any], score: int) -> None:
    """Set `x_coalition_score` and declare its extension on `obj`."""
    obj[SCORE_PROPERTY] = score
    obj["extensions"] = {**obj.get("extensions", {}), **_EXTENSIONS}
