"""Watches (issue 12) through the console: adding, listing and removing them, and the errors that say how."""

from __future__ import annotations

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
