"""What services return. Adapters render these natively; `bot.text.render` is the plain-text fallback.

Results carry already-decided facts: the organization name shown (anonymity applied), the buttons this
viewer may press, and the indicators this viewer may see. Adapters never decide any of that.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime

from bot.domain import (
    ApiKey as ApiKeyValue,
)
from bot.domain import (
    Case,
    Channel,
    Comment,
    Identity,
    Indicator,
    Member,
    Organization,
    OutboxEvent,
    SightingSummary,
    StatsTrends,
    Status,
    StoreStats,
    Tally,
)
from bot.domain import Invite as InviteValue
from bot.ioc import Observable
from bot.ports import OutboxLane
from bot.score import Score
from bot.standing import OrgStanding
from bot.tlp import TLP
from bot.values import frozen
from bot.watch_index import Watch


@frozen
class Button:
    label: str
    action_id: str
    style: str = "default"  # default | primary | danger


@frozen
class IndicatorCard:
    indicator: Indicator
    org_shown: str
    status: Status  # effective status (expired once valid_until has passed)
    tally: Tally
    sightings: SightingSummary
    buttons: tuple[Button, ...] = ()
    warnings: tuple[str, ...] = ()
    # The viewer may also see another item of the same value at AMBER+STRICT or RED (another visibility scope).
    # Only ever set for a private reply to someone who may see both (bot.services.cards_for).
    also_restricted: bool = False
    comments: tuple[Comment, ...] = ()  # issue 13: the latest comments (lookups only), newest first
    comment_count: int = 0
    score: Score | None = None  # bot.score: from the item's own votes and sightings, never from other items


@frozen
class Submitted:
    """What a submission did. Built only from items the submitter may see: a value held where they may not see
    it is submitted as their own new item, so the answer is the same as for an unknown value."""

    created: tuple[IndicatorCard, ...]
    known: tuple[IndicatorCard, ...] = ()  # held already: a sighting by the submitter's organization was recorded
    # (ref, what of the submission differs from the held item and was not applied), e.g. ("#3", ("TLP:RED", ...))
    not_applied: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sightings_updated: tuple[str, ...] = ()  # refs whose sighting of today by the submitter was replaced


@frozen
class RelatedItem:
    """One item around a looked-up value (issue 12's pivots), as the related section shows it."""

    indicator: Indicator
    status: Status  # effective status
    confirm_orgs: int  # organizations that confirmed it


@frozen
class RelatedGroup:
    """Items of one kind around a value ("inside", "subdomains", "URLs on it"...): how many the viewer may see,
    the first few of them (in address or name order), and the search that lists them all."""

    label: str
    count: int  # exact up to bot.pivots.COUNT_MAX; more is "more than" that
    items: tuple[RelatedItem, ...]
    search: str = ""


@frozen
class Related:
    """What else the coalition holds around one looked-up value, only what the viewer may see (counts too)."""

    value: str
    groups: tuple[RelatedGroup, ...]


@frozen
class LookupResult:
    cards: tuple[IndicatorCard, ...]
    unknown: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    related: tuple[Related, ...] = ()  # pivots: only values with something related the viewer may see


@frozen
class Voted:
    card: IndicatorCard
    previous: str | None
    auto_approved: bool = False


@frozen
class SightingRecorded:
    card: IndicatorCard
    count: int
    updated: bool = False  # replaced the member's sighting of today (one per member, indicator and UTC day)


@frozen
class IndicatorList:
    title: str
    cards: tuple[IndicatorCard, ...]
    total: int
    page: int
    page_size: int
    next_action: str | None = None  # action id of the next page, when there is one
    total_at_least: bool = False  # `total` is a lower bound: counting stopped once the page was full


@frozen
class Moderated:
    verb: str  # approved | rejected | revoked
    cards: tuple[IndicatorCard, ...]
    skipped: tuple[str, ...] = ()  # "#4 is rejected, not pending"


@frozen
class WhoAmIResult:
    member: Member
    identities: tuple[Identity, ...]


@frozen
class Joined:
    member: Member


@frozen
class StatsResult:
    stats: StoreStats
    trends: StatsTrends | None = None  # what the chart draws (adapters.charts)


@frozen
class HelpResult:
    entries: tuple[tuple[str, str, str], ...]  # (verb, usage, summary)


@frozen
class OrganizationList:
    organizations: tuple[Organization, ...]


@frozen
class MemberListResult:
    members: tuple[Member, ...]


@frozen
class InviteCreated:
    code: str
    invite: InviteValue


@frozen
class ChannelSettings:
    channel: Channel
    changed: bool
    # shared with other organizations' workspaces (Slack Connect): None where the platform has no such thing
    shared: bool | None = None
    note: str = ""  # why the ceiling is what it is (a shared channel's CLEAR), and how to change it
    # in a thread (Discord): THREAD_FOLLOWS, a thread no admin registered (it has its channel's ceiling, having no
    # audience of its own; `channel set` there sets its channel, whose settings the reply shows); THREAD_OWN, a thread
    # registered on its own (before `channel set` in a thread set its channel), its ceiling never above its
    # channel's; "" elsewhere
    thread: str = ""


THREAD_FOLLOWS = "follows"
THREAD_OWN = "own"


@frozen
class ChannelSharing:
    """A registered channel became shared with another organization's workspace (or stopped being shared):
    `lowered_from` is the ceiling it had when it was lowered to CLEAR, else None."""

    channel: Channel
    lowered_from: TLP | None


@frozen
class HomeResult:
    member: Member
    recent: IndicatorList  # the member's own latest submissions
    queue: IndicatorList | None  # moderators only


@frozen
class PassiveResult:
    """Indicators found in a channel message: each with its card when the channel may see it, else None
    (unknown, or above the channel's ceiling: the same answer, so nothing leaks)."""

    items: tuple[tuple[Observable, IndicatorCard | None], ...]


@frozen
class DeliveryList:
    parked: tuple[OutboxEvent, ...]
    pending: dict[str, tuple[int, float]]  # platform -> (rows waiting, age of the oldest in seconds)
    lanes: tuple[OutboxLane, ...] = ()  # the same rows per workspace lane (bot.delivery)


@frozen
class Notice:
    """A message to one person about one indicator (e.g. "your submission was approved")."""

    message: str
    card: IndicatorCard


@frozen
class WatchListResult:
    """The speaker's watches, and (in a channel) the channel's watches set by others."""

    mine: tuple[Watch, ...]
    channel: tuple[Watch, ...] = ()


@frozen
class Done:
    """A short confirmation, e.g. "Organization ACME Bank added (o3)"."""

    message: str


@frozen
class UserError:
    """Something the person can fix: what was wrong and the right form."""

    problem: str
    usage: str = ""


STORE_UNAVAILABLE = "the coalition's store is unavailable right now; try again in a minute"


@frozen
class Unavailable(UserError):
    """The store could not be reached: nothing was done; the same command may work in a minute. A `UserError`,
    so that every adapter shows it privately, as it shows any answer the person can act on."""

    problem: str = STORE_UNAVAILABLE


@frozen
class InternalError:
    reference: str
    at: datetime = field(default_factory=datetime.now)


Result = (
    IndicatorCard | Submitted | LookupResult | Voted | SightingRecorded | IndicatorList | Moderated | WhoAmIResult
    | Joined | StatsResult | HelpResult | OrganizationList | MemberListResult | InviteCreated | ChannelSettings
    | ChannelSharing | HomeResult | PassiveResult | DeliveryList | Notice | Done | UserError | InternalError
)


# -- STIX/TAXII exchange (bot.exchange) --

@frozen
class FileResult:
    """A file for the person (the adapters upload it); `summary` is the message that goes with it."""

    filename: str
    media_type: str
    data: bytes
    summary: str


@frozen
class ImportReport:
    filename: str
    format: str  # stix | text
    objects: int  # objects (or values) read
    created: tuple[str, ...]  # refs (#42) of the new pending submissions, at most the first 50
    created_count: int
    known_count: int  # already held where the importer may see it: a sighting by their organization was recorded
    skipped: tuple[tuple[str, int], ...]  # (reason, count), most frequent first
    warninglisted: int = 0
    not_applied_count: int = 0  # known ones whose TLP, confidence, tags, note or validity in the file differ
    sightings_updated: int = 0  # known ones whose sighting of today by the importer was replaced
    notes: tuple[str, ...] = ()  # object by object (the first 200): read as RED or skipped, and why
    notes_count: int = 0  # all notes
    read_as_red: int = 0  # objects whose marking was not understood, stored at RED
    stopped: str = ""  # a big import that stopped midway: how far it got and what to do
    unmoderated_count: int = 0  # of created_count: stored approved at once, as nobody but the importer could decide


@frozen
class ApiKeyCreated:
    key: str  # shown once; only its SHA-256 is stored
    api_key: ApiKeyValue


@frozen
class ApiKeyListResult:
    keys: tuple[ApiKeyValue, ...]


Result = Result | FileResult | ImportReport | ApiKeyCreated | ApiKeyListResult  # type: ignore[misc]


# -- Context (issue 13): cases --

@frozen
class CaseCard:
    """A case and the indicators in it that the viewer may see (counted by status; the others are not mentioned)."""

    case: Case
    cards: tuple[IndicatorCard, ...]
    by_status: tuple[tuple[str, int], ...]
    headline: str = ""
    channel: bool = False  # built for a channel's audience (a live case card), not for the one who asked


@frozen
class CaseListResult:
    cases: tuple[tuple[Case, int], ...]  # each case the viewer may see, with how many of its items they may see


@frozen
class MalwareNamesResult:
    names: tuple[str, ...]


Result = Result | CaseCard | CaseListResult | MalwareNamesResult  # type: ignore[misc]


# -- Score (issue 13) --

@frozen
class ScoreExplained:
    """`/ioc why #ID`: an item's score and the whole computation in plain words (bot.score.explain)."""

    indicator: Indicator
    score: Score
    explanation: str


@frozen
class OrgStandings:
    """`/ioc stats orgs`: each organization's standing over what the asker may see."""

    rows: tuple[OrgStanding, ...]


Result = Result | ScoreExplained | OrgStandings  # type: ignore[misc]
