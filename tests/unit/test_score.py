"""bot.score: the score as a table of cases, its decay over simulated time, and its explanation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ioc import IOCType
from bot.score import ScoreInputs, ScoreModel, compute, decay, explain

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


CASES = [  # (what, inputs, when, score, trend)
    ("confidence alone, fresh", ScoreInputs(IOCType.IPV4, 80, T0), days(0), 40, "→"),
    ("no confidence", ScoreInputs(IOCType.IPV4, 0, T0), days(0), 0, "→"),
    ("three trusted confirmations", ScoreInputs(IOCType.DOMAIN, 100, T0, (100, 100, 100), last_confirmed=T0),
     days(0), 74, "↑"),
    ("confirmations are capped at +30", ScoreInputs(IOCType.DOMAIN, 100, T0, (100,) * 6, last_confirmed=T0),
     days(0), 80, "↑"),
    ("confirmations weigh as the organizations' trust", ScoreInputs(IOCType.DOMAIN, 100, T0, (50, 50)), days(0),
     58, "→"),
    ("sightings count, capped at +12", ScoreInputs(IOCType.URL, 60, T0, sighting_orgs=5, last_sighted=T0),
     days(0), 42, "↑"),
    ("a false positive pulls it down", ScoreInputs(IOCType.URL, 60, T0, false_positive_trust=(100,)), days(0),
     18, "→"),
    ("never below 0", ScoreInputs(IOCType.URL, 10, T0, false_positive_trust=(100, 100)), days(0), 0, "→"),
    ("an IP 21 days after its last sighting keeps 80%",
     ScoreInputs(IOCType.IPV4, 100, T0, sighting_orgs=1, last_sighted=T0), days(21), 43, "↓"),
    ("an IP at the end of its 47 days is worth nothing", ScoreInputs(IOCType.IPV4, 100, T0), days(47), 0, "↓"),
    ("and stays so", ScoreInputs(IOCType.IPV4, 100, T0), days(60), 0, "→"),
    ("a hash lives 460 days: at half, slowly", ScoreInputs(IOCType.SHA256, 100, T0), days(230), 38, "→"),
    ("a domain at 150 of its 300 days", ScoreInputs(IOCType.DOMAIN, 100, T0), days(150), 38, "↓"),
    ("a new sighting resets the clock", ScoreInputs(IOCType.IPV4, 100, T0, sighting_orgs=1, last_sighted=days(40)),
     days(41), 54, "↑"),
]


@pytest.mark.parametrize(("inputs", "now", "value", "trend"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_the_score_table(inputs: ScoreInputs, now: datetime, value: int, trend: str) -> None:
    score = compute(inputs, now)
    assert (score.value, score.trend) == (value, trend), explain(score)


def test_the_explanation_says_every_step_in_plain_words() -> None:
    inputs = ScoreInputs(IOCType.IPV4, 100, T0, (75, 75, 75), (50,), 1, last_sighted=days(1))
    score = compute(inputs, days(22))
    assert explain(score) == (
        "base 50 from confidence 100; +18 for confirmations by 3 organizations; +4 for sightings by 1 organization; "
        "-6 for one false-positive vote; ×0.80 for 21 days since the last sighting or confirmation (a ipv4 lives "
        "47 days); reaches 20 on 2026-12-11: score 53.")


def test_a_decay_that_rounds_to_nothing_is_not_a_step() -> None:
    inputs = ScoreInputs(IOCType.IPV4, 80, T0)
    assert explain(compute(inputs, T0 + timedelta(hours=2))) == ("base 40 from confidence 80; reaches 20 on "
                                                                  "2026-12-04: score 40.")
    assert "×0.99 for 4 days since it was submitted" in explain(compute(inputs, days(4)))


def test_reaches_the_threshold_on_the_day_it_says() -> None:
    inputs = ScoreInputs(IOCType.URL, 90, T0, (100,), last_confirmed=T0)
    score = compute(inputs, T0)
    assert score.reaches_threshold is not None
    before = compute(inputs, score.reaches_threshold - timedelta(hours=12))
    after = compute(inputs, score.reaches_threshold + timedelta(hours=12))
    assert before.value >= 20 >= after.value
    assert compute(ScoreInputs(IOCType.URL, 30, T0), T0).reaches_threshold is None  # 15: under it already


def test_lifetimes_and_speed_are_configurable_per_type() -> None:
    model = ScoreModel(lifetimes_days={IOCType.IPV4: 7}, decay_speed=1.0)
    assert compute(ScoreInputs(IOCType.IPV4, 100, T0), days(3.5), model).value == 25  # linear, half-way
    assert compute(ScoreInputs(IOCType.IPV4, 100, T0), days(7), model).value == 0


@given(st.sampled_from(list(IOCType)), st.floats(0, 2000), st.floats(0, 2000))
def test_decay_never_rises_with_age_and_stays_within_0_and_1(kind: IOCType, a: float, b: float) -> None:
    young, old = sorted((a, b))
    model = ScoreModel()
    assert 0 <= decay(kind, timedelta(days=old), model) <= decay(kind, timedelta(days=young), model) <= 1


@given(st.integers(0, 100), st.lists(st.integers(0, 100), max_size=8), st.lists(st.integers(0, 100), max_size=8),
       st.integers(0, 20), st.floats(0, 500))
def test_a_score_is_always_between_0_and_100(confidence: int, confirms: list[int], fps: list[int], sightings: int,
                                             age: float) -> None:
    inputs = ScoreInputs(IOCType.DOMAIN, confidence, T0, tuple(confirms), tuple(fps), sightings)
    assert 0 <= compute(inputs, days(age)).value <= 100


@pytest.mark.parametrize("min_score", range(0, 101))
def test_the_confidence_floor_is_the_least_confidence_that_can_reach_a_score(min_score: int) -> None:
    """search min_score leaves out in the store what scores under N whatever its evidence: under the floor nothing
    reaches N (with every bonus, no decay), and the floor is tight."""
    from bot.score import confidence_floor

    floor = confidence_floor(min_score)

    def best(confidence: int) -> int:  # every bonus at its cap, scored at the moment of the latest confirmation
        return compute(ScoreInputs(IOCType.DOMAIN, confidence, days(0), confirming_trust=(100,) * 5,
                                   sighting_orgs=4, last_confirmed=days(1), last_sighted=days(1)), days(1)).value

    if floor < 100:  # tight: at most one point of confidence too low (a half point of score rounds to even)
        assert best(floor + 1) >= min_score
    if 0 < floor <= 101:
        assert best(floor - 1) < min_score
    if floor > 100:
        assert best(100) < min_score
    assert min_score == 0 or confidence_floor(min_score - 1) <= floor
