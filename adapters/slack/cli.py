"""`coalition-bot slack install-url` and `coalition-bot slack token-key` (OAuth distribution, issue 11).

Light on purpose: slack_bolt is not imported here, cryptography only inside `token-key`.
"""

# Annotations evaluated where they are written (see adapters/cli.py).

from pathlib import Path
from typing import Annotated

import typer

slack_app = typer.Typer(no_args_is_help=True, help="Slack: the install link of OAuth distribution, a token key.")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML file (default ./coalition.toml, "
                                                   "or $COALITION_CONFIG)")]


@slack_app.command("install-url")
def install_url(config: ConfigOption = None) -> None:
    """Print the link an admin of a member organization opens to install the app in their workspace."""
    from adapters.cli import _settings
    from adapters.slack.installation import install_url as link

    cfg = _settings(config, quiet=True).slack
    if not cfg.oauth:
        typer.echo("Cannot print an install link: slack.client_id is not set (OAuth distribution). With one "
                   "workspace, install the app from its settings page and set slack.bot_token instead.", err=True)
        raise typer.Exit(2)
    try:
        typer.echo(link(cfg))
    except ValueError as e:
        typer.echo(f"Cannot print an install link: {e}.", err=True)
        raise typer.Exit(2) from None


@slack_app.command("token-key")
def token_key() -> None:
    """Print a new Fernet key for COALITION_SLACK_TOKEN_KEY (keep it secret; the stored tokens need it)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())
