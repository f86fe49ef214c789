"""Seed data for the storage tests: two organizations and members with each role."""

from __future__ import annotations

import pytest

from bot.domain import Role
from storage.uow import Store
from tests.storage.storage_helpers import Seed


@pytest.fixture
async def seed(store: Store) -> Seed:
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("First Bank", "finance", 70)
        cert = await uow.organizations.add("National CERT", "government", 90)
        seed = Seed(
            bank=bank,
            cert=cert,
            alice=await uow.members.add(bank.id, "Alice", Role.MEMBER),
            amy=await uow.members.add(bank.id, "Amy", Role.MEMBER),
            bob=await uow.members.add(cert.id, "Bob", Role.MEMBER),
            mod=await uow.members.add(cert.id, "Mo", Role.MODERATOR),
            admin=await uow.members.add(bank.id, "Ada", Role.ADMIN),
        )
        await uow.commit()
    return seed

