"""How an indicator is read (its columns, its tags, the row made a domain value) and who may see it as SQL
(visibility_clause): what every repository that reads indicators shares."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from bot.domain import (
    Indicator,
    Status,
    Verdict,
    Visibility,
)
from bot.ioc import IOCType
from bot.tlp import TLP
from storage.models import (
    IndicatorRow,
    IndicatorTagRow,
    MemberRow,
    OrganizationRow,
    indicator_scope,
)
from storage.repositories.base import _TAG_SEPARATOR

_SHAREABLE_MAX = TLP.AMBER.rank


def _tags_column() -> Any:
    return (
        select(func.aggregate_strings(IndicatorTagRow.tag, _TAG_SEPARATOR))
        .where(IndicatorTagRow.indicator_id == IndicatorRow.id)
        .correlate(IndicatorRow)
        .scalar_subquery()
        .label("tags")
    )


# In the order of bot.domain.Indicator's fields, so that a row becomes an Indicator positionally (fast).
_INDICATOR_COLUMNS = (
    IndicatorRow.id, IndicatorRow.stix_id, IndicatorRow.type, IndicatorRow.value, IndicatorRow.status,
    IndicatorRow.tlp, IndicatorRow.confidence, _tags_column(), IndicatorRow.note, IndicatorRow.submitter_id,
    MemberRow.name.label("submitter_name"), IndicatorRow.org_id, OrganizationRow.name.label("org_name"),
    IndicatorRow.anonymous, IndicatorRow.first_seen, IndicatorRow.last_seen, IndicatorRow.valid_until,
    IndicatorRow.created_at, IndicatorRow.modified_at, IndicatorRow.status_reason, IndicatorRow.origin_created_by,
    IndicatorRow.origin_name, IndicatorRow.origin_created, IndicatorRow.threat_type, IndicatorRow.malware,
    IndicatorRow.refs, IndicatorRow.decided_at,
)


def _indicators() -> Select[Any]:
    return (
        select(*_INDICATOR_COLUMNS)
        .join(MemberRow, MemberRow.id == IndicatorRow.submitter_id)
        .join(OrganizationRow, OrganizationRow.id == IndicatorRow.org_id)
    )


_INDICATOR_BY_ID = _indicators().where(IndicatorRow.id == bindparam("id"))
_INDICATORS_BY_IDS = _indicators().where(IndicatorRow.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _by_values_statement(types: int) -> Select[Any]:
    """Built once per number of distinct types in a lookup (at most one per IOC type)."""
    return _indicators().where(or_(*(
        and_(IndicatorRow.type == bindparam(f"t{n}"), IndicatorRow.value.in_(bindparam(f"v{n}", expanding=True)))
        for n in range(types)
    ))).order_by(IndicatorRow.id)


def _indicator(row: Row[Any]) -> Indicator:
    (id_, stix_id, type_, value, status, tlp, confidence, tags, note, submitter_id, submitter_name, org_id, org_name,
     anonymous, first_seen, last_seen, valid_until, created_at, modified_at, status_reason, origin_created_by,
     origin_name, origin_created, threat_type, malware, refs, decided_at) = row
    return Indicator(
        id_, stix_id, _IOC_TYPES[type_], value, _STATUSES[status], _TLPS[tlp], confidence,
        tuple(sorted(tags.split(_TAG_SEPARATOR))) if tags else (), note, submitter_id, submitter_name, org_id,
        org_name, anonymous, first_seen, last_seen, valid_until, created_at, modified_at, status_reason,
        origin_created_by or "", origin_name or "", origin_created, threat_type or "", malware or "",
        tuple(refs.split("\n")) if refs else (), decided_at,
    )


_IOC_TYPES = {t.value: t for t in IOCType}
_STATUSES = {s.value: s for s in Status}
_VERDICTS = {v.value: v for v in Verdict}
_TLPS = {t.value: t for t in TLP}


def visibility_clause(view: Visibility) -> ColumnElement[bool]:
    """``bot.rules.can_see`` as SQL: the same decision, row by row, on indexed integer ranks."""
    shared_max = min(view.max_shared_tlp.rank, _SHAREABLE_MAX)
    allowed: list[ColumnElement[bool]] = [IndicatorRow.tlp_rank <= shared_max]
    if view.amber_strict_own_org:
        allowed.append(and_(IndicatorRow.tlp_rank == TLP.AMBER_STRICT.rank,
                            IndicatorRow.org_id == view.org_id))
    if view.red_all:
        allowed.append(IndicatorRow.tlp_rank == TLP.RED.rank)
    elif view.red_own:
        allowed.append(and_(IndicatorRow.tlp_rank == TLP.RED.rank,
                            IndicatorRow.submitter_id == view.member_id))
    return or_(*allowed)


def scope_of(tlp: TLP, org_id: int, submitter_id: int) -> str:
    """The visibility scope a new indicator is unique in (storage.models.indicator_scope)."""
    return indicator_scope(tlp.rank, org_id, submitter_id)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
