"""Pivots in lookup and search (issue 12) through the console: what lies around a value, only what the asker may
see (counts included), and the search options within:, domain:, text: and org: with a name of several words."""

from __future__ import annotations

from adapters.discord.render import to_message
from adapters.slack.blocks import Renderer
from bot.domain import Actor, Platform
from bot.results import LookupResult


async def _seed_network(coalition) -> None:
    await coalition.say("carol", "/ioc submit 198.51.100.0/24 tlp:green tags:scanner hosting range")
    await coalition.say("carol", "/ioc submit 198.51.100.7 tlp:green")
    await coalition.say("carol", "/ioc submit http://198.51.100.9/payload.bin tlp:green")
    await coalition.say("carol", "/ioc submit 203.0.113.5 tlp:green")  # elsewhere
    await coalition.say("mod", "/ioc approve #1")
    await coalition.say("alice", "/ioc vote #1 confirm")
    await coalition.say("bob", "/ioc vote #1 confirm")


async def test_an_ip_lookup_names_the_networks_it_is_inside(coalition):
    await _seed_network(coalition)
    out = await coalition.say("bob", "/ioc lookup 198.51.100.7")
    assert "#2 ipv4 198.51.100.7" in out
    assert "Related to 198.51.100.7:" in out
    assert "   inside (1):" in out
    assert "      198.51.100.0/24 (#1, approved, TLP:GREEN, confirmed by 2 orgs)" in out
    # an address nobody holds: "Not known" for itself, and the network it is inside
    out = await coalition.say("bob", "/ioc 198.51.100.99")
    assert "Not known to the coalition (or not visible to you here): 198.51.100.99" in out
    assert "Related to 198.51.100.99:" in out and "198.51.100.0/24 (#1" in out
    # outside every held network: nothing related, no section
    out = await coalition.say("bob", "/ioc 192.0.2.1")
    assert "Not known" in out and "Related" not in out
    # a CIDR lookup: what it contains, and the URLs on its addresses
    out = await coalition.say("bob", "/ioc 198.51.100.0/24")
    assert "   contains (1):\n      198.51.100.7 (#2, pending, TLP:GREEN, confirmed by 0 orgs)" in out
    assert "   URLs on it (1):\n      http://198.51.100.9/payload.bin (#3," in out
    assert "203.0.113.5" not in out and "   inside" not in out
    # a URL on an IP: its host's item when held
    out = await coalition.say("bob", "/ioc http://198.51.100.7/login")
    assert "Not known" in out and "   host (1):\n      198.51.100.7 (#2, pending" in out


async def test_a_restricted_network_is_neither_shown_nor_counted_to_who_may_not_see_it(coalition):
    await _seed_network(coalition)
    before = {q: await coalition.say("bob", q) for q in
              ("/ioc lookup 198.51.100.7", "/ioc 198.51.100.99", "/ioc search within:198.51.0.0/16",
               "/ioc search within:198.51.100.7")}
    await coalition.say("alice", "/ioc submit 198.51.0.0/16 tlp:amber+strict our own range")
    out = await coalition.say("alice", "/ioc lookup 198.51.100.7")  # alice's organization sees it
    assert "   inside (2):" in out and "198.51.0.0/16 (#5, " in out and "TLP:AMBER+STRICT" in out
    after = {q: await coalition.say("bob", q) for q in before}
    assert after == before  # byte-identical to the world without it, counts included
    assert "   inside (1):" in after["/ioc lookup 198.51.100.7"]
    assert "of 3" in await coalition.say("alice", "/ioc search within:198.51.0.0/16 type:cidr,ipv4")


async def _seed_domain(coalition) -> None:
    await coalition.say("carol", "/ioc submit northbank.example tlp:green tags:phishing lookalike target")
    await coalition.say("carol", "/ioc submit login.northbank.example ceo@northbank.example tlp:green")
    for n in range(7):
        await coalition.say("carol", f"/ioc submit https://login.northbank.example/verify{n} tlp:green")
    # look alike, but not on it
    await coalition.say("carol", "/ioc submit notnorthbank.example northbank.example.evil.test tlp:green")
    await coalition.say("carol", "/ioc submit https://northbank-example.test/ tlp:green")


async def test_a_domain_lookup_lists_what_is_on_it(coalition):
    await _seed_domain(coalition)
    out = await coalition.say("bob", "/ioc lookup northbank.example")
    assert "Related to northbank.example:" in out
    assert "parent domains" not in out
    assert "   subdomains (1):\n      login.northbank.example (#2, pending" in out
    assert "   URLs on it (7):" in out
    shown = [line for line in out.splitlines() if "https://login.northbank.example/verify" in line]
    assert [line.split()[0] for line in shown] == [f"https://login.northbank.example/verify{n}"
                                                   for n in range(5)]  # the first five (one host: by id)
    assert "      and 2 more: /ioc search domain:northbank.example type:url" in out
    assert "   e-mail addresses on it (1):\n      ceo@northbank.example (#3," in out
    assert "notnorthbank" not in out and "evil.test" not in out and "northbank-example" not in out
    # a subdomain nobody holds: its parent domains, and the URLs on it
    out = await coalition.say("bob", "/ioc lookup login.northbank.example")
    assert "   parent domains (1):\n      northbank.example (#1," in out
    assert "   URLs on it (7):" in out and "subdomains" not in out
    out = await coalition.say("bob", "/ioc lookup secure.login.northbank.example")
    assert "Not known" in out and "   parent domains (2):" in out
    # a URL: its host's item; an e-mail address: its domain's
    out = await coalition.say("bob", "/ioc https://login.northbank.example/verify3")
    assert "   host (1):\n      login.northbank.example (#2," in out
    out = await coalition.say("bob", "/ioc someone@northbank.example")
    assert "   domain (1):\n      northbank.example (#1," in out


async def test_a_restricted_subdomain_is_neither_shown_nor_counted_to_who_may_not_see_it(coalition):
    await _seed_domain(coalition)
    queries = ("/ioc lookup northbank.example", "/ioc lookup northbank.example", "/ioc search domain:northbank.example",
               "/ioc https://vpn.northbank.example/", "/ioc lookup x.vpn.northbank.example")
    before = {q: await coalition.say("bob", q) for q in queries}
    await coalition.say("alice", "/ioc submit vpn.northbank.example tlp:amber+strict our VPN gateway")
    await coalition.say("alice", "/ioc submit https://vpn.northbank.example/login tlp:red")
    assert {q: await coalition.say("bob", q) for q in queries} == before
    assert "   subdomains (1):" in before["/ioc lookup northbank.example"]
    out = await coalition.say("alice", "/ioc lookup northbank.example")
    assert "   subdomains (2):" in out and "vpn.northbank.example (#" in out and "   URLs on it (8):" in out
    out = await coalition.say("alice", "/ioc https://vpn.northbank.example/")
    assert "   host (1):\n      vpn.northbank.example" in out


async def test_search_within_and_domain(coalition):
    await _seed_network(coalition)
    await coalition.say("carol", "/ioc submit 198.51.0.0/16 tlp:green")  # contains the /24: overlaps it
    await coalition.say("carol", "/ioc submit 2001:db8::/32 2001:db8::1 tlp:green")
    out = await coalition.say("bob", "/ioc search within:198.51.100.0/24")
    assert out.startswith("Search results: 1-4 of 4")
    for ref in ("#1 cidr 198.51.100.0/24", "#2 ipv4 198.51.100.7", "#3 url http://198.51.100.9/payload.bin",
                "#5 cidr 198.51.0.0/16"):
        assert ref in out
    assert "203.0.113.5" not in out and "2001:db8" not in out
    out = await coalition.say("bob", "/ioc search within:198.51.100.9 type:url")
    assert out.startswith("Search results: 1-1 of 1") and "#3 url" in out
    out = await coalition.say("bob", "/ioc search within:2001:db8::/48")
    assert "of 2" in out and "2001:db8::/32" in out and "2001:db8::1" in out
    await _seed_domain(coalition)
    out = await coalition.say("bob", "/ioc search domain:northbank.example")
    assert "of 10" in out  # the domain, its subdomain, the e-mail address and seven URLs
    out = await coalition.say("bob", "/ioc search domain:northbank.example type:email,domain")
    assert "of 3" in out and "notnorthbank" not in out and "evil.test" not in out
    for bad, says in (("within:northbank.example", "within: takes an IP address or a CIDR"),
                      ("domain:198.51.100.7", "domain: takes a domain name")):
        out = await coalition.say("bob", f"/ioc search {bad}")
        assert "Sorry:" in out and says in out and "within:198.51.100.0/24" in out, out


async def test_search_text_over_notes_and_tags(coalition):
    await coalition.say("carol", "/ioc submit evil-one.example tlp:green tags:banking-trojan first wave")
    await coalition.say("carol", "/ioc submit evil-two.example tlp:green dropper of the Banking campaign")
    await coalition.say("carol", "/ioc submit banking.example tlp:green unrelated note")
    out = await coalition.say("bob", "/ioc search text:banking")
    assert "of 2" in out and "evil-one.example" in out and "evil-two.example" in out
    assert "banking.example" not in out.replace("evil-", "")  # the value is not the note
    assert "of 1" in await coalition.say("bob", "/ioc search text:wave")
    assert "nothing found" in await coalition.say("bob", "/ioc search text:100%")


async def test_search_by_organization_with_a_name_of_several_words(coalition):
    await coalition.say("bob", "/ioc submit sentinel-found.example tlp:green tags:phishing")
    await coalition.say("carol", "/ioc submit ncu-found.example tlp:green")
    quoted = await coalition.say("alice", '/ioc search org:"Sentinel Security"')
    assert "of 1" in quoted and "sentinel-found.example" in quoted
    assert await coalition.say("alice", "/ioc search org:Sentinel Security") == quoted
    assert await coalition.say("alice", "/ioc search org:sentinel security tag:phishing") == quoted
    # the words that do not continue a name are search text
    assert "nothing found" in await coalition.say("alice", "/ioc search org:Sentinel Security ncu")
    assert "of 1" in await coalition.say("alice", "/ioc search org:Sentinel Security sentinel-found")
    for line, name in (("/ioc search org:Nobody", '"Nobody"'),
                       ("/ioc search org:Sentinel Securities tag:x", '"Sentinel" nor "Sentinel Securities"')):
        out = await coalition.say("alice", line)
        assert f"Sorry: there is no organization called {name}; see /ioc admin org list" in out, out


async def test_slack_and_discord_render_the_related_section(coalition):
    await _seed_network(coalition)
    await coalition.say("carol", "/ioc submit 198.51.100.66 tlp:green <b>*bold*</b> note")
    answer = await coalition.dispatcher.handle_text(
        "lookup 198.51.100.99 198.51.100.66", Actor(Platform.CONSOLE, "local", "bob", "direct", private=True))
    result = answer.result
    assert isinstance(result, LookupResult) and [c.indicator.value for c in result.cards] == ["198.51.100.66"]
    assert [r.value for r in result.related] == ["198.51.100.99", "198.51.100.66"]
    slack = Renderer().message(result)
    text = "\n".join(b["text"]["text"] for b in slack.blocks if b.get("type") == "section" and "text" in b)
    assert "Related to `198.51.100.99`:" in text
    assert "`198.51.100.0/24` (#1, approved, TLP:GREEN, confirmed by 2 orgs)" in text
    discord = to_message(result)
    assert "Related to `198.51.100.99`:" in discord.content
    assert "`198.51.100.0/24` (#1, approved, TLP:GREEN, confirmed by 2 orgs)" in discord.content
    assert len(discord.embeds) == 1  # the one card; the related section is in the message
