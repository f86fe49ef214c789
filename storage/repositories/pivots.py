"""The SQL of issue 12's pivots: the indicators inside or around a network (storage.pivot_keys' sortable address
ranges), on a domain (its reversed host), and the one statement that counts and reads every pivot of a lookup, with
the viewer's visibility bound as parameters (storage.repositories.indicators.related runs it)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)

from bot.domain import (
    Verdict,
    Visibility,
)
from bot.ioc import IOCType
from bot.pivots import COUNT_MAX as RELATED_COUNT_MAX
from bot.pivots import Pivot, Relation
from bot.tlp import TLP
from storage.models import (
    IndicatorRow,
    VoteRow,
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
from storage.repositories.indicator_rows import _SHAREABLE_MAX, _indicators


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
    # what the related items' lines show: how many organizations confirm each (the votes' unique index leads with
    # indicator_id: a probe per shown item, in this statement rather than a second one)
    confirmations = (select(func.count(VoteRow.org_id.distinct()))
                     .where(VoteRow.indicator_id == IndicatorRow.id, VoteRow.verdict == Verdict.CONFIRM.value)
                     .scalar_subquery())
    return (_indicators().add_columns(IndicatorRow.net_first, IndicatorRow.net_last, IndicatorRow.host_rev,
                                      confirmations, picked.c.pivot, picked.c.total)
            .join(picked, picked.c.id == IndicatorRow.id))
