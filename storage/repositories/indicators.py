"""Indicators: adding, finding by id, value or STIX id, searching within a visibility, status changes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.domain import (
    Indicator,
    NewIndicator,
    Page,
    SearchFilter,
    Status,
    StoreStats,
    Visibility,
)
from bot.ioc import IOCType
from bot.pivots import Pivot
from bot.ports import Conflict
from bot.tlp import TLP
from storage.models import (
    CommentRow,
    IndicatorRow,
    IndicatorTagRow,
    MemberRow,
    OrganizationRow,
    SightingRow,
    VoteRow,
)
from storage.repositories.base import _TAG_SEPARATOR, _chunks, _is_unique_violation, _Repository
from storage.repositories.indicator_rows import (
    _INDICATOR_BY_ID,
    _INDICATORS_BY_IDS,
    _by_values_statement,
    _indicator,
    _indicators,
    _like_escape,
    scope_of,
    visibility_clause,
)
from storage.repositories.pivots import _pivot_params, _pivots_statement, _shape, on_domain, within_network


def _normal_tags(tags: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        clean = tag.replace(_TAG_SEPARATOR, "").strip().lower()
        if clean:
            seen[clean] = None
    return list(seen)


def provenance(new: NewIndicator) -> dict[str, Any]:
    """The provenance columns of a new item (NULL when it has none: a submission made here), and its context
    (issue 13: threat type, malware family, references one a line)."""
    return {"origin_created_by": new.origin_created_by or None, "origin_name": new.origin_name or None,
            "origin_created": new.origin_created, "threat_type": new.threat_type or None,
            "malware": new.malware or None, "refs": "\n".join(new.references)}


def _decided(to: Status, at: datetime) -> dict[str, Any]:
    """A moderator's decision is dated (cards show it); expiry is not a decision."""
    return {"decided_at": at} if to in (Status.APPROVED, Status.REJECTED, Status.REVOKED) else {}


def search_conditions(flt: SearchFilter, view: Visibility) -> tuple[list[ColumnElement[bool]], bool]:
    """The conditions of a search (`flt`) as `view` may see it, and whether they name the organization's row."""
    conditions: list[ColumnElement[bool]] = [visibility_clause(view)]
    needs_org = False
    if flt.types:
        conditions.append(IndicatorRow.type.in_([IOCType(t).value for t in flt.types]))
    for tag in _normal_tags(flt.tags):
        conditions.append(exists().where(
            IndicatorTagRow.indicator_id == IndicatorRow.id, IndicatorTagRow.tag == tag
        ))
    if flt.statuses:
        conditions.append(IndicatorRow.status.in_([s.value for s in flt.statuses]))
    if flt.org_name is not None:
        # Anonymous submissions are not found by their organization's name, except by its own members.
        needs_org = True
        conditions.append(OrganizationRow.name_key == flt.org_name.strip().lower())
        conditions.append(or_(IndicatorRow.anonymous == false(), IndicatorRow.org_id == view.org_id))
    if flt.since is not None:
        conditions.append(IndicatorRow.created_at >= flt.since)
    if flt.submitter_id is not None:
        conditions.append(IndicatorRow.submitter_id == flt.submitter_id)
    if flt.tlp is not None:
        conditions.append(IndicatorRow.tlp_rank == flt.tlp.rank)
    if flt.threat_types:
        conditions.append(IndicatorRow.threat_type.in_(flt.threat_types))
    if flt.malware:
        conditions.append(IndicatorRow.malware.in_(flt.malware))
    text = flt.text.strip().lower()
    if text:
        # A substring of the value (values are stored normalized, mostly lower-case already).
        pattern = f"%{_like_escape(text)}%"
        conditions.append(func.lower(IndicatorRow.value).like(pattern, escape="\\"))
    if flt.within:
        conditions.append(within_network(flt.within))
    if flt.domain:
        conditions.append(on_domain(flt.domain))
    words = flt.notes_text.strip().lower()
    if words:
        # A substring of the note or of a tag (tags are stored lower-case).
        pattern = f"%{_like_escape(words)}%"
        conditions.append(or_(
            func.lower(IndicatorRow.note).like(pattern, escape="\\"),
            exists().where(IndicatorTagRow.indicator_id == IndicatorRow.id,
                           IndicatorTagRow.tag.like(pattern, escape="\\")),
        ))
    return conditions, needs_org


class SqlIndicatorRepository(_Repository):
    async def add(self, new: NewIndicator) -> Indicator:
        now = new.seen_at  # the core's clock: submission time is creation time
        tags = _normal_tags(new.tags)
        stmt = (
            insert(IndicatorRow)
            .values(
                stix_id=new.stix_id, type=new.type.value, value=new.value,
                scope=scope_of(new.tlp, new.org_id, new.submitter_id), status=Status.PENDING.value,
                tlp=new.tlp.value, tlp_rank=new.tlp.rank, confidence=new.confidence, note=new.note,
                submitter_id=new.submitter_id, org_id=new.org_id, anonymous=new.anonymous,
                first_seen=new.seen_at, last_seen=new.seen_at, valid_until=new.valid_until,
                created_at=now, modified_at=now, status_reason="", **provenance(new),
            )
            .returning(IndicatorRow.id)
        )
        try:
            async with self._session.begin_nested():
                indicator_id = (await self._execute(stmt)).scalar_one()
                if tags:
                    await self._execute(
                        insert(IndicatorTagRow), [{"indicator_id": indicator_id, "tag": t} for t in tags]
                    )
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict(f"{new.type.value} {new.value} is stored already in its scope") from exc
            raise
        indicator = await self.get(indicator_id)
        assert indicator is not None
        return indicator

    async def get(self, indicator_id: int) -> Indicator | None:
        row = (await self._execute(_INDICATOR_BY_ID, {"id": indicator_id})).first()
        return _indicator(row) if row else None

    async def by_ids(self, indicator_ids: Iterable[int]) -> Sequence[Indicator]:
        found: list[Indicator] = []
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            found.extend(_indicator(r) for r in await self._execute(_INDICATORS_BY_IDS, {"ids": list(chunk)}))
        return found

    async def by_stix_id(self, stix_id: str) -> Indicator | None:
        row = (await self._execute(_indicators().where(IndicatorRow.stix_id == stix_id))).first()
        return _indicator(row) if row else None

    async def by_stix_ids(self, stix_ids: Iterable[str]) -> Sequence[Indicator]:
        """The items stored under these STIX ids (imports recognise an object they hold already by its id)."""
        found: list[Indicator] = []
        for chunk in _chunks(list(dict.fromkeys(stix_ids))):
            found.extend(_indicator(r) for r in await self._execute(
                _indicators().where(IndicatorRow.stix_id.in_(chunk))))
        return found

    async def by_values(self, values: Iterable[tuple[IOCType, str]]) -> Sequence[Indicator]:
        pairs = list(dict.fromkeys((IOCType(t).value, v) for t, v in values))
        found: list[Indicator] = []
        for chunk in _chunks(pairs):
            # Grouped by type: "type = :t AND value IN (...)" uses the unique (type, value, scope) index on
            # both backends, which a row-value IN does not always do.
            by_type: dict[str, list[str]] = {}
            for type_, value in chunk:
                by_type.setdefault(type_, []).append(value)
            params: dict[str, Any] = {}
            for n, (type_, vals) in enumerate(by_type.items()):
                params[f"t{n}"], params[f"v{n}"] = type_, vals
            rows = await self._execute(_by_values_statement(len(by_type)), params)
            found.extend(_indicator(row) for row in rows)
        found.sort(key=lambda ind: ind.id)
        return found

    async def search(self, flt: SearchFilter, view: Visibility,
                     page: Page) -> tuple[Sequence[Indicator], int]:
        conditions, needs_org = search_conditions(flt, view)
        return await self._counted_page(conditions, page, oldest_first=flt.oldest_first, needs_org=needs_org)

    async def search_newest(self, flt: SearchFilter, view: Visibility, before_id: int | None, size: int, *,
                            min_confidence: int = 0) -> Sequence[Indicator]:
        """The next `size` matches of `flt` (as `search`) newest first with id < before_id, and a confidence of at
        least `min_confidence`: keyset batches with no COUNT, for a search that filters what the store cannot
        (search min_score: bot.services.scored_search)."""
        conditions, _ = search_conditions(flt, view)
        if before_id is not None:
            conditions.append(IndicatorRow.id < before_id)
        if min_confidence > 0:
            conditions.append(IndicatorRow.confidence >= min_confidence)
        rows = await self._execute(_indicators().where(*conditions).order_by(IndicatorRow.id.desc()).limit(size))
        return [_indicator(row) for row in rows]

    async def related(self, pivots: Sequence[Pivot], view: Visibility,
                      limit: int) -> list[tuple[list[Indicator], int, dict[int, int]]]:
        """For each pivot, the first `limit` items (by type, then address or host name) of `pivot.types` in its
        relation to its target that `view` may see, how many there are, counted up to RELATED_COUNT_MAX + 1 (an
        item the viewer may not see is not counted), and how many organizations confirm each item shown (by id).
        One statement per target (a looked-up value): statements are
        cached per shape, and a value has few shapes (all values in one statement would make a new shape of
        nearly every paste). On PostgreSQL the statements run with generic plans: a shape's statement is prepared
        once per connection (asyncpg's statement cache) and planned once, where a custom plan per call cost 0.5-1 ms
        of planning for 0.05-0.3 ms of execution; the generic plans use the same index scans (bench/README.md). The
        setting is SET LOCAL: it ends with the unit of work's transaction (the lookup's last statements), and is not
        set back here, as a round trip costs more than what it would spare."""
        found: list[tuple[list[Indicator], int, dict[int, int]]] = [([], 0, {}) for _ in pivots]
        by_target: dict[str, list[int]] = {}
        for n, pivot in enumerate(pivots):
            by_target.setdefault(pivot.target, []).append(n)
        if not by_target:
            return found
        connection = await self._session.connection()
        if self._dialect == "postgresql":
            await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        order: dict[int, tuple[Any, ...]] = {}
        for numbers in by_target.values():
            params: dict[str, Any] = {}
            for k, n in enumerate(numbers):
                params.update(_pivot_params(k, pivots[n], view))
            statement = _pivots_statement(tuple(_shape(pivots[n]) for n in numbers), limit)
            for row in await connection.execute(statement, params):
                pivot, total = row[-2], row[-1]
                items, _, confirm_orgs = found[numbers[pivot]]
                item = _indicator(row[:-6])
                order[item.id] = (item.type.value, tuple(row[-6:-3]), item.id)  # the index's order
                items.append(item)
                confirm_orgs[item.id] = int(row[-3])
                found[numbers[pivot]] = (items, int(total), confirm_orgs)
        for items, _, _ in found:
            items.sort(key=lambda ind: order[ind.id])
        return found

    async def _counted_page(self, conditions: list[ColumnElement[bool]], page: Page, *, oldest_first: bool = False,
                            needs_org: bool = False) -> tuple[Sequence[Indicator], int]:
        count_stmt = select(func.count()).select_from(IndicatorRow)
        if needs_org:
            count_stmt = count_stmt.join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
        total = (await self._execute(count_stmt.where(*conditions))).scalar_one()
        if total == 0 or page.offset >= total:
            return [], total
        rows = await self._execute(
            _indicators().where(*conditions)
            .order_by(IndicatorRow.id.asc() if oldest_first else IndicatorRow.id.desc())
            .limit(page.size).offset(page.offset)
        )
        return [_indicator(row) for row in rows], total

    async def transition(self, indicator_id: int, from_statuses: Iterable[Status], to: Status,
                         reason: str, at: datetime) -> bool:
        result = await self._execute(
            update(IndicatorRow)
            .where(IndicatorRow.id == indicator_id,
                   IndicatorRow.status.in_([Status(s).value for s in from_statuses]))
            .values(status=to.value, status_reason=reason, modified_at=at, **_decided(to, at))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return False
        await self._feed_dates_follow([indicator_id], at)
        return True

    async def edit(self, indicator_id: int, *, at: datetime, tlp: TLP | None = None, confidence: int | None = None,
                   tags: Sequence[str] | None = None, valid_until: datetime | None = None,
                   note: str | None = None, threat_type: str | None = None, malware: str | None = None,
                   references: Sequence[str] | None = None) -> None:
        """`/ioc edit`: change what is given (None: unchanged), `tags` replacing the item's tags. A new TLP moves the
        item to that TLP's visibility scope: Conflict when the value is held there already (nothing is changed)."""
        values: dict[str, Any] = {"modified_at": at}
        if tlp is not None:
            row = (await self._execute(select(IndicatorRow.org_id, IndicatorRow.submitter_id)
                                       .where(IndicatorRow.id == indicator_id))).one()
            values.update(tlp=tlp.value, tlp_rank=tlp.rank, scope=scope_of(tlp, row.org_id, row.submitter_id))
        if confidence is not None:
            values["confidence"] = confidence
        if valid_until is not None:
            values["valid_until"] = valid_until
        if note is not None:
            values["note"] = note
        if threat_type is not None:  # context (issue 13): "" removes it
            values["threat_type"] = threat_type or None
        if malware is not None:
            values["malware"] = malware or None
        if references is not None:
            values["refs"] = "\n".join(references)
        try:
            async with self._session.begin_nested():
                await self._execute(update(IndicatorRow).where(IndicatorRow.id == indicator_id).values(**values)
                                    .execution_options(synchronize_session=False))
                if tags is not None:
                    await self._execute(delete(IndicatorTagRow).where(IndicatorTagRow.indicator_id == indicator_id))
                    if clean := _normal_tags(tags):
                        await self._execute(insert(IndicatorTagRow),
                                            [{"indicator_id": indicator_id, "tag": t} for t in clean])
                await self._feed_dates_follow([indicator_id], at)
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise Conflict("the value is held in that scope already") from exc
            raise

    async def touch(self, indicator_id: int, seen_at: datetime) -> None:
        await self._execute(
            update(IndicatorRow)
            .where(IndicatorRow.id == indicator_id, IndicatorRow.last_seen < seen_at)
            .values(last_seen=seen_at)
            .execution_options(synchronize_session=False)
        )

    async def touch_many(self, indicator_ids: Iterable[int], seen_at: datetime) -> None:
        """`touch` for many indicators: one UPDATE per chunk of ids."""
        ids = sorted(set(indicator_ids))
        for chunk in _chunks(ids):
            await self._execute(
                update(IndicatorRow)
                .where(IndicatorRow.id.in_(chunk), IndicatorRow.last_seen < seen_at)
                .values(last_seen=seen_at)
                .execution_options(synchronize_session=False)
            )

    async def expire_due(self, now: datetime) -> Sequence[int]:
        rows = await self._execute(
            update(IndicatorRow)
            .where(
                IndicatorRow.status.in_([Status.PENDING.value, Status.APPROVED.value]),
                IndicatorRow.valid_until.is_not(None),
                IndicatorRow.valid_until <= now,
            )
            .values(status=Status.EXPIRED.value, status_reason="valid_until passed", modified_at=now)
            .returning(IndicatorRow.id)
            .execution_options(synchronize_session=False)
        )
        expired = sorted(rows.scalars())
        await self._feed_dates_follow(expired, now)
        return expired

    async def approved_after(self, after_id: int, size: int, now: datetime) -> Sequence[Indicator]:
        """The next `size` approved items with id > after_id still within their valid_until (keyset by id): what
        the maintenance loop scores to expire those below `[score] expire_below`."""
        rows = await self._execute(
            _indicators()
            .where(IndicatorRow.status == Status.APPROVED.value, IndicatorRow.id > after_id,
                   or_(IndicatorRow.valid_until.is_(None), IndicatorRow.valid_until > now))
            .order_by(IndicatorRow.id).limit(size))
        return [_indicator(row) for row in rows]

    async def stats(self, view: Visibility | None = None) -> StoreStats:
        """Counts by status and type, and the votes and sightings on those indicators: only what `view` may
        see (everything without one: operators and benches). Organizations and members are counted whole."""
        visible: list[ColumnElement[bool]] = [visibility_clause(view)] if view is not None else []
        by_status = {
            s: n for s, n in await self._execute(
                select(IndicatorRow.status, func.count()).where(*visible).group_by(IndicatorRow.status)
            )
        }
        by_type = {
            t: n for t, n in await self._execute(
                select(IndicatorRow.type, func.count()).where(*visible).group_by(IndicatorRow.type)
            )
        }

        def on_visible(row: Any) -> Any:
            counted = select(func.count()).select_from(row)
            if visible:
                counted = counted.join(IndicatorRow, IndicatorRow.id == row.indicator_id).where(*visible)
            return counted.scalar_subquery()

        totals = (await self._execute(select(
            select(func.count()).select_from(OrganizationRow).scalar_subquery(),
            select(func.count()).select_from(MemberRow).scalar_subquery(),
            on_visible(VoteRow),
            on_visible(SightingRow),
        ))).one()
        return StoreStats(by_status=by_status, by_type=by_type, organizations=totals[0], members=totals[1],
                          votes=totals[2], sightings=totals[3])

    async def transition_many(self, indicator_ids: Iterable[int], from_statuses: Iterable[Status], to: Status,
                              reason: str, at: datetime) -> Sequence[int]:
        """`transition` for many indicators at once (a statement per chunk); the ids that changed."""
        changed: list[int] = []
        froms = [Status(s).value for s in from_statuses]
        for chunk in _chunks(list(dict.fromkeys(indicator_ids))):
            rows = await self._execute(
                update(IndicatorRow)
                .where(IndicatorRow.id.in_(chunk), IndicatorRow.status.in_(froms))
                .values(status=to.value, status_reason=reason, modified_at=at, **_decided(to, at))
                .returning(IndicatorRow.id)
                .execution_options(synchronize_session=False)
            )
            changed.extend(rows.scalars())
        await self._feed_dates_follow(changed, at)
        return sorted(changed)

    async def _feed_dates_follow(self, indicator_ids: Sequence[int], at: datetime) -> None:
        """These indicators changed (`modified_at` is now `at`): so did the date their comments, votes and sightings
        are added at in the TAXII feed, the later of their own time and their indicator's change (0019, 0020)."""
        for chunk in _chunks(list(indicator_ids)):
            for table in (CommentRow, VoteRow, SightingRow):
                await self._execute(update(table).where(table.indicator_id.in_(chunk), table.added_at < at)
                                    .values(added_at=at).execution_options(synchronize_session=False))
