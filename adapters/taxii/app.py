"""TAXII 2.1 over aiohttp.web: discovery, one API root, two collections, objects, manifest, versions, status.

* `coalition-indicators` (read): the approved indicators the key's organization may see (bot.rules: CLEAR,
  GREEN, AMBER, its own AMBER+STRICT; never RED), with their opinions (votes) and sightings, and their context as
  the exports carry it (issue 13): the `malware` families they name with their `indicates` relationships, their
  comments as `note`s, and the cases the organization may see as `grouping`s over them; never an object, a
  reference or a count of what it may not see (bot.exchange.feed_page); a revoked indicator comes again as its
  `revoked` version. date_added is an indicator's approval time (its last status change; a revoked one's
  revocation) and its relationship's, a vote's last change, a sighting's time, a comment's time (each
  or its indicator's, when later), a family's first visible indicator's, a grouping's latest visible change (an
  indicator it may see added, approved, edited, revoked or removed; left with none, it comes again over its
  author's identity). Paging is a keyset on (date_added, kind, id); `next` is that key,
  opaque (base64url).
* `coalition-submissions` (write): POST an envelope; its indicators become pending submissions of the key's
  organization (as `/ioc import`), and the response is a TAXII status resource.

Every request needs an organization's API key: `Authorization: Bearer KEY`, or HTTP Basic with the key as the
password. Keys are looked up by SHA-256 and compared in constant time; unknown or revoked keys get 401.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from adapters.config import TaxiiSettings
from adapters.taxii import feeds, misp_feed
from adapters.taxii.auth import bearer
from bot import exchange, limits, services
from bot.commands import UsageError
from bot.dispatcher import Dispatcher
from bot.domain import ApiKey, Platform
from bot.ports import FeedKey, StoreUnavailable, UnitOfWorkFactory
from bot.rules import organization_visibility
from bot.stix import STIX_MEDIA_TYPE, ImportFormatError, parse_timestamp, timestamp
from bot.stix.importer import loads

log = logging.getLogger(__name__)

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
FEED_KINDS = frozenset({exchange.FEED_SUPPORTING, *exchange.FEED_KINDS.values()})  # the kinds a cursor may hold
INLINE_PARSE = 256 * 1024  # bodies up to this size are parsed on the event loop (a millisecond or so)
_KEY = web.RequestKey("api_key", ApiKey)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), status=status,
                        headers={"Content-Type": TAXII_MEDIA_TYPE, **(headers or {})})


def _version(obj: dict[str, Any]) -> str:
    """An object's version: `modified`, or `created` for the objects that have no modified (marking-definition)."""
    return obj.get("modified") or obj["created"]


def taxii_error(status: int, title: str, description: str = "") -> web.Response:
    body: dict[str, Any] = {"title": title, "http_status": str(status)}
    if description:
        body["description"] = description
    headers = {"WWW-Authenticate": 'Bearer realm="taxii", Basic realm="taxii"'} if status == 401 else None
    return _json(body, status, headers)


def encode_cursor(key: FeedKey) -> str:
    raw = f"{timestamp_us(key[0])}|{key[1]}|{key[2]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> FeedKey:
    """The key a `next` cursor stands for; ValueError for anything this server cannot have given (a kind that
    is not one of the feed's, a row id outside the store's 64-bit ids, a date out of range, any garbage), so
    that a forged cursor is a 400, never a database error."""
    try:
        if len(text) > 200:
            raise ValueError
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        date, kind, row_id = raw.split("|")
        if not (kind.lstrip("-").isdigit() and row_id.isdigit() and len(row_id) <= 19):
            raise ValueError
        key = parse_timestamp(date), int(kind), int(row_id)
        if key[1] not in FEED_KINDS or not 0 <= key[2] <= limits.BIGINT_MAX:
            raise ValueError
        return key
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise ValueError("next is not a cursor this server gave") from None


def timestamp_us(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")[:26] + "Z"


class TaxiiServer:
    def __init__(self, uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings) -> None:
        self.uow_factory = uow_factory
        self.dispatcher = dispatcher
        self.settings = settings
        base = "/" + settings.base_path.strip("/") + "/"
        self.discovery_path = base
        self.root_path = f"/{settings.api_root.strip('/')}/"
        self.statuses: dict[str, dict[str, Any]] = {}  # POST results, kept in memory for GET status
        read, write = settings.indicators_collection, settings.submissions_collection
        self.collections: dict[str, dict[str, Any]] = {
            read: {"id": read, "title": "Coalition indicators", "alias": "coalition-indicators",
                   "description": "Approved indicators your organization may see, with their opinions, sightings, "
                                  "malware families, comments (notes) and cases (groupings)",
                   "can_read": True, "can_write": False, "media_types": [STIX_MEDIA_TYPE]},
        }
        if settings.submissions_enabled:
            self.collections[write] = {
                "id": write, "title": "Coalition submissions", "alias": "coalition-submissions",
                "description": "POST indicators here: they become pending submissions of your organization",
                "can_read": False, "can_write": True, "media_types": [STIX_MEDIA_TYPE]}
        self.aliases = {c["alias"]: cid for cid, c in self.collections.items()}

    # ------------------------------------------------------------ middleware

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith((feeds.PREFIX, misp_feed.PREFIX)):  # blocklists, MISP feed: their own checks
            return await handler(request)
        try:
            key = bearer(request)
            async with self.uow_factory(read_only=True) as uow:
                api_key = await exchange.authenticate(uow, key) if key else None
            if api_key is None:
                return taxii_error(401, "Unauthorized", "give an organization's API key as a Bearer token (or as "
                                   "the password of HTTP Basic); this one is missing, unknown or revoked")
            accept = request.headers.get("Accept", "*/*")
            if request.method == "GET" and not any(a in accept for a in ("application/taxii+json", "*/*",
                                                                          "application/*", "application/json")):
                return taxii_error(406, "Not Acceptable", f"accept {TAXII_MEDIA_TYPE}")
            request[_KEY] = api_key
            return await handler(request)
        except web.HTTPException as e:
            return taxii_error(e.status, e.reason, e.text or "")
        except StoreUnavailable as e:  # a database outage: 503 and one line, not a 500 with a traceback
            log.warning("TAXII request %s %s: the store is unavailable (%s)", request.method, request.path, e.reason)
            return taxii_error(503, "Service Unavailable",
                               "the coalition's store is unavailable right now; try again in a minute")
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("TAXII request %s %s failed (ref %s)", request.method, request.path, ref)
            return taxii_error(500, "Internal Server Error", f"reference {ref}")

    # ------------------------------------------------------------ resources

    async def discovery(self, request: web.Request) -> web.Response:
        root = str(request.url.with_path(self.root_path).with_query(None))
        return _json({"title": self.settings.title, "description": "Indicators of compromise shared by the coalition",
                      "default": root, "api_roots": [root]})

    async def api_root(self, request: web.Request) -> web.Response:
        return _json({"title": self.settings.title, "versions": [TAXII_MEDIA_TYPE],
                      "max_content_length": self.settings.max_content_length})

    async def collections_list(self, request: web.Request) -> web.Response:
        return _json({"collections": list(self.collections.values())})

    def _collection(self, request: web.Request) -> dict[str, Any]:
        cid = request.match_info["collection"]
        found = self.collections.get(self.aliases.get(cid, cid))
        if found is None:
            raise web.HTTPNotFound(reason="Collection Not Found", text=f"there is no collection {cid[:80]}")
        return found

    async def collection(self, request: web.Request) -> web.Response:
        return _json(self._collection(request))

    def _readable(self, request: web.Request) -> dict[str, Any]:
        found = self._collection(request)
        if not found["can_read"]:
            raise web.HTTPForbidden(reason="Forbidden", text="this collection is write-only")
        return found

    async def _page(self, request: web.Request, object_id: str | None = None,
                    ) -> tuple[list[tuple[FeedKey, dict[str, Any]]], bool, FeedKey | None]:
        q = request.query
        try:
            limit = min(int(q.get("limit", self.settings.page_size)), self.settings.page_size)
            if limit < 1:
                raise ValueError
        except ValueError:
            raise web.HTTPBadRequest(reason="Bad Request", text="limit is a positive whole number") from None
        try:
            added_after = parse_timestamp(q["added_after"]) if q.get("added_after") else None
        except (ValueError, OverflowError):
            raise web.HTTPBadRequest(reason="Bad Request", text="added_after is a timestamp such as "
                                     "2026-11-01T00:00:00.000Z") from None
        try:
            cursor = decode_cursor(q["next"]) if q.get("next") else None
        except ValueError as e:
            raise web.HTTPBadRequest(reason="Bad Request", text=f"next: {e}; give back the `next` of the previous "
                                     "page, or leave it out to start from the beginning") from None
        types = [t.strip() for v in q.getall("match[type]", []) for t in v.split(",") if t.strip()]
        ids = [i.strip() for v in q.getall("match[id]", []) for i in v.split(",") if i.strip()]
        if object_id is not None:
            ids = [object_id]
        view = organization_visibility(request[_KEY].org_id)
        async with self.uow_factory(read_only=True) as uow:
            objects, more, last = await exchange.feed_page(uow, view, cursor=cursor, added_after=added_after,
                                                           types=types, stix_ids=ids, limit=limit)
        versions = [v.strip() for v in q.getall("match[version]", []) for v in v.split(",") if v.strip()]
        if versions and not {"all", "last", "first"} & set(versions):
            wanted = set()
            for v in versions:
                try:
                    wanted.add(timestamp(parse_timestamp(v)))
                except (ValueError, OverflowError):
                    raise web.HTTPBadRequest(reason="Bad Request", text=f"match[version] {v[:40]!r}") from None
            objects = [(k, o) for k, o in objects if _version(o) in wanted]
        return objects, more, last

    @staticmethod
    def _date_headers(objects: list[tuple[FeedKey, dict[str, Any]]]) -> dict[str, str]:
        if not objects:
            return {}
        return {"X-TAXII-Date-Added-First": timestamp_us(objects[0][0][0]),
                "X-TAXII-Date-Added-Last": timestamp_us(objects[-1][0][0])}

    async def _paged(self, request: web.Request,
                     entry: Callable[[FeedKey, dict[str, Any]], dict[str, Any]]) -> web.Response:
        """One page of the collection: `more`, the opaque `next` cursor, each object as `entry` shows it."""
        self._readable(request)
        objects, more, last = await self._page(request)
        body: dict[str, Any] = {"more": more}
        if more and last is not None:
            body["next"] = encode_cursor(last)
        if objects:
            body["objects"] = [entry(k, o) for k, o in objects]
        return _json(body, headers=self._date_headers(objects))

    async def objects(self, request: web.Request) -> web.Response:
        return await self._paged(request, lambda _, o: o)

    async def manifest(self, request: web.Request) -> web.Response:
        return await self._paged(request, lambda k, o: {"id": o["id"], "date_added": timestamp_us(k[0]),
                                                        "version": _version(o), "media_type": STIX_MEDIA_TYPE})

    async def object(self, request: web.Request) -> web.Response:
        self._readable(request)
        objects, _, _ = await self._page(request, request.match_info["object"])
        if not objects:
            raise web.HTTPNotFound(reason="Object Not Found", text="no such object in this collection for you")
        return _json({"more": False, "objects": [o for _, o in objects]}, headers=self._date_headers(objects))

    async def versions(self, request: web.Request) -> web.Response:
        self._readable(request)
        objects, _, _ = await self._page(request, request.match_info["object"])
        if not objects:
            raise web.HTTPNotFound(reason="Object Not Found", text="no such object in this collection for you")
        return _json({"more": False, "versions": [_version(o) for _, o in objects]},
                     headers=self._date_headers(objects))

    async def add_objects(self, request: web.Request) -> web.Response:
        found = self._collection(request)
        if not found["can_write"]:
            raise web.HTTPForbidden(reason="Forbidden", text="this collection is read-only")
        if "taxii+json" not in request.headers.get("Content-Type", "") and \
                "json" not in request.headers.get("Content-Type", ""):
            raise web.HTTPUnsupportedMediaType(reason="Unsupported Media Type", text=f"send {TAXII_MEDIA_TYPE}")
        received = datetime.now(UTC)
        body = await request.read()
        try:  # a big body is parsed in a worker thread: the event loop keeps serving everyone else meanwhile
            envelope = await asyncio.to_thread(loads, body) if len(body) > INLINE_PARSE else loads(body)
        except ImportFormatError as e:  # also a JSON nested too deeply (RecursionError): a 400, not a 500
            raise web.HTTPBadRequest(reason="Bad Request", text=str(e)) from None
        objects = envelope.get("objects") if isinstance(envelope, dict) else None
        if not isinstance(objects, list):
            raise web.HTTPBadRequest(reason="Bad Request", text="an envelope with an 'objects' list is expected")
        key: ApiKey = request[_KEY]
        d = self.dispatcher
        try:
            report = await services.import_as_organization(
                self.uow_factory, org_id=key.org_id, member_name=f"TAXII {key.name or key.prefix}"[:100],
                platform=Platform.TAXII, filename=f"taxii-{key.prefix}", now=d.clock(), policy=d.policy,
                warninglists=d.warninglists, delivery_platforms=d.delivery_platforms, objects=objects)
        except UsageError as e:
            raise web.HTTPBadRequest(reason="Bad Request", text=e.problem) from None
        skipped = sum(n for _, n in report.skipped)
        accepted = report.created_count + report.known_count
        status = {
            "id": str(uuid.uuid4()), "status": "complete", "request_timestamp": timestamp_us(received),
            "total_count": report.objects, "success_count": report.objects - skipped, "successes": [],
            "failure_count": skipped, "failures": [], "pending_count": 0, "pendings": [],
            "x_coalition_report": {"submitted": report.created_count, "known": accepted - report.created_count,
                                   "skipped": [{"reason": r, "count": n} for r, n in report.skipped],
                                   "read_as_red": report.read_as_red, "notes": list(report.notes),
                                   **({"stopped": report.stopped} if report.stopped else {})},
        }
        self.statuses[status["id"]] = status
        if len(self.statuses) > 10_000:
            self.statuses.pop(next(iter(self.statuses)))
        return _json(status, status=202)

    async def status(self, request: web.Request) -> web.Response:
        found = self.statuses.get(request.match_info["status"])
        if found is None:
            raise web.HTTPNotFound(reason="Status Not Found", text="unknown status id")
        return _json(found)


def create_app(uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings) -> web.Application:
    server = TaxiiServer(uow_factory, dispatcher, settings)
    app = web.Application(middlewares=[server.middleware], client_max_size=settings.max_content_length)
    root = server.root_path
    coll = root + "collections/{collection}/"
    app.router.add_get(server.discovery_path, server.discovery)
    app.router.add_get(root, server.api_root)
    app.router.add_get(root + "collections/", server.collections_list)
    app.router.add_get(coll, server.collection)
    app.router.add_get(coll + "objects/", server.objects)
    app.router.add_post(coll + "objects/", server.add_objects)
    app.router.add_get(coll + "objects/{object}/", server.object)
    app.router.add_get(coll + "objects/{object}/versions/", server.versions)
    app.router.add_get(coll + "manifest/", server.manifest)
    app.router.add_get(root + "status/{status}/", server.status)
    if settings.feeds_enabled:
        app.router.add_get(feeds.PREFIX + "{name}", feeds.FeedServer(uow_factory, dispatcher, settings).handle)
        app.router.add_get(misp_feed.PREFIX + "{name}",
                           misp_feed.MispFeedServer(uow_factory, dispatcher, settings).handle)
    return app


async def serve(uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings) -> web.AppRunner:
    """Start the server on settings.host:port; the caller awaits forever and then `runner.cleanup()`."""
    runner = web.AppRunner(create_app(uow_factory, dispatcher, settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    log.info("TAXII 2.1 server on http://%s:%s%s", settings.host, settings.port, settings.base_path)
    return runner


class TaxiiService:
    """The TAXII server as a `coalition-bot run` service (adapters.runtime.Service)."""

    name = "taxii"

    def __init__(self, uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings) -> None:
        self.uow_factory, self.dispatcher, self.settings = uow_factory, dispatcher, settings
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = await serve(self.uow_factory, self.dispatcher, self.settings)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def create_service(runtime: Any) -> TaxiiService:
    return TaxiiService(runtime.store.unit_of_work, runtime.dispatcher, runtime.settings.taxii)
