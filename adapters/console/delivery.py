"""The console's delivery sink: the demo coalition's channels print what the bot posts in them."""

from __future__ import annotations

import itertools
import re
import tempfile
from collections.abc import Callable, Collection
from datetime import datetime
from pathlib import Path

from bot.delivery import ThreadComment
from bot.domain import Channel, Identity, Platform, PostedCard, PostedCaseCard
from bot.results import CaseCard, IndicatorCard, Notice
from bot.text import plain, render, tally_text


class ConsoleSink:
    platform = Platform.CONSOLE

    def __init__(self, write: Callable[[str], None], files: Path | None = None) -> None:
        self.write = write
        self.files = files or Path(tempfile.gettempdir()) / "coalition-bot-charts"  # where posted files go
        self._ids = itertools.count(1)

    async def post_card(self, channel: Channel, card: IndicatorCard, *, headline: str, key: str) -> str:
        self.write(f"[#{plain(channel.channel_id)}] {headline}:\n{render(card)}")
        return f"console-{next(self._ids)}"

    async def update_card(self, posted: PostedCard, card: IndicatorCard) -> None:
        self.write(f"[#{plain(posted.channel_id)}] card {card.indicator.ref} now: {card.status.value}, "
                   f"votes {tally_text(card.tally)}")

    async def post_comment(self, posted: PostedCard, comment: ThreadComment, *, key: str) -> str:
        self.write(f"[thread of {comment.ref} in #{plain(posted.channel_id)}] {plain(comment.author)}: "
                   f"{plain(comment.text)}")
        return f"console-{next(self._ids)}"

    async def post_case_card(self, channel: Channel, card: CaseCard, *, key: str) -> str:
        self.write(f"[#{plain(channel.channel_id)}] {render(card)}")
        return f"console-{next(self._ids)}"

    async def update_case_card(self, posted: PostedCaseCard, card: CaseCard) -> None:
        counts = ", ".join(f"{n} {status}" for status, n in card.by_status) or "no indicators"
        refs = " ".join(c.indicator.ref for c in card.cards)
        self.write(f"[#{plain(posted.channel_id)}] case {plain(card.case.name)} now: {counts}"
                   + (f" ({refs})" if refs else ""))

    async def notify(self, identity: Identity, notice: Notice, *, key: str) -> None:
        self.write(f"[to {plain(identity.user_id)}] {render(notice)}")

    async def post_text(self, channel: Channel, text: str, *, key: str) -> str:
        self.write(f"[#{plain(channel.channel_id)}] {text}")
        return f"console-{next(self._ids)}"

    async def post_file(self, channel: Channel, filename: str, data: bytes, text: str, *, key: str) -> str:
        """The file is written under `files` (one per channel) and its path printed with the text."""
        self.files.mkdir(parents=True, exist_ok=True)
        path = self.files / re.sub(r"[^\w.-]", "_", f"{channel.channel_id}-{filename}")
        path.write_bytes(data)
        lines = "\n".join(plain(line) for line in text.splitlines())  # tags and names are members' words
        self.write(f"[#{plain(channel.channel_id)}] {lines}\n(chart: {path})")
        return f"console-{next(self._ids)}"

    async def find_posted(self, where: Channel | Identity | PostedCard, keys: Collection[str],
                          since: datetime) -> dict[str, str]:
        return {}  # what was printed cannot be read back: the demo's one process reposts after a crash
