"""Who may do what, and who may see which indicator where: decided here, once, for every adapter.

TLP 2.0 in a coalition:

* CLEAR, GREEN, AMBER: any member may see them wherever the reply goes, as long as the reply is private
  (a direct message, an ephemeral reply, the console) or the channel's ceiling is at least the label.
* AMBER+STRICT: only members of the submitting organization, and only in private replies.
* RED: only the submitter and moderators/admins, and only in private replies.

Who moderates a submission: the moderators and admins who may see it in private (`can_decide`), never its
own submitter. CLEAR, GREEN and AMBER: every moderator and admin of the coalition, also in shared moderation
channels. AMBER+STRICT: the submitting organization's own moderators and admins, and nobody else. RED: every
moderator and admin (in private only). A restricted item that nobody may decide is not left pending: it is
stored approved, visible exactly as its TLP says, with `unmoderated_reason` as its status reason, and the
submitter reads that reason in the reply to the submission.

Anonymous submissions show "a coalition member" to everyone outside the submitting organization.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain import Indicator, Member, NewIndicator, Role, Visibility
from bot.tlp import TLP

ANONYMOUS_ORG = "a coalition member"


class PermissionDenied(Exception):
    """The actor's role does not allow this command."""


def require_role(member: Member, role: Role, doing: str) -> None:
    if not member.role.at_least(role):
        raise PermissionDenied(f"Only {role.value}s can {doing}; you are a {member.role.value}.")


def can_moderate(member: Member) -> bool:
    """A moderator or admin whose organization is not disabled (`admin org disable`)."""
    return member.role.at_least(Role.MODERATOR) and not member.org_disabled


def visibility(member: Member, *, private: bool, ceiling: TLP) -> Visibility:
    """The filter that the store applies for this viewer in this place."""
    shared = ceiling if ceiling.shareable_in_channels else TLP.AMBER
    return Visibility(
        max_shared_tlp=TLP.AMBER if private else shared,
        org_id=member.org_id,
        member_id=member.id,
        amber_strict_own_org=private,
        red_own=private,
        red_all=private and can_moderate(member),
    )


def can_see(indicator: Indicator | NewIndicator, view: Visibility) -> bool:
    tlp = indicator.tlp
    if tlp.shareable_in_channels:
        return tlp <= view.max_shared_tlp
    if tlp is TLP.AMBER_STRICT:
        return view.amber_strict_own_org and indicator.org_id == view.org_id
    return view.red_all or (view.red_own and indicator.submitter_id == view.member_id)


def can_decide(member: Member, indicator: Indicator | NewIndicator) -> bool:
    """May this member approve (or reject) this submission? A moderator or admin who may see it in private,
    other than its submitter."""
    return (can_moderate(member) and member.id != indicator.submitter_id
            and can_see(indicator, visibility(member, private=True, ceiling=TLP.CLEAR)))


def can_edit(member: Member, indicator: Indicator) -> bool:
    """May this member edit this item (`/ioc edit`)? Any member of the submitting organization, or a moderator or
    admin (who must also may see it: the service resolves it for them first)."""
    return member.org_id == indicator.org_id or can_moderate(member)


def tlp_change_problem(member: Member, indicator: Indicator, new: TLP) -> str | None:
    """Why this member may not give this item the TLP `new` (None: they may). The submitting organization may
    only make it more restrictive; a moderator or admin may change it either way. Nobody gives an item a TLP under
    which they could no longer see it themselves (AMBER+STRICT of another organization; RED of someone else, for
    a member who is not a moderator)."""
    if new is indicator.tlp:
        return None
    if not can_moderate(member) and not (member.org_id == indicator.org_id and new > indicator.tlp):
        return (f"your organization may only make {indicator.ref} more restrictive than {indicator.tlp.label}; "
                "ask a moderator to make it less restrictive")
    if not can_see(replace(indicator, tlp=new), visibility(member, private=True, ceiling=TLP.CLEAR)):
        who = (f"only {indicator.org_name}" if new is TLP.AMBER_STRICT
               else "only its submitter and the moderators")
        return f"as {new.label} {who} could see {indicator.ref}, and you could no longer see it; ask one of them"
    return None


def moderated_in_channels(indicator: Indicator | NewIndicator) -> bool:
    """Is this submission shown to shared moderation channels (within their ceilings)? Never AMBER+STRICT or
    RED: their moderators hear of them in direct messages and in their own `/ioc queue`."""
    return indicator.tlp.shareable_in_channels


def unmoderated_reason(tlp: TLP, org_name: str) -> str:
    """The status reason of a restricted item that nobody may decide (see the module's docstring)."""
    if tlp is TLP.AMBER_STRICT:
        return (f"not moderated: {org_name} has no moderator or admin other than the submitter, and only "
                f"{org_name} may see TLP:AMBER+STRICT; it stays visible to {org_name} only")
    return ("not moderated: the coalition has no moderator or admin other than the submitter; as TLP:RED "
            "it stays visible to its submitter and the moderators only")


def shown_org_name(indicator: Indicator, viewer: Member | None) -> str:
    if indicator.anonymous and (viewer is None or viewer.org_id != indicator.org_id):
        return ANONYMOUS_ORG
    return indicator.org_name


def comment_author(indicator: Indicator, org_name: str, shown_org: str) -> str:
    """Who a comment on this item is shown as, where the item's card shows `shown_org` as its submitter: the
    commenter's organization, except on an anonymous item shown without its submitter (a shared channel, another
    organization's member): there every comment is "a coalition member", so that the submitting organization is
    neither named by its own comments nor singled out by elimination (as in STIX exports)."""
    return ANONYMOUS_ORG if indicator.anonymous and shown_org == ANONYMOUS_ORG else org_name


def can_feed(indicator: Indicator, ceiling: TLP) -> bool:
    """May this indicator be relayed to a shared channel with this ceiling?"""
    return tlp_in_channel(indicator.tlp, ceiling)


def tlp_in_channel(tlp: TLP, ceiling: TLP) -> bool:
    """May items of this TLP be shown (or counted) in a shared channel with this ceiling?"""
    return tlp.shareable_in_channels and tlp <= ceiling


# -- STIX/TAXII exchange: consumers that are an organization, not a member --

def organization_visibility(org_id: int) -> Visibility:
    """What an organization's API key (a feed consumer with no member behind it) may receive: CLEAR, GREEN,
    AMBER, and AMBER+STRICT of its own organization. Never RED: RED is for the submitter and moderators in
    person, and a key is neither."""
    return Visibility(max_shared_tlp=TLP.AMBER, org_id=org_id, member_id=-1, amber_strict_own_org=True,
                      red_own=False, red_all=False)


def coalition_visibility() -> Visibility:
    """The coalition-wide view (an operator's export with no organization named): CLEAR, GREEN and AMBER only."""
    return Visibility(max_shared_tlp=TLP.AMBER, org_id=-1, member_id=-1, amber_strict_own_org=False,
                      red_own=False, red_all=False)


def channel_visibility(ceiling: TLP) -> Visibility:
    """What a shared channel's audience may see (the weekly digest's numbers): a channel is no member and no
    organization, so the coalition-wide view capped at its ceiling (never AMBER+STRICT or RED)."""
    shared = ceiling if ceiling.shareable_in_channels else TLP.AMBER
    return replace(coalition_visibility(), max_shared_tlp=min(shared, TLP.AMBER))
