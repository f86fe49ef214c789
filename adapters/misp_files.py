"""MISP feed folders on disk, for `coalition-bot export --format misp-feed --output DIR` and `coalition-bot import
DIR` (the feed itself is made and read in bot.misp)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from pathlib import Path

from bot import exchange
from bot.domain import ExportFilter, Visibility
from bot.misp.feed import MispFeed, build_feed
from bot.ports import UnitOfWork

_EVENT_FILE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class FeedFolderError(ValueError):
    """A folder that is not a MISP feed; str() says what is wrong and how to give one."""


async def export_feed(uow: UnitOfWork, view: Visibility, flt: ExportFilter, output: Path, *, now: datetime,
                      progress: exchange.Progress) -> exchange.ExportStats:
    """Write the feed of what `view` may see into the folder `output` (made if missing): manifest.json,
    hashes.csv and one <uuid>.json per event. An event file of an earlier export that the manifest no longer
    lists is left alone (MISP reads only what the manifest lists)."""
    feed = await build_feed(uow, view, flt, now=now, progress=progress)
    await asyncio.to_thread(write_feed, feed, output)
    return exchange.ExportStats(indicators=feed.attributes, objects=len(feed.events) + feed.attributes
                                + feed.sightings)


def write_feed(feed: MispFeed, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for name, body in feed.files():
        part = output / (name + ".part")
        part.write_bytes(body)
        part.replace(output / name)  # a MISP instance fetching meanwhile never reads half a file


def read_feed_folder(folder: Path, limit: int = exchange.MAX_IMPORT_BYTES) -> bytes:
    """The events a feed folder's manifest.json lists, as one JSON list (the MISP reader's input)."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise FeedFolderError(f"{folder.name} is a folder without manifest.json: give a MISP feed folder "
                              "(manifest.json and its <uuid>.json events), or a file")
    try:
        manifest = json.loads(manifest_path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FeedFolderError(f"{folder.name}/manifest.json is not JSON: {e}") from None
    if not isinstance(manifest, dict) or not all(isinstance(k, str) and _EVENT_FILE.match(k) for k in manifest):
        raise FeedFolderError(f"{folder.name}/manifest.json is not a MISP feed manifest (event uuid -> event)")
    parts: list[bytes] = []
    size = 2
    for event_id in manifest:
        path = folder / f"{event_id}.json"
        if not path.is_file():
            raise FeedFolderError(f"{folder.name}/manifest.json lists {event_id}, but {event_id}.json is missing")
        size += path.stat().st_size + 1
        if size > limit:
            raise FeedFolderError(f"the events of {folder.name} are larger than {limit // 2**20} MB together; "
                                  "import them a file at a time")
        parts.append(path.read_bytes())
    return b"[" + b",".join(parts) + b"]"
