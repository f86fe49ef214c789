"""Exactly once, even after `kill -9`: whole `coalition-bot run` processes with the Slack and Discord adapters
deliver 1,000 approved cards to a feed channel on each platform and 1,000 DM notices to the submitter, while
processes are killed at 20 random points of the progress and successors take over; on SQLite and PostgreSQL.

Each platform must then show every card and every notice exactly once per delivery key, although after every kill
hundreds of newer messages pile up in each channel before the killed process's rows are retried (see
tests/e2e/crash_world.py). bench/crash.py runs the same with more cards and more kills."""

from __future__ import annotations

import os

import pytest

from tests.e2e.crash_world import crash_run

SEED = int(os.environ.get("COALITION_CRASH_SEED", "0")) or None  # set it to replay one run's kill points


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


async def test_killed_processes_neither_lose_nor_repeat_a_card_or_notice(url, tmp_path):
    outcome = await crash_run(url, tmp_path, cards=1000, kills=20, processes=3, lease=5.0, seed=SEED,
                              limit=600.0)
    print(outcome.summary(), outcome.timeline)
    assert outcome.kills == 20
    assert outcome.problems() == [], outcome.summary()
