"""Pivots (issue 12) through Discord: `/ioc lookup` answers the related section with the card."""

from __future__ import annotations

from tests.adapters.discord.test_discord_adapter import submit
from tests.adapters.discord.world import World


async def test_a_domain_lookup_shows_what_is_on_it(world: World) -> None:
    await submit(world, "northbank[.]example")
    await submit(world, "hxxps://login.northbank[.]example/verify")
    mark = len(world.fake.calls)
    look = await world.slash("lookup", {"values": "northbank.example"}, user="bob")
    data = (await world.callback(look, mark)).json["data"]
    assert data["embeds"][0]["title"].startswith("#1")
    assert "Related to `northbank.example`:" in data["content"]
    assert "URLs on it (1):" in data["content"]
    assert "`https://login.northbank.example/verify` (#2, pending, TLP:GREEN, confirmed by 0 orgs)" in data["content"]
    assert data["allowed_mentions"] == {"parse": []}
    world.assert_running()
