"""Who moderates what, what the asker may count, what anonymous items say, what notices claim: console adapter ->
grammar -> dispatcher -> services -> delivery, on a real SQLite file and a real PostgreSQL database.

The demo coalition (adapters/console/demo.py): alice (member) is Northbank's only person; bob (member) and mod
(moderator) are Sentinel Security; carol (member) and admin (admin) are National Cyber Unit. Tests add
Northbank colleagues where they need them: anna (member), nina (moderator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from adapters.console.channel import WORKSPACE, ConsoleChannel
from adapters.console.delivery import ConsoleSink
from adapters.console.demo import seed
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Identity, Platform, Role
from bot.policy import Policy
from bot.rules import can_see, visibility
from bot.tlp import TLP
from storage.models import AuditRow, IndicatorRow
from storage.uow import Store
from tests.e2e.console_world import ConsoleWorld

RESTRICTED = (TLP.AMBER_STRICT, TLP.RED)
OUTSIDERS = ("bob", "mod", "carol", "admin")  # every role, none of them in Northbank


@dataclass
class World(ConsoleWorld):
    dispatcher: Dispatcher | None = None


@pytest.fixture
def policy() -> Policy:
    return Policy()


@pytest.fixture
async def world(store: Store, policy: Policy, clock) -> World:
    dispatcher = Dispatcher(store.unit_of_work, policy=policy, clock=clock, delivery_platforms=(Platform.CONSOLE,))
    output: list[str] = []
    deliverer = Deliverer(store.unit_of_work, ConsoleSink(output.append), clock=clock)
    await seed(store, dispatcher, samples=False)
    return World(store, ConsoleChannel(dispatcher, output.append, "", deliverer), output, dispatcher)


def dms(out: str) -> dict[str, str]:
    """Direct messages delivered, by recipient (each with the card under it)."""
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\[)", out):
        if m := re.match(r"\[to (\w+)\] ", block):
            found[m.group(1)] = found.get(m.group(1), "") + block
    return found


def except_to(out: str, name: str) -> str:
    """Everything in `out` but the direct messages to `name`."""
    return "\n".join(block for block in re.split(r"\n(?=\[)", out) if not block.startswith(f"[to {name}] "))


def channel_posts(out: str, channel: str) -> list[str]:
    return [block for block in re.split(r"\n(?=\[)", out) if block.startswith(f"[#{channel}]")]


# ---------------------------------------------------------------- /ioc stats counts only what the asker may see

@pytest.mark.parametrize("tlp", RESTRICTED, ids=lambda t: t.value)
async def test_stats_are_byte_identical_whether_or_not_another_org_holds_restricted_items(world, tlp):
    await world.add("anna", "Northbank", Role.MEMBER)
    await world.say("carol", "/ioc submit public[.]example tlp:green")  # something everyone counts
    await world.say("bob", "/ioc vote #1 confirm")
    viewers = ("alice", "anna", *OUTSIDERS)
    before = {who: await world.say(who, "/ioc stats") for who in viewers}
    out = await world.say("alice", f"/ioc submit held[.]example 198.51.100.9 tlp:{tlp.value.lower()}")
    assert "#2 domain held.example" in out and "#3 ipv4 198.51.100.9" in out
    await world.say("alice", "/ioc sighting #2 count:5")
    await world.say("alice", "/ioc vote #2 fp")
    if tlp is TLP.AMBER_STRICT:
        await world.say("anna", "/ioc vote #3 confirm")
    held = await world.indicator(2)
    may_not_see = [who for who in viewers
                   if not can_see(held, visibility(await world.member(who), private=True, ceiling=TLP.CLEAR))]
    assert set(may_not_see) >= {"bob", "carol"}  # the rules decide; at least the other orgs' members
    for who in viewers:
        after = await world.say(who, "/ioc stats")
        if who in may_not_see:
            assert after == before[who], f"{who} learns of {tlp.label} items from /ioc stats"
        else:  # the counts do move for whom may see them: the comparison above can fail
            assert after != before[who], who
    assert "alice" not in may_not_see


# ---------------------------------------------------------------- anonymity in every output to others

async def test_every_output_of_an_anonymous_item_to_outsiders_says_a_coalition_member(world):
    await world.say("admin", "/ioc admin channel set ephemeral:off", where="general")
    # the submission's reply in a channel, and its card in the moderation channel
    out = await world.say("alice", "/ioc submit anon-c2[.]example tlp:green anon", where="general")
    assert "from a coalition member" in out and "Northbank" not in out
    assert channel_posts(out, "moderation") and all("from a coalition member" in p
                                                    for p in channel_posts(out, "moderation"))
    # lookups, searches (by org: too: the same answer as for an organization with no item)
    for who in OUTSIDERS:
        for line in ("/ioc anon-c2.example", "/ioc #1", "/ioc search", "/ioc search anon-c2"):
            out = await world.say(who, line)
            assert "from a coalition member" in out and "Northbank" not in out, (who, line)
        assert (await world.say(who, "/ioc search org:Northbank")  # as for an organization with no item at all
                == await world.say(who, '/ioc search org:"National Cyber Unit"') == "Search results: nothing found.")
    assert "from Northbank" in await world.say("alice", "/ioc search org:Northbank")  # its own org sees it
    # the vote's card update, the approval's feed card
    out = await world.say("mod", "/ioc vote #1 confirm", where="general")
    assert "Northbank" not in out
    out = await world.say("mod", "/ioc approve #1")
    assert channel_posts(out, "feed") and "Northbank" not in except_to(out, "alice")
    assert "from a coalition member" in channel_posts(out, "feed")[0]
    assert "from Northbank" in dms(out)["alice"]  # the submitter's own notice may name her organization
    # a big anonymous submission: the one-line notice to moderation channels
    values = " ".join(f"198.51.100.{i}" for i in range(1, 22))
    out = await world.say("alice", f"/ioc submit {values} tlp:green anon")
    assert channel_posts(out, "moderation") == [
        "[#moderation] 21 new indicators from a coalition member wait for moderation (/ioc queue)."]
    values = " ".join(f"198.51.101.{i}" for i in range(1, 22))  # not anonymous: the organization is named
    out = await world.say("alice", f"/ioc submit {values} tlp:green")
    assert channel_posts(out, "moderation") == [
        "[#moderation] 21 new indicators from Northbank wait for moderation (/ioc queue)."]


async def test_an_anonymous_red_item_is_anonymous_in_the_moderators_direct_messages(world):
    out = await world.say("alice", "/ioc submit 198.51.100.66 tlp:red anon")
    told = dms(out)
    assert set(told) == {"mod", "admin"}  # the moderators who may decide it, nobody else
    for who in told:
        assert "waits for your decision" in told[who] and "from a coalition member" in told[who]
        assert "Northbank" not in told[who]


async def test_a_big_submission_notice_counts_only_what_moderation_channels_may_see(world):
    await world.say("admin", "/ioc admin channel set ceiling:green", where="moderation")
    amber = " ".join(f"198.51.100.{i}" for i in range(1, 22))
    out = await world.say("alice", f"/ioc submit {amber} tlp:amber")
    assert channel_posts(out, "moderation") == []  # AMBER is above the channel's GREEN ceiling
    for tlp in ("amber+strict", "red"):
        values = " ".join(f"203.0.113.{i}" if tlp == "red" else f"198.51.101.{i}" for i in range(1, 22))
        out = await world.say("alice", f"/ioc submit {values} tlp:{tlp}")
        assert channel_posts(out, "moderation") == [], tlp  # never counted in a shared channel
    await world.say("admin", "/ioc admin channel set ceiling:amber", where="moderation")
    amber = " ".join(f"198.51.102.{i}" for i in range(1, 22))
    out = await world.say("alice", f"/ioc submit {amber} tlp:amber")
    assert channel_posts(out, "moderation") == [
        "[#moderation] 21 new indicators from Northbank wait for moderation (/ioc queue)."]


async def test_a_big_restricted_submission_is_one_direct_message_to_each_who_may_decide_it(world):
    await world.add("nina", "Northbank", Role.MODERATOR)
    strict = " ".join(f"198.51.100.{i}" for i in range(1, 22))
    out = await world.say("alice", f"/ioc submit {strict} tlp:amber+strict")
    assert channel_posts(out, "moderation") == []
    assert set(dms(out)) == {"nina"}  # other organizations' moderators hear nothing of it
    assert dms(out)["nina"].startswith("[to nina] 21 TLP:AMBER+STRICT new submissions wait for your decision")
    assert "#1 ipv4 198.51.100.1" in dms(out)["nina"]
    red = " ".join(f"198.51.101.{i}" for i in range(1, 22))
    out = await world.say("alice", f"/ioc submit {red} tlp:red anon")
    assert channel_posts(out, "moderation") == [] and set(dms(out)) == {"nina", "mod", "admin"}
    for who in ("mod", "admin"):
        assert dms(out)[who].startswith(f"[to {who}] 21 TLP:RED new submissions wait for your decision")
        assert "from a coalition member" in dms(out)[who] and "Northbank" not in dms(out)[who]


# ---------------------------------------------------------------- who moderates AMBER+STRICT and RED

async def test_amber_strict_is_moderated_by_its_own_organization_only(world):
    await world.add("nina", "Northbank", Role.MODERATOR)
    out = await world.say("alice", "/ioc submit strict-c2[.]example tlp:amber+strict")
    assert "status pending" in out and "not moderated" not in out
    assert channel_posts(out, "moderation") == []  # never to a shared moderation channel
    assert set(dms(out)) == {"nina"} and "waits for your decision" in dms(out)["nina"]
    unknown = {}
    for who in OUTSIDERS:
        assert await world.say(who, "/ioc search") == "Search results: nothing found."
        if who in ("mod", "admin"):
            assert await world.say(who, "/ioc queue") == "Moderation queue: nothing found."
        for verb in ("approve", "reject", "revoke"):
            answer = await world.say(who, f"/ioc {verb} #1 not ours")
            unknown[who, verb] = answer
            assert answer.replace("#1", "#99") == await world.say(who, f"/ioc {verb} #99 not ours"), (who, verb)
    assert "#1 is not an indicator you can see (" in unknown["admin", "approve"]
    assert "direct messages" not in unknown["admin", "approve"]  # the admin asked in one: no false hint
    assert "Only moderators can approve" in unknown["bob", "approve"]
    assert "#1 domain strict-c2.example" in await world.say("nina", "/ioc queue")
    out = await world.say("nina", "/ioc approve #1")
    assert "Approved: #1" in out and "status approved" in out
    notice = dms(out)["alice"]
    assert "stays within Northbank" in notice and "shared with the coalition" not in notice.replace(
        "not shared with the rest of the coalition", "")
    assert channel_posts(out, "feed") == []


async def test_amber_strict_from_an_organization_without_a_moderator_is_told_at_once_and_not_left_pending(world):
    out = await world.say("alice", "/ioc submit lonely[.]example tlp:amber+strict")
    assert out.startswith("Submitted 1 indicator: 1 stored without moderation, as nobody but you may decide it "
                          "(see the reason):\n#1 domain lonely.example")
    assert "status approved" in out and "not moderated: Northbank has no moderator or admin" in out
    assert "visible to Northbank only" in out
    assert dms(out) == {} and channel_posts(out, "moderation") == []
    for who in ("mod", "admin"):
        assert await world.say(who, "/ioc queue") == "Moderation queue: nothing found."
    ind = await world.indicator(1)
    assert ind.status.value == "approved"
    async with world.store.engine.connect() as conn:
        audit = (await conn.execute(select(AuditRow.action, AuditRow.detail).where(AuditRow.indicator_id == 1)
                                    .order_by(AuditRow.id))).all()
    assert [a for a, _ in audit] == ["submit", "approve"] and audit[1][1]["rule"] == "no_moderator"
    # once the organization has a moderator, its new items wait for them again
    await world.add("nina", "Northbank", Role.MODERATOR)
    assert "status pending" in await world.say("alice", "/ioc submit second[.]example tlp:amber+strict")
    # a moderator alone in the organization cannot approve her own: not left pending either
    out = await world.say("nina", "/ioc submit third[.]example tlp:amber+strict")
    assert "status approved" in out and "not moderated" in out
    async with world.store.engine.connect() as conn:
        statuses = dict((await conn.execute(select(IndicatorRow.value, IndicatorRow.status))).all())
    assert statuses == {"lonely.example": "approved", "second.example": "pending", "third.example": "approved"}


async def test_every_platform_says_what_was_stored_without_moderation(world):
    from adapters.discord.render import to_message
    from adapters.slack.blocks import Renderer
    from bot.domain import Actor

    alice = Actor(Platform.CONSOLE, WORKSPACE, "alice", "direct", private=True)
    answer = await world.dispatcher.handle_text("submit a[.]example b[.]example tlp:amber+strict", alice)
    head = "Submitted 2 indicators: 2 stored without moderation, as nobody but you may decide them (see the reason)"
    slack = Renderer().message(answer.result).blocks[0]["text"]["text"]
    assert slack == f"*{head}*"
    assert to_message(answer.result).content.startswith(head + ".")
    await world.add("nina", "Northbank", Role.MODERATOR)
    answer = await world.dispatcher.handle_text("submit c[.]example tlp:amber+strict", alice)
    assert Renderer().message(answer.result).blocks[0]["text"]["text"] == "*Submitted 1 indicator for moderation*"
    assert to_message(answer.result).content.startswith("Submitted 1 indicator for moderation.")


async def test_when_the_last_decider_steps_down_nothing_stays_pending(world):
    await world.add("nina", "Northbank", Role.MODERATOR)
    await world.say("alice", "/ioc submit strict-c2[.]example tlp:amber+strict")
    await world.say("alice", "/ioc submit 198.51.100.66 tlp:red")
    assert "status pending" in await world.say("alice", "/ioc #1")
    nina = await world.member("nina")
    out = await world.say("admin", f"/ioc admin member role m{nina.id} member")
    # the admin (another organization) learns nothing of Northbank's AMBER+STRICT item
    assert out.splitlines()[0] == f"nina (m{nina.id}, Northbank) is now member."
    assert dms(out)["alice"].startswith("[to alice] Your indicator #1 no longer waits for moderation, as nobody else "
                                        "may decide it: not moderated: Northbank has no moderator or admin")
    assert "status approved" in await world.say("alice", "/ioc #1")
    assert "status pending" in await world.say("alice", "/ioc #2")  # RED: mod and admin may still decide it
    async with world.store.engine.connect() as conn:
        audit = (await conn.execute(select(AuditRow.detail).where(AuditRow.indicator_id == 1,
                                                                  AuditRow.action == "approve"))).all()
    assert [a.detail["rule"] for a in audit] == ["no_moderator"]


@pytest.mark.parametrize("policy", [Policy(default_tlp=TLP.AMBER_STRICT)])
async def test_an_import_says_what_was_stored_without_moderation(world):
    from bot import commands
    from bot.domain import Actor
    from bot.text import render

    alice = Actor(Platform.CONSOLE, WORKSPACE, "alice", "direct", private=True)
    data = b"strict-one.example\nstrict-two.example\n"
    report = render((await world.dispatcher.handle(commands.ImportFile("iocs.txt", data), alice)).result)
    assert ("0 submitted for moderation, 2 stored without moderation as nobody but you may decide them (their "
            "reason says why), 0 already known") in report
    await world.add("nina", "Northbank", Role.MODERATOR)
    data = b"strict-three.example\n"
    report = render((await world.dispatcher.handle(commands.ImportFile("more.txt", data), alice)).result)
    assert "1 submitted for moderation, 0 already known" in report and "without moderation" not in report


async def test_red_is_moderated_by_the_moderators_in_private(world):
    out = await world.say("alice", "/ioc submit 198.51.100.66 tlp:red insider")
    assert "status pending" in out and channel_posts(out, "moderation") == []
    assert set(dms(out)) == {"mod", "admin"}
    for who in ("mod", "admin"):
        assert "#1 ipv4 198.51.100.66" in await world.say(who, "/ioc queue")
    for who in ("bob", "carol"):
        assert "Only moderators can approve" in await world.say(who, "/ioc approve #1")
    out = await world.say("mod", "/ioc approve #1", where="moderation")
    assert out.startswith("(only you see this) Approved: #1")  # a RED item never shows in the channel
    notice = dms(out)["alice"]
    assert "As TLP:RED it stays with you and the coalition's moderators" in notice
    assert channel_posts(out, "feed") == [] and channel_posts(out, "moderation") == []


async def test_red_from_the_only_moderator_is_not_left_pending(world):
    async with world.store.unit_of_work() as uow:  # the coalition's only moderator is mod
        admin = await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, "admin"))
        await uow.members.set_role(admin.id, Role.MEMBER)
        await uow.commit()
    out = await world.say("mod", "/ioc submit 198.51.100.77 tlp:red")
    assert "status approved" in out and "not moderated: the coalition has no moderator or admin" in out
    assert dms(out) == {}
    out = await world.say("alice", "/ioc submit 198.51.100.78 tlp:red")  # mod may decide this one
    assert "status pending" in out and set(dms(out)) == {"mod"}


# ---------------------------------------------------------------- notices say what happened for that TLP

NOTICES = {
    TLP.CLEAR: "Your indicator #1 was approved and shared with the coalition.",
    TLP.GREEN: "Your indicator #1 was approved and shared with the coalition.",
    TLP.AMBER: "Your indicator #1 was approved and shared with the coalition's members (TLP:AMBER",
    TLP.AMBER_STRICT: "Your indicator #1 was approved. As TLP:AMBER+STRICT it stays within Northbank: it is not "
                      "shared with the rest of the coalition.",
    TLP.RED: "Your indicator #1 was approved. As TLP:RED it stays with you and the coalition's moderators, in "
             "private replies: it is not shared with the coalition.",
}


@pytest.mark.parametrize("tlp", list(TLP), ids=lambda t: t.value)
async def test_the_approval_notice_describes_what_happened_for_the_tlp(world, tlp):
    await world.add("nina", "Northbank", Role.MODERATOR)
    await world.say("alice", f"/ioc submit notice-me[.]example tlp:{tlp.value.lower()}")
    out = await world.say("nina", "/ioc approve #1")
    assert "Approved: #1" in out
    notice = dms(out)["alice"]
    assert notice.startswith("[to alice] " + NOTICES[tlp])
    fed = channel_posts(out, "feed")
    assert bool(fed) is tlp.shareable_in_channels  # "shared" is said exactly when it was shared
    out = await world.say("nina", "/ioc revoke #1 sinkholed")
    assert dms(out)["alice"].startswith("[to alice] Your indicator #1 was revoked: sinkholed")


# ---------------------------------------------------------------- auto-approval counts other organizations only

@pytest.mark.parametrize("policy", [Policy(auto_approve_confirmations=2)])
async def test_auto_approval_counts_only_organizations_other_than_the_submitters(world):
    await world.add("anna", "Northbank", Role.MEMBER)
    await world.say("alice", "/ioc submit auto[.]example tlp:green")
    await world.say("alice", "/ioc vote #1 confirm")  # the submitter's own vote
    await world.say("anna", "/ioc vote #1 confirm")  # and her colleague's
    out = await world.say("bob", "/ioc vote #1 confirm")
    assert "status pending" in out and "auto-approved" not in out
    assert "3 confirm (2 orgs)" in out  # the card still counts every organization's votes
    out = await world.say("carol", "/ioc vote #1 confirm")
    assert "auto-approved by the coalition's rule" in out and "status approved" in out
    assert "reason: auto-approved: 2 organizations other than the submitter's confirmed, no false positive" in out
    assert "Your indicator #1 was approved and shared with the coalition." in dms(out)["alice"]
