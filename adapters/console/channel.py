"""The console channel: a conversation with the bot in a terminal, or a script on standard input.

Lines starting with `/ioc` go to the dispatcher; `/as NAME` switches who is speaking (console identities
are the names), `/in CHANNEL` moves the conversation to a shared channel (TLP ceilings apply there),
`/dm` back to a private conversation, `/quit` leaves. Replies are rendered with `bot.text.render`, with
control characters removed from every user-supplied string.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.delivery import Deliverer
from bot.dispatcher import Dispatcher
from bot.domain import Actor, Platform, StatsTrends
from bot.results import StatsResult
from bot.text import plain, render

WORKSPACE = "local"
DIRECT = "direct"

CONSOLE_HELP = """Console commands:
  /ioc VERB ...   talk to the bot (/ioc help lists the verbs)
  /as NAME        speak as NAME (in the demo: alice, bob, carol, mod, admin)
  /in CHANNEL     speak in a shared channel (its TLP ceiling applies); /dm for a private conversation
  /quit           leave"""


class ConsoleChannel:
    def __init__(self, dispatcher: Dispatcher, write: Callable[[str], None], speaker: str = "",
                 deliverer: Deliverer | None = None, charts: Path | None = None) -> None:
        self.dispatcher = dispatcher
        self.write = write
        self.speaker = speaker
        self.channel = DIRECT
        self.deliverer = deliverer
        self.charts = charts  # where `/ioc stats` pictures are written (None: text only)

    @property
    def prompt(self) -> str:
        where = "" if self.channel == DIRECT else f" in #{self.channel}"
        return f"{self.speaker or 'nobody'}{where}> "

    def actor(self) -> Actor:
        return Actor(Platform.CONSOLE, WORKSPACE, self.speaker, self.channel, private=self.channel == DIRECT,
                     display_name=self.speaker)

    async def line(self, text: str) -> bool:
        """Handle one line; False when the conversation should end."""
        text = text.strip()
        if not text or text.startswith("#!"):
            return True
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in {"/quit", "/exit"}:
            return False
        if word == "/as":
            name = rest.strip()
            if not name or " " in name:
                self.write("Usage: /as NAME (one word)")
            else:
                self.speaker = plain(name)
                self.write(f"(now speaking as {self.speaker})")
        elif word == "/in":
            name = rest.strip().lstrip("#")
            if not name or " " in name:
                self.write("Usage: /in CHANNEL (one word), or /dm for a private conversation")
            else:
                self.channel = plain(name)
                self.write(f"(now in #{self.channel})")
        elif word == "/dm":
            self.channel = DIRECT
            self.write("(now in a private conversation with the bot)")
        elif word == "/help":
            self.write(CONSOLE_HELP)
        elif word == "/ioc":
            if not self.speaker:
                self.write("Say who you are first: /as NAME")
            else:
                answer = await self.dispatcher.handle_text(rest, self.actor())
                private_in_channel = answer.private and self.channel != DIRECT
                self.write(("(only you see this) " if private_in_channel else "") + render(answer.result))
                if isinstance(answer.result, StatsResult) and answer.result.trends and self.charts is not None:
                    self.write(f"Chart: {await write_chart(answer.result.trends, self.charts)}")
                if self.deliverer is not None:  # what the bot posts in the demo's channels, right after
                    await self.deliverer.drain()
        else:
            self.write("Commands start with /ioc (try /ioc help); /help lists the console's own commands.")
        return True


async def write_chart(trends: StatsTrends, directory: Path) -> Path:
    """The stats picture (adapters.charts), drawn off the event loop, as a new PNG file in `directory`."""
    from adapters.charts import stats_png

    def draw() -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"coalition-stats-{datetime.now(UTC):%Y%m%d-%H%M%S-%f}.png"
        path.write_bytes(stats_png(trends))
        return path

    return await asyncio.to_thread(draw)


async def run_script(channel: ConsoleChannel, stdin: TextIO) -> None:
    """Standard input is not a terminal: one message a line, each echoed before its replies."""
    for raw in stdin:
        text = raw.rstrip("\n")
        if text.strip():
            channel.write(f"{channel.prompt}{plain(text)}")
        if not await channel.line(text):
            break


async def run_interactive(channel: ConsoleChannel) -> None:
    channel.write(CONSOLE_HELP)
    while True:
        try:
            text = await asyncio.to_thread(input, channel.prompt)
        except EOFError:
            break
        if not await channel.line(text):
            break
