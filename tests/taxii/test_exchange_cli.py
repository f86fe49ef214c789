"""`coalition-bot import` and `coalition-bot export` as an operator runs them: the installed script, in a
subprocess, on a migrated SQLite file (once each: an interpreter's start costs about two seconds here); the
refused import of a too deeply nested file runs in-process, through the same typer app."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from adapters.cli import app
from bot.domain import Role
from storage.uow import Store
from tests.stix_helpers import assert_valid_bundle

CLI = Path(sys.executable).with_name("coalition-bot")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


async def test_import_then_export_through_the_installed_command(sqlite_store: Store, sqlite_url: str,
                                                                tmp_path: Path) -> None:
    async with sqlite_store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 70)
        await uow.members.add(org.id, "alice", Role.MEMBER)
        await uow.commit()
    await sqlite_store.close()
    url = sqlite_url.replace("sqlite://", "sqlite+aiosqlite://", 1)
    bundle = {"type": "bundle", "id": "bundle--6a8c3f0e-1d2b-4c5d-8e9f-0a1b2c3d4e5f", "objects": [
        {"type": "indicator", "spec_version": "2.1", "id": f"indicator--0b1c2d3e-4f5a-4b6c-8d7e-8f9a0b1c2d{n}0",
         "created": "2026-10-02T08:00:00.000Z", "modified": "2026-10-02T08:00:00.000Z", "pattern": pattern,
         "pattern_type": "stix", "valid_from": "2026-10-02T08:00:00.000Z", "labels": ["phishing"]}
        for n, pattern in enumerate(["[ipv4-addr:value = '198.51.100.99']",
                                     "[url:value = 'http://login-northbank.example/it%27s?a=1']",
                                     "[domain-name:value = 'AND x']"])]}
    source = tmp_path / "in.json"
    source.write_text(json.dumps(bundle))

    imported = run("import", str(source), "--org", "Northbank", "--database", url, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert "2" in imported.stdout and "skipped" in imported.stdout.lower(), imported.stdout

    out = tmp_path / "out.json"
    exported = run("export", "-o", str(out), "--status", "pending", "--org", "Northbank", "--database", url,
                   cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "Exported 2 indicators" in exported.stderr
    doc = assert_valid_bundle(out.read_text())
    assert sorted(o["pattern"] for o in doc["objects"] if o["type"] == "indicator") == [
        "[ipv4-addr:value = '198.51.100.99']", "[url:value = 'http://login-northbank.example/it%27s?a=1']"]

    deep = tmp_path / "deep.json"  # 100,000 levels: json.loads raises RecursionError; an error line, no traceback
    deep.write_bytes(b'{"type": "bundle", "objects": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    refused = await asyncio.to_thread(  # the command runs its own event loop: not on this test's
        CliRunner().invoke, app, ["import", str(deep), "--org", "Northbank", "--database", url])
    assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), refused.output
    assert "Traceback" not in refused.output, refused.output
    assert "Error: nothing was imported from deep.json: the JSON is nested too deeply" in refused.output
