"""Pivots (issue 12): what else the coalition holds around a value, for the "related" section of a lookup.

An IP is inside CIDRs and URLs are on it; a CIDR contains IPs and smaller CIDRs; a domain has parent domains,
subdomains, and URLs and e-mail addresses on it or under it; a URL and an e-mail address have a host. `plan`
says which of these a lookup of one value asks the store for (`Pivot`s); the store answers each with a count
and the first few, of the items the viewer may see only (bot.rules; visibility_clause in the query), so an
item the viewer may not see is neither shown nor counted.
"""

from __future__ import annotations

import enum
import ipaddress

from bot.ioc import IOCType, Observable
from bot.values import frozen
from bot.watch_index import Subject, _host_of, _network_of

SHOWN = 5  # items shown per kind (the first in address or name order); the count is of all...
COUNT_MAX = 1000  # ...exactly up to this many: the store counts at most one more ("more than 1,000")


class Relation(enum.StrEnum):
    CONTAINING = "containing"  # the CIDRs containing a network (an IP is a /32 or /128)
    INSIDE = "inside"  # what lies inside a network: IPs, CIDRs, URLs on such IPs
    PARENTS = "parents"  # the domains above a host
    UNDER = "under"  # what is on a host or under it: the domain, subdomains, URLs and e-mail addresses
    HOST = "host"  # the domain or IP item that is exactly this host


@frozen
class Pivot:
    """One question to the store: the items of `types` in `relation` to `target` (a network such as
    `198.51.100.7/32`, or a host name), other than `exclude` (the looked-up value itself)."""

    relation: Relation
    target: str
    types: tuple[IOCType, ...]
    label: str  # what the section calls them: "inside", "subdomains", ...
    search: str = ""  # the /ioc search that lists them all
    exclude: tuple[IOCType, str] | None = None


IPS = (IOCType.IPV4, IOCType.IPV6)


def plan(obs: Observable) -> tuple[Pivot, ...]:
    """The pivots a lookup of this value shows, in the order shown."""
    subject = Subject(obs.type, obs.value)
    if obs.type in (*IPS, IOCType.CIDR):
        network = _network_of(subject)
        if network is None:
            return ()
        net = network.compressed
        found = [Pivot(Relation.CONTAINING, net, (IOCType.CIDR,), "inside", f"within:{net} type:cidr",
                       exclude=(obs.type, obs.value))]
        if obs.type is IOCType.CIDR:
            found.append(Pivot(Relation.INSIDE, net, (*IPS, IOCType.CIDR), "contains",
                               f"within:{net} type:ipv4,ipv6,cidr", exclude=(obs.type, obs.value)))
        found.append(Pivot(Relation.INSIDE, net, (IOCType.URL,), "URLs on it", f"within:{net} type:url"))
        return tuple(found)
    host = _host_of(subject)
    if not host:
        return ()
    host = host.rstrip(".").lower()
    if obs.type is IOCType.DOMAIN:
        return (
            Pivot(Relation.PARENTS, host, (IOCType.DOMAIN,), "parent domains"),
            Pivot(Relation.UNDER, host, (IOCType.DOMAIN,), "subdomains", f"domain:{host} type:domain",
                  exclude=(obs.type, obs.value)),
            Pivot(Relation.UNDER, host, (IOCType.URL,), "URLs on it", f"domain:{host} type:url"),
            Pivot(Relation.UNDER, host, (IOCType.EMAIL,), "e-mail addresses on it", f"domain:{host} type:email"),
        )
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return (Pivot(Relation.HOST, host, (IOCType.DOMAIN,), "host" if obs.type is IOCType.URL else "domain"),)
    return (Pivot(Relation.HOST, ip.compressed, IPS, "host"),)


__all__ = ["COUNT_MAX", "SHOWN", "Pivot", "Relation", "plan"]
