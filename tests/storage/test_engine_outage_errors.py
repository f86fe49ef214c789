"""What the store calls an outage, and what it keeps out of error messages, on real SQLite and PostgreSQL.

An outage (the database cannot be reached or used now) becomes the core's `StoreUnavailable`; a bug, a broken
constraint or a wrong password never does (they stay internal errors, or fail start-up at once). A failed
statement's message never carries the values bound to it (user content stays out of the logs).
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.ports import StoreUnavailable
from storage.engine import make_engine, probe, translate, unavailable_reason
from storage.uow import create_store


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_failed_statement_never_shows_its_values(database_url):
    engine = make_engine(database_url)
    try:
        with pytest.raises(Exception) as failure:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table WHERE x = :v"), {"v": "evil-value.example"})
    finally:
        await engine.dispose()
    assert "evil-value.example" not in str(failure.value) and "hidden" in str(failure.value)
    assert translate(failure.value) is None  # a wrong query is not an outage


async def test_a_broken_constraint_is_not_an_outage(store):
    copy = text("INSERT INTO organizations (id, name, name_key, sector, trust_level, created_at) "
                "SELECT id, name, name_key, sector, trust_level, created_at FROM organizations")
    with pytest.raises(Exception) as failure:
        async with store.unit_of_work() as uow:
            await uow.organizations.add("Northbank", "finance", 50)
            await uow.session.execute(copy)  # the same primary key again
    assert not isinstance(failure.value, StoreUnavailable)
    assert unavailable_reason(failure.value) is None


@pytest.mark.parametrize(("url", "reason"), [
    ("postgresql://bot:pw@127.0.0.1:{port}/coalition", "connection refused"),
    ("postgresql://bot:pw@no-such-host.invalid/coalition", "host name not found"),
    ("sqlite:///{tmp}/no-such-directory/coalition.db", "unable to open database file"),
])
async def test_unreachable_stores_are_outages_with_a_short_reason(url, reason, tmp_path):
    url = url.format(port=closed_port(), tmp=tmp_path)
    async with create_store(url) as store:
        with pytest.raises(StoreUnavailable) as failure:
            async with store.unit_of_work(read_only=True) as uow:
                await uow.session.execute(text("SELECT 1"))
    assert failure.value.reason == reason and "pw" not in str(failure.value)
    with pytest.raises(StoreUnavailable):
        await probe(url)


async def test_a_wrong_database_name_is_an_outage_but_a_wrong_role_is_not(postgres_url):
    missing = make_url(postgres_url).set(database="coalition_no_such_database")
    with pytest.raises(StoreUnavailable, match="the database does not exist"):
        await probe(missing.render_as_string(hide_password=False))
    nobody = make_url(postgres_url).set(username="coalition_no_such_role", password="pw")
    with pytest.raises(Exception) as failure:
        await probe(nobody.render_as_string(hide_password=False))
    assert not isinstance(failure.value, StoreUnavailable) and "does not exist" in str(failure.value)
