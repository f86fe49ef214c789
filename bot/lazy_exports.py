"""A package's names looked up in their modules on first use (PEP 562): importing the package, or one of its
names, loads only the module that name lives in: for the packages whose modules a command may not need
(bot.commands, bot.services, bot.ioc, storage)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, namespace: dict[str, Any], home: Mapping[str, str],
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The package's `__getattr__` and `__dir__`: `home` maps each exported name to the module holding it, and a
    name once loaded is kept in the package's `namespace` (its globals), so it is looked up once."""

    def __getattr__(name: str) -> Any:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        __import__(home[name])  # not importlib.import_module: `python -X importtime` sees this one
        value = namespace[name] = getattr(sys.modules[home[name]], name)
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *home})

    return __getattr__, __dir__
