"""The Discord adapter (discord.py): slash commands, cards with persistent buttons, reactions as votes,
passive mode, files, and delivery of the outbox to Discord. `coalition-bot run` calls `create_service`.

discord.py is imported only when the adapter is used (`create_service`, the `coalition-bot discord` commands).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.contract import AdapterRuntime as Runtime
    from adapters.contract import Service


def create_service(runtime: Runtime) -> Service:
    from .service import DiscordService

    return DiscordService(runtime)
