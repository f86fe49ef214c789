"""A deliverer keeps the rows it is delivering (it renews their lease while it works), and one that stalled past
its lease stops posting the rows another deliverer took over: a slow deliverer is never a double post."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from adapters.console.demo import WORKSPACE, seed
from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, PostedCard
from bot.results import IndicatorCard, Notice
from bot.tlp import TLP
from storage.models import OutboxRow

PLATFORM = Platform.SLACK
LEASE = timedelta(seconds=0.6)


def now() -> datetime:
    return datetime.now(UTC)


class SlowPlatform:
    """Posts wait until the test lets them through; it records every post by delivery key."""

    platform = PLATFORM

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.gate = asyncio.Event()
        self.waiting = 0

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        self.waiting += 1
        await self.gate.wait()
        self.posts.append(key)
        return f"m{len(self.posts)}"

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        return None

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        return None

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        return "t"

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        return {}


async def _approved(store, n: int) -> None:
    dispatcher = Dispatcher(store.unit_of_work, delivery_platforms=(PLATFORM,))
    await seed(store, dispatcher, samples=False)
    async with store.unit_of_work() as uow:
        await uow.channels.upsert(Channel(PLATFORM, "T1", "C-feed", TLP.GREEN, ChannelPurpose.FEED))
        for name in ("alice", "mod"):
            member = await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, name))
            await uow.members.link_identity(member.id, Identity(PLATFORM, "T1", f"U-{name}"))
        await uow.commit()
    values = " ".join(f"lease-{i}.example" for i in range(n))
    await dispatcher.handle_text(f"submit {values} tlp:green", Actor(PLATFORM, "T1", "U-alice", "D1", private=True))
    refs = " ".join(f"#{i}" for i in range(1, n + 1))
    await dispatcher.handle_text(f"approve {refs}", Actor(PLATFORM, "T1", "U-mod", "D2", private=True))


async def _pending(store) -> int:
    async with store.unit_of_work(read_only=True) as uow:
        return (await uow.outbox.pending_stats(now())).get(PLATFORM.value, (0, 0))[0]


async def test_a_working_deliverer_keeps_its_rows_past_the_first_lease(sqlite_store) -> None:
    await _approved(sqlite_store, 3)
    slow = SlowPlatform()
    first = Deliverer(sqlite_store.unit_of_work, slow, clock=now, lease=LEASE, concurrency=1)
    working = asyncio.create_task(first.run_once())
    while slow.waiting == 0:  # noqa: ASYNC110 - the deliverer reaches its first post
        await asyncio.sleep(0.01)
    await asyncio.sleep(LEASE.total_seconds() * 3)  # three leases: renewed, not expired
    async with sqlite_store.unit_of_work() as uow:
        assert await uow.outbox.claim(PLATFORM, now(), LEASE, 50) == []
        await uow.commit()
    slow.gate.set()
    assert await working >= 1
    assert len(slow.posts) == len(set(slow.posts)) == 3 and await _pending(sqlite_store) == 0


async def test_a_deliverer_that_lost_its_lease_stops_posting(sqlite_store) -> None:
    await _approved(sqlite_store, 3)
    slow = SlowPlatform()
    stalled = Deliverer(sqlite_store.unit_of_work, slow, clock=now, lease=LEASE, concurrency=1)
    working = asyncio.create_task(stalled.run_once())
    while slow.waiting == 0:  # noqa: ASYNC110 - the deliverer reaches its first post
        await asyncio.sleep(0.01)
    async with sqlite_store.unit_of_work() as uow:  # as if it had stalled past its lease: the rows are due
        await uow._session.execute(update(OutboxRow).values(available_at=now() - timedelta(seconds=1)))
        taken = await uow.outbox.claim(PLATFORM, now(), timedelta(minutes=5), 50)  # another deliverer has them
        await uow.commit()
    assert len(taken) >= 1
    await asyncio.sleep(LEASE.total_seconds())  # its next renewal finds out
    slow.gate.set()
    await working
    assert len(slow.posts) == 1  # the one in flight when it found out; none after
    # it marks delivered only what it finished (#1's submission, nothing to post, and #1's approval, the post in
    # flight); the other rows are left to the deliverer that took them
    assert len(taken) == 6 and await _pending(sqlite_store) == 4
