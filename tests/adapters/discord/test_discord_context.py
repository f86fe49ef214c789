"""Issue 13's context through Discord: /ioc submit's threat, malware and ref options joined back into the one
grammar, malware autocompleted from the families already named, /ioc edit's, and the card's context and dates."""

from __future__ import annotations

from tests.adapters.discord.test_discord_adapter import indicator, submit
from tests.adapters.discord.world import GENERAL, GUILD, World


async def test_slash_submit_takes_threat_malware_and_references_and_the_card_shows_them(world: World) -> None:
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "203.0.113[.]7", "tlp": "green", "threat": "botnet_cc",
                                       "malware": "Cobalt-Strike",
                                       "ref": "https://reports.example/cs hxxps://blog[.]example/x"}, user="alice")
    data = (await world.callback(sub, mark)).json["data"]
    fields = {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}
    assert "threat botnet\\_cc" in fields["Context"] and "malware cobalt\\_strike" in fields["Context"]
    assert "`hxxps://reports[.]example/cs`" in fields["Context"]  # defanged, in code: never a link
    assert fields["Dates"].startswith("submitted ") and "valid until" in fields["Dates"]
    ind, _ = await indicator(world, 1)
    assert (ind.threat_type, ind.malware, ind.references) == (
        "botnet_cc", "cobalt_strike", ("https://reports.example/cs", "https://blog.example/x"))
    world.assert_running()


async def test_bad_context_on_slash_submit_says_what_was_wrong_and_stores_nothing(world: World) -> None:
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "203.0.113.8", "malware": "emo/tet"}, user="alice")
    content = (await world.callback(sub, mark)).json["data"]["content"]
    assert "is not a family name" in content and "/ioc submit VALUE" in content
    mark = len(world.fake.calls)
    sub = await world.slash("submit", {"values": "203.0.113.8", "ref": "ftp://x.example/a"}, user="alice")
    assert "is not a reference URL" in (await world.callback(sub, mark)).json["data"]["content"]
    assert (await indicator(world, 1))[0] is None
    world.assert_running()


async def test_malware_is_autocompleted_from_families_already_named(world: World) -> None:
    await submit(world, "203.0.113.9", malware="emotet")
    await submit(world, "203.0.113.10", malware="cobalt_strike")
    mark = len(world.fake.calls)
    auto = world.fake.autocomplete("ioc", "submit", {"values": "x", "malware": "Cob"}, "malware",
                                   user=world.users["bob"], guild_id=GUILD, channel_id=GENERAL)
    await world.fake.dispatch("INTERACTION_CREATE", auto)
    call = await world.callback(auto, mark)
    assert call.json["type"] == 8
    assert [c["value"] for c in call.json["data"]["choices"]] == ["cobalt_strike"]
    await submit(world, "203.0.113.13", malware="emotet")
    await submit(world, "203.0.113.14", malware="secret_family", tlp="amber+strict")  # bob may not see it
    for typed, expected in (("", ["emotet", "cobalt_strike"]), ("sec", []), ("E", ["emotet"])):
        mark = len(world.fake.calls)
        auto = world.fake.autocomplete("ioc", "submit", {"values": "x", "malware": typed}, "malware",
                                       user=world.users["bob"], guild_id=GUILD, channel_id=GENERAL)
        await world.fake.dispatch("INTERACTION_CREATE", auto)
        choices = (await world.callback(auto, mark)).json["data"]["choices"]
        assert [c["value"] for c in choices] == expected, typed  # most used first, only what bob may see
    world.assert_running()


async def test_slash_edit_changes_the_context(world: World) -> None:
    await submit(world, "203.0.113.11")
    mark = len(world.fake.calls)
    edit = await world.slash("edit", {"indicator": "#1", "threat": "phishing", "malware": "qakbot",
                                      "ref": "https://a.example/q"}, user="alice")
    data = (await world.callback(edit, mark)).json["data"]
    assert data["content"].startswith("Edited: #1")
    ind, _ = await indicator(world, 1)
    assert (ind.threat_type, ind.malware, ind.references) == ("phishing", "qakbot", ("https://a.example/q",))
    world.assert_running()


async def test_slash_comment_and_case_reach_the_one_grammar_and_answer_privately(world: World) -> None:
    await submit(world, "203.0.113.12")
    mark = len(world.fake.calls)
    text = "seen in our gateway; tlp:red and case:x are words here <@&1>"
    com = await world.slash("comment", {"indicator": "#1", "text": text}, user="bob")
    data = (await world.callback(com, mark)).json["data"]
    assert data["flags"] & 64 and "Comment added to \\#1 \\(1 comment\\)" in data["content"]
    mark = len(world.fake.calls)
    look = await world.slash("lookup", {"values": "#1"}, user="alice")
    fields = {f["name"]: f["value"] for f in (await world.callback(look, mark)).json["data"]["embeds"][0]["fields"]}
    assert "Sentinel Security: seen in our gateway" in fields["Comments"] and "<@&1>" not in fields["Comments"]
    mark = len(world.fake.calls)
    new = await world.slash("case", {"action": "new", "name": "op-nightfall", "tlp": "green",
                                     "description": "Phishing wave; tlp:red is a word"}, user="alice")
    content = (await world.callback(new, mark)).json["data"]["content"]
    assert "Case op\\-nightfall opened" in content and "tlp\\:red is a word" in content
    mark = len(world.fake.calls)
    add = await world.slash("case", {"action": "add", "name": "op-nightfall", "indicators": "#1"}, user="alice")
    assert "Added \\#1 to case op\\-nightfall" in (await world.callback(add, mark)).json["data"]["content"]
    mark = len(world.fake.calls)
    bad = await world.slash("case", {"action": "show"}, user="alice")
    content = (await world.callback(bad, mark)).json["data"]["content"]
    assert "case show needs the case's name" in content and "/ioc case new NAME" in content
    world.assert_running()
