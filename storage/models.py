"""SQLAlchemy 2 models of the common store.

The schema itself is created ONLY by the Alembic migrations in ``storage/migrations``; these classes
describe it for queries, and a test checks that both agree.

Conventions:

* every timestamp is a :class:`UTCDateTime`: timezone-aware UTC in and out, on SQLite as well;
* enums are stored as their string values (no database ENUM types, so adding a verdict or an IOC type
  needs no migration);
* TLP is stored twice on ``indicators``: the label (``tlp``) for people and the order (``tlp_rank``) so
  that "up to AMBER" is a cheap integer comparison.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.slack_installations import slack_tables

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Portable autoincrementing 64-bit key: BIGINT on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class JsonType(TypeDecorator[Any]):
    """JSON everywhere, JSONB on PostgreSQL (indexable, compact). Chosen per dialect when the statement is compiled
    (rather than `with_variant(JSONB())`), so that a SQLite store never imports the PostgreSQL dialect."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


Json = JsonType()


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as naive UTC and
    given its ``tzinfo`` back on the way out. Naive datetimes are refused: they are a bug upstream.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: Json,
    }


class OrganizationRow(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    sector: Mapped[str] = mapped_column(String(100), default="", server_default="")
    trust_level: Mapped[int] = mapped_column(SmallInteger, default=50, server_default="50")
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]  # 0011: its members can no longer act; its items stay


class MemberRow(Base):
    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]  # 0011: identities unlinked; votes and submissions kept


class IdentityRow(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class InviteRow(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    expires_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]  # 0011


class LinkCodeRow(Base):
    """A member's one-time code for linking another platform identity (`/ioc link`): one per member, stored
    hashed, deleted when used."""

    __tablename__ = "link_codes"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    code_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


SHARED_SCOPE = "shared"
_AMBER_STRICT_RANK, _RED_RANK = 3, 4  # bot.tlp.TLP ranks (CLEAR 0 ... RED 4)


def indicator_scope(tlp_rank: int, org_id: int, submitter_id: int) -> str:
    """The visibility scope an indicator is unique in (0005): everyone who may see one item of a scope may see
    them all (bot.rules.can_see), so a submission only ever meets rows its submitter may see.

    CLEAR, GREEN, AMBER: "shared"; AMBER+STRICT: "org:<org id>"; RED: "member:<submitter id>"."""
    if tlp_rank < _AMBER_STRICT_RANK:
        return SHARED_SCOPE
    if tlp_rank == _AMBER_STRICT_RANK:
        return f"org:{org_id}"
    return f"member:{submitter_id}"


def _scope_default(context: Any) -> str:
    """Any INSERT that does not name the scope (a bulk load, a bench) gets the one its row's TLP implies."""
    row = context.get_current_parameters()
    return indicator_scope(row["tlp_rank"], row["org_id"], row["submitter_id"])


@functools.lru_cache(maxsize=4096)
def _pivot_keys(type_: str, value: str) -> tuple[str | None, str | None, str | None]:
    from storage.pivot_keys import pivot_keys

    return pivot_keys(type_, value)


def _pivot_default(at: int) -> Any:
    """Every INSERT (chat, file import, bulk exchange import, benches) gets its row's pivot keys (0010)."""
    def default(context: Any) -> str | None:
        row = context.get_current_parameters()
        return _pivot_keys(row["type"], row["value"])[at]
    return default


# Pivot keys are compared bytewise on every backend (storage.pivot_keys): COLLATE "C" on PostgreSQL.
NetKey = String(33).with_variant(String(33, collation="C"), "postgresql")
HostKey = String(300).with_variant(String(300, collation="C"), "postgresql")


def _seen_day_default(context: Any) -> date:
    seen_at = context.get_current_parameters()["seen_at"]
    return seen_at.astimezone(UTC).date()


class IndicatorRow(Base):
    __tablename__ = "indicators"
    __table_args__ = (
        # One item per value and visibility scope (0005): "shared" (CLEAR/GREEN/AMBER), "org:<id>" (AMBER+STRICT),
        # "member:<id>" (RED); see indicator_scope.
        UniqueConstraint("type", "value", "scope"),
        Index("ix_indicators_status_id", "status", "id"),
        Index("ix_indicators_tlp_rank_id", "tlp_rank", "id"),
        Index("ix_indicators_valid_until_status", "valid_until", "status"),
        # TAXII paging (0003): the keyset (modified_at, id) of approved rows, covering the visibility columns.
        Index("ix_indicators_feed", "status", "modified_at", "id", "tlp_rank", "org_id"),
        # Pivots (0010): networks by address range, names by reversed host (storage.pivot_keys).
        # Each covers what a pivot's count and order read (the visibility columns too): no table row is read.
        Index("ix_indicators_type_net", "type", "net_first", "net_last", "id", "tlp_rank", "org_id",
              "submitter_id"),
        Index("ix_indicators_type_host", "type", "host_rev", "id", "tlp_rank", "org_id", "submitter_id"),
        # Blocklists (0015): a list's rows in id order and its validators, read from the index alone.
        Index("ix_indicators_blocklist", "status", "id", "tlp_rank", "org_id", "valid_until", "modified_at", "type",
              "value"),
        # TAXII revocations (0018): revoked rows in (decided_at, id) order, covering the visibility columns.
        Index("ix_indicators_revoked_feed", "status", "decided_at", "id", "tlp_rank", "org_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stix_id: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(2048))
    scope: Mapped[str] = mapped_column(String(40), default=_scope_default)
    status: Mapped[str] = mapped_column(String(20))
    tlp: Mapped[str] = mapped_column(String(20))
    tlp_rank: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[int] = mapped_column(SmallInteger)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    submitter_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    modified_at: Mapped[datetime]
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    net_first: Mapped[str | None] = mapped_column(NetKey, default=_pivot_default(0))
    net_last: Mapped[str | None] = mapped_column(NetKey, default=_pivot_default(1))
    host_rev: Mapped[str | None] = mapped_column(HostKey, default=_pivot_default(2))
    # Provenance of an imported STIX object (0012): its author's identity id and name, and its own `created`.
    origin_created_by: Mapped[str | None] = mapped_column(String(100))
    origin_name: Mapped[str | None] = mapped_column(String(200))
    origin_created: Mapped[datetime | None]
    # Context (0013): ThreatFox's threat type, a malware family (normalised), reference URLs (one a line), and
    # when a moderator last decided it (approved, rejected, revoked).
    threat_type: Mapped[str | None] = mapped_column(String(40))
    malware: Mapped[str | None] = mapped_column(String(64), index=True)
    refs: Mapped[str] = mapped_column(Text, default="", server_default="")
    decided_at: Mapped[datetime | None]


class IndicatorTagRow(Base):
    """One row per (indicator, tag): filtering by tag is an index lookup on both backends."""

    __tablename__ = "indicator_tags"
    __table_args__ = (Index("ix_indicator_tags_tag_indicator_id", "tag", "indicator_id"),)

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)


class CommentRow(Base):
    """`/ioc comment #ID text` (0013): read by whoever may see the indicator."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class CaseRow(Base):
    """A case (0013): a campaign, an incident, a takedown, with its own TLP."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("name_key", "scope"),)  # a name once per visibility scope (scope_of)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    tlp: Mapped[str] = mapped_column(String(20))
    tlp_rank: Mapped[int] = mapped_column(SmallInteger)
    scope: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]


class CaseIndicatorRow(Base):
    __tablename__ = "case_indicators"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True,
                                              autoincrement=False, index=True)


class CaseRemovalRow(Base):
    """The latest removal of an indicator from a case (0017): the membership row is gone, and the TAXII feed's
    grouping must still come again, with a later `modified`, for a viewer who saw that indicator in it. One row a
    (case, indicator) pair (a second removal, after a re-add, moves `removed_at`): the feed needs only the latest,
    and the key's first column is what the feed reads by (the removals of the cases it serves)."""

    __tablename__ = "case_removals"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True,
                                              autoincrement=False)
    removed_at: Mapped[datetime]


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("indicator_id", "member_id"),
        Index("ix_votes_feed", "updated_at", "id", "indicator_id"),  # TAXII paging (0003)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    verdict: Mapped[str] = mapped_column(String(20))
    # The verdict this vote replaced (set atomically by the upsert, so it can be returned).
    previous_verdict: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SightingRow(Base):
    """At most one row per (indicator, member, UTC day) (0005): a repeat that day replaces count and note."""

    __tablename__ = "sightings"
    __table_args__ = (
        Index("ix_sightings_feed", "seen_at", "id", "indicator_id"),  # TAXII paging (0003)
        UniqueConstraint("indicator_id", "member_id", "seen_day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    count: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime]
    seen_day: Mapped[date] = mapped_column(Date, default=_seen_day_default)  # the UTC date of seen_at
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # times replaced that day
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


class WatchRow(Base):
    """A member's watch (issue 12): what concerns them (bot.watch_index.WatchTarget) and how they are told."""

    __tablename__ = "watches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(300))
    org: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    channel_platform: Mapped[str | None] = mapped_column(String(20))
    channel_workspace_id: Mapped[str | None] = mapped_column(String(100))
    channel_id: Mapped[str | None] = mapped_column(String(100))
    digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    include_own: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime]
    digested_at: Mapped[datetime | None]  # a digest watch's last daily message (or the day it had nothing)


class WatchAlertRow(Base):
    """When a watch last alerted about an indicator on a platform: alerts are coalesced (one an hour)."""

    __tablename__ = "watch_alerts"

    watch_id: Mapped[int] = mapped_column(ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True,
                                              autoincrement=False)
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    alerted_at: Mapped[datetime]  # when the event that alerted was written
    event_id: Mapped[int] = mapped_column(BigInteger)  # that event's outbox row (its retries alert again)


class ChannelRow(Base):
    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", "channel_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    ceiling: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20), index=True)
    passive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    ephemeral_lookups: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Shared with other organizations' workspaces (Slack Connect): CLEAR until an admin sets a ceiling.
    shared_externally: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class AuditRow(Base):
    """Append-only: the repositories only ever INSERT here."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    platform: Mapped[str] = mapped_column(String(20))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)


class OutboxRow(Base):
    """Events written in the same transaction as the change, one row per platform that delivers them.

    A deliverer leases pending rows by moving `available_at` forward (so a crashed process's rows come back),
    marks them delivered, or backs off after a failure; after too many attempts a row is parked for admins.
    """

    __tablename__ = "outbox"
    # Both indexes are partial (migrations 0002 and 0008: pending is `delivered_at IS NULL AND parked_at IS NULL`,
    # parked is `parked_at IS NOT NULL`). The predicates are not repeated here as `sqlite_where=` /
    # `postgresql_where=`: SQLAlchemy validates such arguments by importing that dialect, which would make every
    # SQLite command load the PostgreSQL dialect; queries do not need them and the migrations create the schema.
    __table_args__ = (
        Index("ix_outbox_pending", "platform", "workspace_id", "available_at", "id"),
        Index("ix_outbox_parked", "parked_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)  # a day's events (the watches' daily digests)
    event: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    platform: Mapped[str] = mapped_column(String(20), server_default="")
    # One workspace of the platform (its lane: claimed only by a process serving it), or NULL for all of them.
    workspace_id: Mapped[str | None] = mapped_column(String(100))
    available_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    parked_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)


class PostedCardRow(Base):
    """A card the bot posted in a channel, kept so that every copy is edited when the indicator changes.

    `message_id` is NULL between "about to post" and "posted": a redelivery then checks the platform before
    posting again. `delivery_key` makes the same delivery record itself once."""

    __tablename__ = "posted_cards"
    __table_args__ = (Index("ix_posted_cards_indicator_platform", "indicator_id", "platform"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(100))
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    delivery_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


class PostedCaseCardRow(Base):
    """A case's card the bot posted in a channel (0016), edited when the case or one of its indicators changes.
    `ceiling`: the most the channel's audience could see when it was posted; `message_id` as on posted_cards."""

    __tablename__ = "posted_case_cards"
    __table_args__ = (Index("ix_posted_case_cards_case_platform", "case_id", "platform"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    message_id: Mapped[str | None] = mapped_column(String(100))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    ceiling: Mapped[str] = mapped_column(String(20))
    delivery_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]



# --- STIX/TAXII exchange (migration 0003) ----------------------------------------------------------------


class ApiKeyRow(Base):
    """An organization's TAXII API key: only its SHA-256 is stored, and a short prefix to recognize it by."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class TaxiiPullRow(Base):
    """`coalition-bot taxii pull` (0012): the last date_added read from a (server, collection), so that the next
    pull asks only for what was added after it (TAXII `added_after`). Kept as the server wrote it."""

    __tablename__ = "taxii_pulls"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    collection: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_added: Mapped[str] = mapped_column(String(40))
    pulled_at: Mapped[datetime]


class DeploymentSecretRow(Base):
    """A per-deployment secret, generated at random on first use (storage.repositories.secrets)."""

    __tablename__ = "deployment_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]

class WeeklyDigestRow(Base):
    """A week whose digest was written to the outbox (bot.weekly, migration 0014): one row per week, by whichever
    maintenance loop got there first."""

    __tablename__ = "weekly_digests"

    week: Mapped[date] = mapped_column(Date, primary_key=True)  # the Monday (UTC) of the week
    written_at: Mapped[datetime]


# --- Slack OAuth distribution (migration 0006): slack_sdk's layout, described in storage.slack_installations ----
SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES = slack_tables(Base.metadata)

ALL_TABLES = tuple(Base.metadata.sorted_tables)
