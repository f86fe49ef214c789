"""The MISP feed over HTTP (issue 14): `GET /misp/feed/manifest.json`, `hashes.csv` and `<event uuid>.json` on the
TAXII server's address, per organization's API key, for a MISP instance to add as a feed (source format "MISP
Feed", URL `https://HOST/misp/feed`, the key in the feed's headers: `Authorization: Bearer KEY`).

* What a key's organization may see (bot.rules.organization_visibility: CLEAR, GREEN, AMBER and its own
  AMBER+STRICT; never RED), approved and unexpired, as `bot.misp.feed` builds it.
* Built on request from the store and kept per organization while nothing changed: the blocklists' version
  (approvals, revocations, expiries, edits: a few index seeks) and no vote or sighting after the latest one the
  feed holds (one keyset read of at most one row). MISP asks for the manifest, then every event it lists: one
  build serves them all. Up to CACHE_BYTES of feeds are kept, the most recently asked for.
* Each file answers with an `ETag` (its content's SHA-256); `If-None-Match` that still holds is a 304.
* The key as for the blocklists: `Authorization: Bearer KEY`, HTTP Basic with the key as the password, or
  `?key=` where the operator enabled `taxii.feed_key_in_query`. An unknown or revoked key is 401.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from adapters.config import TaxiiSettings
from adapters.taxii.auth import KeyedEndpoint, text_response
from bot import exchange
from bot.dispatcher import Dispatcher
from bot.domain import ExportFilter, Status, Visibility
from bot.misp.feed import MispFeed, build_feed
from bot.ports import UnitOfWork, UnitOfWorkFactory
from bot.rules import organization_visibility

log = logging.getLogger(__name__)

PREFIX = "/misp/feed/"
CACHE_BYTES = 256 * 2**20  # feeds kept in memory, the most recently asked for first (at least the last built)
_EVENT = re.compile(r"^([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})\.json$")
_APPROVED = ExportFilter(statuses=(Status.APPROVED,))
_ACTS = frozenset({exchange.FEED_OPINION, exchange.FEED_SIGHTING})


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass
class _Built:
    version: tuple[datetime | None, datetime | None, int]
    latest_act: datetime | None
    feed: MispFeed
    etags: dict[str, str] = field(default_factory=dict)
    size: int = 0

    def __post_init__(self) -> None:
        self.size = len(self.feed.manifest) + len(self.feed.hashes) + sum(map(len, self.feed.events.values()))

    def file(self, name: str) -> tuple[bytes, str] | None:
        if name == "manifest.json":
            body = self.feed.manifest
        elif name == "hashes.csv":
            body = self.feed.hashes
        else:
            match = _EVENT.match(name)
            found = self.feed.events.get(match.group(1)) if match else None
            if found is None:
                return None
            body = found
        tag = self.etags.get(name)
        if tag is None:
            tag = self.etags[name] = _etag(body)
        return body, tag


class MispFeedServer(KeyedEndpoint):
    what = "MISP feed"

    def __init__(self, uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings) -> None:
        super().__init__(uow_factory, dispatcher, settings)
        self.built: OrderedDict[int, _Built] = OrderedDict()
        self.locks: dict[int, asyncio.Lock] = {}

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in ("manifest.json", "hashes.csv") and not _EVENT.match(name):
            return text_response(404, "No such file. The feed: manifest.json, hashes.csv and the <uuid>.json events "
                                 "the manifest lists.")
        if "key" in request.query and not self.settings.feed_key_in_query:
            return text_response(400, "A key in the URL is not accepted here (it would end up in logs): send it as "
                                 "Authorization: Bearer KEY (in MISP: the feed's Headers field).")
        key = self._key(request)
        async with self.uow_factory(read_only=True) as uow:
            api_key = await exchange.authenticate(uow, key) if key else None
        if api_key is None:
            return text_response(401, "Give an organization's API key: Authorization: Bearer KEY (in MISP: the feed's "
                                 "Headers field).", {"WWW-Authenticate": 'Bearer realm="misp-feed"'})
        built = await self._feed(api_key.org_id)
        found = built.file(name)
        if found is None:
            return text_response(404, "No such event in your feed (see manifest.json).")
        body, tag = found
        headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
        if any(t.strip() in (tag, "*", "W/" + tag) for t in request.headers.get("If-None-Match", "").split(",")):
            return web.Response(status=304, headers=headers)
        media = "text/csv" if name.endswith(".csv") else "application/json"
        return web.Response(body=body, headers=headers, content_type=media, charset="utf-8")

    async def _feed(self, org_id: int) -> _Built:
        """The organization's feed, built anew only when something it shows may have changed."""
        view = organization_visibility(org_id)
        lock = self.locks.setdefault(org_id, asyncio.Lock())
        async with lock:  # MISP fetches many events at once: one build serves them
            now = self.dispatcher.clock()
            async with self.uow_factory(read_only=True) as uow:
                version = await uow.blocklists.version(view, now)
                built = self.built.get(org_id)
                if built is not None and built.version == version and \
                        not await self._acts_after(uow, view, built.latest_act):
                    self.built.move_to_end(org_id)
                    return built
                feed = await build_feed(uow, view, _APPROVED, now=now)
            built = self.built[org_id] = _Built(version, feed.latest_act, feed)
            self.built.move_to_end(org_id)
            while len(self.built) > 1 and sum(b.size for b in self.built.values()) > CACHE_BYTES:
                self.built.popitem(last=False)
            return built

    @staticmethod
    async def _acts_after(uow: UnitOfWork, view: Visibility, latest: datetime | None) -> bool:
        rows = await uow.exchange.feed_page(view, cursor=None, added_after=latest, kinds=_ACTS, stix_ids=(),
                                            limit=1)
        return bool(rows)


__all__ = ["PREFIX", "MispFeedServer"]
