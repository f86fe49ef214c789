"""Per-deployment secrets (table ``deployment_secrets``): random bytes generated on first use, then stable.

The one secret today is ``stix-ids``: STIX ids of objects made from a person's act (opinions, sightings) are
HMAC-SHA256 of it (``bot.stix.ids.ActIds``), so nobody can recompute them from public data. Losing it changes
those ids in later exports; leaking it lets anyone recompute who voted: operators protect it like a token.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from storage.models import DeploymentSecretRow
from storage.repositories.base import _Repository

SECRET_BYTES = 32


class SqlSecretRepository(_Repository):
    async def get_or_create(self, name: str) -> bytes:
        """The secret called `name`; created at random (and committed at once) the first time it is asked for.

        Two processes creating it at the same moment agree: the insert does nothing on conflict and both read
        the row that won. On PostgreSQL the insert runs in its own short transaction, so that a read-only unit
        of work (rolled back at its end) cannot lose a secret whose ids it already gave out; on SQLite a
        read-only unit of work has no transaction (the insert commits at once) and a writing one holds the
        only write lock, so the insert joins it."""
        found = await self._read(name)
        if found is not None:
            return found
        stmt = (self._upsert_insert(DeploymentSecretRow)
                .values(name=name, secret=secrets.token_bytes(SECRET_BYTES), created_at=self._clock())
                .on_conflict_do_nothing(index_elements=["name"]))
        if self._dialect == "postgresql":
            engine = self._session.bind
            async with engine.begin() as connection:  # type: ignore[union-attr]
                await connection.execute(stmt)
        else:
            await self._execute(stmt)
        found = await self._read(name)
        if found is None:  # pragma: no cover - the row was just inserted or found
            raise RuntimeError(f"the deployment secret {name!r} could not be created")
        return found

    async def _read(self, name: str) -> bytes | None:
        result = await self._execute(select(DeploymentSecretRow.secret).where(DeploymentSecretRow.name == name))
        value = result.scalar_one_or_none()
        return bytes(value) if value is not None else None
