"""Progress of long command-line work (issue 15): without a terminal, log lines every few seconds (here every
callback: the interval is set to 0) and the totals; on a terminal, a rich bar with counts, rate and time left.
Driven by the real import, export and backup, on a real SQLite store."""

from __future__ import annotations

import asyncio
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from adapters.progress import ProgressReport
from bot import exchange, services
from bot.domain import ExportFilter, Platform, Role, Status
from bot.policy import Policy
from bot.rules import organization_visibility
from storage.uow import Store

# The installed command line in a process whose standard error is a pipe, with a progress line at every callback.
EVERY_CALLBACK = ("import sys\nimport adapters.progress\nadapters.progress.LOG_EVERY = 0\n"
                  "from adapters.cli import main\nmain()\n")
ANSI = re.compile(r"\x1b\[")


def values(n: int) -> str:
    return "".join(f"10.{i // 250}.{i % 250}.7\n" if i % 2 else f"host{i}.progress-bench.example\n"
                   for i in range(n))


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env["COALITION_WARNINGLISTS_CACHE_DIR"] = str(tmp_path / "wl")
    return subprocess.run([sys.executable, "-c", EVERY_CALLBACK, *args], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path, env=env)


async def add_org(store: Store) -> None:
    async with store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 70)
        await uow.members.add(org.id, "alice", Role.MEMBER)
        await uow.commit()


async def test_without_a_terminal_import_export_and_backup_log_progress_lines_and_totals(
        sqlite_store: Store, sqlite_url: str, tmp_path: Path) -> None:
    await add_org(sqlite_store)
    await sqlite_store.close()
    source = tmp_path / "many.txt"
    source.write_text(values(2500))

    done = cli(tmp_path, "import", str(source), "--org", "Northbank", "--database", sqlite_url)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "adapters.progress" in line]
    assert any(line.endswith("import: reading...") for line in lines), done.stderr  # the file is named only on failure
    for count in ("1,000", "2,000", "2,500"):  # one line per chunk of 1,000 here (every callback)
        assert any(f"import: indicators {count} of 2,500 (" in line for line in lines), done.stderr
    assert re.search(r"indicators 2,000 of 2,500 \(80%\), [\d,]+/s, about [\d,]+ s left", done.stderr)
    assert re.search(r"^import done: 2,500 indicators in [\d.]+ s", done.stderr, re.MULTILINE)
    assert "2500 submitted for moderation" in done.stdout
    assert not ANSI.search(done.stderr) and "━" not in done.stderr  # no bar, no colours: a log

    out = tmp_path / "out.csv"
    done = cli(tmp_path, "export", "--status", "pending", "-f", "csv", "-o", str(out), "--database", sqlite_url)
    assert done.returncode == 0, done.stderr
    assert "export: indicators 2,000" in done.stderr and "export: indicators 2,500" in done.stderr
    assert re.search(r"Exported 2500 indicators \(2500 objects\) to .*out\.csv in [\d.]+ s \([\d,]+/s\)\.",
                     done.stderr)
    assert len(out.read_text().splitlines()) == 2501  # the header and every indicator

    backup = tmp_path / "backup.db"
    done = cli(tmp_path, "db", "backup", str(backup), "--database", sqlite_url)
    assert done.returncode == 0, done.stderr
    pages = sqlite3.connect(backup).execute("PRAGMA page_count").fetchone()[0]
    assert f"db backup: pages {pages:,} of {pages:,} (100%)" in done.stderr
    assert f"db backup done: {pages:,} pages in" in done.stderr
    assert sqlite3.connect(backup).execute("SELECT count(*) FROM indicators").fetchone()[0] == 2500


def test_log_lines_come_every_few_seconds_not_at_every_callback() -> None:
    now = [0.0]
    console = Console(file=io.StringIO(), force_terminal=False)
    report = ProgressReport("import big.json", unit="indicators", console=console, every=5.0, clock=lambda: now[0])
    logged: list[str] = []
    report_log = report.line
    report.line = lambda at: logged.append(report_log(at)) or logged[-1]  # type: ignore[method-assign]
    with report:
        for step in range(1, 41):  # 40 chunks, one a second
            now[0] = float(step)
            report("indicators", step * 1000, 40_000)
    assert len(logged) == 8  # seconds 5, 10, ... 40
    assert logged[0] == "import big.json: indicators 5,000 of 40,000 (12%), 1,000/s, about 35 s left"
    assert console.file.getvalue() == "import big.json done: 40,000 indicators in 40.0 s (1,000/s).\n"


async def test_on_a_terminal_the_import_draws_a_bar_with_counts_rate_and_time_left(sqlite_store: Store) -> None:
    await add_org(sqlite_store)
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    assert console.is_terminal
    with ProgressReport("import many.txt", unit="indicators", console=console) as progress:
        report = await services.import_as_organization(
            sqlite_store.unit_of_work, org_name="Northbank", member_name="cli import", platform=Platform.CLI,
            filename="many.txt", now=datetime.now(UTC), policy=Policy(), data=values(2500).encode(),
            progress=progress)
    assert report.created_count == 2500
    drawn = screen.getvalue()
    assert "━" in drawn and "import many.txt: indicators" in drawn  # the bar and its label
    assert "2500/2500" in drawn and re.search(r"[\d,]+/s", drawn)  # counts and rate
    assert re.search(r"eta \d+:\d\d:\d\d", drawn)  # the time left
    assert "import many.txt done: 2,500 indicators in" in drawn  # the totals, once the bar is gone


async def test_the_export_tells_its_progress_batch_by_batch(sqlite_store: Store) -> None:
    await add_org(sqlite_store)
    await services.import_as_organization(
        sqlite_store.unit_of_work, org_name="Northbank", member_name="cli import", platform=Platform.CLI,
        filename="many.txt", now=datetime.now(UTC), policy=Policy(), data=values(450).encode())
    told: list[tuple[str, int, int | None]] = []
    async with sqlite_store.unit_of_work(read_only=True) as uow:
        org = await uow.organizations.by_name("Northbank")
        assert org is not None
        stats = await exchange.write_export(uow, organization_visibility(org.id),
                                            ExportFilter(statuses=(Status.PENDING,)), "txt", lambda _: None,
                                            viewer_org_id=org.id, batch=200, progress=lambda *a: told.append(a))
    assert stats.indicators == 450
    assert told == [("indicators", 200, None), ("indicators", 400, None), ("indicators", 450, None)]


async def test_taxii_pull_without_a_terminal_logs_the_pages_fetched_and_the_indicators_stored(
        sqlite_url: str, _sqlite_template: Path, tmp_path: Path) -> None:
    from bot.dispatcher import Dispatcher
    from storage.uow import create_store
    from tests.taxii.test_federation import COLLECTION, Clock, free_port, seed_upstream, start_server

    up_path = tmp_path / "upstream.db"
    shutil.copyfile(_sqlite_template, up_path)
    upstream = create_store(f"sqlite:///{up_path}")
    key = await seed_upstream(upstream, Dispatcher(upstream.unit_of_work, clock=Clock()))
    await upstream.close()
    server = await asyncio.to_thread(start_server, f"sqlite:///{up_path}", port := free_port())
    here = create_store(sqlite_url)
    try:
        async with here.unit_of_work() as uow:
            await uow.organizations.add("Partner CERT", "government", 60)
            await uow.commit()
        done = await asyncio.to_thread(cli, tmp_path, "taxii", "pull", f"http://127.0.0.1:{port}/coalition/",
                                       "--collection", COLLECTION, "--as", "Partner CERT", "--key", key,
                                       "--database", sqlite_url)
    finally:
        server.terminate()
        server.wait(timeout=30)
        await here.close()
    assert done.returncode == 0, done.stderr
    fetched = re.search(rf"pull {COLLECTION}: objects fetched (\d+)", done.stderr)
    assert fetched and int(fetched.group(1)) >= 5, done.stderr  # the five indicators, identities, markings
    assert f"pull {COLLECTION}: indicators 5 of 5 (100%)" in done.stderr
    assert re.search(rf"^pull {COLLECTION} done: 5 indicators in [\d.]+ s", done.stderr, re.MULTILINE)
    assert "5 submitted for moderation" in done.stdout and key not in done.stdout + done.stderr
