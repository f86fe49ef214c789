"""The tables of the common store, for SQLAlchemy Core queries.

The schema itself is created ONLY by the Alembic migrations in ``storage/migrations``; these tables
describe it for queries, and a test checks that both agree.

There is no ORM mapping: every repository runs Core statements and turns rows into ``bot.domain`` values
itself. Each table is named by a ``TableColumns`` (``IndicatorRow``, ``VoteRow`` ...): its columns as attributes
(``IndicatorRow.tlp_rank``) and the table itself wherever SQLAlchemy takes one (``select(IndicatorRow)``,
``insert(VoteRow)``, joins). Declaring 23 mapped classes, configuring their mappers and compiling every statement
through the ORM's layer cost each command ~60 ms of start-up (bench/README.md, "startup"), for features nothing
used.

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
    Column,
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
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

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


metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TableColumns:
    """A table's columns as attributes (`IndicatorRow.tlp_rank`), standing for the table itself wherever SQLAlchemy
    takes a table or a FROM clause (`__clause_element__`); `__table__` is the `Table`."""

    def __init__(self, table: Table) -> None:
        self.__table__ = table
        for column in table.columns:
            setattr(self, column.key, column)

    def __clause_element__(self) -> Table:
        return self.__table__

    def __getattr__(self, name: str) -> Any:  # only for a name that is not a column: say which table lacks it
        raise AttributeError(f"table {self.__table__.name!r} has no column {name!r}")


OrganizationRow = TableColumns(Table(
    "organizations", metadata,
    Column("id", BigId, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), unique=True, nullable=False),
    Column("sector", String(100), default="", server_default="", nullable=False),
    Column("trust_level", SmallInteger, default=50, server_default="50", nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),  # 0011: its members can no longer act; its items stay
))


MemberRow = TableColumns(Table(
    "members", metadata,
    Column("id", BigId, primary_key=True),
    Column("org_id", ForeignKey("organizations.id"), index=True, nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), index=True, nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime()),  # 0011: identities unlinked; votes and submissions kept
))


IdentityRow = TableColumns(Table(
    "identities", metadata,
    Column("id", BigId, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("platform", String(20), nullable=False),
    Column("workspace_id", String(100), nullable=False),
    Column("user_id", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("platform", "workspace_id", "user_id"),
))


InviteRow = TableColumns(Table(
    "invites", metadata,
    Column("id", BigId, primary_key=True),
    Column("code_sha256", String(64), unique=True, nullable=False),
    Column("org_id", ForeignKey("organizations.id"), index=True, nullable=False),
    Column("role", String(20), nullable=False),
    Column("max_uses", Integer, nullable=False),
    Column("uses", Integer, default=0, server_default="0", nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("created_by", ForeignKey("members.id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),  # 0011
))


# A member's one-time code for linking another platform identity (`/ioc link`): one per member, stored
# hashed, deleted when used.
LinkCodeRow = TableColumns(Table(
    "link_codes", metadata,
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("code_sha256", String(64), unique=True, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
))
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


def _feed_date_default(own: str) -> Any:
    """A vote's or a sighting's date in the TAXII feed when an insert gives none: its own time. The repositories
    keep it at the later of that and its indicator's last change (0020)."""
    return lambda context: context.get_current_parameters()[own]


IndicatorRow = TableColumns(Table(
    "indicators", metadata,
    Column("id", BigId, primary_key=True),
    Column("stix_id", String(100), unique=True, nullable=False),
    Column("type", String(20), nullable=False),
    Column("value", String(2048), nullable=False),
    Column("scope", String(40), default=_scope_default, nullable=False),
    Column("status", String(20), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("tlp_rank", SmallInteger, nullable=False),
    Column("confidence", SmallInteger, nullable=False),
    Column("note", Text, default="", server_default="", nullable=False),
    Column("submitter_id", ForeignKey("members.id"), index=True, nullable=False),
    Column("org_id", ForeignKey("organizations.id"), index=True, nullable=False),
    Column("anonymous", Boolean, default=False, server_default=text("false"), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("valid_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), index=True, nullable=False),
    Column("modified_at", UTCDateTime(), nullable=False),
    Column("status_reason", Text, default="", server_default="", nullable=False),
    Column("net_first", NetKey, default=_pivot_default(0)),
    Column("net_last", NetKey, default=_pivot_default(1)),
    Column("host_rev", HostKey, default=_pivot_default(2)),
    # Provenance of an imported STIX object (0012): its author's identity id and name, and its own `created`.
    Column("origin_created_by", String(100)),
    Column("origin_name", String(200)),
    Column("origin_created", UTCDateTime()),
    # Context (0013): ThreatFox's threat type, a malware family (normalised), reference URLs (one a line), and
    # when a moderator last decided it (approved, rejected, revoked).
    Column("threat_type", String(40)),
    Column("malware", String(64), index=True),
    Column("refs", Text, default="", server_default="", nullable=False),
    Column("decided_at", UTCDateTime()),
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
))


# One row per (indicator, tag): filtering by tag is an index lookup on both backends.
IndicatorTagRow = TableColumns(Table(
    "indicator_tags", metadata,
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", String(100), primary_key=True),
    Index("ix_indicator_tags_tag_indicator_id", "tag", "indicator_id"),
))


# `/ioc comment #ID text` (0013): read by whoever may see the indicator.
CommentRow = TableColumns(Table(
    "comments", metadata,
    Column("id", BigId, primary_key=True),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # Its date in the TAXII feed (0019): the later of created_at and its indicator's modified_at, moved with it.
    Column("added_at", UTCDateTime(), nullable=False),
    Index("ix_comments_feed", "added_at", "id", "indicator_id"),  # the feed's notes by keyset
))


# A case (0013): a campaign, an incident, a takedown, with its own TLP.
CaseRow = TableColumns(Table(
    "cases", metadata,
    Column("id", BigId, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100), nullable=False),
    Column("tlp", String(20), nullable=False),
    Column("tlp_rank", SmallInteger, nullable=False),
    Column("scope", String(40), nullable=False),
    Column("description", Text, default="", server_default="", nullable=False),
    Column("org_id", ForeignKey("organizations.id"), nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("name_key", "scope"),  # a name once per visibility scope (scope_of)
))


CaseIndicatorRow = TableColumns(Table(
    "case_indicators", metadata,
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True, autoincrement=False,
           index=True),
))


# The latest removal of an indicator from a case (0017): the membership row is gone, and the TAXII feed's
# grouping must still come again, with a later `modified`, for a viewer who saw that indicator in it. One row a
# (case, indicator) pair (a second removal, after a re-add, moves `removed_at`): the feed needs only the latest,
# and the key's first column is what the feed reads by (the removals of the cases it serves).
CaseRemovalRow = TableColumns(Table(
    "case_removals", metadata,
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("removed_at", UTCDateTime(), nullable=False),
))


VoteRow = TableColumns(Table(
    "votes", metadata,
    Column("id", BigId, primary_key=True),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
    Column("member_id", ForeignKey("members.id"), index=True, nullable=False),
    Column("org_id", ForeignKey("organizations.id"), nullable=False),
    Column("verdict", String(20), nullable=False),
    # The verdict this vote replaced (set atomically by the upsert, so it can be returned).
    Column("previous_verdict", String(20)),
    Column("reason", Text, default="", server_default="", nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # its opinion's date_added: the later of updated_at and its indicator's last change (0020), so a vote made
    # while the item was pending is added with its approval
    Column("added_at", UTCDateTime(), default=_feed_date_default("updated_at"), nullable=False),
    UniqueConstraint("indicator_id", "member_id"),
    Index("ix_votes_feed", "added_at", "id", "indicator_id"),  # TAXII paging (0003, 0020)
))


# At most one row per (indicator, member, UTC day) (0005): a repeat that day replaces count and note.
SightingRow = TableColumns(Table(
    "sightings", metadata,
    Column("id", BigId, primary_key=True),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("org_id", ForeignKey("organizations.id"), nullable=False),
    Column("member_id", ForeignKey("members.id"), nullable=False),
    Column("count", Integer, nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("seen_day", Date, default=_seen_day_default, nullable=False),  # the UTC date of seen_at
    Column("revision", Integer, default=0, server_default="0", nullable=False),  # times replaced that day
    Column("note", Text, default="", server_default="", nullable=False),
    # its date_added in the feed: the later of seen_at and its indicator's last change (0020)
    Column("added_at", UTCDateTime(), default=_feed_date_default("seen_at"), nullable=False),
    Index("ix_sightings_feed", "added_at", "id", "indicator_id"),  # TAXII paging (0003, 0020)
    UniqueConstraint("indicator_id", "member_id", "seen_day"),
))


# A member's watch (issue 12): what concerns them (bot.watch_index.WatchTarget) and how they are told.
WatchRow = TableColumns(Table(
    "watches", metadata,
    Column("id", BigId, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("value", String(300), nullable=False),
    Column("org", String(200)),
    Column("note", Text, default="", server_default="", nullable=False),
    Column("channel_platform", String(20)),
    Column("channel_workspace_id", String(100)),
    Column("channel_id", String(100)),
    Column("digest", Boolean, default=False, server_default=text("false"), nullable=False),
    Column("include_own", Boolean, default=False, server_default=text("false"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # a digest watch's last daily message (or the day it had nothing)
    Column("digested_at", UTCDateTime()),
))


# When a watch last alerted about an indicator on a platform: alerts are coalesced (one an hour).
WatchAlertRow = TableColumns(Table(
    "watch_alerts", metadata,
    Column("watch_id", ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("platform", String(20), primary_key=True),
    Column("alerted_at", UTCDateTime(), nullable=False),  # when the event that alerted was written
    Column("event_id", BigInteger, nullable=False),  # that event's outbox row (its retries alert again)
))


ChannelRow = TableColumns(Table(
    "channels", metadata,
    Column("id", BigId, primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("workspace_id", String(100), nullable=False),
    Column("channel_id", String(100), nullable=False),
    Column("ceiling", String(20), nullable=False),
    Column("purpose", String(20), index=True, nullable=False),
    Column("passive", Boolean, default=False, server_default=text("false"), nullable=False),
    Column("ephemeral_lookups", Boolean, default=True, server_default=text("true"), nullable=False),
    # Shared with other organizations' workspaces (Slack Connect): CLEAR until an admin sets a ceiling.
    Column("shared_externally", Boolean, default=False, server_default=text("false"), nullable=False),
    UniqueConstraint("platform", "workspace_id", "channel_id"),
))


# Append-only: the repositories only ever INSERT here.
AuditRow = TableColumns(Table(
    "audit_log", metadata,
    Column("id", BigId, primary_key=True),
    Column("at", UTCDateTime(), index=True, nullable=False),
    Column("platform", String(20), nullable=False),
    Column("member_id", ForeignKey("members.id"), index=True),
    Column("action", String(50), nullable=False),
    Column("indicator_id", ForeignKey("indicators.id"), index=True),
    Column("detail", Json, nullable=False),
))


# Events written in the same transaction as the change, one row per platform that delivers them.
#
# A deliverer leases pending rows by moving `available_at` forward (so a crashed process's rows come back),
# marks them delivered, or backs off after a failure; after too many attempts a row is parked for admins.
OutboxRow = TableColumns(Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True),
    Column("created_at", UTCDateTime(), index=True, nullable=False),  # a day's events (the watches' daily digests)
    Column("event", String(100), nullable=False),
    Column("payload", Json, nullable=False),
    Column("platform", String(20), server_default="", nullable=False),
    # One workspace of the platform (its lane: claimed only by a process serving it), or NULL for all of them.
    Column("workspace_id", String(100)),
    Column("available_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    Column("parked_at", UTCDateTime()),
    Column("attempts", Integer, default=0, server_default="0", nullable=False),
    Column("last_error", Text),
    # Both indexes are partial (migrations 0002 and 0008: pending is `delivered_at IS NULL AND parked_at IS NULL`,
    # parked is `parked_at IS NOT NULL`). The predicates are not repeated here as `sqlite_where=` /
    # `postgresql_where=`: SQLAlchemy validates such arguments by importing that dialect, which would make every
    # SQLite command load the PostgreSQL dialect; queries do not need them and the migrations create the schema.
    Index("ix_outbox_pending", "platform", "workspace_id", "available_at", "id"),
    Index("ix_outbox_parked", "parked_at"),
))


# A card the bot posted in a channel, kept so that every copy is edited when the indicator changes.
#
# `message_id` is NULL between "about to post" and "posted": a redelivery then checks the platform before
# posting again. `delivery_key` makes the same delivery record itself once.
PostedCardRow = TableColumns(Table(
    "posted_cards", metadata,
    Column("id", BigId, primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("workspace_id", String(100), nullable=False),
    Column("channel_id", String(100), nullable=False),
    Column("message_id", String(100)),
    Column("indicator_id", ForeignKey("indicators.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("delivery_key", String(200), unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_posted_cards_indicator_platform", "indicator_id", "platform"),
))


# A case's card the bot posted in a channel (0016), edited when the case or one of its indicators changes.
# `ceiling`: the most the channel's audience could see when it was posted; `message_id` as on posted_cards.
PostedCaseCardRow = TableColumns(Table(
    "posted_case_cards", metadata,
    Column("id", BigId, primary_key=True),
    Column("platform", String(20), nullable=False),
    Column("workspace_id", String(100), nullable=False),
    Column("channel_id", String(100), nullable=False),
    Column("message_id", String(100)),
    Column("case_id", ForeignKey("cases.id", ondelete="CASCADE"), nullable=False),
    Column("ceiling", String(20), nullable=False),
    Column("delivery_key", String(200), unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_posted_case_cards_case_platform", "case_id", "platform"),
))


# --- STIX/TAXII exchange (migration 0003) ----------------------------------------------------------------


# An organization's TAXII API key: only its SHA-256 is stored, and a short prefix to recognize it by.
ApiKeyRow = TableColumns(Table(
    "api_keys", metadata,
    Column("id", BigId, primary_key=True),
    Column("org_id", ForeignKey("organizations.id"), index=True, nullable=False),
    Column("name", String(100), default="", server_default="", nullable=False),
    Column("key_sha256", String(64), unique=True, nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("created_by", ForeignKey("members.id")),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
))


# `coalition-bot taxii pull` (0012): the last date_added read from a (server, collection), so that the next
# pull asks only for what was added after it (TAXII `added_after`). Kept as the server wrote it.
TaxiiPullRow = TableColumns(Table(
    "taxii_pulls", metadata,
    Column("url", String(500), primary_key=True),
    Column("collection", String(200), primary_key=True),
    Column("last_added", String(40), nullable=False),
    Column("pulled_at", UTCDateTime(), nullable=False),
))


# A per-deployment secret, generated at random on first use (storage.repositories.secrets).
DeploymentSecretRow = TableColumns(Table(
    "deployment_secrets", metadata,
    Column("name", String(50), primary_key=True),
    Column("secret", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
))


# A week whose digest was written to the outbox (bot.weekly, migration 0014): one row per week, by whichever
# maintenance loop got there first.
WeeklyDigestRow = TableColumns(Table(
    "weekly_digests", metadata,
    Column("week", Date, primary_key=True),  # the Monday (UTC) of the week
    Column("written_at", UTCDateTime(), nullable=False),
))


# --- Slack OAuth distribution (migration 0006): slack_sdk's layout, described in storage.slack_installations ----
SLACK_BOTS, SLACK_INSTALLATIONS, SLACK_OAUTH_STATES = slack_tables(metadata)

ALL_TABLES = tuple(metadata.sorted_tables)

