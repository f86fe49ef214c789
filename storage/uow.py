"""The unit of work (one transaction) and the Store that owns the engine and hands units of work out."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.engine import PG_CONNECT_TIMEOUT, READ_ONLY, make_engine, safe_url, translate, unavailable_reason

if TYPE_CHECKING:
    import asyncpg

    from storage.repositories.activity import SqlSightingRepository, SqlVoteRepository
    from storage.repositories.api_keys import SqlApiKeyRepository
    from storage.repositories.audit import SqlAuditLog
    from storage.repositories.blocklists import SqlBlocklistRepository
    from storage.repositories.channels import SqlChannelRepository
    from storage.repositories.context import SqlContextRepository
    from storage.repositories.delivery import SqlOutbox, SqlPostedCards
    from storage.repositories.exchange import SqlExchangeRepository
    from storage.repositories.indicators import SqlIndicatorRepository
    from storage.repositories.misp import SqlMispRepository
    from storage.repositories.people import SqlInviteRepository, SqlMemberRepository, SqlOrganizationRepository
    from storage.repositories.secrets import SqlSecretRepository
    from storage.repositories.statistics import SqlStatisticsRepository
    from storage.repositories.watches import SqlWatchRepository
    from storage.repositories.weekly_digests import SqlWeeklyDigestRepository

OUTBOX_CHANNEL = "coalition_outbox"  # PostgreSQL NOTIFY channel: outbox rows were committed
log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
R = TypeVar("R")


def utc_now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    """JSON for audit details and outbox payloads: datetimes as ISO 8601, enums as their values."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


class _Repository(Generic[R]):
    """A unit of work's repository, made on first use in it (and kept): its module is loaded then, so a command
    that touches three aggregates does not load the code of twenty."""

    def __init__(self, where: str) -> None:
        """`where`: "module.ClassName" in storage.repositories."""
        module, self.name = where.rsplit(".", 1)
        self.module = f"storage.repositories.{module}"

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    @overload
    def __get__(self, uow: None, owner: type) -> Self: ...
    @overload
    def __get__(self, uow: SqlUnitOfWork, owner: type) -> R: ...

    def __get__(self, uow: SqlUnitOfWork | None, owner: type) -> R | Self:
        if uow is None:
            return self
        repository_class = getattr(importlib.import_module(self.module), self.name)
        # kept in the instance's __dict__, which a non-data descriptor yields to from then on
        repository: R = repository_class(uow.session, uow.clock)
        uow.__dict__[self.attribute] = repository
        return repository


class SqlUnitOfWork:
    """One transaction. ``async with store.unit_of_work() as uow: ...; await uow.commit()``.

    Leaving the block without ``commit()`` (or by an exception) rolls everything back.
    """

    organizations: _Repository[SqlOrganizationRepository] = _Repository("people.SqlOrganizationRepository")
    members: _Repository[SqlMemberRepository] = _Repository("people.SqlMemberRepository")
    invites: _Repository[SqlInviteRepository] = _Repository("people.SqlInviteRepository")
    indicators: _Repository[SqlIndicatorRepository] = _Repository("indicators.SqlIndicatorRepository")
    votes: _Repository[SqlVoteRepository] = _Repository("activity.SqlVoteRepository")
    sightings: _Repository[SqlSightingRepository] = _Repository("activity.SqlSightingRepository")
    channels: _Repository[SqlChannelRepository] = _Repository("channels.SqlChannelRepository")
    audit: _Repository[SqlAuditLog] = _Repository("audit.SqlAuditLog")
    outbox: _Repository[SqlOutbox] = _Repository("delivery.SqlOutbox")
    posted_cards: _Repository[SqlPostedCards] = _Repository("delivery.SqlPostedCards")
    exchange: _Repository[SqlExchangeRepository] = _Repository("exchange.SqlExchangeRepository")  # STIX/TAXII
    api_keys: _Repository[SqlApiKeyRepository] = _Repository("api_keys.SqlApiKeyRepository")
    secrets: _Repository[SqlSecretRepository] = _Repository("secrets.SqlSecretRepository")
    watches: _Repository[SqlWatchRepository] = _Repository("watches.SqlWatchRepository")
    blocklists: _Repository[SqlBlocklistRepository] = _Repository("blocklists.SqlBlocklistRepository")
    misp: _Repository[SqlMispRepository] = _Repository("misp.SqlMispRepository")
    context: _Repository[SqlContextRepository] = _Repository("context.SqlContextRepository")
    statistics: _Repository[SqlStatisticsRepository] = _Repository("statistics.SqlStatisticsRepository")
    weekly_digests: _Repository[SqlWeeklyDigestRepository] = _Repository("weekly_digests.SqlWeeklyDigestRepository")

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock = utc_now, *,
                 read_only: bool = False) -> None:
        self._session_factory = session_factory
        self.clock = clock
        self.read_only = read_only
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use 'async with'")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work cannot be entered twice")
        session = self._session_factory()
        self._session = session
        if self.read_only:
            try:
                await session.connection(execution_options={READ_ONLY: True})
            except Exception as e:
                await self._close_quietly()
                unavailable = translate(e)
                if unavailable is None:
                    raise
                raise unavailable from e
        return self

    async def __aexit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        # A database outage, however it surfaced inside the block, leaves as the core's `StoreUnavailable`.
        failure = await self._close_quietly()  # rollback: a no-op after commit(); discards anything uncommitted
        if error is not None:
            unavailable = translate(error)
            if unavailable is not None:
                raise unavailable from error
            return  # the block's own error goes on; a failed rollback after it adds nothing
        if failure is not None:
            unavailable = translate(failure)
            if unavailable is not None:
                raise unavailable from failure
            raise failure

    async def _close_quietly(self) -> BaseException | None:
        """Roll back and close; the first exception is returned (over a lost connection both may fail)."""
        session, failure = self.session, None
        for step in (session.rollback, session.close):
            try:
                await step()
            except Exception as e:
                failure = failure or e
        return failure

    async def commit(self) -> None:
        try:
            if "outbox" in self.__dict__ and self.outbox.written and self.session.bind.dialect.name == "postgresql":
                # Delivered with the commit: deliverers in other processes wake up now, not at their next poll.
                await self.session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
            await self.session.commit()
        except Exception as e:
            unavailable = translate(e)
            if unavailable is None:
                raise
            raise unavailable from e

    async def rollback(self) -> None:
        await self.session.rollback()


class Store:
    """Owns the engine; ``store.unit_of_work`` is the core's ``UnitOfWorkFactory``."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self.sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions, self.clock, read_only=read_only)

    async def close(self) -> None:
        await self.engine.dispose()

    async def on_outbox_rows(self, wake: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        """Call `wake` whenever another process commits outbox rows (PostgreSQL LISTEN); returns the coroutine
        function that stops listening. On SQLite there is nothing to listen to: deliverers poll."""
        if self.dialect != "postgresql":
            async def nothing() -> None:
                return None
            return nothing
        return await _OutboxListener(self.engine.url.set(drivername="postgresql"), wake).start()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"Store({safe_url(self.engine.url)})"


class _OutboxListener:
    """LISTEN on the outbox channel, again after every lost connection (a database restart, a failover): it
    reconnects with backoff, one warning line per failed attempt, and wakes the deliverers once listening again
    (rows may have been committed meanwhile). Deliverers poll anyway; this only keeps the wake-ups coming."""

    def __init__(self, url: Any, wake: Callable[[], None]) -> None:
        self.dsn = url.render_as_string(hide_password=False)
        self.shown = safe_url(url)
        self.wake = wake
        self.connection: asyncpg.Connection | None = None
        self.task: asyncio.Task[None] | None = None
        self.stopped = False

    async def start(self) -> Callable[[], Awaitable[None]]:
        try:
            await self._connect()
        except Exception as e:
            if unavailable_reason(e) is None:
                raise  # not an outage (a wrong role, a bad URL): that goes up
            # The adapters serve already: a database gone since `run` saw it answer is an outage to ride out like
            # any later one, not a reason to stop the process.
            self._lost(None)
        return self.stop

    async def _connect(self) -> None:
        import asyncpg  # PostgreSQL only: a SQLite store never loads the driver

        connection = await asyncpg.connect(self.dsn, timeout=PG_CONNECT_TIMEOUT)
        await connection.add_listener(OUTBOX_CHANNEL, lambda *_: self.wake())
        connection.add_termination_listener(self._lost)
        self.connection = connection

    def _lost(self, _connection: object) -> None:
        self.connection = None
        if not self.stopped and (self.task is None or self.task.done()):
            self.task = asyncio.get_running_loop().create_task(self._reconnect(), name="outbox-listen")

    async def _reconnect(self) -> None:
        delay = 1.0
        while not self.stopped:
            try:
                await self._connect()
            except Exception as e:
                reason = unavailable_reason(e) or type(e).__name__
                log.warning("outbox notifications from %s lost (%s); listening again in %.0fs", self.shown, reason,
                            delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)
                continue
            log.info("outbox notifications from %s: listening again", self.shown)
            self.wake()
            return

    async def stop(self) -> None:
        self.stopped = True
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.close(timeout=5)


def create_store(url: str, *, echo: bool = False, clock: Clock = utc_now, **engine_kwargs: Any) -> Store:
    """A Store for ``sqlite:///path.db``, ``sqlite+aiosqlite:///...``, ``postgresql://...`` (asyncpg).

    The schema is not created here: run ``storage.migrate.upgrade(url)`` first (the CLI does at start-up).
    """
    engine = make_engine(url, echo=echo, json_serializer=json_dumps, **engine_kwargs)
    log.info("store opened on %s", safe_url(engine.url))
    return Store(engine, clock=clock)
