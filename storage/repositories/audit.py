"""The append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    insert,
)

from bot.domain import (
    Platform,
)
from storage.models import (
    AuditRow,
)
from storage.repositories.base import _Repository


class SqlAuditLog(_Repository):
    async def append(self, action: str, *, at: datetime, platform: Platform, member_id: int | None,
                     indicator_id: int | None = None, detail: dict[str, Any] | None = None) -> None:
        await self._execute(insert(AuditRow).values(
            at=at, platform=Platform(platform).value, member_id=member_id, action=action, indicator_id=indicator_id,
            detail=detail or {},
        ))


