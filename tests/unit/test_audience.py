"""Whether a reply may go to the channel, and how it is dressed for it."""

from dataclasses import replace
from datetime import UTC, datetime

from bot import commands
from bot.audience import reply
from bot.commands import IdRef
from bot.domain import Channel, ChannelPurpose, Indicator, IOCType, Platform, SightingSummary, Status, Tally
from bot.results import IndicatorCard, LookupResult, Submitted, UserError, Voted
from bot.services import buttons_for
from bot.tlp import TLP

NOW = datetime(2026, 11, 1, tzinfo=UTC)
GENERAL = Channel(Platform.SLACK, "T1", "C1", TLP.GREEN, ChannelPurpose.GENERAL, ephemeral_lookups=False)
MODERATION = Channel(Platform.SLACK, "T1", "C2", TLP.AMBER, ChannelPurpose.MODERATION, ephemeral_lookups=False)


def card(tlp: TLP = TLP.GREEN, anonymous: bool = False) -> IndicatorCard:
    ind = Indicator(id=7, stix_id="indicator--x", type=IOCType.DOMAIN, value="evil.example", status=Status.PENDING,
                    tlp=tlp, confidence=50, tags=(), note="", submitter_id=1, submitter_name="alice", org_id=10,
                    org_name="Northbank", anonymous=anonymous, first_seen=NOW, last_seen=NOW, valid_until=None,
                    created_at=NOW, modified_at=NOW)
    return IndicatorCard(ind, "Northbank", Status.PENDING, Tally(), SightingSummary(),
                         buttons_for(7, Status.PENDING, moderator=True))


VOTE = commands.Vote(IdRef(7), None)


def test_a_vote_in_a_channel_is_shown_to_the_channel_with_vote_buttons_only():
    answer = reply(VOTE, Voted(card(anonymous=True), None), conversation_private=False, channel=GENERAL,
                   ceiling=TLP.GREEN)
    assert not answer.private
    shown = answer.result.card
    assert shown.org_shown == "a coalition member"
    assert [b.label for b in shown.buttons] == ["Confirm", "False positive"]


def test_moderation_channels_keep_the_moderation_buttons():
    answer = reply(VOTE, Voted(card(), None), conversation_private=False, channel=MODERATION, ceiling=TLP.AMBER)
    assert [b.label for b in answer.result.card.buttons] == ["Confirm", "False positive", "Approve", "Reject"]


def test_above_the_ceiling_or_restricted_goes_to_the_speaker_alone():
    assert reply(VOTE, Voted(card(TLP.AMBER), None), conversation_private=False, channel=GENERAL,
                 ceiling=TLP.GREEN).private
    assert reply(VOTE, Voted(card(TLP.RED), None), conversation_private=False, channel=MODERATION,
                 ceiling=TLP.AMBER).private
    # what only the speaker may know ("also held at a restricted TLP") is dropped when the channel sees the reply
    submitted = Submitted((replace(card(), also_restricted=True),))
    public = reply(commands.Submit(()), submitted, conversation_private=False, channel=GENERAL, ceiling=TLP.GREEN)
    assert not public.private and not public.result.created[0].also_restricted


def test_lookups_errors_and_private_conversations():
    lookup = commands.Lookup((IdRef(7),))
    result = LookupResult((card(),))
    assert not reply(lookup, result, conversation_private=False, channel=GENERAL, ceiling=TLP.GREEN).private
    ephemeral = Channel(Platform.SLACK, "T1", "C3", TLP.GREEN)
    assert reply(lookup, result, conversation_private=False, channel=ephemeral, ceiling=TLP.GREEN).private
    assert reply(lookup, result, conversation_private=False, channel=None, ceiling=TLP.GREEN).private
    assert reply(VOTE, UserError("no"), conversation_private=False, channel=GENERAL, ceiling=TLP.GREEN).private
    private = reply(VOTE, Voted(card(anonymous=True), None), conversation_private=True, channel=None,
                    ceiling=TLP.GREEN)
    assert private.private and private.result.card.org_shown == "Northbank"
