"""One coalition across platforms: Slack and Discord adapters in one `coalition-bot run` process, against the
local fakes of both, over one store. What an analyst does on one platform shows on the other."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from adapters.console.demo import seed
from bot.dispatcher import Dispatcher
from bot.domain import Channel, ChannelPurpose, Identity, Platform
from bot.tlp import TLP
from storage.migrate import upgrade
from storage.uow import create_store
from tests.adapters.discord.fake_discord import APPLICATION_ID, FakeDiscord
from tests.adapters.slack.fake_slack import MockSlack, all_text
from tests.adapters.slack.slack_world import SECRET, TOKEN, SlackWorld, link_slack_identities
from tests.e2e.processes import stop_gracefully

GUILD, D_FEED, D_MOD = 720000000000000001, 720000000000000011, 720000000000000012
D_USERS = {"alice": 820000000000000001, "bob": 820000000000000002, "mod": 820000000000000003}
EXE = str(Path(sys.executable).with_name("coalition-bot"))


class Remote:
    """The Slack side of the running process: where its HTTP endpoint listens."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def settle(self) -> None:  # the process is elsewhere: tests wait on what the fakes record instead
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _prepare(url: str) -> None:
    await upgrade(url)
    store = create_store(url)
    try:
        await seed(store, Dispatcher(store.unit_of_work), samples=False)
        await link_slack_identities(store)
        async with store.unit_of_work() as uow:
            for name, user_id in D_USERS.items():
                member = (await uow.members.by_name(name))[0]
                await uow.members.link_identity(member.id, Identity(Platform.DISCORD, "discord", str(user_id)))
            for channel_id, purpose in ((D_FEED, ChannelPurpose.FEED), (D_MOD, ChannelPurpose.MODERATION)):
                await uow.channels.upsert(Channel(Platform.DISCORD, "discord", str(channel_id), TLP.AMBER, purpose))
            await uow.channels.upsert(Channel(Platform.SLACK, "T0COAL", "CGREENFEED", TLP.GREEN, ChannelPurpose.FEED))
            await uow.commit()
    finally:
        await store.close()


@pytest.fixture
async def coalition(tmp_path):
    url = f"sqlite:///{tmp_path / 'coalition.db'}"
    await _prepare(url)
    slack, discord = MockSlack(), FakeDiscord()
    await slack.start()
    await discord.start()
    discord.add_guild(GUILD, channels=[D_FEED, D_MOD],
                      members=[discord.user(uid, name) for name, uid in D_USERS.items()])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALITION_")}
    env.update({
        "COALITION_DATABASE_URL": url, "COALITION_WARNINGLISTS_ENABLED": "false", "COALITION_OPS_ENABLED": "false",
        "COALITION_DELIVERY_POLL_SECONDS": "0.2", "COALITION_LOGGING_LEVEL": "WARNING",
        "COALITION_SLACK_ENABLED": "true", "COALITION_SLACK_MODE": "http", "COALITION_SLACK_BOT_TOKEN": TOKEN,
        "COALITION_SLACK_SIGNING_SECRET": SECRET, "COALITION_SLACK_API_URL": slack.api_url,
        "COALITION_SLACK_HTTP_HOST": "127.0.0.1", "COALITION_SLACK_HTTP_PORT": str(port),
        "COALITION_DISCORD_ENABLED": "true", "COALITION_DISCORD_TOKEN": "fake",
        "COALITION_DISCORD_APPLICATION_ID": str(APPLICATION_ID), "COALITION_DISCORD_API_URL": discord.api_url,
        "COALITION_DISCORD_GATEWAY_URL": discord.gateway_url,
    })
    process = await asyncio.create_subprocess_exec(EXE, "run", env=env, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    http = aiohttp.ClientSession()
    try:
        await discord.wait_ready(timeout=60)
        world = SlackWorld(slack, Remote(f"http://127.0.0.1:{port}/slack/events"), None, http)  # type: ignore[arg-type]
        yield world, discord
        assert process.returncode is None, "the bot process died during the test"
    finally:
        await http.close()
        code = await stop_gracefully(process)
        await discord.stop()
        await slack.stop()
    assert code == 0, (await process.stderr.read()).decode()[-3000:]  # a graceful stop


def _discord_user(discord: FakeDiscord, name: str) -> dict:
    return discord.user(D_USERS[name], name)


async def _discord_command(discord: FakeDiscord, name: str, sub: str, options: dict) -> None:
    mark = len(discord.calls)
    payload = discord.slash("ioc", sub, options, user=_discord_user(discord, name), guild_id=GUILD,
                            channel_id=D_MOD)
    await discord.dispatch("INTERACTION_CREATE", payload)
    await discord.wait_for_call("POST", rf"/interactions/{payload['id']}/[^/]+/callback", after=mark, timeout=10)


async def test_approve_on_discord_posts_to_the_slack_feed(coalition):
    slack, discord = coalition
    status, _, _ = await slack.command("alice", "submit hxxp://cross-platform[.]example/x tlp:green")
    assert status == 200
    # the new submission reaches the moderation channels of both platforms
    await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CMOD", timeout=15)
    await discord.wait_for_call("POST", rf"/channels/{D_MOD}/messages", timeout=15)
    await _discord_command(discord, "mod", "approve", {"indicators": "#1"})
    feed = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CFEED", timeout=15)
    assert "cross-platform.example" in all_text(feed[0].body) and "approved" in all_text(feed[0].body).lower()
    green = await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CGREENFEED", timeout=15)
    assert "cross-platform.example" in all_text(green[0].body)


async def test_a_vote_on_slack_edits_the_card_on_discord(coalition):
    slack, discord = coalition
    await slack.command("alice", "submit vote-across[.]example tlp:green")
    await discord.wait_for_call("POST", rf"/channels/{D_MOD}/messages", timeout=15)
    (card_id,) = discord.messages[D_MOD]  # the moderation card the bot posted on Discord
    mark = len(discord.calls)
    await slack.command("bob", "vote #1 confirm")
    edit = await discord.wait_for_call("PATCH", rf"/channels/{D_MOD}/messages/{card_id}", after=mark, timeout=15)
    votes = [f["value"] for e in edit.json["embeds"] for f in e.get("fields", []) if f["name"] == "Votes"]
    assert votes == ["1 confirm (1 org), 0 false positive (0 orgs)"]


async def test_an_amber_item_never_reaches_a_green_channel(coalition):
    slack, discord = coalition
    await slack.command("alice", "submit amber-only[.]example tlp:amber")
    await discord.wait_for_call("POST", rf"/channels/{D_MOD}/messages", timeout=15)  # it is stored
    await _discord_command(discord, "mod", "approve", {"indicators": "#1"})
    await slack.mock.wait_for("chat.postMessage", where=lambda c: c["channel"] == "CFEED", timeout=15)
    await discord.wait_for_call("POST", rf"/channels/{D_FEED}/messages", timeout=15)
    await asyncio.sleep(1.0)  # let every delivery of the approval finish
    assert slack.mock.posts("CGREENFEED") == []
