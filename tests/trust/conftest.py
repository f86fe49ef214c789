"""Databases for the who-may-see-what test: the session's migrated SQLite template (copied per world) and the
session's PostgreSQL database (emptied per world, identities restarted), from the fixtures of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from storage.models import ALL_TABLES
from tests.conftest import _pg_connect
from tests.trust.world import Databases

# Emptying a few small tables with DELETE and restarting their sequences is several times faster than one
# TRUNCATE of them all (which takes exclusive locks and rewrites every table): a world is rebuilt often.
_EMPTY = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(ALL_TABLES))
_SEQUENCES = "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " \
             "WHERE c.relkind = 'S' AND n.nspname = current_schema()"


@pytest.fixture(scope="session")
def _trust_made() -> dict[str, Databases]:
    return {}


@pytest.fixture
def trust_databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                    _trust_made: dict[str, Databases]) -> Callable[[str], Databases]:
    """`get(backend)`: the Databases of that backend (PostgreSQL skips, or fails in CI, without a server)."""

    def get(backend: str) -> Databases:
        if backend not in _trust_made:
            if backend == "sqlite":
                template: Path = request.getfixturevalue("_sqlite_template")
                _trust_made[backend] = Databases("sqlite", sqlite_template=template,
                                                 tmp=tmp_path_factory.mktemp("trust-worlds"))
            else:
                url: URL = request.getfixturevalue("_postgres_database")

                async def truncate() -> None:
                    conn = await _pg_connect(url)
                    try:
                        sequences = [r["relname"] for r in await conn.fetch(_SEQUENCES)]
                        await conn.execute(_EMPTY + "; " + "; ".join(f'ALTER SEQUENCE "{q}" RESTART'
                                                                     for q in sequences))
                    finally:
                        await conn.close()

                _trust_made[backend] = Databases("postgresql", pg_url=url.render_as_string(hide_password=False),
                                                 truncate=truncate)
        return _trust_made[backend]

    return get
