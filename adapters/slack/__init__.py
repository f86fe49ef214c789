"""The Slack adapter: slash command `/ioc`, Block Kit indicator cards kept live, buttons, modals, shortcuts,
reactions as votes, passive mode, App Home, file import/export; HTTP mode or Socket Mode.

`coalition-bot run` starts it when `slack.enabled` is set and its credentials are configured
(see the README's Slack section and `slack-manifest.yml`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.contract import AdapterRuntime as Runtime

    from .service import SlackService


def create_service(runtime: Runtime) -> SlackService:
    from .service import SlackService

    return SlackService(runtime)


__all__ = ["create_service"]
