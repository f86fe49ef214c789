"""Votes and sightings: one vote per member per indicator, tallies and summaries counted by query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    bindparam,
    delete,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
    update,
)

from bot.domain import (
    SightingSummary,
    Tally,
    Verdict,
)
from bot.ports import Evidence
from bot.score import OrgVerdict
from storage.models import (
    CommentRow,
    IndicatorRow,
    OrganizationRow,
    SightingRow,
    VoteRow,
)
from storage.repositories.base import _chunks, _Repository


async def _added_not_before_indicator(repo: _Repository, table: Any, indicator_ids: Iterable[int]) -> None:
    """Written at their own time, these indicators' votes or sightings are added to the TAXII feed no earlier than
    their indicator's last change (0020): their own time is later but for a clock that differs between processes."""
    changed = select(IndicatorRow.modified_at).where(IndicatorRow.id == table.indicator_id).scalar_subquery()
    for chunk in _chunks(sorted(set(indicator_ids))):
        await repo._execute(update(table).where(table.indicator_id.in_(chunk), table.added_at < changed)
                            .values(added_at=changed).execution_options(synchronize_session=False))


class SqlVoteRepository(_Repository):
    async def upsert(self, indicator_id: int, member_id: int, org_id: int, verdict: Verdict, reason: str,
                     at: datetime) -> Verdict | None:
        # One atomic statement: the unique (indicator_id, member_id) decides insert or update, and the
        # row's verdict before the update is copied into previous_verdict and returned.
        table = VoteRow.__table__
        stmt = self._upsert_insert(table).values(
            indicator_id=indicator_id, member_id=member_id, org_id=org_id, verdict=Verdict(verdict).value,
            previous_verdict=None, reason=reason, created_at=at, updated_at=at, added_at=at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.indicator_id, table.c.member_id],
            set_={
                "previous_verdict": table.c.verdict,
                "verdict": stmt.excluded.verdict,
                "org_id": stmt.excluded.org_id,
                "reason": stmt.excluded.reason,
                "updated_at": stmt.excluded.updated_at,
                "added_at": stmt.excluded.added_at,
            },
        ).returning(table.c.previous_verdict)
        previous = (await self._execute(stmt)).scalar_one()
        await _added_not_before_indicator(self, VoteRow, [indicator_id])
        return Verdict(previous) if previous is not None else None

    async def withdraw(self, indicator_id: int, member_id: int, only: Verdict | None = None) -> Verdict | None:
        matching = [VoteRow.verdict == Verdict(only).value] if only is not None else []
        previous = (await self._execute(
            delete(VoteRow)
            .where(VoteRow.indicator_id == indicator_id, VoteRow.member_id == member_id, *matching)
            .returning(VoteRow.verdict)
            .execution_options(synchronize_session=False)
        )).scalar_one_or_none()
        return Verdict(previous) if previous is not None else None

    async def tally(self, indicator_id: int, *, excluding_org: int | None = None) -> Tally:
        return (await self.tallies([indicator_id], excluding_org=excluding_org))[indicator_id]

    async def tallies(self, indicator_ids: Iterable[int], *, excluding_org: int | None = None) -> dict[int, Tally]:
        """Votes and distinct organizations per verdict; without the votes of `excluding_org` when given."""
        ids = list(dict.fromkeys(indicator_ids))
        counts: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in ids}
        others = [VoteRow.org_id != excluding_org] if excluding_org is not None else []
        for chunk in _chunks(ids):
            rows = await self._execute(
                select(VoteRow.indicator_id, VoteRow.verdict, func.count(),
                       func.count(VoteRow.org_id.distinct()))
                .where(VoteRow.indicator_id.in_(chunk), *others)
                .group_by(VoteRow.indicator_id, VoteRow.verdict)
            )
            for indicator_id, verdict, votes, orgs in rows:
                counts[indicator_id][verdict] = (votes, orgs)
        return {indicator_id: _tally(by_verdict) for indicator_id, by_verdict in counts.items()}


    async def activity(self, indicator_ids: Iterable[int]) -> dict[int, tuple[Tally, SightingSummary]]:
        """Tallies and sightings of many indicators in one round trip (`evidence`: a UNION ALL of GROUP BYs)."""
        return {i: (found.tally, found.sightings) for i, found in (await self.evidence(indicator_ids)).items()}

    async def evidence(self, indicator_ids: Iterable[int]) -> dict[int, Evidence]:
        """`activity`, for the score (bot.score) each organization's verdict with its trust and latest vote, and
        how many comments each has (a lookup reads the latest only of those that have some): still one round trip
        for a batch (the votes grouped by organization too)."""
        ids = list(dict.fromkeys(indicator_ids))
        votes: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in ids}
        verdicts: dict[int, list[OrgVerdict]] = {i: [] for i in ids}
        sightings = {i: SightingSummary() for i in ids}
        comments = dict.fromkeys(ids, 0)
        for chunk in _chunks(ids):
            for indicator_id, kind, n, org, trust, last in await self._execute(_ACTIVITY, {"ids": list(chunk)}):
                if kind == _SIGHTING:
                    sightings[indicator_id] = SightingSummary(count=int(n), orgs=org, last_seen=last)
                elif kind == _COMMENT:
                    comments[indicator_id] = int(n)
                else:
                    count, orgs = votes[indicator_id].get(kind, (0, 0))
                    votes[indicator_id][kind] = (count + n, orgs + 1)
                    verdicts[indicator_id].append(OrgVerdict(org, kind, int(trust), last))
        return {i: Evidence(_tally(votes[i]), sightings[i], tuple(verdicts[i]), comments[i]) for i in ids}


_SIGHTING = "sighting"
_COMMENT = "comment"


def _activity_statement() -> Any:
    ids = bindparam("ids", expanding=True)
    return union_all(  # votes by (verdict, organization): an organization's row carries its trust and latest vote
        select(VoteRow.indicator_id, VoteRow.verdict.label("kind"), func.count().label("n"),
               VoteRow.org_id.label("org"), OrganizationRow.trust_level.label("trust"),
               func.max(VoteRow.updated_at).label("last"))
        .join(OrganizationRow, OrganizationRow.id == VoteRow.org_id)
        .where(VoteRow.indicator_id.in_(ids))
        .group_by(VoteRow.indicator_id, VoteRow.verdict, VoteRow.org_id, OrganizationRow.trust_level),
        select(SightingRow.indicator_id, literal(_SIGHTING).label("kind"), func.sum(SightingRow.count),
               func.count(SightingRow.org_id.distinct()), type_coerce(null(), OrganizationRow.trust_level.type),
               func.max(SightingRow.seen_at))
        .where(SightingRow.indicator_id.in_(ids))
        .group_by(SightingRow.indicator_id),
        select(CommentRow.indicator_id, literal(_COMMENT).label("kind"), func.count(), null(),
               type_coerce(null(), OrganizationRow.trust_level.type), func.max(CommentRow.created_at))
        .where(CommentRow.indicator_id.in_(ids))
        .group_by(CommentRow.indicator_id),
    )


_ACTIVITY = _activity_statement()


def _tally(by_verdict: dict[str, tuple[int, int]]) -> Tally:
    confirm = by_verdict.get(Verdict.CONFIRM.value, (0, 0))
    false_positive = by_verdict.get(Verdict.FALSE_POSITIVE.value, (0, 0))
    return Tally(confirm=confirm[0], false_positive=false_positive[0], confirm_orgs=confirm[1],
                 false_positive_orgs=false_positive[1])


class SqlSightingRepository(_Repository):
    """At most one sighting per (indicator, member, UTC day), enforced by the database: a repeat that day
    replaces the row's count, note and time (the latest wins, like votes), so a replayed request cannot pile
    sightings up. Each write is one atomic upsert; `revision` counts the replacements and tells them apart."""

    async def add(self, indicator_id: int, org_id: int, member_id: int, count: int, seen_at: datetime,
                  note: str) -> bool:
        """Record the member's sighting of today (the UTC day of `seen_at`); True when it replaced one."""
        return bool(await self.add_many([(indicator_id, org_id, member_id, count, seen_at, note)]))

    async def add_many(self, sightings: Sequence[tuple[int, int, int, int, datetime, str]]) -> set[int]:
        """Many (indicator_id, org_id, member_id, count, seen_at, note) at once, one INSERT ... ON CONFLICT per
        chunk; the indicator ids whose sighting of that day by that member was replaced."""
        latest: dict[tuple[int, int, date], dict[str, Any]] = {}
        for indicator_id, org_id, member_id, count, seen_at, note in sightings:
            day = seen_at.astimezone(UTC).date()
            # One statement may not update a row twice (PostgreSQL): within a call, the latest wins here.
            latest[(indicator_id, member_id, day)] = {
                "indicator_id": indicator_id, "org_id": org_id, "member_id": member_id, "count": count,
                "seen_at": seen_at, "seen_day": day, "revision": 0, "note": note, "added_at": seen_at,
            }
        replaced: set[int] = set()
        stmt = self._sighting_upsert()
        for chunk in _chunks(list(latest.values())):
            # executemany of one cached statement: SQLAlchemy sends each chunk as one multi-row INSERT
            # ("insertmanyvalues"), without compiling a statement of 500 VALUES rows every time
            rows = await self._execute(stmt, list(chunk))
            replaced.update(indicator_id for indicator_id, revision in rows if revision)
        await _added_not_before_indicator(self, SightingRow, {key[0] for key in latest})
        return replaced

    def _sighting_upsert(self) -> Any:
        table = SightingRow.__table__
        stmt = self._upsert_insert(table)
        return stmt.on_conflict_do_update(
            index_elements=[table.c.indicator_id, table.c.member_id, table.c.seen_day],
            set_={
                "count": stmt.excluded["count"],
                "note": stmt.excluded.note,
                "seen_at": stmt.excluded.seen_at,
                "added_at": stmt.excluded.added_at,
                "org_id": stmt.excluded.org_id,
                "revision": table.c.revision + 1,
            },
        ).returning(table.c.indicator_id, table.c.revision)
