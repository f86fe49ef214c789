"""Organizations, members, identities and invites."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.domain import Channel, ChannelPurpose, Identity, Invite, Member, Organization, Platform, Role
from bot.ports import Conflict
from bot.tlp import TLP
from storage.models import InviteRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed


async def test_organizations(store: Store) -> None:
    async with store.unit_of_work() as uow:
        bank = await uow.organizations.add("  First Bank ", "finance", 70)
        assert bank == Organization(id=bank.id, name="First Bank", sector="finance", trust_level=70)
        with pytest.raises(Conflict):
            await uow.organizations.add("FIRST BANK", "finance", 10)
        cert = await uow.organizations.add("CERT", "government", 90)  # the transaction is still usable
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.organizations.by_name("first bank") == bank
        assert await uow.organizations.by_name("nobody") is None
        assert await uow.organizations.list() == [cert, bank]


async def test_members_and_roles(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        assert await uow.members.get(seed.alice.id) == Member(seed.alice.id, "Alice", Role.MEMBER,
                                                              seed.bank.id, "First Bank")
        assert await uow.members.get(9999) is None
        await uow.members.set_role(seed.alice.id, Role.MODERATOR)
        await uow.commit()
    async with store.unit_of_work() as uow:
        alice = await uow.members.get(seed.alice.id)
        assert alice is not None and alice.role is Role.MODERATOR
        assert [m.name for m in await uow.members.list()] == ["Ada", "Alice", "Amy", "Bob", "Mo"]
        assert [m.name for m in await uow.members.list(seed.cert.id)] == ["Bob", "Mo"]
        assert await uow.members.by_name("ALICE") == [alice]
        assert await uow.members.by_name("nobody") == []


async def test_identities(store: Store, seed: Seed) -> None:
    slack = Identity(Platform.SLACK, "T1", "U1")
    discord = Identity(Platform.DISCORD, "G1", "U1")  # same user id, other platform: another identity
    async with store.unit_of_work() as uow:
        await uow.members.link_identity(seed.alice.id, slack)
        await uow.members.link_identity(seed.alice.id, discord)
        with pytest.raises(Conflict):
            await uow.members.link_identity(seed.bob.id, slack)
        await uow.members.link_identity(seed.bob.id, Identity(Platform.SLACK, "T2", "U1"))
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.members.by_identity(slack) == seed.alice
        assert await uow.members.by_identity(Identity(Platform.SLACK, "T2", "U1")) == seed.bob
        assert await uow.members.by_identity(Identity(Platform.SLACK, "T1", "U9")) is None
        assert await uow.members.identities(seed.alice.id) == [slack, discord]


async def test_speaker_finds_member_and_channel_in_one_query(store: Store, seed: Seed) -> None:
    slack = Identity(Platform.SLACK, "T1", "U1")
    general = Channel(Platform.SLACK, "T1", "C1", TLP.AMBER, ChannelPurpose.FEED, passive=True)
    async with store.unit_of_work() as uow:
        await uow.members.link_identity(seed.alice.id, slack)
        await uow.channels.upsert(general)
        await uow.commit()
    async with store.unit_of_work(read_only=True) as uow:
        assert await uow.members.speaker(slack, "C1") == (seed.alice, general)
        assert await uow.members.speaker(slack, "C2") == (seed.alice, None)
        assert await uow.members.speaker(Identity(Platform.SLACK, "T1", "U9"), "C1") == (None, general)
        # the channel belongs to the speaker's workspace: the same channel id elsewhere is another channel
        assert await uow.members.speaker(Identity(Platform.SLACK, "T2", "U1"), "C1") == (None, None)


async def test_invite_is_stored_hashed_and_redeemed_atomically(store: Store, seed: Seed) -> None:
    expires = T0 + timedelta(days=7)
    async with store.unit_of_work() as uow:
        invite = await uow.invites.add("JOIN-SECRET-1", seed.bank.id, Role.MEMBER, 2, expires, seed.admin.id)
        assert invite == Invite("JOIN-SECRET-1", seed.bank.id, "First Bank", Role.MEMBER, 2, 0, expires)
        with pytest.raises(Conflict):
            await uow.invites.add("JOIN-SECRET-1", seed.cert.id, Role.ADMIN, 1, expires, None)
        await uow.commit()
    async with store.unit_of_work() as uow:
        stored = (await uow.session.execute(select(InviteRow.code_sha256))).scalars().all()
        assert stored == [hashlib.sha256(b"JOIN-SECRET-1").hexdigest()]

        first = await uow.invites.redeem("JOIN-SECRET-1", T0)
        assert first is not None and (first.uses, first.org_name, first.role) == (1, "First Bank", Role.MEMBER)
        assert (await uow.invites.redeem("JOIN-SECRET-1", T0)).uses == 2  # type: ignore[union-attr]
        assert await uow.invites.redeem("JOIN-SECRET-1", T0) is None  # exhausted
        assert await uow.invites.redeem("WRONG", T0) is None
        await uow.commit()


async def test_expired_invite_is_refused(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.invites.add("LATE", seed.cert.id, Role.MODERATOR, 5, T0, None)
        assert await uow.invites.redeem("LATE", T0) is None
        assert await uow.invites.redeem("LATE", T0 + timedelta(seconds=1)) is None
        ok = await uow.invites.redeem("LATE", T0 - timedelta(seconds=1))
        assert ok is not None and ok.role is Role.MODERATOR and ok.uses == 1


async def test_redeem_not_committed_is_rolled_back(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        await uow.invites.add("ONCE", seed.cert.id, Role.MEMBER, 1, T0 + timedelta(days=1), None)
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.invites.redeem("ONCE", T0) is not None
    async with store.unit_of_work() as uow:
        assert await uow.invites.redeem("ONCE", T0) is not None
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.invites.redeem("ONCE", T0) is None
