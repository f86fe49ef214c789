"""Indicators: adding, finding by id, value or STIX id, searching within a visibility, status changes."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
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
    Verdict,
    Visibility,
)
from bot.ioc import IOCType
from bot.pivots import COUNT_MAX as RELATED_COUNT_MAX
from bot.pivots import Pivot, Relation
from bot.ports import Conflict
from bot.tlp import TLP
from storage.models import (
    IndicatorRow,
    IndicatorTagRow,
    MemberRow,
    OrganizationRow,
    SightingRow,
    VoteRow,
    indicator_scope,
)
from storage.pivot_keys import (
    network_keys,
    parent_keys,
    parse_network,
    pivot_keys,
    reversed_host,
    supernet_firsts,
    under_range,
)
from storage.repositories.base import _TAG_SEPARATOR, _chunks, _is_unique_violation, _Repository

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


def within_network(text: str) -> ColumnElement[bool]:
    """IPs and CIDRs overlapping a network (inside it, or containing it) and URLs on IPs inside it: one index
    range scan on net_first, plus one index probe per shorter prefix (storage.pivot_keys)."""
    network = parse_network(text)
    if network is None:
        return false()
    return and_(IndicatorRow.type.in_(_NETWORK_TYPES), or_(_inside(network), _containing(network)))


def _inside(network: Any) -> ColumnElement[bool]:
    first, last = network_keys(network)
    return and_(IndicatorRow.net_first >= first, IndicatorRow.net_first <= last, IndicatorRow.net_last <= last)


def _containing(network: Any) -> ColumnElement[bool]:
    # Networks are aligned: a row whose first address is a mask of this network and whose last address is at or
    # past its last contains it.
    return and_(IndicatorRow.net_first.in_(supernet_firsts(network)),
                IndicatorRow.net_last >= network_keys(network)[1])


def on_domain(host: str) -> ColumnElement[bool]:
    """A domain, its subdomains, and the URLs and e-mail addresses on them: host_rev is R, or starts with R + "."
    (one index range: storage.pivot_keys.under_range)."""
    low, high = under_range(reversed_host(host))
    return and_(IndicatorRow.type.in_(_HOST_TYPES), IndicatorRow.host_rev >= low, IndicatorRow.host_rev < high)


# The types that have network keys, and host keys: the indexes on pivot keys lead with the type.
_NETWORK_TYPES = ("ipv4", "ipv6", "cidr", "url")
_HOST_TYPES = ("domain", "url", "email")


# ---------------------------------------------------------------- pivots (issue 12)
#
# A lookup asks for the pivots of each of its values in one statement (`_pivots_statement`): each pivot's count
# and first items. A statement is built once per shape (which relations, which exclusion) with bound parameters,
# so a lookup binds values and builds no SQL; the visibility is bound too (`_visible`: the rule of
# visibility_clause with its switches as parameters, one statement for every viewer). Every column a count or an
# order reads is in the pivot's covering index.

def _flag(name: str) -> ColumnElement[bool]:
    return bindparam(name, type_=Integer) == 1


def _visible(n: int) -> ColumnElement[bool]:
    rank = IndicatorRow.tlp_rank
    return or_(
        rank <= bindparam(f"p{n}_shared_max", type_=Integer),
        and_(_flag(f"p{n}_strict_own"), rank == TLP.AMBER_STRICT.rank, IndicatorRow.org_id == bindparam(f"p{n}_org")),
        and_(rank == TLP.RED.rank, or_(_flag(f"p{n}_red_all"), and_(
            _flag(f"p{n}_red_own"), IndicatorRow.submitter_id == bindparam(f"p{n}_member")))),
    )


def _view_params(n: int, view: Visibility) -> dict[str, Any]:
    return {f"p{n}_shared_max": min(view.max_shared_tlp.rank, _SHAREABLE_MAX),
            f"p{n}_strict_own": int(view.amber_strict_own_org), f"p{n}_org": view.org_id,
            f"p{n}_red_all": int(view.red_all), f"p{n}_red_own": int(view.red_own), f"p{n}_member": view.member_id}


# A shape is (relation as queried, exclusion, how many types, how many keys in the relation's IN list). Its
# statement has no expanding parameter: each list item is a parameter of its own and the lists have a fixed length
# (a network's prefix lengths, padded with repeats; a host's parents, padded to a power of two), so the SQL text of
# a shape never changes: no re-rendering per call (SQLAlchemy's post-compile step), the driver's statement cache
# (sqlite3's, asyncpg's prepared statements) hits, and PostgreSQL can keep a generic plan.
Shape = tuple[str, str, int, int]


def _padded(keys: list[str], size: int) -> list[str]:
    return keys + [keys[0] if keys else ""] * (size - len(keys))


def _parents_size(count: int) -> int:
    return max(4, 1 << (count - 1).bit_length())


def _shape(pivot: Pivot) -> Shape:
    """(relation as queried, exclusion, types, list length): "net-host" is a URL's IP host, "name-host" its DNS
    name."""
    relation, listed = pivot.relation.value, 0
    network = parse_network(pivot.target)
    if pivot.relation is Relation.HOST:
        relation = "net-host" if network is not None else "name-host"
    elif pivot.relation is Relation.CONTAINING and network is not None:
        listed = network.max_prefixlen + 1
    elif pivot.relation is Relation.PARENTS:
        listed = _parents_size(len(parent_keys(reversed_host(pivot.target))))
    excluded = "none"
    if pivot.exclude is not None:
        excluded = "net" if pivot_keys(*pivot.exclude)[2] is None else "name"
    return relation, excluded, len(pivot.types), listed


def _shaped_conditions(n: int, shape: Shape) -> list[ColumnElement[bool]]:
    relation, excluded, types, listed = shape
    first, last, rev = IndicatorRow.net_first, IndicatorRow.net_last, IndicatorRow.host_rev
    p = functools.partial(lambda n, name, **kw: bindparam(f"p{n}_{name}", **kw), n)
    keys = [p(f"k{k}") for k in range(listed)]
    where = {
        "containing": lambda: and_(first.in_(keys), last >= p("last")),
        "inside": lambda: and_(first >= p("first"), first <= p("last"), last <= p("last")),
        "net-host": lambda: and_(first == p("first"), last == p("last")),
        "name-host": lambda: rev == p("rev"),
        "parents": lambda: rev.in_(keys),
        "under": lambda: and_(rev >= p("lo"), rev < p("hi")),
    }[relation]()
    conditions = [where, IndicatorRow.type.in_([p(f"t{k}") for k in range(types)]), _visible(n)]
    if excluded != "none":
        same = rev == p("x_rev") if excluded == "name" else and_(first == p("x_first"), last == p("x_last"))
        conditions.append(not_(and_(IndicatorRow.type == p("x_type"), same)))
    return conditions


def _pivot_params(n: int, pivot: Pivot, view: Visibility) -> dict[str, Any]:
    params = {f"p{n}_t{k}": IOCType(t).value for k, t in enumerate(pivot.types)}
    params.update(_view_params(n, view))
    network = parse_network(pivot.target)
    keys: list[str] = []
    if network is not None:
        params[f"p{n}_first"], params[f"p{n}_last"] = network_keys(network)
        if pivot.relation is Relation.CONTAINING:
            keys = _padded(supernet_firsts(network), network.max_prefixlen + 1)
    else:
        rev = reversed_host(pivot.target)
        low, high = under_range(rev)
        params.update({f"p{n}_rev": rev, f"p{n}_lo": low, f"p{n}_hi": high})
        if pivot.relation is Relation.PARENTS:
            parents = parent_keys(rev)
            keys = _padded(parents, _parents_size(len(parents)))
    params.update({f"p{n}_k{k}": key for k, key in enumerate(keys)})
    if pivot.exclude is not None:
        x_first, x_last, x_rev = pivot_keys(*pivot.exclude)
        params.update({f"p{n}_x_type": IOCType(pivot.exclude[0]).value, f"p{n}_x_first": x_first,
                       f"p{n}_x_last": x_last, f"p{n}_x_rev": x_rev})
    return params


@functools.cache
def _pivots_statement(shapes: tuple[Shape, ...], limit: int) -> Any:
    """For each pivot of one value, its first `limit` items (by type, then address or host name: the index's
    order), each with the pivot's number and its count (an uncorrelated sub-query, run once, stopping at
    RELATED_COUNT_MAX + 1 rows of the covering index); a pivot that finds nothing has no row, and its count is 0.
    The ids are picked from the covering indexes, and the items read once for them all (a short plan to make)."""
    parts = []
    for n, shape in enumerate(shapes):
        conditions = _shaped_conditions(n, shape)
        total = select(func.count()).select_from(
            select(literal(1)).select_from(IndicatorRow).where(*conditions).limit(RELATED_COUNT_MAX + 1).subquery())
        order = ((IndicatorRow.type, IndicatorRow.host_rev, IndicatorRow.id) if shape[0] in ("parents", "under",
                                                                                              "name-host")
                 else (IndicatorRow.type, IndicatorRow.net_first, IndicatorRow.net_last, IndicatorRow.id))
        page = select(IndicatorRow.id).where(*conditions).order_by(*order).limit(limit).subquery()
        parts.append(select(literal(n).label("pivot"), total.scalar_subquery().label("total"), page.c.id))
    picked = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("picked")
    return (_indicators().add_columns(IndicatorRow.net_first, IndicatorRow.net_last, IndicatorRow.host_rev,
                                      picked.c.pivot, picked.c.total)
            .join(picked, picked.c.id == IndicatorRow.id))


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
        return await self._counted_page(conditions, page, oldest_first=flt.oldest_first, needs_org=needs_org)

    async def related(self, pivots: Sequence[Pivot], view: Visibility,
                      limit: int) -> list[tuple[list[Indicator], int]]:
        """For each pivot, the first `limit` items (by type, then address or host name) of `pivot.types` in its
        relation to its target that `view` may see, and how many there are, counted up to RELATED_COUNT_MAX + 1 (an
        item the viewer may not see is not counted). One statement per target (a looked-up value): statements are
        cached per shape, and a value has few shapes (all values in one statement would make a new shape of
        nearly every paste). On PostgreSQL the statements run with generic plans: a shape's statement is prepared
        once per connection (asyncpg's statement cache) and planned once, where a custom plan per call cost 0.5-1 ms
        of planning for 0.05-0.3 ms of execution; the generic plans use the same index scans (bench/README.md). The
        setting is SET LOCAL: it ends with the unit of work's transaction (the lookup's last statements), and is not
        set back here, as a round trip costs more than what it would spare."""
        found: list[tuple[list[Indicator], int]] = [([], 0) for _ in pivots]
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
                items, _ = found[numbers[pivot]]
                item = _indicator(row[:-5])
                order[item.id] = (item.type.value, tuple(row[-5:-2]), item.id)  # the index's order
                items.append(item)
                found[numbers[pivot]] = (items, int(total))
        for items, _ in found:
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
        return result.rowcount == 1

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
        return sorted(rows.scalars())

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
        return sorted(changed)
