"""Issue 13's lifecycle, end to end: `/ioc edit`, `/ioc reopen`, and the administration of the day someone leaves
(`admin member remove`, `admin invite list|revoke`, `admin org disable|enable`), through the console adapter ->
grammar -> dispatcher -> services -> delivery, on a real SQLite file and a real PostgreSQL database.

The demo coalition (adapters/console/demo.py): alice (member) is Northbank's; bob (member) and mod (moderator) are
Sentinel Security; carol (member) and admin (admin) are National Cyber Unit. Tests add Northbank's anna (member)
and nina (moderator).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from adapters.console.channel import WORKSPACE, ConsoleChannel
from adapters.console.delivery import ConsoleSink
from adapters.console.demo import seed
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Platform, PostedCard, Role
from bot.policy import Policy
from bot.results import IndicatorCard
from bot.tlp import TLP
from storage.models import AuditRow, IdentityRow, IndicatorRow, InviteRow, OutboxRow, VoteRow
from storage.uow import Store
from tests.e2e.console_world import ConsoleWorld


class RecordingSink(ConsoleSink):
    """The console's sink, keeping the cards it edits (the console prints only their status)."""

    def __init__(self, write) -> None:
        super().__init__(write)
        self.updated: list[tuple[str, IndicatorCard]] = []

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        self.updated.append((posted.channel_id, card))
        await super().update_card(posted, card)


@dataclass
class World(ConsoleWorld):
    sink: RecordingSink | None = None

    def before_saying(self) -> None:
        super().before_saying()
        assert self.sink is not None
        self.sink.updated.clear()

    async def scalar(self, stmt):
        async with self.store.engine.connect() as conn:
            return (await conn.execute(stmt)).scalar_one()

    async def rows(self, stmt):
        async with self.store.engine.connect() as conn:
            return list((await conn.execute(stmt)).all())

    async def counts(self) -> tuple[int, int, int]:
        """Audit rows, outbox rows, indicator modifications: what a refused command must leave unchanged."""
        return (await self.scalar(select(func.count()).select_from(AuditRow)),
                await self.scalar(select(func.count()).select_from(OutboxRow)),
                await self.scalar(select(func.max(IndicatorRow.modified_at))))


@pytest.fixture
async def world(store: Store, clock) -> World:
    dispatcher = Dispatcher(store.unit_of_work, policy=Policy(), clock=clock, delivery_platforms=(Platform.CONSOLE,))
    output: list[str] = []
    sink = RecordingSink(output.append)
    deliverer = Deliverer(store.unit_of_work, sink, clock=clock)
    await seed(store, dispatcher, samples=False)
    built = World(store, ConsoleChannel(dispatcher, output.append, "", deliverer), output, sink)
    await built.add("anna", "Northbank", Role.MEMBER)
    await built.add("nina", "Northbank", Role.MODERATOR)
    return built


def dms(out: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for block in re.split(r"\n(?=\[)", out):
        if m := re.match(r"\[to (\w+)\] ", block):
            found[m.group(1)] = found.get(m.group(1), "") + block
    return found


def reply_of(out: str) -> str:
    """The reply to the speaker: what comes before the first delivery."""
    return re.split(r"\n(?=\[)", out)[0]


# ---------------------------------------------------------------- who may edit what: the permission class

EDITORS = ("alice", "anna", "nina", "bob", "mod", "admin")
OK, FORBIDDEN, HIDDEN = "edited", "forbidden", "hidden"
# (TLP of alice's item) -> editor -> what they get. Northbank: alice (submitter), anna (member), nina (moderator);
# Sentinel: bob (member), mod (moderator); National Cyber Unit: admin.
EDIT_TABLE = {
    TLP.CLEAR: {"alice": OK, "anna": OK, "nina": OK, "bob": FORBIDDEN, "mod": OK, "admin": OK},
    TLP.GREEN: {"alice": OK, "anna": OK, "nina": OK, "bob": FORBIDDEN, "mod": OK, "admin": OK},
    TLP.AMBER: {"alice": OK, "anna": OK, "nina": OK, "bob": FORBIDDEN, "mod": OK, "admin": OK},
    TLP.AMBER_STRICT: {"alice": OK, "anna": OK, "nina": OK, "bob": HIDDEN, "mod": HIDDEN, "admin": HIDDEN},
    TLP.RED: {"alice": OK, "anna": HIDDEN, "nina": OK, "bob": HIDDEN, "mod": OK, "admin": OK},
}


@pytest.mark.parametrize("tlp", list(EDIT_TABLE), ids=lambda t: t.value)
async def test_who_may_edit_and_an_item_one_may_not_see_answers_as_an_unknown_one(world, tlp):
    out = await world.say("alice", f"/ioc submit 198.51.100.40 tlp:{tlp.value.lower()}")
    assert "#1 ipv4 198.51.100.40" in out
    for n, editor in enumerate(EDITORS):
        confidence = 60 + n
        before = await world.counts()
        out = reply_of(await world.say(editor, f"/ioc edit #1 conf:{confidence}"))
        expected = EDIT_TABLE[tlp][editor]
        if expected == OK:
            assert out.startswith("Edited: #1") and f"confidence {confidence}" in out, (editor, out)
            assert (await world.indicator(1)).confidence == confidence
            assert (await world.counts())[:2] == (before[0] + 1, before[1] + 1)  # audited and announced
            continue
        assert (await world.counts()) == before, editor  # nothing stored, audited or announced
        assert (await world.indicator(1)).confidence != confidence
        unknown = reply_of(await world.say(editor, f"/ioc edit #9 conf:{confidence}"))
        if expected == HIDDEN:  # byte for byte the answer about an id nobody holds
            assert out == unknown.replace("#9", "#1"), (editor, out)
        else:
            assert "only the organization that submitted #1 or a moderator may edit it" in out, (editor, out)
            assert "Usage: /ioc edit #ID" in out
    # reopen: moderators who may see it, the others get the same answers as for an unknown item
    await world.say("mod" if tlp.shareable_in_channels or tlp is TLP.RED else "nina", "/ioc reject #1 not so")
    for editor in EDITORS:
        out = reply_of(await world.say(editor, "/ioc reopen #1 looked again"))
        unknown = reply_of(await world.say(editor, "/ioc reopen #9 looked again"))
        sees = EDIT_TABLE[tlp][editor] != HIDDEN
        if editor in ("alice", "anna", "bob"):
            assert out == unknown and out.startswith("Sorry: Only moderators can reopen indicators"), out
        elif not sees:
            assert out == unknown.replace("#9", "#1"), (editor, out)
        else:
            assert out.startswith("Reopened: #1") and "status pending" in out, (editor, out)
            await world.say(editor, "/ioc reject #1 not so, again")  # reject it for the next one
            assert (await world.indicator(1)).status.value == "rejected"


# ---------------------------------------------------------------- what an edit does

async def test_an_edit_changes_what_it_names_audits_it_updates_every_copy_and_tells_watchers(world, clock):
    await world.say("bob", "/ioc watch add northbank.example")
    await world.say("alice", "/ioc submit login.northbank.example tlp:green tags:phishing,kit conf:40")
    await world.say("mod", "/ioc approve #1")
    clock.advance(timedelta(hours=2))  # alerts about one item are coalesced within the hour
    out = await world.say("alice", "/ioc edit #1 conf:85 tags:+brand,-kit valid:30d tlp:amber lookalike login page")
    reply = reply_of(out)
    assert reply.startswith("Edited: #1") and "confidence 85" in reply and "TLP:AMBER" in reply
    ind = await world.indicator(1)
    assert (ind.confidence, ind.tags, ind.tlp, ind.note) == (85, ("brand", "phishing"), TLP.AMBER,
                                                            "lookalike login page")
    assert ind.valid_until is not None and (ind.valid_until - ind.modified_at).days == 30
    # every posted copy (the moderation and feed channels') was edited with the new card
    edited = {channel: card for channel, card in world.sink.updated}
    assert set(edited) == {"moderation", "feed"}
    assert all(c.indicator.tlp is TLP.AMBER and c.indicator.tags == ("brand", "phishing") for c in edited.values())
    assert "was edited" in dms(out)["bob"]  # the watcher is told
    audit = (await world.rows(select(AuditRow.action, AuditRow.detail).order_by(AuditRow.id.desc())))[0]
    assert audit.action == "edit"
    assert audit.detail["confidence"] == [40, 85] and audit.detail["tlp"] == ["GREEN", "AMBER"]
    assert audit.detail["tags"] == [["kit", "phishing"], ["brand", "phishing"]]
    events = await world.rows(select(OutboxRow.event).order_by(OutboxRow.id.desc()))
    assert events[0].event == "indicator.edited"
    # tags:a,b replaces them
    await world.say("alice", "/ioc edit #1 tags:campaign-7")
    assert (await world.indicator(1)).tags == ("campaign-7",)


async def test_a_tlp_raised_above_a_channel_is_no_longer_shown_there(world):
    await world.say("admin", "/ioc admin channel set purpose:feed", where="general")  # a second feed, at GREEN
    await world.say("alice", "/ioc submit 198.51.100.41 tlp:green")
    out = await world.say("mod", "/ioc approve #1")
    assert "[#general] Approved for the coalition" in out and "[#feed] Approved for the coalition" in out
    await world.say("bob", "/ioc vote #1 confirm")
    assert {c for c, _ in world.sink.updated} == {"moderation", "feed", "general"}
    await world.say("alice", "/ioc edit #1 tlp:amber")  # #general's ceiling is GREEN: its copy stays as it was
    assert {c for c, _ in world.sink.updated} == {"moderation", "feed"}
    await world.say("alice", "/ioc edit #1 tlp:amber+strict")  # never in a shared channel
    assert world.sink.updated == []
    await world.say("nina", "/ioc vote #1 confirm")
    assert world.sink.updated == []


async def test_tlp_rules_and_a_clash_in_the_new_scope(world):
    await world.say("alice", "/ioc submit 198.51.100.42 tlp:amber")
    out = reply_of(await world.say("alice", "/ioc edit #1 tlp:green"))
    assert "may only make #1 more restrictive than TLP:AMBER" in out and "Usage: /ioc edit" in out
    assert (await world.indicator(1)).tlp is TLP.AMBER
    out = reply_of(await world.say("anna", "/ioc edit #1 tlp:red"))
    assert "you could no longer see it" in out
    assert reply_of(await world.say("mod", "/ioc edit #1 tlp:clear")).startswith("Edited: #1")
    assert (await world.indicator(1)).tlp is TLP.CLEAR
    # one value, two scopes: Northbank's AMBER+STRICT item and a shared one of National Cyber Unit
    await world.say("alice", "/ioc submit 198.51.100.43 tlp:amber+strict")
    await world.say("carol", "/ioc submit 198.51.100.43 tlp:green")
    assert (await world.indicator(3)).org_name == "National Cyber Unit"
    before = await world.counts()
    out = reply_of(await world.say("nina", "/ioc edit #2 tlp:green"))
    assert "198.51.100.43 is held already as #3 (TLP:GREEN)" in out and "Edit #3 instead" in out
    assert await world.counts() == before and (await world.indicator(2)).tlp is TLP.AMBER_STRICT
    out = reply_of(await world.say("nina", "/ioc edit #2 tlp:amber conf:90"))  # nothing partial either
    assert "held already as #3" in out and (await world.indicator(2)).confidence != 90


@pytest.mark.parametrize(("line", "problem"), [
    ("/ioc edit", "say which indicator"),
    ("/ioc edit #1", "say what to change"),
    ("/ioc edit #1 tags:+a,b", "tags: either changes the tags"),
    ("/ioc edit #1 tags:+a,-a", "both added and removed"),
    ("/ioc edit #1 conf:200", "conf: takes a whole number from 0 to 100"),
    ("/ioc edit #1 tlp:purple", "purple"),
    ("/ioc edit #1 valid:soon", "'soon' is not a duration"),
    ("/ioc edit #1 conf:50", "nothing to change: #1 is so already"),
    ("/ioc reopen #1", "reopening needs a reason"),
])
async def test_edit_errors_say_what_was_wrong_and_show_the_form(world, line, problem):
    await world.say("alice", "/ioc submit 198.51.100.44 tlp:green conf:50")
    before = await world.counts()
    out = reply_of(await world.say("alice", line))
    verb = line.split()[1]
    assert out.startswith("Sorry: ") and problem in out, out
    assert f"Usage: /ioc {verb} #ID" in out, out
    assert await world.counts() == before


# ---------------------------------------------------------------- reopen

async def test_reopen_puts_a_decided_item_back_to_pending_for_the_moderators_and_tells_the_submitter(world):
    await world.say("alice", "/ioc submit bad-login[.]example tlp:green")
    out = await world.say("mod", "/ioc reopen #1 second look")
    assert "#1 is pending; only rejected or revoked indicators are reopened" in out
    await world.say("mod", "/ioc reject #1 looks benign")
    out = await world.say("mod", "/ioc reopen #1 the domain now serves a kit")
    assert reply_of(out).startswith("Reopened: #1") and "status pending" in out
    ind = await world.indicator(1)
    assert ind.status.value == "pending" and ind.status_reason == "the domain now serves a kit"
    assert "[#moderation] New submission waiting for moderation:" in out  # as a new submission would be
    assert "reopened and waits for moderation again: the domain now serves a kit" in dms(out)["alice"]
    audit = (await world.rows(select(AuditRow.action, AuditRow.detail).order_by(AuditRow.id.desc())))[0]
    assert audit.action == "reopen" and audit.detail == {"reason": "the domain now serves a kit",
                                                         "previous": "rejected"}
    # revoked ones too, and the approve button works again
    assert reply_of(await world.say("nina", "/ioc approve #1")).startswith("Approved: #1")
    await world.say("mod", "/ioc revoke #1 taken down")
    assert reply_of(await world.say("admin", "/ioc reopen #1 back up")).startswith("Reopened: #1")


async def test_reopening_a_restricted_item_tells_those_who_may_decide_it(world):
    await world.say("alice", "/ioc submit 198.51.100.45 tlp:amber+strict")
    await world.say("nina", "/ioc reject #1 no")
    out = await world.say("nina", "/ioc reopen #1 yes after all")
    assert "[#moderation]" not in out  # never in a shared channel
    assert "waits for moderation again" in dms(out)["alice"]


# ---------------------------------------------------------------- administration

async def test_a_removed_member_can_no_longer_act_and_what_they_did_stays(world):
    await world.say("alice", "/ioc submit 198.51.100.46 tlp:green")
    await world.say("bob", "/ioc vote #1 confirm")
    await world.say("bob", "/ioc submit 198.51.100.47 tlp:green")
    out = await world.say("admin", "/ioc admin member list Sentinel Security")
    bob = re.search(r"m(\d+)\b[^\n]*bob|bob[^\n]*\bm(\d+)", out)
    assert bob is not None
    bob_id = next(g for g in bob.groups() if g)
    out = await world.say("admin", f"/ioc admin member remove m{bob_id}")
    assert "bob" in out and "is removed: 1 identity unlinked" in out and "votes and submissions stay" in out
    assert "not a member of the coalition yet" in await world.say("bob", "/ioc lookup #1")
    assert await world.scalar(select(func.count()).select_from(IdentityRow).where(
        IdentityRow.user_id == "bob")) == 0
    assert await world.scalar(select(func.count()).select_from(VoteRow)) == 1  # kept
    assert "1 confirm (1 org)" in await world.say("alice", "/ioc lookup #1")
    assert "#2 ipv4 198.51.100.47" in await world.say("alice", "/ioc lookup #2")
    assert "bob" not in await world.say("admin", "/ioc admin member list Sentinel Security")
    audit = (await world.rows(select(AuditRow.action, AuditRow.detail).order_by(AuditRow.id.desc())))[0]
    assert audit.action == "member.remove" and audit.detail["name"] == "bob"
    assert audit.detail["identities"] == [f"console:{WORKSPACE}:bob"]
    again = await world.say("admin", f"/ioc admin member remove m{bob_id}")
    assert f"m{bob_id} is not a member" in again
    assert "Only admins can remove members" in await world.say("mod", "/ioc admin member remove m1")


async def test_an_admin_cannot_remove_themselves_nor_the_last_admin(world):
    out = await world.say("admin", "/ioc admin member remove <@admin>")
    assert "you cannot remove yourself" in out and "Usage: /ioc admin member remove m7|@user" in out
    await world.say("admin", "/ioc admin member role <@carol> admin")
    assert "is removed" in await world.say("carol", "/ioc admin member remove <@admin>")
    assert "you cannot remove yourself" in await world.say("carol", "/ioc admin member remove <@carol>")


async def test_invites_are_listed_without_their_code_and_can_be_revoked(world):
    out = await world.say("admin", "/ioc admin invite create Northbank role:moderator uses:3 expires:2d")
    code = out.split("/ioc join ")[1].strip()
    out = await world.say("admin", "/ioc admin invite list")
    assert "i1 · Northbank · moderator · 3 of 3 uses left · expires 2026-11-03 09:00 UTC · by admin" in out
    assert code not in out
    assert await world.scalar(select(func.count()).select_from(InviteRow).where(InviteRow.code_sha256 == code)) == 0
    out = await world.say("admin", "/ioc admin invite revoke i1")
    assert "Invite i1 (Northbank, moderator) is revoked" in out
    assert "i1 · Northbank · moderator · revoked" in await world.say("admin", "/ioc admin invite list")
    assert "unknown, used up or expired" in await world.say("dave", f"/ioc join {code}")
    assert "i1 is not an invite code that can be revoked" in await world.say("admin", "/ioc admin invite revoke 1")
    # by the code itself, too
    out = await world.say("admin", "/ioc admin invite create Northbank")
    other = out.split("/ioc join ")[1].strip()
    assert "Invite i2 (Northbank, member) is revoked" in await world.say("admin", f"/ioc admin invite revoke {other}")
    actions = [r.action for r in await world.rows(select(AuditRow.action).order_by(AuditRow.id))]
    assert actions.count("invite.revoke") == 2


async def test_an_invite_that_expires_at_once_is_an_error(world):
    out = await world.say("admin", "/ioc admin invite create Northbank expires:0d")
    assert "expires: at least 1m" in out and "Usage: /ioc admin invite create ORG" in out
    assert await world.scalar(select(func.count()).select_from(InviteRow)) == 0


async def test_a_disabled_organization_can_no_longer_act_and_its_items_stay(world):
    await world.say("bob", "/ioc submit 198.51.100.48 tlp:green")
    out = await world.say("admin", "/ioc admin org disable Sentinel Security")
    assert "Sentinel Security is disabled" in out
    for speaker, line in (("bob", "/ioc lookup #1"), ("mod", "/ioc queue"), ("bob", "/ioc submit 192.0.2.9"),
                          ("mod", "/ioc approve #1"), ("bob", "/ioc whoami"), ("mod", "/ioc edit #1 conf:1")):
        said = reply_of(await world.say(speaker, line))
        assert "your organization Sentinel Security is disabled" in said, (speaker, line, said)
    assert "#1 ipv4 198.51.100.48" in await world.say("alice", "/ioc lookup #1")  # visible per its TLP
    out = await world.say("admin", "/ioc admin invite create Sentinel Security")
    code = out.split("/ioc join ")[1].strip()
    assert "unknown, used up or expired" in await world.say("dave", f"/ioc join {code}")
    assert "is disabled already" in await world.say("admin", "/ioc admin org disable Sentinel Security")
    assert "you cannot disable your own organization" in await world.say(
        "admin", "/ioc admin org disable National Cyber Unit")
    assert "Sentinel Security is enabled again" in await world.say("admin", "/ioc admin org enable Sentinel Security")
    assert "#1 ipv4 198.51.100.48" in await world.say("bob", "/ioc lookup #1")
    actions = [r.action for r in await world.rows(select(AuditRow.action).order_by(AuditRow.id))]
    assert actions[-2:] == ["org.disable", "org.enable"] or "org.enable" in actions


async def test_help_admin_lists_every_form(world):
    out = await world.say("alice", "/ioc help admin")
    for form in ("member remove m7|@user", "invite list", "invite revoke ID", "org disable NAME", "org enable NAME",
                 "apikey create ORG", "apikey list", "apikey revoke ID"):
        assert form in out, form
    out = await world.say("alice", "/ioc help edit")
    assert "/ioc edit #ID [conf:N] [tags:+a,-b] [valid:30d] [tlp:amber] [note...]" in out


async def test_a_pending_item_made_restricted_that_nobody_else_may_decide_is_not_left_pending(world):
    await world.say("bob", "/ioc submit 198.51.100.50 tlp:green")
    await world.say("bob", "/ioc edit #1 tlp:amber+strict")  # Sentinel's moderator may decide it
    assert (await world.indicator(1)).status.value == "pending"
    await world.say("mod", "/ioc submit 198.51.100.51 tlp:green")
    out = await world.say("mod", "/ioc edit #2 tlp:amber+strict")  # nobody in Sentinel but mod may
    ind = await world.indicator(2)
    assert ind.status.value == "approved" and ind.status_reason.startswith("not moderated")
    assert "status approved" in reply_of(out) and "no longer waits for moderation" in dms(out)["mod"]


async def test_a_disabled_organization_moderator_decides_nothing_and_its_watchers_are_told_nothing(world, clock):
    await world.say("bob", "/ioc watch add 198.51.100.0/24")
    await world.say("nina", "/ioc submit 198.51.100.52 tlp:red")  # mod and admin may decide it
    await world.say("admin", "/ioc admin org disable Sentinel Security")
    clock.advance(timedelta(hours=2))
    out = await world.say("alice", "/ioc submit 198.51.100.53 tlp:green")
    assert "[to bob]" not in out  # a watcher of a disabled organization is told nothing
    assert (await world.indicator(1)).status.value == "pending"  # admin may still decide it
    await world.say("admin", "/ioc admin org enable Sentinel Security")
    clock.advance(timedelta(hours=2))
    out = await world.say("alice", "/ioc submit 198.51.100.54 tlp:green")
    assert "198.51.100.54" in dms(out)["bob"]


ADMIN_FORMS = ("member remove <@bob>", "invite list", "invite revoke 1", "org disable Northbank",
               "org enable Northbank")


@pytest.mark.parametrize("form", ADMIN_FORMS)
async def test_only_admins_administer_and_a_refusal_stores_nothing(world, form):
    await world.say("admin", "/ioc admin invite create Northbank")
    for who in ("alice", "nina", "mod"):  # a member and moderators, of either organization
        before = await world.counts()
        out = reply_of(await world.say(who, f"/ioc admin {form}"))
        assert out.startswith("Sorry: Only admins can "), (who, out)
        assert await world.counts() == before
    assert not reply_of(await world.say("admin", f"/ioc admin {form}")).startswith("Sorry: Only admins")
