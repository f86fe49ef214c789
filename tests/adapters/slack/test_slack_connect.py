"""Slack Connect: a channel shared between two member organizations' workspaces is one coalition channel.

Through the real edges: signed HTTP requests into the Slack app (slash commands naming either workspace, events
from either), the fake Slack's shared channel (`conversations.info` says `is_ext_shared`, both teams' tokens act in
it), the outbox delivered by the service's own Deliverer and SlackSink, on SQLite and PostgreSQL. The coalition's
workspace is T0COAL (slack_world); the partner's is T0PARTNER, where Partner Bank's pat (a moderator) and pam (an
admin) work. CSHARED is shared between the two.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from adapters.console.demo import seed
from bot.dispatcher import Dispatcher
from bot.domain import Channel, Identity, Platform, Role
from bot.tlp import TLP
from storage.models import AuditRow, IndicatorRow, VoteRow
from storage.uow import Store
from tests.adapters.slack.fake_slack import MockSlack, all_text
from tests.adapters.slack.slack_world import TEAM, SlackWorld, start_slack

PARTNER = "T0PARTNER"
SHARED = "CSHARED"
_keys = itertools.count(1)


@pytest.fixture
async def connect(store: Store, mock_slack: MockSlack) -> AsyncIterator[SlackWorld]:
    """The coalition's Slack (single token, both databases) with Partner Bank's people in T0PARTNER."""
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK,))
    await seed(store, dispatcher, samples=False)
    async with store.unit_of_work() as uow:
        partner = await uow.organizations.add("Partner Bank", "finance", 50)
        for name, user, role in (("pat", "UPAT", Role.MODERATOR), ("pam", "UPAM", Role.ADMIN)):
            member = await uow.members.add(partner.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.SLACK, PARTNER, user))
        await uow.commit()
    mock_slack.share_channel(SHARED, TEAM, PARTNER)
    world = await start_slack(store, dispatcher, mock_slack)
    try:
        yield world
    finally:
        await world.close()


async def command(slack: SlackWorld, user: str, text: str, *, channel: str = SHARED, team: str = TEAM) -> str:
    """A slash command as Slack sends it from `team` (the invoking person's workspace); the text of its answer."""
    key = f"connect-{next(_keys)}"
    fields = slack.command_fields(user, text, channel, key)
    fields["team_id"] = team
    status, _, _ = await slack.form(fields)
    assert status == 200
    (reply,) = await slack.mock.wait_for("response_url", where=lambda c: c["url_key"] == key)
    return all_text(reply.body)


async def event(slack: SlackWorld, event: dict[str, Any], *, team: str, **wrapper: Any) -> None:
    """An Events API callback delivered from `team`'s side of the channel."""
    body = {"token": "legacy", "team_id": team, "api_app_id": "A0COAL", "type": "event_callback", "event": event,
            "event_id": f"EvC{next(_keys):08d}", "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": slack.mock.bot_user_id, "is_bot": True}], **wrapper}
    status, _, _ = await slack.post(json.dumps(body), "application/json")
    assert status == 200
    await slack.settle()


async def registrations(store: Store, channel_id: str) -> list[Channel]:
    async with store.unit_of_work(read_only=True) as uow:
        return [c for c in await uow.channels.list() if c.platform is Platform.SLACK and c.channel_id == channel_id]


async def approved(slack: SlackWorld, value: str, tlp: str) -> int:
    """`value` submitted by alice at `tlp` and approved by mod (in their DMs); its indicator id."""
    assert "Submitted" in await command(slack, "alice", f"submit {value} tlp:{tlp}", channel="DALICE")
    async with slack.store.unit_of_work(read_only=True) as uow:
        indicator_id = (await uow.session.execute(select(IndicatorRow.id).where(IndicatorRow.value == value))
                        ).scalar_one()
    assert "approved" in (await command(slack, "mod", f"approve #{indicator_id}", channel="DMOD")).lower()
    await slack.settle()
    return int(indicator_id)


def cards_of(mock: MockSlack, channel: str, indicator_id: int) -> list[Any]:
    return [c for c in mock.posts(channel)
            if ((c.get("metadata") or {}).get("event_payload") or {}).get("indicator_id") == indicator_id]


async def test_a_command_from_the_partner_workspace_finds_the_registration_made_in_the_other(
        connect: SlackWorld) -> None:
    reply = await command(connect, "admin", "admin channel set purpose:feed ceiling:green")
    assert "Channel updated: ceiling TLP:GREEN, purpose feed" in reply  # explicit while shared: kept
    assert "(Slack Connect): yes" in reply
    # the partner's admin changes it from their side: the same registration, still kept under T0COAL
    reply = await command(connect, "UPAM", "admin channel set passive:on", team=PARTNER)
    assert "Channel updated: ceiling TLP:GREEN, purpose feed, passive on" in reply
    (channel,) = await registrations(connect.store, SHARED)
    assert (channel.workspace_id, channel.ceiling, channel.passive, channel.shared_externally) == \
        (TEAM, TLP.GREEN, True, True)
    # and a partner's member sees it as registered
    assert "This channel: ceiling TLP:GREEN, purpose feed, passive on" in \
        await command(connect, "UPAT", "admin channel show", team=PARTNER)


async def test_an_external_user_acts_as_themselves_with_their_own_role(connect: SlackWorld) -> None:
    reply = await command(connect, "UPAT", "whoami", team=PARTNER)
    assert "pat" in reply and "moderator" in reply and "Partner Bank" in reply
    # the same user id named by the coalition's workspace is nobody there: identities are keyed by their own team
    assert "not a member" in await command(connect, "UPAT", "whoami", team=TEAM)
    # pat moderates from the shared channel with their own role
    assert "Submitted" in await command(connect, "alice", "submit 203.0.113[.]50 tlp:green", channel="DALICE")
    assert "approved" in (await command(connect, "UPAT", "approve #1", team=PARTNER)).lower()
    # no admin registered the channel, but Slack says it is shared: CLEAR, so the GREEN card was pat's alone
    assert connect.mock.posts(SHARED) == []
    async with connect.store.unit_of_work(read_only=True) as uow:
        status = (await uow.session.execute(select(IndicatorRow.status).where(IndicatorRow.id == 1))).scalar_one()
    assert status == "approved"
    # an event delivered by the coalition's side names pat's own team (`user_team`): pat's vote, not a stranger's
    connect.mock.messages.setdefault(SHARED, []).append({
        "type": "message", "ts": "1700000000.000100", "user": connect.mock.bot_user_id, "bot_id": connect.mock.bot_id,
        "text": "#1", "blocks": [], "metadata": {"event_type": "coalition_indicator_card",
                                                 "event_payload": {"indicator_id": 1}}})
    await event(connect, {"type": "reaction_added", "user": "UPAT", "user_team": PARTNER,
                          "reaction": "white_check_mark", "item_user": connect.mock.bot_user_id,
                          "item": {"type": "message", "channel": SHARED, "ts": "1700000000.000100"},
                          "event_ts": str(time.time())}, team=TEAM, is_ext_shared_channel=True)
    async with connect.store.unit_of_work(read_only=True) as uow:
        pat = (await uow.members.by_name("pat"))[0]
        voters = (await uow.session.execute(select(VoteRow.member_id, VoteRow.verdict)
                                            .where(VoteRow.indicator_id == 1))).all()
        assert [tuple(v) for v in voters] == [(pat.id, "confirm")]
    # a button on the card: Slack names the workspace of the app's message (`team`) and pat's own (`user.team_id`)
    status, _, _ = await connect.interaction({
        "type": "block_actions", "team": {"id": TEAM, "domain": "coalition"},
        "user": {"id": "UPAT", "username": "pat", "name": "pat", "team_id": PARTNER}, "api_app_id": "A0COAL",
        "trigger_id": "trigger-pat", "response_url": connect.mock.response_url("pat-button"),
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": SHARED,
                      "is_ephemeral": False},
        "channel": {"id": SHARED, "name": "shared"}, "message": {"ts": "1700000000.000100", "type": "message"},
        "actions": [{"type": "button", "action_id": "ioc:vote:1:false_positive", "block_id": "b",
                     "value": "ioc:vote:1:false_positive", "action_ts": str(time.time())}]})
    assert status == 200
    await connect.settle()
    async with connect.store.unit_of_work(read_only=True) as uow:
        voters = (await uow.session.execute(select(VoteRow.member_id, VoteRow.verdict)
                                            .where(VoteRow.indicator_id == 1))).all()
        assert [tuple(v) for v in voters] == [(pat.id, "false_positive")]  # pat's vote, changed by pat


async def test_channel_set_in_a_shared_channel_gives_clear_unless_a_ceiling_is_given(connect: SlackWorld) -> None:
    reply = await command(connect, "admin", "admin channel set purpose:feed")
    assert "Channel updated: ceiling TLP:CLEAR, purpose feed" in reply
    assert "public to them" in reply and "/ioc admin channel set ceiling:green" in reply
    (channel,) = await registrations(connect.store, SHARED)
    assert (channel.ceiling, channel.shared_externally) == (TLP.CLEAR, True)
    # an explicit ceiling while it is shared is kept, and later changes without one keep it
    assert "ceiling TLP:GREEN" in await command(connect, "admin", "admin channel set ceiling:green")
    reply = await command(connect, "admin", "admin channel set passive:off")
    assert "ceiling TLP:GREEN" in reply and "public to them" not in reply
    (channel,) = await registrations(connect.store, SHARED)
    assert channel.ceiling is TLP.GREEN
    # a channel that is not shared gets the usual default, and says so
    reply = await command(connect, "admin", "admin channel set purpose:general", channel="CINSIDE")
    assert "ceiling TLP:GREEN" in reply and "(Slack Connect): no" in reply and "public to them" not in reply


async def test_channel_show_says_whether_the_channel_is_shared(connect: SlackWorld) -> None:
    assert "shared with other organizations' workspaces (Slack Connect): no" in \
        await command(connect, "alice", "admin channel show", channel="CGENERAL")
    reply = await command(connect, "alice", "admin channel show")
    assert "shared with other organizations' workspaces (Slack Connect): yes" in reply
    assert "ceiling TLP:CLEAR" in reply  # not registered, shared: public to the partner
    assert connect.mock.of("conversations.info")


async def test_the_channel_shared_event_lowers_the_ceiling_and_amber_stays_out(connect: SlackWorld) -> None:
    mock = connect.mock
    mock.share_channel("CFEED", TEAM, PARTNER)  # the AMBER feed channel is now shared with the partner
    await event(connect, {"type": "channel_shared", "channel": "CFEED", "connected_team_id": PARTNER,
                          "event_ts": str(time.time())}, team=PARTNER)  # delivered by the partner's side
    (channel,) = await registrations(connect.store, "CFEED")
    assert (channel.workspace_id, channel.ceiling, channel.shared_externally) == (TEAM, TLP.CLEAR, True)
    (line,) = mock.posts("CFEED")
    assert "lowered from TLP:AMBER to TLP:CLEAR" in line["text"] and "ceiling:amber" in line["text"]
    async with connect.store.unit_of_work(read_only=True) as uow:
        audit = (await uow.session.execute(select(AuditRow.action, AuditRow.member_id, AuditRow.detail)
                                           .where(AuditRow.action == "channel.shared"))).all()
    assert [(a, m, d["channel"], d["lowered_from"], d["ceiling"]) for a, m, d in audit] == \
        [("channel.shared", None, "CFEED", "AMBER", "CLEAR")]
    # the same news from the other side changes nothing more and says nothing more
    await event(connect, {"type": "channel_shared", "channel": "CFEED", "connected_team_id": PARTNER,
                          "event_ts": str(time.time())}, team=TEAM)
    assert len(mock.posts("CFEED")) == 1
    # an AMBER item approved now is not delivered there, but is to a feed that is not shared; a CLEAR one is, once
    assert "ceiling TLP:AMBER" in await command(connect, "admin", "admin channel set purpose:feed ceiling:amber",
                                                channel="CFEEDINSIDE")
    amber = await approved(connect, "198.51.100.23", "amber")
    clear = await approved(connect, "198.51.100.24", "clear")
    assert cards_of(mock, "CFEED", amber) == [] and len(cards_of(mock, "CFEED", clear)) == 1
    assert len(cards_of(mock, "CFEEDINSIDE", amber)) == 1
    # unshared: recorded with an audit line; the ceiling is not raised by itself
    mock.unshare_channel("CFEED")
    await event(connect, {"type": "channel_unshared", "channel": "CFEED", "previously_connected_team_id": PARTNER,
                          "is_ext_shared": False, "event_ts": str(time.time())}, team=TEAM)
    (channel,) = await registrations(connect.store, "CFEED")
    assert (channel.ceiling, channel.shared_externally) == (TLP.CLEAR, False)
    assert len(mock.posts("CFEED")) == 2 + 0  # the lowering line and the CLEAR card, nothing for the unsharing


async def test_a_connect_channel_registered_from_both_sides_receives_one_card(connect: SlackWorld) -> None:
    assert "ceiling TLP:GREEN, purpose feed" in \
        await command(connect, "admin", "admin channel set purpose:feed ceiling:green")
    assert "ceiling TLP:GREEN, purpose feed" in \
        await command(connect, "UPAM", "admin channel set purpose:feed ceiling:green", team=PARTNER)
    assert len(await registrations(connect.store, SHARED)) == 1
    indicator_id = await approved(connect, "203.0.113.77", "green")
    assert len(cards_of(connect.mock, SHARED, indicator_id)) == 1
    assert len(cards_of(connect.mock, "CFEED", indicator_id)) == 1  # the coalition's own feed too
    assert connect.mock.cross_team == []


async def test_a_channel_first_registered_from_the_partner_side_is_kept_where_the_token_delivers(
        connect: SlackWorld) -> None:
    """The process's token is T0COAL's: a registration made by the partner's admin is kept under T0COAL, so the
    card gets there (under T0PARTNER no process could deliver it)."""
    assert "ceiling TLP:CLEAR, purpose feed" in await command(connect, "UPAM", "admin channel set purpose:feed",
                                                              team=PARTNER)
    (channel,) = await registrations(connect.store, SHARED)
    assert (channel.workspace_id, channel.ceiling, channel.shared_externally) == (TEAM, TLP.CLEAR, True)
    indicator_id = await approved(connect, "192.0.2.81", "clear")
    assert len(cards_of(connect.mock, SHARED, indicator_id)) == 1


async def test_a_missed_channel_shared_event_is_caught_up_by_what_slack_says_next(connect: SlackWorld) -> None:
    """CGENERAL (GREEN) and CPASSIVE (GREEN) were shared while the bot missed the event: `channel show` (through
    conversations.info) and an event's is_ext_shared_channel record it as the event would have."""
    mock = connect.mock
    mock.share_channel("CGENERAL", TEAM, PARTNER)
    reply = await command(connect, "alice", "admin channel show", channel="CGENERAL")
    assert "This channel: ceiling TLP:CLEAR" in reply and "(Slack Connect): yes" in reply
    (line,) = mock.posts("CGENERAL")
    assert "lowered from TLP:GREEN to TLP:CLEAR" in line["text"]
    (channel,) = await registrations(connect.store, "CGENERAL")
    assert (channel.ceiling, channel.shared_externally) == (TLP.CLEAR, True)

    await event(connect, {"type": "message", "channel": "CPASSIVE", "channel_type": "channel", "user": "UPAT",
                          "user_team": PARTNER, "text": "nothing to see", "ts": "1700000002.1"},
                team=TEAM, is_ext_shared_channel=True)
    (channel,) = await registrations(connect.store, "CPASSIVE")
    assert (channel.ceiling, channel.shared_externally) == (TLP.CLEAR, True)
    assert "lowered from TLP:GREEN to TLP:CLEAR" in mock.posts("CPASSIVE")[-1]["text"]
    async with connect.store.unit_of_work(read_only=True) as uow:
        audit = (await uow.session.execute(select(AuditRow.detail).where(AuditRow.action == "channel.shared"))
                 ).scalars().all()
    assert sorted(d["channel"] for d in audit) == ["CGENERAL", "CPASSIVE"]


async def test_oauth_two_workspaces_a_connect_channel_registered_from_both_receives_one_card(store: Store) -> None:
    """OAuth distribution, both workspaces installed through the install page; their tokens act only in their own
    team and in the channel they share. Registered from both sides, the channel is one registration, kept under
    the workspace that registered it first, and gets one card, posted with that workspace's token."""
    from cryptography.fernet import Fernet

    from adapters.runtime import Runtime
    from adapters.slack.service import SlackService
    from tests.adapters.slack.slack_world import install_through_oauth, oauth_settings

    a, b = "T0AAA", "T0BBB"
    mock = await MockSlack(token="xoxb-no-such-single-token").start()
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(Platform.SLACK,))
    await seed(store, dispatcher, samples=False)
    async with store.unit_of_work() as uow:
        for name in ("alice", "mod", "admin"):
            member = (await uow.members.by_name(name))[0]
            await uow.members.link_identity(member.id, Identity(Platform.SLACK, a, f"U{name.upper()}"))
        partner = await uow.organizations.add("Partner Bank", "finance", 50)
        pam = await uow.members.add(partner.id, "pam", Role.ADMIN)
        await uow.members.link_identity(pam.id, Identity(Platform.SLACK, b, "UPAM"))
        await uow.commit()
    codes = [mock.add_workspace(a, channels=["DALICE", "DMOD", "DADMIN"], users=["UALICE", "UMOD", "UADMIN"]),
             mock.add_workspace(b, channels=["DPAM"], users=["UPAM"])]
    mock.share_channel(SHARED, a, b)
    service = SlackService(Runtime(oauth_settings(mock, Fernet.generate_key().decode()), store, dispatcher))
    await service.start()
    world = SlackWorld(mock, service, store, aiohttp.ClientSession())
    try:
        for code in codes:
            assert (await install_through_oauth(world.http, world.url.removesuffix("/slack/events"), mock,
                                                code))[0] == 200
        assert "ceiling TLP:GREEN, purpose feed" in \
            await command(world, "UADMIN", "admin channel set purpose:feed ceiling:green", team=a)
        assert "ceiling TLP:GREEN, purpose feed" in \
            await command(world, "UPAM", "admin channel set purpose:feed ceiling:green", team=b)
        (channel,) = await registrations(store, SHARED)
        assert (channel.workspace_id, channel.shared_externally) == (a, True)
        assert "Submitted" in await command(world, "UALICE", "submit 192.0.2.90 tlp:green", channel="DALICE", team=a)
        assert "approved" in (await command(world, "UMOD", "approve #1", channel="DMOD", team=a)).lower()
        await world.settle()
        (card,) = cards_of(mock, SHARED, 1)
        assert card.token in mock.tokens_of(a)
        assert mock.cross_team == []
    finally:
        await world.close()
        await mock.stop()


async def test_a_channel_registered_twice_before_it_was_one_channel_is_lowered_everywhere_and_said_once(
        connect: SlackWorld) -> None:
    """Registrations made from both sides before this version: channel_shared lowers both; one line is posted."""
    async with connect.store.unit_of_work() as uow:
        await uow.channels.upsert(Channel(Platform.SLACK, PARTNER, "CFEED", TLP.GREEN))
        await uow.commit()
    await event(connect, {"type": "channel_shared", "channel": "CFEED", "connected_team_id": PARTNER,
                          "event_ts": str(time.time())}, team=TEAM)
    assert {(c.workspace_id, c.ceiling, c.shared_externally) for c in await registrations(connect.store, "CFEED")} \
        == {(TEAM, TLP.CLEAR, True), (PARTNER, TLP.CLEAR, True)}
    (line,) = connect.mock.posts("CFEED")
    assert "lowered from TLP:AMBER to TLP:CLEAR" in line["text"]


def test_the_manifest_and_the_install_scopes_ask_for_what_slack_connect_needs() -> None:
    """conversations.info and the channel_shared/unshared events need channels:read and groups:read."""
    from pathlib import Path

    from adapters.config import SlackSettings

    manifest = (Path(__file__).resolve().parents[3] / "slack-manifest.yml").read_text()
    items = {line.split("#")[0].strip()[2:] for line in manifest.splitlines() if line.strip().startswith("- ")}
    assert {"channel_shared", "channel_unshared", "channels:read", "groups:read"} <= items
    assert {"channels:read", "groups:read"} <= set(SlackSettings().scopes)


async def test_any_command_in_a_registered_channel_learns_that_it_became_shared(connect: SlackWorld) -> None:
    """COPEN (GREEN, lookups answered in the channel) is shared while the bot missed the event; the next lookup
    there, whatever it is, asks Slack first: the ceiling is CLEAR before the lookup is answered."""
    await approved(connect, "green-item.example", "green")
    connect.mock.share_channel("COPEN", TEAM, PARTNER)
    mark = connect.mock.mark()
    await command(connect, "bob", "lookup green-item.example", channel="COPEN")
    (channel,) = await registrations(connect.store, "COPEN")
    assert (channel.ceiling, channel.shared_externally) == (TLP.CLEAR, True)
    shown = [all_text(c.body) for c in connect.mock.api_calls()[mark:]
             if c.method == "chat.postMessage" and c.get("channel") == "COPEN"]
    assert shown and all("green-item" not in text for text in shown)  # the lowering line, never the GREEN card


async def test_a_public_reply_in_a_shared_channel_nobody_registered_is_never_kept_above_clear(
        connect: SlackWorld) -> None:
    """alice submits a CLEAR item in the shared channel no admin registered: the channel is public to the partner's
    people (CLEAR), so the card is answered there. Her organization then raises the item to GREEN: the card posted
    there must neither be edited into its GREEN self nor get the GREEN item's comments in its thread (the planner,
    knowing no registration, would take the policy's default ceiling, GREEN, for the channel)."""
    fields = connect.command_fields("alice", "submit 203.0.113[.]77 tlp:clear", SHARED, "shared-submit")
    assert (await connect.form(fields))[0] == 200
    (card,) = await connect.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == SHARED)
    await connect.settle()
    assert "203.0.113.77" in all_text(card.body)
    assert "Edited" in await command(connect, "alice", "edit #1 tlp:green", channel="DALICE")
    await connect.settle()
    mark = connect.mock.mark()
    assert "Comment added to #1" in await command(connect, "bob", "comment #1 seen on our partner's side",
                                                  channel="DBOB")
    await connect.settle()
    shared = [c for c in connect.mock.calls if c.method in ("chat.postMessage", "chat.update")
              and c.get("channel") == SHARED]
    assert [all_text(c.body) for c in shared if "TLP:GREEN" in all_text(c.body)] == []  # the card not edited
    assert [c for c in connect.mock.calls[mark:] if c.method == "chat.postMessage" and c.get("thread_ts")
            and c.get("channel") == SHARED] == []  # nor the comment threaded under it



async def test_a_channel_shared_after_the_bot_posted_there_keeps_nothing_live_above_clear(
        connect: SlackWorld) -> None:
    """CLATER, which no admin registered, was the coalition's own when alice posted there (the policy's default,
    GREEN): a GREEN item's public card and a GREEN case's live card. Then it is shared with Partner Bank's
    workspace: neither card may show its audience anything above CLEAR any more (the partner's people were never
    meant to read GREEN), whether through an edit, a comment in the card's thread or the case card's update."""
    later = "CLATER"
    assert "opened" in await command(connect, "alice", "case new op-later tlp:green", channel="DALICE")
    fields = connect.command_fields("alice", "case show op-later", later, "later-show")
    assert (await connect.form(fields))[0] == 200
    await connect.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == later)
    fields = connect.command_fields("alice", "submit 203.0.113[.]91 tlp:green", later, "later-submit")
    assert (await connect.form(fields))[0] == 200
    await connect.mock.wait_for("chat.postMessage", 2, where=lambda c: c["channel"] == later)
    await connect.settle()
    connect.mock.share_channel(later, TEAM, PARTNER)
    await event(connect, {"type": "channel_shared", "channel": later, "connected_team_id": PARTNER,
                          "event_ts": str(time.time())}, team=TEAM)
    mark = connect.mock.mark()
    assert "Comment added" in await command(connect, "bob", "comment #1 seen at our end", channel="DBOB")
    assert "Submitted" in await command(connect, "alice", "submit 198.51.100[.]92 tlp:green case:op-later",
                                        channel="DALICE")
    assert "Approved" in await command(connect, "mod", "approve #1", channel="DMOD")
    await connect.settle()
    there = [c for c in connect.mock.calls[mark:] if c.get("channel") == later]
    assert [c for c in there if c.method == "chat.postMessage" and c.get("thread_ts")] == []  # no comment
    assert [all_text(c.body) for c in there if "198.51.100.92" in all_text(c.body)
            or "approved" in all_text(c.body)] == []  # no edit shows the new GREEN item, or the approval


async def test_a_channel_shared_while_the_event_was_missed_is_lowered_at_the_next_command_there_once(
        connect: SlackWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """As above, but Slack never sends channel_shared for CMISSED (the bot was down): the next command there, which
    asks Slack whether the channel is shared, lowers what is kept live there before it is answered, as the event
    would have; a further command there does not do it again."""
    from bot import services
    told: list[str] = []
    tell = services.channel_sharing_changed

    async def spy(uow: Any, platform: Platform, channel_id: str, shared: bool, now: Any) -> Any:
        told.append(channel_id)
        return await tell(uow, platform, channel_id, shared, now)

    monkeypatch.setattr(services, "channel_sharing_changed", spy)
    missed = "CMISSED"
    assert "opened" in await command(connect, "alice", "case new op-missed tlp:green", channel="DALICE")
    fields = connect.command_fields("alice", "case show op-missed", missed, "missed-show")
    assert (await connect.form(fields))[0] == 200
    await connect.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == missed)
    fields = connect.command_fields("alice", "submit 203.0.113[.]93 tlp:green", missed, "missed-submit")
    assert (await connect.form(fields))[0] == 200
    await connect.mock.wait_for("chat.postMessage", 2, where=lambda c: c["channel"] == missed)
    await connect.settle()
    async with connect.store.unit_of_work(read_only=True) as uow:  # both kept live, for the default (GREEN)
        assert missed in [c.channel_id for c in await uow.posted_cards.of_indicators([1], Platform.SLACK)]
        assert [(c.channel_id, c.ceiling) for c in await uow.posted_cards.of_cases([1], Platform.SLACK)] \
            == [(missed, TLP.GREEN)]
    connect.mock.share_channel(missed, TEAM, PARTNER)  # and no channel_shared event
    directory = connect.service.bot.channels  # type: ignore[union-attr]
    directory.clock = lambda: time.monotonic() + 3600  # what Slack said a minute ago is stale: it is asked again
    assert told == []
    assert "You are bob" in await command(connect, "bob", "whoami", channel=missed)
    assert told == [missed]
    await command(connect, "bob", "whoami", channel=missed)
    assert told == [missed]  # once, not at every command
    mark = connect.mock.mark()
    assert "Comment added" in await command(connect, "bob", "comment #1 seen at our end", channel="DBOB")
    assert "Edited" in await command(connect, "alice", "edit #1 conf:90", channel="DALICE")
    assert "Submitted" in await command(connect, "alice", "submit 198.51.100[.]94 tlp:green case:op-missed",
                                        channel="DALICE")
    assert "Approved" in await command(connect, "mod", "approve #1", channel="DMOD")
    await connect.settle()
    there = [c for c in connect.mock.calls[mark:] if c.get("channel") == missed]
    assert [c for c in there if c.method == "chat.postMessage" and c.get("thread_ts")] == []  # no comment
    assert [all_text(c.body) for c in there if "TLP:GREEN" in all_text(c.body) or "198.51.100.94" in all_text(c.body)
            or "203.0.113.93" in all_text(c.body)] == []  # no edit shows a GREEN item, the new one or the approval
