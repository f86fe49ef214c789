"""Issue 13's comments and cases through the console, on SQLite and PostgreSQL: every verb, its errors (each says
what was wrong and shows the right form), and TLP: an item or a case one may not see answers exactly as an unknown
one, and what is hidden is neither shown nor counted.

The demo coalition (adapters/console/demo.py): alice (member) is Northbank's; bob (member) and mod (moderator) are
Sentinel Security; carol (member) and admin (admin) are National Cyber Unit; anna (member) and nina (moderator) are
Northbank's too (tests/e2e/test_lifecycle.py's world).
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from storage.models import AuditRow, CaseIndicatorRow, CaseRow, CommentRow, IndicatorRow, OutboxRow
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


# ---------------------------------------------------------------- comments threaded under the posted cards


def threads(out: str) -> dict[str, str]:
    """What the bot posted in card threads: channel -> the lines `[thread of #ID in #channel] ...`."""
    found: dict[str, str] = {}
    for m in re.finditer(r"^\[thread of (#\d+) in #(\w+)\] (.*)$", out, re.M):
        found[m.group(2)] = found.get(m.group(2), "") + f"{m.group(1)} {m.group(3)}\n"
    return found


async def test_a_comment_is_threaded_under_every_posted_copy_within_its_ceiling(world):
    await world.say("admin", "/ioc admin channel set purpose:feed", where="general")  # a second feed, at GREEN
    await world.say("alice", "/ioc submit 198.51.100.41 tlp:green")
    await world.say("mod", "/ioc approve #1")  # cards in #moderation, #feed and #general
    out = await world.say("bob", "/ioc comment #1 seen on our sinkhole <@U1> *bold*")
    assert reply_of(out).startswith("Comment added to #1 (1 comment)")
    assert threads(out) == {c: "#1 Sentinel Security: seen on our sinkhole <@U1> *bold*\n"
                            for c in ("moderation", "feed", "general")}, out
    # its TLP raised above #general's GREEN ceiling since the card was posted there: not threaded there any more
    await world.say("alice", "/ioc edit #1 tlp:amber")
    out = await world.say("carol", "/ioc comment #1 also here")
    assert set(threads(out)) == {"moderation", "feed"}, out
    await world.say("alice", "/ioc edit #1 tlp:amber+strict")  # never in a shared channel: in no thread
    out = await world.say("anna", "/ioc comment #1 internal")
    assert reply_of(out).startswith("Comment added to #1 (3 comments)") and threads(out) == {}, out
    events = [r.event for r in await world.rows(select(OutboxRow.event))]
    assert events.count("indicator.commented") == 3


async def test_comments_on_an_anonymous_item_name_nobody_in_threads_nor_in_lookups(world):
    await world.say("alice", "/ioc submit 198.51.100.43 tlp:green anon")
    await world.say("mod", "/ioc approve #1")
    out = await world.say("anna", "/ioc comment #1 our own note")  # the submitting organization's member
    assert threads(out) == {c: "#1 a coalition member: our own note\n" for c in ("moderation", "feed")}, out
    out = await world.say("bob", "/ioc comment #1 seen too")  # and every other organization's, alike
    assert threads(out) == {c: "#1 a coalition member: seen too\n" for c in ("moderation", "feed")}, out
    shown = reply_of(await world.say("carol", "/ioc lookup #1"))
    assert "a coalition member: our own note" in shown and "a coalition member: seen too" in shown
    assert "Northbank" not in shown and "Sentinel Security" not in shown
    own = reply_of(await world.say("alice", "/ioc lookup #1"))  # the submitter's organization sees the names
    assert "Northbank: our own note" in own and "Sentinel Security: seen too" in own


async def test_a_redelivered_comment_is_not_threaded_twice(world, clock):
    """The sink fails after the thread reply of the first copy: the retry finds it by its key and posts only the
    one still missing."""
    await world.say("alice", "/ioc submit 198.51.100.44 tlp:green")
    await world.say("mod", "/ioc approve #1")
    posted: dict[str, str] = {}
    sink = world.sink
    original = type(sink).post_comment

    async def post_once_then_fail(self, card, comment, *, key):
        message_id = await original(self, card, comment, key=key)
        posted[key] = message_id
        if len(posted) == 1:
            raise RuntimeError("the platform timed out")
        return message_id

    async def find(where, keys, since):
        return {k: posted[k] for k in keys if k in posted}

    sink.post_comment = post_once_then_fail.__get__(sink)
    sink.find_posted = find
    out = await world.say("bob", "/ioc comment #1 once")
    assert len(threads(out)) == 1  # the first copy's reply, then the failure: the row waits for its retry
    clock.advance(timedelta(minutes=5))
    world.before_saying()
    await world.channel.deliverer.drain()
    again = "\n".join(world.output)
    assert len(threads(again)) == 1 and set(threads(out)) | set(threads(again)) == {"moderation", "feed"}, again
    assert len(posted) == 2


# ---------------------------------------------------------------- live case cards


async def test_a_case_card_posted_in_a_channel_shows_its_audience_and_stays_live(world):
    await world.say("alice", "/ioc case new op-dusk tlp:green Phishing kit")
    await world.say("alice", "/ioc submit 198.51.100.50 tlp:green case:op-dusk")
    await world.say("alice", "/ioc submit 198.51.100.51 tlp:amber case:op-dusk")
    await world.say("alice", "/ioc submit 198.51.100.52 tlp:amber+strict case:op-dusk")
    out = await world.say("alice", "/ioc case show op-dusk", where="general")  # GREEN ceiling
    said = reply_of(out)
    assert said.startswith("(only you see this) Case op-dusk's card is posted in this channel"), out
    posted = out[len(said):]
    assert "[#general] Case op-dusk · TLP:GREEN" in posted and "1 indicator this channel may see: 1 pending" in posted
    assert "198.51.100.50" in posted and "198.51.100.51" not in posted and "198.51.100.52" not in posted
    assert "#2" not in posted and "#3" not in posted  # the AMBER item is neither shown nor counted
    # the AMBER #feed sees the AMBER item too, never the AMBER+STRICT one
    out = await world.say("alice", "/ioc case show op-dusk", where="feed")
    assert "2 indicators this channel may see: 2 pending" in out and "198.51.100.52" not in out
    # privately: everything alice may see
    assert "3 indicators you may see: 3 pending" in reply_of(await world.say("alice", "/ioc case show op-dusk"))
    # a status change of one of its indicators edits both cards, each for its own audience
    out = await world.say("mod", "/ioc approve #1")
    assert "[#general] case op-dusk now: 1 approved (#1)" in out, out
    assert "[#feed] case op-dusk now: 1 approved, 1 pending (#2 #1)" in out, out
    out = await world.say("mod", "/ioc approve #2")  # AMBER: #general's card is not edited by what it cannot show
    assert "[#feed] case op-dusk now: 2 approved (#2 #1)" in out and "[#general] case" not in out, out
    # indicators added and removed
    await world.say("bob", "/ioc submit 203.0.113.60 tlp:clear")
    out = await world.say("alice", "/ioc case add op-dusk #4")
    assert "[#general] case op-dusk now: 1 approved, 1 pending (#4 #1)" in out, out
    out = await world.say("mod", "/ioc case remove op-dusk #1")
    assert "[#general] case op-dusk now: 1 pending (#4)" in out, out
    out = await world.say("mod", "/ioc revoke #2 gone")
    assert "[#feed] case op-dusk now: 1 pending, 1 revoked (#4 #2)" in out and "[#general] case" not in out, out
    out = await world.say("alice", "/ioc case remove op-dusk #3")  # AMBER+STRICT: no channel's card changes
    assert "Removed #3 from case op-dusk" in out and "] case op-dusk now" not in out, out
    out = await world.say("alice", "/ioc edit #2 tlp:amber+strict")  # leaves #feed's card: edited there only
    assert "[#feed] case op-dusk now: 1 pending (#4)" in out and "[#general] case" not in out, out


async def test_a_case_above_the_channel_is_not_posted_there_and_the_asker_is_told(world):
    await world.say("alice", "/ioc case new op-amber tlp:amber")
    await world.say("alice", "/ioc case new op-strict tlp:amber+strict")
    before = await world.counts()
    out = await world.say("alice", "/ioc case show op-amber", where="general")
    assert out.startswith("(only you see this) Sorry: case op-amber is TLP:AMBER, above what this channel may see "
                          "(its ceiling is TLP:GREEN)") and "direct message" in out and "\n[" not in out, out
    out = await world.say("alice", "/ioc case show op-strict", where="feed")
    assert "case op-strict is TLP:AMBER+STRICT, above what this channel may see" in out and "\n[" not in out, out
    assert await world.counts() == before  # nothing announced, nothing audited
    # someone who may not see the case learns nothing more in a channel than in private
    hidden = reply_of(await world.say("bob", "/ioc case show op-strict", where="feed"))
    unknown = reply_of(await world.say("bob", "/ioc case show nothing-here", where="feed"))
    assert hidden == unknown.replace("nothing-here", "op-strict")
    out = await world.say("alice", "/ioc case show op-amber", where="feed")
    assert "[#feed] Case op-amber · TLP:AMBER" in out and "0 indicators this channel may see" in out
