"""Exactly once, even after `kill -9`: whole `coalition-bot run` processes with the Slack and Discord adapters
deliver 500 approved cards to a feed channel on each platform and 500 DM notices to the submitter, while
processes are killed at 7 random points of the progress (each time one process, in the middle of a claimed batch)
and once all three at the same time while the fake Discord holds the answer to a post it stored (posted, never
recorded); successors take over; on SQLite and PostgreSQL.

Each platform must then show every card and every notice exactly once per delivery key, although after every kill
hundreds of newer messages pile up in each channel before the killed process's rows are retried (see
tests/e2e/crash_world.py). bench/crash.py runs the same with more cards and more kills.

(Each process start costs about two CPU seconds of imports on this 2-core machine: the count of kills, not the
cards, sets the test's time; 20 random kills of 1,000 cards took 35 s + 23 s, and proved nothing more.)"""

from __future__ import annotations

import os

import pytest

from tests.e2e.crash_world import crash_run

SEED = int(os.environ.get("COALITION_CRASH_SEED", "0")) or None  # set it to replay one run's kill points


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


async def test_killed_processes_neither_lose_nor_repeat_a_card_or_notice(url, tmp_path):
    outcome = await crash_run(url, tmp_path, cards=500, kills=8, processes=3, lease=5.0, seed=SEED,
                              limit=600.0, mid_post=True)
    print(outcome.summary(), outcome.timeline)
    assert outcome.killed_mid_post == 3 and outcome.kills == 7 + 3
    assert outcome.problems() == [], outcome.summary()
