"""The one entry point adapters call: `await dispatcher.handle(command, actor)` -> a result value.

It opens one unit of work per command, finds who is speaking and where, runs the service, commits only
when the service succeeded, and is the single error boundary: a person's mistake becomes a `UserError`
with the right form, a database outage (`StoreUnavailable`) the private "try again in a minute" answer
(`Unavailable`, one warning line), anything else is logged with a reference and never shown in detail.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot import cases, commands, comments, lifecycle, scoring, services, watches
from bot.audience import Reply, reply
from bot.commands import UsageError
from bot.domain import Actor, Platform
from bot.policy import Policy
from bot.ports import Clock, Conflict, StoreUnavailable, UnitOfWorkFactory
from bot.results import InternalError, Result, Unavailable, UserError
from bot.rules import PermissionDenied
from bot.values import frozen

if TYPE_CHECKING:
    from bot.exchange import Progress

log = logging.getLogger(__name__)

Service = Callable[[services.Context, Any], Awaitable[Result]]


def _on_first_use(name: str) -> Service:
    """A service of bot.services.exchange, looked up when first run: the STIX and MISP readers and writers it
    imports serve exports and imports only (~10 ms of a console's or a bot's start-up)."""
    async def run(ctx: services.Context, cmd: Any) -> Result:
        service: Service = getattr(services, name)
        return await service(ctx, cmd)
    return run


def _moderation(verb: str) -> Service:
    async def run(ctx: services.Context, cmd: Any) -> Result:
        return await services.moderate(ctx, verb, cmd.refs, getattr(cmd, "reason", "") or getattr(cmd, "note", ""))
    return run


READ_ONLY = (commands.Lookup, commands.Search, commands.Queue, commands.WhoAmI, commands.Stats, commands.OrgList,
             commands.MemberList, commands.ChannelShow, commands.Home, commands.Passive,
             commands.Deliveries)

SERVICES: dict[type, Service] = {
    commands.Submit: services.submit,
    commands.Lookup: services.lookup,
    commands.Vote: services.vote,
    commands.Sighting: services.sighting,
    commands.Search: services.search,
    commands.Queue: services.queue,
    commands.Approve: _moderation("approve"),
    commands.Reject: _moderation("reject"),
    commands.Revoke: _moderation("revoke"),
    commands.Join: services.join,
    commands.WhoAmI: services.whoami,
    commands.Link: services.link,
    commands.Stats: services.stats,
    commands.OrgAdd: services.org_add,
    commands.OrgList: services.org_list,
    commands.MemberList: services.member_list,
    commands.MemberRole: services.member_role,
    commands.InviteCreate: services.invite_create,
    commands.ChannelSet: services.channel_set,
    commands.ChannelShow: services.channel_show,
    commands.Deliveries: services.deliveries,
    commands.RetryDelivery: services.retry_delivery,
    commands.Home: services.home,
    commands.Passive: services.passive,
}

# -- watches (issue 12) --
READ_ONLY += (commands.WatchList,)
SERVICES.update({
    commands.WatchAdd: watches.watch_add,
    commands.WatchList: watches.watch_list,
    commands.WatchRemove: watches.watch_remove,
})

# -- lifecycle (issue 13) --
READ_ONLY += (commands.InviteList,)
SERVICES.update({
    commands.Edit: lifecycle.edit,
    commands.Reopen: lifecycle.reopen,
    commands.MemberRemove: lifecycle.member_remove,
    commands.InviteList: lifecycle.invite_list,
    commands.InviteRevoke: lifecycle.invite_revoke,
    commands.OrgDisable: lifecycle.org_disable,
})

# -- score (issue 13) --
READ_ONLY += (commands.Why,)
SERVICES.update({
    commands.Why: scoring.why,
})

# -- context (issue 13): comments and cases --
READ_ONLY += (commands.CaseShow, commands.CaseList, commands.MalwareNames)
SERVICES.update({
    commands.Submit: cases.submit,  # case:NAME; otherwise services.submit
    commands.Comment: comments.comment,
    commands.CaseNew: cases.case_new,
    commands.CaseAdd: cases.case_add,
    commands.CaseRemove: cases.case_remove,
    commands.CaseShow: cases.case_show,
    commands.CaseList: cases.case_list,
    commands.MalwareNames: cases.malware_names,
})

# -- STIX/TAXII exchange --
READ_ONLY += (commands.Export, commands.ApiKeyList)
SERVICES.update({
    commands.Export: _on_first_use("export"),
    commands.ImportFile: _on_first_use("import_file"),
    commands.ApiKeyCreate: _on_first_use("apikey_create"),
    commands.ApiKeyList: _on_first_use("apikey_list"),
    commands.ApiKeyRevoke: _on_first_use("apikey_revoke"),
})


@frozen
class Handled:
    """What observers learn of each command (no content: nothing secret or personal)."""

    command: str
    platform: Platform
    outcome: str  # ok | user_error | unavailable (the store could not be reached) | internal_error
    seconds: float


def utc_now() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(self, uow_factory: UnitOfWorkFactory, *, policy: Policy | None = None, clock: Clock = utc_now,
                 warninglists: services.Matcher | None = None,
                 delivery_platforms: Sequence[Platform] = ()) -> None:
        self.uow_factory = uow_factory
        self.policy = policy or Policy()
        self.clock = clock
        self.warninglists = warninglists
        self.delivery_platforms = tuple(delivery_platforms)
        self.after_commit: list[Callable[[], None]] = []  # e.g. deliverers' nudges: deliver now, not at next poll
        self.observers: list[Callable[[Handled], None]] = []  # e.g. metrics: every command, its outcome and time

    async def handle_text(self, text: str, actor: Actor) -> Reply:
        """Parse the text after `/ioc` with the one grammar, then handle it."""
        started = time.perf_counter()
        try:
            command = commands.parse(text)
        except UsageError as e:
            self._observe(Handled("unparsed", actor.platform, "user_error", time.perf_counter() - started))
            return Reply(UserError(e.problem, e.usage), private=True)
        return await self.handle(command, actor)

    def committed_elsewhere(self) -> None:
        """Another process committed outbox rows: wake the deliverers as a commit here would."""
        for listener in self.after_commit:
            listener()

    def _observe(self, handled: Handled) -> None:
        for observer in self.observers:
            observer(handled)

    async def handle(self, command: commands.Command, actor: Actor, *,
                     progress: Progress | None = None) -> Reply:
        """Run the command and say whether its reply is for the speaker alone or for the channel. `progress`:
        told how far long work is (a chat import: `progress(what, done, total)`, see bot.exchange.Progress), for
        the adapter to show; it must return at once, and it learns nothing the speaker may not see."""
        started = time.perf_counter()
        answer = await self._handle(command, actor, progress)
        handled = Handled(type(command).__name__.lower(), actor.platform,
                          "internal_error" if isinstance(answer.result, InternalError)
                          else "unavailable" if isinstance(answer.result, Unavailable)
                          else "user_error" if isinstance(answer.result, UserError) else "ok",
                          time.perf_counter() - started)
        self._observe(handled)
        return answer

    async def _handle(self, command: commands.Command, actor: Actor,
                      progress: Progress | None = None) -> Reply:
        try:
            if isinstance(command, commands.Help):
                return Reply(services.help_for(None, command), private=True)
            service = SERVICES[type(command)]
            async with self.uow_factory(read_only=isinstance(command, READ_ONLY)) as uow:
                member, channel = await uow.members.speaker(actor.identity, actor.channel_id,
                                                            workspace_id=actor.workspace_id)
                parent = await uow.channels.get(actor.platform, actor.workspace_id, actor.parent_channel_id) \
                    if actor.parent_channel_id else None
                ctx = services.Context(uow, actor, member, channel, self.clock(), self.policy, self.warninglists,
                                       self.delivery_platforms, progress, parent_channel=parent)
                result = await service(ctx, command)
                await uow.commit()
            for listener in self.after_commit:
                listener()
            return reply(command, result, conversation_private=actor.private, channel=channel, ceiling=ctx.ceiling,
                         kept=ctx.kept_ceiling)
        except UsageError as e:
            return Reply(UserError(e.problem, e.usage), private=True)
        except PermissionDenied as e:
            return Reply(UserError(str(e)), private=True)
        except Conflict as e:
            return Reply(UserError(f"someone changed this at the same moment ({e}); try again"), private=True)
        except StoreUnavailable as e:  # an outage, not a bug: one line, no traceback, nothing was stored
            log.warning("command %s from %s: the store is unavailable (%s)", type(command).__name__,
                        actor.platform.value, e.reason)
            return Reply(Unavailable(), private=True)
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("command %s from %s/%s failed (ref %s)", type(command).__name__, actor.platform,
                          actor.user_id, reference)
            return Reply(InternalError(reference), private=True)
