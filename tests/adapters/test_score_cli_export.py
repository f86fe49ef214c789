"""`coalition-bot export` carries each indicator's score (the CSV's score column, STIX x_coalition_score) and
`--min-score N` keeps those scoring at least N: in-process through the typer app, on a migrated SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from adapters.cli import app
from bot.domain import Role, Status
from storage.uow import Store
from tests.stix_helpers import assert_valid_bundle
from tests.storage.storage_helpers import new_indicator


async def test_export_carries_the_score_and_filters_by_it(sqlite_store: Store, sqlite_url: str,
                                                          tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with sqlite_store.unit_of_work() as uow:
        org = await uow.organizations.add("Northbank", "finance", 70)
        alice = await uow.members.add(org.id, "alice", Role.MEMBER)
        for value, confidence in (("high.example", 80), ("low.example", 40)):  # scores 40 and 20
            ind = await uow.indicators.add(new_indicator(alice, value, confidence=confidence, seen_at=now))
            await uow.indicators.transition(ind.id, [Status.PENDING], Status.APPROVED, "", now)
        await uow.commit()
    await sqlite_store.close()
    url = sqlite_url.replace("sqlite://", "sqlite+aiosqlite://", 1)

    def export(*args: str) -> str:
        result = CliRunner().invoke(app, ["export", *args, "--database", url])
        assert result.exit_code == 0, result.output
        return result.stdout

    rows = list(csv.DictReader(io.StringIO(await asyncio.to_thread(export, "--format", "csv"))))
    assert {r["value"]: r["score"] for r in rows} == {"high.example": "40", "low.example": "20"}
    out = tmp_path / "scored.json"
    await asyncio.to_thread(export, "--min-score", "30", "-o", str(out))
    doc = assert_valid_bundle(out.read_text())
    assert [(o["name"], o["confidence"], o["x_coalition_score"]) for o in doc["objects"]
            if o["type"] == "indicator"] == [("domain: high.example", 80, 40)]
    assert any(o["type"] == "extension-definition" and o["extension_properties"] == ["x_coalition_score"]
               for o in doc["objects"])
    refused = await asyncio.to_thread(CliRunner().invoke, app, ["export", "--min-score", "101", "--database", url])
    assert refused.exit_code == 2 and "--min-score" in refused.output
