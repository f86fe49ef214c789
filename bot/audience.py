"""Who will read a reply: the person alone (private) or everyone in a shared channel (public).

Services answer with the speaker's full rights. Before a reply goes to a shared channel the core decides
here whether it may: lookups are private unless the channel asks otherwise, errors and administration are
always private, and anything whose TLP is above the channel's ceiling, or that would reveal a restricted
item, turns the reply private. A public reply is then re-dressed for the channel audience: anonymous
submitters hidden from everyone, and moderation buttons only in moderation channels.
"""

from __future__ import annotations

import dataclasses

from bot import commands
from bot.domain import Channel, ChannelPurpose
from bot.results import IndicatorCard, Result
from bot.rules import can_feed, shown_org_name, tlp_in_channel
from bot.tlp import TLP
from bot.values import frozen


@frozen
class Reply:
    result: Result
    private: bool
    # a public reply's cards may be recorded, to be kept up to date and to get their comments threaded under them
    # (bot.delivery): False where the delivery planner would later take the channel for more than this reply's
    # audience (a Slack Connect channel no admin registered is CLEAR to it, while the planner knows no registration
    # and applies the policy's default), so nothing above what the channel may see reaches it through an edit or a
    # thread after the item's TLP was raised
    live: bool = True


def _shared_by_nature() -> tuple[type[commands.Command], ...]:
    """What a person does in front of the channel: the channel sees the result. (Functions, not module constants,
    so that importing this module loads no command class: a command line that runs none needs none.)"""
    return (commands.Submit, commands.Vote, commands.Sighting, commands.Approve, commands.Reject, commands.Revoke)


def _lookups() -> tuple[type[commands.Command], ...]:
    return (commands.Lookup, commands.Search)


def cards_of(result: Result) -> list[IndicatorCard]:
    if isinstance(result, IndicatorCard):
        return [result]
    found: list[IndicatorCard] = []
    for f in dataclasses.fields(result):  # type: ignore[arg-type]
        value = getattr(result, f.name)
        if isinstance(value, IndicatorCard):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, IndicatorCard))
    return found


def reply(command: commands.Command, result: Result, *, conversation_private: bool, channel: Channel | None,
          ceiling: TLP, kept: TLP | None = None) -> Reply:
    """`kept`: the ceiling the delivery planner applies to this channel's recorded cards (Context.kept_ceiling)."""
    if conversation_private or not _may_be_public(command, result, channel, ceiling):
        return Reply(result, private=True)
    moderation = channel is not None and channel.purpose is ChannelPurpose.MODERATION
    live = kept is None or all(tlp_in_channel(t, ceiling) for t in TLP if tlp_in_channel(t, kept))
    return Reply(_for_channel(result, moderation), private=False, live=live)


def lookup_in_channel(command: commands.Command, *, conversation_private: bool, channel: Channel | None) -> bool:
    """Is this lookup or search answered in front of the channel (an admin set `ephemeral:off` there)?

    Such an answer is computed with the channel's view, not the speaker's (bot.services.Context.view_for): were
    it computed with the speaker's, an item above the ceiling would turn the reply private while an unknown
    value is answered in public, and the channel would learn that the item exists."""
    return (isinstance(command, _lookups()) and not conversation_private and channel is not None
            and not channel.ephemeral_lookups)


def _may_be_public(command: commands.Command, result: Result, channel: Channel | None, ceiling: TLP) -> bool:
    if isinstance(command, commands.Passive):
        return True  # built for the channel's audience already (bot.services.passive)
    if isinstance(command, _lookups()):
        if not lookup_in_channel(command, conversation_private=False, channel=channel):
            return False
    elif not isinstance(command, _shared_by_nature()):
        return False
    if not hasattr(result, "__dataclass_fields__"):
        return False
    cards = cards_of(result)
    if not cards and not isinstance(command, _lookups()):
        return False  # errors, confirmations: nothing the channel needs
    return all(can_feed(card.indicator, ceiling) for card in cards)


def _for_channel(result: Result, moderation: bool) -> Result:
    def dress(card: IndicatorCard) -> IndicatorCard:
        buttons = tuple(b for b in card.buttons if moderation or b.action_id.startswith("ioc:vote:"))
        # "also held at a restricted TLP" is for the speaker alone: the channel may not see that other item
        return dataclasses.replace(card, org_shown=shown_org_name(card.indicator, None), buttons=buttons,
                                   also_restricted=False)

    if isinstance(result, IndicatorCard):
        return dress(result)
    changes = {}
    for f in dataclasses.fields(result):  # type: ignore[arg-type]
        value = getattr(result, f.name)
        if isinstance(value, IndicatorCard):
            changes[f.name] = dress(value)
        elif isinstance(value, tuple) and any(isinstance(v, IndicatorCard) for v in value):
            changes[f.name] = tuple(dress(v) if isinstance(v, IndicatorCard) else v for v in value)
    return dataclasses.replace(result, **changes)  # type: ignore[type-var]
