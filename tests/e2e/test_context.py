"""Issue 13's context, end to end through the console on SQLite and PostgreSQL: `threat:`, `malware:` and `ref:`
on submit and on `/ioc edit`, shown on cards with every card's dates, searchable, and matched by watches.

The demo coalition (adapters/console/demo.py): alice (member) is Northbank's; bob (member) and mod (moderator) are
Sentinel Security; carol (member) and admin (admin) are National Cyber Unit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot import commands
from storage.models import AuditRow, IndicatorRow
from tests.e2e import test_lifecycle
from tests.e2e.test_lifecycle import reply_of

world = test_lifecycle.world  # the console coalition of the lifecycle tests (a fixture)

THREAT_TYPES = ("botnet_cc", "payload_delivery", "payload", "phishing", "scanner", "ransomware_leak")


async def test_submit_with_threat_malware_and_references_is_stored_shown_and_searchable(world):
    out = reply_of(await world.say(
        "alice", '/ioc submit 198.51.100.7 tlp:green threat:c2 malware:"Cobalt Strike" '
                 "ref:https://reports.example/cs-1 ref:hxxps://blog[.]example/a?b=1 seen beaconing"))
    assert "Submitted 1 indicator for moderation" in out
    assert "threat botnet_cc · malware cobalt_strike · refs hxxps://reports[.]example/cs-1 " \
           "hxxps://blog[.]example/a?b=1" in out  # references defanged on the card
    ind = await world.indicator(1)
    assert (ind.threat_type, ind.malware) == ("botnet_cc", "cobalt_strike")
    assert ind.references == ("https://reports.example/cs-1", "https://blog.example/a?b=1")
    assert ind.note == "seen beaconing"
    await world.say("bob", "/ioc submit 203.0.113.9 tlp:green threat:phishing malware:emotet")
    await world.say("bob", "/ioc submit 203.0.113.10 tlp:green malware:Emotet")
    out = reply_of(await world.say("carol", "/ioc search malware:emotet threat:phishing"))
    assert "203.0.113.9" in out and "203.0.113.10" not in out and "198.51.100.7" not in out
    out = reply_of(await world.say("carol", "/ioc search malware:EMOTET"))
    assert "203.0.113.9" in out and "203.0.113.10" in out and "198.51.100.7" not in out
    out = reply_of(await world.say("carol", "/ioc search malware:cobalt-strike"))
    assert "198.51.100.7" in out and "203.0.113" not in out


async def test_help_submit_lists_the_threat_types(world):
    out = await world.say("alice", "/ioc help submit")
    for threat in THREAT_TYPES:
        assert threat in out
    assert "malware:" in out and "ref:" in out


async def test_bad_context_is_refused_with_what_was_wrong_and_the_right_form(world):
    cases = {
        "/ioc submit 198.51.100.7 threat:evil": "threat: takes one of botnet_cc, payload_delivery, payload",
        "/ioc submit 198.51.100.7 malware:a/b": "malware: 'a/b' is not a family name",
        "/ioc submit 198.51.100.7 ref:ftp://files.example/x": "ref: 'ftp://files.example/x' is not a reference URL",
        "/ioc submit 198.51.100.7 ref:https://": "is not a reference URL",
        "/ioc submit 198.51.100.7 ref:https://a.example/1 ref:https://a.example/2 ref:https://a.example/3 "
        "ref:https://a.example/4": "at most 3 references",
        "/ioc search threat:evil": "threat: takes one of",
    }
    for line, problem in cases.items():
        out = reply_of(await world.say("alice", line))
        assert problem in out, (line, out)
        verb = line.split()[1]
        assert f"Usage: /ioc {verb}" in out, out
    assert await world.scalar(select(func.count()).select_from(IndicatorRow)) == 0  # nothing partial stored


async def test_edit_sets_and_removes_context_audited_and_shown(world):
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green")
    out = reply_of(await world.say("alice", "/ioc edit #1 threat:payload_delivery malware:qakbot "
                                            "ref:https://a.example/qak"))
    assert out.startswith("Edited: #1") and "threat payload_delivery · malware qakbot · refs " \
                                              "hxxps://a[.]example/qak" in out, out
    out = reply_of(await world.say("alice", "/ioc edit #1 malware:none ref:none"))
    assert "malware" not in out and "refs" not in out and "threat payload_delivery" in out, out
    ind = await world.indicator(1)
    assert (ind.threat_type, ind.malware, ind.references) == ("payload_delivery", "", ())
    out = reply_of(await world.say("alice", "/ioc edit #1 threat:nonsense"))
    assert "threat: takes one of" in out and "Usage: /ioc edit #ID" in out
    out = reply_of(await world.say("alice", "/ioc edit #1 threat:payload_delivery"))
    assert "nothing to change" in out
    async with world.store.engine.connect() as conn:
        details = [r.detail for r in (await conn.execute(
            select(AuditRow).where(AuditRow.action == "edit").order_by(AuditRow.id))).all()]
    assert details[0]["malware"] == ["", "qakbot"] and details[0]["threat"] == ["", "payload_delivery"]
    assert details[1]["references"] == [["https://a.example/qak"], []]


async def test_every_card_shows_its_dates(world, clock):
    start = clock.now
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green valid:30d")
    out = reply_of(await world.say("alice", "/ioc lookup #1"))
    day = f"{start:%Y-%m-%d}"
    assert (f"submitted {day} · first seen {day} · last seen {day} · "
            f"valid until {start + timedelta(days=30):%Y-%m-%d}") in out, out
    clock.advance(timedelta(days=2))
    await world.say("mod", "/ioc approve #1")
    clock.advance(timedelta(days=3))
    await world.say("bob", "/ioc sighting #1")
    out = reply_of(await world.say("alice", "/ioc lookup #1"))
    assert (f"submitted {day} · decided {start + timedelta(days=2):%Y-%m-%d} · first seen {day} · "
            f"last seen {start + timedelta(days=5):%Y-%m-%d}") in out, out


async def test_a_malware_watch_matches_the_family_however_written(world):
    out = await world.say("bob", "/ioc watch add malware:Cobalt-Strike")
    assert "malware:cobalt_strike" in out
    out = await world.say("alice", "/ioc submit 198.51.100.7 tlp:green malware:cobalt_strike")
    told = [line for line in out.splitlines() if line.startswith("[to bob]")]
    assert len(told) == 1 and "matched: #1 was submitted" in told[0], out
    out = await world.say("alice", "/ioc submit 198.51.100.8 tlp:green malware:emotet")
    assert not [line for line in out.splitlines() if line.startswith("[to bob]")]


async def test_malware_names_for_autocomplete_are_what_the_asker_may_see_most_used_first(world):
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green malware:emotet")
    await world.say("alice", "/ioc submit 198.51.100.8 tlp:green malware:emotet")
    await world.say("bob", "/ioc submit 198.51.100.9 tlp:green malware:cobalt_strike")
    await world.say("alice", "/ioc submit 198.51.100.10 tlp:amber+strict malware:secret_family")

    async def names(who: str, typed: str) -> tuple[str, ...]:
        world.channel.speaker = who
        return (await world.channel.dispatcher.handle(commands.MalwareNames(typed), world.channel.actor())).result.names

    assert await names("bob", "") == ("emotet", "cobalt_strike")
    assert await names("bob", "Cobalt-S") == ("cobalt_strike",)
    assert await names("bob", "secret") == ()
    assert await names("anna", "secret") == ("secret_family",)  # alice's organization
    assert await names("bob", "%") == ()  # a LIKE wildcard is a character, not a pattern
