"""The commands as frozen values (the references they name are in `refs`)."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import ChannelPurpose, Role, Status, Verdict
from bot.ioc import IOCType, Observable
from bot.tlp import TLP
from bot.values import frozen
from bot.watch_index import WatchTarget

from .refs import MemberRef, Ref


@frozen
class Submit:
    values: tuple[Observable, ...]
    tlp: TLP | None = None
    confidence: int | None = None
    tags: tuple[str, ...] = ()
    note: str = ""
    anonymous: bool = False
    valid_for: timedelta | None = None
    override: bool = False
    threat_type: str = ""  # context (issue 13): bot.context
    malware: str = ""
    references: tuple[str, ...] = ()
    case: str = ""  # case:NAME adds the new items to that case (bot.cases)


@frozen
class Lookup:
    refs: tuple[Ref, ...]
    invalid: tuple[str, ...] = ()


@frozen
class Vote:
    ref: Ref
    verdict: Verdict | None  # None withdraws the vote
    reason: str = ""
    withdraw_only: Verdict | None = None  # withdraw only a vote with this verdict (a removed reaction)


@frozen
class Sighting:
    ref: Ref
    count: int = 1
    note: str = ""


@frozen
class Search:
    types: tuple[IOCType, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()
    org: str | None = None
    since: timedelta | None = None
    tlp: TLP | None = None
    text: str = ""
    page: int = 1
    # The words after org:NAME up to the next option: they continue the name when the longer name is an
    # organization's (`org:Sentinel Security`), else they are search text (bot.services.search decides).
    org_more: tuple[str, ...] = ()
    within: str = ""  # a network (CIDR or IP), canonical
    domain: str = ""  # a domain, canonical
    notes_text: str = ""  # text:WORD, over notes and tags
    min_score: int | None = None  # min_score:N (issue 13): only items scoring at least N
    threat_types: tuple[str, ...] = ()  # threat:botnet_cc (issue 13)
    malware: tuple[str, ...] = ()  # malware:emotet


@frozen
class Queue:
    page: int = 1


@frozen
class Approve:
    refs: tuple[Ref, ...]
    note: str = ""


@frozen
class Reject:
    refs: tuple[Ref, ...]
    reason: str


@frozen
class Revoke:
    refs: tuple[Ref, ...]
    reason: str


@frozen
class Join:
    code: str


@frozen
class WhoAmI:
    pass


@frozen
class Stats:
    orgs: bool = False  # `/ioc stats orgs`: each organization's standing (issue 13)


@frozen
class Help:
    topic: str | None = None


@frozen
class OrgAdd:
    name: str
    sector: str = ""
    trust: int = 50


@frozen
class OrgList:
    pass


@frozen
class MemberList:
    org: str | None = None


@frozen
class MemberRole:
    member: MemberRef
    role: Role


@frozen
class InviteCreate:
    org: str
    role: Role = Role.MEMBER
    uses: int = 1
    expires_in: timedelta = timedelta(days=7)


@frozen
class ChannelSet:
    ceiling: TLP | None = None
    purpose: ChannelPurpose | None = None
    passive: bool | None = None
    ephemeral: bool | None = None


@frozen
class ChannelShow:
    pass


@frozen
class Deliveries:
    """Admins: deliveries that failed too often and wait for a decision."""


@frozen
class RetryDelivery:
    event_id: int


@frozen
class Home:
    """The person's overview (Slack's App Home): organization, role, recent submissions, the queue."""


@frozen
class Passive:
    """A message seen in a channel with passive mode on: the status of the indicators in it, storing nothing."""

    text: str


Command = (
    Submit | Lookup | Vote | Sighting | Search | Queue | Approve | Reject | Revoke | Join | WhoAmI | Stats
    | Help | OrgAdd | OrgList | MemberList | MemberRole | InviteCreate | ChannelSet | ChannelShow | Home | Passive
    | Deliveries | RetryDelivery
)


EXPORT_FORMATS = ("stix", "csv", "txt")


@frozen
class Export:
    format: str = "stix"  # stix | csv | txt
    statuses: tuple[Status, ...] = (Status.APPROVED,)
    max_tlp: TLP | None = None
    types: tuple[IOCType, ...] = ()
    tags: tuple[str, ...] = ()
    since: timedelta | None = None
    min_score: int | None = None  # only items scoring at least this (issue 13)


@frozen
class ImportFile:
    """A file shared to the bot (built by the adapters from the attachment): STIX 2.1 JSON, MISP event JSON, CSV
    or text. `context`: also MISP attributes marked `to_ids: false` (skipped and counted otherwise)."""

    filename: str
    data: bytes
    context: bool = False


@frozen
class ApiKeyCreate:
    org: str
    name: str = ""


@frozen
class ApiKeyList:
    pass


@frozen
class ApiKeyRevoke:
    key_id: int


Command = Command | Export | ImportFile | ApiKeyCreate | ApiKeyList | ApiKeyRevoke  # type: ignore[misc]


LINK_CODE_LENGTH = 12


LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # read back and typed by hand: no 0/O, 1/I


@frozen
class Link:
    """`/ioc link [start]` makes a one-time code (None here); `/ioc link CODE` uses it from another identity."""

    code: str | None = None


Command = Command | Link  # type: ignore[misc]


@frozen
class WatchAdd:
    """`/ioc watch add TARGET ...`: be told when an indicator matching TARGET is submitted, decided, confirmed,
    sighted, revoked or expires; `channel` (moderators, admins) alerts the channel instead of the person."""

    target: WatchTarget
    note: str = ""
    channel: bool = False
    digest: bool = False
    include_own: bool = False


@frozen
class WatchList:
    pass


@frozen
class WatchRemove:
    watch_id: int


Command = Command | WatchAdd | WatchList | WatchRemove  # type: ignore[misc]


@frozen
class Edit:
    """`/ioc edit #ID ...`: what to change (None or empty: unchanged). `tags` replaces the tags; `tags_add` and
    `tags_remove` change them (`tags:+a,-b`)."""

    ref: Ref
    confidence: int | None = None
    tags: tuple[str, ...] | None = None
    tags_add: tuple[str, ...] = ()
    tags_remove: tuple[str, ...] = ()
    valid_for: timedelta | None = None
    tlp: TLP | None = None
    note: str | None = None
    threat_type: str | None = None  # context (issue 13); "" removes it (threat:none)
    malware: str | None = None  # "" removes it (malware:none)
    references: tuple[str, ...] | None = None  # replaces them; () removes them (ref:none)


@frozen
class Reopen:
    ref: Ref
    reason: str


@frozen
class Comment:
    ref: Ref
    text: str


@frozen
class CaseNew:
    name: str
    tlp: TLP | None = None
    description: str = ""


@frozen
class CaseAdd:
    name: str
    refs: tuple[Ref, ...]


@frozen
class CaseRemove:
    name: str
    ref: Ref


@frozen
class CaseShow:
    name: str


@frozen
class CaseList:
    pass


@frozen
class MalwareNames:
    """Not typed: what an autocomplete asks (the families already named that the asker may see)."""

    prefix: str = ""


@frozen
class MemberRemove:
    member: MemberRef


@frozen
class InviteList:
    pass


@frozen
class InviteRevoke:
    invite_id: int | None = None
    code: str | None = None


@frozen
class OrgDisable:
    name: str
    disabled: bool = True  # False: `org enable`


Command = Command | Edit | Reopen | MemberRemove | InviteList | InviteRevoke | OrgDisable  # type: ignore[misc]


@frozen
class Why:
    ref: Ref


Command = Command | Why  # type: ignore[misc]
