"""The weekly digest on Discord (issue 14): a message with the chart attached in each feed channel, saying the
numbers that channel may see, delivered by the running adapter's own deliverer; a retry finds it by its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.config import DigestSettings, Settings
from adapters.discord.delivery import DiscordSink
from adapters.ops import weekly_digest_once
from adapters.runtime import Runtime
from bot.domain import Channel, ChannelPurpose, Platform
from bot.tlp import TLP
from bot.weekly_schedule import DAYS
from tests.adapters.discord.world import FEED, GENERAL, MODERATION, World
from tests.e2e.weekly_seed import AMBER_APPROVED, AMBER_SUBMITTED, GREEN_APPROVED, GREEN_SUBMITTED, feeds, seed_week

PNG = b"\x89PNG\r\n\x1a\n"


async def test_each_feed_channel_gets_a_message_with_the_chart(world: World) -> None:
    channels = feeds(Platform.DISCORD, "discord", str(GENERAL), str(FEED), str(MODERATION))  # GENERAL as a GREEN feed
    await seed_week(world.store, world.runtime.dispatcher, channels,
                    users=("900000000000000101", "900000000000000102"))
    now = datetime.now(UTC)
    mark = len(world.fake.calls)
    due_now = Settings(digest=DigestSettings(weekly=True, day=DAYS[now.weekday()], hour=now.hour))
    assert await weekly_digest_once(Runtime(due_now, world.store, world.runtime.dispatcher)) == 1
    posted = {}
    for channel in (GENERAL, FEED):
        call = await world.fake.wait_for_call("POST", rf"/channels/{channel}/messages", after=mark,
                                              predicate=lambda c: bool(c.files), timeout=30)
        ((filename, data),) = call.files.values()
        assert filename == f"coalition-weekly-{now.date().isoformat()}.png" and data.startswith(PNG)
        posted[channel] = call.json["content"]
    green, amber = posted[GENERAL], posted[FEED]
    assert f": {GREEN_SUBMITTED} submitted, {GREEN_APPROVED} approved;" in green
    assert f": {AMBER_SUBMITTED} submitted, {AMBER_APPROVED} approved;" in amber
    assert "ambertag" in amber and "ambertag" not in green
    for text in (green, amber):
        assert "redtag" not in text and "stricttag" not in text and "a coalition member 1" in text
        assert text.splitlines()[-1].startswith("-# delivery ")
    uploads = [c for c in world.fake.calls[mark:] if c.method == "POST" and c.files]
    assert sorted(int(c.path.split("/")[2]) for c in uploads) == sorted([GENERAL, FEED])  # nowhere else


async def test_a_posted_file_is_found_by_its_key(world: World) -> None:
    sink = DiscordSink(world.client)
    feed = Channel(Platform.DISCORD, "discord", str(FEED), TLP.GREEN, ChannelPurpose.FEED)
    started = datetime.now(UTC) - timedelta(seconds=1)
    message_id = await sink.post_file(feed, "coalition-weekly-2026-11-02.png", PNG, "Weekly digest @everyone",
                                      key="91:discord:7")
    world.fake.chatter(FEED, 150)
    assert await sink.find_posted(feed, ["91:discord:7", "92:discord:7"], started) == {"91:discord:7": message_id}
    call = next(c for c in reversed(world.fake.calls) if c.method == "POST" and c.files)
    assert call.json["allowed_mentions"]["parse"] == []  # a name in the numbers never pings
