"""Hypothesis properties of the two grammars: for any text, `bot.commands.parse` returns a Command or raises
UsageError, and nothing else; the same for `bot.actions.parse` and button ids; and what they accept stays
within the store's limits (`bot.limits`), so no parsed command can make a backend refuse it."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot import actions, commands, limits
from bot.commands import FormError, UsageError
from bot.ioc import Observable, classify, extract
from tests.grammar_strategies import action_ids, command_texts, free_text, reasons

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COMMAND_TYPES = tuple(t for t in (getattr(commands, name) for name in dir(commands))  # every name, loaded
                      if isinstance(t, type) and is_dataclass(t))


def _assert_storable(obj: object, path: str = "command") -> None:
    """Every text in a parsed command is storable text; every number fits a BIGINT; every duration is
    within ten years (so `now + d` and `now - d` never overflow)."""
    if isinstance(obj, str):
        assert limits.text_problem(obj) is None, f"{path} = {obj!r}"
    elif isinstance(obj, bool) or obj is None:
        return
    elif isinstance(obj, int):
        assert -limits.BIGINT_MAX <= obj <= limits.BIGINT_MAX, f"{path} = {obj}"
    elif isinstance(obj, timedelta):
        assert obj <= limits.DURATION_MAX, f"{path} = {obj}"
        now = datetime.now(UTC)
        assert now - obj <= now + obj  # neither overflows
    elif isinstance(obj, Observable):
        assert limits.value_problem(obj.type, obj.value) is None, f"{path} = {obj!r}"
    elif isinstance(obj, tuple):
        for i, item in enumerate(obj):
            _assert_storable(item, f"{path}[{i}]")
    elif is_dataclass(obj):
        for f in fields(obj):
            _assert_storable(getattr(obj, f.name), f"{path}.{f.name}")


@SETTINGS
@given(st.one_of(command_texts(), free_text()))
@example("admin retry ²")
@example("admin retry 12345678901234567890")
@example("submit 1.2.3.4 valid:999999w")
@example("search since:999999w")
@example("admin invite create Northbank expires:999999w")
@example("submit 1.2.3.4 a note with a lone surrogate \ud800")
@example("submit http://evil.example/" + "a" * 2100)
@example("submit http://evil.example/\x00 tlp:green")
@example("admin org add Evil\x00Corp")
def test_any_text_parses_to_a_command_or_a_usage_error(text: str) -> None:
    try:
        cmd = commands.parse(text)
    except UsageError as e:
        assert e.problem  # says what was wrong, and never echoes what no platform can show
        assert limits.text_problem(e.problem) is None, e.problem
        return
    assert isinstance(cmd, COMMAND_TYPES)
    _assert_storable(cmd)


@SETTINGS
@given(st.one_of(action_ids(), free_text()), reasons())
def test_any_button_id_parses_to_an_action_or_a_usage_error(action_id: str, reason: str) -> None:
    try:
        action = actions.parse(action_id)
    except UsageError as e:
        assert e.problem
        return
    assert action.id == action_id  # a press decodes to exactly what was posted
    try:
        cmd = actions.to_command(action, reason)
    except UsageError:
        return
    assert isinstance(cmd, COMMAND_TYPES)
    _assert_storable(cmd)


@settings(max_examples=200, deadline=None)
@given(free_text(), free_text(), free_text(), free_text(), free_text(), free_text())
def test_any_form_gives_a_submit_or_errors_by_field(values, tlp, confidence, tags, note, valid) -> None:
    try:
        cmd = commands.submit_from_form(values=values, tlp=tlp, confidence=confidence, tags=tags, note=note,
                                        valid=valid)
    except FormError as e:
        assert e.errors and set(e.errors) <= {"values", "tlp", "confidence", "tags", "note", "valid"}
        return
    _assert_storable(cmd)


@settings(max_examples=300, deadline=None)
@given(st.one_of(free_text(), command_texts()))
def test_the_ioc_engine_never_hands_out_a_value_the_store_cannot_keep(text: str) -> None:
    rejected: list = []
    for obs in extract(text, rejected=rejected):
        assert limits.value_problem(obs.type, obs.value) is None
    for obs, problem in rejected:
        assert problem == limits.value_problem(obs.type, obs.value)
    for token in text.split():
        obs = classify(token)
        assert obs is None or limits.value_problem(obs.type, obs.value) is None
