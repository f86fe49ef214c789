"""`coalition-bot export | import | taxii | apikey ...`: STIX 2.1 files and the TAXII 2.1 server from the command
line (registered in adapters/cli.py)."""

# Annotations evaluated where they are written (see adapters/cli.py).

import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.store_cli import run_with_store, store_url

if TYPE_CHECKING:
    import asyncio

    from adapters.config import Settings

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file")]
DatabaseOption = Annotated[str | None, typer.Option("--database", help="Database URL (overrides the settings)")]
apikey_app = typer.Typer(no_args_is_help=True, help="Organizations' TAXII API keys.")
taxii_app = typer.Typer(invoke_without_command=True,
                        help="Serve the TAXII 2.1 feed (no sub-command), or pull another server's collection.")


def _settings(path: Path | None) -> "Settings":
    from adapters.cli import _settings as settings_of

    return settings_of(path, quiet=True)


def _parse_since(text: str | None) -> datetime | None:
    if not text:
        return None
    from bot.commands import UsageError, parse_duration
    from bot.stix import parse_timestamp

    try:
        return datetime.now(UTC) - parse_duration(text, "export")
    except UsageError:
        try:
            return parse_timestamp(text)
        except ValueError:
            raise typer.BadParameter("--since takes a duration (7d, 24h) or a timestamp (2026-11-01T00:00:00Z)") \
                from None


def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default standard output)")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="stix, csv, txt, or misp-feed (a MISP feed folder: "
                                     "give --output DIR)")] = "stix",
    status: Annotated[str, typer.Option(help="Statuses, comma-separated")] = "approved",
    tlp: Annotated[str | None, typer.Option("--tlp", help="TLP ceiling (clear, green, amber, amber+strict)")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="IOC types, comma-separated")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Only with this tag (repeatable)")] = None,
    since: Annotated[str | None, typer.Option(help="Changed since: 7d, 24h or a timestamp")] = None,
    org: Annotated[str | None, typer.Option("--org", help="Export what this organization may see (with its "
                                            "AMBER+STRICT); default: the coalition-wide view, up to AMBER")] = None,
    min_score: Annotated[int | None, typer.Option("--min-score", min=0, max=100,
                                                  help="Only indicators scoring at least this (0-100)")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Write a STIX 2.1 bundle (or CSV, one value a line, or a MISP feed folder) of the indicators, filtered.
    Never RED."""
    from adapters.progress import ProgressReport
    from adapters.runtime import open_store
    from bot import exchange
    from bot.domain import ExportFilter, Status
    from bot.ioc import IOCType
    from bot.rules import coalition_visibility, organization_visibility
    from bot.tlp import TLP

    settings = _settings(config)
    if fmt not in exchange.MEDIA_TYPES and fmt != "misp-feed":
        raise typer.BadParameter("--format takes stix, csv, txt or misp-feed")
    if fmt == "misp-feed" and (output is None or output.is_file()):
        raise typer.BadParameter("--format misp-feed writes a folder: give --output DIR")
    try:
        flt = ExportFilter(statuses=tuple(Status(s.strip()) for s in status.split(",") if s.strip()),
                           max_tlp=TLP.parse(tlp) if tlp else None,
                           types=tuple(IOCType(t.strip()) for t in (type_ or "").split(",") if t.strip()),
                           tags=tuple(tag or ()), since=_parse_since(since))
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    score_model = settings.core_policy().score_model  # as the dispatcher's policy has it

    async def main(progress: exchange.Progress) -> exchange.ExportStats:
        async with open_store(settings, database_url=database) as store, store.unit_of_work(read_only=True) as uow:
            view, viewer = _view_of(await uow.organizations.by_name(org) if org else None, org)
            if fmt == "misp-feed" and output is not None:
                from adapters.misp_files import export_feed

                return await export_feed(uow, view, flt, output, now=datetime.now(UTC), progress=progress)
            out = output.open("w", encoding="utf-8") if output else sys.stdout
            try:
                return await exchange.write_export(uow, view, flt, fmt, out.write, viewer_org_id=viewer,
                                                   progress=progress, min_score=min_score,
                                                   scoring=(datetime.now(UTC), score_model))
            finally:
                if output:
                    out.close()

    def _view_of(found, name):  # type: ignore[no-untyped-def]
        if name and found is None:
            typer.echo(f"There is no organization named '{name}'.", err=True)
            raise typer.Exit(2)
        return (organization_visibility(found.id), found.id) if found else (coalition_visibility(), None)

    with ProgressReport("export", unit="indicators", totals=False) as progress:
        stats = run_with_store(lambda: main(progress), store_url(settings, database))
    rate = stats.indicators / progress.elapsed if progress.elapsed > 0 else 0
    typer.echo(f"Exported {stats.indicators} indicators ({stats.objects} objects)"
               + (f" to {output}" if output else "") + f" in {progress.elapsed:.1f} s ({rate:,.0f}/s).", err=True)


def import_(
    file: Annotated[Path, typer.Argument(help="STIX 2.1 bundle (.json), MISP event JSON, CSV or text file, or a "
                                         "MISP feed folder", exists=True)],
    org: Annotated[str, typer.Option("--org", help="The importing organization")],
    member: Annotated[str, typer.Option("--member", help="Name of the organization's member the submissions are "
                                        "recorded under (created if new)")] = "cli import",
    context: Annotated[bool, typer.Option("--context", help="MISP: also the attributes marked to_ids false "
                                          "(context; skipped and counted otherwise)")] = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Submit a file's indicators for moderation, as ORG. A malformed file stores nothing."""
    from adapters.progress import ProgressReport
    from adapters.runtime import delivery_platforms, load_warninglists, open_store
    from bot import exchange, services
    from bot.commands import UsageError
    from bot.domain import Platform
    from bot.text import render

    settings = _settings(config)
    if file.is_dir():
        from adapters.misp_files import FeedFolderError, read_feed_folder

        try:
            data = read_feed_folder(file)
        except FeedFolderError as e:
            typer.echo(f"Error: {e}", err=True)
            raise typer.Exit(1) from None
    else:
        data = file.read_bytes()

    async def main(progress: exchange.Progress):  # type: ignore[no-untyped-def]
        # The store, the policy and the warninglists: no chat command runs, so no dispatcher (nor its imports).
        async with open_store(settings, database_url=database) as store:
            return await services.import_as_organization(
                store.unit_of_work, org_name=org, member_name=member, platform=Platform.CLI, filename=file.name,
                now=datetime.now(UTC), policy=settings.core_policy(),
                warninglists=await load_warninglists(settings), delivery_platforms=delivery_platforms(settings),
                data=data, progress=progress, context=context)

    try:
        with ProgressReport("import", unit="indicators") as progress:  # the file's name is logged only on failure
            report = run_with_store(lambda: main(progress), store_url(settings, database))
    except UsageError as e:
        typer.echo(f"Error: {e.problem}", err=True)
        raise typer.Exit(1) from None
    typer.echo(render(report))


@taxii_app.callback()
def taxii(ctx: typer.Context, config: ConfigOption = None, database: DatabaseOption = None,
          host: Annotated[str | None, typer.Option(help="Listen address (default taxii.host)")] = None,
          port: Annotated[int | None, typer.Option(help="Port (default taxii.port)")] = None) -> None:
    """Serve the TAXII 2.1 feed until interrupted."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from adapters.runtime import delivery_platforms, open_runtime
    from adapters.taxii import serve

    settings = _settings(config)
    cfg = settings.taxii.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})

    async def main() -> None:
        async with open_runtime(settings, database_url=database,
                                delivery_platforms=delivery_platforms(settings)) as rt:
            runner = await serve(rt.store.unit_of_work, rt.dispatcher, cfg)
            typer.echo(f"TAXII 2.1 on http://{cfg.host}:{cfg.port}{cfg.base_path} (Ctrl-C stops)", err=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            try:
                await stop.wait()
            finally:
                await runner.cleanup()

    run_with_store(main, store_url(settings, database))


def _stop_on_signals(stop: "asyncio.Event") -> None:
    """SIGINT and SIGTERM set `stop` (where signals can be handled: the main thread; not a command run in a
    worker thread, as tests do)."""
    import asyncio

    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


@taxii_app.command("pull")
def taxii_pull(
    url: Annotated[str, typer.Argument(help="The other server's API root, such as https://cti.example/api/")],
    collection: Annotated[str, typer.Option("--collection", help="The collection's id (or alias)")],
    as_org: Annotated[str | None, typer.Option("--as", help="The organization here the pulled indicators are "
                                               "submitted as (they wait for moderation as its submissions)")] = None,
    key: Annotated[str | None, typer.Option("--key", help="API key of that server (sent as a Bearer token, over "
                                            "https only unless the server is this machine); default the setting "
                                            "taxii.pull_key: prefer COALITION_TAXII_PULL_KEY, as --key shows in "
                                            "the process list")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Pull again at this interval (15m, 1h) until "
                                              "interrupted; default once")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Import what another TAXII 2.1 server's collection added since the last pull, as submissions of ORG."""
    import asyncio

    from adapters.progress import ProgressReport
    from adapters.runtime import delivery_platforms, open_runtime
    from adapters.taxii.pull import PullError, PullResult, pull_once, shown_url
    from bot.commands import UsageError, parse_duration
    from bot.ports import StoreUnavailable
    from bot.text import render

    if not as_org:
        raise typer.BadParameter("give --as ORG, the organization the pulled indicators are submitted as")
    try:
        interval = parse_duration(every, "taxii pull").total_seconds() if every else None
    except UsageError as e:
        raise typer.BadParameter(f"--every: {e.problem}") from None
    settings = _settings(config)
    shown = shown_url(url)
    if not key and settings.taxii.pull_key is not None:
        key = settings.taxii.pull_key.get_secret_value()

    def tell(result: PullResult) -> None:
        since = f"added after {result.since}" if result.since else "from the start"
        if result.report is None:
            typer.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z pull {shown} {collection}: nothing new ({since}).")
            return
        typer.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z pull {shown} {collection}: {result.fetched} objects "
                   f"({since}), as {as_org}:")
        typer.echo(render(result.report))

    async def main() -> int:
        failed = 0
        async with open_runtime(settings, database_url=database,
                                delivery_platforms=delivery_platforms(settings)) as rt:
            d = rt.dispatcher
            stop = asyncio.Event()
            _stop_on_signals(stop)
            while not stop.is_set():
                try:
                    with ProgressReport(f"pull {collection}", unit="indicators") as progress:
                        result = await pull_once(rt.store.unit_of_work, url=url, collection=collection,
                                                 key=key or "", org_name=as_org, now=d.clock(), policy=d.policy,
                                                 warninglists=d.warninglists,
                                                 delivery_platforms=d.delivery_platforms, progress=progress)
                    tell(result)
                    failed = 0
                except (PullError, UsageError, StoreUnavailable) as e:
                    failed = 1
                    why = (e.problem if isinstance(e, UsageError) else f"the store is unavailable ({e.reason})"
                           if isinstance(e, StoreUnavailable) else str(e))
                    later = " Trying again at the next round." if interval else ""
                    typer.echo(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}Z pull {shown} {collection}: {why}.{later}",
                               err=True)
                if interval is None:
                    break
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except TimeoutError:
                    continue
        return failed if interval is None else 0  # --every: stopped by a signal, as asked

    if run_with_store(main, store_url(settings, database)):
        raise typer.Exit(1)


@apikey_app.command("create")
def apikey_create(org: Annotated[str, typer.Argument(help="Organization name")],
                  name: Annotated[str, typer.Option(help="What the key is for")] = "",
                  config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Create an API key for ORG and print it (once: only its SHA-256 is stored)."""
    from adapters.runtime import open_store
    from bot import exchange
    from bot.commands import UsageError
    from bot.domain import Platform

    settings = _settings(config)

    async def main():  # type: ignore[no-untyped-def]
        async with open_store(settings, database_url=database) as store, store.unit_of_work() as uow:
            now = datetime.now(UTC)
            created = await exchange.create_api_key(uow, org, name, created_by=None, now=now)
            await uow.audit.append("apikey.create", at=now, platform=Platform.CLI, member_id=None,
                                   detail={"key": created.api_key.id, "org": created.api_key.org_name})
            await uow.commit()
            return created

    try:
        created = run_with_store(main, store_url(settings, database))
    except UsageError as e:
        typer.echo(f"Error: {e.problem}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"k{created.api_key.id} {created.api_key.org_name}: {created.key}")


@apikey_app.command("list")
def apikey_list(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """List the API keys (prefixes only)."""
    from adapters.runtime import open_store
    from bot import results
    from bot.text import render

    settings = _settings(config)

    async def main():  # type: ignore[no-untyped-def]
        async with open_store(settings, database_url=database) as store, store.unit_of_work(read_only=True) as uow:
            return tuple(await uow.api_keys.list())

    typer.echo(render(results.ApiKeyListResult(run_with_store(main, store_url(settings, database)))))


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (k3 -> 3)")],
                  config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Revoke an API key at once."""
    from adapters.runtime import open_store
    from bot.domain import Platform

    settings = _settings(config)

    async def main():  # type: ignore[no-untyped-def]
        async with open_store(settings, database_url=database) as store, store.unit_of_work() as uow:
            now = datetime.now(UTC)
            revoked = await uow.api_keys.revoke(key_id, now)
            if revoked is not None:
                await uow.audit.append("apikey.revoke", at=now, platform=Platform.CLI, member_id=None,
                                       detail={"key": key_id})
                await uow.commit()
            return revoked

    revoked = run_with_store(main, store_url(settings, database))
    if revoked is None:
        typer.echo(f"k{key_id} is not an active key.", err=True)
        raise typer.Exit(1)
    typer.echo(f"k{key_id} of {revoked.org_name} revoked.")

