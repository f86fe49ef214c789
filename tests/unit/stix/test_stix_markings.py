"""Import markings, form by form: what each becomes (a TLP label, or RED with a note saying why), never the
default TLP for a marking that is not understood."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.stix import read_file
from bot.stix.markings import TLP1_MARKING_IDS
from bot.tlp import STIX_MARKING_IDS, TLP

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
DEFAULT = TLP.AMBER
IND = "indicator--7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CUSTOM = "marking-definition--11111111-2222-4333-8444-555555555555"
OTHER = "marking-definition--66666666-7777-4888-8999-000000000000"
TLP1 = {tlp: marking_id for marking_id, tlp in TLP1_MARKING_IDS.items()}


def definition(marking_id: str = CUSTOM, **fields: Any) -> dict[str, Any]:
    return {"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
            "created": "2022-10-01T00:00:00.000Z", **fields}


def read(*, refs: list[Any] | None = None, labels: list[Any] | None = None, defs: tuple[dict, ...] = (),
         granular: list[dict] | None = None):
    indicator: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1", "id": IND, "created": "2026-10-01T10:00:00.000Z",
        "modified": "2026-10-01T10:00:00.000Z", "pattern": "[domain-name:value = 'evil.example']",
        "pattern_type": "stix", "valid_from": "2026-10-01T10:00:00Z"}
    if refs is not None:
        indicator["object_marking_refs"] = refs
    if labels is not None:
        indicator["labels"] = labels
    if granular is not None:
        indicator["granular_markings"] = granular
    doc = {"type": "bundle", "id": "bundle--5c2f7e6a-7f4c-4b0e-9b3a-0d6f8e7c9a11", "objects": [*defs, indicator]}
    plan = read_file(json.dumps(doc).encode(), "x.json", default_tlp=DEFAULT, default_confidence=50, now=NOW)
    (item,) = plan.items
    return item.tlp, plan


UNDERSTOOD = [  # (case, markings, the TLP it is read as)
    ("no marking at all: the importer's default", {}, DEFAULT),
    *[(f"official TLP 2.0 id of {t.value}, not defined in the file", {"refs": [STIX_MARKING_IDS[t]]}, t)
      for t in TLP],
    ("TLP 1.0 WHITE is TLP 2.0 CLEAR", {"refs": [TLP1[TLP.CLEAR]]}, TLP.CLEAR),
    ("TLP 1.0 GREEN", {"refs": [TLP1[TLP.GREEN]]}, TLP.GREEN),
    ("TLP 1.0 AMBER", {"refs": [TLP1[TLP.AMBER]]}, TLP.AMBER),
    ("TLP 1.0 RED", {"refs": [TLP1[TLP.RED]]}, TLP.RED),
    ("an official id wins over what a file redefines it as",
     {"refs": [STIX_MARKING_IDS[TLP.RED]], "defs": (definition(STIX_MARKING_IDS[TLP.RED], name="TLP:CLEAR"),)},
     TLP.RED),
    ("own id, TLP 1.0 form (MISP)", {"refs": [CUSTOM], "defs": (
        definition(definition_type="tlp", name="TLP:GREEN", definition={"tlp": "green"}),)}, TLP.GREEN),
    ("own id, OpenCTI's AMBER+STRICT", {"refs": [CUSTOM], "defs": (
        definition(definition_type="TLP", name="TLP:AMBER+STRICT", definition={"tlp": "AMBER+STRICT"}),)},
     TLP.AMBER_STRICT),
    ("own id, TLP 2.0 extension", {"refs": [CUSTOM], "defs": (definition(
        name="TLP:AMBER", extensions={"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
            "extension_type": "property-extension", "tlp_2_0": "amber"}}),)}, TLP.AMBER),
    ("label tlp:red without a marking", {"labels": ["tlp:red"]}, TLP.RED),
    ("label TLP:CLEAR without a marking", {"labels": ["TLP:CLEAR"]}, TLP.CLEAR),
    ("label tlp:white (TLP 1.0)", {"labels": ["tlp:white"]}, TLP.CLEAR),
    ("label tlp:amber+strict", {"labels": ["tlp:amber+strict"]}, TLP.AMBER_STRICT),
    ("the most restrictive of a marking and a label", {"refs": [STIX_MARKING_IDS[TLP.GREEN]],
                                                       "labels": ["tlp:amber"]}, TLP.AMBER),
    ("the most restrictive of two markings", {"refs": [STIX_MARKING_IDS[TLP.CLEAR], STIX_MARKING_IDS[TLP.RED]]},
     TLP.RED),
    ("a granular marking counts for the whole object",
     {"refs": [STIX_MARKING_IDS[TLP.GREEN]],
      "granular": [{"marking_ref": STIX_MARKING_IDS[TLP.RED], "selectors": ["pattern"]}]}, TLP.RED),
    ("PAP:GREEN restricts nothing we carry", {"refs": [STIX_MARKING_IDS[TLP.GREEN], CUSTOM], "defs": (
        definition(definition_type="PAP", name="PAP:GREEN"),)}, TLP.GREEN),
    ("label pap:clear", {"labels": ["pap:clear"], "refs": [STIX_MARKING_IDS[TLP.GREEN]]}, TLP.GREEN),
    ("ordinary labels are tags, not markings", {"labels": ["phishing", "tlp-like"]}, DEFAULT),
]


@pytest.mark.parametrize(("case", "given", "expected"), UNDERSTOOD, ids=[c[0] for c in UNDERSTOOD])
def test_an_understood_marking_gives_its_label(case, given, expected) -> None:
    tlp, plan = read(**given)
    assert tlp is expected, case
    assert plan.read_as_red == 0 and plan.notes == []


NOT_UNDERSTOOD = [  # (case, markings, words the note must hold)
    ("a reference to a marking defined nowhere", {"refs": [CUSTOM]}, "is not defined in the file"),
    ("an official-looking name on an own id", {"refs": [CUSTOM], "defs": (
        definition(definition_type="tlp", name="TLP:RED (restricted)"),)}, "TLP:RED (restricted)"),
    ("a TLP definition that is not a label", {"refs": [CUSTOM], "defs": (
        definition(definition_type="tlp", name="TLP", definition={"tlp": "purple"}),)}, "purple"),
    ("two labels that disagree", {"refs": [CUSTOM], "defs": (
        definition(definition_type="tlp", name="TLP:GREEN", definition={"tlp": "red"}),)}, "two different"),
    ("an unknown PAP marking", {"refs": [CUSTOM], "defs": (definition(definition_type="PAP", name="PAP:PURPLE"),)},
     "PAP:PURPLE"),
    ("PAP:RED (not carried by any TLP label)", {"refs": [CUSTOM], "defs": (
        definition(definition_type="PAP", name="PAP:RED"),)}, "cannot carry"),
    ("a statement marking", {"refs": [CUSTOM], "defs": (
        definition(definition_type="statement", definition={"statement": "Copyright ACME, do not share"}),)},
     "statement"),
    ("an unknown definition type", {"refs": [CUSTOM], "defs": (definition(definition_type="x-acme-secret"),)},
     "x-acme-secret"),
    ("a reference that is not a string", {"refs": [{"id": CUSTOM}]}, "not a string"),
    ("an unknown tlp: label", {"labels": ["tlp:restricted"]}, "tlp:restricted"),
    ("an unknown pap: label", {"labels": ["pap:purple"]}, "pap:purple"),
    ("a granular marking defined nowhere", {"granular": [{"marking_ref": OTHER, "selectors": ["pattern"]}]},
     "is not defined"),
    ("not understood beside an official GREEN: RED wins", {"refs": [STIX_MARKING_IDS[TLP.GREEN], CUSTOM]},
     "is not defined"),
]


@pytest.mark.parametrize(("case", "given", "why"), NOT_UNDERSTOOD, ids=[c[0] for c in NOT_UNDERSTOOD])
def test_a_marking_not_understood_is_read_as_red_and_the_note_says_why(case, given, why) -> None:
    tlp, plan = read(**given)
    assert tlp is TLP.RED, case
    assert plan.read_as_red == 1 and plan.notes_count == 1
    (note,) = plan.notes
    assert note.startswith(f"object 0 ({IND}): read as RED: ") or note.startswith(f"object 1 ({IND}): read as RED")
    assert why in note, note


def test_tlp_and_pap_labels_are_not_kept_as_tags() -> None:
    tlp, plan = read(labels=["tlp:green", "pap:green", "emotet"])
    assert tlp is TLP.GREEN and plan.items[0].tags == ("emotet",)
