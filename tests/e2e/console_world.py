"""A coalition driven through the console adapter, as a person would type: the base of the e2e worlds."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.console.channel import WORKSPACE, ConsoleChannel
from bot.domain import Identity, Indicator, Member, Platform, Role
from storage.uow import Store


@dataclass
class ConsoleWorld:
    store: Store
    channel: ConsoleChannel
    output: list[str]

    def before_saying(self) -> None:
        """What a world forgets before each line (its records of what the bot delivered)."""
        self.output.clear()

    async def say(self, speaker: str, line: str, *, where: str | None = None) -> str:
        """`speaker` types `line` in a private conversation (or in shared channel `where`); returns the reply
        followed by everything the bot delivered because of it (channel posts `[#channel] ...`, direct messages
        `[to name] ...`)."""
        self.before_saying()
        self.channel.speaker = speaker
        self.channel.channel = where or "direct"
        await self.channel.line(line)
        return "\n".join(self.output)

    async def add(self, name: str, org: str, role: Role) -> None:
        """A new member `name` of `org`, with a console identity of that name."""
        async with self.store.unit_of_work() as uow:
            found = await uow.organizations.by_name(org)
            assert found is not None
            member = await uow.members.add(found.id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, WORKSPACE, name))
            await uow.commit()

    async def member(self, name: str) -> Member | None:
        async with self.store.unit_of_work(read_only=True) as uow:
            return await uow.members.by_identity(Identity(Platform.CONSOLE, WORKSPACE, name))

    async def indicator(self, indicator_id: int) -> Indicator | None:
        async with self.store.unit_of_work(read_only=True) as uow:
            return await uow.indicators.get(indicator_id)
