"""bot.limits: the store's limits as small pure checks, the API the grammar, the forms, the admin verbs and the
STIX importer share."""

from datetime import timedelta

import pytest

from bot import limits
from bot.ioc import IOCType
from bot.limits import LimitError


@pytest.mark.parametrize("text, fragment", [
    ("a\x00b", "a NUL character (U+0000)"),
    ("a\ud800b", "a lone surrogate (U+D800"),
    ("a\udfff", "a lone surrogate (U+DFFF"),
    ("\x1b[2J", "a control character (U+001B)"),
    ("del\x7f", "a control character (U+007F)"),
])
def test_what_no_backend_can_store_is_named(text, fragment):
    problem = limits.text_problem(text)
    assert problem is not None and fragment in problem and problem.endswith("remove it")
    with pytest.raises(LimitError) as e:
        limits.check_text("note", text, 100)
    assert e.value.field == "note" and str(e.value).startswith("note: contains")


def test_line_breaks_are_text_in_notes_but_not_in_names():
    assert limits.text_problem("line one\nline two\ttab\r\n") is None
    assert limits.check_text("note", "a\nb", 10) == "a\nb"
    assert "a line break or tab" in limits.text_problem("a\nb", multiline=False)
    with pytest.raises(LimitError, match="the organization name: contains a line break"):
        limits.check_text("the organization name", "Bank\nof X", 100, multiline=False)
    assert limits.text_problem("émoji 😀 and 日本 and \u202e are text") is None  # proper pairs are one character


def test_lengths_are_refused_not_cut():
    assert limits.check_text("note", "x" * 2000, limits.NOTE_MAX) == "x" * 2000
    with pytest.raises(LimitError) as e:
        limits.check_text("note", "x" * 2001, limits.NOTE_MAX)
    assert str(e.value) == "note: at most 2,000 characters (this one has 2,001); shorten it"


def test_values_have_their_types_limits():
    assert limits.value_problem(IOCType.URL, "http://e.example/" + "a" * (2048 - 17)) is None
    assert limits.value_problem("url", "http://e.example/" + "a" * 2032) == (
        "a url has at most 2,048 characters (this one has 2,049)")
    assert limits.value_problem(IOCType.DOMAIN, "a" * 251 + ".ex") == (
        "a domain has at most 253 characters (this one has 254)")
    assert "NUL" in limits.value_problem(IOCType.URL, "http://e.example/\x00")
    assert limits.value_problem("some-new-type", "x" * 2048) is None  # an unknown type: the column's limit
    assert limits.value_problem("some-new-type", "x" * 2049) is not None
    assert limits.check_value(IOCType.MD5, "d41d8cd98f00b204e9800998ecf8427e")
    with pytest.raises(LimitError):
        limits.check_value(IOCType.EMAIL, "a" * 250 + "@e.example")


def test_numbers_and_durations_are_bounded():
    assert limits.check_int("id", limits.BIGINT_MAX, 1, limits.ID_MAX) == 2**63 - 1
    with pytest.raises(LimitError, match="id: takes a whole number from 1 to 9,223,372,036,854,775,807"):
        limits.check_int("id", 2**63, 1, limits.ID_MAX)
    assert limits.check_duration("valid", timedelta(days=3650)) == timedelta(days=3650)
    for bad in (timedelta(days=3651), timedelta(0), timedelta(seconds=59), timedelta(days=-1)):
        with pytest.raises(LimitError, match="valid: takes a duration from 1m to 3650d"):
            limits.check_duration("valid", bad)


def test_storable_keeps_what_it_can_of_a_text_we_did_not_ask_for():
    assert limits.storable("Ali\x00ce\ud800 \n", 100) == "Alice"
    assert limits.storable("x" * 300, limits.MEMBER_NAME_MAX) == "x" * 100
    assert limits.storable("\x00\x01", 10) == ""
