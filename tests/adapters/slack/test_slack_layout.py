"""Layout of the adapters (issue 11): the runtime and the adapters share one contract (adapters.contract) and
neither imports the other when it is imported; the Slack adapter is organised by surface."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADAPTERS = Path(__file__).resolve().parents[3] / "adapters"
COMPOSITION_ROOT = {"runtime.py", "cli.py"}  # the command line builds the runtime: it may import it


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_imports(path: Path) -> set[str]:
    """The modules a file imports when it is imported: top level, and under `if`/`try` at top level, but not
    under `if TYPE_CHECKING:` nor inside functions."""
    found: set[str] = set()

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If):
                if not _type_checking(node):
                    walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)

    walk(ast.parse(path.read_text()).body)
    return found


def adapter_modules() -> list[Path]:
    return sorted(p for p in ADAPTERS.rglob("*.py") if p.relative_to(ADAPTERS).as_posix() not in COMPOSITION_ROOT)


def test_the_walker_sees_an_import_time_import_and_skips_type_checking(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from adapters.runtime import Runtime\n"
                      "def f():\n    import adapters.runtime\nfrom adapters import runtime\n")
    assert "adapters.runtime" in import_time_imports(module)  # `from adapters import runtime`
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from adapters.runtime import Runtime\n"
                      "def f():\n    import adapters.runtime\n")
    assert "adapters.runtime" not in import_time_imports(module)


@pytest.mark.parametrize("path", adapter_modules(), ids=lambda p: p.relative_to(ADAPTERS).as_posix())
def test_no_adapter_module_imports_the_runtime_when_imported(path: Path) -> None:
    assert "adapters.runtime" not in import_time_imports(path), \
        f"{path.name} imports adapters.runtime: import adapters.contract (AdapterRuntime, Service) instead"


def test_the_runtime_and_the_adapters_share_one_contract() -> None:
    import adapters.runtime as runtime
    from adapters import contract

    assert runtime.Service is contract.Service
    assert "adapters.contract" in import_time_imports(ADAPTERS / "runtime.py")
    for adapter in ("slack/service.py", "discord/service.py"):
        assert "adapters.contract" in import_time_imports(ADAPTERS / adapter), adapter


def test_the_slack_app_is_organised_by_surface() -> None:
    from adapters.slack import actions, app, commands, events, installation, views

    bot_class = app.SlackBot
    owners = {name: cls.__module__.rsplit(".", 1)[1] for cls in reversed(bot_class.__mro__)
              for name in vars(cls) if name.startswith("on_")}
    assert owners == {"on_command": "commands", "on_action": "actions", "on_share_shortcut": "actions",
                      "on_message_shortcut": "actions", "on_submit": "views", "on_reason": "views",
                      "on_reaction_added": "events", "on_reaction_removed": "events", "on_message": "events",
                      "on_home_opened": "events", "on_file_shared": "events", "on_channel_shared": "events",
                      "on_channel_unshared": "events", "on_uninstalled": "installation"}
    assert {commands, actions, views, events, installation}  # imported as modules of their own
    assert len((ADAPTERS / "slack" / "app.py").read_text().splitlines()) < 150, "app.py only builds and registers"
