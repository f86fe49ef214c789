"""A demo coalition for the console: three organizations, members of every role, and (when a person is
at the terminal) a few indicators to look at.

Scripts get no sample indicators, so that their first submission is #1 and a tutorial reads the same
every time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot import commands
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Channel, ChannelPurpose, Identity, Platform, Role
from bot.results import UserError
from bot.text import render
from bot.tlp import TLP
from storage.uow import Store

from .channel import WORKSPACE

ORGANIZATIONS = [
    ("Northbank", "finance", 70),
    ("Sentinel Security", "security vendor", 80),
    ("National Cyber Unit", "law enforcement", 90),
]

MEMBERS = [  # name, organization, role
    ("alice", "Northbank", Role.MEMBER),
    ("bob", "Sentinel Security", Role.MEMBER),
    ("carol", "National Cyber Unit", Role.MEMBER),
    ("mod", "Sentinel Security", Role.MODERATOR),
    ("admin", "National Cyber Unit", Role.ADMIN),
]

SAMPLES = [  # speaker, /ioc command
    ("carol", "submit hxxps://login-northbank[.]example/verify 198.51.100[.]23 tlp:green conf:80 "
              "tags:phishing,northbank credential phishing kit seen in SMS lures"),
    ("bob", "submit 44d88612fea8a8f36de82e1278abb02f tlp:clear conf:95 tags:eicar test file hash"),
    ("alice", "submit evil-cdn[.]example tlp:amber+strict conf:60 tags:c2 internal investigation"),
    ("mod", "approve #1 #2"),
    ("alice", "vote #1 confirm seen in our SOC"),
]


async def seed(store: Store, dispatcher: Dispatcher, *, samples: bool) -> list[str]:
    """Create the demo coalition; returns what it did, one line each."""
    now = datetime.now(UTC)
    async with store.unit_of_work() as uow:
        orgs = {name: await uow.organizations.add(name, sector, trust) for name, sector, trust in ORGANIZATIONS}
        for name, org, role in MEMBERS:
            member = await uow.members.add(orgs[org].id, name, role)
            await uow.members.link_identity(member.id, Identity(Platform.CONSOLE, WORKSPACE, name))
        await uow.channels.upsert(Channel(Platform.CONSOLE, WORKSPACE, "general", TLP.GREEN,
                                          ChannelPurpose.GENERAL))
        await uow.channels.upsert(Channel(Platform.CONSOLE, WORKSPACE, "feed", TLP.AMBER, ChannelPurpose.FEED))
        await uow.channels.upsert(Channel(Platform.CONSOLE, WORKSPACE, "moderation", TLP.AMBER,
                                          ChannelPurpose.MODERATION))
        await uow.audit.append("demo.seed", at=now, platform=Platform.CONSOLE, member_id=None)
        await uow.commit()
    lines = ["Demo coalition: " + "; ".join(f"{m} ({r.value}, {o})" for m, o, r in MEMBERS),
             "Channels: #general (ceiling TLP:GREEN), #feed and #moderation (ceiling TLP:AMBER), where the bot "
             "posts approved indicators and new submissions; you start in a private conversation."]
    if samples:
        for speaker, text in SAMPLES:
            actor = Actor(Platform.CONSOLE, WORKSPACE, speaker, "direct", private=True, display_name=speaker)
            answer = await dispatcher.handle(commands.parse(text), actor)
            if isinstance(answer.result, UserError):
                raise RuntimeError(f"demo seed failed: {render(answer.result)}")
        lines.append("Sample indicators #1-#4 are in the store: try /as bob then /ioc search, or /ioc #1.")
    return lines
