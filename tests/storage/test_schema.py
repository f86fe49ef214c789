"""Migrations, engine set-up, URLs and time zones."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.domain import Role
from storage.engine import async_url, make_engine, safe_url
from storage.migrate import current, downgrade, head, upgrade
from storage.models import OrganizationRow, metadata
from storage.uow import Store, create_store
from tests.storage.storage_helpers import Seed, new_indicator


async def test_models_and_migrations_agree(store: Store) -> None:
    def diff(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with store.engine.connect() as conn:
        differences = await conn.run_sync(diff)
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert differences == []
    assert tables == set(metadata.tables) | {"alembic_version"}

    # ... and the comparison does see a difference when there is one
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["indicators"].append_column(Column("extra", Integer, nullable=True))

    def diff_changed(sync_conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, changed)

    async with store.engine.connect() as conn:
        assert [d[0] for d in await conn.run_sync(diff_changed)] == ["add_column"]


async def test_current_and_upgrade_are_idempotent(database_url: str) -> None:
    assert current(database_url) == head()
    await upgrade(database_url)
    assert current(database_url) == head()


async def test_upgrade_from_nothing_and_downgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert current(url) is None
    await upgrade(url, "0001")
    assert current(url) == "0001"
    await upgrade(url)
    assert current(url) == head() != "0001"
    await downgrade(url, "base")
    assert current(url) is None
    engine = make_engine(url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert tables == {"alembic_version"}
    await upgrade(url)
    assert current(url) == head()


def test_async_url_conversion() -> None:
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("sqlite+aiosqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u:p@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgresql+psycopg2://u@h/db").database == "db"
    with pytest.raises(ValueError, match="unsupported") as info:
        async_url("mysql://u:hunter2@h/db")
    assert "hunter2" not in str(info.value)


async def test_password_is_never_logged_or_shown(caplog: pytest.LogCaptureFixture) -> None:
    assert "s3cret" not in safe_url("postgresql://bot:s3cret@db.example:5432/coalition")
    with caplog.at_level(logging.DEBUG):
        store = create_store("postgresql://bot:s3cret@db.example:5432/coalition")  # no connection made yet
    try:
        assert "s3cret" not in repr(store)
        assert "db.example" in caplog.text
        assert "s3cret" not in caplog.text
    finally:
        await store.close()


async def test_sqlite_pragmas(sqlite_store: Store) -> None:
    async with sqlite_store.engine.connect() as conn:
        assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
        assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
        assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() >= 1000


async def test_foreign_keys_are_enforced(store: Store) -> None:
    async with store.unit_of_work() as uow:
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            await uow.members.add(4242, "Ghost", Role.MEMBER)


async def test_datetimes_are_utc_aware_in_and_out(store: Store, seed: Seed, backend: str) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2026, 6, 1, 14, 30, 15, 123456, tzinfo=paris)
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice, seen_at=local, valid_until=local))
        await uow.commit()
    async with store.unit_of_work() as uow:
        got = await uow.indicators.get(ind.id)
        assert got is not None
        for value in (got.first_seen, got.last_seen, got.valid_until, got.created_at):
            assert value is not None and value.utcoffset() == timedelta(0)
        assert got.first_seen == local and got.first_seen.hour == 12
        if backend == "sqlite":  # stored as naive UTC text
            raw = (await uow.session.execute(text("SELECT first_seen FROM indicators"))).scalar_one()
            assert str(raw).startswith("2026-06-01 12:30:15.123456")
        # comparisons across zones happen in UTC in SQL
        assert await uow.indicators.expire_due(datetime(2026, 6, 1, 12, 30, 16, tzinfo=UTC)) == [ind.id]


async def test_naive_datetimes_are_refused(store: Store) -> None:
    async with store.unit_of_work() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.session.execute(OrganizationRow.__table__.insert().values(
                name="x", name_key="x", sector="", trust_level=1, created_at=datetime(2026, 1, 1)))


async def test_store_is_a_unit_of_work_factory(store: Store) -> None:
    from bot.ports import UnitOfWork

    uow: UnitOfWork = store.unit_of_work()
    async with uow as opened:
        assert opened is uow
        for name in ("organizations", "members", "invites", "indicators", "votes", "sightings", "channels",
                     "audit", "outbox"):
            assert getattr(opened, name) is not None
        await opened.organizations.add("X", "", 1)
    async with store.unit_of_work() as again:
        assert await again.organizations.list() == []
    with pytest.raises(RuntimeError):
        _ = store.unit_of_work().session
