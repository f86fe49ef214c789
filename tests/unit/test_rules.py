"""Who sees which TLP where, and who may do what: the table every adapter relies on."""

from datetime import UTC, datetime

import pytest

from bot.domain import Indicator, IOCType, Member, Role, Status
from bot.rules import (
    ANONYMOUS_ORG,
    PermissionDenied,
    can_decide,
    can_feed,
    can_see,
    moderated_in_channels,
    require_role,
    shown_org_name,
    tlp_in_channel,
    unmoderated_reason,
    visibility,
)
from bot.tlp import TLP

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SUBMITTER = Member(1, "alice", Role.MEMBER, org_id=10, org_name="Northbank")
COLLEAGUE = Member(2, "anna", Role.MEMBER, org_id=10, org_name="Northbank")
OTHER = Member(3, "bob", Role.MEMBER, org_id=20, org_name="Sentinel")
MODERATOR = Member(4, "mod", Role.MODERATOR, org_id=20, org_name="Sentinel")
ADMIN = Member(5, "admin", Role.ADMIN, org_id=30, org_name="Police")
ORG_MODERATOR = Member(6, "nina", Role.MODERATOR, org_id=10, org_name="Northbank")
ORG_ADMIN = Member(7, "olga", Role.ADMIN, org_id=10, org_name="Northbank")
SUBMITTING_MODERATOR = Member(1, "alice", Role.MODERATOR, org_id=10, org_name="Northbank")


def indicator(tlp: TLP, anonymous: bool = False) -> Indicator:
    return Indicator(id=1, stix_id="indicator--x", type=IOCType.IPV4, value="198.51.100.1", status=Status.PENDING,
                     tlp=tlp, confidence=50, tags=(), note="", submitter_id=1, submitter_name="alice", org_id=10,
                     org_name="Northbank", anonymous=anonymous, first_seen=NOW, last_seen=NOW, valid_until=None,
                     created_at=NOW, modified_at=NOW)


# (tlp, viewer, private reply?, channel ceiling) -> visible?
TABLE = [
    (TLP.CLEAR, OTHER, False, TLP.CLEAR, True),
    (TLP.GREEN, OTHER, False, TLP.CLEAR, False),
    (TLP.GREEN, OTHER, False, TLP.GREEN, True),
    (TLP.AMBER, OTHER, False, TLP.GREEN, False),
    (TLP.AMBER, OTHER, False, TLP.AMBER, True),
    (TLP.AMBER, OTHER, True, TLP.CLEAR, True),  # a private reply is not bound by the channel's ceiling
    (TLP.AMBER_STRICT, SUBMITTER, True, TLP.GREEN, True),
    (TLP.AMBER_STRICT, COLLEAGUE, True, TLP.GREEN, True),
    (TLP.AMBER_STRICT, COLLEAGUE, False, TLP.AMBER, False),  # never in a shared channel
    (TLP.AMBER_STRICT, OTHER, True, TLP.AMBER, False),
    (TLP.AMBER_STRICT, MODERATOR, True, TLP.AMBER, False),  # another organization's, even for moderators
    (TLP.AMBER_STRICT, ADMIN, True, TLP.AMBER, False),
    (TLP.RED, SUBMITTER, True, TLP.GREEN, True),
    (TLP.RED, SUBMITTER, False, TLP.AMBER, False),  # never in a shared channel
    (TLP.RED, COLLEAGUE, True, TLP.AMBER, False),  # not even the submitter's colleagues
    (TLP.RED, OTHER, True, TLP.AMBER, False),
    (TLP.RED, MODERATOR, True, TLP.GREEN, True),
    (TLP.RED, MODERATOR, False, TLP.AMBER, False),
    (TLP.RED, ADMIN, True, TLP.GREEN, True),
]


@pytest.mark.parametrize("tlp, viewer, private, ceiling, visible", TABLE)
def test_visibility_table(tlp, viewer, private, ceiling, visible):
    view = visibility(viewer, private=private, ceiling=ceiling)
    assert can_see(indicator(tlp), view) is visible


@pytest.mark.parametrize("tlp, ceiling, fed", [
    (TLP.CLEAR, TLP.GREEN, True), (TLP.GREEN, TLP.GREEN, True), (TLP.AMBER, TLP.GREEN, False),
    (TLP.AMBER, TLP.AMBER, True), (TLP.AMBER_STRICT, TLP.AMBER, False), (TLP.RED, TLP.AMBER, False),
])
def test_feed_channels_respect_ceiling_and_never_carry_strict_or_red(tlp, ceiling, fed):
    assert can_feed(indicator(tlp), ceiling) is fed


def test_anonymity_hides_the_organization_outside_it():
    item = indicator(TLP.GREEN, anonymous=True)
    assert shown_org_name(item, COLLEAGUE) == "Northbank"
    assert shown_org_name(item, OTHER) == ANONYMOUS_ORG
    assert shown_org_name(item, MODERATOR) == ANONYMOUS_ORG
    assert shown_org_name(item, None) == ANONYMOUS_ORG
    assert shown_org_name(indicator(TLP.GREEN), OTHER) == "Northbank"


# (member, needed role) -> allowed?
ROLES = [(OTHER, Role.MEMBER, True), (OTHER, Role.MODERATOR, False), (OTHER, Role.ADMIN, False),
         (MODERATOR, Role.MODERATOR, True), (MODERATOR, Role.ADMIN, False), (ADMIN, Role.MODERATOR, True),
         (ADMIN, Role.ADMIN, True)]


@pytest.mark.parametrize("member, role, allowed", ROLES)
def test_roles(member, role, allowed):
    if allowed:
        require_role(member, role, "do it")
    else:
        with pytest.raises(PermissionDenied, match=f"Only {role.value}s can do it"):
            require_role(member, role, "do it")


@pytest.mark.parametrize("text, tlp", [("green", TLP.GREEN), ("TLP:AMBER+STRICT", TLP.AMBER_STRICT),
                                       ("amber-strict", TLP.AMBER_STRICT), ("white", TLP.CLEAR), ("Red", TLP.RED)])
def test_tlp_parse(text, tlp):
    assert TLP.parse(text) is tlp


def test_tlp_order():
    assert TLP.CLEAR < TLP.GREEN < TLP.AMBER < TLP.AMBER_STRICT < TLP.RED
    with pytest.raises(ValueError, match="clear, green, amber"):
        TLP.parse("purple")


# Who may decide (approve or reject) a submission, per TLP: the moderators and admins who may see it in private,
# never its submitter. (tlp, member) -> may decide?
EVERYONE = (SUBMITTER, COLLEAGUE, OTHER, MODERATOR, ADMIN, ORG_MODERATOR, ORG_ADMIN, SUBMITTING_MODERATOR)
DECIDERS = {
    TLP.CLEAR: {MODERATOR, ADMIN, ORG_MODERATOR, ORG_ADMIN},
    TLP.GREEN: {MODERATOR, ADMIN, ORG_MODERATOR, ORG_ADMIN},
    TLP.AMBER: {MODERATOR, ADMIN, ORG_MODERATOR, ORG_ADMIN},
    TLP.AMBER_STRICT: {ORG_MODERATOR, ORG_ADMIN},  # the submitting organization's own, nobody else
    TLP.RED: {MODERATOR, ADMIN, ORG_MODERATOR, ORG_ADMIN},  # every moderator (in private only)
}


@pytest.mark.parametrize("tlp", list(TLP))
@pytest.mark.parametrize("member", EVERYONE, ids=lambda m: f"{m.name}-{m.role.value}-org{m.org_id}")
def test_who_decides_a_submission(tlp, member):
    item = indicator(tlp)
    decides = can_decide(member, item)
    assert decides is (member in DECIDERS[tlp])
    if decides:  # nobody decides what they may not see
        assert can_see(item, visibility(member, private=True, ceiling=TLP.CLEAR))


@pytest.mark.parametrize("tlp", list(TLP))
def test_only_shareable_submissions_go_to_moderation_channels(tlp):
    assert moderated_in_channels(indicator(tlp)) is tlp.shareable_in_channels
    assert all(not tlp_in_channel(tlp, ceiling) for ceiling in TLP) is (not tlp.shareable_in_channels)


def test_the_reason_of_an_unmoderated_item_says_who_sees_it():
    strict = unmoderated_reason(TLP.AMBER_STRICT, "Northbank")
    assert "not moderated" in strict and "visible to Northbank only" in strict
    red = unmoderated_reason(TLP.RED, "Northbank")
    assert "not moderated" in red and "its submitter and the moderators only" in red


# -- /ioc edit (issue 13): who may edit, and who may change the TLP which way --
# (editor, item's TLP, new TLP) -> None (allowed) or the start of the problem. The item is Northbank's (alice's).
EDIT_TLP_TABLE = [
    (SUBMITTER, TLP.GREEN, TLP.AMBER, None),  # more restrictive: the submitting organization may
    (SUBMITTER, TLP.GREEN, TLP.RED, None),
    (COLLEAGUE, TLP.AMBER, TLP.AMBER_STRICT, None),  # any member of it
    (SUBMITTER, TLP.GREEN, TLP.GREEN, None),  # no change
    (SUBMITTER, TLP.AMBER, TLP.GREEN, "your organization may only make"),  # less restrictive: moderators only
    (COLLEAGUE, TLP.RED, TLP.CLEAR, "your organization may only make"),
    (OTHER, TLP.GREEN, TLP.AMBER, "your organization may only make"),  # another organization's member
    (MODERATOR, TLP.AMBER, TLP.CLEAR, None),  # moderators: either way
    (MODERATOR, TLP.GREEN, TLP.RED, None),
    (MODERATOR, TLP.RED, TLP.GREEN, None),
    (ADMIN, TLP.AMBER, TLP.GREEN, None),
    (MODERATOR, TLP.GREEN, TLP.AMBER_STRICT, "as TLP:AMBER+STRICT only Northbank"),  # they could not see it
    (COLLEAGUE, TLP.GREEN, TLP.RED, "as TLP:RED only its submitter"),  # RED: the submitter's, not a colleague's
    (ORG_MODERATOR, TLP.AMBER, TLP.RED, None),  # a moderator sees every RED item
    (ORG_MODERATOR, TLP.GREEN, TLP.AMBER_STRICT, None),
    (ORG_ADMIN, TLP.AMBER_STRICT, TLP.CLEAR, None),
]


@pytest.mark.parametrize(("editor", "tlp", "new", "problem"), EDIT_TLP_TABLE,
                         ids=[f"{e.name}-{t.value}-{n.value}" for e, t, n, _ in EDIT_TLP_TABLE])
def test_who_may_change_the_tlp_which_way(editor, tlp, new, problem):
    from bot.rules import tlp_change_problem

    found = tlp_change_problem(editor, indicator(tlp), new)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem), found


@pytest.mark.parametrize(("editor", "allowed"), [
    (SUBMITTER, True), (COLLEAGUE, True), (ORG_MODERATOR, True), (OTHER, False), (MODERATOR, True), (ADMIN, True),
], ids=lambda v: v.name if isinstance(v, Member) else str(v))
def test_who_may_edit(editor, allowed):
    from bot.rules import can_edit

    assert can_edit(editor, indicator(TLP.GREEN)) is allowed


def test_a_moderator_of_a_disabled_organization_moderates_nothing():
    from dataclasses import replace

    disabled = replace(MODERATOR, org_disabled=True)
    assert can_decide(MODERATOR, indicator(TLP.GREEN)) and not can_decide(disabled, indicator(TLP.GREEN))
    assert not can_decide(replace(ADMIN, org_disabled=True), indicator(TLP.RED))
