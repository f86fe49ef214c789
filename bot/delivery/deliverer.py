"""The loop that delivers one platform's rows: claims with leases, reserves posts under delivery keys, finds what a
killed attempt posted, retries with backoff, parks what keeps failing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.alerts import WatchCache
from bot.domain import (
    Channel,
    Identity,
    OutboxEvent,
    PostedCard,
    PostedCaseCard,
    StatsTrends,
)
from bot.ports import Clock, StoreUnavailable, UnitOfWorkFactory
from bot.score import ScoreModel
from bot.tlp import TLP

from .lanes import kind_of, lane_payload, origin_id, retried
from .planning import plan
from .sink import (
    Delivery,
    DeliveryError,
    DeliverySink,
    Notify,
    PostCard,
    PostCaseCard,
    PostComment,
    PostFile,
    PostText,
    Serving,
    UpdateCard,
    UpdateCaseCard,
    WorkspaceRefused,
)

log = logging.getLogger(__name__)

_Reserved = dict[str, tuple[PostedCard | PostedCaseCard, datetime | None]]  # by delivery key: record, first start


@dataclass
class _Outcome:
    delivered: list[int] = field(default_factory=list)
    failed: dict[int, Exception] = field(default_factory=dict)


@dataclass
class _Route:
    """Where one row's deliveries go: those made here, the workspaces left to another process (one lane row
    each), and those dropped (workspace -> reason and how many posts, edits, notices)."""

    here: list[Delivery] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    dropped: dict[str, tuple[str, Counter[str]]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # workspace -> why, refused during this attempt
    error: Exception | None = None  # a lane row for a workspace this sink does not serve: not delivered here

    def drop(self, workspace_id: str, reason: str, delivery: Delivery) -> None:
        _, counts = self.dropped.setdefault(workspace_id, (reason, Counter()))
        counts[kind_of(delivery)] += 1


NOT_INSTALLED = "no installation serves this workspace (not installed, uninstalled, or its token revoked)"


class _Recorder:
    """Records each post's message id right after the post (a process killed later has nothing to find again).
    Posts that finish while a record is being written are written together in the next transaction."""

    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self.uow_factory = uow_factory
        self.pending: list[tuple[bool, int, str]] = []  # (a case's card?, record id, message id)
        self.lock = asyncio.Lock()

    async def record(self, posted_card_id: int, message_id: str, *, case: bool = False) -> None:
        self.pending.append((case, posted_card_id, message_id))
        async with self.lock:
            if not self.pending:  # written by the transaction that held the lock before
                return
            batch, self.pending = self.pending, []
            async with self.uow_factory() as uow:
                await uow.posted_cards.set_messages([(i, m) for is_case, i, m in batch if not is_case])
                await uow.posted_cards.set_case_messages([(i, m) for is_case, i, m in batch if is_case])
                await uow.commit()


class _Lease:
    """Keeps a claimed batch leased while it is delivered: a live deliverer's rows are never taken over,
    a killed one's come back one lease after its last renewal."""

    def __init__(self, deliverer: Deliverer, events: Sequence[OutboxEvent], until: datetime) -> None:
        self.deliverer, self.ids, self.until = deliverer, [e.id for e in events], until
        self.lost = False  # another deliverer took rows over (this one stalled past its lease): stop posting
        self.task = asyncio.create_task(self._renew(), name=f"{deliverer.platform}-lease")

    async def _renew(self) -> None:
        d = self.deliverer
        while True:  # renewed when a third of the lease has run (at once if claiming it took that long)
            left = (self.until - d.clock()).total_seconds()
            await asyncio.sleep(max(0.0, left - d.lease.total_seconds() * 2 / 3))
            until = d.clock() + d.lease
            try:
                async with d.uow_factory() as uow:
                    kept = await uow.outbox.extend(self.ids, self.until, until)
                    await uow.commit()
                self.until = until
                if kept < len(self.ids) and not self.lost:
                    self.lost = True
                    log.warning("%s deliverer: stalled past its lease; %s rows went to another deliverer, the rest "
                                "of this batch is left to it", d.platform, len(self.ids) - kept)
            except Exception:  # the next renewal tries again; the lease itself is the safety net
                log.warning("%s deliverer: could not renew its lease", d.platform, exc_info=True)

    async def release(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


class Deliverer:
    """Delivers one platform's outbox rows through its sink; several may run over one database."""

    def __init__(self, uow_factory: UnitOfWorkFactory, sink: DeliverySink, *, clock: Clock,
                 lease: timedelta = timedelta(seconds=60), batch: int = 50, max_attempts: int = 8,
                 poll_interval: float = 1.0, max_backoff: float = 300.0, concurrency: int = 16,
                 clock_skew: timedelta = timedelta(seconds=30),
                 chart: Callable[[StatsTrends], bytes] | None = None, score_model: ScoreModel | None = None,
                 default_ceiling: TLP = TLP.GREEN) -> None:
        self.uow_factory = uow_factory
        self.sink = sink
        self.platform = sink.platform
        self.clock = clock
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.concurrency = concurrency  # indicators delivered at once (each one's events stay in order)
        self.clock_skew = clock_skew  # how far the platform's clock may be behind ours: searches start this early
        self.default_ceiling = default_ceiling  # of channels no admin registered (the policy's)
        self.wakeup = asyncio.Event()
        self.observers: list[Callable[[str, OutboxEvent], None]] = []  # (delivered | retry | parked, event)
        self.watches = WatchCache()  # every watch, reloaded when they change: alerts are planned with the rows
        self.chart = chart  # draws the weekly digest's picture (adapters.charts.stats_png); None: its text only
        self.score_model = score_model  # the cards' scores (`[score]`, bot.policy.Policy.score_model)

    def nudge(self) -> None:
        """Something was just committed: deliver now rather than at the next poll."""
        self.wakeup.set()

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many rows were claimed.

        One transaction claims the batch, one read plans it, one reserves its posts (with their start time), one
        marks the delivered rows; each post's message id is recorded right after the post. The platform calls run
        concurrently across indicators and in order for each indicator, while the batch's lease is renewed."""
        now = self.clock()
        async with self.uow_factory() as uow:
            events = await uow.outbox.claim(self.platform, now, self.lease, self.batch,
                                            workspaces=getattr(self.sink, "workspaces", None))
            await uow.commit()
        if not events:
            return 0
        lease = _Lease(self, events, now + self.lease)
        try:
            return await self._deliver(events, lease)
        finally:
            await lease.release()

    async def _deliver(self, events: Sequence[OutboxEvent], lease: _Lease) -> int:
        try:
            async with self.uow_factory(read_only=True) as uow:
                plans = await plan(uow, events, self.clock(), self.watches, self.score_model, self.default_ceiling)
            routes = await self._route(events, plans)
            intents = [PostedCard(self.platform, d.channel.workspace_id, d.channel.channel_id, d.card.indicator.id,
                                  d.channel.purpose.value, delivery_key=d.key)
                       for route in routes.values() for d in route.here if isinstance(d, PostCard)]
            case_intents = [PostedCaseCard(self.platform, d.channel.workspace_id, d.channel.channel_id, d.card.case.id,
                                           d.ceiling, delivery_key=d.key)
                            for route in routes.values() for d in route.here if isinstance(d, PostCaseCard)]
            async with self.uow_factory() as uow:
                reserved: _Reserved = {
                    **await uow.posted_cards.reserve(intents), **await uow.posted_cards.reserve_cases(case_intents)}
                for event in events:  # the alerts planned: a later event within the hour does not repeat them
                    pairs = [d.watch_alert for d in plans.get(event.id, ())
                             if isinstance(d, PostCard | Notify) and d.watch_alert]
                    if pairs:
                        await uow.watches.mark_alerted(pairs, self.platform.value, event.created_at,
                                                       origin_id(event))
                await uow.commit()
        except Exception as e:
            for event in events:
                await self._failed(event, e)
            return len(events)
        try:
            found = await self._find_earlier(events, routes, reserved)
        except Exception as e:
            for event in events:
                await self._failed(event, e)
            return len(events)
        outcome, recorder = _Outcome(), _Recorder(self.uow_factory)
        by_indicator: dict[object, list[OutboxEvent]] = {}
        for event in events:
            by_indicator.setdefault(event.payload.get("indicator_id", event.id), []).append(event)
        limit = asyncio.Semaphore(self.concurrency)

        async def deliver_in_order(group: list[OutboxEvent]) -> None:
            async with limit:
                for event in group:
                    if lease.lost:  # not ours any more (nor marked delivered or failed here)
                        return
                    route = routes[event.id]
                    try:
                        if route.error is not None:
                            raise route.error
                        for delivery in route.here:
                            await self._execute_in_workspace(delivery, route, reserved, found, recorder)
                    except Exception as e:
                        outcome.failed[event.id] = e
                    else:
                        outcome.delivered.append(event.id)

        await asyncio.gather(*(deliver_in_order(group) for group in by_indicator.values()))
        delivered = [e for e in events if e.id in set(outcome.delivered)]
        now = self.clock()
        async with self.uow_factory() as uow:  # the rows, their lanes and their drops: one transaction
            await uow.outbox.delivered(outcome.delivered, now)
            for event in delivered:
                route = routes[event.id]
                if route.elsewhere:
                    await uow.outbox.add_lanes(event, lane_payload(event), route.elsewhere, now)
                for workspace_id, (reason, counts) in sorted(route.dropped.items()):
                    await uow.audit.append("delivery.dropped", at=now, platform=self.platform, member_id=None,
                                           indicator_id=_indicator_of(event),
                                           detail={"outbox_id": event.id, "event": event.event,
                                                   "workspace": workspace_id, "reason": reason,
                                                   "posts": counts["posts"], "edits": counts["edits"],
                                                   "notices": counts["notices"]})
            await uow.commit()
        for event in delivered:
            route = routes[event.id]
            for workspace_id, (reason, counts) in sorted(route.dropped.items()):
                log.warning("%s delivery of outbox row %s (%s) to workspace %s dropped: %s (%s posts, %s edits, "
                            "%s notices)", self.platform, event.id, event.event, workspace_id, reason,
                            counts["posts"], counts["edits"], counts["notices"])
            if route.elsewhere:
                log.info("%s outbox row %s: left to the processes serving %s (one lane row each)", self.platform,
                         event.id, ", ".join(route.elsewhere))
        for event in events:
            if event.id in outcome.failed:
                await self._failed(event, outcome.failed[event.id])
            elif event.id in outcome.delivered:
                self._observe("delivered", event)
        return len(events)

    async def _route(self, events: Sequence[OutboxEvent], plans: dict[int, list[Delivery]]) -> dict[int, _Route]:
        """Split each row's deliveries by whether this sink serves their workspace (asked once per workspace)."""
        serves = getattr(self.sink, "serves", None)
        serving: dict[str, Serving] = {}
        for workspace_id in sorted({d.workspace_id for deliveries in plans.values() for d in deliveries}):
            serving[workspace_id] = Serving.HERE if serves is None else await serves(workspace_id)
        routes: dict[int, _Route] = {}
        for event in events:
            route = routes[event.id] = _Route()
            for delivery in plans.get(event.id, []):
                where = delivery.workspace_id
                if serving[where] is Serving.HERE:
                    route.here.append(delivery)
                elif serving[where] is Serving.NOWHERE:
                    route.drop(where, NOT_INSTALLED, delivery)
                elif event.workspace_id is None:
                    if where not in route.elsewhere:
                        route.elsewhere.append(where)
                else:  # claimed by a sink that says it does not serve the row's own lane: leave it to the next
                    route.error = DeliveryError(f"workspace {where} is not served by this process")
        return routes

    async def _execute_in_workspace(self, delivery: Delivery, route: _Route,
                                    reserved: _Reserved,
                                    found: dict[str, str], recorder: _Recorder) -> None:
        """One delivery, unless its workspace refused this sink's credentials for good earlier in the row: then it
        is dropped with the rest of the workspace's part (the other workspaces' deliveries go on)."""
        where = delivery.workspace_id
        if where in route.refused:
            route.drop(where, route.refused[where], delivery)
            return
        try:
            await self._execute(delivery, reserved, found, recorder)
        except WorkspaceRefused as e:
            route.refused[where] = f"the platform refused the workspace's credentials: {e.reason}"
            route.drop(where, route.refused[where], delivery)

    async def drain(self) -> None:
        while await self.run_once():
            pass

    async def run_forever(self, stopping: Callable[[], bool] = lambda: False) -> None:
        while not stopping():
            self.wakeup.clear()  # before the round: a nudge during it (a commit, a NOTIFY, stop) is not lost
            try:
                claimed = await self.run_once()
            except StoreUnavailable as e:  # a database outage: one line, no traceback; the next round tries again
                log.warning("%s deliverer: the store is unavailable (%s)", self.platform, e.reason)
                claimed = 0
            except Exception:
                log.exception("%s deliverer: a round failed", self.platform)
                claimed = 0
            if claimed < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_interval)

    def _observe(self, outcome: str, event: OutboxEvent) -> None:
        for observer in self.observers:
            observer(outcome, event)

    async def _find_earlier(self, events: Sequence[OutboxEvent], routes: dict[int, _Route],
                            reserved: _Reserved) -> dict[str, str]:
        """The posts of this batch that an earlier, killed attempt made but did not record: key -> message id.
        One search per channel (or direct message channel) from the earliest start among its keys."""
        wanted: dict[object, tuple[Channel | Identity | PostedCard, list[str], datetime]] = {}

        def want(where: Channel | Identity | PostedCard, key: str, started: datetime) -> None:
            target = (where.platform, where.workspace_id,
                      where.channel_id if isinstance(where, Channel) else ("dm", where.user_id)
                      if isinstance(where, Identity) else ("thread", where.channel_id, where.message_id))
            _, keys, since = wanted.setdefault(target, (where, [], started))
            keys.append(key)
            if started < since:
                wanted[target] = (where, keys, started)

        for event in events:
            for d in routes[event.id].here:
                if isinstance(d, PostCard | PostCaseCard):
                    posted, started = reserved[d.key]
                    if posted.message_id is None and started is not None:
                        want(d.channel, d.key, started)
                # a comment in a card's thread, like a notice: an earlier attempt posted it, if at all, in the
                # thread after the event was written
                elif isinstance(d, PostComment) and retried(event):
                    want(d.posted, d.key, event.created_at)
                # notices and lines keep no record of their own: an earlier attempt of the event (or of the row a
                # lane row came from) posted them, if at all, after the event was written
                elif isinstance(d, Notify) and retried(event):
                    want(d.identity, d.key, event.created_at)
                elif isinstance(d, PostText | PostFile) and retried(event):
                    want(d.channel, d.key, event.created_at)
        found: dict[str, str] = {}
        for where, keys, since in wanted.values():
            try:
                found.update(await self.sink.find_posted(where, keys, since - self.clock_skew))
            except WorkspaceRefused:  # its deliveries are refused (and dropped) when they are made
                continue
        if found:
            log.info("%s deliverer: %s posts of a killed attempt found, not posted again", self.platform, len(found))
        return found

    async def _execute(self, delivery: Delivery, reserved: _Reserved,
                       found: dict[str, str], recorder: _Recorder) -> None:
        if isinstance(delivery, UpdateCard):
            await self.sink.update_card(delivery.posted, delivery.card)
        elif isinstance(delivery, UpdateCaseCard):
            await self.sink.update_case_card(delivery.posted, delivery.card)
        elif isinstance(delivery, PostComment):
            if delivery.key not in found:
                await self.sink.post_comment(delivery.posted, delivery.comment, key=delivery.key)
        elif isinstance(delivery, PostCaseCard):
            case_copy, _ = reserved[delivery.key]
            assert isinstance(case_copy, PostedCaseCard)
            if case_copy.message_id is not None:  # posted and recorded by an earlier attempt: bring it up to date
                await self.sink.update_case_card(case_copy, delivery.card)
                return
            message_id = found.get(delivery.key) or await self.sink.post_case_card(
                delivery.channel, delivery.card, key=delivery.key)
            await recorder.record(case_copy.id, message_id, case=True)
        elif isinstance(delivery, Notify):
            if delivery.key not in found:
                await self.sink.notify(delivery.identity, delivery.notice, key=delivery.key)
        elif isinstance(delivery, PostText):
            if delivery.key not in found:
                await self.sink.post_text(delivery.channel, delivery.text, key=delivery.key)
        elif isinstance(delivery, PostFile):
            if delivery.key in found:
                return
            if self.chart is None:
                await self.sink.post_text(delivery.channel, delivery.text, key=delivery.key)
                return
            data = await asyncio.to_thread(self.chart, delivery.trends)  # a few hundred ms: off the event loop
            await self.sink.post_file(delivery.channel, delivery.filename, data, delivery.text, key=delivery.key)
        else:
            posted, _ = reserved[delivery.key]
            assert isinstance(posted, PostedCard)
            if posted.message_id is not None:  # posted and recorded by an earlier attempt: bring it up to date
                await self.sink.update_card(posted, delivery.card)
                return
            message_id = found.get(delivery.key) or await self.sink.post_card(
                delivery.channel, delivery.card, headline=delivery.headline, key=delivery.key)
            await recorder.record(posted.id, message_id)

    async def _failed(self, event: OutboxEvent, error: Exception) -> None:
        now = self.clock()
        text = f"{type(error).__name__}: {error}"[:500]
        async with self.uow_factory() as uow:
            if event.attempts >= self.max_attempts:
                log.error("%s delivery of outbox row %s parked after %s attempts: %s", self.platform, event.id,
                          event.attempts, text)
                await uow.outbox.park(event.id, text, now)
                outcome = "parked"
            else:
                delay = error.retry_after if isinstance(error, DeliveryError) and error.retry_after else \
                    min(self.max_backoff, 2.0 ** event.attempts)
                log.warning("%s delivery of outbox row %s failed (attempt %s), again in %.1fs: %s", self.platform,
                            event.id, event.attempts, delay, text)
                await uow.outbox.retry_later(event.id, text, now + timedelta(seconds=delay))
                outcome = "retry"
            await uow.commit()
        self._observe(outcome, event)


def _indicator_of(event: OutboxEvent) -> int | None:
    value = event.payload.get("indicator_id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


async def remember_posted(uow_factory: UnitOfWorkFactory, cards: list[PostedCard]) -> None:
    """An adapter posted these cards as a public reply: keep them, so that they are edited when their
    indicators change."""
    if not cards:
        return
    async with uow_factory() as uow:
        for card in cards:
            await uow.posted_cards.add(card)
        await uow.commit()
