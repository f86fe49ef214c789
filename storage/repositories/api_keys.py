"""API keys of organizations (TAXII consumers): only their SHA-256 is stored."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    insert,
    select,
    update,
)

from bot.domain import (
    ApiKey,
)
from storage.models import (
    ApiKeyRow,
    OrganizationRow,
)
from storage.repositories.base import _Repository


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


def _api_key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, org_id=row.org_id, org_name=row.org_name, name=row.name, prefix=row.prefix,
                  created_at=row.created_at, revoked_at=row.revoked_at)


def _api_keys() -> Select[Any]:
    return (select(ApiKeyRow.id, ApiKeyRow.org_id, OrganizationRow.name.label("org_name"), ApiKeyRow.name,
                   ApiKeyRow.prefix, ApiKeyRow.created_at, ApiKeyRow.revoked_at, ApiKeyRow.key_sha256)
            .join(OrganizationRow, OrganizationRow.id == ApiKeyRow.org_id))


class SqlApiKeyRepository(_Repository):
    async def add(self, org_id: int, name: str, key_sha256: str, prefix: str, created_by: int | None,
                  at: datetime) -> ApiKey:
        stmt = insert(ApiKeyRow).values(org_id=org_id, name=name, key_sha256=key_sha256, prefix=prefix,
                                        created_by=created_by, created_at=at).returning(ApiKeyRow.id)
        key_id = await self._insert_or_conflict(stmt, "this API key exists already")
        row = (await self._execute(_api_keys().where(ApiKeyRow.id == key_id))).one()
        return _api_key(row)

    async def by_digest(self, key_sha256: str) -> tuple[ApiKey, str] | None:
        """The active (not revoked) key with this SHA-256, and the stored digest (for a constant-time check). The
        keys of a disabled organization (`admin org disable`) are not active meanwhile."""
        row = (await self._execute(
            _api_keys().where(ApiKeyRow.key_sha256 == key_sha256, ApiKeyRow.revoked_at.is_(None),
                              OrganizationRow.disabled_at.is_(None)))).first()
        return (_api_key(row), row.key_sha256) if row else None

    async def list(self, org_id: int | None = None) -> Sequence[ApiKey]:
        stmt = _api_keys().order_by(ApiKeyRow.id)
        if org_id is not None:
            stmt = stmt.where(ApiKeyRow.org_id == org_id)
        return [_api_key(r) for r in await self._execute(stmt)]

    async def revoke(self, key_id: int, at: datetime) -> ApiKey | None:
        result = await self._execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None)).values(revoked_at=at)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            return None
        return _api_key((await self._execute(_api_keys().where(ApiKeyRow.id == key_id))).one())


