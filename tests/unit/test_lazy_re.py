"""`bot.lazy_re.compiled_on_use` answers as `re.compile` does, and compiles only when first used."""

from __future__ import annotations

import re

import pytest

from bot.lazy_re import _CompiledOnUse, compiled_on_use

PATTERN = r"(?P<host>[a-z]+)\[\.\](?P<tld>[a-z]{2,})"
TEXT = "seen evil[.]com and bad[.]net, not x.y"


def _answers(p: re.Pattern[str]) -> list[object]:
    """What each method and attribute of a pattern gives, in comparable form."""
    return [
        p.search(TEXT).span(), p.match(TEXT), p.match("evil[.]com").groupdict(), p.fullmatch("bad[.]net").group(1),
        [m.span() for m in p.finditer(TEXT)], p.findall(TEXT), p.sub(r"\g<host>.\g<tld>", TEXT),
        p.subn("X", TEXT), p.split(TEXT), p.search(TEXT, 10).span(), p.scanner(TEXT).search().span(),
        dict(p.groupindex), p.groups, p.pattern, p.flags,
    ]


@pytest.mark.parametrize("flags", [0, re.IGNORECASE, re.MULTILINE | re.DOTALL])
def test_it_answers_as_the_compiled_pattern(flags: int) -> None:
    assert _answers(compiled_on_use(PATTERN, flags)) == _answers(re.compile(PATTERN, flags))


def test_it_compiles_on_first_use_once_and_then_calls_the_compiled_methods() -> None:
    lazy = compiled_on_use(PATTERN)
    assert lazy.pattern == PATTERN and "search" not in vars(lazy)  # its text is known without compiling
    assert lazy.sub("X", TEXT) == "seen X and X, not x.y"
    kept = vars(lazy)["search"]
    assert kept.__self__ is re.compile(PATTERN) and lazy.search is kept  # the compiled pattern's own bound method


def test_a_bad_pattern_fails_when_used_with_the_error_re_gives() -> None:
    lazy = compiled_on_use(r"(unclosed")
    with pytest.raises(re.error, match="missing \\)"):
        lazy.search("x")


def test_every_pattern_of_the_extraction_engine_compiles() -> None:
    """A pattern is compiled only when used: each one is compiled here, so that none waits for a rare message."""
    import bot.ioc.extraction
    import bot.ioc.refanging

    found = 0
    for module in (bot.ioc.extraction, bot.ioc.refanging):
        for name, value in vars(module).items():
            for pattern in value if isinstance(value, tuple) else (value,):
                if isinstance(pattern, _CompiledOnUse):
                    assert re.compile(pattern.pattern, pattern.flags).groups == pattern.groups, name
                    found += 1
    assert found >= 40
