"""The Discord adapter end to end: the real discord.py client against the fake Discord, a real SQLite store."""

from __future__ import annotations

import dataclasses

from bot.domain import Platform, Status
from tests.adapters.discord.world import FEED, GENERAL, GUILD, MODERATION, USERS, World


async def indicator(world: World, indicator_id: int):
    async with world.store.unit_of_work(read_only=True) as uow:
        ind = await uow.indicators.get(indicator_id)
        tally = await uow.votes.tally(indicator_id)
    return ind, tally


async def test_slash_lookup_answers_with_a_card(world: World) -> None:
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "203.0.113[.]7", "tlp": "green"}, user="alice")
    call = await world.callback(sub, mark)
    assert call.json["type"] == 4
    ind, _ = await indicator(world, 1)
    assert ind is not None and ind.value == "203.0.113.7" and ind.status is Status.PENDING
    mark = len(world.fake.calls)
    look = await world.slash("lookup", {"values": "203.0.113.7"}, user="bob", channel=GENERAL)
    call = await world.callback(look, mark)
    data = call.json["data"]
    assert data["embeds"][0]["title"].startswith("#1")
    assert "203.0.113.7" in data["embeds"][0]["description"]
    assert data["allowed_mentions"] == {"parse": []}
    world.assert_running()


async def submit(world: World, values: str = "hxxp://evil-updates[.]example/payload.bin", **extra) -> dict:
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": values, "tlp": "green", **extra}, user="alice")
    await world.callback(sub, mark)
    return sub


async def moderation_card(world: World, indicator_id: int = 1) -> dict:
    """The card the deliverer posted in the moderation channel."""
    call = await world.fake.wait_for_call("POST", rf"/channels/{MODERATION}/messages",
                                          predicate=lambda c: f"#{indicator_id}" in c.json["embeds"][0]["title"])
    return next(m for m in world.fake.messages[MODERATION].values()
                if m["embeds"] and m["embeds"][0]["title"] == call.json["embeds"][0]["title"])


def button_ids(message: dict) -> list[str]:
    return [b["custom_id"] for row in message["components"] for b in row["components"]]


async def test_submit_is_public_with_vote_buttons_and_reaches_the_moderators(world: World) -> None:
    sub = await submit(world)
    call = await world.callback(sub)
    assert not (call.json["data"].get("flags") or 0) & 64  # public: the channel sees it
    assert button_ids(call.json["data"]) == ["ioc:vote:1:confirm", "ioc:vote:1:false_positive"]
    card = await moderation_card(world)
    assert button_ids(card) == ["ioc:vote:1:confirm", "ioc:vote:1:false_positive", "ioc:approve:1", "ioc:reject:1"]
    assert card["embeds"][0]["fields"][3] == {"name": "From", "value": "Northbank", "inline": True}
    world.assert_running()


async def test_button_click_counts_the_vote_and_edits_every_card(world: World) -> None:
    await submit(world)
    card = await moderation_card(world)
    mark = len(world.fake.calls)
    press = world.fake.component("ioc:vote:1:confirm", card, user=world.users["bob"], guild_id=GUILD,
                                 channel_id=MODERATION)
    await world.fake.dispatch("INTERACTION_CREATE", press)
    call = await world.callback(press, mark)
    assert call.json["type"] == 7  # the pressed card itself is updated
    votes = next(f for f in call.json["data"]["embeds"][0]["fields"] if f["name"] == "Votes")
    assert votes["value"].startswith("1 confirm (1 org)")
    _, tally = await indicator(world, 1)
    assert tally.confirm == 1
    # live cards: the public reply to the submission is edited by the deliverer too
    edit = await world.fake.wait_for_call("PATCH", rf"/channels/{GENERAL}/messages/\d+", after=mark,
                                          predicate=lambda c: "1 confirm" in str(c.json))
    assert edit.json["allowed_mentions"] == {"parse": []}
    world.assert_running()


async def test_reject_button_opens_a_modal_and_its_reason_rejects(world: World) -> None:
    await submit(world)
    card = await moderation_card(world)
    mark = len(world.fake.calls)
    press = world.fake.component("ioc:reject:1", card, user=world.users["mod"], guild_id=GUILD,
                                 channel_id=MODERATION)
    await world.fake.dispatch("INTERACTION_CREATE", press)
    modal = (await world.callback(press, mark)).json
    assert modal["type"] == 9
    mark = len(world.fake.calls)
    submit_modal = world.fake.modal_submit(modal["data"], {"reason": "sinkholed <@&712345678901234567> @here"},
                                           user=world.users["mod"], guild_id=GUILD, channel_id=MODERATION,
                                           message=card)
    await world.fake.dispatch("INTERACTION_CREATE", submit_modal)
    call = await world.callback(submit_modal, mark)
    ind, _ = await indicator(world, 1)
    assert ind.status is Status.REJECTED and ind.status_reason == "sinkholed <@&712345678901234567> @here"
    reason = next(f for f in call.json["data"]["embeds"][0]["fields"] if f["name"] == "Reason")["value"]
    assert reason == "sinkholed \\<\\@&712345678901234567\\> \\@here"  # shown literally, can never ping
    # the submitter is told in a direct message
    await world.fake.wait_for_call("POST", r"/users/@me/channels", after=mark,
                                   predicate=lambda c: str(c.json["recipient_id"]) == str(USERS["alice"]))
    world.assert_running()


async def test_reactions_on_a_card_vote_and_removing_one_withdraws(world: World) -> None:
    await submit(world)
    card = await moderation_card(world)
    react = world.fake.reaction("❌", user_id=USERS["bob"], channel_id=MODERATION, message_id=card["id"],
                                guild_id=GUILD)
    mark = len(world.fake.calls)
    await world.fake.dispatch("MESSAGE_REACTION_ADD", react)
    await world.fake.wait_for_call("PATCH", rf"/channels/{MODERATION}/messages/{card['id']}", after=mark,
                                   predicate=lambda c: "1 false positive" in str(c.json))
    _, tally = await indicator(world, 1)
    assert tally.false_positive == 1
    mark = len(world.fake.calls)
    await world.fake.dispatch("MESSAGE_REACTION_REMOVE", {k: v for k, v in react.items() if k != "member"})
    await world.fake.wait_for_call("PATCH", rf"/channels/{MODERATION}/messages/{card['id']}", after=mark,
                                   predicate=lambda c: "0 false positive" in str(c.json))
    _, tally = await indicator(world, 1)
    assert tally.false_positive == 0
    world.assert_running()


async def test_buttons_keep_working_after_a_restart(world: World) -> None:
    await submit(world)
    card = await moderation_card(world)
    await world.restart()
    mark = len(world.fake.calls)
    press = world.fake.component("ioc:approve:1", card, user=world.users["mod"], guild_id=GUILD,
                                 channel_id=MODERATION)
    await world.fake.dispatch("INTERACTION_CREATE", press)
    call = await world.callback(press, mark)
    assert call.json["type"] == 7
    ind, _ = await indicator(world, 1)
    assert ind.status is Status.APPROVED
    # approved: the feed channel gets the card
    await world.fake.wait_for_call("POST", rf"/channels/{FEED}/messages", after=mark)
    world.assert_running()


async def test_everyone_in_a_note_pings_nobody(world: World) -> None:
    sub = await submit(world, "198.51.100.23", note="@everyone urgent **now** <@800000000000000002>")
    call = await world.callback(sub)
    body = call.json["data"]
    assert body["allowed_mentions"] == {"parse": []}
    note = next(f for f in body["embeds"][0]["fields"] if f["name"] == "Note")["value"]
    assert note == "\\@everyone urgent \\*\\*now\\*\\* \\<\\@800000000000000002\\>"  # shown literally
    card = await moderation_card(world)
    assert "\\@everyone" in str(card["embeds"]) and "<@8" not in str(card["embeds"])
    world.assert_running()


async def test_private_answers_are_ephemeral(world: World) -> None:
    mark = len(world.fake.calls)
    who = await world.slash("whoami", {}, user="bob")
    call = await world.callback(who, mark)
    assert call.json["data"]["flags"] & 64
    mark = len(world.fake.calls)
    bad = await world.slash("vote", {"indicator": "#99", "verdict": "confirm"}, user="bob")
    call = await world.callback(bad, mark)
    assert call.json["data"]["flags"] & 64 and "Sorry" in call.json["data"]["content"]
    mark = len(world.fake.calls)
    stranger = await world.slash("lookup", {"values": "#1"}, user="stranger")
    call = await world.callback(stranger, mark)
    assert call.json["data"]["flags"] & 64
    world.assert_running()


async def test_slow_commands_are_deferred_then_answered(world: World) -> None:
    world.client.handler.defer_after = 0.0  # every command counts as slow
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "192.0.2.44", "tlp": "red"}, user="alice")
    call = await world.callback(sub, mark)
    assert call.json["type"] == 5 and not (call.json.get("data") or {}).get("flags", 0) & 64  # public "thinking"
    # TLP:RED may not be shown in the channel: the public placeholder goes, the answer follows ephemerally
    await world.fake.wait_for_call("DELETE", rf"/webhooks/\d+/{sub['token']}/messages/@original", after=mark)
    follow = await world.fake.wait_for_call("POST", rf"/webhooks/\d+/{sub['token']}", after=mark)
    assert follow.json["flags"] & 64 and "192.0.2.44" in str(follow.json["embeds"])
    mark = len(world.fake.calls)
    who = await world.slash("whoami", {}, user="alice")  # private by nature: deferred ephemerally, then edited
    call = await world.callback(who, mark)
    assert call.json["type"] == 5 and call.json["data"]["flags"] & 64
    edit = await world.fake.wait_for_call("PATCH", rf"/webhooks/\d+/{who['token']}/messages/@original", after=mark)
    assert "Northbank" in edit.json["content"]
    world.assert_running()


async def test_context_menu_prefills_a_modal_from_the_message(world: World) -> None:
    message = world.fake.message_create("seen 203.0.113[.]9 and hxxps://phish[.]example/login today",
                                        author=world.users["bob"], channel_id=GENERAL, guild_id=GUILD)
    mark = len(world.fake.calls)
    menu = world.fake.message_command("Submit indicators", message, user=world.users["alice"], guild_id=GUILD,
                                      channel_id=GENERAL)
    await world.fake.dispatch("INTERACTION_CREATE", menu)
    modal = (await world.callback(menu, mark)).json
    assert modal["type"] == 9
    values = next(c for row in modal["data"]["components"] for c in (row.get("components") or [row["component"]])
                  if c["custom_id"] == "values")
    assert values["value"].split("\n") == ["203.0.113.9", "https://phish.example/login"]
    mark = len(world.fake.calls)
    wrong = world.fake.modal_submit(modal["data"], {"values": values["value"], "tlp": "purple"},
                                    user=world.users["alice"], guild_id=GUILD, channel_id=GENERAL)
    await world.fake.dispatch("INTERACTION_CREATE", wrong)
    call = await world.callback(wrong, mark)
    assert call.json["data"]["flags"] & 64 and "**TLP**" in call.json["data"]["content"]
    mark = len(world.fake.calls)  # a modal closes once submitted: open it again
    menu = world.fake.message_command("Submit indicators", message, user=world.users["alice"], guild_id=GUILD,
                                      channel_id=GENERAL)
    await world.fake.dispatch("INTERACTION_CREATE", menu)
    modal = (await world.callback(menu, mark)).json
    mark = len(world.fake.calls)
    right = world.fake.modal_submit(modal["data"], {"values": values["value"], "tlp": "green", "tags": "phishing"},
                                    user=world.users["alice"], guild_id=GUILD, channel_id=GENERAL)
    await world.fake.dispatch("INTERACTION_CREATE", right)
    call = await world.callback(right, mark)
    assert "Submitted 2 indicators" in call.json["data"]["content"]
    ind, _ = await indicator(world, 2)
    assert ind.value == "https://phish.example/login" and ind.tags == ("phishing",)
    world.assert_running()


async def test_autocomplete_suggests_indicator_ids(world: World) -> None:
    await submit(world)
    mark = len(world.fake.calls)
    auto = world.fake.autocomplete("ioc", "vote", {"indicator": "evil", "verdict": "confirm"}, "indicator",
                                   user=world.users["alice"], guild_id=GUILD, channel_id=GENERAL)
    await world.fake.dispatch("INTERACTION_CREATE", auto)
    call = await world.callback(auto, mark)
    assert call.json["type"] == 8
    assert call.json["data"]["choices"][0]["value"] == "#1"
    world.assert_running()


async def test_passive_mode_replies_with_a_compact_status(world: World) -> None:
    await submit(world, "203.0.113.7")
    message = world.fake.message_create("is 203.0.113[.]7 bad?", author=world.users["bob"], channel_id=GENERAL,
                                        guild_id=GUILD)
    mark = len(world.fake.calls)
    await world.fake.dispatch("MESSAGE_CREATE", message)  # passive mode is off by default: no answer
    admin = await world.slash("whoami", {}, user="bob")
    await world.callback(admin, mark)
    assert not world.fake.calls_to("POST", rf"/channels/{GENERAL}/messages", after=mark)
    async with world.store.unit_of_work() as uow:
        channel = await uow.channels.get(Platform.DISCORD, str(GUILD), str(GENERAL))  # adopted by its guild
        await uow.channels.upsert(dataclasses.replace(channel, passive=True))
        await uow.commit()
    mark = len(world.fake.calls)
    await world.fake.dispatch("MESSAGE_CREATE", message)
    reply = await world.fake.wait_for_call("POST", rf"/channels/{GENERAL}/messages", after=mark)
    assert "#1 pending" in reply.json["content"] and reply.json["allowed_mentions"]["parse"] == []
    world.assert_running()


async def test_a_file_sent_to_the_bot_is_imported_and_export_replies_with_a_file(world: World) -> None:
    dm_channel = 990000000000000001
    att = world.fake.attachment("iocs.txt", b"198.51.100.77\nevil-cdn.example\n", "text/plain")
    message = world.fake.message_create("", author=world.users["alice"], channel_id=dm_channel, guild_id=None,
                                        attachments=[att])
    mark = len(world.fake.calls)
    await world.fake.dispatch("MESSAGE_CREATE", message)
    reply = await world.fake.wait_for_call("POST", rf"/channels/{dm_channel}/messages", after=mark)
    assert "2 submitted for moderation" in reply.json["content"]
    mark = len(world.fake.calls)
    export = await world.slash("export", {"format": "txt", "status": "pending"}, user="alice", channel=dm_channel,
                               dm=True)
    call = await world.callback(export, mark)
    assert call.json["type"] == 5 and call.json["data"]["flags"] & 64  # deferred at once, ephemerally
    upload = await world.fake.wait_for_call("PATCH", rf"/webhooks/\d+/{export['token']}/messages/@original",
                                            after=mark)
    (name, data), = upload.files.values()
    assert name.endswith(".txt") and b"198.51.100.77" in data
    world.assert_running()


DISCORD_NOTE = ("# heading **b** __u__ ~~s~~ ||spoiler|| `code` ```fence``` <#700000000000000010> "
                "<@800000000000000002> <@&1> @everyone @here [click](https://evil.example) -# small > quote "
                "<t:1700000000:R> \\ "
                "\u200b**zw**\u200b evil\u202etxt.exe \u2066iso\u2069 \u061c \ufeff soft\u00adhyphen")


async def test_a_note_with_every_markdown_construct_is_shown_literally(world: World) -> None:
    from bot.text import visible
    from tests.adapters.test_user_text_literal import DISCORD_SPECIAL, discord_shown, discord_unescaped

    sub = await submit(world, "198.51.100.24", note=DISCORD_NOTE, tags="apt_28")
    call = await world.callback(sub)
    card = await moderation_card(world)
    for embed in (call.json["data"]["embeds"][0], card["embeds"][0]):
        note = next(f for f in embed["fields"] if f["name"] == "Note")["value"]
        assert not DISCORD_SPECIAL & set(discord_unescaped(note)), note  # every markdown character escaped
        assert discord_shown(note) == visible(DISCORD_NOTE)  # and read back as typed, controls made visible
        assert "<U+202E>" in discord_shown(note) and "\u202e" not in str(embed)
        tags = next(f for f in embed["fields"] if f["name"] == "Tags")["value"]
        assert tags == "apt\\_28"
    world.assert_running()
