"""Watch alerts on Discord (issue 12): `/ioc watch` through the real client against the fake Discord; the watcher
is told in a direct message, never of what they may not see."""

from __future__ import annotations

import asyncio
import json

from bot.dispatcher import utc_now
from tests.adapters.discord.world import USERS, World


async def _dm_messages(world: World, user: str, after: int) -> list[str]:
    channel = world.fake.dm_channels.get(USERS[user])
    if channel is None:
        return []
    return [json.dumps(c.json) for c in world.fake.calls_to("POST", rf"/channels/{channel}/messages", after=after)]


async def _drained(world: World, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Until every outbox row is delivered (so that a message that should not exist had its chance)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with world.store.unit_of_work(read_only=True) as uow:
            if not await uow.outbox.pending_stats(utc_now()):
                return
        assert asyncio.get_running_loop().time() < deadline, "the outbox was not drained"
        await asyncio.sleep(0.05)


async def test_a_watcher_is_told_in_a_direct_message(world: World) -> None:
    mark = len(world.fake.calls)
    added = await world.slash("watch", {"action": "add", "target": "198.51.100.0/24", "options": "our range"},
                              user="bob")
    call = await world.callback(added, mark)
    assert "Watching 198.51.100.0/24 (W1)" in call.json["data"]["content"].replace("\\", "")  # markdown-escaped
    mark = len(world.fake.calls)
    await world.slash("submit", {"values": "198.51.100.7"}, user="alice")
    dm = await world.fake.wait_for_call(
        "POST", r"/channels/\d+/messages", after=mark,
        predicate=lambda c: "Your watch W1" in json.dumps(c.json))
    assert int(dm.path.split("/")[2]) == world.fake.dm_channels[USERS["bob"]]
    assert "198.51.100.7" in json.dumps(dm.json)
    # an AMBER+STRICT item of Northbank inside the range: bob (Sentinel) is never told, not even a count
    mark = len(world.fake.calls)
    await world.slash("submit", {"values": "198.51.100.8", "tlp": "amber+strict"}, user="alice")
    await world.slash("submit", {"values": "198.51.100.9"}, user="alice")  # and one he may see, after it
    bob_dm = world.fake.dm_channels[USERS["bob"]]
    await world.fake.wait_for_call("POST", rf"/channels/{bob_dm}/messages", after=mark,
                                   predicate=lambda c: "198.51.100.9" in json.dumps(c.json))
    await _drained(world)
    told = await _dm_messages(world, "bob", mark)
    assert len(told) == 1 and "198.51.100.9" in told[0] and "198.51.100.8" not in " ".join(told)
    world.assert_running()
