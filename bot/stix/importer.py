"""Reading STIX 2.1 bundles as MISP and OpenCTI export them, and plain text or CSV through the IOC engine.

`read_file(data, ...)` returns an `ImportPlan` of what would be submitted and what is skipped (with reasons);
malformed JSON or STIX (also JSON nested too deeply to read) raises `ImportFormatError` so that nothing at all
is stored. Patterns are parsed once here with `bot.stix.patterns` (plain dicts; no `stix2` objects on this path).

Per object, not per file: a marking that is not understood makes the object RED (`bot.stix.markings` lists
every form), and a value or description the store cannot keep (`bot.limits`: over its length, a NUL or another
control character) skips that object; `ImportPlan.notes` says which objects and why, and the others are read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import limits
from bot.context import ContextError, malware_name
from bot.domain import Submission
from bot.ioc import IOCType, Observable, classify, extract
from bot.stix.ids import parse_timestamp, stable_uuid
from bot.stix.markings import TLP_BY_MARKING_ID, Marking, read_label, read_marking_definition
from bot.stix.patterns import UnsupportedPattern, parse_pattern
from bot.tlp import TLP

MAX_NOTE = limits.NOTE_MAX  # a longer description is cut to this (the rest of the object is kept)
MAX_NOTES = 200  # object-by-object notes kept in a plan (the count is kept whole)
UNSTORABLE = "a value or description the store cannot keep (see the notes)"
_TAG = re.compile(r"^[a-z0-9][a-z0-9._:/+-]{0,63}$")
_STIX_ID = re.compile(r"^[a-z0-9][a-z0-9-]*--[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.I)
_SUPPORTING = {"identity", "marking-definition", "extension-definition", "language-content"}


class ImportFormatError(ValueError):
    """The file is not valid JSON or not valid STIX; str() says what and where."""


# What an import will submit, one plain tuple per value: (type, value, tlp, confidence, tags, note, valid_until,
# source id, and its provenance: author id, author name, created), all atoms, so that the garbage collector
# stops tracking them: a 50 MB file's 100,000 Submission
# objects would make every full collection walk them (each one a pause of the whole event loop) while the
# import is written; Submissions are made a chunk at a time (`ImportPlan.submissions`).
Row = tuple[str, str, str, int, tuple[str, ...], str, datetime | None, str, str, str, datetime | None]
MAX_ORIGIN_NAME = 200  # an author identity's name is cut to this


@dataclass
class ImportPlan:
    format: str  # stix | text
    rows: list[Row] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    objects: int = 0
    notes: list[str] = field(default_factory=list)  # object by object: read as RED or skipped, and why
    notes_count: int = 0  # every note, also those beyond MAX_NOTES
    read_as_red: int = 0  # objects whose marking was not understood
    malware: dict[int, str] = field(default_factory=dict)  # row -> the family its indicator `indicates` (issue 13)

    def add(self, obs: Observable, tlp: TLP, confidence: int, tags: tuple[str, ...], note: str,
            valid_until: datetime | None, source_id: str = "",
            origin: tuple[str, str, datetime | None] = ("", "", None)) -> None:
        self.rows.append((obs.type.value, obs.value, tlp.value, confidence, tags, note, valid_until, source_id,
                          *origin))

    @property
    def count(self) -> int:
        return len(self.rows)

    def submissions(self, start: int = 0, stop: int | None = None) -> list[Submission]:
        first = start
        malware = self.malware
        return [Submission(Observable(IOCType(t), v), TLP(tlp), confidence, tags, note, valid_until,
                           source_id=source_id, origin_created_by=by, origin_name=name, origin_created=created,
                           malware=malware.get(first + k, "") if malware else "")
                for k, (t, v, tlp, confidence, tags, note, valid_until, source_id, by, name, created)
                in enumerate(self.rows[start:stop])]

    @property
    def items(self) -> list[Submission]:
        """Every submission (made anew on each call: use `submissions(start, stop)` for a part)."""
        return self.submissions()

    def note(self, n: int, object_id: str, text: str) -> None:
        self.notes_count += 1
        if len(self.notes) < MAX_NOTES:
            self.notes.append(f"object {n} ({object_id[:80]}): {text}")

    @property
    def skipped_count(self) -> int:
        return sum(self.skipped.values())


def read_file(data: bytes, filename: str, *, default_tlp: TLP, default_confidence: int, now: datetime,
              default_valid_until: datetime | None = None) -> ImportPlan:
    """STIX when the name ends in .json or the content starts with `{`; plain text or CSV otherwise."""
    head = data.lstrip()[:1]
    if filename.lower().endswith(".json") or head in {b"{", b"["}:
        return read_stix(data, default_tlp=default_tlp, default_confidence=default_confidence, now=now,
                         default_valid_until=default_valid_until)
    return read_text(data, default_tlp=default_tlp, default_confidence=default_confidence,
                     default_valid_until=default_valid_until)


def read_text(data: bytes, *, default_tlp: TLP, default_confidence: int,
              default_valid_until: datetime | None = None) -> ImportPlan:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFormatError(f"the file is not UTF-8 text (byte {e.start})") from None
    plan = ImportPlan("text")
    seen: set[Observable] = set()
    for obs in extract(text):
        plan.objects += 1
        if obs in seen:
            plan.skipped["duplicate in the file"] += 1
            continue
        seen.add(obs)
        plan.add(obs, default_tlp, default_confidence, (), "", default_valid_until)
    return plan


STREAM_ABOVE = 1 << 20  # bytes: bigger documents are decoded element by element (see _loads_in_steps)
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def loads(data: bytes | str) -> Any:
    """JSON, or ImportFormatError that says what is wrong (never another exception: a 100,000-level nesting
    makes json.loads raise RecursionError, which is a malformed file here, not a crash).

    A document over STREAM_ABOVE is decoded in steps (`_loads_in_steps`, the same value): json.loads is one C
    call that holds the GIL for all of a 50 MB file (a second or more), so even in a worker thread it would
    stop the event loop; one short call per STIX object lets the loop's thread in between."""
    try:
        if len(data) <= STREAM_ABOVE:
            return json.loads(data)
        text = data if isinstance(data, str) else data.decode(json.detect_encoding(data), "surrogatepass")
        return _loads_in_steps(text)
    except RecursionError:
        raise ImportFormatError("the JSON is nested too deeply to be a STIX bundle") from None
    except UnicodeDecodeError as e:
        raise ImportFormatError(f"the file is not UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise ImportFormatError(f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def _loads_in_steps(text: str) -> Any:
    """json.loads(text), with the arrays that are values of the top-level object (a bundle's or an envelope's
    `objects`) decoded one element at a time. Errors are the same JSONDecodeError (message, line, column)."""
    raw, ws = _DECODER.raw_decode, _WS.match
    i = ws(text, 0).end()
    if text[i:i + 1] != "{":
        return json.loads(text)
    doc: dict[str, Any] = {}
    i = ws(text, i + 1).end()
    if text[i:i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i:i + 1] != '"':
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            key, i = raw(text, i)
            i = ws(text, i).end()
            if text[i:i + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
            i = ws(text, i + 1).end()
            if text[i:i + 1] == "[":
                items: list[Any] = []
                i = ws(text, i + 1).end()
                if text[i:i + 1] == "]":
                    i += 1
                else:
                    while True:
                        item, i = raw(text, i)
                        items.append(item)
                        i = ws(text, i).end()
                        if text[i:i + 1] == ",":
                            i = ws(text, i + 1).end()
                            continue
                        if text[i:i + 1] == "]":
                            i += 1
                            break
                        raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
                doc[key] = items
            else:
                doc[key], i = raw(text, i)
            i = ws(text, i).end()
            if text[i:i + 1] == ",":
                i = ws(text, i + 1).end()
                continue
            if text[i:i + 1] == "}":
                i += 1
                break
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
    end = ws(text, i).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return doc


def stix_objects(doc: Any) -> list[Any]:
    """The objects of a bundle (or of a TAXII envelope, for POSTs)."""
    if not isinstance(doc, dict):
        raise ImportFormatError("not a STIX bundle: the JSON is not an object")
    if doc.get("type") == "bundle":
        if not isinstance(doc.get("id"), str) or not doc["id"].startswith("bundle--"):
            raise ImportFormatError("not a STIX bundle: its id is missing or not bundle--UUID")
    elif "type" in doc or "objects" not in doc:
        raise ImportFormatError(f"not a STIX bundle: type is {str(doc.get('type'))[:40]!r}, expected 'bundle'")
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise ImportFormatError("not a STIX bundle: 'objects' is not a list")
    return objects


def read_stix(data: bytes, *, default_tlp: TLP, default_confidence: int, now: datetime,
              default_valid_until: datetime | None = None) -> ImportPlan:
    return plan_objects(stix_objects(loads(data)), default_tlp=default_tlp, default_confidence=default_confidence,
                        now=now, default_valid_until=default_valid_until)


def plan_objects(objects: list[Any], *, default_tlp: TLP, default_confidence: int, now: datetime,
                 default_valid_until: datetime | None = None) -> ImportPlan:
    plan = ImportPlan("stix")
    for n, obj in enumerate(objects):
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str) or not isinstance(obj.get("id"), str):
            raise ImportFormatError(f"object {n} is not a STIX object (it needs a type and an id)")
        if not _STIX_ID.match(obj["id"]) or not obj["id"].startswith(obj["type"] + "--"):
            raise ImportFormatError(f"object {n} has an invalid id {obj['id'][:80]!r}")
    markings = {marking_id: Marking(tlp) for marking_id, tlp in TLP_BY_MARKING_ID.items()}
    for obj in objects:
        if obj["type"] == "marking-definition" and obj["id"] not in TLP_BY_MARKING_ID:
            found = read_marking_definition(obj)
            earlier = markings.get(obj["id"])
            if earlier is not None and earlier != found:
                found = Marking(None, "it is defined twice, differently")
            markings[obj["id"]] = found
    names = _identity_names(objects)
    families = _indicated_families(objects)
    seen: set[Observable] = set()
    for n, obj in enumerate(objects):
        plan.objects += 1
        kind = obj["type"]
        try:
            if kind == "indicator":
                observables = _indicator_observables(obj, n)
            elif kind == "vulnerability":
                observables = _vulnerability_observables(obj)
            else:
                plan.skipped[f"{'supporting object' if kind in _SUPPORTING else 'not an indicator'}: {kind}"] += 1
                continue
            valid_until = _valid_until(obj, n, now)
        except UnsupportedPattern as e:
            plan.skipped[str(e)] += 1
            continue
        if valid_until is None:
            valid_until = default_valid_until
        tlp, problems = _tlp(obj, markings, default_tlp, n)
        confidence = obj.get("confidence", default_confidence)
        if isinstance(confidence, bool) or not isinstance(confidence, int) or not 0 <= confidence <= 100:
            raise ImportFormatError(f"object {n} ({obj['id']}): confidence must be an integer from 0 to 100")
        tags = _tags(obj.get("labels"), n, obj["id"])
        note = obj.get("description") or ""
        if not isinstance(note, str):
            raise ImportFormatError(f"object {n} ({obj['id']}): description is not a string")
        unstorable = [p for obs in observables if (p := limits.value_problem(obs.type.value, obs.value))]
        if text_problem := limits.text_problem(note):
            unstorable.append(f"the description {text_problem}")
        if unstorable:
            plan.skipped[UNSTORABLE] += 1
            plan.note(n, obj["id"], f"skipped: {unstorable[0]}")
            continue
        if problems:
            plan.read_as_red += 1
            plan.note(n, obj["id"], "read as RED: " + "; ".join(dict.fromkeys(problems)))
        origin = _origin(obj, names)
        for obs in observables:
            if obs in seen:
                plan.skipped["duplicate in the file"] += 1
                continue
            seen.add(obs)
            if family := families.get(obj["id"]):
                plan.malware[plan.count] = family
            plan.add(obs, tlp, confidence, tags, note.strip()[:MAX_NOTE], valid_until,
                     stored_id(obj["id"], obs, len(observables)), origin)
    return plan


def _indicated_families(objects: list[Any]) -> dict[str, str]:
    """Indicator id -> the malware family (bot.context.malware_name of a `malware` object's name) it `indicates`,
    the first such relationship in the file; a name that is no family name is left out."""
    named: dict[str, str] = {}
    for obj in objects:
        if obj["type"] == "malware" and isinstance(obj.get("name"), str):
            try:
                named[obj["id"]] = malware_name(obj["name"])
            except ContextError:
                continue
    found: dict[str, str] = {}
    if not named:
        return found
    for obj in objects:
        if (obj["type"] == "relationship" and obj.get("relationship_type") == "indicates"
                and isinstance(obj.get("source_ref"), str) and obj.get("target_ref") in named):
            found.setdefault(obj["source_ref"], named[obj["target_ref"]])
    return found


def stored_id(object_id: str, obs: Observable, values: int) -> str:
    """The id an imported object's value is stored under, so that the export gives the object's id back: its own
    (`indicator--` for a vulnerability: bot.stix.ids.vulnerability_id maps it back); for each value of an object
    that has several (`[a] OR [b]`), one derived from the object's id and the value (the same on every import)."""
    if values > 1:
        return f"indicator--{stable_uuid(f'{object_id}/{obs.type.value}/{obs.value}')}"
    return "indicator--" + object_id.partition("--")[2]


def _identity_names(objects: list[Any]) -> dict[str, str]:
    return {obj["id"]: obj["name"] for obj in objects
            if obj["type"] == "identity" and isinstance(obj.get("name"), str)}


def _origin(obj: dict[str, Any], names: dict[str, str]) -> tuple[str, str, datetime | None]:
    """Who made the object and when: (author identity id, its name, `created`). The first author wins: an object
    that passed through another coalition says so in its `x_coalition_origin`, which is kept over the
    `created_by_ref` of the coalition that passed it on. Anything malformed is left out, never refused."""
    relayed = obj.get("x_coalition_origin")
    ref = obj.get("created_by_ref")
    name: Any = names.get(ref, "") if isinstance(ref, str) else ""
    if isinstance(relayed, dict) and isinstance(relayed.get("created_by_ref"), str):
        ref, name = relayed["created_by_ref"], relayed.get("name")
    if not isinstance(ref, str) or not ref.startswith("identity--") or not _STIX_ID.match(ref):
        ref = ""
    name = limits.storable(" ".join(name.split()), MAX_ORIGIN_NAME) if isinstance(name, str) else ""
    try:
        created = parse_timestamp(obj["created"]) if isinstance(obj.get("created"), str) else None
    except (ValueError, OverflowError):
        created = None
    return ref, name, created


def _indicator_observables(obj: dict[str, Any], n: int) -> list[Observable]:
    pattern, pattern_type = obj.get("pattern"), obj.get("pattern_type")
    if not isinstance(pattern, str) or not isinstance(pattern_type, str):
        raise ImportFormatError(f"object {n} ({obj['id']}): an indicator needs pattern and pattern_type strings")
    if not isinstance(obj.get("valid_from"), str):
        raise ImportFormatError(f"object {n} ({obj['id']}): an indicator needs valid_from")
    if obj.get("revoked") is True:
        raise UnsupportedPattern("revoked indicator")
    if pattern_type != "stix":
        raise UnsupportedPattern(f"pattern_type {pattern_type[:30]} (only stix is imported)")
    return parse_pattern(pattern)


def _vulnerability_observables(obj: dict[str, Any]) -> list[Observable]:
    names = [obj.get("name")] + [r.get("external_id") for r in obj.get("external_references") or []
                                 if isinstance(r, dict) and r.get("source_name") == "cve"]
    for name in names:
        if isinstance(name, str) and _CVE.match(name.strip()):
            obs = classify(name.strip())
            if obs is not None and obs.type is IOCType.CVE:
                return [obs]
    raise UnsupportedPattern("vulnerability without a CVE id")


def _valid_until(obj: dict[str, Any], n: int, now: datetime) -> datetime | None:
    raw = obj.get("valid_until")
    if raw is None:
        return None
    try:
        value = parse_timestamp(str(raw))
    except ValueError:
        raise ImportFormatError(f"object {n} ({obj['id']}): valid_until {str(raw)[:40]!r} is not a timestamp") from None
    if value <= now:
        raise UnsupportedPattern("expired (valid_until has passed)")
    return value


def _tlp(obj: dict[str, Any], markings: dict[str, Marking], default: TLP, n: int) -> tuple[TLP, list[str]]:
    """The object's TLP (the most restrictive of its markings and `tlp:` labels; the default when it has none)
    and what was not understood (each such marking reads as RED)."""
    refs = obj.get("object_marking_refs") or []
    if not isinstance(refs, list):
        raise ImportFormatError(f"object {n} ({obj['id']}): object_marking_refs is not a list")
    granular = obj.get("granular_markings") or []
    if not isinstance(granular, list):
        raise ImportFormatError(f"object {n} ({obj['id']}): granular_markings is not a list")
    refs = refs + [g.get("marking_ref") for g in granular if isinstance(g, dict) and "marking_ref" in g]
    readings: list[Marking] = []
    for ref in refs:
        if not isinstance(ref, str):
            readings.append(Marking(None, "a marking reference is not a string"))
        elif (found := markings.get(ref)) is not None:
            readings.append(found if not found.problem else Marking(None, f"{ref[:80]}: {found.problem}"))
        else:
            readings.append(Marking(None, f"the marking {ref[:80]} is not defined in the file"))
    labels = obj.get("labels")
    if isinstance(labels, list):
        readings += [read_label(label) for label in labels if isinstance(label, str)]
    tlps = [t for m in readings if (t := m.effective) is not None]
    tlp = max(tlps, key=lambda t: t.rank) if tlps else default  # the most restrictive label wins
    return tlp, [m.problem for m in readings if m.problem]


_TAGS_OF: dict[tuple[Any, ...], tuple[str, ...]] = {}


def _tags(labels: Any, n: int, object_id: str) -> tuple[str, ...]:
    if labels is None:
        return ()
    if not isinstance(labels, list):
        raise ImportFormatError(f"object {n} ({object_id}): labels is not a list")
    key = tuple(labels)
    try:
        return _TAGS_OF[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable label (a list in a list): not a tag anyway
        return _clean_tags(labels)
    found = _TAGS_OF[key] = _clean_tags(labels)
    if len(_TAGS_OF) > 4096:
        _TAGS_OF.clear()
    return found


def _clean_tags(labels: list[Any]) -> tuple[str, ...]:
    tags: dict[str, None] = {}
    for label in labels:
        if not isinstance(label, str):
            continue
        lowered = label.strip().lower()
        if lowered.startswith(("misp:", "tlp:", "pap:")):  # MISP's attribute metadata; TLP and PAP are markings
            continue
        tag = re.sub(r"[^a-z0-9._:/+-]+", "-", lowered.replace('"', "")).strip("-")[:64]
        if _TAG.match(tag):
            tags[tag] = None
    return tuple(tags)[:20]
