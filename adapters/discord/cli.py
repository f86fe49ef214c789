"""`coalition-bot discord sync [--guild ID]` and `coalition-bot discord invite-url`.

Commands are registered explicitly (never a global sync on every start): `sync` overwrites the bot's
commands in the given guilds (immediate), or globally when no guild is given or configured (Discord takes up
to an hour to show global changes); each line it prints says which. One bot in many servers: register globally,
so that every server the bot is added to, now or later, has the commands. discord.py is imported inside the
commands only.
"""

# Annotations evaluated where they are written (see adapters/cli.py).

from pathlib import Path
from typing import Annotated

import typer

discord_app = typer.Typer(no_args_is_help=True, help="Discord: register the slash commands, invite the bot.")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file (default ./coalition.toml, "
                                                   "or $COALITION_CONFIG)")]


@discord_app.command("sync")
def sync(
    guild: Annotated[list[int] | None, typer.Option("--guild", help="Guild id (repeatable); default "
                                                    "discord.guild_ids, else global")] = None,
    config: ConfigOption = None,
) -> None:
    """Register (overwrite) the /ioc commands and the *Submit indicators* menu with Discord."""
    import asyncio

    from adapters.cli import _settings

    settings = _settings(config)
    cfg = settings.discord
    if cfg.token is None or cfg.application_id is None:
        typer.echo("Cannot sync: discord.token and discord.application_id must be set.", err=True)
        raise typer.Exit(2)
    guilds = list(guild or cfg.guild_ids)
    for line in asyncio.run(sync_commands(settings, guilds)):
        typer.echo(line)


async def sync_commands(settings, guilds: list[int]) -> list[str]:
    import discord

    from bot.dispatcher import Dispatcher

    from .client import CoalitionClient

    class _NoStore:
        def __call__(self, *, read_only: bool = False):  # never used: sync does not run commands
            raise RuntimeError("no store while syncing")

    client = CoalitionClient(settings.discord, Dispatcher(_NoStore()), _NoStore())
    lines = []
    try:
        await client.login(settings.discord.token.get_secret_value())
        for guild_id in guilds or [None]:
            target = discord.Object(guild_id) if guild_id else None
            if target is not None:
                client.tree.copy_global_to(guild=target)
            synced = await client.tree.sync(guild=target)
            where = (f"in guild {guild_id} (there only, at once)" if guild_id
                     else "globally, for every server the bot is in or joins (may take up to an hour to appear)")
            lines.append(f"Registered {len(synced)} commands {where}: " + ", ".join(c.name for c in synced))
    finally:
        await client.close()
    return lines


def invite_link(application_id: int) -> str:
    import discord

    from .client import permissions

    return discord.utils.oauth_url(application_id, permissions=permissions(),
                                   scopes=("bot", "applications.commands"))


@discord_app.command("invite-url")
def invite_url(config: ConfigOption = None) -> None:
    """Print the link that adds the bot to a server, with exactly the scopes and permissions it needs."""
    from adapters.cli import _settings

    settings = _settings(config, quiet=True)
    if settings.discord.application_id is None:
        typer.echo("Set discord.application_id (the Developer Portal's Application ID) first.", err=True)
        raise typer.Exit(2)
    typer.echo(invite_link(settings.discord.application_id))
