"""People on several platforms (issue 11): `/ioc link` joins a person's Slack and Discord identities to one member,
proven by a one-time code, and decisions and notices then reach them on every platform where they are.

Through the real dispatcher on both backends (`store`), with a recording sink per platform for the deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.console.demo import WORKSPACE, seed
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, PostedCard
from bot.results import Done, IndicatorCard, Notice, UserError
from bot.text import render
from bot.tlp import TLP
from storage.models import AuditRow, IdentityRow, LinkCodeRow
from tests.adapters.slack.fake_slack import all_text
from tests.e2e.test_one_coalition import D_MOD, _discord_command, coalition  # noqa: F401 - coalition: a fixture
from tests.e2e.test_one_coalition import GUILD as D_GUILD

GUILD = "G1"  # the Discord guild people speak in; Discord identities are global (adapters.discord.handler)
DISCORD_USERS = "discord"


@dataclass
class Recording:
    """One platform as the deliverer sees it: what it was asked to post and to tell whom."""

    platform: Platform
    dms: list[tuple[str, str, str]] = field(default_factory=list)  # (user id, key, message)
    posts: dict[str, str] = field(default_factory=dict)  # key -> channel id

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        self.posts[key] = channel.channel_id
        return f"m{len(self.posts)}"

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        pass

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        assert identity.platform is self.platform
        self.dms.append((identity.user_id, key, notice.message))

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        self.posts[key] = channel.channel_id
        return f"t{len(self.posts)}"

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        return {}


@dataclass
class World:
    store: object
    dispatcher: Dispatcher
    clock: object
    sinks: dict[Platform, Recording]
    deliverers: dict[Platform, Deliverer]

    async def say(self, platform: Platform, user: str, text: str, *, private: bool = True):
        if platform is Platform.DISCORD:
            actor = Actor(platform, GUILD, user, "D-" + user if private else "C-general", private=private,
                          display_name=user, identity_workspace_id=DISCORD_USERS)
        else:
            actor = Actor(platform, "T1", user, "D-" + user if private else "C-general", private=private,
                          display_name=user)
        return await self.dispatcher.handle_text(text, actor)

    async def text(self, platform: Platform, user: str, text: str) -> str:
        return render((await self.say(platform, user, text)).result)

    async def deliver(self) -> None:
        for deliverer in self.deliverers.values():
            await deliverer.drain()

    async def count(self, stmt) -> int:
        async with self.store.engine.connect() as conn:  # type: ignore[attr-defined]
            return (await conn.execute(stmt)).scalar_one()

    async def audit(self) -> list[tuple[str, dict | None]]:
        async with self.store.engine.connect() as conn:  # type: ignore[attr-defined]
            return [(r.action, r.detail or None) for r in await conn.execute(select(AuditRow).order_by(AuditRow.id))]


@pytest.fixture
async def world(store, clock) -> World:
    platforms = (Platform.SLACK, Platform.DISCORD)
    dispatcher = Dispatcher(store.unit_of_work, clock=clock, delivery_platforms=platforms)
    await seed(store, dispatcher, samples=False)
    async with store.unit_of_work() as uow:
        # alice is on Slack only; the moderator on Discord only
        alice = await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, "alice"))
        await uow.members.link_identity(alice.id, Identity(Platform.SLACK, "T1", "U-alice"))
        mod = await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, "mod"))
        await uow.members.link_identity(mod.id, Identity(Platform.DISCORD, DISCORD_USERS, "D-mod"))
        bob = await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, "bob"))
        await uow.members.link_identity(bob.id, Identity(Platform.DISCORD, DISCORD_USERS, "D-bob"))
        await uow.channels.upsert(Channel(Platform.SLACK, "T1", "C-feed", TLP.AMBER, ChannelPurpose.FEED))
        await uow.channels.upsert(Channel(Platform.DISCORD, GUILD, "C-feed", TLP.AMBER, ChannelPurpose.FEED))
        await uow.commit()
    sinks = {p: Recording(p) for p in platforms}
    deliverers = {p: Deliverer(store.unit_of_work, sinks[p], clock=clock, max_attempts=2) for p in platforms}
    return World(store, dispatcher, clock, sinks, deliverers)


def code_in(answer: str) -> str:
    return answer.split("Your one-time link code: ")[1].split()[0]


SAME_ANSWER = "that link code is unknown, used or expired"


async def test_a_member_links_their_discord_identity_with_a_one_time_code(world):
    got = await world.say(Platform.SLACK, "U-alice", "link", private=False)  # asked in a channel...
    assert got.private is True and isinstance(got.result, Done)  # ...answered to alice alone
    code = code_in(render(got.result))
    assert len(code) == 12
    async with world.store.engine.connect() as conn:  # only its SHA-256 is kept
        stored = (await conn.execute(select(LinkCodeRow.code_sha256))).scalars().all()
    assert len(stored) == 1 and code not in stored[0] and len(stored[0]) == 64

    linked = await world.say(Platform.DISCORD, "D-alice", f"link {code.lower()}")  # typed by hand: any case
    assert linked.private is True
    assert "Linked: this discord identity is now alice" in render(linked.result)
    assert "member of Northbank. Decisions and notices reach you on discord, slack." in render(linked.result)
    whoami = await world.text(Platform.DISCORD, "D-alice", "whoami")
    assert "You are alice" in whoami and "slack:U-alice" in whoami and "discord:D-alice" in whoami
    assert "discord:D-alice" in await world.text(Platform.SLACK, "U-alice", "whoami")
    assert await world.count(select(func.count()).select_from(LinkCodeRow)) == 0  # used: gone
    audit = [(action, detail) for action, detail in await world.audit() if action.startswith("link")]
    assert audit == [("link.start", None),
                     ("link", {"platform": "discord", "workspace": DISCORD_USERS, "user": "D-alice"})]


async def test_a_code_works_once_and_wrong_or_expired_codes_get_the_same_answer(world):
    code = code_in(await world.text(Platform.SLACK, "U-alice", "link start"))
    assert "Linked" in await world.text(Platform.DISCORD, "D-alice", f"link {code}")
    identities = await world.count(select(func.count()).select_from(IdentityRow))

    reused = await world.say(Platform.DISCORD, "D-mallory", f"link {code}")
    unknown = await world.say(Platform.DISCORD, "D-mallory", "link ABCDEFGHJKLM")
    code = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    world.clock.advance(timedelta(minutes=10, seconds=1))
    expired = await world.say(Platform.DISCORD, "D-mallory", f"link {code}")
    answers = {render(r.result) for r in (reused, unknown, expired)}
    assert len(answers) == 1 and SAME_ANSWER in answers.pop()  # no oracle: which of the three is not told
    assert all(isinstance(r.result, UserError) and r.private for r in (reused, unknown, expired))
    assert await world.count(select(func.count()).select_from(IdentityRow)) == identities  # nothing stored
    assert "not a member" in await world.text(Platform.DISCORD, "D-mallory", "whoami")


async def test_two_identities_racing_with_one_code_link_one(world):
    code = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    answers = await asyncio.gather(*(world.text(Platform.DISCORD, user, f"link {code}")
                                     for user in ("D-alice", "D-mallory")))
    assert sum("Linked" in a for a in answers) == 1, answers
    assert sum(SAME_ANSWER in a or "at the same moment" in a for a in answers) == 1, answers
    linked = await world.text(Platform.SLACK, "U-alice", "whoami")
    assert ("discord:D-alice" in linked) != ("discord:D-mallory" in linked)


async def test_a_code_lasts_ten_minutes_and_a_new_one_replaces_the_old(world):
    first = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    second = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    assert first != second
    assert SAME_ANSWER in await world.text(Platform.DISCORD, "D-alice", f"link {first}")
    world.clock.advance(timedelta(minutes=9, seconds=59))
    assert "Linked" in await world.text(Platform.DISCORD, "D-alice", f"link {second}")


async def test_codes_are_per_member(world):
    alices = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    bobs = code_in(await world.text(Platform.DISCORD, "D-bob", "link"))  # bob's does not replace alice's
    assert "now alice" in await world.text(Platform.DISCORD, "D-alice", f"link {alices}")
    assert "now bob" in await world.text(Platform.SLACK, "U-bob", f"link {bobs}")


async def test_an_identity_that_is_a_member_already_is_told_what_to_do_and_the_code_stays_usable(world):
    code = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    answer = await world.text(Platform.DISCORD, "D-bob", f"link {code}")  # bob is a member: not taken over
    assert "is a member already (bob" in answer and "Run it from your other identity" in answer
    assert "Usage: /ioc link" in answer
    answer = await world.text(Platform.SLACK, "U-alice", f"link {code}")  # alice's own identity
    assert "is a member already (alice" in answer
    assert "discord:D-bob" in await world.text(Platform.DISCORD, "D-bob", "whoami")
    assert "Linked" in await world.text(Platform.DISCORD, "D-alice", f"link {code}")  # not used up by those


async def test_link_errors_say_how_to_do_it_right(world):
    answer = await world.text(Platform.DISCORD, "D-newcomer", "link")  # not a member: no code to give
    assert "not a member yet" in answer and "/ioc link CODE" in answer and "/ioc join CODE" in answer
    assert await world.count(select(func.count()).select_from(LinkCodeRow)) == 0
    answer = await world.text(Platform.SLACK, "U-alice", "link ONE TWO")
    assert "give one link code" in answer and "Usage: /ioc link" in answer
    assert "/ioc link [start]" in await world.text(Platform.SLACK, "U-alice", "help link")


async def test_a_decision_reaches_the_submitter_on_every_platform_they_are_on(world):
    code = code_in(await world.text(Platform.SLACK, "U-alice", "link"))
    assert "Linked" in await world.text(Platform.DISCORD, "D-alice", f"link {code}")
    await world.say(Platform.SLACK, "U-alice", "submit two-platforms[.]example tlp:green")
    await world.deliver()
    assert "Approved: #1" in await world.text(Platform.DISCORD, "D-mod", "approve #1")  # decided on Discord
    await world.deliver()
    slack, discord = world.sinks[Platform.SLACK], world.sinks[Platform.DISCORD]
    told_on_slack = [(user, msg) for user, _, msg in slack.dms]
    told_on_discord = [(user, msg) for user, _, msg in discord.dms]
    approved = "Your indicator #1 was approved and shared with the coalition."
    assert told_on_slack == [("U-alice", approved)]  # once per platform, on both
    assert told_on_discord == [("D-alice", approved)]
    assert {key for _, key, _ in slack.dms}.isdisjoint(key for _, key, _ in discord.dms)  # each row its own key
    await world.deliver()  # nothing is told twice
    assert len(slack.dms) == 1 and len(discord.dms) == 1


async def test_a_slack_only_submitter_is_told_of_a_discord_moderators_decision(world):
    await world.say(Platform.SLACK, "U-alice", "submit slack-only[.]example tlp:green")
    await world.text(Platform.DISCORD, "D-mod", "reject #1 not malicious")
    await world.deliver()
    assert [(u, m) for u, _, m in world.sinks[Platform.SLACK].dms] == [
        ("U-alice", "Your indicator #1 was rejected: not malicious")]
    assert world.sinks[Platform.DISCORD].dms == []  # she is not on Discord


async def test_restricted_submissions_reach_their_deciders_on_each_of_their_platforms(world):
    code = code_in(await world.text(Platform.DISCORD, "D-mod", "link"))
    assert "Linked" in await world.text(Platform.SLACK, "U-mod", f"link {code}")
    await world.say(Platform.SLACK, "U-alice", "submit red-only[.]example tlp:red")
    await world.deliver()
    for platform, user in ((Platform.SLACK, "U-mod"), (Platform.DISCORD, "D-mod")):
        told = [(u, m) for u, _, m in world.sinks[platform].dms if u == user]
        assert len(told) == 1 and "New TLP:RED submission #1 waits for your decision" in told[0][1], platform


# ---------------------------------------------------------------- the whole process, both fakes

async def _discord_answer(discord, payload: dict) -> dict:
    """The private answer to a slash command: the callback, or the edit of a deferred one."""
    mark = len(discord.calls)
    await discord.dispatch("INTERACTION_CREATE", payload)
    call = await discord.wait_for_call("POST", rf"/interactions/{payload['id']}/[^/]+/callback", after=mark,
                                       timeout=10)
    if call.json["type"] == 5:
        call = await discord.wait_for_call("PATCH", rf"/webhooks/\d+/{payload['token']}/messages/@original",
                                           after=mark, timeout=10)
        return call.json
    return call.json["data"]


async def test_linked_on_slack_and_discord_in_one_process_told_on_both(coalition):  # noqa: F811 - the fixture
    slack, discord = coalition
    carol_on_discord = discord.user(820000000000000009, "carol")  # carol is on Slack only, so far
    mark = slack.mock.mark()
    status, body, _ = await slack.command("carol", "link", channel="CGENERAL")
    assert status == 200
    replied = await slack.mock.wait_for("response_url", since=mark, timeout=10)  # the answer comes after the ack
    answers = [body, *(all_text(c.body) for c in replied)]
    shown = [a for a in answers if "Your one-time link code: " in a]
    assert shown, (body, [c.body for c in slack.mock.calls[mark:]])
    code = code_in(shown[0])
    assert not [c for c in slack.mock.calls[mark:] if c.method == "chat.postMessage"]  # shown to carol alone
    linked = await _discord_answer(discord, discord.slash("ioc", "link", {"code": code}, user=carol_on_discord,
                                                         guild_id=D_GUILD, channel_id=D_MOD))
    assert linked["flags"] & 64  # ephemeral
    assert "Linked: this discord identity is now carol" in linked["content"].replace("\\", "")

    await slack.command("carol", "submit both-places[.]example tlp:green")
    await discord.wait_for_call("POST", rf"/channels/{D_MOD}/messages", timeout=15)
    await _discord_command(discord, "mod", "approve", {"indicators": "#1"})  # decided on Discord
    told = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "DCAROL"
                                     and "was approved" in all_text(c.body), timeout=15)
    assert "Your indicator #1 was approved" in all_text(told[0].body)  # the Slack fake got the DM
    await discord.wait_for_call("POST", r"/users/@me/channels", timeout=15,
                                predicate=lambda c: int(c.json["recipient_id"]) == 820000000000000009)
    channel_id = discord.dm_channels[820000000000000009]
    sent = await discord.wait_for_call("POST", rf"/channels/{channel_id}/messages", timeout=15)
    assert sent.json["content"].replace("\\", "") == "Your indicator #1 was approved and shared with the coalition."
    await asyncio.sleep(1.0)  # let every delivery of the approval finish: told once on each platform
    assert len([c for c in slack.mock.posts("DCAROL") if "was approved" in all_text(c.body)]) == 1
    assert len(discord.calls_to("POST", rf"/channels/{channel_id}/messages")) == 1
