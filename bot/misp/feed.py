"""A MISP feed of the indicators a viewer may see (issue 14): what `coalition-bot export --format misp-feed` writes
and what the TAXII server serves at `/misp/feed/`, in the layout of MISP's own feed generator
(`tools/feed-generator`): `manifest.json` (event uuid -> its Orgc, tags, info, date, timestamp), `hashes.csv`
(`md5 of a value,event uuid` a line) and one `<event uuid>.json` per event, each `{"Event": {...}}` as PyMISP's
`MISPEvent.to_feed(with_meta=True)` writes it.

* One event per day (of the indicator's creation, UTC), author and TLP. The author is the submitting
  organization, or the coalition for an anonymous item: such an event names no organization (Orgc is the
  coalition, and so is every sighting on its attributes). Cases do not exist yet; when they do, a case becomes
  an event of its own and its indicators leave the day events (see `event_key`, the one place that decides).
* The event shell (Orgc, `tlp:` tag, info, date, distribution, timestamps) and the manifest entry are made with
  PyMISP (`MISPEvent.to_feed(with_meta=True)`, `MISPTag`, the categories of its describeTypes). Each attribute is
  written as the JSON text `MISPAttribute._to_feed()` gives, from a template (same fields, same order): PyMISP
  takes about 250 µs to make an attribute, which would make 100k indicators a 25-second export; the tests load
  every event back with PyMISP and compare.
* Attribute: type mapped from ours (`bot.misp.types`), `to_ids` true when approved, comment the note, tags
  `tlp:<label>` and the indicator's tags, first/last seen; distribution 5 (the event's). An approved indicator
  that was revoked, or passed its valid_until, stays in its event as a deleted attribute (`deleted` true, `to_ids`
  false, timestamped when it went, out of hashes.csv): MISP fetches the changed event and deletes it too. The event's
  distribution follows its TLP (CLEAR 3, GREEN 2, AMBER 1, AMBER+STRICT 0). RED is never written.
* Votes are sightings (confirm type 0, false positive type 1), sightings type 0, each named by the voter's
  organization (never the person; on an anonymous item, the coalition: see `bot.stix.export`).
* Everything is deterministic: the attribute uuid is a uuid5 of the indicator's STIX id, the event uuid of
  its key, a sighting's uuid the keyed id of its STIX opinion or sighting (`bot.stix.ids.ActIds`: nobody can
  recompute who voted), timestamps are the store's. Exporting again without a change gives the same bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bot import stix
from bot.domain import ExportFilter, SightingRecord, Status, Verdict, Visibility, VoteRecord
from bot.ioc import IOCType
from bot.misp.types import DISTRIBUTION, INHERIT_EVENT, MISP_TYPES, TLP_COLOURS, TLP_TAGS, MispRow, misp_value
from bot.ports import UnitOfWork
from bot.rules import ANONYMOUS_ORG, can_see
from bot.stix.ids import stable_uuid
from bot.tlp import TLP

NAMESPACE = uuid.UUID("2b8f7c1e-5d3a-5e6f-9a0b-1c2d3e4f5a6b")  # the MISP feed's uuid5 namespace (fixed)
BATCH = 2000
ANALYSIS_COMPLETED = 2
THREAT_LEVEL_UNDEFINED = 4
SIGHTING, FALSE_POSITIVE = "0", "1"
_SIGHTING_TYPES = {Verdict.CONFIRM: SIGHTING, Verdict.FALSE_POSITIVE: FALSE_POSITIVE}
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string: Callable[[str], str] = json.encoder.encode_basestring  # type: ignore[assignment] - a JSON string literal

#: (day, author organization id or None for the coalition, TLP): one event each.
EventKey = tuple[date, int | None, TLP]


def attribute_uuid(stix_id: str) -> str:
    """uuid5(NAMESPACE, stix_id), formatted without the uuid module's objects (the export's hot path)."""
    h = hashlib.sha1(_NAMESPACE_BYTES + stix_id.encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_NAMESPACE_BYTES = NAMESPACE.bytes
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # RFC 4122: the variant bits 10
_INHERIT = str(INHERIT_EVENT)
_DELETED = '"deleted":true,'


def event_uuid(key: EventKey) -> str:
    day, author, tlp = key
    return str(uuid.uuid5(NAMESPACE, f"day/{day.isoformat()}/{'coalition' if author is None else author}/"
                                     f"{tlp.value}"))


def event_key(ind: MispRow) -> EventKey:
    """The event an indicator belongs to: its creation day's, of its author, at its TLP. (When cases exist, an
    indicator in a case belongs to the case's event instead: decide it here.)"""
    created = ind.created_at
    day = (created if created.tzinfo is UTC else created.astimezone(UTC)).date()
    return day, None if ind.anonymous else ind.org_id, ind.tlp


def coalition_org(name: str) -> dict[str, str]:
    return {"name": name, "uuid": str(stable_uuid("coalition"))}


def org_of(org_id: int, name: str) -> dict[str, str]:
    """An organization as MISP names it: its uuid is that of its STIX identity (bot.stix.ids)."""
    return {"name": name, "uuid": str(stable_uuid(f"organization/{org_id}"))}


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass
class MispFeed:
    """A whole feed as the bytes of its files."""

    events: dict[str, bytes]  # event uuid -> `{"Event": ...}`
    manifest: bytes
    hashes: bytes
    attributes: int = 0
    sightings: int = 0
    latest_act: datetime | None = None  # the latest vote or sighting it holds (a server's cache checks for newer)

    def files(self) -> Iterable[tuple[str, bytes]]:
        yield "manifest.json", self.manifest
        yield "hashes.csv", self.hashes
        for event_id, body in self.events.items():
            yield f"{event_id}.json", body


@dataclass
class _Event:
    attributes: list[str] = field(default_factory=list)  # each attribute as JSON text (memory: the feed's size)
    hashes: list[str] = field(default_factory=list)
    timestamp: int = 0


class FeedBuilder:
    """Indicators (with their votes and sightings), batch after batch, to the events of a feed; `finish()`."""

    def __init__(self, org_names: Mapping[int, str], ids: stix.ActIds, *, coalition_name: str = "Coalition",
                 now: datetime) -> None:
        self.org_names, self.ids, self.coalition_name, self.now = org_names, ids, coalition_name, now
        self.events: dict[EventKey, _Event] = {}
        self.attributes = self.sightings = 0
        self.latest_act: datetime | None = None
        self._tags: dict[str, dict[str, Any]] = {}
        self._orgs: dict[int | None, dict[str, str]] = {None: coalition_org(coalition_name)}
        self._categories: dict[str, str] = {}
        self._tag_lists: dict[tuple[TLP, tuple[str, ...]], str] = {}
        self._heads: dict[tuple[str, bool], tuple[str, str, str]] = {}

    @staticmethod
    def wanted(ind: MispRow) -> bool:
        """Never RED (whatever the view: the store's read leaves out what is expired)."""
        return ind.tlp is not TLP.RED

    def add(self, indicators: Iterable[MispRow], votes: Mapping[int, list[VoteRecord]],
            sightings: Mapping[int, list[SightingRecord]]) -> None:
        no_acts: tuple[()] = ()
        events = self.events
        md5 = hashlib.md5
        for ind in indicators:
            if not self.wanted(ind):
                continue
            key = event_key(ind)
            text, value, stamp = self.attribute_json(ind, votes.get(ind.id, no_acts), sightings.get(ind.id, no_acts))
            event = events.get(key)
            if event is None:
                event = events[key] = _Event()
            event.attributes.append(text)
            if ind.withdrawn is None:  # hashes.csv: what the feed holds (MISP correlates on it)
                event.hashes.append(md5(value.encode(), usedforsecurity=False).hexdigest())
            if stamp > event.timestamp:
                event.timestamp = stamp
            self.attributes += 1

    def attribute_json(self, ind: MispRow, votes: Sequence[VoteRecord], sightings: Sequence[SightingRecord],
                       ) -> tuple[str, str, int]:
        """The attribute of one indicator as JSON text, its value and its timestamp (its last change or the last
        vote or sighting on it, whichever is later).

        The text is written from a template, not a dict through the encoder (the export's hot path): the fields
        of `MISPAttribute._to_feed()` in its (sorted) order, compact separators, each string through json's own
        escaping; the tests load it back with PyMISP and compare."""
        misp_type = MISP_TYPES[ind.type]
        value = misp_value(ind.type, ind.value) if ind.type is IOCType.ASN else ind.value
        stamp = int(ind.modified_at.timestamp())
        gone = ind.withdrawn
        if gone is not None:  # a deleted attribute, timestamped when it went: MISP fetches the event and drops it
            stamp = max(stamp, int(gone.timestamp()))
        acts = ""
        if votes or sightings:
            found: list[dict[str, Any]] = []
            target = stix.object_id(ind)  # type: ignore[arg-type] - it reads type and stix_id
            for vote in votes:
                found.append(self._sighting(ind, vote.org_id, _SIGHTING_TYPES[vote.verdict], vote.updated_at,
                                            self.ids.opinion_id(target, vote.member_id)))
            for s in sightings:
                found.append(self._sighting(ind, s.org_id, SIGHTING, s.seen_at, self.ids.sighting_id(target, s.id)))
            for moment in [v.updated_at for v in votes] + [s.seen_at for s in sightings]:
                stamp = max(stamp, _unix(moment))
                if self.latest_act is None or moment > self.latest_act:
                    self.latest_act = moment
            self.sightings += len(found)
            acts = ',"Sighting":' + _DUMPS(found)
        first, last = ind.first_seen, ind.last_seen
        to_ids = ind.status is Status.APPROVED and gone is None
        head = self._heads.get((misp_type, to_ids))
        if head is None:
            head = self._head(misp_type, to_ids)
        return (f'{{"category":{head[0]},"comment":{_string(ind.note)},{_DELETED if gone else ""}'
                f'"disable_correlation":false,'
                f'"distribution":"{_INHERIT}","first_seen":"{first.isoformat()}",'
                f'"last_seen":"{(last if last > first else first).isoformat()}","timestamp":"{stamp}",'
                f'"to_ids":{head[1]},"type":{head[2]},"uuid":"{attribute_uuid(ind.stix_id)}",'
                f'"value":{_string(value)},"Tag":{self._tag_list(ind.tlp, ind.tags)}{acts}}}'), value, stamp

    def _head(self, misp_type: str, to_ids: bool) -> tuple[str, str, str]:
        found = self._heads[(misp_type, to_ids)] = (_string(self._category(misp_type)), "true" if to_ids else "false",
                                                    _string(misp_type))
        return found

    def _tag_list(self, tlp: TLP, tags: tuple[str, ...]) -> str:
        key = (tlp, tags)
        found = self._tag_lists.get(key)
        if found is None:
            found = _DUMPS([self._tag(TLP_TAGS[tlp], TLP_COLOURS[tlp])] + [self._tag(t) for t in tags])
            if len(self._tag_lists) < 4096:
                self._tag_lists[key] = found
        return found

    def _sighting(self, ind: MispRow, org_id: int, kind: str, at: datetime, act_id: str) -> dict[str, Any]:
        return {"Organisation": self._org(None if ind.anonymous else org_id), "date_sighting": str(_unix(at)),
                "source": "", "type": kind, "uuid": act_id.partition("--")[2]}

    def _org(self, org_id: int | None) -> dict[str, str]:
        found = self._orgs.get(org_id)
        if found is None:
            assert org_id is not None
            found = self._orgs[org_id] = org_of(org_id, self.org_names.get(org_id, f"organization {org_id}"))
        return found

    def _tag(self, name: str, colour: str = "#ffffff") -> dict[str, Any]:
        found = self._tags.get(name)
        if found is None:
            from pymisp import MISPTag

            tag = MISPTag()
            tag.from_dict(name=name, colour=colour, local=False, relationship_type="")
            found = self._tags[name] = tag._to_feed()
        return found

    def _category(self, misp_type: str) -> str:
        found = self._categories.get(misp_type)
        if found is None:
            from pymisp import MISPAttribute

            found = self._categories[misp_type] = \
                MISPAttribute().describe_types["sane_defaults"][misp_type]["default_category"]
        return found

    def shell(self, key: EventKey, stamp: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """An event without its attributes, and its manifest entry, made by PyMISP (`to_feed(with_meta=True)`)."""
        from pymisp import MISPEvent, MISPOrganisation

        day, author, tlp = key
        event = MISPEvent()
        org = MISPOrganisation()
        org.from_dict(**self._org(author))
        who = ANONYMOUS_ORG if author is None else org.name
        event.from_dict(uuid=event_uuid(key), info=f"{self.coalition_name}: indicators of {day.isoformat()} "
                        f"from {who} ({tlp.label})", date=day, timestamp=stamp, publish_timestamp=stamp,
                        published=True, analysis=ANALYSIS_COMPLETED, threat_level_id=THREAT_LEVEL_UNDEFINED,
                        distribution=DISTRIBUTION[tlp])
        event.Orgc = org
        event.add_tag(self._tag(TLP_TAGS[tlp], TLP_COLOURS[tlp]))
        feed = event.to_feed(with_meta=True)["Event"]
        feed.pop("_hashes")
        manifest = feed.pop("_manifest")
        # The distribution is set here (to_feed's with_distribution adds to a class-wide set), and the fields are
        # ordered as to_feed orders them: the bytes do not depend on what else this process did with PyMISP.
        feed["distribution"] = str(DISTRIBUTION[tlp])
        nested = ("Orgc", "Tag")
        return {**{k: feed[k] for k in sorted(feed) if k not in nested}, **{k: feed[k] for k in nested}}, manifest

    def finish(self) -> MispFeed:
        events: dict[str, bytes] = {}
        manifest: dict[str, Any] = {}
        hashes: list[str] = []
        for key in sorted(self.events, key=lambda k: (k[0], -1 if k[1] is None else k[1], k[2].rank)):
            event = self.events[key]
            shell, entry = self.shell(key, event.timestamp)
            event_id = shell["uuid"]
            head = _DUMPS({"Event": shell})[:-2]  # ...}} : the attributes go last, spliced in as text
            events[event_id] = (head + ',"Attribute":[' + ",".join(event.attributes) + "]}}").encode()
            event.attributes.clear()
            manifest.update(entry)
            hashes += [f"{h},{event_id}\n" for h in event.hashes]
        return MispFeed(events, _DUMPS(manifest).encode(), "".join(hashes).encode(), self.attributes,
                        self.sightings, self.latest_act)


async def build_feed(uow: UnitOfWork, view: Visibility, flt: ExportFilter, *, now: datetime,
                     coalition_name: str = "Coalition", batch: int = BATCH,
                     progress: Callable[[str, int, int | None], None] | None = None) -> MispFeed:
    """The feed of what `view` may see of `flt` (approved by default; unexpired), read by id in batches.

    Pipelined: while a batch's attributes are built in a worker thread, the store reads the next one (the
    database driver works in its own thread), so the two take the time of the longer, not of both."""
    ids = stix.ActIds(await uow.secrets.get_or_create(stix.STIX_IDS_SECRET))
    builder = FeedBuilder(await uow.exchange.organization_names(), ids, coalition_name=coalition_name, now=now)

    async def read(after: int) -> tuple[Sequence[MispRow], Mapping[int, list[VoteRecord]],
                                        Mapping[int, list[SightingRecord]]]:
        found = await uow.misp.rows(flt, view, now, after, batch)
        acts = await uow.misp.acts(after, found[-1].id) if found else ({}, {})
        return found, *acts

    done = 0
    pending: asyncio.Future[Any] | None = asyncio.ensure_future(read(0))
    try:
        while pending is not None:
            found, votes, sightings = await pending
            pending = asyncio.ensure_future(read(found[-1].id)) if len(found) == batch else None
            rows = [r for r in found if can_see(r, view) and builder.wanted(r)]  # type: ignore[arg-type]
            await asyncio.to_thread(builder.add, rows, votes, sightings)
            done += len(rows)
            if progress is not None:
                progress("indicators", done, None)
    finally:
        if pending is not None:  # an error above: the read in flight is not left behind
            pending.cancel()
    return await asyncio.to_thread(builder.finish)  # the event shells and the text: off the event loop


__all__ = ["FeedBuilder", "MispFeed", "attribute_uuid", "build_feed", "event_key", "event_uuid"]
