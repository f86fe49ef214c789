"""Channels, the audit log and the outbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.domain import Channel, ChannelPurpose, Platform, Status
from bot.tlp import TLP
from storage.models import AuditRow, OutboxRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator


async def test_channels_upsert_get_list(store: Store) -> None:
    general = Channel(Platform.SLACK, "T1", "C1", TLP.GREEN)
    feed = Channel(Platform.DISCORD, "G1", "C1", TLP.AMBER, ChannelPurpose.FEED, passive=True,
                   ephemeral_lookups=False)
    async with store.unit_of_work() as uow:
        await uow.channels.upsert(general)
        await uow.channels.upsert(feed)
        await uow.commit()
    changed = Channel(Platform.SLACK, "T1", "C1", TLP.CLEAR, ChannelPurpose.MODERATION)
    async with store.unit_of_work() as uow:
        assert await uow.channels.get(Platform.SLACK, "T1", "C1") == general
        assert await uow.channels.get(Platform.SLACK, "T1", "C2") is None
        await uow.channels.upsert(changed)
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.channels.get(Platform.SLACK, "T1", "C1") == changed
        assert await uow.channels.list() == [changed, feed]
        assert await uow.channels.list(ChannelPurpose.FEED) == [feed]
        assert await uow.channels.list(ChannelPurpose.GENERAL) == []


async def test_audit_log_appends(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.audit.append("submit", at=T0, platform=Platform.SLACK, member_id=seed.alice.id,
                               indicator_id=ind.id, detail={"tlp": TLP.GREEN, "at": T0, "tags": ("a",)})
        await uow.audit.append("startup", at=T0 + timedelta(seconds=1), platform=Platform.CLI, member_id=None)
        await uow.commit()
    async with store.unit_of_work() as uow:
        rows = (await uow.session.execute(
            select(AuditRow.action, AuditRow.at, AuditRow.platform, AuditRow.member_id, AuditRow.indicator_id,
                   AuditRow.detail).order_by(AuditRow.id)
        )).all()
    assert [tuple(r) for r in rows] == [
        ("submit", T0, "slack", seed.alice.id, ind.id,
         {"tlp": "GREEN", "at": T0.isoformat(), "tags": ["a"]}),
        ("startup", T0 + timedelta(seconds=1), "cli", None, None, {}),
    ]


async def test_outbox_is_written_and_rolled_back_with_the_change(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.commit()

    # not committed: neither the approval nor its outbox event exist
    async with store.unit_of_work() as uow:
        assert await uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, "", T0)
        await uow.outbox.add("indicator.approved", {"id": ind.id}, T0, Platform.SLACK)
    async with store.unit_of_work() as uow:
        assert (await uow.session.execute(select(OutboxRow.id))).all() == []
        got = await uow.indicators.get(ind.id)
        assert got is not None and got.status is Status.PENDING

    # an exception inside the block: same
    try:
        async with store.unit_of_work() as uow:
            await uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, "", T0)
            await uow.outbox.add("indicator.approved", {"id": ind.id}, T0, Platform.SLACK)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with store.unit_of_work() as uow:
        assert (await uow.session.execute(select(OutboxRow.id))).all() == []

    # committed: both
    async with store.unit_of_work() as uow:
        await uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, "", T0)
        await uow.outbox.add("indicator.approved", {"id": ind.id, "tlp": TLP.GREEN}, T0, Platform.SLACK)
        await uow.commit()
    async with store.unit_of_work() as uow:
        rows = (await uow.session.execute(select(OutboxRow))).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.event, row.payload, row.created_at, row.available_at) == (
            "indicator.approved", {"id": ind.id, "tlp": "GREEN"}, T0, T0)
        assert (row.delivered_at, row.attempts, row.last_error) == (None, 0, None)
