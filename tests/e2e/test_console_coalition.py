"""The coalition's rules, end to end: console adapter -> one grammar -> dispatcher -> services -> SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.policy import Policy, WarninglistAction
from storage.models import AuditRow, IndicatorRow, OutboxRow, VoteRow


async def count(coalition, stmt) -> int:
    async with coalition.store.engine.connect() as conn:
        return (await conn.execute(stmt)).scalar_one()


async def rows(coalition, stmt) -> list:
    async with coalition.store.engine.connect() as conn:
        return list((await conn.execute(stmt)).all())


async def test_the_issue_walkthrough(coalition):
    out = await coalition.say("alice", "/ioc submit hxxp://evil-updates[.]example/payload.bin 203.0.113[.]7 "
                                       "tlp:green tags:emotet")
    assert "#1 url http://evil-updates.example/payload.bin" in out
    assert "#2 ipv4 203.0.113.7" in out
    assert "status pending · TLP:GREEN" in out
    out = await coalition.say("bob", "/ioc vote #1 confirm")
    assert "Vote on #1 recorded" in out and "1 confirm (1 org)" in out
    out = await coalition.say("mod", "/ioc approve #1")
    assert "Approved: #1" in out and "status approved" in out
    out = await coalition.say("mod", "/ioc lookup 203.0.113.7")
    assert "#2 ipv4 203.0.113.7" in out and "status pending · TLP:GREEN" in out and "0 confirm" in out
    assert "warninglist" in out  # 203.0.113.0/24 is a documentation range


async def test_writes_are_audited_and_announced_in_the_same_transaction(coalition):
    await coalition.say("alice", "/ioc submit 198.51.100.77 tlp:green")
    await coalition.say("bob", "/ioc vote #1 fp shared hosting")
    await coalition.say("mod", "/ioc reject #1 shared hosting, not malicious")
    actions = [r.action for r in await rows(coalition, select(AuditRow).order_by(AuditRow.id))]
    assert actions[-3:] == ["submit", "vote", "reject"]
    events = [r.event for r in await rows(coalition, select(OutboxRow).order_by(OutboxRow.id))]
    assert events == ["indicator.submitted", "indicator.voted", "indicator.rejected"]


async def test_nothing_partial_is_stored_on_bad_input(coalition):
    out = await coalition.say("alice", "/ioc submit 198.51.100.1 evil[.]example 10.0.0.300 tlp:green")
    assert "Sorry:" in out and "10.0.0.300" in out and "Usage: /ioc submit" in out
    assert await count(coalition, select(func.count()).select_from(IndicatorRow)) == 0
    assert await count(coalition, select(func.count()).select_from(OutboxRow)) == 0


async def test_non_members_are_told_how_to_join(coalition):
    out = await coalition.say("mallory", "/ioc lookup 198.51.100.1")
    assert "not a member" in out and "/ioc join CODE" in out


async def test_invite_codes_work_once(coalition):
    out = await coalition.say("admin", "/ioc admin invite create Northbank role:moderator")
    code = out.split("/ioc join ")[1].strip()
    out = await coalition.say("dave", f"/ioc join {code}")
    assert "you are now a moderator of Northbank" in out
    assert "moderator of Northbank" in await coalition.say("dave", "/ioc whoami")
    out = await coalition.say("erin", f"/ioc join {code}")
    assert "unknown, used up or expired" in out
    assert "already a member" in await coalition.say("dave", "/ioc join whatever")


async def test_invites_expire(coalition):
    out = await coalition.say("admin", "/ioc admin invite create Northbank expires:1h")
    code = out.split("/ioc join ")[1].strip()
    coalition.clock.advance(timedelta(hours=2))
    assert "unknown, used up or expired" in await coalition.say("dave", f"/ioc join {code}")


PRIVATE = "(only you see this) "


async def test_red_is_for_the_submitter_and_moderators_in_private_only(coalition):
    await coalition.say("admin", "/ioc admin channel set ephemeral:off", where="feed")
    await coalition.say("alice", "/ioc submit 198.51.100.66 tlp:red insider")
    assert "#1 ipv4 198.51.100.66" in await coalition.say("alice", "/ioc #1")
    assert "#1 ipv4" in await coalition.say("mod", "/ioc lookup 198.51.100.66")
    for speaker in ("bob", "carol"):
        out = await coalition.say(speaker, "/ioc lookup 198.51.100.66")
        assert "Not known to the coalition" in out and "TLP:RED" not in out, speaker
    # in a shared channel whose lookups are private, the answer goes to the asker alone
    out = await coalition.say("mod", "/ioc lookup 198.51.100.66", where="general")
    assert out.startswith(PRIVATE + "#1 ipv4 198.51.100.66") and "TLP:RED" in out
    # where lookups are public, the channel gets what it may see, exactly the answer for a value nobody has,
    # so the channel cannot tell from the answer (or from its privacy) that a restricted item exists
    out = await coalition.say("alice", "/ioc lookup 198.51.100.66", where="feed")
    assert not out.startswith(PRIVATE) and "not visible to you here" in out and "TLP:RED" not in out
    assert out.replace("198.51.100.66", "198.51.100.99") == await coalition.say(
        "alice", "/ioc lookup 198.51.100.99", where="feed")
    # the same answer as for a value nobody has, so a restricted item does not leak
    restricted = await coalition.say("bob", "/ioc vote #1 confirm")
    assert "#1 is not an indicator you can see (" in restricted and "direct messages" not in restricted
    assert restricted.replace("#1", "#99") == await coalition.say("bob", "/ioc vote #99 confirm")


async def test_amber_strict_stays_in_the_organization(coalition):
    await coalition.say("alice", "/ioc submit strict-c2[.]example tlp:amber+strict")
    out = await coalition.say("admin", "/ioc admin member list Northbank")
    assert "alice" in out
    await coalition.say("admin", "/ioc admin org add Other Bank")  # unrelated org to make the list longer
    code = (await coalition.say("admin", "/ioc admin invite create Northbank")).split("/ioc join ")[1].strip()
    await coalition.say("anna", f"/ioc join {code}")
    assert "#1 domain strict-c2.example" in await coalition.say("anna", "/ioc search")
    assert "nothing found" in await coalition.say("bob", "/ioc search")
    assert "nothing found" in await coalition.say("mod", "/ioc queue")  # another organization's moderator
    out = await coalition.say("anna", "/ioc strict-c2.example", where="feed")
    assert out.startswith(PRIVATE + "#1 domain strict-c2.example")


async def test_channel_ceilings(coalition):
    for channel in ("general", "feed", "random"):
        await coalition.say("admin", "/ioc admin channel set ephemeral:off", where=channel)
    await coalition.say("alice", "/ioc submit amber-c2[.]example tlp:amber")
    # #general's ceiling is GREEN and its lookups are public: it gets what it may see, not the AMBER item (the
    # asker sees it in a direct message or where lookups are private)
    out = await coalition.say("bob", "/ioc amber-c2.example", where="general")
    assert not out.startswith(PRIVATE) and "not visible to you here" in out and "#1" not in out
    assert (await coalition.say("bob", "/ioc amber-c2.example")).startswith("#1 domain")
    # #feed's ceiling is AMBER: the channel sees it
    assert (await coalition.say("bob", "/ioc amber-c2.example", where="feed")).startswith("#1 domain")
    # a channel registered without a ceiling got the policy's default (GREEN); an admin raises it
    assert (await coalition.say("bob", "/ioc amber-c2.example", where="random")).startswith("Not known")
    assert "ceiling TLP:AMBER" in await coalition.say("admin", "/ioc admin channel set ceiling:amber", where="random")
    assert (await coalition.say("bob", "/ioc amber-c2.example", where="random")).startswith("#1 domain")


async def test_lookups_in_channels_are_private_unless_the_channel_says_otherwise(coalition):
    await coalition.say("alice", "/ioc submit green-c2[.]example tlp:green")
    assert (await coalition.say("bob", "/ioc green-c2.example", where="general")).startswith(PRIVATE)
    await coalition.say("admin", "/ioc admin channel set ephemeral:off", where="general")
    assert (await coalition.say("bob", "/ioc green-c2.example", where="general")).startswith("#1 domain")
    # errors and administration always go to the asker alone
    assert (await coalition.say("bob", "/ioc vote #1 maybe", where="general")).startswith(PRIVATE + "Sorry")
    out = await coalition.say("admin", "/ioc admin invite create Northbank", where="general")
    assert out.startswith(PRIVATE + "Invite code")


async def test_submissions_in_a_channel_respect_its_ceiling_and_anonymity(coalition):
    out = await coalition.say("alice", "/ioc submit shared[.]example tlp:green anon", where="general")
    assert out.startswith("Submitted 1 indicator") and "from a coalition member" in out  # the channel sees it
    assert "Northbank" not in out
    out = await coalition.say("alice", "/ioc submit amber-only[.]example tlp:amber", where="general")
    assert out.startswith(PRIVATE + "Submitted 1 indicator")


async def test_anonymity_survives_lookup_and_search_by_organization(coalition):
    await coalition.say("alice", "/ioc submit anon-c2[.]example tlp:green anon")
    out = await coalition.say("bob", "/ioc anon-c2.example")
    assert "from a coalition member" in out and "Northbank" not in out
    assert "nothing found" in await coalition.say("bob", "/ioc search org:Northbank")
    assert "from Northbank" in await coalition.say("alice", "/ioc search org:Northbank")


async def test_only_moderators_moderate_and_never_their_own(coalition):
    await coalition.say("mod", "/ioc submit mod-own[.]example tlp:green")
    await coalition.say("alice", "/ioc submit other[.]example tlp:green")
    out = await coalition.say("bob", "/ioc approve #2")
    assert "Only moderators can approve indicators; you are a member" in out
    out = await coalition.say("mod", "/ioc approve #1 #2")
    assert "Approved: #2" in out and "#1: you submitted it" in out
    assert "#2 is approved, not pending" in await coalition.say("admin", "/ioc approve #2")
    assert "Revoked: #2" in await coalition.say("admin", "/ioc revoke #2 sinkholed by registrar")
    assert "reason: sinkholed by registrar" in await coalition.say("alice", "/ioc #2")


async def test_votes_change_and_are_withdrawn(coalition):
    await coalition.say("alice", "/ioc submit vote-me[.]example tlp:green")
    await coalition.say("bob", "/ioc vote #1 confirm")
    out = await coalition.say("bob", "/ioc vote #1 fp it is a CDN")
    assert "(was confirm)" in out and "0 confirm (0 orgs), 1 false positive (1 org)" in out
    await coalition.say("carol", "/ioc vote #1 confirm")
    assert "1 confirm (1 org), 1 false positive (1 org)" in await coalition.say("alice", "/ioc #1")
    out = await coalition.say("bob", "/ioc vote #1 withdraw")
    assert "0 false positive" in out
    assert "no vote on #1 to withdraw" in await coalition.say("bob", "/ioc vote #1 withdraw")
    assert await count(coalition, select(func.count()).select_from(VoteRow)) == 1
    await coalition.say("mod", "/ioc reject #1 CDN")
    assert "votes are for pending or approved" in await coalition.say("carol", "/ioc vote #1 fp")


@pytest.fixture
def policy():
    return Policy(auto_approve_confirmations=2)


async def test_auto_approve_after_confirmations_from_distinct_organizations(coalition):
    await coalition.say("alice", "/ioc submit auto[.]example 198.51.100.200 tlp:green")
    await coalition.say("bob", "/ioc vote #1 confirm")
    await coalition.say("mod", "/ioc vote #1 confirm")  # same organization as bob: still one organization
    assert "status pending" in await coalition.say("alice", "/ioc #1")
    out = await coalition.say("carol", "/ioc vote #1 confirm")
    assert "auto-approved" in out and "status approved" in out
    await coalition.say("bob", "/ioc vote #2 confirm")
    await coalition.say("alice", "/ioc vote #2 fp")
    assert "status pending" in await coalition.say("carol", "/ioc vote #2 confirm")


class TestWarninglistBlock:
    @pytest.fixture
    def policy(self):
        return Policy(warninglist_action=WarninglistAction.BLOCK)

    async def test_known_benign_values_are_refused_unless_overridden_with_a_reason(self, coalition):
        out = await coalition.say("alice", "/ioc submit 8.8.8.8 bad-c2[.]example tlp:green")
        assert "nothing was submitted" in out and "8.8.8.8" in out and "override" in out
        assert await count(coalition, select(func.count()).select_from(IndicatorRow)) == 0
        out = await coalition.say("alice", "/ioc submit 8.8.8.8 override")
        assert "needs a reason" in out
        out = await coalition.say("alice", "/ioc submit 8.8.8.8 override tlp:green abused as exfil endpoint")
        assert "#1 ipv4 8.8.8.8" in out and "warning: on warninglist" in out
        audit = await rows(coalition, select(AuditRow.detail).where(AuditRow.action == "submit"))
        assert audit[0].detail["override"] is True and audit[0].detail["warninglists"]


async def test_resubmission_is_a_sighting_not_a_duplicate(coalition):
    await coalition.say("alice", "/ioc submit dup[.]example tlp:green")
    out = await coalition.say("bob", "/ioc submit hxxp://x[.]example/a dup[.]example tlp:green")
    assert "Already known" in out and "#1 domain dup.example" in out and "sightings 1 (1 org)" in out
    await coalition.say("alice", "/ioc submit secret[.]example tlp:red")
    out = await coalition.say("bob", "/ioc submit secret[.]example")
    # alice's RED item is no oracle: bob's value becomes his own item, as an unknown value would
    assert out.startswith("Submitted 1 indicator for moderation:\n#4 domain secret.example") and "#3" not in out
    assert await count(coalition, select(func.count()).select_from(IndicatorRow)) == 4


async def test_expiry(coalition):
    await coalition.say("alice", "/ioc submit short-lived[.]example tlp:green valid:1h")
    coalition.clock.advance(timedelta(hours=2))
    assert "status expired" in await coalition.say("bob", "/ioc #1")
    assert "votes are for pending or approved" in await coalition.say("bob", "/ioc vote #1 confirm")


async def test_search_filters_and_paging(coalition):
    values = " ".join(f"198.51.100.{i}" for i in range(1, 13))
    await coalition.say("alice", f"/ioc submit {values} evil[.]example tlp:green tags:scan")
    out = await coalition.say("bob", "/ioc search type:ipv4 tag:scan")
    assert out.startswith("Search results: 1-10 of 12") and "More: add page:2" in out
    out = await coalition.say("bob", "/ioc search type:ipv4 tag:scan page:2")
    assert out.startswith("Search results: 11-12 of 12")
    assert "Search results: 1-1 of 1" in await coalition.say("bob", "/ioc search type:domain since:1d")
    assert "nothing found" in await coalition.say("bob", "/ioc search status:approved")
    out = await coalition.say("mod", "/ioc queue")
    assert out.startswith("Moderation queue: 1-10 of 13") and "#1 ipv4 198.51.100.1" in out.splitlines()[1]


async def test_many_values_in_one_lookup(coalition):
    values = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(1000)]
    await coalition.say("alice", "/ioc submit " + " ".join(values[:500]) + " tlp:green")
    out = await coalition.say("bob", "/ioc lookup " + " ".join(values))
    assert out.count(" ipv4 198.51.") == 500 and "Not known to the coalition" in out
    out = await coalition.say("bob", "/ioc lookup " + " ".join([*values, "198.51.99.1"]))
    assert "look up at most 1000" in out


async def test_admin_commands_are_for_admins(coalition):
    assert "Only admins can add organizations" in await coalition.say("mod", "/ioc admin org add Evil Corp")
    assert "Organization CERT-Lux added" in await coalition.say("admin", "/ioc admin org add CERT-Lux sector:cert")
    assert "exists already" in await coalition.say("admin", "/ioc admin org add cert-lux")
    assert "CERT-Lux" in await coalition.say("admin", "/ioc admin org list")
    members = await coalition.say("admin", "/ioc admin member list Northbank")
    alice_id = members.split()[0]
    assert "is now moderator" in await coalition.say("admin", f"/ioc admin member role {alice_id} moderator")
    assert "moderator of Northbank" in await coalition.say("alice", "/ioc whoami")
    out = await coalition.say("admin", "/ioc admin member role m5 member")
    assert "cannot lower your own role" in out


async def test_user_text_cannot_drive_the_terminal(coalition):
    out = await coalition.say("alice", "/ioc submit ansi[.]example tlp:green \x1b[2J\x1b[31mwiped\x07")
    assert "\x1b" not in out and "\x07" not in out and "control character" in out  # refused, shown escaped
    assert "Not known to the coalition" in await coalition.say("alice", "/ioc ansi.example")  # nothing stored


async def test_help_and_stats(coalition):
    out = await coalition.say("bob", "/ioc help")
    assert all(f"/ioc {verb}" in out for verb in ("submit", "lookup", "vote", "queue", "admin"))
    assert "Confirm an indicator" in await coalition.say("bob", "/ioc help vote")
    await coalition.say("alice", "/ioc submit stats[.]example tlp:green")
    out = await coalition.say("bob", "/ioc stats")
    assert "pending 1" in out and "domain 1" in out and "3 organizations, 5 members" in out


def test_the_issue_script_through_the_installed_command(tmp_path: Path):
    script = ("/as alice\n/ioc submit hxxp://evil-updates[.]example/payload.bin 203.0.113[.]7 tlp:green tags:emotet\n"
              "/as bob\n/ioc vote #1 confirm\n/as mod\n/ioc approve #1\n/ioc lookup 203.0.113.7\n")
    exe = Path(sys.executable).with_name("coalition-bot")
    env = {**os.environ, "COALITION_CONFIG": ""}
    done = subprocess.run([str(exe), "console", "--demo"], input=script, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env, check=True)
    out = done.stdout
    assert "#1 url http://evil-updates.example/payload.bin" in out and "#2 ipv4 203.0.113.7" in out
    assert "Vote on #1 recorded" in out and "Approved: #1" in out
    lookup = out.split("mod> /ioc lookup 203.0.113.7\n")[1]
    assert lookup.startswith("#2 ipv4 203.0.113.7") and "status pending · TLP:GREEN" in lookup
    assert not (tmp_path / "coalition.db").exists()  # the demo is throwaway


async def test_passive_mode_answers_for_the_channel_and_stores_nothing(coalition):
    from bot import commands
    from bot.domain import Actor, Platform

    await coalition.say("alice", "/ioc submit green-known[.]example tlp:green")
    await coalition.say("alice", "/ioc submit amber-known[.]example tlp:amber")
    stranger = Actor(Platform.CONSOLE, "local", "stranger", "general")
    message = commands.Passive("seen green-known[.]example, amber-known[.]example and fresh[.]example today")
    assert (await coalition.dispatcher.handle(message, stranger)).result.items == ()  # passive is off
    await coalition.say("admin", "/ioc admin channel set passive:on", where="general")
    answer = await coalition.dispatcher.handle(message, stranger)
    assert not answer.private
    shown = {obs.value: card for obs, card in answer.result.items}
    assert shown["green-known.example"].indicator.id == 1
    assert shown["amber-known.example"] is None  # above #general's GREEN ceiling: same as unknown
    assert shown["fresh.example"] is None
    assert await count(coalition, select(func.count()).select_from(IndicatorRow)) == 2


async def test_home_shows_own_submissions_and_the_queue_to_moderators(coalition):
    from bot import commands
    from bot.domain import Actor, Platform

    await coalition.say("alice", "/ioc submit mine[.]example tlp:green")
    await coalition.say("bob", "/ioc submit bobs[.]example tlp:green")
    alice = (await coalition.dispatcher.handle(commands.Home(), Actor(Platform.CONSOLE, "local", "alice", "x",
                                                                       private=True))).result
    assert [c.indicator.value for c in alice.recent.cards] == ["mine.example"] and alice.queue is None
    mod = (await coalition.dispatcher.handle(commands.Home(), Actor(Platform.CONSOLE, "local", "mod", "x",
                                                                     private=True))).result
    assert mod.recent.total == 0 and mod.queue.total == 2


async def test_removing_a_reaction_withdraws_only_that_verdict(coalition):
    from bot import commands
    from bot.commands import IdRef
    from bot.domain import Actor, Platform, Verdict

    await coalition.say("alice", "/ioc submit reacted[.]example tlp:green")
    bob = Actor(Platform.CONSOLE, "local", "bob", "direct", private=True)
    await coalition.say("bob", "/ioc vote #1 fp")  # bob reacted ✅ earlier, then ❌: his vote is now fp
    stale = await coalition.dispatcher.handle(commands.Vote(IdRef(1), None, withdraw_only=Verdict.CONFIRM), bob)
    assert "no confirm vote on #1 to withdraw" in stale.result.problem
    assert "1 false positive" in await coalition.say("bob", "/ioc #1")
    await coalition.dispatcher.handle(commands.Vote(IdRef(1), None, withdraw_only=Verdict.FALSE_POSITIVE), bob)
    assert "0 false positive" in await coalition.say("bob", "/ioc #1")
