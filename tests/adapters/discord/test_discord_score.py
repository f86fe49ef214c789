"""Issue 13's score through Discord: the card's Status field carries it, `/ioc why` (a slash command with indicator
autocomplete) answers the computation privately, `/ioc stats view:orgs` the standing; escaped, pinging nobody."""

from __future__ import annotations

from tests.adapters.discord.test_discord_adapter import moderation_card, submit
from tests.adapters.discord.world import World


def field(embed: dict, name: str) -> str:
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


async def test_cards_show_the_score_and_why_explains_it_privately(world: World) -> None:
    await submit(world, "198.51.100[.]61", confidence=80)
    card = await moderation_card(world)  # the channel's copy carries it too
    assert field(card["embeds"][0], "Status") == "pending · score 40 →"
    mark = len(world.fake.calls)
    look = await world.slash("lookup", {"values": "#1"}, user="bob")
    data = (await world.callback(look, mark)).json["data"]
    assert field(data["embeds"][0], "Status") == "pending · score 40 →"
    mark = len(world.fake.calls)
    why = await world.slash("why", {"indicator": "#1"}, user="bob")
    data = (await world.callback(why, mark)).json["data"]
    assert data["flags"] & 64  # private: for the asker alone
    assert data["content"].startswith("#1 ipv4 198\\.51.100.61: score 40 →\nbase 40 from confidence 80")
    assert data["allowed_mentions"] == {"parse": []}
    mark = len(world.fake.calls)
    unknown = await world.slash("why", {"indicator": "#77"}, user="bob")
    data = (await world.callback(unknown, mark)).json["data"]
    assert "\\#77 is not an indicator you can see" in data["content"] and "/ioc why #ID" in data["content"]
    world.assert_running()


async def test_stats_orgs_answers_the_standing_privately(world: World) -> None:
    await submit(world, "198.51.100[.]62")
    mark = len(world.fake.calls)
    stats = await world.slash("stats", {"view": "orgs"}, user="bob")
    data = (await world.callback(stats, mark)).json["data"]
    assert data["flags"] & 64
    assert data["content"].startswith("Standing of each organization (over what you may see)")
    assert "1 submitted · 0 approved · 0 confirmed by others · 0% false positive · median decision none decided" \
        in data["content"]
    world.assert_running()


async def test_search_min_score_keeps_only_the_items_scoring_at_least_that(world: World) -> None:
    await submit(world, "198.51.100[.]63", confidence=80)  # 40
    await submit(world, "198.51.100[.]64", confidence=100)  # 50
    mark = len(world.fake.calls)
    found = await world.slash("search", {"text": "198.51.100", "min_score": 45}, user="bob")
    data = (await world.callback(found, mark)).json["data"]
    assert [e["title"].split(" · ")[0] for e in data["embeds"]] == ["#2"]
    assert field(data["embeds"][0], "Status") == "pending · score 50 →"
    world.assert_running()
