"""The console's delivery sink: the demo coalition's channels print what the bot posts in them."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection
from datetime import datetime

from bot.domain import Channel, Identity, Platform, PostedCard
from bot.results import IndicatorCard, Notice
from bot.text import plain, render, tally_text


class ConsoleSink:
    platform = Platform.CONSOLE

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write
        self._ids = itertools.count(1)

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        self.write(f"[#{plain(channel.channel_id)}] {headline}:\n{render(card)}")
        return f"console-{next(self._ids)}"

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        self.write(f"[#{plain(posted.channel_id)}] card {card.indicator.ref} now: {card.status.value}, "
                   f"votes {tally_text(card.tally)}")

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        self.write(f"[to {plain(identity.user_id)}] {render(notice)}")

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        self.write(f"[#{plain(channel.channel_id)}] {text}")
        return f"console-{next(self._ids)}"

    async def find_posted(self, where: Channel | Identity, keys: Collection[str], since: datetime) -> dict[str, str]:
        return {}  # what was printed cannot be read back: the demo's one process reposts after a crash
