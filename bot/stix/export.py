"""Indicators, votes and sightings as STIX 2.1 objects: plain dicts on the hot path, streamed as a bundle.

* indicator -> `indicator` (CVE -> `vulnerability`: a vulnerability is not patternable);
  `created_by_ref` the organization's identity, or the coalition's when the submitter chose anonymity;
* an imported object is re-emitted under its own id and `created`, its first author in `x_coalition_origin`
  ({created_by_ref, name}): `created_by_ref` stays the coalition's side (the organization that brought it in, or
  the coalition), because what is published is the coalition's version of it (moderated, with its TLP,
  confidence, tags and revocation), vouched for by whoever shared it here, and the bundle can carry that
  identity; the original author is said, not impersonated. An anonymous item carries no provenance (bot.services
  keeps none for it; this module would not emit it either);
* vote -> `opinion` (confirm: agree, false positive: disagree; a vote is not graded, so never "strongly"),
  `created_by_ref` the voter's organization, never the voter;
* sighting -> `sighting` sighted where the organization is;
* the opinions and sightings of an anonymous item are all the coalition's (`created_by_ref`,
  `where_sighted_refs`): naming the other voters' organizations would leave the submitter as the one missing,
  and naming only the submitter's own as the coalition would point at it;
* opinion and sighting ids are keyed with the deployment's secret (`bot.stix.ids.ActIds`): nobody can
  recompute from public data who voted or sighted what;
* TLP 2.0 markings; every bundle carries the marking-definitions, the TLP 2.0 extension-definition and the
  identities its objects reference.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from bot.context import indicator_types as threat_indicator_types
from bot.domain import Case, Comment, Indicator, SightingRecord, Status, Verdict, VoteRecord
from bot.ioc import IOCType
from bot.rules import ANONYMOUS_ORG
from bot.stix.ids import (
    COALITION_IDENTITY,
    IDENTITY_CREATED,
    ActIds,
    coalition_identity,
    identity_object,
    org_identity_id,
    stable_uuid,
    timestamp,
    vulnerability_id,
)
from bot.stix.markings import TLP2_EXTENSION_DEFINITION, TLP2_MARKINGS
from bot.stix.patterns import pattern_for
from bot.stix.provenance import ORIGIN_EXTENSION_DEFINITION, add_origin, has_origin
from bot.stix.score import SCORE_EXTENSION_DEFINITION, add_score
from bot.tlp import STIX_MARKING_IDS, TLP

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
INDICATOR_TYPES = frozenset({"anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity",
                             "attribution", "unknown"})
OPINIONS = {Verdict.CONFIRM: "agree", Verdict.FALSE_POSITIVE: "disagree"}
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def object_id(ind: Indicator) -> str:
    """The id the indicator is exported under (its vulnerability's for a CVE)."""
    return vulnerability_id(ind.stix_id) if ind.type is IOCType.CVE else ind.stix_id


def author_ref(ind: Indicator) -> str:
    return COALITION_IDENTITY if ind.anonymous else org_identity_id(ind.org_id)


_INDICATOR_TYPES_OF: dict[tuple[str, ...], list[str]] = {}


def _indicator_types(tags: tuple[str, ...]) -> list[str]:
    found = _INDICATOR_TYPES_OF.get(tags)
    if found is None:
        found = [t for t in tags if t in INDICATOR_TYPES] or ["malicious-activity"]
        if len(_INDICATOR_TYPES_OF) < 4096:
            _INDICATOR_TYPES_OF[tags] = found
    return found[:]


def indicator_object(ind: Indicator) -> dict[str, Any]:
    """The hot path of every export and TAXII page: a plain dict built in one go (no library objects)."""
    created_at = ind.origin_created or ind.created_at
    created = timestamp(created_at)
    modified = timestamp(ind.modified_at) if ind.modified_at > created_at else created
    author = COALITION_IDENTITY if ind.anonymous else org_identity_id(ind.org_id)
    type_ = ind.type
    if type_ is IOCType.CVE:
        obj: dict[str, Any] = {
            "type": "vulnerability", "spec_version": "2.1", "id": vulnerability_id(ind.stix_id),
            "created": created, "modified": modified, "created_by_ref": author, "name": ind.value,
            "external_references": [{"source_name": "cve", "external_id": ind.value}],
            "description": ind.note or f"{ind.value}, shared in the coalition",
        }
    else:
        name = f"{type_.value}: {ind.value}"
        first_seen = ind.first_seen
        obj = {
            "type": "indicator", "spec_version": "2.1", "id": ind.stix_id, "created": created,
            "modified": modified, "created_by_ref": author, "name": name if len(name) <= 250 else name[:250],
            "description": ind.note or _DESCRIPTIONS[type_],
            "indicator_types": (threat_indicator_types(ind.threat_type) if ind.threat_type
                                else _indicator_types(ind.tags) if ind.tags else ["malicious-activity"]),
            "pattern": pattern_for(type_, ind.value), "pattern_type": "stix", "pattern_version": "2.1",
            "valid_from": timestamp(first_seen),
        }
        valid_until = ind.valid_until
        if valid_until is not None and valid_until > first_seen:
            obj["valid_until"] = timestamp(valid_until)
    obj["confidence"] = ind.confidence
    if ind.tags:
        obj["labels"] = list(ind.tags)
    if ind.status is Status.REVOKED:
        obj["revoked"] = True
    obj["object_marking_refs"] = [STIX_MARKING_IDS[ind.tlp]]
    if has_origin(ind):
        add_origin(obj, ind)
    return obj


_DESCRIPTIONS = {t: f"{t.value} shared in the coalition" for t in IOCType}


def malware_id(name: str) -> str:
    """A malware family's id: the same family is one object in every export (bot.context.malware_name)."""
    return f"malware--{stable_uuid(f'malware/{name}')}"


def malware_object(name: str, tlp: TLP) -> dict[str, Any]:
    """A malware family (issue 13), marked with the least restrictive TLP of the exported items naming it."""
    return {"type": "malware", "spec_version": "2.1", "id": malware_id(name), "created": IDENTITY_CREATED,
            "modified": IDENTITY_CREATED, "created_by_ref": COALITION_IDENTITY, "name": name, "is_family": True,
            "object_marking_refs": [STIX_MARKING_IDS[tlp]]}


def indicates_object(ind: Indicator, indicator: dict[str, Any]) -> dict[str, Any]:
    """The `indicates` relationship from an exported indicator to its malware family."""
    target = malware_id(ind.malware)
    source = indicator["id"]
    return {"type": "relationship", "spec_version": "2.1",
            "id": f"relationship--{stable_uuid(f'{source}/indicates/{target}')}",
            "created": indicator["created"], "modified": indicator["modified"],
            "created_by_ref": indicator["created_by_ref"], "relationship_type": "indicates",
            "source_ref": indicator["id"], "target_ref": target,
            "object_marking_refs": [STIX_MARKING_IDS[ind.tlp]]}


def note_object(ind: Indicator, comment: Comment, ids: ActIds) -> dict[str, Any]:
    """A comment as a STIX `note` on its indicator (issue 13): the indicator's TLP; an anonymous item's comments
    are the coalition's. The same object in exports and on TAXII."""
    target = object_id(ind)
    at = timestamp(comment.created_at)
    return {"type": "note", "spec_version": "2.1", "id": ids.note_id(target, comment.id), "created": at,
            "modified": at, "created_by_ref": _activity_author(ind, comment.org_id), "content": comment.text,
            "object_refs": [target], "object_marking_refs": [STIX_MARKING_IDS[ind.tlp]]}


def grouping_id(case_id: int) -> str:
    return f"grouping--{stable_uuid(f'case/{case_id}')}"


def grouping_object(case: Case, refs: list[str], modified: str | None = None) -> dict[str, Any]:
    """A case as a STIX `grouping` over `refs` (the objects of it the consumer may see: at least one, as STIX asks
    of object_refs; an export leaves out a case with none, the TAXII feed refers to the case's author instead).
    `modified` defaults to the case's creation (exports); the TAXII feed gives the latest change of what the
    consumer sees in it."""
    at = timestamp(case.created_at)
    obj: dict[str, Any] = {
        "type": "grouping", "spec_version": "2.1", "id": grouping_id(case.id), "created": at,
        "modified": modified if modified is not None and modified > at else at,
        "created_by_ref": org_identity_id(case.org_id), "name": case.name, "context": "suspicious-activity",
        "object_refs": refs, "object_marking_refs": [STIX_MARKING_IDS[case.tlp]]}
    if case.description:
        obj["description"] = case.description
    return obj


def _activity_author(ind: Indicator, org_id: int) -> str:
    # Every act on an anonymous item is the coalition's: the submitting organization is neither named nor
    # singled out by elimination (the other organizations named, the submitter's own hidden).
    return COALITION_IDENTITY if ind.anonymous else org_identity_id(org_id)


def opinion_object(ind: Indicator, vote: VoteRecord, ids: ActIds) -> dict[str, Any]:
    target = object_id(ind)
    created = timestamp(vote.created_at)
    obj: dict[str, Any] = {
        "type": "opinion", "spec_version": "2.1", "id": ids.opinion_id(target, vote.member_id), "created": created,
        "modified": timestamp(vote.updated_at) if vote.updated_at > vote.created_at else created,
        "created_by_ref": _activity_author(ind, vote.org_id), "opinion": OPINIONS[vote.verdict],
        "object_refs": [target], "object_marking_refs": [STIX_MARKING_IDS[ind.tlp]],
    }
    if vote.reason:
        obj["explanation"] = vote.reason
    return obj


def sighting_object(ind: Indicator, sighting: SightingRecord, ids: ActIds) -> dict[str, Any]:
    target = object_id(ind)
    seen = timestamp(sighting.seen_at)
    where = _activity_author(ind, sighting.org_id)
    return {
        "type": "sighting", "spec_version": "2.1", "id": ids.sighting_id(target, sighting.id), "created": seen,
        "modified": seen, "created_by_ref": where, "first_seen": seen, "last_seen": seen,
        "count": min(max(sighting.count, 0), 999_999_999), "sighting_of_ref": target, "where_sighted_refs": [where],
        "object_marking_refs": [STIX_MARKING_IDS[ind.tlp]],
    }


class BundleBuilder:
    """Maps indicators (with their votes and sightings) to objects and remembers which markings and identities
    they reference, so that `supporting_objects()` can close the bundle."""

    def __init__(self, org_names: Mapping[int, str], coalition_name: str = "Coalition", *, ids: ActIds) -> None:
        self.org_names = org_names
        self.ids = ids
        self.coalition_name = coalition_name
        self.tlps: set[TLP] = set()
        self.orgs: set[int] = set()
        self.coalition = False
        self.origin = False  # an object carries x_coalition_origin: its extension-definition goes in too
        self.malware: dict[str, TLP] = {}  # malware families named (issue 13): the least restrictive TLP naming each
        self.cases: dict[int, list[str]] = {}  # case id -> the exported objects in it (issue 13)
        self.scored = False  # ... x_coalition_score (bot.stix.score): its extension-definition too
        self.count = 0

    def objects_for(self, indicators: Iterable[Indicator], votes: Mapping[int, list[VoteRecord]] | None = None,
                    sightings: Mapping[int, list[SightingRecord]] | None = None,
                    scores: Mapping[int, int] | None = None) -> list[dict[str, Any]]:
        """`scores` (by indicator id): each indicator carries its `x_coalition_score` (bot.stix.score)."""
        out: list[dict[str, Any]] = []
        tlps, orgs = self.tlps, self.orgs
        votes = votes or {}
        sightings = sightings or {}
        append = out.append
        for ind in indicators:
            append(indicator_object(ind))
            if ind.malware and ind.type is not IOCType.CVE:
                self._indicates(ind, out)
            if scores is not None:
                add_score(out[-1], scores[ind.id])
                self.scored = True
            tlps.add(ind.tlp)
            if not self.origin and has_origin(ind):
                self.origin = True
            if ind.anonymous:
                self.coalition = True
            else:
                orgs.add(ind.org_id)
            if not votes and not sightings:
                continue
            for vote in votes.get(ind.id, ()):
                obj = opinion_object(ind, vote, self.ids)
                out.append(obj)
                self._author(obj["created_by_ref"], vote.org_id)
            for s in sightings.get(ind.id, ()):
                obj = sighting_object(ind, s, self.ids)
                out.append(obj)
                self._author(obj["created_by_ref"], s.org_id)
        self.count += len(out)
        return out

    def context_objects(self, indicators: Iterable[Indicator], comments: Mapping[int, list[Comment]],
                        cases: Mapping[int, list[int]]) -> list[dict[str, Any]]:
        """Issue 13: each comment as a STIX `note` on its indicator (the indicator's TLP; an anonymous item's
        comments are the coalition's), and each indicator remembered in its cases for `groupings`."""
        out: list[dict[str, Any]] = []
        for ind in indicators:
            target = object_id(ind)
            for comment in comments.get(ind.id, ()):
                out.append(note_object(ind, comment, self.ids))
                self._author(out[-1]["created_by_ref"], comment.org_id)
            for case_id in cases.get(ind.id, ()):
                self.cases.setdefault(case_id, []).append(target)
        self.count += len(out)
        return out

    def groupings(self, cases: Iterable[Case]) -> list[dict[str, Any]]:
        """A STIX `grouping` per case (those the consumer may see: the caller's rule) over its exported objects;
        before `supporting_objects`, which closes the bundle with the identities and markings they name."""
        out: list[dict[str, Any]] = []
        for case in cases:
            refs = sorted(set(self.cases.get(case.id, ())))
            if not refs:
                continue
            out.append(grouping_object(case, refs))
            self.orgs.add(case.org_id)
            self.tlps.add(case.tlp)
        self.count += len(out)
        return out

    def case_ids(self) -> list[int]:
        return sorted(self.cases)

    def _indicates(self, ind: Indicator, out: list[dict[str, Any]]) -> None:
        """The indicator just appended indicates its malware family; the family goes in with the supporting
        objects."""
        indicator = out[-1]
        out.append(indicates_object(ind, indicator))
        out[-1], out[-2] = out[-2], out[-1]  # the indicator stays last (callers may add to it)
        known = self.malware.get(ind.malware)
        if known is None or ind.tlp.rank < known.rank:
            self.malware[ind.malware] = ind.tlp
        self.coalition = True  # the coalition's identity made the malware objects

    def _author(self, ref: str, org_id: int) -> None:
        if ref == COALITION_IDENTITY:
            self.coalition = True
        else:
            self.orgs.add(org_id)

    def supporting_objects(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        if self.coalition or self.origin or self.scored:  # (the coalition's identity made these extensions)
            found.append(coalition_identity(self.coalition_name))
        if self.origin:
            found.append(ORIGIN_EXTENSION_DEFINITION)
        if self.scored:
            found.append(SCORE_EXTENSION_DEFINITION)
        for name, tlp in sorted(self.malware.items()):
            found.append(malware_object(name, tlp))
            self.tlps.add(tlp)
        for org_id in sorted(self.orgs):
            found.append(identity_object(org_identity_id(org_id), self.org_names.get(org_id, f"organization {org_id}")))
        if self.tlps:
            found.append(TLP2_EXTENSION_DEFINITION)
            found += [TLP2_MARKINGS[t] for t in sorted(self.tlps, key=lambda t: t.rank)]
        return found


class BundleStream:
    """A bundle written piece by piece (constant memory): `start()`, `write(objects)`..., `finish(builder)`."""

    def __init__(self, bundle_id: str | None = None) -> None:
        self.bundle_id = bundle_id or f"bundle--{uuid.uuid4()}"
        self._first = True

    def start(self) -> str:
        return f'{{"type":"bundle","id":"{self.bundle_id}","objects":['

    def write(self, objects: list[dict[str, Any]]) -> str:
        if not objects:
            return ""
        text = _DUMPS(objects)[1:-1]  # one encoder call for the whole batch, not one per object
        if self._first:
            self._first = False
            return text
        return "," + text

    def finish(self, builder: BundleBuilder) -> str:
        return self.write(builder.supporting_objects()) + "]}"


def bundle(indicators: Iterable[Indicator], org_names: Mapping[int, str], *, ids: ActIds,
           votes: Mapping[int, list[VoteRecord]] | None = None,
           sightings: Mapping[int, list[SightingRecord]] | None = None) -> dict[str, Any]:
    """A whole bundle as one dict (small exports, tests)."""
    builder = BundleBuilder(org_names, ids=ids)
    objects = builder.objects_for(indicators, votes, sightings)
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects + builder.supporting_objects()}


# ---------------------------------------------------------------- CSV and plain text

CSV_COLUMNS = ("id", "stix_id", "type", "value", "status", "tlp", "confidence", "tags", "threat_type", "malware",
               "references", "organization",
               "first_seen", "last_seen", "valid_until", "created", "modified", "score")


def shown_org(ind: Indicator, viewer_org_id: int | None) -> str:
    return ANONYMOUS_ORG if ind.anonymous and viewer_org_id != ind.org_id else ind.org_name


def csv_rows(indicators: Iterable[Indicator], viewer_org_id: int | None, *, header: bool = False,
             scores: Mapping[int, int] | None = None) -> str:
    """CSV lines; the `score` column (bot.score, at the export) from `scores` by indicator id, else empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for ind in indicators:
        writer.writerow((
            ind.id, ind.stix_id, ind.type.value, _csv_safe(ind.value), ind.status.value, ind.tlp.value,
            ind.confidence, " ".join(ind.tags), ind.threat_type, ind.malware, " ".join(ind.references),
            _csv_safe(shown_org(ind, viewer_org_id)),
            timestamp(ind.first_seen), timestamp(ind.last_seen),
            timestamp(ind.valid_until) if ind.valid_until else "", timestamp(ind.created_at),
            timestamp(ind.modified_at), scores.get(ind.id, "") if scores is not None else "",
        ))
    return buf.getvalue()


def _csv_safe(text: str) -> str:
    """No spreadsheet formula injection: a cell never starts with = + - @ (a leading quote keeps it text)."""
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def text_lines(indicators: Iterable[Indicator]) -> str:
    return "".join(f"{ind.value}\n" for ind in indicators)
