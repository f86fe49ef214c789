"""STIX/TAXII exchange: streaming export, keyset-paged feed and bulk import."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.domain import (
    Comment,
    ExportFilter,
    Indicator,
    NewIndicator,
    Platform,
    SightingRecord,
    Status,
    Verdict,
    Visibility,
    VoteRecord,
)
from bot.ioc import IOCType
from bot.ports import Conflict
from storage.models import (
    AuditRow,
    CommentRow,
    IndicatorRow,
    IndicatorTagRow,
    OrganizationRow,
    SightingRow,
    TaxiiPullRow,
    VoteRow,
)
from storage.repositories.base import _chunks, _is_unique_violation, _Repository
from storage.repositories.context import _comments
from storage.repositories.feed_context import FeedContextReads, revoked_once
from storage.repositories.indicator_rows import _VERDICTS, _indicator, _indicators, scope_of, visibility_clause
from storage.repositories.indicators import _normal_tags, provenance

# Kinds of feed objects, in the order they sort at equal date_added (bot.exchange: malware 3 and grouping 6 are
# read by storage.repositories.feed_context; relationship 4 is an indicator's `indicates`, note 5 a comment).
FEED_INDICATOR, FEED_OPINION, FEED_SIGHTING, FEED_RELATIONSHIP, FEED_NOTE = 0, 1, 2, 4, 5
FeedKey = tuple[datetime, int, int]  # (date_added, kind, row id): the keyset cursor of the TAXII feed


def _export_conditions(flt: ExportFilter, view: Visibility) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [visibility_clause(view)]
    if flt.statuses:
        conditions.append(IndicatorRow.status.in_([Status(s).value for s in flt.statuses]))
    if flt.max_tlp is not None:
        conditions.append(IndicatorRow.tlp_rank <= flt.max_tlp.rank)
    if flt.types:
        conditions.append(IndicatorRow.type.in_([IOCType(t).value for t in flt.types]))
    for tag in _normal_tags(flt.tags):
        conditions.append(exists().where(IndicatorTagRow.indicator_id == IndicatorRow.id, IndicatorTagRow.tag == tag))
    if flt.since is not None:
        conditions.append(IndicatorRow.modified_at >= flt.since)
    return conditions


def _keyset_ranges(date_col: Any, id_col: Any, kind: int, cursor: FeedKey | None, added_after: datetime | None,
                   bound: FeedKey | None) -> list[tuple[list[ColumnElement[bool]], bool]]:
    """The feed rows of one kind strictly after `cursor` and up to `bound` (inclusive) in (date_added, kind, id)
    order, as one or two index ranges: (conditions, whether the range is one date, ordered by id alone).

    A row-value comparison `(date, id) > (d, i)` is no index seek on SQLite (it reads every row of date d from
    the first), so the cursor's own date is a range of its own: `date = d AND id > i`, then `date > d`."""
    ranges: list[tuple[list[ColumnElement[bool]], bool]] = []
    rest: list[ColumnElement[bool]] = []
    if cursor is not None:
        date, ckind, cid = cursor
        if kind == ckind:
            same = [date_col == date, id_col > cid]
            if added_after is not None and not date > added_after:
                same = []
            if same and bound is not None:
                bdate, bkind, bid = bound
                if date > bdate or (date == bdate and (kind > bkind or (kind == bkind and cid >= bid))):
                    same = []
                elif date == bdate and kind == bkind:
                    same.append(id_col <= bid)
            if same:
                ranges.append((same, True))
            rest.append(date_col > date)
        else:
            rest.append(date_col >= date if kind > ckind else date_col > date)
    if added_after is not None:
        rest.append(date_col > added_after)
    if bound is not None:
        bdate, bkind, bid = bound
        if kind == bkind:
            rest += [date_col <= bdate, or_(date_col < bdate, id_col <= bid)]
        else:
            rest.append(date_col <= bdate if kind < bkind else date_col < bdate)
    ranges.append((rest, False))
    return ranges


class SqlExchangeRepository(FeedContextReads, _Repository):
    """The reads and bulk writes of STIX export/import and the TAXII server (visibility applied in SQL)."""

    async def export_batch(self, flt: ExportFilter, view: Visibility, after_id: int, size: int) -> Sequence[Indicator]:
        """The next `size` indicators with id > after_id (keyset by id: constant cost per batch)."""
        rows = await self._execute(
            _indicators().where(*_export_conditions(flt, view), IndicatorRow.id > after_id)
            .order_by(IndicatorRow.id).limit(size)
        )
        return [_indicator(row) for row in rows]

    async def activity_records(self, indicator_ids: Iterable[int]) -> tuple[
            dict[int, list[VoteRecord]], dict[int, list[SightingRecord]]]:
        ids = list(dict.fromkeys(indicator_ids))
        votes: dict[int, list[VoteRecord]] = {}
        sightings: dict[int, list[SightingRecord]] = {}
        for chunk in _chunks(ids):
            for r in await self._execute(
                select(VoteRow.indicator_id, VoteRow.member_id, VoteRow.org_id, VoteRow.verdict, VoteRow.reason,
                       VoteRow.created_at, VoteRow.updated_at)
                .where(VoteRow.indicator_id.in_(chunk)).order_by(VoteRow.id)
            ):
                votes.setdefault(r.indicator_id, []).append(VoteRecord(
                    r.indicator_id, r.member_id, r.org_id, Verdict(r.verdict), r.reason, r.created_at, r.updated_at))
            for r in await self._execute(
                select(SightingRow.id, SightingRow.indicator_id, SightingRow.org_id, SightingRow.count,
                       SightingRow.seen_at)
                .where(SightingRow.indicator_id.in_(chunk)).order_by(SightingRow.id)
            ):
                sightings.setdefault(r.indicator_id, []).append(
                    SightingRecord(r.id, r.indicator_id, r.org_id, r.count, r.seen_at))
        return votes, sightings

    async def feed_page(self, view: Visibility, *, cursor: FeedKey | None, added_after: datetime | None,
                        kinds: Iterable[int], stix_ids: Sequence[str], limit: int,
                        ) -> list[tuple[FeedKey, Indicator, VoteRecord | SightingRecord | Comment | None]]:
        """Up to `limit` objects of the feed (approved indicators this viewer may see, their votes and sightings,
        the `indicates` relationship of those naming a malware family, their comments) in (date_added, kind, id)
        order after `cursor`. date_added: an indicator's approval (its last status change, `modified_at`), and so
        its relationship's; a revoked indicator's revocation (`decided_at`: it comes again, revoked; one revoked
        once and approved again is not served); a vote's last change, a sighting's time, a comment's, or its
        indicator's when that is later (one made while the item was pending, or out of this viewer's sight, is
        added with it: stored as the row's `added_at`, moved with its indicator, 0019 and 0020).

        Each kind is a keyset range on its own index ((status, modified_at, id, tlp_rank, org_id) covers the
        indicators' visibility; votes and sightings (added_at, id, indicator_id)),
        read in turn with an upper bound: once `limit` keys are known, a later kind reads only what sorts before
        the last of them. Then one query each for the page's indicators, votes and sightings. No COUNT."""
        kinds = set(kinds)
        visible = [visibility_clause(view)]
        keys: list[tuple[FeedKey, int]] = []  # (key, indicator id)
        bound: FeedKey | None = None

        def served(status: Status = Status.APPROVED) -> list[Any]:
            """The conditions on an item's indicator: this status, visible to this viewer; an approved item revoked
            once (reopened, approved again) is served no more: STIX never un-revokes."""
            return [*visible, IndicatorRow.status == status.value,
                    ~revoked_once() if status is Status.APPROVED else IndicatorRow.decided_at.is_not(None)]

        async def read(kind: int, date_col: Any, id_col: Any, ind_col: Any, extra: list[Any],
                       status: Status = Status.APPROVED, where: list[Any] | None = None) -> None:
            """`where`: the items' conditions, when not `served(status)` and `extra` on a join."""
            nonlocal keys, bound
            where = served(status) if where is None else where
            found: list[tuple[FeedKey, int]] = []
            for conds, single_date in _keyset_ranges(date_col, id_col, kind, cursor, added_after, bound):
                want = limit - len(found)
                if want <= 0:
                    break
                order = (id_col,) if single_date else (date_col, id_col)
                rows = await self._execute(
                    select(date_col, id_col, ind_col).where(*where, *extra, *conds).order_by(*order).limit(want))
                found += [((r[0], kind, r[1]), r[2]) for r in rows]
            keys = sorted(keys + found)[:limit]
            if len(keys) == limit:
                bound = keys[-1][0]

        if FEED_INDICATOR in kinds:
            extra = [IndicatorRow.stix_id.in_(stix_ids)] if stix_ids else []
            await read(FEED_INDICATOR, IndicatorRow.modified_at, IndicatorRow.id, IndicatorRow.id, extra)
            # a revoked item (only an approved one is revoked: bot.services.moderation) comes again as its revoked
            # version, added and modified at its revocation (decided_at: a later edit moves nothing)
            await read(FEED_INDICATOR, IndicatorRow.decided_at, IndicatorRow.id, IndicatorRow.id, extra,
                       status=Status.REVOKED)
        if FEED_OPINION in kinds and not stix_ids:
            await read(FEED_OPINION, VoteRow.added_at, VoteRow.id, VoteRow.indicator_id,
                       [VoteRow.indicator_id == IndicatorRow.id])
        if FEED_SIGHTING in kinds and not stix_ids:
            await read(FEED_SIGHTING, SightingRow.added_at, SightingRow.id, SightingRow.indicator_id,
                       [SightingRow.indicator_id == IndicatorRow.id])
        if FEED_RELATIONSHIP in kinds and not stix_ids:  # (a CVE is exported with no `indicates`: bot.stix)
            await read(FEED_RELATIONSHIP, IndicatorRow.modified_at, IndicatorRow.id, IndicatorRow.id,
                       [IndicatorRow.malware.is_not(None), IndicatorRow.type != IOCType.CVE.value])
        if FEED_NOTE in kinds and not stix_ids:  # a note is added when both it and its indicator are there
            # Comments in (added_at, id) order (their index, 0019), each one's indicator checked by its key: the
            # comments drive the read whatever the planner's statistics say, and a page reads only its notes.
            await read(FEED_NOTE, CommentRow.added_at, CommentRow.id, CommentRow.indicator_id, [],
                       where=[exists().where(IndicatorRow.id == CommentRow.indicator_id, *served())])
        vote_ids = [k[2] for k, _ in keys if k[1] == FEED_OPINION]
        sighting_ids = [k[2] for k, _ in keys if k[1] == FEED_SIGHTING]
        records: dict[tuple[int, int], VoteRecord | SightingRecord | Comment] = {}
        note_ids = [k[2] for k, _ in keys if k[1] == FEED_NOTE]
        for chunk in _chunks(note_ids):
            for r in await self._execute(_comments().where(CommentRow.id.in_(chunk))):
                records[(FEED_NOTE, r[0])] = Comment(*r)
        for chunk in _chunks(vote_ids):
            for r in await self._execute(
                select(VoteRow.id, VoteRow.indicator_id, VoteRow.member_id, VoteRow.org_id, VoteRow.verdict,
                       VoteRow.reason, VoteRow.created_at, VoteRow.updated_at).where(VoteRow.id.in_(chunk))
            ):
                records[(FEED_OPINION, r.id)] = VoteRecord(r.indicator_id, r.member_id, r.org_id,
                                                           _VERDICTS[r.verdict], r.reason, r.created_at,
                                                           r.updated_at)
        for chunk in _chunks(sighting_ids):
            for r in await self._execute(
                select(SightingRow.id, SightingRow.indicator_id, SightingRow.org_id, SightingRow.count,
                       SightingRow.seen_at).where(SightingRow.id.in_(chunk))
            ):
                records[(FEED_SIGHTING, r.id)] = SightingRecord(r.id, r.indicator_id, r.org_id, r.count, r.seen_at)
        indicators = {i.id: i for i in await self.indicators_by_ids([ind_id for _, ind_id in keys])}
        out: list[tuple[FeedKey, Indicator, VoteRecord | SightingRecord | Comment | None]] = []
        for key, ind_id in keys:
            ind = indicators.get(ind_id)
            if ind is None:
                continue
            if key[1] in (FEED_INDICATOR, FEED_RELATIONSHIP):
                out.append((key, ind, None))
            elif (record := records.get((key[1], key[2]))) is not None:
                out.append((key, ind, record))
        return out

    async def indicators_by_ids(self, ids: Iterable[int]) -> Sequence[Indicator]:
        wanted = list(dict.fromkeys(ids))
        found: list[Indicator] = []
        for chunk in _chunks(wanted):
            found.extend(_indicator(r) for r in await self._execute(
                _indicators().where(IndicatorRow.id.in_(chunk))))
        return found

    async def add_indicators(self, news: Sequence[NewIndicator]) -> list[int]:
        """Insert many new indicators (and their tags) at once; their ids, in order. Raises Conflict (and
        inserts none) when any (type, value) exists already in its visibility scope (`scope_of`): the caller then
        takes the one-by-one path."""
        ids: list[int] = []
        try:
            async with self._session.begin_nested():
                for chunk in _chunks(news, 1000):
                    params = [{
                        "stix_id": n.stix_id, "type": n.type.value, "value": n.value,
                        "scope": scope_of(n.tlp, n.org_id, n.submitter_id), "status": Status.PENDING.value,
                        "tlp": n.tlp.value, "tlp_rank": n.tlp.rank, "confidence": n.confidence, "note": n.note,
                        "submitter_id": n.submitter_id, "org_id": n.org_id, "anonymous": n.anonymous,
                        "first_seen": n.seen_at, "last_seen": n.seen_at, "valid_until": n.valid_until,
                        "created_at": n.seen_at, "modified_at": n.seen_at, "status_reason": "", **provenance(n),
                    } for n in chunk]
                    if self._dialect == "postgresql":  # one multi-row INSERT ... RETURNING, in parameter order
                        result = await self._execute(
                            insert(IndicatorRow).returning(IndicatorRow.id, sort_by_parameter_order=True), params)
                        chunk_ids = list(result.scalars())
                    else:
                        # SQLite runs an INSERT ... RETURNING in parameter order row by row (no sentinel for the
                        # rowid), a driver round trip each: one executemany, then the ids by stix_id (unique).
                        await self._execute(insert(IndicatorRow), params)
                        stix_ids = [p["stix_id"] for p in params]
                        found = {row.stix_id: row.id for row in await self._execute(
                            select(IndicatorRow.stix_id, IndicatorRow.id).where(IndicatorRow.stix_id.in_(stix_ids)))}
                        chunk_ids = [found[stix_id] for stix_id in stix_ids]
                    ids.extend(chunk_ids)
                    tags = [{"indicator_id": i, "tag": t} for i, n in zip(chunk_ids, chunk, strict=True)
                            for t in _normal_tags(n.tags)]
                    if tags:
                        await self._execute(insert(IndicatorTagRow), tags)
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict("some of these indicators were stored meanwhile") from exc
            raise
        return ids

    async def audit_many(self, entries: Sequence[dict[str, Any]]) -> None:
        """Many audit rows (keys of AuditRow: at, platform, member_id, action, indicator_id, detail) at once."""
        for chunk in _chunks(entries, 2000):
            await self._execute(insert(AuditRow), [
                {**e, "platform": Platform(e["platform"]).value, "detail": e.get("detail") or {}} for e in chunk])

    async def pull_state(self, url: str, collection: str) -> str | None:
        """The last date_added `taxii pull` read from this server's collection (as the server wrote it)."""
        return (await self._execute(select(TaxiiPullRow.last_added).where(
            TaxiiPullRow.url == url, TaxiiPullRow.collection == collection))).scalar_one_or_none()

    async def save_pull_state(self, url: str, collection: str, last_added: str, at: datetime) -> None:
        change = (update(TaxiiPullRow).where(TaxiiPullRow.url == url, TaxiiPullRow.collection == collection)
                  .values(last_added=last_added, pulled_at=at))
        if (await self._execute(change)).rowcount:
            return
        try:
            async with self._session.begin_nested():
                await self._execute(insert(TaxiiPullRow).values(url=url, collection=collection,
                                                                last_added=last_added, pulled_at=at))
        except IntegrityError as exc:  # another pull of the same collection saved first: this one is later
            if not _is_unique_violation(exc):
                raise
            await self._execute(change)

    async def organization_names(self) -> dict[int, str]:
        rows = await self._execute(select(OrganizationRow.id, OrganizationRow.name))
        return {row.id: row.name for row in rows}


