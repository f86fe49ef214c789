"""Creating the first admin of a new coalition (there is nobody yet who could run `/ioc admin`)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from bot.domain import Platform, Role
from bot.ports import UnitOfWorkFactory


async def first_admin_invite(uow_factory: UnitOfWorkFactory, org_name: str, sector: str = "") -> str:
    now = datetime.now(UTC)
    code = secrets.token_urlsafe(12)
    async with uow_factory() as uow:
        org = await uow.organizations.by_name(org_name) or await uow.organizations.add(org_name, sector, 100)
        await uow.invites.add(code, org.id, Role.ADMIN, 1, now + timedelta(days=7), None)
        await uow.audit.append("bootstrap.invite", at=now, platform=Platform.CLI, member_id=None,
                               detail={"org": org.name})
        await uow.commit()
    return code
