"""STIX 2.1 out of the store, and what the TAXII server needs of the core: writing an export (the `coalition-bot
export` command, chat `/ioc export`), API keys, and the TAXII feed's pages. The services that take a person's
command (chat export and import, file imports, API key admin) are in bot.services.exchange.

Every export goes through the store's visibility filter (`bot.rules`), then `can_see` once more. This module
loads no chat command, result or service at import: `coalition-bot export` starts without them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import stix
from bot.commands import UsageError
from bot.domain import ApiKey, ExportFilter, Indicator, Status, Visibility
from bot.ioc import IOCType
from bot.ports import Conflict, FeedKey, UnitOfWork
from bot.rules import can_see
from bot.score import ScoreModel, scores_of
from bot.tlp import TLP

if TYPE_CHECKING:
    from bot.results import ApiKeyCreated

EXPORT_BATCH = 2000
MAX_IMPORT_BYTES = 50 * 1024 * 1024  # a file to import, whichever way it comes
MEDIA_TYPES = {"stix": "application/stix+json;version=2.1", "csv": "text/csv", "txt": "text/plain"}
EXTENSIONS = {"stix": "json", "csv": "csv", "txt": "txt"}
# The kinds of the TAXII feed's objects, in the order they sort at equal date_added (a family before the first
# `indicates` naming it; notes and groupings after what they refer to).
FEED_SUPPORTING, FEED_INDICATOR, FEED_OPINION, FEED_SIGHTING = -1, 0, 1, 2
FEED_MALWARE, FEED_RELATIONSHIP, FEED_NOTE, FEED_GROUPING = 3, 4, 5, 6
FEED_KINDS = {"indicator": FEED_INDICATOR, "vulnerability": FEED_INDICATOR, "opinion": FEED_OPINION,
              "sighting": FEED_SIGHTING, "malware": FEED_MALWARE, "relationship": FEED_RELATIONSHIP,
              "note": FEED_NOTE, "grouping": FEED_GROUPING}
SUPPORTING_TYPES = frozenset({"identity", "marking-definition", "extension-definition"})

#: How far a long export or import is, told to whoever renders it (the command line draws a bar or logs a line):
#: `progress(what, done, total)`, with `total` None while it is not known. Called on the event loop, between
#: batches: it must return at once.
Progress = Callable[[str, int, int | None], None]


def no_progress(what: str, done: int, total: int | None) -> None:
    return None


# ---------------------------------------------------------------- export

async def act_ids(uow: UnitOfWork) -> stix.ActIds:
    """The keyed derivation of opinion and sighting ids, with this deployment's secret (made on first use)."""
    return stix.ActIds(await uow.secrets.get_or_create(stix.STIX_IDS_SECRET))


@dataclass
class ExportStats:
    indicators: int = 0
    objects: int = 0
    truncated: bool = False


async def write_export(uow: UnitOfWork, view: Visibility, flt: ExportFilter, fmt: str, write: Callable[[str], Any],
                       *, viewer_org_id: int | None, limit: int | None = None, batch: int = EXPORT_BATCH,
                       coalition_name: str = "Coalition", progress: Progress = no_progress,
                       scoring: tuple[datetime, ScoreModel] | None = None, min_score: int | None = None) -> ExportStats:
    """Stream the export in `fmt` (stix | csv | txt) to `write`, batch by batch (constant memory); `progress` is
    told the indicators written after each batch. With `scoring` (now, model) each indicator carries its score
    (STIX `x_coalition_score`, the CSV `score` column), and `min_score` keeps only those scoring at least that."""
    stats = ExportStats()
    builder = stix.BundleBuilder(await uow.exchange.organization_names(), coalition_name,
                                 ids=await act_ids(uow)) if fmt == "stix" else None
    stream = stix.BundleStream() if fmt == "stix" else None
    if stream is not None:
        write(stream.start())
    elif fmt == "csv":
        write(stix.csv_rows((), viewer_org_id, header=True))
    after = 0
    while True:
        size = batch if limit is None else min(batch, limit - stats.indicators + 1)
        if size <= 0:
            break
        rows = [r for r in await uow.exchange.export_batch(flt, view, after, size) if can_see(r, view)]
        if not rows:
            break
        after = rows[-1].id
        fetched = len(rows)
        scores = await scores_of(uow, rows, *scoring) if scoring is not None else None
        if scores is not None and min_score is not None:
            rows = [r for r in rows if scores[r.id] >= min_score]
        if limit is not None and stats.indicators + len(rows) > limit:
            rows = rows[:limit - stats.indicators]
            stats.truncated = True
        stats.indicators += len(rows)
        if builder is not None and stream is not None:
            votes, sightings = await uow.exchange.activity_records([r.id for r in rows])
            objects = builder.objects_for(rows, votes, sightings, scores)
            ids = [r.id for r in rows]  # issue 13: comments as notes, cases as groupings (at the end)
            objects += builder.context_objects(rows, await uow.context.comments_of(ids),
                                               await uow.context.cases_of(ids))
            stats.objects += len(objects)
            write(stream.write(objects))
        elif fmt == "csv":
            write(stix.csv_rows(rows, viewer_org_id, scores=scores))
            stats.objects += len(rows)
        else:
            write(stix.text_lines(rows))
            stats.objects += len(rows)
        progress("indicators", stats.indicators, None)
        if stats.truncated or fetched < size:
            break
    if builder is not None and stream is not None:
        cases = [c for c in [await uow.context.case_by_id(i) for i in builder.case_ids()]
                 if c is not None and can_see(c, view)]  # type: ignore[arg-type]  (a case is seen as an item is)
        supporting = builder.groupings(cases) + builder.supporting_objects()
        stats.objects += len(supporting)
        write(stream.write(supporting) + "]}")
    return stats


# ---------------------------------------------------------------- API keys (admins)

KEY_PREFIX = "cbk_"


def new_api_key() -> tuple[str, str, str]:
    """(key, its SHA-256, a display prefix). The key is shown once; only the digest is stored."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_digest(key), key[:12]


def key_digest(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


async def authenticate(uow: UnitOfWork, key: str) -> ApiKey | None:
    """The active key this secret is, or None. The digests are compared in constant time."""
    if not key or len(key) > 200:
        return None
    digest = key_digest(key)
    found = await uow.api_keys.by_digest(digest)
    if found is None:
        hmac.compare_digest(digest, digest)  # the same work on both paths
        return None
    api_key, stored = found
    return api_key if hmac.compare_digest(stored, digest) else None


async def create_api_key(uow: UnitOfWork, org_name: str, name: str, *, created_by: int | None,
                         now: datetime) -> ApiKeyCreated:
    org = await uow.organizations.by_name(org_name)
    if org is None:
        raise UsageError(f"there is no organization named '{org_name}' (see `/ioc admin org list`)", "apikey create")
    from bot.results import ApiKeyCreated  # the results module only where one is made (see the docstring)

    key, digest, prefix = new_api_key()
    try:
        api_key = await uow.api_keys.add(org.id, name, digest, prefix, created_by, now)
    except Conflict:  # 256 random bits colliding: try once more
        key, digest, prefix = new_api_key()
        api_key = await uow.api_keys.add(org.id, name, digest, prefix, created_by, now)
    return ApiKeyCreated(key, api_key)


# ---------------------------------------------------------------- the TAXII feed

FeedRow = tuple[FeedKey, Any, Any]  # (key, the indicator or None, a record or an object made already)


def feed_object(ind: Indicator, kind: int, record: Any, ids: stix.ActIds | None) -> dict[str, Any]:
    """The STIX object of a feed row read from the store, as the exports make it (bot.stix)."""
    if kind == FEED_INDICATOR:
        if ind.status is Status.REVOKED and ind.decided_at is not None:  # its revoked version: the revocation's
            ind = dataclasses.replace(ind, modified_at=ind.decided_at)
        return stix.indicator_object(ind)
    if kind == FEED_RELATIONSHIP:
        return stix.indicates_object(ind, stix.indicator_object(ind))
    assert ids is not None
    if kind == FEED_OPINION:
        return stix.opinion_object(ind, record, ids)
    if kind == FEED_SIGHTING:
        return stix.sighting_object(ind, record, ids)
    return stix.note_object(ind, record, ids)


def visible_tlps(view: Visibility) -> list[TLP]:
    """The TLP labels whose objects this viewer may see (`bot.rules.can_see` on the label alone)."""
    shared = min(view.max_shared_tlp.rank, TLP.AMBER.rank)
    return [t for t in TLP if t.rank <= shared or (t is TLP.AMBER_STRICT and view.amber_strict_own_org)
            or (t is TLP.RED and (view.red_all or view.red_own))]


async def feed_supporting(uow: UnitOfWork, view: Visibility, coalition_name: str = "Coalition",
                          ) -> list[tuple[FeedKey, dict[str, Any]]]:
    """The objects the feed's objects reference, so that the collection is self-contained: the coalition's and
    the organizations' identities (`created_by_ref`, `where_sighted_refs`), the TLP 2.0 extension-definition
    and the marking-definitions of the labels this viewer may see. Their date_added is their (fixed) creation
    time, before any indicator: a client reading the collection from the start gets them first."""
    identities = stix.parse_timestamp(stix.IDENTITY_CREATED)
    markings = stix.parse_timestamp(stix.TLP2_CREATED)
    found: list[tuple[FeedKey, dict[str, Any]]] = [
        ((identities, FEED_SUPPORTING, 0), stix.coalition_identity(coalition_name))]
    for org_id, name in sorted((await uow.exchange.organization_names()).items()):
        found.append(((identities, FEED_SUPPORTING, org_id), stix.identity_object(stix.org_identity_id(org_id), name)))
    found.append(((markings, FEED_SUPPORTING, 0), stix.TLP2_EXTENSION_DEFINITION))
    found.append(((markings, FEED_SUPPORTING, 100), stix.ORIGIN_EXTENSION_DEFINITION))  # x_coalition_origin's
    found += [((markings, FEED_SUPPORTING, 1 + t.rank), stix.TLP2_MARKINGS[t]) for t in visible_tlps(view)]
    return found


def malware_row_id(name: str) -> int:
    """A family's place among the feed's malware objects of one date_added: stable, from its name (56 bits)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:7], "big")


async def feed_malware(uow: UnitOfWork, view: Visibility) -> list[tuple[FeedKey, dict[str, Any]]]:
    """A `malware` object per family named by an approved indicator this viewer may see (the object the exports
    carry: marked with the least restrictive TLP of those indicators); date_added is the earliest date_added of
    those indicators, so the family comes just before the first `indicates` naming it."""
    tlps = {t.rank: t for t in TLP}
    return [((first, FEED_MALWARE, malware_row_id(name)), stix.malware_object(name, tlps[rank]))
            for name, first, rank in await uow.exchange.feed_malware(view)]


async def feed_groupings(uow: UnitOfWork, view: Visibility) -> list[FeedRow]:
    """The cases this viewer may see (their TLP: bot.rules.can_see) that hold, or held, an indicator it is served,
    as rows whose object is made later (`_grouping_objects`, for the page's only). date_added (and the grouping's
    `modified`) is the latest of the case's creation and of the changes of those indicators (storage's
    `feed_cases`): a grouping comes again when what this viewer sees in it changes (an indicator approved, edited,
    revoked, added or removed; once nothing is left, over its author's identity alone) and never moves for what it
    may not see."""
    found: list[FeedRow] = []
    for case, latest in await uow.exchange.feed_cases(view):
        if can_see(case, view):  # type: ignore[arg-type]  (a case is seen as an item is)
            found.append(((max(case.created_at, latest), FEED_GROUPING, case.id), None, case))
    return found


async def _grouping_objects(uow: UnitOfWork, view: Visibility, rows: list[FeedRow]) -> dict[int, dict[str, Any]]:
    cases = {key[2]: case for key, _, case in rows if key[1] == FEED_GROUPING}
    if not cases:
        return {}
    members = await uow.exchange.feed_case_members(cases, view)
    found: dict[int, dict[str, Any]] = {}
    for key, _, case in rows:
        if key[1] != FEED_GROUPING:
            continue
        refs = sorted({stix.vulnerability_id(sid) if t is IOCType.CVE else sid for t, sid in members.get(case.id, ())})
        # nothing in it this viewer may see (what it saw removed or revoked): STIX asks a grouping for at least one
        # reference, and its author's identity (served first, as every organization's) names nothing of the case
        found[case.id] = stix.grouping_object(case, refs or [stix.org_identity_id(case.org_id)],
                                              stix.timestamp(key[0]))
    return found


async def _matching_by_scan(uow: UnitOfWork, view: Visibility, kind: int, wanted: set[str], cursor: FeedKey | None,
                            added_after: datetime | None) -> list[FeedRow]:
    """The rows of `kind` (relationship, note) whose object id is one of `wanted`: their ids are derived (a
    relationship's from its ends, a note's keyed) and cannot be looked up, so the viewer's rows of that kind are
    read through, a batch at a time (match[id] of these is rare: a client fetching one object)."""
    found: list[FeedRow] = []
    ids = await act_ids(uow) if kind == FEED_NOTE else None
    after = cursor
    while True:
        rows = await uow.exchange.feed_page(view, cursor=after, added_after=added_after, kinds={kind}, stix_ids=[],
                                            limit=SCAN_BATCH)
        for key, ind, record in rows:
            obj = feed_object(ind, kind, record, ids)
            if obj["id"] in wanted and can_see(ind, view):
                found.append((key, None, obj))
        if len(rows) < SCAN_BATCH or len(found) >= len(wanted):
            return found
        after = rows[-1][0]


SCAN_BATCH = 5000


async def feed_page(uow: UnitOfWork, view: Visibility, *, cursor: FeedKey | None, added_after: datetime | None,
                    types: Sequence[str], stix_ids: Sequence[str], limit: int,
                    ) -> tuple[list[tuple[FeedKey, dict[str, Any]]], bool, FeedKey | None]:
    """Up to `limit` feed objects after `cursor`, each with its keyset key; whether there are more; the key of
    the last row read (the next cursor, even when the type filter dropped that row).

    The feed: the supporting objects (identities, marking-definitions, the TLP 2.0 extension-definition), then
    the approved indicators this viewer may see (and the revoked ones, as their `revoked` version added at the
    revocation; an item revoked once is never served unrevoked again), their opinions (votes) and sightings, and
    their context as the exports carry it (issue 13): each malware family they name (`malware`) and their
    `indicates` relationships, their comments (`note`), the cases this viewer may see as `grouping`s over them;
    in (date_added, kind, id) order. Nothing is read of what the viewer may not see: no object, no reference, no
    count, no key."""
    kinds = {FEED_KINDS[t] for t in types if t in FEED_KINDS} if types else set(FEED_KINDS.values())
    supporting_wanted = not types or bool(SUPPORTING_TYPES.intersection(types))
    prefixes: dict[str, set[str]] = {}
    for i in stix_ids:
        prefixes.setdefault(i.split("--", 1)[0], set()).add(i)
    ids = [i for i in stix_ids if i.startswith(("indicator--", "vulnerability--"))]
    support_ids = {i for t in SUPPORTING_TYPES for i in prefixes.get(t, ())}

    def wanted(kind: int, type_: str) -> bool:  # this kind is asked for, by type and by id
        return kind in kinds and (not stix_ids or type_ in prefixes)

    def after(key: FeedKey) -> bool:
        return not ((cursor is not None and key <= cursor) or (added_after is not None and key[0] <= added_after))

    made: list[FeedRow] = []  # rows computed here (not read by the store's keyset), each kind in key order
    if supporting_wanted and (support_ids or not stix_ids):
        for key, obj in await feed_supporting(uow, view):
            if after(key) and not (types and obj["type"] not in types) and not (support_ids and obj["id"]
                                                                               not in support_ids):
                made.append((key, None, obj))
    if wanted(FEED_MALWARE, "malware"):
        made += [(k, None, o) for k, o in await feed_malware(uow, view)
                 if after(k) and (not stix_ids or o["id"] in prefixes["malware"])]
    if wanted(FEED_GROUPING, "grouping"):
        made += [r for r in await feed_groupings(uow, view)
                 if after(r[0]) and (not stix_ids or stix.grouping_id(r[2].id) in prefixes["grouping"])]
    for kind, type_ in ((FEED_RELATIONSHIP, "relationship"), (FEED_NOTE, "note")):
        if stix_ids and wanted(kind, type_):
            made += await _matching_by_scan(uow, view, kind, prefixes[type_], cursor, added_after)
    made.sort(key=lambda r: r[0])
    rows: list[FeedRow] = made[:limit + 1]
    store_kinds = kinds & {FEED_INDICATOR, FEED_OPINION, FEED_SIGHTING, FEED_RELATIONSHIP, FEED_NOTE}
    if stix_ids:
        store_kinds &= {FEED_INDICATOR} if ids else set()
    if store_kinds:
        rows += await uow.exchange.feed_page(view, cursor=cursor, added_after=added_after, kinds=store_kinds,
                                             stix_ids=[("indicator--" + i.partition("--")[2]) for i in ids],
                                             limit=limit + 1)
        rows.sort(key=lambda r: r[0])
    if not rows:
        return [], False, None
    more = len(rows) > limit
    page = rows[:limit]
    keyed = await act_ids(uow) if any(r[0][1] in (FEED_OPINION, FEED_SIGHTING, FEED_NOTE) for r in page) else None
    groupings = await _grouping_objects(uow, view, page)
    out: list[tuple[FeedKey, dict[str, Any]]] = []
    for key, ind, record in page:
        if key[1] == FEED_GROUPING:
            obj = groupings.get(key[2])
        elif ind is None:
            obj = record
        else:
            obj = feed_object(ind, key[1], record, keyed) if can_see(ind, view) else None
        if obj is None or (types and obj["type"] not in types):
            continue
        out.append((key, obj))
    return out, more, page[-1][0]
