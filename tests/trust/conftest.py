"""Databases for the who-may-see-what test, from the fixtures of tests/conftest.py: the session's migrated SQLite
template (copied per world) and the session's PostgreSQL database (emptied, saved and restored per world; see
`tests.trust.world.Databases`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from tests.conftest import _pg_connect
from tests.trust.world import Databases


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

                async def connect() -> Any:
                    return await _pg_connect(url)

                _trust_made[backend] = Databases("postgresql", pg_url=url.render_as_string(hide_password=False),
                                                 pg_connect=connect)
        return _trust_made[backend]

    return get
