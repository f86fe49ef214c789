"""A workspace's channels: unregistered together when the bot leaves it (services.workspace_removed), and moved
from the old single Discord workspace ("discord") under their guild; both backends."""

from __future__ import annotations

from sqlalchemy import select

from bot import services
from bot.domain import Channel, ChannelPurpose, Platform, PostedCard
from bot.tlp import TLP
from storage.models import AuditRow, PostedCardRow
from storage.uow import Store
from tests.storage.storage_helpers import T0, Seed, new_indicator


async def test_workspace_removed_unregisters_its_channels_and_forgets_its_cards(store: Store, seed: Seed) -> None:
    kept = [Channel(Platform.DISCORD, "G1", "11", TLP.AMBER, ChannelPurpose.FEED),
            Channel(Platform.SLACK, "G2", "21", TLP.AMBER, ChannelPurpose.FEED),  # same id, other platform
            Channel(Platform.DISCORD, "G3", "23", TLP.AMBER, ChannelPurpose.FEED)]  # also in G2: shared
    gone = [Channel(Platform.DISCORD, "G2", "21", TLP.GREEN, ChannelPurpose.FEED),
            Channel(Platform.DISCORD, "G2", "22", TLP.AMBER, ChannelPurpose.MODERATION),
            Channel(Platform.DISCORD, "G2", "23", TLP.AMBER, ChannelPurpose.FEED)]
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        for channel in kept + gone:
            await uow.channels.upsert(channel)
        for workspace, channel_id in (("G1", "11"), ("G2", "21"), ("discord", "22"), ("G2", "99"), ("G3", "23"),
                                      ("G2", "23")):
            await uow.posted_cards.add(PostedCard(Platform.DISCORD, workspace, channel_id, ind.id, "feed",
                                                  message_id="5"))
        await uow.posted_cards.add(PostedCard(Platform.SLACK, "G2", "21", ind.id, "feed", message_id="6"))
        await uow.commit()
    async with store.unit_of_work() as uow:
        removed = await services.workspace_removed(uow, Platform.DISCORD, "G2", T0)
        await uow.commit()
    assert removed == gone
    async with store.unit_of_work() as uow:
        assert await uow.channels.list() == kept
        left = (await uow.session.execute(
            select(PostedCardRow.platform, PostedCardRow.workspace_id, PostedCardRow.channel_id)
            .order_by(PostedCardRow.id))).all()
        audit = (await uow.session.execute(select(AuditRow.action, AuditRow.platform, AuditRow.member_id,
                                                  AuditRow.detail))).all()
    # the guild's cards go, by workspace and by the removed channels' ids (a card recorded before guilds)
    assert [tuple(r) for r in left] == [("discord", "G1", "11"), ("discord", "G3", "23"), ("slack", "G2", "21")]
    assert [tuple(r) for r in audit] == [("workspace.removed", "discord", None,
                                          {"workspace": "G2", "channels": ["21", "22", "23"]})]
    async with store.unit_of_work() as uow:  # again: nothing left, still one audit line each time
        assert await services.workspace_removed(uow, Platform.DISCORD, "G2", T0) == []


async def test_adopt_moves_channels_under_their_guild_and_a_newer_setting_wins(store: Store, seed: Seed) -> None:
    async with store.unit_of_work() as uow:
        ind = await uow.indicators.add(new_indicator(seed.alice))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", "11", TLP.AMBER, ChannelPurpose.FEED))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", "12", TLP.GREEN, ChannelPurpose.FEED))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", "31", TLP.RED, ChannelPurpose.FEED))
        newer = Channel(Platform.DISCORD, "G1", "12", TLP.CLEAR, ChannelPurpose.MODERATION)
        await uow.channels.upsert(newer)
        await uow.posted_cards.add(PostedCard(Platform.DISCORD, "discord", "11", ind.id, "feed", message_id="5"))
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert await uow.channels.adopt(Platform.DISCORD, "discord", "G1", ["11", "12", "13"]) == 1
        await uow.commit()
    async with store.unit_of_work() as uow:
        assert sorted((c.workspace_id, c.channel_id, c.ceiling) for c in await uow.channels.list()) == [
            ("G1", "11", TLP.AMBER), ("G1", "12", TLP.CLEAR), ("discord", "31", TLP.RED)]
        assert [p.workspace_id for p in await uow.posted_cards.of_indicators([ind.id], Platform.DISCORD)] == ["G1"]
        assert await uow.channels.adopt(Platform.DISCORD, "discord", "G1", ["11", "12"]) == 0  # done once
