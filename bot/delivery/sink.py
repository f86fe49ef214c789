"""What an adapter implements to deliver its platform's rows (DeliverySink), the deliveries it is asked to make, and
the errors it answers with."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from enum import Enum
from typing import Protocol

from bot.domain import (
    Channel,
    Identity,
    Platform,
    PostedCard,
    PostedCaseCard,
    StatsTrends,
)
from bot.results import CaseCard, IndicatorCard, Notice
from bot.tlp import TLP
from bot.values import frozen


class DeliveryError(Exception):
    """A sink's failure that says when to try again (a rate limit's Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkspaceRefused(DeliveryError):
    """The platform refused a workspace's credentials for good (token revoked, app uninstalled, account inactive):
    the sink serves that workspace NOWHERE from now on, and what was left of the row there is dropped (audited)."""

    def __init__(self, workspace_id: str, reason: str) -> None:
        super().__init__(f"workspace {workspace_id}: {reason}")
        self.workspace_id, self.reason = workspace_id, reason


class Serving(Enum):
    """Whether a sink can deliver into a workspace."""

    HERE = "here"  # it holds the workspace's credentials: it delivers
    ELSEWHERE = "elsewhere"  # another process may: a lane row is left for it
    NOWHERE = "nowhere"  # nobody can (not installed, uninstalled, revoked): dropped with an audit line


class DeliverySink(Protocol):
    """What an adapter implements to deliver its platform's outbox rows. Each method only translates.

    A sink without `serves` (the console's, tests') serves every workspace HERE."""

    platform: Platform
    workspaces: frozenset[str] | None  # the lanes it claims besides rows for every workspace; None: every lane

    async def serves(self, workspace_id: str) -> Serving:
        """Whether this sink delivers into that workspace (with that workspace's own credentials)."""

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        """Post the card in the channel, carrying `key` where `find_posted` can read it; return its message id."""

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        """Edit a card posted earlier so that it shows the indicator as it is now."""

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        """Tell one person privately (a direct message) carrying `key`."""

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        """Post a short plain message (no user-supplied text in it) carrying `key`; return its message id."""

    async def post_file(self, channel: Channel, filename: str, data: bytes, text: str, *, key: str) -> str:
        """Post a file (the weekly digest's chart) in the channel with `text` (plain: the sink escapes it),
        carrying `key` where `find_posted` can read it; return its message id."""

    async def post_comment(self, posted: PostedCard, comment: ThreadComment, *, key: str) -> str:
        """Post the comment in the thread under a posted card (Slack: a reply with the card's `thread_ts`; Discord:
        a message in the thread started on the card's message, started by the first comment), carrying `key`
        where `find_posted(posted, ...)` can read it; return its message id. User text: the sink escapes it."""

    async def post_case_card(self, channel: Channel, card: CaseCard, *, key: str) -> str:
        """Post a case's card in the channel, carrying `key` where `find_posted` can read it; return its id."""

    async def update_case_card(self, posted: PostedCaseCard, card: CaseCard) -> None:
        """Edit a case's card posted earlier so that it shows the case as it is now."""

    async def find_posted(self, where: Channel | Identity | PostedCard, keys: Collection[str],
                          since: datetime) -> dict[str, str]:
        """Which of these delivery keys an earlier attempt (whose process died before recording it) posted in the
        channel, in the direct message channel with the person, or in the thread under a posted card, at or after
        `since`: key -> message id.

        Every message posted since then is looked at, page after page, however many there are."""


@frozen
class PostCard:
    channel: Channel
    card: IndicatorCard
    headline: str
    key: str
    watch_alert: tuple[int, int] | None = None  # (watch, indicator) of a channel watch's alert

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


@frozen
class UpdateCard:
    posted: PostedCard
    card: IndicatorCard

    @property
    def workspace_id(self) -> str:
        return self.posted.workspace_id


@frozen
class Notify:
    identity: Identity
    notice: Notice
    key: str
    watch_alert: tuple[int, int] | None = None  # (watch, indicator) of a watcher's alert

    @property
    def workspace_id(self) -> str:
        return self.identity.workspace_id


@frozen
class PostText:
    channel: Channel
    text: str
    key: str
    retry: bool

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


@frozen
class PostFile:
    """The weekly digest in one feed channel (bot.weekly): its chart, drawn by the deliverer, and its text."""

    channel: Channel
    trends: StatsTrends
    text: str
    filename: str
    key: str

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


@frozen
class ThreadComment:
    """A comment as a channel's audience sees it under a card: `author` is what the lookups show (the commenter's
    organization; "a coalition member" for every comment on an anonymous item, bot.text.comment_author), `text`
    the member's own words (unescaped: the sink escapes them)."""

    ref: str  # the indicator's "#12"
    author: str
    text: str
    created_at: datetime


@frozen
class PostComment:
    """A comment threaded under one posted copy of its indicator's card (issue 13)."""

    posted: PostedCard
    comment: ThreadComment
    key: str

    @property
    def workspace_id(self) -> str:
        return self.posted.workspace_id


@frozen
class PostCaseCard:
    """A case's card posted in a channel (`/ioc case show NAME` there), recorded to be kept up to date."""

    channel: Channel
    card: CaseCard
    ceiling: TLP  # what the channel's audience could see when it was asked for (recorded with the post)
    key: str

    @property
    def workspace_id(self) -> str:
        return self.channel.workspace_id


@frozen
class UpdateCaseCard:
    posted: PostedCaseCard
    card: CaseCard

    @property
    def workspace_id(self) -> str:
        return self.posted.workspace_id


Delivery = PostCard | UpdateCard | Notify | PostText | PostFile | PostComment | PostCaseCard | UpdateCaseCard
