"""What the core needs from the outside world, as Protocols. `storage` implements them.

A unit of work is one transaction: ``async with uow_factory() as uow: ...; await uow.commit()``.
Leaving the block without commit rolls back, so nothing partial is ever stored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, Self

from bot.domain import (
    ApiKey,
    Case,
    Channel,
    ChannelPurpose,
    Comment,
    ExportFilter,
    Identity,
    Indicator,
    Invite,
    InviteRecord,
    Member,
    NewIndicator,
    Organization,
    OutboxEvent,
    Page,
    Platform,
    PostedCard,
    PostedCaseCard,
    Role,
    SearchFilter,
    SightingRecord,
    SightingSummary,
    StatsTrends,
    Status,
    StoreStats,
    Tally,
    Verdict,
    Visibility,
    VoteRecord,
)
from bot.ioc import IOCType
from bot.tlp import TLP
from bot.values import frozen

if TYPE_CHECKING:  # named in annotations only: a command that uses none of them does not load them
    from bot.misp.types import MispRow
    from bot.pivots import Pivot
    from bot.score import OrgVerdict
    from bot.standing import OrgStanding
    from bot.watch_index import Watch


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class OrganizationRepository(Protocol):
    async def add(self, name: str, sector: str, trust_level: int) -> Organization:
        """Raises bot.ports.Conflict when the name (case-insensitive) is taken."""

    async def by_name(self, name: str) -> Organization | None: ...

    async def get(self, org_id: int) -> Organization | None: ...

    async def list(self) -> Sequence[Organization]: ...

    async def set_disabled(self, org_id: int, at: datetime | None) -> None:
        """Disable the organization as of `at` (its members can no longer act), or enable it again (None)."""


class MemberRepository(Protocol):
    async def add(self, org_id: int, name: str, role: Role) -> Member: ...

    async def get(self, member_id: int) -> Member | None: ...

    async def by_identity(self, identity: Identity) -> Member | None: ...

    async def speaker(self, identity: Identity, channel_id: str, *, workspace_id: str | None = None
                      ) -> tuple[Member | None, Channel | None]:
        """Who is speaking and the settings of the channel they speak in (in `workspace_id`, default the
        identity's), in one round trip."""

    async def by_name(self, name: str) -> Sequence[Member]: ...

    async def link_identity(self, member_id: int, identity: Identity) -> None:
        """Raises Conflict when this identity already belongs to a member."""

    async def identities(self, member_id: int) -> Sequence[Identity]: ...

    async def many(self, member_ids: Iterable[int]) -> dict[int, tuple[Member, tuple[Identity, ...]]]:
        """These members with their identities, in two round trips at most."""

    async def set_role(self, member_id: int, role: Role) -> None: ...

    async def remove(self, member_id: int, at: datetime) -> Sequence[Identity]:
        """Mark the member removed (no longer found by any lookup; votes and submissions kept), delete their
        identities and link code; the identities unlinked."""

    async def list(self, org_id: int | None = None) -> Sequence[Member]: ...

    async def set_link_code(self, member_id: int, code: str, expires_at: datetime, now: datetime) -> None:
        """The member's one-time link code (`/ioc link`), stored hashed; it replaces any earlier one of theirs (and
        expired ones are dropped as of `now`)."""

    async def redeem_link_code(self, code: str, now: datetime) -> int | None:
        """Use the link code once, atomically: the member id it was made for, or None when it is unknown, used or
        expired (all the same to the caller)."""


class InviteRepository(Protocol):
    async def add(self, code: str, org_id: int, role: Role, max_uses: int, expires_at: datetime,
                  created_by: int | None) -> Invite: ...

    async def redeem(self, code: str, now: datetime) -> Invite | None:
        """Atomically use the invite once (uses < max_uses and not expired); None when it cannot be used."""

    async def list(self) -> Sequence[InviteRecord]:
        """Every invite, newest first, without its code (only the hash is stored)."""

    async def revoke(self, *, invite_id: int | None = None, code: str | None = None,
                     at: datetime) -> InviteRecord | None:
        """Revoke an invite by id or by code; None when there is none such that is not revoked yet."""


class IndicatorRepository(Protocol):
    async def add(self, new: NewIndicator) -> Indicator:
        """Raises Conflict when (type, value) exists already in the new item's visibility scope: "shared"
        (CLEAR, GREEN, AMBER), its organization's (AMBER+STRICT) or its submitter's (RED)."""

    async def get(self, indicator_id: int) -> Indicator | None: ...

    async def by_ids(self, indicator_ids: Iterable[int]) -> Sequence[Indicator]:
        """The stored ones among these ids, in one round trip (order not guaranteed)."""

    async def by_stix_id(self, stix_id: str) -> Indicator | None: ...

    async def by_stix_ids(self, stix_ids: Iterable[str]) -> Sequence[Indicator]: ...

    async def by_values(self, values: Iterable[tuple[IOCType, str]]) -> Sequence[Indicator]:
        """Every stored indicator among these (type, value) pairs, in one round trip: a value may be held several
        times, once per visibility scope (by id)."""

    async def search(self, flt: SearchFilter, view: Visibility, page: Page) -> tuple[Sequence[Indicator], int]:
        """Newest first, only rows the visibility allows; returns (page of rows, total count)."""

    async def search_newest(self, flt: SearchFilter, view: Visibility, before_id: int | None, size: int, *,
                            min_confidence: int = 0) -> Sequence[Indicator]:
        """The next `size` matches of `flt` newest first with id < before_id and a confidence of at least
        `min_confidence` (keyset batches, no count)."""

    async def related(self, pivots: Sequence[Pivot], view: Visibility,
                      limit: int) -> list[tuple[list[Indicator], int, dict[int, int]]]:
        """Per pivot: the first `limit` items in its relation to its target that `view` may see, how many
        there are, up to bot.pivots.COUNT_MAX + 1 (only what `view` may see is counted), and how many
        organizations confirm each item shown (by id)."""

    async def transition(self, indicator_id: int, from_statuses: Iterable[Status], to: Status,
                         reason: str, at: datetime) -> bool:
        """Compare-and-set of the status; False when the row was not in one of from_statuses."""

    async def edit(self, indicator_id: int, *, at: datetime, tlp: TLP | None = None, confidence: int | None = None,
                   tags: Sequence[str] | None = None, valid_until: datetime | None = None,
                   note: str | None = None, threat_type: str | None = None, malware: str | None = None,
                   references: Sequence[str] | None = None) -> None:
        """Change what is given (None: unchanged; `tags` replace). A new TLP moves the item to its scope: Conflict
        when the value is held there already."""

    async def touch(self, indicator_id: int, seen_at: datetime) -> None:
        """Move last_seen forward (never back)."""

    async def touch_many(self, indicator_ids: Iterable[int], seen_at: datetime) -> None:
        """`touch` for many indicators at once (one statement per chunk)."""

    async def expire_due(self, now: datetime) -> Sequence[int]:
        """Set every pending/approved row whose valid_until has passed to expired; return their ids."""

    async def approved_after(self, after_id: int, size: int, now: datetime) -> Sequence[Indicator]:
        """The next `size` approved items with id > after_id still within their valid_until, by id."""

    async def stats(self, view: Visibility | None = None) -> StoreStats:
        """Only what `view` may see (everything without one)."""

    async def transition_many(self, indicator_ids: Iterable[int], from_statuses: Iterable[Status], to: Status,
                              reason: str, at: datetime) -> Sequence[int]:
        """Like `transition`, for many at once; returns the ids that changed."""


class Evidence(NamedTuple):
    """What the store knows of an indicator beyond its row, read for many at once (one round trip): its tally and
    sightings (what a card shows), each organization's verdict (the score: bot.score), how many comments it has."""

    tally: Tally
    sightings: SightingSummary
    verdicts: tuple[OrgVerdict, ...]
    comments: int


class VoteRepository(Protocol):
    async def upsert(self, indicator_id: int, member_id: int, org_id: int, verdict: Verdict, reason: str,
                     at: datetime) -> Verdict | None:
        """One vote per member per indicator, enforced by the database; returns the previous verdict."""

    async def withdraw(self, indicator_id: int, member_id: int, only: Verdict | None = None) -> Verdict | None:
        """Delete the member's vote (only if its verdict is `only`, when given); the verdict deleted, or None."""

    async def tally(self, indicator_id: int, *, excluding_org: int | None = None) -> Tally:
        """Without the votes of organization `excluding_org` when given."""

    async def tallies(self, indicator_ids: Iterable[int], *, excluding_org: int | None = None) -> dict[int, Tally]:
        ...

    async def activity(self, indicator_ids: Iterable[int]) -> dict[int, tuple[Tally, SightingSummary]]:
        """Tallies and sightings of many indicators in one round trip (what a card shows)."""

    async def evidence(self, indicator_ids: Iterable[int]) -> dict[int, Evidence]:
        """`activity`, each organization's verdict with its trust and latest vote (the score) and how many comments
        each has, one round trip."""


class SightingRepository(Protocol):
    """At most one sighting per (indicator, member, UTC day), enforced by the database: a repeat that day
    replaces the count and note of that day's row (the latest wins), so a replayed request adds nothing."""

    async def add(self, indicator_id: int, org_id: int, member_id: int, count: int, seen_at: datetime,
                  note: str) -> bool:
        """Record the member's sighting of the day of `seen_at`; True when it replaced that day's earlier one."""

    async def add_many(self, sightings: Sequence[tuple[int, int, int, int, datetime, str]]) -> set[int]:
        """Many (indicator_id, org_id, member_id, count, seen_at, note), a few statements in all; the indicator
        ids whose sighting of that day by that member was replaced."""



class ChannelRepository(Protocol):
    async def get(self, platform: Platform, workspace_id: str, channel_id: str) -> Channel | None: ...

    async def upsert(self, channel: Channel) -> None: ...

    async def list(self, purpose: ChannelPurpose | None = None) -> Sequence[Channel]: ...

    async def remove_workspace(self, platform: Platform, workspace_id: str) -> Sequence[Channel]:
        """Unregister a workspace's channels and forget the cards posted there; returns the channels removed."""

    async def adopt(self, platform: Platform, from_workspace: str, to_workspace: str,
                    channel_ids: Sequence[str]) -> int:
        """Re-key these channels (and their posted cards) from one workspace id to another; a setting already
        under `to_workspace` wins. Returns how many channel rows moved."""


class AuditLog(Protocol):
    async def append(self, action: str, *, at: datetime, platform: Platform, member_id: int | None,
                     indicator_id: int | None = None, detail: dict[str, Any] | None = None) -> None: ...


@frozen
class OutboxLane:
    """The rows of one platform's lane waiting to be delivered (`workspace_id` None: rows for every workspace)."""

    platform: Platform
    workspace_id: str | None
    rows: int
    oldest_seconds: float  # age of the oldest
    unclaimed: int  # never claimed by any deliverer yet
    last_error: str | None  # the latest failure recorded on one of them


class Outbox(Protocol):
    async def add(self, event: str, payload: dict[str, Any], at: datetime, platform: Platform) -> None:
        """Written in the same transaction as the change it announces, one row per delivering platform (for every
        workspace of the platform: `workspace_id` NULL)."""

    async def add_lanes(self, event: OutboxEvent, payload: dict[str, Any], workspace_ids: Sequence[str],
                        at: datetime) -> None:
        """One lane row per workspace (never the row's own): the same event, platform and creation time, this
        payload, `workspace_id` set, attempts 0, due at `at`. Written in the transaction that marks `event`
        delivered (bot.delivery: the part of a row another process must deliver)."""

    async def drop_workspace(self, platform: Platform, workspace_id: str, reason: str, at: datetime) -> int:
        """The workspace is gone (uninstalled, its token revoked): its lane's rows not yet delivered, parked ones
        included, are marked delivered at `at` with `last_error` "dropped: <reason>". Returns how many."""

    async def claim(self, platform: Platform, now: datetime, lease: timedelta, limit: int,
                    workspaces: Collection[str] | None = None) -> Sequence[OutboxEvent]:
        """Lease up to `limit` due rows of this platform (their `available_at` moves to now + lease, attempts + 1):
        rows for every workspace and, with `workspaces`, only these workspaces' lane rows (None: every lane).

        Concurrent deliverers never lease the same row (FOR UPDATE SKIP LOCKED on PostgreSQL); a row whose
        deliverer died comes back when its lease ends."""

    async def extend(self, event_ids: Iterable[int], leased_until: datetime, until: datetime) -> int:
        """A live deliverer's heartbeat: the rows it still holds under the lease ending `leased_until` now end at
        `until` (rows another deliverer claimed since are left alone). Returns how many were extended."""

    async def delivered(self, event_ids: Iterable[int], at: datetime) -> None: ...

    async def retry_later(self, event_id: int, error: str, at: datetime) -> None:
        """Record the failure; the row is due again at `at`."""

    async def park(self, event_id: int, error: str, at: datetime) -> None:
        """Give up after too many attempts: the row waits for an admin (`/ioc admin deliveries`)."""

    async def parked(self, limit: int) -> Sequence[OutboxEvent]: ...

    async def unpark(self, event_id: int, at: datetime) -> bool:
        """Make a parked row due again now; False when there is no such parked row."""

    async def pending_stats(self, now: datetime) -> dict[str, tuple[int, float]]:
        """Per platform: (rows not yet delivered nor parked, age in seconds of the oldest)."""

    async def pending_lanes(self, now: datetime) -> Sequence[OutboxLane]:
        """The rows not yet delivered nor parked, per platform and lane (workspace), by platform then lane."""


class PostedCards(Protocol):
    async def reserve(self, cards: Sequence[PostedCard]) -> dict[str, tuple[PostedCard, datetime | None]]:
        """Record cards about to be posted under their delivery keys, before posting. Returns, by key, the record
        and, when an earlier attempt had reserved that key already, that attempt's start time (None for a new key):
        a post it made is newer than that, and `message_id` tells whether the post was recorded."""

    async def add(self, card: PostedCard) -> None:
        """A card posted as the public reply to a command."""

    async def set_messages(self, messages: Sequence[tuple[int, str]]) -> None:
        """(card id, platform message id) of cards now posted."""

    async def of_indicators(self, indicator_ids: Iterable[int], platform: Platform) -> Sequence[PostedCard]:
        """Every posted copy of these indicators' cards on this platform (with a message id)."""

    async def reserve_cases(self, cards: Sequence[PostedCaseCard]) -> dict[str, tuple[PostedCaseCard, datetime | None]]:
        """As `reserve`, for cases' cards posted in channels (issue 13's live case cards)."""

    async def set_case_messages(self, messages: Sequence[tuple[int, str]]) -> None:
        """(case card id, platform message id) of cases' cards now posted."""

    async def of_cases(self, case_ids: Iterable[int], platform: Platform) -> Sequence[PostedCaseCard]:
        """Every posted copy of these cases' cards on this platform (with a message id)."""

    async def lower_in_channel(self, platform: Platform, channel_id: str, ceiling: TLP) -> None:
        """The cards recorded in this channel show no more than `ceiling` from now on: cases' cards keep it as
        their ceiling (when theirs was higher), indicators' cards (which record none) are forgotten."""


class UnitOfWork(Protocol):
    organizations: OrganizationRepository
    members: MemberRepository
    invites: InviteRepository
    indicators: IndicatorRepository
    votes: VoteRepository
    sightings: SightingRepository
    channels: ChannelRepository
    audit: AuditLog
    outbox: Outbox
    posted_cards: PostedCards
    exchange: ExchangeRepository  # STIX/TAXII (appended below)
    api_keys: ApiKeyRepository
    secrets: SecretRepository  # per-deployment secrets (appended below)
    watches: WatchRepository  # members' watches (appended below)
    blocklists: BlocklistRepository  # the approved values an organization's key may see (appended below)
    statistics: StatisticsRepository  # the numbers behind /ioc stats's chart (appended below)
    misp: MispRepository  # the MISP feed's lean read (appended below)
    context: ContextRepository  # issue 13: comments and cases (appended below)
    weekly_digests: WeeklyDigestRepository  # the weeks whose digest was written (appended below)

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work; `read_only` ones take no write lock (commands that only read use them)."""


class Conflict(Exception):
    """A uniqueness rule of the store refused the change (the database enforces it)."""


class StoreUnavailable(Exception):
    """The store cannot be reached (database down, connection lost, file unreadable): nothing was stored, and
    the same command may succeed in a minute. `reason` is short and safe to show ("connection refused"):
    never a URL, a password or a query."""

    def __init__(self, reason: str = "unavailable") -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- STIX/TAXII exchange (bot.exchange)

FeedKey = tuple[datetime, int, int]  # (date_added, kind (bot.exchange.FEED_KINDS), row id)


class ExchangeRepository(Protocol):
    async def export_batch(self, flt: ExportFilter, view: Visibility, after_id: int,
                           size: int) -> Sequence[Indicator]:
        """The next `size` visible indicators matching `flt` with id > after_id, by id."""

    async def activity_records(self, indicator_ids: Iterable[int]) -> tuple[
            dict[int, list[VoteRecord]], dict[int, list[SightingRecord]]]: ...

    async def feed_page(self, view: Visibility, *, cursor: FeedKey | None, added_after: datetime | None,
                        kinds: Iterable[int], stix_ids: Sequence[str], limit: int,
                        ) -> list[tuple[FeedKey, Indicator, VoteRecord | SightingRecord | Comment | None]]:
        """The TAXII feed (approved, visible) in (date_added, kind, id) order after `cursor`: indicators,
        opinions, sightings, `indicates` relationships (the indicator, no record), notes (the comment)."""

    async def feed_malware(self, view: Visibility) -> list[tuple[str, datetime, int]]:
        """Each family named by an approved non-CVE indicator `view` may see: (name, earliest modified_at of
        them, least restrictive TLP rank of them)."""

    async def feed_cases(self, view: Visibility) -> list[tuple[Case, datetime]]:
        """Each case that holds or held an indicator `view` is served, and its latest change `view` may see: such
        an approved indicator's modified_at or addition to the case, the revocation of one in it, or the removal
        from it of one `view` is served (approved or revoked)."""

    async def feed_case_members(self, case_ids: Iterable[int], view: Visibility,
                                ) -> dict[int, list[tuple[IOCType, str]]]:
        """The (type, stix_id) of the approved indicators `view` may see in each case."""

    async def indicators_by_ids(self, ids: Iterable[int]) -> Sequence[Indicator]: ...

    async def add_indicators(self, news: Sequence[NewIndicator]) -> list[int]:
        """Bulk insert; raises Conflict (inserting none) when any (type, value) exists in its visibility scope."""

    async def audit_many(self, entries: Sequence[dict[str, Any]]) -> None: ...

    async def organization_names(self) -> dict[int, str]: ...

    async def pull_state(self, url: str, collection: str) -> str | None:
        """The last date_added `taxii pull` read from that collection, as the server wrote it."""

    async def save_pull_state(self, url: str, collection: str, last_added: str, at: datetime) -> None: ...


class ApiKeyRepository(Protocol):
    async def add(self, org_id: int, name: str, key_sha256: str, prefix: str, created_by: int | None,
                  at: datetime) -> ApiKey: ...

    async def by_digest(self, key_sha256: str) -> tuple[ApiKey, str] | None:
        """The active key with this SHA-256 and its stored digest."""

    async def list(self, org_id: int | None = None) -> Sequence[ApiKey]: ...

    async def revoke(self, key_id: int, at: datetime) -> ApiKey | None: ...


class SecretRepository(Protocol):
    async def get_or_create(self, name: str) -> bytes:
        """The per-deployment secret `name`: random bytes made (and committed) on first use, stable after."""


# ---------------------------------------------------------------- watches (bot.watches)

class WatchRepository(Protocol):
    async def add(self, watch: Watch) -> Watch:
        """Store a new watch (its id is ignored) and return it with the id it got."""

    async def get(self, watch_id: int) -> Watch | None: ...

    async def of_member(self, member_id: int) -> Sequence[Watch]: ...

    async def of_channel(self, platform: str, workspace_id: str, channel_id: str) -> Sequence[Watch]: ...

    async def count_of_member(self, member_id: int) -> int: ...

    async def remove(self, watch_id: int) -> bool: ...

    async def all(self) -> Sequence[Watch]: ...

    async def digests_due(self, before: datetime) -> Sequence[Watch]:
        """The `digest:daily` watches whose last digest (or creation) is at or before `before`."""

    async def set_digested(self, watch_ids: Iterable[int], at: datetime) -> None: ...

    async def indicator_events(self, events: Iterable[str], since: datetime,
                               until: datetime) -> dict[int, datetime]:
        """Indicator id -> when the latest of these outbox events about it was written, in (since, until]
        (`indicator.voted` only where it says a new organization confirmed)."""

    async def fingerprint(self) -> tuple[int, int]:
        """Changes whenever a watch is added or removed (a cached index of every watch reloads then)."""

    async def last_alerts(self, pairs: Iterable[tuple[int, int]], platform: str, start: datetime,
                          end: datetime) -> dict[tuple[int, int], tuple[datetime, int]]:
        """(watch id, indicator id) -> (when, which outbox row) of the latest event that alerted on this platform,
        where that is in [start, end]."""

    async def mark_alerted(self, pairs: Iterable[tuple[int, int]], platform: str, at: datetime,
                           event_id: int) -> None:
        """These pairs alerted for the event of outbox row `event_id`, written at `at`: alerts are coalesced by the
        events' times, so that a retry of that event alerts again (under its own key) while another event
        within the hour does not."""


# ---------------------------------------------------------------- blocklists (bot.blocklists)

class BlocklistRepository(Protocol):
    async def batch(self, flt: ExportFilter, view: Visibility, now: datetime, after_id: int,
                    size: int) -> Sequence[tuple[int, str, str, int]]:
        """The next `size` approved, unexpired, visible (id, type, value, tlp rank) with id > after_id, by id."""

    async def version(self, view: Visibility, now: datetime) -> tuple[datetime | None, datetime | None, int]:
        """(the latest change, the next valid_until to come, how many) of the live approved items `view` may see:
        it changes whenever a list of that viewer may have, and never with items it may not see."""


# ---------------------------------------------------------------- statistics (/ioc stats)

class StatisticsRepository(Protocol):
    async def trends(self, view: Visibility, viewer_org_id: int, now: datetime, weeks: int = 12,
                     top: int = 8) -> StatsTrends:
        """Over what `view` may see: weekly submissions and approvals, the median time to decision, top tags,
        contributions per organization (others' anonymous items under the anonymous name)."""

    async def standing(self, view: Visibility, viewer_org_id: int) -> Sequence[OrgStanding]:
        """`/ioc stats orgs`: per organization, over what `view` may see (others' anonymous items under the
        anonymous name): submitted, approved, confirmed by others, called a false positive, time to decision."""


# ---------------------------------------------------------------- the weekly digest (bot.weekly)

class WeeklyDigestRepository(Protocol):
    async def claim(self, week: date, at: datetime) -> bool:
        """True when this transaction is the first to write that week's digest (it commits with the events)."""

    async def last(self) -> date | None:
        """The latest week whose digest was written."""


# ---------------------------------------------------------------- the MISP feed (bot.misp.feed)

class ContextRepository(Protocol):
    """Comments on indicators and cases grouping them (issue 13); who may see them is the caller's rule."""

    async def add_comment(self, indicator_id: int, member_id: int, text: str, at: datetime) -> int: ...

    async def latest_comments(self, indicator_ids: Iterable[int], limit: int) -> dict[int, tuple[int, list[Comment]]]:
        """For each indicator with comments: how many, and the latest `limit` (newest first)."""

    async def comments_of(self, indicator_ids: Iterable[int]) -> dict[int, list[Comment]]: ...

    async def comments_by_ids(self, comment_ids: Iterable[int]) -> dict[int, Comment]:
        """These comments, by id."""

    async def add_case(self, name: str, tlp: TLP, description: str, org_id: int, member_id: int,
                       at: datetime) -> Case:
        """Conflict when a case of that name (case-insensitively) exists already in its visibility scope."""

    async def case_by_id(self, case_id: int) -> Case | None: ...

    async def cases_by_name(self, name: str) -> list[Case]:
        """The cases of that name (case-insensitively), one a visibility scope at most."""

    async def cases(self) -> Sequence[Case]: ...

    async def case_indicator_ids(self, case_id: int) -> list[int]: ...

    async def cases_of(self, indicator_ids: Iterable[int]) -> dict[int, list[int]]: ...

    async def add_to_case(self, case_id: int, indicator_ids: Iterable[int]) -> list[int]: ...

    async def remove_from_case(self, case_id: int, indicator_id: int, at: datetime) -> bool:
        """Whether it was in the case; the removal is kept, with its time, for the TAXII feed's groupings."""

    async def malware_names(self, view: Visibility, prefix: str, limit: int) -> list[str]:
        """The malware families named on items `view` may see, starting with `prefix`, most used first."""


class MispRepository(Protocol):
    async def rows(self, flt: ExportFilter, view: Visibility, now: datetime, after_id: int,
                   size: int) -> Sequence[MispRow]:
        """The next `size` indicators of `flt` that `view` may see, unexpired, with id > after_id, by id."""

    async def acts(self, after_id: int, last_id: int) -> tuple[dict[int, list[VoteRecord]],
                                                                 dict[int, list[SightingRecord]]]:
        """The votes and sightings of the indicators with after_id < id <= last_id, by indicator id."""
