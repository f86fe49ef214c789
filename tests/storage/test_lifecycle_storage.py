"""Issue 13's storage: editing an item (a TLP change moves its scope; a clash there changes nothing), removed
members, revoked invite codes and disabled organizations, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.domain import Identity, Platform, Role, Verdict
from bot.ports import Conflict
from bot.tlp import TLP
from storage.models import IndicatorRow, VoteRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator, timedelta


async def test_an_edit_changes_what_is_given_and_a_tlp_moves_the_scope(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        item = await uow.indicators.add(new_indicator(seed.alice, "moved.example", tags=("a", "b"), note="n"))
        later = T0 + timedelta(hours=1)
        await uow.indicators.edit(item.id, at=later, confidence=90, tags=["B", "c"], tlp=TLP.AMBER_STRICT,
                                  valid_until=T0 + timedelta(days=30))
        await uow.commit()
    async with store.unit_of_work() as uow:
        edited = await uow.indicators.get(item.id)
        assert edited is not None
        assert (edited.confidence, edited.tags, edited.tlp, edited.note) == (90, ("b", "c"), TLP.AMBER_STRICT, "n")
        assert edited.modified_at == later and edited.valid_until == T0 + timedelta(days=30)
        scope = (await uow.session.execute(select(IndicatorRow.scope).where(IndicatorRow.id == item.id))).scalar_one()
        assert scope == f"org:{seed.bank.id}"
        # the same value submitted in the shared scope by another organization: a second item
        shared = await uow.indicators.add(new_indicator(seed.bob, "moved.example"))
        await uow.commit()
    async with store.unit_of_work() as uow:
        with pytest.raises(Conflict):
            await uow.indicators.edit(item.id, at=T0 + timedelta(hours=2), tlp=TLP.GREEN, confidence=1, tags=[])
        await uow.indicators.edit(shared.id, at=T0 + timedelta(hours=2), tags=[])  # the transaction is usable
        await uow.commit()
    async with store.unit_of_work() as uow:
        unchanged = await uow.indicators.get(item.id)
        assert unchanged is not None and (unchanged.tlp, unchanged.confidence, unchanged.tags) == (
            TLP.AMBER_STRICT, 90, ("b", "c"))
        assert (await uow.indicators.get(shared.id)).tags == ()  # type: ignore[union-attr]


async def test_a_removed_member_is_gone_but_what_they_did_stays(store: Store, seed: Seed) -> None:
    alice = Identity(Platform.DISCORD, "g1", "u-alice")
    async with store.unit_of_work() as uow:
        await uow.members.link_identity(seed.alice.id, alice)
        await uow.members.link_identity(seed.alice.id, Identity(Platform.SLACK, "T1", "U1"))
        item = await uow.indicators.add(new_indicator(seed.alice))
        await uow.votes.upsert(item.id, seed.alice.id, seed.alice.org_id, Verdict.CONFIRM, "", T0)
        await uow.members.set_link_code(seed.alice.id, "ABCDEFGHJKLM", T0 + timedelta(minutes=10), T0)
        unlinked = await uow.members.remove(seed.alice.id, T0)
        await uow.commit()
    assert set(unlinked) == {alice, Identity(Platform.SLACK, "T1", "U1")}
    async with store.unit_of_work() as uow:
        assert await uow.members.get(seed.alice.id) is None
        assert await uow.members.by_identity(alice) is None
        assert seed.alice.id not in {m.id for m in await uow.members.list()}
        assert await uow.members.redeem_link_code("ABCDEFGHJKLM", T0) is None
        kept = await uow.indicators.get(item.id)
        assert kept is not None and kept.submitter_name == "Alice"
        assert (await uow.session.execute(select(func.count()).select_from(VoteRow))).scalar_one() == 1
        assert (await uow.votes.tally(item.id)).confirm == 1


async def test_invites_are_listed_without_code_revoked_and_stop_with_a_disabled_org(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        first = await uow.invites.add("code-one", seed.bank.id, Role.MODERATOR, 2, T0 + timedelta(days=1),
                                      seed.admin.id)
        await uow.invites.add("code-two", seed.cert.id, Role.MEMBER, 1, T0 + timedelta(days=1), None)
        await uow.commit()
    async with store.unit_of_work() as uow:
        listed = await uow.invites.list()
        assert [(i.org_name, i.role, i.max_uses, i.uses, i.created_by, i.revoked) for i in listed] == [
            ("National CERT", Role.MEMBER, 1, 0, "", False), ("First Bank", Role.MODERATOR, 2, 0, "Ada", False)]
        assert "code-one" not in repr(listed) and first.code == "code-one"
        revoked = await uow.invites.revoke(invite_id=listed[1].id, at=T0)
        assert revoked is not None and revoked.revoked and revoked.org_name == "First Bank"
        assert await uow.invites.revoke(invite_id=listed[1].id, at=T0) is None  # once
        assert await uow.invites.redeem("code-one", T0) is None
        await uow.organizations.set_disabled(seed.cert.id, T0)
        assert await uow.invites.redeem("code-two", T0) is None  # a disabled organization takes nobody in
        await uow.commit()
    async with store.unit_of_work() as uow:
        cert = await uow.organizations.get(seed.cert.id)
        assert cert is not None and cert.disabled
        assert (await uow.members.get(seed.bob.id)).org_disabled  # type: ignore[union-attr]
        assert not (await uow.members.get(seed.alice.id)).org_disabled  # type: ignore[union-attr]
        key = await uow.api_keys.add(seed.cert.id, "feed", "d" * 64, "cb_d", None, T0)
        assert await uow.api_keys.by_digest("d" * 64) is None  # a disabled organization's keys pull nothing
        await uow.organizations.set_disabled(seed.cert.id, None)
        assert (await uow.api_keys.by_digest("d" * 64))[0].id == key.id  # type: ignore[index]
        assert (await uow.invites.redeem("code-two", T0)) is not None
        assert (await uow.invites.revoke(code="code-two", at=T0)) is not None
        await uow.commit()
