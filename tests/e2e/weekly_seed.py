"""A small coalition for the weekly digest's tests: two organizations, feed channels with different ceilings on one
platform, and a week of submissions of every TLP (one of them anonymous)."""

from __future__ import annotations

from datetime import timedelta

from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, Role
from bot.tlp import TLP
from storage.uow import Store

# what each ceiling may count of `seed_week`'s items (the AMBER+STRICT and RED ones never)
GREEN_SUBMITTED, AMBER_SUBMITTED = 3, 4  # CLEAR + GREEN + anonymous GREEN; and the AMBER one
GREEN_APPROVED, AMBER_APPROVED = 2, 3


def feeds(platform: Platform, workspace: str, green: str, amber: str, moderation: str = "CMODWEEKLY"
          ) -> list[Channel]:
    """A GREEN feed, an AMBER feed, and a moderation channel (which gets no digest)."""
    return [Channel(platform, workspace, green, TLP.GREEN, ChannelPurpose.FEED),
            Channel(platform, workspace, amber, TLP.AMBER, ChannelPurpose.FEED),
            Channel(platform, workspace, moderation, TLP.AMBER, ChannelPurpose.MODERATION)]


async def seed_week(store: Store, dispatcher: Dispatcher, channels: list[Channel], clock=None,
                    users: tuple[str, str] = ("UMODW", "UEVEW")) -> None:
    """Weekbank (a moderator) and Weekshield (a member) submit, during the week before `clock`'s when a clock is
    given (now otherwise); the moderator approves the CLEAR, anonymous GREEN and AMBER items."""
    platform, workspace = channels[0].platform, channels[0].workspace_id
    async with store.unit_of_work() as uow:
        north = await uow.organizations.add("Weekbank", "finance", 50)
        east = await uow.organizations.add("Weekshield", "telecom", 50)
        mod = await uow.members.add(north.id, "weekmod", Role.MODERATOR)
        eve = await uow.members.add(east.id, "weekeve", Role.MEMBER)
        await uow.members.link_identity(mod.id, Identity(platform, workspace, users[0]))
        await uow.members.link_identity(eve.id, Identity(platform, workspace, users[1]))
        for channel in channels:
            await uow.channels.upsert(channel)
        await uow.commit()
    moderator = Actor(platform, workspace, users[0], "DMODW", private=True)
    member = Actor(platform, workspace, users[1], "DEVEW", private=True)
    advance = clock.advance if clock is not None else (lambda delta: None)
    advance(timedelta(days=-5))  # during last week
    for actor, line in ((member, "submit clear-one.example tlp:clear tags:phishing"),
                        (member, "submit green-two.example tlp:green"),
                        (member, "submit hidden-three.example tlp:green anon tags:secretcampaign"),
                        (member, "submit amber-four.example tlp:amber tags:ambertag"),
                        (member, "submit strict-five.example tlp:amber+strict tags:stricttag"),
                        (member, "submit red-six.example tlp:red tags:redtag")):
        await dispatcher.handle_text(line, actor)
    advance(timedelta(hours=2))
    for ref in ("#1", "#3", "#4"):
        await dispatcher.handle_text(f"approve {ref}", moderator)
    advance(timedelta(days=5, hours=-2))
