"""Leaks a review found, kept found: an edit that raises an item's TLP does not rewrite its public copy in a
channel no admin registered (whose ceiling is the policy's default), and a disabled organization's member is told
nothing more."""

from __future__ import annotations

from adapters.console.channel import WORKSPACE
from bot.delivery import remember_posted
from bot.domain import Platform, PostedCard
from tests.e2e.test_lifecycle import World, dms, world  # noqa: F401 (the fixture)


async def test_a_raised_tlp_is_not_pushed_into_an_unregistered_channels_copy(world: World) -> None:  # noqa: F811
    await world.say("alice", "/ioc submit 198.51.100.41 tlp:green")
    await world.say("mod", "/ioc approve #1")
    # a public reply in a channel no admin registered (the default ceiling, GREEN) is kept as a live card
    await remember_posted(world.store.unit_of_work, [PostedCard(Platform.CONSOLE, WORKSPACE, "random", 1, "reply",
                                                                message_id="m1")])
    await world.say("bob", "/ioc vote #1 confirm")
    assert "random" in {channel for channel, _ in world.sink.updated}  # kept up to date while GREEN
    world.sink.updated.clear()
    await world.say("alice", "/ioc edit #1 tlp:amber seen at a victim bank")
    assert "random" not in {channel for channel, _ in world.sink.updated}
    await world.say("bob", "/ioc vote #1 fp")
    assert "random" not in {channel for channel, _ in world.sink.updated}  # nor by any later event


async def test_a_disabled_organizations_member_is_told_nothing_more(world: World) -> None:  # noqa: F811
    await world.say("alice", "/ioc submit 198.51.100.77 tlp:green")
    await world.say("mod", "/ioc approve #1")
    await world.say("admin", "/ioc admin org disable Northbank")
    out = await world.say("mod", "/ioc revoke #1 sinkholed")
    assert "alice" not in dms(out)
