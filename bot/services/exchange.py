"""The exchange's services (bot.exchange has the formats and the TAXII feed): a file of what a person may see
(`/ioc export`), files read and submitted for moderation (`/ioc import`, `coalition-bot import`, a TAXII POST,
whose indicators enter the store only through `store_submissions`), and the admins' API keys."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot import commands, limits, stix
from bot.commands import UsageError
from bot.domain import Actor, ExportFilter, Member, Platform, Role, Submission
from bot.exchange import (
    EXTENSIONS,
    MAX_IMPORT_BYTES,
    MEDIA_TYPES,
    Progress,
    create_api_key,
    no_progress,
    write_export,
)
from bot.misp import reader as misp_reader
from bot.policy import Policy, WarninglistAction
from bot.ports import UnitOfWork, UnitOfWorkFactory
from bot.results import ApiKeyCreated, ApiKeyListResult, Done, FileResult, ImportReport
from bot.rules import require_role
from bot.tlp import TLP

from .context import Context, Matcher
from .storing import store_submissions, submission_notices

log = logging.getLogger(__name__)

CHAT_EXPORT_LIMIT = 20_000  # indicators in a file sent in chat; the CLI and TAXII have no such limit
MAX_IMPORT_ITEMS = 200_000


def export_filter(cmd: commands.Export, now: datetime) -> ExportFilter:
    return ExportFilter(statuses=cmd.statuses, max_tlp=cmd.max_tlp, types=cmd.types, tags=cmd.tags,
                        since=now - cmd.since if cmd.since else None)


async def export(ctx: Context, cmd: commands.Export) -> FileResult:
    """`/ioc export ...`: a file of what this person may see (the reply is private: see bot.audience)."""
    member = ctx.require_member()
    parts: list[str] = []
    stats = await write_export(ctx.uow, ctx.view, export_filter(cmd, ctx.now), cmd.format, parts.append,
                               viewer_org_id=member.org_id, limit=CHAT_EXPORT_LIMIT,
                               scoring=(ctx.now, ctx.policy.score_model), min_score=cmd.min_score)
    filename = f"coalition-{ctx.now:%Y%m%d-%H%M}.{EXTENSIONS[cmd.format]}"
    what = ", ".join(s.value for s in cmd.statuses) + (f" scoring {cmd.min_score}+" if cmd.min_score else "")
    summary = (f"{stats.indicators} {what} indicator{'s' if stats.indicators != 1 else ''} you may see"
               + (f" ({stats.objects} STIX objects with votes, sightings, identities and markings)"
                  if cmd.format == "stix" else "")
               + (f"; the first {CHAT_EXPORT_LIMIT:,} only: use filters, the TAXII feed or `coalition-bot export` "
                  "for more" if stats.truncated else "") + ".")
    return FileResult(filename, MEDIA_TYPES[cmd.format], "".join(parts).encode(), summary)


# ---------------------------------------------------------------- import

IMPORT_CHUNK = 1000  # indicators per transaction of a big import (see import_data)


def plan_import(filename: str, data: bytes | None, objects: list[Any] | None, *, policy: Policy,
                now: datetime, context: bool = False) -> stix.ImportPlan:
    """Read and check a whole file (or TAXII objects): pure CPU work, run in a worker thread by import_data so
    that a 50 MB file does not stall the event loop. Raises UsageError for a file that stores nothing. The
    format is read from the content: MISP event JSON (`bot.misp.reader`; `context` takes its to_ids-false
    attributes too), a STIX bundle, or CSV and text."""
    valid_until = now + policy.default_valid_for if policy.default_valid_for else None
    try:
        if objects is not None:
            plan = stix.plan_objects(objects, default_tlp=policy.default_tlp,
                                     default_confidence=policy.default_confidence, now=now,
                                     default_valid_until=valid_until)
        else:
            if not data or len(data) > MAX_IMPORT_BYTES:
                raise UsageError(f"the file is empty or larger than {MAX_IMPORT_BYTES // 2**20} MB", "import")
            if misp_reader.is_misp(data):
                plan = misp_reader.read_misp(data, default_tlp=policy.default_tlp,
                                             default_confidence=policy.default_confidence, now=now,
                                             default_valid_until=valid_until, context=context)
            else:
                plan = stix.read_file(data, filename, default_tlp=policy.default_tlp,
                                      default_confidence=policy.default_confidence, now=now,
                                      default_valid_until=valid_until)
    except stix.ImportFormatError as e:
        raise UsageError(f"nothing was imported from {filename}: {e}", "import") from None
    except RecursionError:  # something nested deeper than any STIX object is, past the JSON reader
        raise UsageError(f"nothing was imported from {filename}: it is nested too deeply to be STIX",
                         "import") from None
    if plan.count > MAX_IMPORT_ITEMS:
        raise UsageError(f"{plan.count:,} indicators in one file; import at most {MAX_IMPORT_ITEMS:,} at a "
                         "time", "import")
    return plan


def _blocked_first(items: list[Submission], warninglists: Matcher) -> list[Submission]:
    """A value on a blocking warninglist refuses the whole file: such values go first, so that the first chunk
    is refused (by store_submissions, with its usual message) before anything is stored."""
    listed = [it for it in items if warninglists.match(it.observable)]
    if not listed:
        return items
    first = {id(it) for it in listed}
    return listed + [it for it in items if id(it) not in first]


async def import_data(ctx: Context, filename: str, data: bytes | None = None, *,
                      objects: list[Any] | None = None, progress: Progress = no_progress,
                      context: bool = False) -> ImportReport:
    """Read a file (or, for TAXII, already-decoded objects: the list is emptied once read) and submit its
    indicators for moderation.

    The file is read and checked as a whole first, in a worker thread, with no transaction open: a malformed
    file (or one with a value on a blocking warninglist) stores nothing. Its indicators are then written in
    transactions of IMPORT_CHUNK each, committed one after the other on `ctx.uow`, so that no other command
    waits for the whole import (on SQLite a transaction holds the only write lock). All or nothing holds per
    chunk: should the store fail in the middle, the chunks before are kept, and the report says how many were
    stored and that importing the same file again adds the rest (what is stored already is recognised as
    known). One moderation notice tells about the whole import (not one per chunk), written with the last
    chunk: should the process die midway, the chunks stored wait in the moderation queue without a notice.
    `progress` is told when the reading starts ("reading", 0, None) and the indicators stored after each chunk
    ("indicators", done, total)."""
    ctx.require_member()
    filename = limits.storable(filename, 200) or "file"  # it goes into audit rows: nothing a store cannot keep
    await ctx.uow.commit()  # nothing written yet: end the transaction (and SQLite's write lock) while we read
    progress("reading", 0, None)
    plan = await asyncio.to_thread(plan_import, filename, data, objects, policy=ctx.policy, now=ctx.now,
                                   context=context)
    if objects is not None:
        objects.clear()  # read: 50 MB of decoded objects need not live on (every full GC pass would walk them)
    total = plan.count
    chunk_of = plan.submissions  # made a chunk at a time (see bot.stix.importer.Row)
    if ctx.warninglists is not None and ctx.policy.warninglist_action is WarninglistAction.BLOCK:
        ordered = await asyncio.to_thread(_blocked_first, plan.items, ctx.warninglists)
        chunk_of = lambda start, stop: ordered[start:stop]  # noqa: E731
    source = f"import:{filename[:100]}"
    quiet = dataclasses.replace(ctx, delivery_platforms=())  # the chunks post no notice: one at the end does
    created: list[int] = []
    tlps: list[TLP] = []  # of the created ones, for the notice (not the NewIndicators: the GC would walk them)
    anonymous = False
    unmoderated_ids: set[int] = set()
    known = not_applied = updated = warninglisted = unmoderated = 0
    other_ids: list[tuple[str, str]] = []  # (the file's id, the id its value is held under)
    stopped = ""
    for start in range(0, total, IMPORT_CHUNK):
        try:
            done = await store_submissions(quiet, chunk_of(start, start + IMPORT_CHUNK), source=source,
                                           verb="import")
            if start + IMPORT_CHUNK < total:
                await ctx.uow.commit()  # the last chunk commits with the notice and the audit row
        except Exception as e:
            if start == 0:
                raise  # nothing stored: the usual error (a UsageError says what to fix)
            await ctx.uow.rollback()
            reference = secrets.token_hex(4)
            if isinstance(e, UsageError):
                why = e.problem
            else:
                log.exception("import of %s stopped after %d indicators (ref %s)", filename[:100], start, reference)
                why = f"the store failed (reference {reference})"
            stopped = (f"stopped after {start:,} of {total:,} indicators: {why}. Import the file again to add "
                       "the rest (what is stored already is recognised).")
            break
        created += done.created_ids
        tlps += [new.tlp for new in done.created]
        anonymous = anonymous or any(new.anonymous for new in done.created)
        unmoderated_ids |= done.unmoderated
        known += len(done.known)
        not_applied += len(done.not_applied)
        updated += len(done.sightings_updated)
        warninglisted += len(done.warninglisted)
        unmoderated += len(done.unmoderated)
        other_ids += done.held_under_other_id
        progress("indicators", min(start + IMPORT_CHUNK, total), total)
        await asyncio.sleep(0)  # let other commands in between chunks
    await submission_notices(ctx, created, tlps, anonymous, unmoderated_ids, source)
    skipped = tuple(sorted(plan.skipped.items(), key=lambda kv: (-kv[1], kv[0])))
    await ctx.audit("import", None, filename=filename[:200], format=plan.format, objects=plan.objects,
                    created=len(created), known=known, skipped=plan.skipped_count, read_as_red=plan.read_as_red,
                    stopped=bool(stopped))
    return ImportReport(filename=filename, format=plan.format, objects=plan.objects,
                        created=tuple(f"#{i}" for i in created[:50]), created_count=len(created),
                        known_count=known, skipped=skipped, warninglisted=warninglisted,
                        not_applied_count=not_applied, sightings_updated=updated,
                        notes=tuple(plan.notes + _held_notes(other_ids, stix.importer.MAX_NOTES - len(plan.notes))),
                        notes_count=plan.notes_count + len(other_ids), read_as_red=plan.read_as_red,
                        stopped=stopped, unmoderated_count=unmoderated)


def _held_notes(other_ids: list[tuple[str, str]], room: int) -> list[str]:
    """The objects whose value is held already under another STIX id: one indicator, kept under the held id."""
    return [f"{source[:80]}: its value is held already as {held} (one indicator, kept under that id)"
            for source, held in other_ids[:max(room, 0)]]


async def import_file(ctx: Context, cmd: commands.ImportFile) -> ImportReport:
    """A file shared to the bot in chat; its progress told to the adapter's hook, if it gave one (issue 15: a
    progress message in the conversation)."""
    return await import_data(ctx, cmd.filename, cmd.data, context=cmd.context, progress=ctx.progress or no_progress)


async def import_as_organization(uow_factory: UnitOfWorkFactory, *, org_name: str | None = None,
                                 org_id: int | None = None, member_name: str, platform: Platform, filename: str,
                                 now: datetime, policy: Policy, warninglists: Matcher | None = None,
                                 delivery_platforms: Sequence[Platform] = (), data: bytes | None = None,
                                 objects: list[Any] | None = None, progress: Progress = no_progress,
                                 context: bool = False) -> ImportReport:
    """An import by an organization with no person speaking (the CLI, a TAXII POST): the submissions belong to
    the organization's service member `member_name` (created on first use, role member). One transaction."""
    async with uow_factory() as uow:
        member = await service_member(uow, member_name, org_name=org_name, org_id=org_id)
        actor = Actor(platform, "", f"m{member.id}", "", private=True, display_name=member.name)
        ctx = Context(uow, actor, member, None, now, policy, warninglists, tuple(delivery_platforms))
        report = await import_data(ctx, filename, data, objects=objects, progress=progress, context=context)
        await uow.commit()
    return report


async def service_member(uow: UnitOfWork, name: str, *, org_name: str | None = None,
                         org_id: int | None = None) -> Member:
    if org_id is None:
        org = await uow.organizations.by_name(org_name or "")
        if org is None:
            raise UsageError(f"there is no organization named '{org_name}'", "import")
        org_id = org.id
    for member in await uow.members.by_name(name):
        if member.org_id == org_id:
            return member
    return await uow.members.add(org_id, name, Role.MEMBER)


# ---------------------------------------------------------------- API keys (admins)

async def apikey_create(ctx: Context, cmd: commands.ApiKeyCreate) -> ApiKeyCreated:
    admin = ctx.require_member()
    require_role(admin, Role.ADMIN, "create API keys")
    created = await create_api_key(ctx.uow, cmd.org, cmd.name, created_by=admin.id, now=ctx.now)
    await ctx.audit("apikey.create", None, key=created.api_key.id, org=created.api_key.org_name,
                    prefix=created.api_key.prefix)
    return created


async def apikey_list(ctx: Context, _: commands.ApiKeyList) -> ApiKeyListResult:
    require_role(ctx.require_member(), Role.ADMIN, "list API keys")
    return ApiKeyListResult(tuple(await ctx.uow.api_keys.list()))


async def apikey_revoke(ctx: Context, cmd: commands.ApiKeyRevoke) -> Done:
    require_role(ctx.require_member(), Role.ADMIN, "revoke API keys")
    revoked = await ctx.uow.api_keys.revoke(cmd.key_id, ctx.now)
    if revoked is None:
        raise UsageError(f"k{cmd.key_id} is not an active API key (see `/ioc admin apikey list`)", "apikey revoke")
    await ctx.audit("apikey.revoke", None, key=revoked.id, org=revoked.org_name)
    return Done(f"API key k{revoked.id} of {revoked.org_name} ({revoked.prefix}…) is revoked.")
