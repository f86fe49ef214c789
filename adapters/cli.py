"""`coalition-bot`: the command line, and the composition root.

Settings are built once here, the store and the core once per command, and handed to the adapters.

Start-up: this module imports only what every command needs to parse its arguments; each command imports what
it uses (the settings, the store, an adapter) in its body, so `--help` and `--version` answer at once and no
command pays for Slack, Discord, aiohttp or Alembic unless it uses them (bench/startup.py measures each).
"""

# No `from __future__ import annotations` in the command modules: typer reads every command's annotations at
# every start, and a string annotation costs an eval each (~9 ms over the ~45 commands).

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from adapters.discord.cli import discord_app
from adapters.slack.cli import slack_app
from adapters.store_cli import exit_unavailable, run_with_store, store_url

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Coalition Bot: share, look up, vote on and moderate indicators of compromise.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema and maintenance.")
config_app = typer.Typer(no_args_is_help=True, help="Configuration.")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(discord_app, name="discord")
app.add_typer(slack_app, name="slack")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file (default ./coalition.toml, "
                                                   "or $COALITION_CONFIG)")]
DatabaseOption = Annotated[str | None, typer.Option("--database", help="Database URL (overrides the settings)")]

log = logging.getLogger("adapters.cli")

if TYPE_CHECKING:
    from adapters.config import Settings


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"coalition-bot {version('coalition-bot')}")
        raise typer.Exit()


@app.callback()
def _options(show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                        help="Print the version and exit")] = False) -> None:
    """Coalition Bot: share, look up, vote on and moderate indicators of compromise."""


def _settings(path: Path | None, *, quiet: bool = False) -> "Settings":
    """The settings, and logging set up from them; `quiet` keeps a terminal conversation free of INFO lines."""
    from adapters.config import ConfigError, load_settings

    try:
        settings = load_settings(path)
    except ConfigError as e:  # keys that are not settings: one line each, with the nearest valid name
        for line in str(e).splitlines():
            typer.echo(f"Configuration error: {line}", err=True)
        raise typer.Exit(2) from None
    except Exception as e:  # a broken file or value: say what and where, not a traceback
        typer.echo(f"Configuration error: {e}", err=True)
        raise typer.Exit(2) from None
    level = "WARNING" if quiet and settings.logging.level in {"DEBUG", "INFO"} else settings.logging.level
    handler = logging.StreamHandler(sys.stderr)
    if settings.logging.json_format:
        from adapters.ops import JsonFormatter

        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    return settings


@app.command()
def console(
    config: ConfigOption = None,
    database: DatabaseOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="A throwaway demo coalition (three organizations, "
                                       "members of every role)")] = False,
    speaker: Annotated[str, typer.Option("--as", help="Who speaks first")] = "",
) -> None:
    """Talk to the bot in the terminal; with standard input not a terminal, run one message per line."""
    import tempfile

    from adapters.charts import stats_png
    from adapters.console.channel import ConsoleChannel, run_interactive, run_script
    from adapters.console.delivery import ConsoleSink
    from adapters.console.demo import seed
    from adapters.runtime import open_runtime
    from bot.delivery import Deliverer
    from bot.domain import Platform

    settings = _settings(config, quiet=True)
    interactive = sys.stdin.isatty()

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="coalition-demo-") as tmp:
            url = database or (f"sqlite+aiosqlite:///{tmp}/demo.db" if demo else None)
            async with open_runtime(settings, database_url=url, migrate=True if demo else None,
                                    delivery_platforms=(Platform.CONSOLE,), warninglists="on first use") as rt:
                deliverer = Deliverer(rt.store.unit_of_work, ConsoleSink(typer.echo), clock=rt.dispatcher.clock,
                                      chart=stats_png, score_model=rt.dispatcher.policy.score_model,
                                      default_ceiling=rt.dispatcher.policy.default_channel_ceiling)
                charts = Path(tempfile.gettempdir()) / "coalition-bot-charts"
                channel = ConsoleChannel(rt.dispatcher, typer.echo, speaker, deliverer, charts)
                if demo:
                    for line in await seed(rt.store, rt.dispatcher, samples=interactive):
                        typer.echo(line)
                await (run_interactive(channel) if interactive else run_script(channel, sys.stdin))

    run_with_store(main, database or ("sqlite:///<a temporary demo file>" if demo
                                       else settings.database.url.get_secret_value()))


@app.command()
def run(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Run every enabled adapter (Slack, Discord) in one process until interrupted."""
    import asyncio

    settings = _settings(config)
    missing = settings.missing()
    if missing:
        typer.echo(f"Cannot start: {', '.join(missing)} not set (see `coalition-bot config check`).", err=True)
        raise typer.Exit(2)
    if not (settings.slack.enabled or settings.discord.enabled or settings.taxii.enabled):  # before the database
        typer.echo("No adapter is enabled: set slack.enabled, discord.enabled or taxii.enabled (or use `console`).",
                   err=True)
        raise typer.Exit(2)
    from adapters.runtime import create_services, delivery_platforms, open_runtime, settle

    async def main() -> None:
        async with open_runtime(settings, database_url=database,
                                delivery_platforms=delivery_platforms(settings)) as rt:
            services = create_services(rt)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            for service in services:  # /healthz reports each adapter's connection beside the database
                watch = getattr(service, "watch", None)
                if watch is not None:
                    watch(services)
            for service in services:
                await service.start()
                log.info("%s adapter started", service.name)
            stop_listening = await rt.store.on_outbox_rows(rt.dispatcher.committed_elsewhere)
            settle()
            await stop.wait()
            log.info("stopping: finishing in-flight work")
            await stop_listening()
            for service in reversed(services):
                await service.stop()

    run_with_store(main, store_url(settings, database),
                    wait=settings.database.start_wait_seconds)


@app.command()
def extract(
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Each input line is a JSON string (one message); "
                                        "each output line is that message's JSON object")] = False,
    warn: Annotated[bool, typer.Option("--warn", help="Add the warninglist hits")] = False,
    config: ConfigOption = None,
) -> None:
    """Read text on standard input and print the indicators found in it as JSON."""
    from adapters.extract import run_extract

    include: list[str] | None = None
    exclude: list[str] = []
    cache_dir: Path | None = None
    if warn:
        settings = _settings(config, quiet=True)
        include, exclude = settings.warninglists.include or None, settings.warninglists.exclude
        cache_dir = settings.warninglists.cache_directory()
    import gc

    if not gc.isenabled():  # start-up is over (see main): what follows reads input of any size
        gc.freeze()
        gc.enable()
    raise typer.Exit(run_extract(sys.stdin, sys.stdout, jsonl=jsonl, warn=warn, include=include, exclude=exclude,
                                 cache_dir=cache_dir))


@app.command()
def stats(
    chart: Annotated[Path | None, typer.Option("--chart", help="Also draw the picture into this PNG file")] = None,
    org: Annotated[str | None, typer.Option("--org", help="What this organization may see (default: the "
                                            "coalition-wide view, CLEAR to AMBER)")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """What the store holds, and the last 12 weeks: submissions, approvals, time to decision, tags, contributors."""
    from datetime import UTC, datetime

    from adapters.runtime import open_store
    from bot.results import StatsResult
    from bot.rules import coalition_visibility, organization_visibility
    from bot.text import render

    settings = _settings(config)

    async def main() -> StatsResult | None:
        async with open_store(settings, database_url=database) as store, store.unit_of_work(read_only=True) as uow:
            found = await uow.organizations.by_name(org) if org else None
            if org and found is None:
                return None
            view = organization_visibility(found.id) if found else coalition_visibility()
            return StatsResult(await uow.indicators.stats(view),
                               await uow.statistics.trends(view, found.id if found else -1, datetime.now(UTC)))

    result = run_with_store(main, store_url(settings, database))
    if result is None:
        typer.echo(f'There is no organization called "{org}" (see `/ioc admin org list`).', err=True)
        raise typer.Exit(2)
    typer.echo(render(result))
    if chart is not None and result.trends is not None:
        from adapters.charts import stats_png

        chart.write_bytes(stats_png(result.trends))
        typer.echo(f"Chart: {chart}")


@app.command()
def bootstrap(
    org: Annotated[str, typer.Option("--org", help="The organization of the first admin (created if new)")],
    sector: Annotated[str, typer.Option(help="Its sector")] = "",
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Create the first organization and print a one-use admin invite code (`/ioc join CODE` on any platform)."""
    from adapters.runtime import open_store
    from bot.bootstrap import first_admin_invite

    settings = _settings(config)

    async def main() -> str:
        async with open_store(settings, database_url=database) as store:
            return await first_admin_invite(store.unit_of_work, org, sector)

    code = run_with_store(main, store_url(settings, database))
    typer.echo(f"Admin invite for {org}: {code}\nRun `/ioc join {code}` as the first admin; it works once, "
               "for 7 days.")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, database: DatabaseOption = None,
               revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Create or upgrade the schema to the latest migration."""
    from storage.engine import make_engine, safe_url
    from storage.migrate import upgrade, upgrade_if_behind

    settings = _settings(config)
    url = store_url(settings, database)

    async def to_head() -> None:  # one query when the schema is up to date already; Alembic only when behind
        engine = make_engine(url)
        try:
            await upgrade_if_behind(engine, url)
        finally:
            await engine.dispose()

    run_with_store(to_head if revision == "head" else lambda: upgrade(url, revision), url)
    typer.echo(f"Database {safe_url(url)} is at {revision}.")


@db_app.command("backup")
def db_backup(target: Annotated[Path, typer.Argument(help="The backup file to write (must not exist)")],
              config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Copy a SQLite store consistently while the bot runs (SQLite's online backup). For PostgreSQL use pg_dump."""
    from sqlalchemy.engine import make_url

    from adapters.progress import ProgressReport

    settings = _settings(config)
    url = make_url(store_url(settings, database))
    if url.get_backend_name() != "sqlite" or not url.database:
        typer.echo("db backup copies SQLite stores; back PostgreSQL up with pg_dump.", err=True)
        raise typer.Exit(2)
    if target.exists():
        typer.echo(f"{target} exists already; name a new file.", err=True)
        raise typer.Exit(2)
    if not target.parent.is_dir():
        typer.echo(f"The folder {target.parent} does not exist; name a file in an existing folder.", err=True)
        raise typer.Exit(2)
    import sqlite3

    from storage.engine import safe_url, unavailable_reason

    try:
        with ProgressReport("db backup", unit="pages") as progress:
            _sqlite_backup(url.database, target, progress)
    except sqlite3.Error as e:
        reason = unavailable_reason(e)
        if reason is None:
            raise
        exit_unavailable(safe_url(url), reason)
    typer.echo(f"Backed up {url.database} to {target}.")


class _Restarted(Exception):
    """The store changed during a stepped copy: SQLite started the copy again."""


def _sqlite_backup(database: str, target: Path, progress: Callable[[str, int, int | None], None]) -> None:
    """SQLite's online backup, in steps of about a hundredth of the file so that `progress` is told the pages
    copied. A write by another connection between two steps makes SQLite start the copy again: rather than chase
    a busy store step by step (possibly forever), the copy is then made again in one step, as consistent as any."""
    import sqlite3

    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        pages = source.execute("PRAGMA page_count").fetchone()[0]
        remaining_before = [pages]

        def step(_status: int, remaining: int, total: int) -> None:
            if remaining > remaining_before[0]:
                raise _Restarted
            remaining_before[0] = remaining
            progress("pages", total - remaining, total)

        destination = sqlite3.connect(target)
        try:
            with destination:
                try:
                    source.backup(destination, pages=max(256, pages // 100), progress=step, sleep=0)
                except _Restarted:
                    log.info("the store changed during the copy: copying it again in one step")
                    source.backup(destination)
                    progress("pages", pages, pages)
        finally:
            destination.close()
    finally:
        source.close()


@db_app.command("current")
def db_current(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Print the schema revision of the database."""
    from storage.migrate import current_async, head

    url = store_url(_settings(config), database)
    rev = run_with_store(lambda: current_async(url), url)
    typer.echo(f"current {rev or 'none (run: coalition-bot db upgrade)'}; latest {head()}")


@config_app.command("reference")
def config_reference() -> None:
    """Print every setting with its default, environment variable and meaning (Markdown)."""
    from adapters.config import reference

    typer.echo(reference())


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Show every setting, its value (secrets as set/missing) and where it came from."""
    from rich.console import Console
    from rich.table import Table

    from adapters.config import config_report

    settings = _settings(config)
    table = Table("setting", "value", "from (environment variable)")
    for key, shown, origin in config_report(settings, config):
        table.add_row(key, shown, origin)
    Console(width=None if sys.stdout.isatty() else 140).print(table)
    problems = [f"{key} is needed by an enabled adapter" for key in settings.missing()]
    try:
        settings.policy.to_policy()
    except ValueError as e:
        problems.append(str(e))
    for problem in problems:
        typer.echo(f"Problem: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    enabled = [name for name in ("slack", "discord") if getattr(settings, name).enabled]
    typer.echo(f"Configuration is valid. Adapters enabled: {', '.join(enabled) or 'none (the console only)'}.")


# -- STIX/TAXII exchange (adapters/exchange_cli.py) --
from adapters import exchange_cli  # noqa: E402

app.command("export")(exchange_cli.export)
app.command("import")(exchange_cli.import_)
app.add_typer(exchange_cli.taxii_app, name="taxii")
app.add_typer(exchange_cli.apikey_app, name="apikey")


def main() -> None:
    """The `coalition-bot` script. Start-up imports allocate tens of thousands of objects that live as long as the
    process: cyclic garbage collections during them find nothing and cost a tenth of the start-up, so the
    collector is off until the command has built what it needs (`open_runtime`, the extract's index); a command
    that never gets there is short and bounded (help, settings, schema). At the end everything is frozen: the
    interpreter's last collection at exit then does not walk it all once more (a tenth again).

    Pydantic plugins are not looked for unless the operator asks (`PYDANTIC_DISABLE_PLUGINS=` empty, or a list of
    the plugins to leave out): the bot uses none, and looking reads every installed package's entry points when
    the settings are first validated (~7 ms of every command line; typer turns them off for its own parameters).

    Then the process ends without the interpreter's teardown (`_exit_now`)."""
    import gc

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    gc.disable()
    try:
        app()
    except SystemExit as e:
        status = e.code
    else:
        status = 0
    finally:
        gc.freeze()
        gc.enable()
    _exit_now(status)


def _exit_now(status: object) -> NoReturn:
    """End the process as the interpreter would, without its teardown: once a command is done, freeing the ~600
    modules it loaded one object at a time took ~15 ms of every command line. What the interpreter does at exit
    that anyone can see is done first: the atexit functions (log handlers flushed and closed, workers joined),
    the output flushed, `status` turned into an exit status. While another thread still runs, or when the output
    cannot be flushed, the interpreter ends the process as always (it waits for threads; it reports the pipe)."""
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        sys.exit(status)
    if status is None:
        status = 0
    elif not isinstance(status, int):
        print(status, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # as the interpreter runs them at exit (it clears them: never run twice)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)
    os._exit(status)
