"""Watches (issue 12) through the console: adding, listing and removing them, and the errors that say how."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import AuditRow, WatchRow


async def _watch_rows(coalition) -> list:
    async with coalition.store.engine.connect() as conn:
        return list((await conn.execute(select(WatchRow).order_by(WatchRow.id))).all())


async def test_a_member_adds_lists_and_removes_watches(coalition):
    out = await coalition.say("alice", "/ioc watch add 198.51.100.0/24 our branch range")
    assert "Watching 198.51.100.0/24 (W1)" in out and "direct message" in out and "self:on" in out
    out = await coalition.say("alice", "/ioc watch add brand:NorthBank digest:daily")
    assert "Watching brand:northbank (W2)" in out and "once a day" in out
    out = await coalition.say("alice", '/ioc watch add tag:phishing org:"sentinel security" self:on')
    assert "Watching tag:phishing org:sentinel security (W3)" in out and "self:on" not in out
    out = await coalition.say("alice", "/ioc watch list")
    assert "Your watches (3):" in out
    assert "W1 198.51.100.0/24: our branch range" in out
    assert "W2 brand:northbank digest:daily" in out
    assert "W3 tag:phishing org:sentinel security self:on" in out
    assert "nothing yet" in await coalition.say("bob", "/ioc watch list")  # bob sees only his own
    out = await coalition.say("bob", "/ioc watch remove W1")
    assert "W1 is not one of your watches" in out
    out = await coalition.say("alice", "/ioc watch remove W1")
    assert "No longer watching 198.51.100.0/24 (W1)" in out
    assert [r.id for r in await _watch_rows(coalition)] == [2, 3]
    async with coalition.store.engine.connect() as conn:
        actions = [r.action for r in (await conn.execute(select(AuditRow).order_by(AuditRow.id))).all()]
    assert actions.count("watch.add") == 3 and actions.count("watch.remove") == 1


async def test_bad_watches_are_refused_with_the_right_form_and_store_nothing(coalition):
    for line, says in [
        ("/ioc watch add", "needs a target"),
        ("/ioc watch add hello", "is not something to watch"),
        ("/ioc watch add brand:abc", "too short"),
        ("/ioc watch add type:banana", "not an indicator type"),
        ("/ioc watch add tag:phishing org:Nobody", 'no organization called "Nobody"'),
        ("/ioc watch add northbank.example digest:weekly", "digest: takes daily"),
        ("/ioc watch add northbank.example self:maybe", "self: takes on or off"),
        ("/ioc watch remove", "/ioc watch remove W7"),
        ("/ioc watch frobnicate", "watch add TARGET, watch list or watch remove W7"),
    ]:
        out = await coalition.say("alice", line)
        assert "Sorry:" in out and says in out, (line, out)
        assert "Usage: /ioc watch add TARGET" in out, (line, out)
    assert await _watch_rows(coalition) == []


async def test_channel_watches_are_for_moderators_in_the_channel(coalition):
    out = await coalition.say("alice", "/ioc watch add tag:phishing channel", where="general")
    assert "only moderators and admins" in out
    out = await coalition.say("mod", "/ioc watch add tag:phishing channel", where="direct")
    assert "run the command there" in out
    out = await coalition.say("mod", "/ioc watch add tag:phishing channel phishing desk", where="general")
    assert "Watching tag:phishing (W1)" in out and "in this channel" in out
    out = await coalition.say("alice", "/ioc watch list", where="general")
    assert "This channel's watches (1):" in out and "W1 tag:phishing: phishing desk" in out
    assert "W1 is not one of your watches" in await coalition.say("alice", "/ioc watch remove W1", where="general")
    out = await coalition.say("mod", "/ioc watch remove W1", where="general")
    assert "No longer watching tag:phishing (W1)" in out


# ---------------------------------------------------------------- alerts


def _told(out: str, who: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"[to {who}]")]


async def test_a_watcher_is_told_of_each_event_once_and_of_nothing_else(coalition):
    await coalition.say("bob", "/ioc watch add 198.51.100.0/24")
    out = await coalition.say("alice", "/ioc submit 198.51.100.7 tlp:green")
    told = _told(out, "bob")
    assert len(told) == 1 and "Your watch W1 (198.51.100.0/24) matched: #1 was submitted." in told[0]
    assert _told(out, "alice") == [] and _told(out, "carol") == []
    out = await coalition.say("alice", "/ioc submit 192.0.2.1 tlp:green")  # outside the range
    assert _told(out, "bob") == []
    out = await coalition.say("mod", "/ioc approve #1")
    assert _told(out, "bob") == []  # the same indicator within the hour: coalesced
    coalition.clock.advance(timedelta(minutes=61))
    out = await coalition.say("carol", "/ioc sighting #1")
    told = _told(out, "bob")
    assert len(told) == 1 and "#1 was sighted again" in told[0]


async def test_no_alert_for_what_the_watcher_may_not_see(coalition):
    await coalition.say("bob", "/ioc watch add brand:northbank")
    await coalition.say("mod", "/ioc watch add brand:northbank")
    out = await coalition.say("alice", "/ioc submit n0rthbank-login.example tlp:amber+strict")
    assert _told(out, "bob") == []  # another organization's AMBER+STRICT
    assert not any("Your watch" in line for line in _told(out, "mod"))  # nor the moderator's watch
    out = await coalition.say("alice", "/ioc submit northbank-verify.example tlp:red")
    assert _told(out, "bob") == []
    assert len([line for line in _told(out, "mod") if "Your watch W2" in line]) == 1  # RED: moderators see it
    out = await coalition.say("alice", "/ioc submit secure-northbank.example tlp:amber anon")
    told = _told(out, "bob")
    assert len(told) == 1 and "Northbank" not in told[0]  # anonymous: the organization is not named


async def test_own_organization_items_only_with_self_on(coalition):
    await coalition.say("mod", "/ioc watch add tag:phishing")  # mod is of Sentinel Security, like bob
    await coalition.say("mod", "/ioc watch add tag:phishing self:on")
    out = await coalition.say("bob", "/ioc submit evil-phish.example tlp:green tags:phishing")
    told = _told(out, "mod")
    assert len(told) == 1 and "Your watch W2" in told[0]


async def test_an_organization_limit_never_reveals_who_is_behind_an_anonymous_item(coalition):
    await coalition.say("carol", '/ioc watch add tag:phishing org:Northbank')
    out = await coalition.say("alice", "/ioc submit phish-one.example tlp:green tags:phishing anon")
    assert _told(out, "carol") == []
    out = await coalition.say("alice", "/ioc submit phish-two.example tlp:green tags:phishing")
    assert len(_told(out, "carol")) == 1


async def test_a_confirmation_by_a_new_organization_alerts(coalition):
    await coalition.say("carol", "/ioc watch add evil-cc.example")
    await coalition.say("alice", "/ioc submit evil-cc.example tlp:green")
    coalition.clock.advance(timedelta(minutes=61))
    out = await coalition.say("alice", "/ioc vote #1 confirm")  # the submitting organization: no alert
    assert _told(out, "carol") == []
    out = await coalition.say("bob", "/ioc vote #1 confirm")
    assert len(_told(out, "carol")) == 1 and "confirmed by another organization" in out
    coalition.clock.advance(timedelta(minutes=61))
    out = await coalition.say("mod", "/ioc vote #1 confirm")  # Sentinel Security again: not a new organization
    assert _told(out, "carol") == []


# who is told of alice's (Northbank) submission, by TLP: the rules of bot.rules.can_see, written out by hand
TOLD = {  # TLP -> watchers told (bob: Sentinel member; mod: Sentinel moderator; admin: National Cyber Unit admin;
    #          alice: the submitter herself, with self:on)
    "clear": {"bob", "mod", "admin", "alice"},
    "green": {"bob", "mod", "admin", "alice"},
    "amber": {"bob", "mod", "admin", "alice"},
    "amber+strict": {"alice"},
    "red": {"mod", "admin", "alice"},
}


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
@pytest.mark.parametrize("tlp", list(TOLD))
async def test_every_tlp_and_watcher_is_told_exactly_what_they_may_see(coalition, tlp: str, anonymous: bool):
    for watcher in ("bob", "mod", "admin"):
        await coalition.say(watcher, "/ioc watch add brand:northbank")
    await coalition.say("alice", "/ioc watch add brand:northbank self:on")
    await coalition.say("mod", "/ioc watch add brand:northbank channel", where="general")  # ceiling GREEN
    out = await coalition.say("alice", f"/ioc submit n0rthbank-pay.example tlp:{tlp}{' anon' if anonymous else ''}")
    for watcher in ("bob", "mod", "admin", "alice"):
        alerts = [line for line in _told(out, watcher) if "Your watch" in line]
        if watcher not in TOLD[tlp]:
            assert alerts == [] and "n0rthbank" not in "\n".join(_told(out, watcher)), (watcher, out)
            continue
        assert len(alerts) == 1, (watcher, out)
        block = out.split(alerts[0], 1)[1].split("\n[", 1)[0]  # the card under the alert
        assert "n0rthbank-pay.example" in block
        named = "Northbank" in alerts[0] + block
        assert named is (not anonymous or watcher == "alice"), (watcher, alerts[0] + block)
    assert not [line for line in out.splitlines() if line.startswith("[#general] Watch")]  # pending: not relayed
    out = await coalition.say("admin", "/ioc approve #1")
    in_channel = [line for line in out.splitlines() if line.startswith("[#general] Watch W5")]
    assert len(in_channel) == (1 if tlp in ("clear", "green") else 0), out
    if in_channel and anonymous:
        assert "Northbank" not in out.split(in_channel[0], 1)[1].split("\n[", 1)[0]


async def test_a_digest_watch_is_told_once_a_day_of_what_it_may_still_see(coalition):
    from bot.alerts import write_digests

    async def digest() -> str:
        coalition.output.clear()
        async with coalition.store.unit_of_work() as uow:
            written = await write_digests(uow, coalition.clock(), coalition.dispatcher.delivery_platforms)
            await uow.commit()
        await coalition.channel.deliverer.drain()
        return f"{written}\n" + "\n".join(coalition.output)

    await coalition.say("bob", "/ioc watch add brand:northbank digest:daily")
    coalition.clock.advance(timedelta(minutes=1))
    out = await coalition.say("alice", "/ioc submit n0rthbank-one.example northbank-two.example tlp:green")
    out += await coalition.say("alice", "/ioc submit northbank-three.example tlp:amber+strict")
    assert _told(out, "bob") == []  # not now: once a day
    assert (await digest()).startswith("0\n")  # the day is not over
    coalition.clock.advance(timedelta(hours=25))
    await coalition.say("alice", "/ioc submit elsewhere.example tlp:green")
    out = await digest()
    told = _told(out, "bob")
    assert out.startswith("1\n") and len(told) == 1, out
    assert "W1 (brand:northbank), the day's digest: 2 indicators: #1 domain n0rthbank-one[.]example (pending); " \
           "#2 domain northbank-two[.]example (pending)." in told[0]
    assert "northbank-three" not in out  # AMBER+STRICT of another organization: not even counted
    assert (await digest()).startswith("0\n")  # done for the day
    coalition.clock.advance(timedelta(hours=25))
    assert _told(await digest(), "bob") == []  # nothing new: no message


async def test_a_channel_watch_limited_to_an_organization_never_names_who_is_behind_an_anonymous_item(coalition):
    await coalition.say("admin", '/ioc watch add tag:phishing org:Northbank channel', where="general")
    await coalition.say("alice", "/ioc submit phish-anon.example tlp:green tags:phishing anon")
    out = await coalition.say("mod", "/ioc approve #1")
    assert not [line for line in out.splitlines() if line.startswith("[#general] Watch")], out
    await coalition.say("alice", "/ioc submit phish-named.example tlp:green tags:phishing")
    out = await coalition.say("mod", "/ioc approve #2")
    assert len([line for line in out.splitlines() if line.startswith("[#general] Watch W1")]) == 1, out
