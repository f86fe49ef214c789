"""A Discord coalition for tests and cross-platform tests: the real discord.py client of the adapter
against the fake Discord on 127.0.0.1, on a real SQLite store.
Users: alice (Northbank, member), bob (Sentinel, member), mod (Sentinel, moderator);
channels: GENERAL (lookups answered in the channel), FEED and MODERATION, in guild GUILD."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from adapters.config import DiscordSettings, Settings
from adapters.discord.service import DiscordService
from adapters.runtime import Runtime
from bot.domain import Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.uow import Store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord

GUILD = 700000000000000001
GENERAL = 700000000000000010
FEED = 700000000000000011
MODERATION = 700000000000000012
USERS = {"alice": 800000000000000001, "bob": 800000000000000002, "mod": 800000000000000003,
         "stranger": 800000000000000009}


@dataclass
class World:
    fake: FakeDiscord
    store: Store
    runtime: Runtime
    service: DiscordService
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def client(self):
        return self.service.client

    def assert_running(self) -> None:
        assert self.service.is_running(), "the discord.py gateway task died (a payload it could not parse?)"

    async def restart(self) -> None:
        await self.service.stop()
        self.service = DiscordService(self.runtime, guild_ready_timeout=0.05)
        count = len(self.fake.identifies) + 1
        await self.service.start()
        await self.fake.wait_ready(count=count)

    async def slash(self, sub: str, options: dict[str, Any], *, user: str = "alice", channel: int = GENERAL,
                    dm: bool = False) -> dict[str, Any]:
        """Run `/ioc sub ...`; returns the interaction payload (its token identifies the callback)."""
        payload = self.fake.slash("ioc", sub, options, user=self.users[user], guild_id=None if dm else GUILD,
                                  channel_id=channel)
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def callback(self, interaction: dict[str, Any], mark: int = 0, timeout: float = 5.0):  # noqa: ASYNC109
        return await self.fake.wait_for_call(
            "POST", rf"/interactions/{interaction['id']}/{interaction['token']}/callback", after=mark,
            timeout=timeout)


async def seed(store: Store) -> None:
    async with store.unit_of_work() as uow:
        north = await uow.organizations.add("Northbank", "finance", 70)
        sentinel = await uow.organizations.add("Sentinel Security", "vendor", 80)
        for name, org, role in (("alice", north, Role.MEMBER), ("bob", sentinel, Role.MEMBER),
                                ("mod", sentinel, Role.MODERATOR)):
            member = await uow.members.add(org.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.DISCORD, "discord", str(USERS[name])))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(GENERAL), TLP.GREEN,
                                          ChannelPurpose.GENERAL, ephemeral_lookups=False))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(FEED), TLP.AMBER, ChannelPurpose.FEED))
        await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(MODERATION), TLP.AMBER,
                                          ChannelPurpose.MODERATION))
        await uow.commit()




def discord_settings(fake: FakeDiscord, **extra: Any) -> Settings:
    return Settings(discord=DiscordSettings(enabled=True, token=SecretStr("fake-token"), application_id=APPLICATION_ID,
                                            api_url=fake.api_url, gateway_url=fake.gateway_url, **extra),
                    warninglists={"enabled": False}, delivery={"poll_seconds": 0.2})
