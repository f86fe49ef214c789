"""`[score]` in coalition.toml (and the environment) -> Policy -> bot.score.ScoreModel; bad values explained."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from adapters.config import load_settings, unknown_settings
from bot.ioc import IOCType
from bot.score import LIFETIMES_DAYS, ScoreModel


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for key in list(os.environ):
        if key.startswith("COALITION_"):
            monkeypatch.delenv(key)


def test_the_score_section_reaches_the_policy_and_the_environment_wins(tmp_path, monkeypatch):
    config = tmp_path / "coalition.toml"
    config.write_text('[score]\nlifetimes = { IPv4 = 30, domain = 200 }\ndecay_speed = 1\nthreshold = 25\n'
                      'expire_below = 10\n')
    monkeypatch.setenv("COALITION_SCORE_EXPIRE_BELOW", "15")
    settings = load_settings(config)
    policy = settings.policy.to_policy(settings.score)
    model = policy.score_model
    assert model.lifetimes_days == {**LIFETIMES_DAYS, IOCType.IPV4: 30.0, IOCType.DOMAIN: 200.0}
    assert (model.decay_speed, model.threshold, policy.score_expire_below) == (1.0, 25.0, 15.0)
    monkeypatch.setenv("COALITION_SCORE_LIFETIMES", '{"sha256": 90}')
    assert load_settings(config).policy.to_policy(load_settings(config).score).score_model.lifetimes_days[
        IOCType.SHA256] == 90


def test_by_default_the_score_is_opencti_s_and_nothing_expires_by_score(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no coalition.toml here
    settings = load_settings()
    policy = settings.policy.to_policy(settings.score)
    assert policy.score_model == ScoreModel() and policy.score_expire_below is None
    assert settings.policy.to_policy().score_model == ScoreModel()


@pytest.mark.parametrize(("text", "problem"), [
    ("lifetimes = { ipv5 = 30 }", "'ipv5' is not a type"),
    ("lifetimes = { ipv4 = 0 }", "ipv4 lives 0 < days <= 36500"),
    ("decay_speed = 0", "decay_speed"),
    ("expire_below = 101", "expire_below"),
])
def test_bad_score_settings_are_refused_with_what_is_wrong(tmp_path, text, problem):
    config = tmp_path / "coalition.toml"
    config.write_text(f"[score]\n{text}\n")
    with pytest.raises(ValidationError, match=problem):
        load_settings(config)


def test_a_misspelt_score_key_names_the_right_one():
    assert unknown_settings({"score": {"expire_bellow": 10}}, {}) == [
        "[score] expire_bellow is not a setting; did you mean expire_below?"]
