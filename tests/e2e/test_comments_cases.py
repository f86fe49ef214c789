"""Issue 13's comments and cases through the console, on SQLite and PostgreSQL: every verb, its errors (each says
what was wrong and shows the right form), and TLP: an item or a case one may not see answers exactly as an unknown
one, and what is hidden is neither shown nor counted.

The demo coalition (adapters/console/demo.py): alice (member) is Northbank's; bob (member) and mod (moderator) are
Sentinel Security; carol (member) and admin (admin) are National Cyber Unit; anna (member) and nina (moderator) are
Northbank's too (tests/e2e/test_lifecycle.py's world).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storage.models import AuditRow, CaseIndicatorRow, CaseRow, CommentRow, IndicatorRow
from tests.e2e import test_lifecycle
from tests.e2e.test_lifecycle import reply_of

world = test_lifecycle.world  # the console coalition of the lifecycle tests (a fixture)


async def _count(world, table) -> int:
    return await world.scalar(select(func.count()).select_from(table))


async def test_comments_are_stored_audited_and_the_latest_three_shown_with_a_count(world, clock):
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green")
    for n, who in enumerate(("bob", "carol", "alice", "bob")):
        clock.advance(timedelta(hours=1))
        out = reply_of(await world.say(who, f"/ioc comment #1 note {n} <@U1> *bold*"))
        assert out.startswith(f"Comment added to #1 ({n + 1} comment") and "/ioc lookup #1" in out, out
    out = reply_of(await world.say("carol", "/ioc lookup #1"))
    assert "comments (4, the latest 3):" in out
    assert "Sentinel Security: note 3 <@U1> *bold*" in out and "Northbank: note 2" in out
    assert "National Cyber Unit: note 1" in out and "note 0" not in out
    assert out.index("note 3") < out.index("note 2") < out.index("note 1")  # newest first
    assert await _count(world, CommentRow) == 4
    async with world.store.engine.connect() as conn:
        actions = [r.action for r in (await conn.execute(select(AuditRow))).all()]
    assert actions.count("comment") == 4


async def test_bad_comments_say_how_and_store_nothing(world):
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green")
    for line, problem in {"/ioc comment": "say which indicator and what to say",
                          "/ioc comment #1": "say what to comment on #1",
                          "/ioc comment nonsense here": "is neither an indicator id"}.items():
        out = reply_of(await world.say("bob", line))
        assert problem in out and "Usage: /ioc comment #ID TEXT..." in out, (line, out)
    assert await _count(world, CommentRow) == 0


async def test_a_comment_on_an_item_one_may_not_see_answers_as_an_unknown_one(world):
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:amber+strict")
    await world.say("alice", "/ioc comment #1 internal only")
    before = (await _count(world, CommentRow), await _count(world, AuditRow))
    hidden = reply_of(await world.say("bob", "/ioc comment #1 let me in"))
    unknown = reply_of(await world.say("bob", "/ioc comment #9 let me in"))
    assert hidden == unknown.replace("#9", "#1") and "is not an indicator you can see" in hidden
    assert (await _count(world, CommentRow), await _count(world, AuditRow)) == before
    assert "internal only" in reply_of(await world.say("anna", "/ioc lookup #1"))  # her organization sees it
    assert "internal only" not in await world.say("bob", "/ioc lookup #1")


async def test_cases_group_indicators_and_count_only_what_the_viewer_may_see(world):
    out = reply_of(await world.say("alice", "/ioc case new op-nightfall tlp:green Phishing wave on banks"))
    assert "Case op-nightfall opened" in out and "TLP:GREEN" in out and "Phishing wave on banks" in out
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green case:op-nightfall")
    await world.say("alice", "/ioc submit 198.51.100.8 tlp:amber+strict case:op-nightfall")
    await world.say("mod", "/ioc approve #1")
    await world.say("bob", "/ioc submit 203.0.113.5 tlp:green")
    out = reply_of(await world.say("mod", "/ioc case add op-nightfall #3"))
    assert "Added #3 to case op-nightfall" in out
    out = reply_of(await world.say("alice", "/ioc case show op-nightfall"))
    assert "3 indicators you may see: 1 approved, 2 pending" in out and "198.51.100.8" in out
    out = reply_of(await world.say("bob", "/ioc case show op-nightfall"))  # not alice's AMBER+STRICT item
    assert "2 indicators you may see: 1 approved, 1 pending" in out and "198.51.100.8" not in out
    out = reply_of(await world.say("bob", "/ioc case list"))
    assert "op-nightfall · TLP:GREEN · Northbank · 2 indicators" in out
    out = reply_of(await world.say("alice", "/ioc case remove op-nightfall #3"))
    assert "Removed #3 from case op-nightfall" in out and "2 indicators you may see" in out
    assert await _count(world, CaseIndicatorRow) == 2
    async with world.store.engine.connect() as conn:
        actions = [r.action for r in (await conn.execute(select(AuditRow))).all()]
    assert actions.count("case.new") == 1 and actions.count("case.add") == 3 and actions.count("case.remove") == 1


async def test_a_case_above_what_one_may_see_is_unknown_and_errors_show_the_form(world):
    await world.say("alice", "/ioc case new northbank-ir tlp:amber+strict our incident")
    await world.say("alice", "/ioc submit 198.51.100.7 tlp:green")
    for line in ("/ioc case show northbank-ir", "/ioc case add northbank-ir #1", "/ioc case remove northbank-ir #1",
                 "/ioc submit 198.51.100.9 case:northbank-ir"):
        hidden = reply_of(await world.say("bob", line))
        unknown = reply_of(await world.say("bob", line.replace("northbank-ir", "nothing-here")))
        assert hidden == unknown.replace("nothing-here", "northbank-ir"), (line, hidden, unknown)
        assert "there is no case northbank-ir you can see" in hidden
    assert "northbank-ir" not in reply_of(await world.say("bob", "/ioc case list"))
    assert "northbank-ir" in reply_of(await world.say("anna", "/ioc case list"))
    assert await world.scalar(select(func.count()).select_from(IndicatorRow)) == 1  # the refused submit stored nothing
    # a name is held once per visibility scope: bob opening "northbank-ir" learns nothing of alice's
    out = reply_of(await world.say("bob", "/ioc case new northbank-ir tlp:green takedown"))
    assert "Case northbank-ir opened" in out and "TLP:GREEN" in out
    assert "TLP:AMBER+STRICT" in reply_of(await world.say("anna", "/ioc case show northbank-ir"))  # her own first
    assert "TLP:GREEN" in reply_of(await world.say("carol", "/ioc case show northbank-ir"))
    await world.say("alice", "/ioc case new shared tlp:green")
    out = reply_of(await world.say("bob", "/ioc case add shared #1"))
    assert "only the organization that opened case shared (Northbank) or a moderator may change it" in out
    assert "Usage: /ioc case new NAME" in out
    for line, problem in {"/ioc case": "say new, add, remove, show or list",
                          "/ioc case frob x": "say new, add, remove, show or list, not 'frob'",
                          "/ioc case new": "case new needs the case's name",
                          "/ioc case new a/b": "'a/b' is not a case name",
                          "/ioc case new shared": "there is a case shared already where a TLP:AMBER case is held",
                          "/ioc case add shared": "needs the case's name and an indicator",
                          "/ioc case remove shared #1 #2": "remove one indicator at a time",
                          "/ioc case remove shared #1": "#1 is not in case shared",
                          "/ioc case new x tlp:purple": "TLP"}.items():
        out = reply_of(await world.say("alice", line))
        assert problem in out and "Usage: /ioc case" in out, (line, out)
    assert await _count(world, CaseRow) == 3
