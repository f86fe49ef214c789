"""The numbers behind `/ioc stats`'s chart (issue 14): per-week submissions and approvals, time to decision, top
tags and contributions per organization, each over the indicators one viewer may see (visibility_clause)."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select

from bot.domain import StatsTrends, Status, Verdict, Visibility
from bot.rules import ANONYMOUS_ORG
from bot.standing import OrgStanding
from storage.models import AuditRow, IndicatorRow, IndicatorTagRow, OrganizationRow, VoteRow
from storage.repositories.base import _Repository
from storage.repositories.indicator_rows import visibility_clause

DECISIONS = ("approve", "reject")
SAMPLE = 10_000  # decisions whose durations give the median


def _week_of(moment: datetime | date) -> date:
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


class SqlStatisticsRepository(_Repository):
    async def trends(self, view: Visibility, viewer_org_id: int, now: datetime, weeks: int = 12,
                     top: int = 8) -> StatsTrends:
        visible = visibility_clause(view)
        starts = [_week_of(now) - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]
        since = datetime.combine(starts[0], datetime.min.time(), tzinfo=now.tzinfo)
        index = {start: n for n, start in enumerate(starts)}
        submitted, approved = [0] * weeks, [0] * weeks
        day = func.date(IndicatorRow.created_at)  # grouped by day in the database: a few dozen rows come back
        for created, n in await self._execute(
                select(day, func.count()).where(visible, IndicatorRow.created_at >= since).group_by(day)):
            submitted[index.get(_week_of(_day(created)), 0)] += int(n)
        durations: list[float] = []
        decided = await self._execute(
            select(AuditRow.action, AuditRow.at, IndicatorRow.created_at)
            .join(IndicatorRow, IndicatorRow.id == AuditRow.indicator_id)
            .where(visible, AuditRow.action.in_(DECISIONS), AuditRow.at >= since)
            .order_by(AuditRow.at.desc()).limit(SAMPLE * 4))
        for action, at, created in decided:
            if action == "approve":
                approved[index.get(_week_of(at), 0)] += 1
            if len(durations) < SAMPLE:
                durations.append(max(0.0, (at - created).total_seconds() / 3600))
        tags = await self._execute(
            select(IndicatorTagRow.tag, func.count())
            .join(IndicatorRow, IndicatorRow.id == IndicatorTagRow.indicator_id).where(visible)
            .group_by(IndicatorTagRow.tag).order_by(func.count().desc(), IndicatorTagRow.tag).limit(top))
        contributions: dict[str, int] = {}
        for name, org_id, anonymous, n in await self._execute(
                select(OrganizationRow.name, IndicatorRow.org_id, IndicatorRow.anonymous, func.count())
                .join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
                .where(visible).group_by(OrganizationRow.name, IndicatorRow.org_id, IndicatorRow.anonymous)):
            shown = ANONYMOUS_ORG if anonymous and org_id != viewer_org_id else name
            contributions[shown] = contributions.get(shown, 0) + n
        by_org = sorted(contributions.items(), key=lambda kv: (-kv[1], kv[0]))
        return StatsTrends(
            week_starts=tuple(starts), submitted=tuple(submitted), approved=tuple(approved),
            median_decision_hours=statistics.median(durations) if durations else None,
            top_tags=tuple((t, int(n)) for t, n in tags), by_organization=tuple(by_org[:top]))

    async def standing(self, view: Visibility, viewer_org_id: int) -> list[OrgStanding]:
        """`/ioc stats orgs` in two statements over what `view` may see: the counts grouped by organization, and
        each decided item's first decision (the median of a sample of them per organization)."""
        visible = visibility_clause(view)

        def shown(name: str, org_id: int, anonymous: bool) -> str:
            return ANONYMOUS_ORG if anonymous and org_id != viewer_org_id else name

        def voted(verdict: Verdict, *others: object) -> object:
            return exists().where(VoteRow.indicator_id == IndicatorRow.id, VoteRow.verdict == verdict.value, *others)

        def flag(condition: object) -> object:
            return func.sum(case((condition, 1), else_=0))

        approved = or_(IndicatorRow.status == Status.APPROVED.value, exists().where(
            AuditRow.indicator_id == IndicatorRow.id, AuditRow.action == "approve"))
        counts: dict[str, list[int]] = {}
        for name, org_id, anonymous, n, ok, confirmed, false_positive in await self._execute(
                select(OrganizationRow.name, IndicatorRow.org_id, IndicatorRow.anonymous, func.count(), flag(approved),
                       flag(voted(Verdict.CONFIRM, VoteRow.org_id != IndicatorRow.org_id)),
                       flag(voted(Verdict.FALSE_POSITIVE)))
                .join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
                .where(visible).group_by(OrganizationRow.name, IndicatorRow.org_id, IndicatorRow.anonymous)):
            row = counts.setdefault(shown(name, org_id, anonymous), [0, 0, 0, 0])
            for k, v in enumerate((n, ok, confirmed, false_positive)):
                row[k] += int(v or 0)
        durations: dict[str, list[float]] = {}
        first = func.min(AuditRow.at)
        for name, org_id, anonymous, created, decided in await self._execute(
                select(OrganizationRow.name, IndicatorRow.org_id, IndicatorRow.anonymous, IndicatorRow.created_at,
                       first)
                .join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
                .join(AuditRow, and_(AuditRow.indicator_id == IndicatorRow.id, AuditRow.action.in_(DECISIONS)))
                .where(visible)
                .group_by(IndicatorRow.id, OrganizationRow.name, IndicatorRow.org_id, IndicatorRow.anonymous,
                          IndicatorRow.created_at)
                .order_by(IndicatorRow.id.desc()).limit(SAMPLE * 4)):
            durations.setdefault(shown(name, org_id, anonymous), []).append(
                max(0.0, (decided - created).total_seconds() / 3600))
        found = [OrgStanding(name, *row, median_decision_hours=(
                    statistics.median(durations[name]) if durations.get(name) else None))
                 for name, row in counts.items()]
        return sorted(found, key=lambda s: (-s.submitted, s.name))
