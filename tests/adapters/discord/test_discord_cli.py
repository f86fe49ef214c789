"""`coalition-bot discord invite-url` and `coalition-bot discord sync` (against the fake Discord)."""

from __future__ import annotations

import sys
from urllib.parse import parse_qs, urlparse

import discord
from typer.testing import CliRunner

from adapters.cli import app
from adapters.discord.cli import sync_commands
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.adapters.discord.world import discord_settings


def test_invite_url_asks_for_exactly_what_the_bot_uses(monkeypatch) -> None:
    monkeypatch.setenv("COALITION_DISCORD_APPLICATION_ID", "123456789012345678")
    result = CliRunner().invoke(app, ["discord", "invite-url"])
    assert result.exit_code == 0, result.output
    query = parse_qs(urlparse(result.output.strip()).query)
    assert query["client_id"] == ["123456789012345678"]
    assert query["scope"] == ["bot applications.commands"]
    granted = discord.Permissions(int(query["permissions"][0]))
    assert {name for name, on in granted if on} == {  # read_messages is View Channel
        "read_messages", "send_messages", "send_messages_in_threads", "embed_links", "attach_files",
        "read_message_history", "add_reactions"}


def test_the_cli_does_not_import_discord_py_until_a_discord_command_runs() -> None:
    import subprocess

    code = "import sys, adapters.cli; print('discord' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


async def test_sync_overwrites_the_commands_of_a_guild(fake: FakeDiscord) -> None:
    lines = await sync_commands(discord_settings(fake), [4242])
    put = fake.calls_to("PUT", rf"/applications/{APPLICATION_ID}/guilds/4242/commands")
    assert len(put) == 1 and "Registered 2 commands in guild 4242" in lines[0]
    ioc = next(c for c in put[0].json if c["name"] == "ioc")
    subs = {o["name"]: o for o in ioc["options"]}
    assert {"submit", "lookup", "vote", "approve", "reject", "revoke", "export", "import"} <= set(subs)
    tlp = next(o for o in subs["submit"]["options"] if o["name"] == "tlp")
    assert [c["value"] for c in tlp["choices"]] == ["clear", "green", "amber", "amber+strict", "red"]
    assert any(o.get("autocomplete") for o in subs["vote"]["options"] if o["name"] == "indicator")
    assert any(c["name"] == "Submit indicators" and c["type"] == 3 for c in put[0].json)
    assert not fake.calls_to("PUT", rf"/applications/{APPLICATION_ID}/commands")  # nothing global


async def test_sync_registers_globally_without_guilds_and_in_each_guild_given_saying_which(fake: FakeDiscord) -> None:
    lines = await sync_commands(discord_settings(fake), [])
    assert len(fake.calls_to("PUT", rf"/applications/{APPLICATION_ID}/commands")) == 1
    assert not fake.calls_to("PUT", rf"/applications/{APPLICATION_ID}/guilds/\d+/commands")
    assert len(lines) == 1 and "Registered 2 commands globally" in lines[0]
    mark = len(fake.calls)
    lines = await sync_commands(discord_settings(fake), [4242, 4343])
    assert [c.path for c in fake.calls_to("PUT", r"/applications/\d+(/guilds/\d+)?/commands", after=mark)] == [
        f"/applications/{APPLICATION_ID}/guilds/4242/commands", f"/applications/{APPLICATION_ID}/guilds/4343/commands"]
    assert ["in guild 4242" in lines[0], "in guild 4343" in lines[1]] == [True, True]
