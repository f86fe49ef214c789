"""Blocklists over HTTP (issue 14): `GET /feeds/NAME` on the TAXII server's address, per organization's API key.

* The key: `Authorization: Bearer KEY` (or HTTP Basic with the key as the password); `?key=KEY` only where the
  operator enabled `taxii.feed_key_in_query` for devices that cannot send a header (a key in a URL ends up in
  logs and proxies). An unknown or revoked key is 401, as for TAXII.
* Revalidation: every answer carries an `ETag` and a `Last-Modified`; `If-None-Match` (or, without it,
  `If-Modified-Since`) that still holds is answered 304 with no body, so a device polling every minute fetches
  nothing while nothing changed.
* The body is streamed in batches of rows in id order (each batch its own short read), each formatted
  (bot.blocklists) and written as one chunk: memory holds one batch however long the list.
* `min_score=N`: every batch is scored (bot.score, as exports are), SCORED items a statement, so every item of
  the list is considered, however old; the batch sizes are the server's parameters (`FeedServer(batch=,
  scored=)`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from aiohttp import web

from adapters.config import TaxiiSettings
from adapters.taxii.auth import KeyedEndpoint, text_response
from bot import blocklists, exchange
from bot.dispatcher import Dispatcher
from bot.ports import UnitOfWork, UnitOfWorkFactory
from bot.rules import organization_visibility
from bot.score import ScoreModel, scores_of

log = logging.getLogger(__name__)

SCORED = 1_000  # items scored at a time for min_score=
BATCH = 50_000  # rows read, formatted and written out at a time: each its own short read (a few MB at most)
PREFIX = "/feeds/"


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


class FeedServer(KeyedEndpoint):
    what = "feed"

    def __init__(self, uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings, *,
                 batch: int = BATCH, scored: int = SCORED) -> None:
        super().__init__(uow_factory, dispatcher, settings)
        self.batch, self.scored = batch, scored

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        blocklist = blocklists.LISTS.get(request.match_info["name"])
        if blocklist is None:
            return text_response(404, f"No such list. The lists: {', '.join(blocklists.LISTS)}.")
        if "key" in request.query and not self.settings.feed_key_in_query:
            return text_response(400, "A key in the URL is not accepted here (it would end up in logs): send it as "
                                 "Authorization: Bearer KEY, or ask the operator to enable taxii.feed_key_in_query.")
        key = self._key(request)
        async with self.uow_factory(read_only=True) as uow:
            api_key = await exchange.authenticate(uow, key) if key else None
            if api_key is None:
                return text_response(401, "Give an organization's API key: Authorization: Bearer KEY.",
                                     {"WWW-Authenticate": 'Bearer realm="feeds"'})
            now = self.dispatcher.clock()
            try:
                flt = blocklists.parse_filter(blocklist, dict(request.query), now)
                min_score = blocklists.parse_min_score(dict(request.query))
            except blocklists.FilterError as e:
                return text_response(400, str(e))
            view = organization_visibility(api_key.org_id)
            version = await uow.blocklists.version(view, now)
            org = await uow.organizations.get(api_key.org_id)
            tag = blocklists.etag(api_key.org_id, blocklist, flt, version, now, min_score)
            latest = version[0]
            headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
            if latest is not None:
                headers["Last-Modified"] = _http_date(latest)
            if _not_modified(request, tag, latest):
                return web.Response(status=304, headers=headers)
        response = web.StreamResponse(headers={**headers, "Content-Type": blocklist.media_type})
        await response.prepare(request)
        await response.write(blocklists.head(blocklist, org.name if org else "", latest, now).encode())
        after = 0
        while True:  # each batch its own short read: a slow device holds no connection while it reads
            async with self.uow_factory(read_only=True) as uow:
                rows = await uow.blocklists.batch(flt, view, now, after, self.batch)
                kept = await scoring_at_least(uow, rows, now, self.dispatcher.policy.score_model, min_score,
                                              self.scored) if rows and min_score is not None else None
            if not rows:
                break
            last = rows[-1][0]
            if kept is not None:  # scored as every export is (bot.score), a batch at a time
                rows = [r for r in rows if r[0] in kept]
            chunk = blocklists.text(blocklist, rows)
            if chunk:
                await response.write(chunk)
            after = last
        await response.write_eof()
        return response


async def scoring_at_least(uow: UnitOfWork, rows: Sequence[tuple[int, str, str, int]], now: datetime,
                           model: ScoreModel, min_score: int, scored: int = SCORED) -> set[int]:
    """The ids of these rows whose score is at least `min_score` (read back as indicators, `scored` a statement)."""
    found: set[int] = set()
    for start in range(0, len(rows), scored):
        indicators = await uow.exchange.indicators_by_ids([r[0] for r in rows[start:start + scored]])
        found |= {i for i, score in (await scores_of(uow, indicators, now, model)).items()
                  if score >= min_score}
    return found


def _not_modified(request: web.Request, tag: str, latest: datetime | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:  # it wins over If-Modified-Since (RFC 9110 13.1.3)
        return any(t.strip() in (tag, "*", "W/" + tag) for t in if_none_match.split(","))
    since = request.headers.get("If-Modified-Since")
    if since and latest is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        return latest.replace(microsecond=0) <= when
    return False


__all__ = ["PREFIX", "FeedServer"]
