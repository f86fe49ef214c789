"""Regular expressions compiled on first use.

`re.compile` parses a pattern in pure Python: the extraction engine's ~40 patterns cost ~10 ms of the start-up of
every command that loads it, while a command that only classifies a few values (`import`, a look-up) uses two of
them (issue 15). `compiled_on_use(pattern)` stands in for the compiled pattern: the first use compiles it and
keeps the compiled pattern's bound methods in the stand-in's own attributes, so from then on a call such as
`PATTERN.search(text)` costs what it costs on the compiled pattern.
"""

from __future__ import annotations

import re
from typing import Any, cast

_KEPT = ("search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split", "scanner", "groupindex",
         "groups")


class _CompiledOnUse:
    """A pattern and its flags; compiled when something else than those two is first asked of it."""

    def __init__(self, pattern: str, flags: int) -> None:
        self.pattern = pattern
        self.flags = flags

    def __getattr__(self, name: str) -> Any:  # only for what the instance does not hold yet
        compiled = re.compile(self.pattern, self.flags)
        for kept in _KEPT:
            setattr(self, kept, getattr(compiled, kept))
        self.flags = compiled.flags  # as compiled: re.UNICODE added to a str pattern
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"compiled_on_use({self.pattern!r}, {self.flags})"


def compiled_on_use(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """As `re.compile(pattern, flags)`, compiled when first used; `.pattern` does not compile it."""
    return cast("re.Pattern[str]", _CompiledOnUse(pattern, flags))
