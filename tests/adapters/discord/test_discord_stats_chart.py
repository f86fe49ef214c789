"""`/ioc stats` on Discord (issue 14): the answer carries the chart as a PNG attachment, privately."""

from __future__ import annotations

import asyncio
import re
import struct

from tests.adapters.discord.world import World


async def _answer_with_a_file(world: World, asked: dict, mark: int, timeout: float = 20.0):  # noqa: ASYNC109
    """The interaction's answer that carries a file: its callback, or the edit of its deferred response."""
    paths = (rf"/interactions/{asked['id']}/{asked['token']}/callback", r"/webhooks/\d+/.+")
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for call in world.fake.calls[mark:]:
            if call.files and any(re.fullmatch(p, call.path) for p in paths):
                return call
        await asyncio.sleep(0.05)
    raise AssertionError("no answer with a file")


async def test_stats_answers_with_the_chart_attached(world: World) -> None:
    await world.slash("submit", {"values": "evil-one.example", "tags": "phishing"}, user="alice")
    mark = len(world.fake.calls)
    asked = await world.slash("stats", {}, user="bob")
    answer = await _answer_with_a_file(world, asked, mark)
    (name, data), = answer.files.values()
    assert name == "coalition-stats.png" and data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1100, 650) and len(data) <= 200 * 1024
    flags = (answer.json.get("data") or answer.json).get("flags", 0)
    assert answer.method == "PATCH" or flags & 64  # an ephemeral answer, or the edit of an ephemeral defer
    world.assert_running()
