"""The coalition's domain: plain values, no platform and no ORM.

Everything here is a frozen dataclass or an enum so that services can pass values around freely and
adapters can render them without reaching back into the store.
"""

from __future__ import annotations

import enum
from dataclasses import field
from datetime import date, datetime
from typing import Any

from bot.ioc import IOCType, Observable
from bot.tlp import TLP
from bot.values import frozen


class Role(enum.StrEnum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"


class Verdict(enum.StrEnum):
    CONFIRM = "confirm"
    FALSE_POSITIVE = "false_positive"


class Platform(enum.StrEnum):
    CONSOLE = "console"
    SLACK = "slack"
    DISCORD = "discord"
    TAXII = "taxii"
    CLI = "cli"


class ChannelPurpose(enum.StrEnum):
    GENERAL = "general"
    FEED = "feed"
    MODERATION = "moderation"


@frozen
class Actor:
    """Who is speaking, and where. Identity is (platform, workspace_id, user_id), never a display name.

    ``private`` is true when the reply is seen by this person only (a direct message, an ephemeral
    reply, the console); TLP rules allow more in private replies than in shared channels.
    ``identity_workspace_id``: where the person's identity lives when that is not the workspace they speak in
    (Discord: ``workspace_id`` is the guild, the channel's home, but user ids are global, so one identity serves
    every guild and direct messages); empty means ``workspace_id``.
    ``channel_shared``: what the platform says of the channel being shared with other organizations' workspaces
    (Slack Connect), when it says: such a channel is public to them (its ceiling is CLEAR until an admin sets one
    while it is shared); None: not known, or no such thing on this platform.
    """

    platform: Platform
    workspace_id: str
    user_id: str
    channel_id: str
    private: bool = False
    display_name: str = ""
    identity_workspace_id: str = ""
    channel_shared: bool | None = None
    # a thread's channel (Discord: a thread started on a message is a channel of its own, with its own id): whoever
    # reads that channel reads the thread, so a thread no admin registered has its channel's ceiling
    parent_channel_id: str = ""
    # what the platform says of the bot being able to post in the channel (Slack: a member of it, or allowed to post
    # in a public channel it is not in; Discord: the interaction's app_permissions); a slash command works where it
    # cannot, so whatever the bot would post there is refused at once (bot.cases.case_show). None: not known
    bot_can_post: bool | None = None
    # how to let the bot post in the channel, in the platform's words, said when it cannot (the adapter's to know)
    post_here_fix: str = ""

    @property
    def identity(self) -> Identity:
        return Identity(self.platform, self.identity_workspace_id or self.workspace_id, self.user_id)


@frozen
class Organization:
    id: int
    name: str
    sector: str = ""
    trust_level: int = 50
    disabled: bool = False  # `admin org disable`: its members can no longer act; its items stay


@frozen
class Member:
    id: int
    name: str
    role: Role
    org_id: int
    org_name: str
    org_disabled: bool = False  # their organization is disabled: they can no longer act


@frozen
class Identity:
    platform: Platform
    workspace_id: str
    user_id: str


@frozen
class Invite:
    code: str
    org_id: int
    org_name: str
    role: Role
    max_uses: int
    uses: int
    expires_at: datetime


@frozen
class InviteRecord:
    """An invite code as `admin invite list` shows it: never the code (only its hash is stored)."""

    id: int
    org_name: str
    role: Role
    max_uses: int
    uses: int
    expires_at: datetime
    created_by: str  # the creating member's name, or "" when unknown
    revoked: bool = False


@frozen
class Channel:
    platform: Platform
    workspace_id: str
    channel_id: str
    ceiling: TLP
    purpose: ChannelPurpose = ChannelPurpose.GENERAL
    passive: bool = False
    ephemeral_lookups: bool = True
    shared_externally: bool = False  # Slack Connect: shared with other organizations' workspaces


@frozen
class Submission:
    """One value submitted with its own properties: a chat submission's values share them, an import's differ."""

    observable: Observable
    tlp: TLP
    confidence: int
    tags: tuple[str, ...]
    note: str
    valid_until: datetime | None
    anonymous: bool = False
    source_id: str = ""  # the id it had in an imported file
    origin_created_by: str = ""  # an imported object's author (its STIX created_by_ref)
    origin_name: str = ""  # that author identity's name, when the file or feed named it
    origin_created: datetime | None = None  # the object's STIX `created`
    threat_type: str = ""  # context (issue 13): ThreatFox's threat type (bot.context.THREAT_TYPES)
    malware: str = ""  # a malware family, normalised (bot.context.malware_name)
    references: tuple[str, ...] = ()  # reference URLs


@frozen
class NewIndicator:
    """What a submission asks the store to create."""

    type: IOCType
    value: str
    tlp: TLP
    confidence: int
    tags: tuple[str, ...]
    note: str
    submitter_id: int
    org_id: int
    anonymous: bool
    seen_at: datetime
    valid_until: datetime | None
    stix_id: str
    origin_created_by: str = ""  # provenance of an imported object (see Submission)
    origin_name: str = ""
    origin_created: datetime | None = None
    threat_type: str = ""  # context (see Submission)
    malware: str = ""
    references: tuple[str, ...] = ()


@frozen
class Indicator:
    id: int
    stix_id: str
    type: IOCType
    value: str
    status: Status
    tlp: TLP
    confidence: int
    tags: tuple[str, ...]
    note: str
    submitter_id: int
    submitter_name: str
    org_id: int
    org_name: str
    anonymous: bool
    first_seen: datetime
    last_seen: datetime
    valid_until: datetime | None
    created_at: datetime
    modified_at: datetime
    status_reason: str = ""
    origin_created_by: str = ""  # provenance of an imported object: its author's STIX identity id,
    origin_name: str = ""  # that identity's name,
    origin_created: datetime | None = None  # and the object's own `created` (exports re-emit it)
    threat_type: str = ""  # context (issue 13): ThreatFox's threat type, a malware family, reference URLs
    malware: str = ""
    references: tuple[str, ...] = ()
    decided_at: datetime | None = None  # the last moderation decision (approved, rejected, revoked)

    @property
    def ref(self) -> str:
        return f"#{self.id}"


@frozen
class Tally:
    confirm: int = 0
    false_positive: int = 0
    confirm_orgs: int = 0
    false_positive_orgs: int = 0


@frozen
class SightingSummary:
    count: int = 0
    orgs: int = 0
    last_seen: datetime | None = None


@frozen
class Comment:
    """`/ioc comment #ID text` (issue 13): read by whoever may see the indicator."""

    id: int
    indicator_id: int
    member_id: int
    org_id: int
    org_name: str
    text: str
    created_at: datetime


@frozen
class Case:
    """A case (issue 13): a campaign, an incident, a takedown, grouping indicators. It has its own TLP, seen as an
    item is (bot.rules.can_see: `submitter_id` is the member who opened it)."""

    id: int
    name: str
    tlp: TLP
    description: str
    org_id: int
    org_name: str
    submitter_id: int
    created_at: datetime


@frozen
class Visibility:
    """The rows a viewer may see, as the store must filter them (computed by bot.rules)."""

    max_shared_tlp: TLP
    org_id: int
    member_id: int
    amber_strict_own_org: bool
    red_own: bool
    red_all: bool


@frozen
class SearchFilter:
    """Search criteria. `org_name` matches that organization's rows, but never its anonymous ones unless the
    viewer belongs to it (anonymity must survive a search by organization). `text` is a substring of the
    value. `oldest_first` orders by id ascending (the moderation queue); otherwise newest first."""

    types: tuple[IOCType, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()
    org_name: str | None = None
    since: datetime | None = None
    tlp: TLP | None = None
    text: str = ""
    oldest_first: bool = False
    submitter_id: int | None = None
    within: str = ""  # a network: IPs and CIDRs overlapping it, URLs on such IPs (issue 12)
    domain: str = ""  # a domain: it, its subdomains, URLs and e-mail addresses on them
    notes_text: str = ""  # a substring of the note or of a tag
    threat_types: tuple[str, ...] = ()  # context (issue 13)
    malware: tuple[str, ...] = ()


@frozen
class Page:
    number: int = 1
    size: int = 10

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@frozen
class OutboxEvent:
    """One event to deliver on one platform (see bot.delivery)."""

    id: int
    event: str
    payload: dict[str, Any]
    platform: Platform
    created_at: datetime
    attempts: int = 0
    last_error: str | None = None
    workspace_id: str | None = None  # one workspace's lane of the platform; None = every workspace it serves


@frozen
class PostedCard:
    """A card the bot posted in a channel; `message_id` None means "about to be posted"."""

    platform: Platform
    workspace_id: str
    channel_id: str
    indicator_id: int
    purpose: str  # feed | moderation | reply
    message_id: str | None = None
    delivery_key: str | None = None
    id: int = 0


@frozen
class PostedCaseCard:
    """A case's card the bot posted in a channel (`/ioc case show NAME` there), kept so that it is edited when the
    case changes. `ceiling`: what the channel's audience could see when it was posted (a channel shared with other
    organizations may have been treated as CLEAR): the card never shows more than that, nor more than the channel's
    ceiling now. `message_id` None means "about to be posted"."""

    platform: Platform
    workspace_id: str
    channel_id: str
    case_id: int
    ceiling: TLP
    message_id: str | None = None
    delivery_key: str | None = None
    id: int = 0


@frozen
class StatsTrends:
    """What `/ioc stats` draws (issue 14), only over what the asker may see: per week (oldest first, the current
    week last), submissions and approvals; the median time from submission to decision; the most used tags; and
    how many indicators each organization contributed (anonymous items of others under ANONYMOUS_ORG)."""

    week_starts: tuple[date, ...] = ()
    submitted: tuple[int, ...] = ()
    approved: tuple[int, ...] = ()
    median_decision_hours: float | None = None
    top_tags: tuple[tuple[str, int], ...] = ()
    by_organization: tuple[tuple[str, int], ...] = ()


@frozen
class StoreStats:
    by_status: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    organizations: int = 0
    members: int = 0
    votes: int = 0
    sightings: int = 0


__all__ = [
    "TLP",
    "Actor",
    "Channel",
    "ChannelPurpose",
    "IOCType",
    "Identity",
    "Indicator",
    "Invite",
    "Member",
    "NewIndicator",
    "Organization",
    "OutboxEvent",
    "Page",
    "Platform",
    "PostedCard",
    "Role",
    "SearchFilter",
    "SightingSummary",
    "StatsTrends",
    "Status",
    "StoreStats",
    "Submission",
    "Tally",
    "Verdict",
    "Visibility",
]


# ---------------------------------------------------------------- STIX/TAXII exchange (bot.exchange, bot.stix)


@frozen
class ExportFilter:
    """What an export or a feed asks for; visibility is applied on top, always."""

    statuses: tuple[Status, ...] = (Status.APPROVED,)
    max_tlp: TLP | None = None
    types: tuple[IOCType, ...] = ()
    tags: tuple[str, ...] = ()
    since: datetime | None = None  # modified at or after


@frozen
class VoteRecord:
    """One member's vote as STIX exports it: the voter's organization, never the voter's name."""

    indicator_id: int
    member_id: int
    org_id: int
    verdict: Verdict
    reason: str
    created_at: datetime
    updated_at: datetime


@frozen
class SightingRecord:
    id: int
    indicator_id: int
    org_id: int
    count: int
    seen_at: datetime


@frozen
class ApiKey:
    """An organization's TAXII key; only its SHA-256 and a display prefix are stored."""

    id: int
    org_id: int
    org_name: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
