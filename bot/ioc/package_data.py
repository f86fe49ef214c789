"""Where an installed package's data files are, found without importing the package: the warninglists and the
Public Suffix List are only read (importing pymispwarninglists loads jsonschema: over a second; importlib.resources
costs ~7 ms of a command line's start-up)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
