"""Issue 13 through the real discord.py client against the fake Discord: a comment goes in a thread started on
each posted card (the first comment starts it, the next ones reuse it), once even when a post's answer is lost,
never where the item's TLP is now above the channel's ceiling; and a live case card (`/ioc case show` in a
channel) edited when the case changes, listing only what the channel may see."""

from __future__ import annotations

import asyncio
import dataclasses

from sqlalchemy import select

from bot.domain import Channel, Identity, Platform, Role
from bot.tlp import TLP
from storage.models import AuditRow, OutboxRow
from tests.adapters.discord.fake_discord import ADMINISTRATOR, ALL_PERMISSIONS, SEND_MESSAGES, VIEW_CHANNEL
from tests.adapters.discord.test_discord_adapter import moderation_card, submit
from tests.adapters.discord.world import FEED, GENERAL, GUILD, MODERATION, USERS, World


def thread_posts(world: World, card_id: int) -> list[dict]:
    return list(world.fake.messages.get(card_id, {}).values())


async def until(done, timeout: float = 15.0) -> None:  # noqa: ASYNC109
    for _ in range(int(timeout / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def _comment(world: World, user: str, text: str) -> None:
    mark = len(world.fake.calls)
    said = await world.slash("comment", {"indicator": "#1", "text": text}, user=user)
    data = (await world.callback(said, mark)).json["data"]
    assert data["flags"] & 64 and "Comment added to \\#1" in data["content"]


async def test_comments_go_in_a_thread_on_every_card_started_once_and_posted_once(world: World) -> None:
    await submit(world, "198.51.100.77")
    await moderation_card(world)
    mark = len(world.fake.calls)
    approve = await world.slash("approve", {"indicators": "#1"}, user="mod", channel=MODERATION)
    await world.callback(approve, mark)
    await world.fake.wait_for_call("POST", rf"/channels/{FEED}/messages", after=mark)
    for _ in range(100):  # the feed card's message id is recorded right after it is posted
        async with world.store.unit_of_work(read_only=True) as uow:
            copies = {int(c.message_id): c.channel_id
                      for c in await uow.posted_cards.of_indicators([1], Platform.DISCORD)}
        if len(copies) == 4:
            break
        await asyncio.sleep(0.05)
    assert sorted(copies.values()) == sorted([str(GENERAL), str(MODERATION), str(MODERATION), str(FEED)])

    first = next(iter(copies))  # the first thread post is made, but its answer is lost: the row is retried
    world.fake.lost.append(lambda c: c.method == "POST" and c.path == f"/channels/{first}/messages")
    mark = len(world.fake.calls)
    await _comment(world, "bob", "seen on our sinkhole @everyone <@&1> **bold**")
    await until(lambda: all(thread_posts(world, card_id) for card_id in copies))
    await world.fake.wait_for_call("GET", rf"/channels/{first}/messages", after=mark)  # the retry looked first
    await asyncio.sleep(0.3)  # nothing more comes
    for card_id in copies:
        (post,) = thread_posts(world, card_id)  # once in each thread
        content = post["content"]
        assert content.startswith("💬 **Sentinel Security** on #1: seen on our sinkhole"), content
        assert "\\@everyone" in content and "\\*\\*bold\\*\\*" in content and "<@&1>" not in content
        assert world.fake.threads[card_id]["name"] == "Comments on #1"
    assert len(world.fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads", after=mark)) == len(copies)
    assert all(c.json["allowed_mentions"] == {"parse": []}
               for c in world.fake.calls_to("POST", r"/channels/\d+/messages", after=mark) if c.json)

    # the next comment reuses the threads; raised to AMBER, the GREEN channel's card gets no comment any more
    mark = len(world.fake.calls)
    edit = await world.slash("edit", {"indicator": "#1", "tlp": "amber"}, user="mod", channel=MODERATION)
    await world.callback(edit, mark)
    mark = len(world.fake.calls)
    await _comment(world, "alice", "and at our gateway")
    amber = [card_id for card_id, channel in copies.items() if channel != str(GENERAL)]
    await until(lambda: all(len(thread_posts(world, card_id)) == 2 for card_id in amber))
    await asyncio.sleep(0.3)
    general = next(card_id for card_id, channel in copies.items() if channel == str(GENERAL))
    assert len(thread_posts(world, general)) == 1
    assert not world.fake.calls_to("POST", r"/channels/\d+/messages/\d+/threads", after=mark)  # reused
    world.assert_running()


async def test_a_case_card_posted_in_a_channel_is_edited_when_the_case_changes(world: World) -> None:
    mark = len(world.fake.calls)
    new = await world.slash("case", {"action": "new", "name": "op-dusk", "tlp": "green"}, user="alice", dm=True)
    await world.callback(new, mark)
    await submit(world, "198.51.100.50")
    await submit(world, "198.51.100.51", tlp="amber")
    await moderation_card(world, 2)
    mark = len(world.fake.calls)
    add = await world.slash("case", {"action": "add", "name": "op-dusk", "indicators": "#1 #2"}, user="alice",
                            dm=True)
    await world.callback(add, mark)
    mark = len(world.fake.calls)
    show = await world.slash("case", {"action": "show", "name": "op-dusk"}, user="alice", channel=GENERAL)
    data = (await world.callback(show, mark)).json["data"]
    assert data["flags"] & 64 and "card is posted in this channel" in data["content"]
    posted = await world.fake.wait_for_call("POST", rf"/channels/{GENERAL}/messages", after=mark,
                                            predicate=lambda c: "Case op" in (c.json or {}).get("content", ""))
    content = posted.json["content"]
    assert "1 indicator this channel may see: 1 pending" in content and "198.51.100.51" not in content
    assert "\\#2" not in content and "delivery " in content.splitlines()[-1]
    card_id = next(i for i, m in world.fake.messages[GENERAL].items() if "Case op" in m["content"])

    mark = len(world.fake.calls)
    approve = await world.slash("approve", {"indicators": "#1"}, user="mod", channel=MODERATION)
    await world.callback(approve, mark)
    edit = await world.fake.wait_for_call("PATCH", rf"/channels/{GENERAL}/messages/{card_id}", after=mark)
    assert "1 indicator this channel may see: 1 approved" in edit.json["content"]
    assert world.fake.messages[GENERAL][card_id]["content"] == edit.json["content"]
    mark = len(world.fake.calls)
    remove = await world.slash("case", {"action": "remove", "name": "op-dusk", "indicators": "#1"}, user="alice",
                               dm=True)
    await world.callback(remove, mark)
    edit = await world.fake.wait_for_call("PATCH", rf"/channels/{GENERAL}/messages/{card_id}", after=mark)
    assert "0 indicators this channel may see" in edit.json["content"]
    world.assert_running()


async def test_a_long_comment_reaches_its_thread_whole(world: World) -> None:
    """A comment may be 2,000 characters (the grammar's limit): with the author line, the markdown escaping and the
    key it is longer than a message's content, and its end was cut off without a word. It goes in the thread whole
    (in an embed), escaped, its key still found by a retry."""
    await submit(world, "198.51.100.78")
    await moderation_card(world)
    text = ("*" * 900 + " " + "word " * 200)[:1990] + " THE-END"
    assert len(text) <= 2000
    cards: list[int] = []
    for _ in range(100):  # the moderation card's message id is recorded right after it is posted
        async with world.store.unit_of_work(read_only=True) as uow:
            cards = [int(c.message_id) for c in await uow.posted_cards.of_indicators([1], Platform.DISCORD)
                     if c.channel_id == str(MODERATION)]
        if cards:
            break
        await asyncio.sleep(0.05)
    (card,) = cards
    await _comment(world, "bob", text)
    await until(lambda: thread_posts(world, card))
    (post,) = thread_posts(world, card)
    shown = post["content"] + "".join(e.get("description") or "" for e in post.get("embeds") or [])
    assert "THE\\-END" in shown and shown.count("\\*") == 900, shown[-200:]
    assert len(post["content"]) <= 2000 and "delivery " in post["content"].splitlines()[-1]
    world.assert_running()


async def test_a_thread_on_a_card_is_its_channels_audience(world: World) -> None:
    """A thread started on a card (the bot's comment threads, or anyone's) is read by everyone in its channel: a
    command there is answered under that channel's ceiling, not as in a channel nobody registered (the policy's
    default, GREEN). #general is CLEAR here: a GREEN case's card is not posted in its thread, a GREEN submission is
    not answered in front of it."""
    await submit(world, "198.51.100.79")  # GREEN, answered in #general (then GREEN): its card there
    copies: list[int] = []
    for _ in range(100):
        async with world.store.unit_of_work(read_only=True) as uow:
            copies = [int(c.message_id) for c in await uow.posted_cards.of_indicators([1], Platform.DISCORD)
                      if c.channel_id == str(GENERAL)]
        if copies:
            break
        await asyncio.sleep(0.05)
    (card,) = copies
    await _comment(world, "bob", "seen here too")
    await until(lambda: thread_posts(world, card))  # the thread on #general's card, named "Comments on #1"
    async with world.store.unit_of_work() as uow:  # #general is made CLEAR (an admin's channel set)
        (general,) = [c for c in await uow.channels.list() if c.channel_id == str(GENERAL)]
        await uow.channels.upsert(dataclasses.replace(general, ceiling=TLP.CLEAR))
        await uow.commit()
    mark = len(world.fake.calls)
    new = await world.slash("case", {"action": "new", "name": "op-thread", "tlp": "green"}, user="alice", dm=True)
    await world.callback(new, mark)
    mark = len(world.fake.calls)
    add = await world.slash("case", {"action": "add", "name": "op-thread", "indicators": "#1"}, user="alice",
                            dm=True)
    await world.callback(add, mark)
    mark = len(world.fake.calls)
    show = await world.slash("case", {"action": "show", "name": "op-thread"}, user="alice", channel=card)
    data = (await world.callback(show, mark)).json["data"]
    assert data["flags"] & 64 and "above what this channel may see" in data["content"], data["content"]
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "198.51.100.80", "tlp": "green"}, user="alice", channel=card)
    data = (await world.callback(sub, mark)).json["data"]
    assert (data.get("flags") or 0) & 64, data  # only alice sees it
    await asyncio.sleep(0.3)
    assert not [m for m in thread_posts(world, card) if "op-thread" in m["content"] or "198.51.100" in m["content"]]
    world.assert_running()


async def test_a_long_case_card_is_shown_in_its_channel_not_a_missing_file(world: World) -> None:
    """A case whose card text passes 4,096 characters (its items' notes, its description): Discord's plain-text
    rendering would answer "see the attached file", but a channel's case card is a message that is edited, with no
    file: the card shows its head and as much as fits, marked as cut."""
    mark = len(world.fake.calls)
    new = await world.slash("case", {"action": "new", "name": "op-long", "tlp": "green"}, user="alice", dm=True)
    await world.callback(new, mark)
    for n in range(4):
        mark = len(world.fake.calls)
        sub = await world.slash("submit", {"values": f"198.51.100.{60 + n}", "tlp": "green",
                                           "note": f"note {n} " + "details " * 240}, user="alice", dm=True)
        await world.callback(sub, mark)
    mark = len(world.fake.calls)
    add = await world.slash("case", {"action": "add", "name": "op-long", "indicators": "#1 #2 #3 #4"},
                            user="alice", dm=True)
    await world.callback(add, mark)
    mark = len(world.fake.calls)
    show = await world.slash("case", {"action": "show", "name": "op-long"}, user="alice", channel=GENERAL)
    await world.callback(show, mark)
    posted = await world.fake.wait_for_call("POST", rf"/channels/{GENERAL}/messages", after=mark)
    shown = (posted.json.get("content") or "") + "".join(e.get("description") or ""
                                                         for e in posted.json.get("embeds") or [])
    assert "Case op\\-long" in shown and "4 indicators this channel may see" in shown, shown[:300]
    assert "attached file" not in shown and "delivery " in (posted.json.get("content") or "")
    world.assert_running()


async def test_a_case_shown_in_a_thread_is_posted_there_only_for_what_the_thread_keeps(world: World) -> None:
    """In a thread on #moderation's card (AMBER), a case is posted for what its live card will show: deliveries know
    the thread by its own id (no registration: the policy's default, GREEN), so an AMBER case is refused there,
    privately and clearly, rather than announced as posted and then never posted."""
    await submit(world, "198.51.100.83")
    card = int((await moderation_card(world))["id"])
    await _comment(world, "bob", "starting the thread")
    await until(lambda: thread_posts(world, card))
    mark = len(world.fake.calls)
    new = await world.slash("case", {"action": "new", "name": "op-amber", "tlp": "amber"}, user="alice", dm=True)
    await world.callback(new, mark)
    mark = len(world.fake.calls)
    show = await world.slash("case", {"action": "show", "name": "op-amber"}, user="alice", channel=card)
    data = (await world.callback(show, mark)).json["data"]
    assert data["flags"] & 64 and "above what this channel may see" in data["content"], data["content"]
    world.assert_running()


async def test_channel_set_in_a_thread_sets_its_channel_which_the_thread_follows(world: World) -> None:
    """An admin's `/ioc admin channel set` run in a thread (here the comment thread on #general's card) sets
    #general, whose members all read the thread, and says so; nothing registers the thread itself, which goes on
    following its channel. `channel show` in the thread says it has its channel's ceiling."""
    await submit(world, "198.51.100.85")  # GREEN, answered in #general (GREEN): its card there
    copies: list[int] = []
    for _ in range(100):
        async with world.store.unit_of_work(read_only=True) as uow:
            copies = [int(c.message_id) for c in await uow.posted_cards.of_indicators([1], Platform.DISCORD)
                      if c.channel_id == str(GENERAL)]
        if copies:
            break
        await asyncio.sleep(0.05)
    (card,) = copies
    await _comment(world, "bob", "seen here too")
    await until(lambda: thread_posts(world, card))
    async with world.store.unit_of_work() as uow:  # alice is made an admin of Northbank
        alice = await uow.members.by_identity(Identity(Platform.DISCORD, "discord", str(USERS["alice"])))
        assert alice is not None
        await uow.members.set_role(alice.id, Role.ADMIN)
        await uow.commit()

    async def admin(command: str, channel: int) -> str:
        mark = len(world.fake.calls)
        asked = await world.slash("admin", {"command": command}, user="alice", channel=channel)
        data = (await world.callback(asked, mark)).json["data"]
        assert data["flags"] & 64, data
        return str(data["content"])

    shown = await admin("channel show", card)
    assert shown.startswith("This thread: ceiling TLP:GREEN (its channel's), purpose general"), shown
    assert "sets its channel" in shown
    done = await admin("channel set ceiling:clear", card)
    assert done.startswith("This thread's channel updated: ceiling TLP:CLEAR, purpose general, passive off, "
                           "lookups in channel"), done  # #general's registration (lookups answered in it)
    assert "sets its channel" in done
    async with world.store.unit_of_work(read_only=True) as uow:
        registered = {c.channel_id: c.ceiling for c in await uow.channels.list()}
        assert len(await uow.channels.list()) == 3  # #general's own registration changed, no new one
        audit = (await uow.session.execute(select(AuditRow.detail).where(AuditRow.action == "channel.set"))
                 ).scalars().all()
    assert registered[str(GENERAL)] is TLP.CLEAR and str(card) not in registered
    assert [(d["channel"], d["thread"]) for d in audit] == [(str(GENERAL), str(card))]
    assert (await admin("channel show", GENERAL)).startswith("This channel: ceiling TLP:CLEAR")
    assert (await admin("channel show", card)).startswith("This thread: ceiling TLP:CLEAR (its channel's)")
    mark = len(world.fake.calls)  # the thread has #general's new ceiling: a GREEN submission there is not shown
    sub = await world.slash("submit", {"values": "198.51.100.86", "tlp": "green"}, user="alice", channel=card)
    data = (await world.callback(sub, mark)).json["data"]
    assert (data.get("flags") or 0) & 64, data

    # a thread registered on its own before (channel set in it registered the thread, at AMBER here) keeps its
    # registration, but never a ceiling above its channel's
    async with world.store.unit_of_work() as uow:
        await uow.channels.upsert(Channel(Platform.DISCORD, str(GUILD), str(card), TLP.AMBER))
        await uow.commit()
    shown = await admin("channel show", card)
    assert shown.startswith("This thread: ceiling TLP:CLEAR") and "settings of its own" in shown, shown
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "198.51.100.87", "tlp": "green"}, user="alice", channel=card)
    data = (await world.callback(sub, mark)).json["data"]
    assert (data.get("flags") or 0) & 64, data
    world.assert_running()


async def _case_rows(world: World) -> list[tuple[str, str | None]]:
    async with world.store.unit_of_work(read_only=True) as uow:
        rows = (await uow.session.execute(select(OutboxRow).where(OutboxRow.event == "case.posted"))).all()
        return [(r.payload["channel_id"], r.last_error) for r in rows]


async def test_a_case_is_not_posted_where_the_bot_may_not_send_messages(world: World) -> None:
    """A slash command works in a channel where the bot may not send messages: the interaction's app_permissions
    say so, the person is told at once, privately, and nothing is queued; with View Channel and Send Messages the
    card is posted; a post refused all the same (the permission taken away meanwhile) says why in its row."""
    fake = world.fake
    mark = len(fake.calls)
    new = await world.slash("case", {"action": "new", "name": "op-mute", "tlp": "green"}, user="alice", dm=True)
    await world.callback(new, mark)
    denied = int(ALL_PERMISSIONS) & ~SEND_MESSAGES & ~ADMINISTRATOR
    fake.channel_permissions[GENERAL] = denied
    mark = len(fake.calls)
    show = await world.slash("case", {"action": "show", "name": "op-mute"}, user="alice", channel=GENERAL)
    data = (await world.callback(show, mark)).json["data"]
    assert data["flags"] & 64, data
    assert "the bot cannot post in this channel, so case op\\-mute's card is not posted here" in data["content"]
    assert "View Channel and Send Messages" in data["content"] and "card is posted" not in data["content"]
    assert await _case_rows(world) == []  # nothing queued
    await asyncio.sleep(0.6)  # a delivery round (poll_seconds 0.2) would have tried it
    assert not [c for c in fake.calls[mark:] if c.method == "POST" and c.path == f"/channels/{GENERAL}/messages"]
    assert fake.refused == []

    fake.channel_permissions[GENERAL] = VIEW_CHANNEL | SEND_MESSAGES  # what it needs, no more: posted
    mark = len(fake.calls)
    show = await world.slash("case", {"action": "show", "name": "op-mute"}, user="alice", channel=GENERAL)
    data = (await world.callback(show, mark)).json["data"]
    assert "card is posted in this channel" in data["content"], data["content"]
    await fake.wait_for_call("POST", rf"/channels/{GENERAL}/messages", after=mark,
                             predicate=lambda c: "Case op" in (c.json or {}).get("content", ""))

    # the interaction said the bot may post, but the permission went before the card did: refused (50013), and
    # the row waiting for its retry (parked in the end) says why
    mark = len(fake.calls)
    payload = fake.slash("ioc", "case", {"action": "show", "name": "op-mute"}, user=world.users["alice"],
                         guild_id=GUILD, channel_id=GENERAL)
    fake.channel_permissions[GENERAL] = denied
    await fake.dispatch("INTERACTION_CREATE", payload)
    assert "card is posted in this channel" in (await world.callback(payload, mark)).json["data"]["content"]
    await until(lambda: bool(fake.refused))
    for _ in range(100):
        errors = [e for _, e in await _case_rows(world) if e]
        if errors:
            break
        await asyncio.sleep(0.05)
    (error,) = errors
    assert f"Discord 403 Missing Permissions (50013): the bot cannot post in channel {GENERAL} (give it View " \
           "Channel and Send Messages there)" in error, error
