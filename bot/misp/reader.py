"""MISP event JSON read as an import (issue 14): `/ioc import` and `coalition-bot import` take a single event
(`{"Event": {...}}`), a list of them, MISP's REST answer (`{"response": [...]}`) or (the command line) a feed
folder, and plan them like any file (`bot.stix.importer.ImportPlan`); `bot.services.import_data` then stores
them through the one import path (moderation, warninglists, dedupe, chunked transactions, the report).

* Each attribute (also inside MISP objects) is one object of the report. Its type is mapped back
  (`bot.misp.types.OUR_TYPES`; `filename|sha256`, `ip-dst|port`, `domain|ip` give their indicator parts) and
  its value classified by the IOC engine; another type, or a value that is not what its type says, is skipped
  and counted by reason.
* `to_ids: false` marks context, not something to detect: skipped and counted, unless the import is asked for
  context (`--context`, `/ioc import context`). A deleted attribute is skipped.
* Tags: the event's and the attribute's. `tlp:` tags are the TLP (`bot.stix.markings.read_label`, as a STIX
  label): an unknown one (`tlp:ex:chr`, `tlp:redish`) or a restrictive PAP reads as RED, counted and noted as the
  STIX importer does; several labels that disagree read as the most restrictive, noted. No TLP tag: the
  importer's default. Other tags become tags (`bot.stix.importer` cleans them).
* The note is the attribute's comment, or else the event's info.

Malformed JSON, or JSON that is not MISP events, raises ImportFormatError: nothing is stored.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from bot import limits
from bot.ioc import Observable, classify
from bot.misp.types import COMPOSITE_TYPES, OUR_TYPES, our_candidate
from bot.stix.importer import MAX_NOTE, UNSTORABLE, ImportFormatError, ImportPlan, _clean_tags, loads
from bot.stix.markings import Marking, read_label
from bot.tlp import TLP

_MISP_HEAD = re.compile(rb'^\s*(?:\[\s*)?\{\s*"(?:Event|response)"\s*:')
CONTEXT_SKIPPED = "to_ids is false (context, not for detection): import with --context to take them"
DELETED = "deleted attribute"


def is_misp(data: bytes) -> bool:
    """Whether a file is MISP event JSON, from its content (whatever its name): `{"Event": ...}`, a list of
    them, or `{"response": [...]}`."""
    head = data[:256]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return bool(_MISP_HEAD.match(head))


def events_of(doc: Any) -> list[dict[str, Any]]:
    """The events of a MISP document, each the dict inside `{"Event": ...}`."""
    if isinstance(doc, dict) and "response" in doc and "Event" not in doc:
        doc = doc["response"]
    items = doc if isinstance(doc, list) else [doc]
    events = []
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("Event"), dict):
            raise ImportFormatError(f"item {n} is not a MISP event: an object {{\"Event\": {{...}}}} is expected")
        events.append(item["Event"])
    return events


def read_misp(data: bytes, *, default_tlp: TLP, default_confidence: int, now: datetime,
              default_valid_until: datetime | None = None, context: bool = False) -> ImportPlan:
    return plan_events(events_of(loads(data)), default_tlp=default_tlp, default_confidence=default_confidence,
                       default_valid_until=default_valid_until, context=context)


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImportFormatError(f"{what} is not a list")
    return value


def _tag_names(holder: dict[str, Any], what: str) -> list[str]:
    names = []
    for tag in _list(holder.get("Tag"), f"{what}: Tag"):
        name = tag.get("name") if isinstance(tag, dict) else None
        if not isinstance(name, str):
            raise ImportFormatError(f"{what}: a tag needs a name string")
        names.append(name)
    return names


def _flag(value: Any) -> bool:
    """MISP writes booleans as true/false, 0/1 or "0"/"1"."""
    if isinstance(value, str):
        return value.strip().lower() not in {"", "0", "false"}
    return bool(value)


def plan_events(events: list[dict[str, Any]], *, default_tlp: TLP, default_confidence: int,
                default_valid_until: datetime | None = None, context: bool = False) -> ImportPlan:
    plan = ImportPlan("misp")
    seen: set[Observable] = set()
    for e, event in enumerate(events):
        where = f"event {e}"
        event_tags = _tag_names(event, where)
        info = event.get("info") if isinstance(event.get("info"), str) else ""
        attributes = [(f"{where}, attribute {a}", attr)
                      for a, attr in enumerate(_list(event.get("Attribute"), f"{where}: Attribute"))]
        for o, obj in enumerate(_list(event.get("Object"), f"{where}: Object")):
            if not isinstance(obj, dict):
                raise ImportFormatError(f"{where}, object {o} is not a MISP object")
            attributes += [(f"{where}, object {o}, attribute {a}", attr)
                           for a, attr in enumerate(_list(obj.get("Attribute"), f"{where}, object {o}: Attribute"))]
        for what, attr in attributes:
            if not isinstance(attr, dict) or not isinstance(attr.get("type"), str) or \
                    not isinstance(attr.get("value"), str | int):
                raise ImportFormatError(f"{what}: an attribute needs a type and a value")
            plan.objects += 1
            n = plan.objects - 1
            ref = str(attr.get("uuid") or what)[:80]
            if _flag(attr.get("deleted", False)):
                plan.skipped[DELETED] += 1
                continue
            if not context and not _flag(attr.get("to_ids", True)):
                plan.skipped[CONTEXT_SKIPPED] += 1
                continue
            observables = _observables(attr["type"], str(attr["value"]))
            if isinstance(observables, str):
                plan.skipped[observables] += 1
                continue
            tags = event_tags + _tag_names(attr, what)
            tlp, problems, disagree = _tlp(tags, default_tlp)
            note = attr.get("comment") if isinstance(attr.get("comment"), str) else ""
            note = (note or info).strip()[:MAX_NOTE]
            if problem := limits.text_problem(note):
                plan.skipped[UNSTORABLE] += 1
                plan.note(n, ref, f"skipped: the comment {problem}")
                continue
            if problems:
                plan.read_as_red += 1
                plan.note(n, ref, "read as RED: " + "; ".join(dict.fromkeys(problems)))
            elif disagree:
                plan.note(n, ref, f"its TLP tags disagree ({', '.join(disagree)}): read as the most "
                                  f"restrictive, {tlp.label}")
            source_id = _source_id(attr.get("uuid"))
            for obs in observables:
                if obs in seen:
                    plan.skipped["duplicate in the file"] += 1
                    continue
                seen.add(obs)
                plan.add(obs, tlp, default_confidence, _clean_tags(tags), note, default_valid_until, source_id)
    return plan


def _observables(misp_type: str, value: str) -> list[Observable] | str:
    """The indicators of an attribute, or why it gives none (a reason of the report)."""
    parts: tuple[tuple[int, str], ...] = COMPOSITE_TYPES.get(misp_type, ((-1, misp_type),))
    if misp_type not in OUR_TYPES and misp_type not in COMPOSITE_TYPES:
        return f"MISP type {misp_type[:40]} is not an indicator type of the coalition"
    pieces = value.split("|")
    found = []
    for index, part_type in parts:
        text = value if index < 0 else (pieces[index] if index < len(pieces) else "")
        obs = classify(our_candidate(part_type, text)) if text.strip() else None
        if obs is None or obs.type not in OUR_TYPES[part_type]:
            return f"not a valid {misp_type[:40]} value"
        found.append(obs)
    return found


def _tlp(tags: list[str], default: TLP) -> tuple[TLP, list[str], list[str]]:
    """The TLP of these tags, what was not understood (RED), and the labels when they disagree."""
    readings: list[Marking] = [read_label(t) for t in tags]
    problems = [m.problem for m in readings if m.problem]
    labels = list(dict.fromkeys(m.tlp for m in readings if m.tlp is not None))
    effective = [t for m in readings if (t := m.effective) is not None]
    tlp = max(effective, key=lambda t: t.rank) if effective else default
    return tlp, problems, [f"tlp:{t.value.lower()}" for t in labels] if len(labels) > 1 else []


def _source_id(raw: Any) -> str:
    """`indicator--<attribute uuid>`, as MISP's own STIX export names an attribute's indicator."""
    try:
        return f"indicator--{uuid.UUID(str(raw))}" if raw else ""
    except ValueError:
        return ""


__all__ = ["CONTEXT_SKIPPED", "events_of", "is_misp", "plan_events", "read_misp"]
