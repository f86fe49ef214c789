"""TLP 2.0 as STIX 2.1 marking definitions (FIRST/OASIS, cti-stix-common-objects).

The `stix2` library predefines only the TLP 1.0 markings. TLP 2.0 is published by OASIS as a property
extension, `extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`, with one fixed marking-definition
per label (ids in `bot.tlp.STIX_MARKING_IDS`). The objects below are exactly those published objects; a
bundle that references a marking carries the marking-definition and the extension-definition.
"""

from __future__ import annotations

from typing import Any

from bot.tlp import STIX_MARKING_IDS, TLP
from bot.values import frozen

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


# ---------------------------------------------------------------- reading markings on import
#
# A marking restricts who may see an object. One the importer does not understand is never ignored (which
# used to make it the default TLP, AMBER): it is read as RED, the most restrictive label, and the import
# report says which objects and why. The forms, and what each becomes:
#
# * an official TLP 2.0 or TLP 1.0 marking-definition id (referenced, defined in the file or not): its label
#   (TLP 1.0 WHITE is CLEAR; GREEN, AMBER, RED are the same in both);
# * a marking-definition in the file with its own id (MISP and OpenCTI mint some) that says one TLP label
#   exactly, in every place it says one (name "TLP:AMBER+STRICT", definition {"tlp": ...}, the TLP 2.0
#   extension): that label; anything else that looks like TLP ("TLP:RED (restricted)", "TLP:GREEN-ish",
#   two labels that disagree): RED;
# * PAP (Permissible Actions Protocol): PAP:CLEAR / WHITE / GREEN restrict nothing the coalition carries and
#   are ignored; PAP:AMBER and PAP:RED restrict what may be done, which no TLP label carries: RED;
# * a statement (terms of use, copyright) or any other marking-definition: RED;
# * a reference to a marking defined neither in the file nor officially, or not a string: RED;
# * `labels` of the object: `tlp:<label>` as the marking would be (an unknown `tlp:` label is RED), `pap:` as
#   PAP above;
# * granular_markings count as if they marked the whole object.
#
# Several markings: the most restrictive wins. No marking at all: the importer's default TLP.

_PAP_PERMISSIVE = {"CLEAR", "WHITE", "GREEN"}
_PAP_RESTRICTIVE = {"AMBER", "RED"}


@frozen
class Marking:
    """What one marking means on import: a TLP label, nothing (`tlp` None, e.g. PAP:GREEN), or not understood
    (`problem` says why; such a marking is read as RED)."""

    tlp: TLP | None
    problem: str = ""

    @property
    def effective(self) -> TLP | None:
        return TLP.RED if self.problem else self.tlp


IGNORED = Marking(None)


def _exact_tlp(text: str) -> TLP | None:
    """The TLP label this text is, exactly (`green`, `TLP:AMBER+STRICT`, TLP 1.0 `white`), or None."""
    t = text.strip()
    if not t or len(t) > 40:
        return None
    body = t[4:] if t[:4].lower() == "tlp:" else t
    if not body.replace("+", "").replace("-", "").replace("_", "").isalpha():
        return None
    try:
        return TLP.parse(t)
    except ValueError:
        return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def read_pap(text: str) -> Marking:
    level = text.strip()[4:].strip().upper()
    if level in _PAP_PERMISSIVE:
        return IGNORED
    if level in _PAP_RESTRICTIVE:
        return Marking(None, f"{_short(text)} limits what may be done with it, which the coalition cannot carry")
    return Marking(None, f"{_short(text)} is not a PAP level the coalition knows")


def read_label(label: str) -> Marking:
    """An object's label: `tlp:...` and `pap:...` are markings; any other label is a tag (IGNORED here)."""
    lowered = label.strip().lower()
    if lowered.startswith("tlp:"):
        tlp = _exact_tlp(label)
        return Marking(tlp) if tlp is not None else Marking(None, f"the label {_short(label)!r} is not a TLP label")
    if lowered.startswith("pap:"):
        return read_pap(label)
    return IGNORED


def read_marking_definition(obj: dict[str, Any]) -> Marking:
    """What a marking-definition found in an imported file means (official ids are read before this)."""
    known = TLP_BY_MARKING_ID.get(str(obj.get("id", "")))
    if known is not None:
        return Marking(known)
    name = obj.get("name") if isinstance(obj.get("name"), str) else ""
    kind = str(obj.get("definition_type", "") or "").strip().lower()
    definition = obj.get("definition")
    said: list[str] = []  # every place where the object states a TLP label
    ext = obj.get("extensions")
    if isinstance(ext, dict) and isinstance(ext.get(TLP2_EXTENSION_ID), dict):
        said.append(str(ext[TLP2_EXTENSION_ID].get("tlp_2_0", "")))
    if isinstance(definition, dict) and "tlp" in definition:
        said.append(str(definition.get("tlp", "")))
    if name.strip().lower().startswith("tlp"):
        said.append(name)
    if said or kind == "tlp":
        labels = {_exact_tlp(text) for text in said}
        if not said or None in labels:
            bad = next((t for t in said if _exact_tlp(t) is None), kind)
            return Marking(None, f"{_short(bad)!r} is not an official TLP marking")
        if len(labels) > 1:
            return Marking(None, "it names two different TLP labels")
        return Marking(labels.pop())
    if kind == "pap" or name.strip().lower().startswith("pap:"):
        return read_pap(name or f"PAP:{definition.get('pap', '') if isinstance(definition, dict) else ''}")
    if kind == "statement":
        text = definition.get("statement", "") if isinstance(definition, dict) else ""
        return Marking(None, f"a statement marking ({_short(str(text)) or 'terms of use'}) cannot be carried")
    return Marking(None, f"a {_short(kind or name or 'marking')} marking is not one the coalition understands")


def tlp_of_marking_object(obj: dict[str, Any]) -> TLP | None:
    """The TLP a marking-definition stands for, when it is understood as one (see `read_marking_definition`)."""
    found = read_marking_definition(obj)
    return None if found.problem else found.tlp
