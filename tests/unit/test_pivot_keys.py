"""The pivot keys (storage.pivot_keys) against `ipaddress`'s own answers: the text comparisons the queries make
(storage.repositories.indicators: inside, containing, overlapping) decide exactly what `ipaddress` decides."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from storage.pivot_keys import address_key, network_keys, pivot_keys, reversed_host, supernet_firsts


@st.composite
def networks(draw: st.DrawFn, version: int | None = None) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    version = version or draw(st.sampled_from((4, 6)))
    bits = 32 if version == 4 else 128
    # addresses near each other often, so that nesting and overlaps are common
    base = draw(st.sampled_from((0, 0x0A010200, 0xC6336400, 0x20010DB8 << 96 if version == 6 else 0xFFFFFF00)))
    address = (base + draw(st.integers(0, 1 << 12))) % (1 << bits) if draw(st.booleans()) else \
        draw(st.integers(0, (1 << bits) - 1))
    length = draw(st.integers(0, bits))
    kind = ipaddress.IPv4Network if version == 4 else ipaddress.IPv6Network
    return kind((address, length), strict=False)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    version = draw(st.sampled_from((4, 6)))
    return draw(networks(version)), draw(networks(version))


@given(pairs())
def test_range_predicates_are_ipaddress_answers(pair) -> None:
    held, asked = pair
    h_first, h_last = network_keys(held)
    a_first, a_last = network_keys(asked)
    inside = a_first <= h_first <= a_last and h_last <= a_last
    containing = h_first in supernet_firsts(asked) and h_last >= a_last
    assert inside == held.subnet_of(asked)
    assert containing == asked.subnet_of(held)
    assert (inside or containing) == held.overlaps(asked)


@given(networks(), networks())
def test_keys_sort_as_addresses_and_versions_never_mix(a, b) -> None:
    ka, kb = network_keys(a)[0], network_keys(b)[0]
    assert len(ka) == (9 if a.version == 4 else 33)
    if a.version == b.version:
        assert (ka < kb) == (a.network_address < b.network_address)
    else:
        assert (ka < kb) == (a.version < b.version)


@given(networks())
def test_supernet_firsts_are_the_first_addresses_of_every_containing_network(net) -> None:
    expected = {address_key(net.version, int(net.supernet(new_prefix=n).network_address))
                for n in range(net.prefixlen + 1)}
    assert set(supernet_firsts(net)) == expected


def test_the_keys_of_each_type() -> None:
    assert pivot_keys("ipv4", "198.51.100.7") == ("4c6336407", "4c6336407", None)
    assert pivot_keys("cidr", "198.51.100.0/24") == ("4c6336400", "4c63364ff", None)
    assert pivot_keys("url", "http://198.51.100.7:8080/a") == ("4c6336407", "4c6336407", None)
    assert pivot_keys("url", "https://user@Login.Northbank.example:443/a?b#c") == (
        None, None, "example.northbank.login.")
    assert pivot_keys("email", "ceo@northbank.example") == (None, None, "example.northbank.")
    assert pivot_keys("domain", "northbank.example") == (None, None, "example.northbank.")
    assert pivot_keys("sha256", "a" * 64) == (None, None, None)
    assert reversed_host("A.b.C.") == "c.b.a."
