"""`coalition-bot taxii pull`: subscribe to another TAXII 2.1 server's collection (another coalition, a vendor, a
national CERT) and submit what it adds, as an organization of this coalition.

Each pull asks for the objects added after the last `date_added` it read from that (server, collection) (TAXII
`added_after`; the server says it in `X-TAXII-Date-Added-Last`, remembered in the store), pages through them with
`next`, adds the author identities they reference (read once from the collection when a page lacks them), and
imports them through `bot.services.import_as_organization`, the path of every import: moderation, warninglists,
TLP from the markings, and the same object twice is one indicator (by its STIX id, then by value).

The server is read with the OASIS client (taxii2-client, synchronous: run in a worker thread). A server that is
down, a refused key or a broken answer is one line (`PullError`), never a traceback; the key is never logged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import Collection

from bot import exchange, services
from bot.commands import UsageError
from bot.domain import Platform
from bot.policy import Policy
from bot.ports import UnitOfWorkFactory
from bot.results import ImportReport
from bot.services import Matcher
from bot.stix import parse_timestamp

PAGE = 1000  # objects asked per request (a server may give fewer)
MAX_PAGES = 10_000  # a server that keeps saying `more` is stopped here (what was read is imported)
TIMEOUT = (10, 60)  # seconds: connecting, and waiting for each answer
AUTHORED = frozenset({"indicator", "vulnerability"})


class PullError(Exception):
    """A pull that could not read the server (down, key refused, not TAXII 2.1): str() is one line to show."""


@dataclass
class Fetched:
    objects: list[dict[str, Any]]
    last_added: str | None  # the latest date_added the server reported for the objects asked (not identities)
    pages: int


@dataclass
class PullResult:
    url: str  # as shown (no user information)
    collection: str
    since: str | None
    fetched: int
    last_added: str | None
    report: ImportReport | None  # None: nothing new


class _BearerAuth(requests.auth.AuthBase):
    """`Authorization: Bearer KEY`, and the `X-TAXII-Date-Added-Last` of each successful answer seen."""

    def __init__(self, key: str) -> None:
        self._key = key
        self.last_added: str | None = None

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._key:
            request.headers["Authorization"] = f"Bearer {self._key}"
        request.register_hook("response", self._answered)
        return request

    def _answered(self, response: requests.Response, **_: Any) -> requests.Response:
        last = response.headers.get("X-TAXII-Date-Added-Last")
        if response.ok and last and len(last) <= 40:
            try:
                if self.last_added is None or parse_timestamp(last) > parse_timestamp(self.last_added):
                    self.last_added = last
            except (ValueError, OverflowError):
                pass  # not a timestamp: not remembered (the next pull asks from the last good one)
        return response

    def __repr__(self) -> str:  # never the key
        return "_BearerAuth(<key>)"


class _TimeoutAdapter(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = TIMEOUT
        return super().send(request, **kwargs)


def shown_url(url: str) -> str:
    """The server's URL without user information (a password or key in it is never shown or stored)."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def collection_url(url: str, collection: str) -> str:
    """URL is the API root (http://host/api/); a collection's own URL is taken as it is."""
    base = url.strip()
    if "/collections/" in base:
        return base if base.endswith("/") else base + "/"
    return base.rstrip("/") + f"/collections/{collection}/"


def _collection(url: str, collection: str, auth: _BearerAuth) -> Collection:
    found = Collection(collection_url(url, collection), auth=auth)
    session = found._conn.session  # the client sets no timeout of its own: a hung server would hang the pull
    session.mount("http://", _TimeoutAdapter())
    session.mount("https://", _TimeoutAdapter())
    return found


def _pages(coll: Collection, progress: exchange.Progress = exchange.no_progress,
           **filters: Any) -> tuple[list[dict[str, Any]], int]:
    objects: list[dict[str, Any]] = []
    cursor = None
    for page in range(1, MAX_PAGES + 1):
        envelope = coll.get_objects(limit=PAGE, next=cursor, **filters)
        if not isinstance(envelope, dict):
            raise PullError("the server's answer is not a TAXII envelope")
        got = envelope.get("objects") or []
        if not isinstance(got, list):
            raise PullError("the server's envelope has no list of objects")
        objects += [o for o in got if isinstance(o, dict)]
        progress("objects fetched", len(objects), None)
        cursor = envelope.get("next")
        if not envelope.get("more") or not isinstance(cursor, str) or not cursor:
            return objects, page
    return objects, MAX_PAGES


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def fetch(url: str, collection: str, key: str, added_after: str | None,
          progress: exchange.Progress = exchange.no_progress) -> Fetched:
    """Everything the collection added after `added_after` (all of it when None), with the identities its
    indicators name as authors and the malware families their `indicates` relationships name. Blocking (HTTP):
    run it in a worker thread. Raises PullError. `progress` is told the objects fetched after each page (from that
    thread)."""
    host = urlsplit(url).hostname or ""
    if key and urlsplit(url).scheme != "https" and host not in LOCAL_HOSTS:
        raise PullError(f"the key is not sent over plain {urlsplit(url).scheme}:// to {host}: use the server's "
                        "https:// address (plain http only to this machine)")
    auth = _BearerAuth(key)
    try:
        coll = _collection(url, collection, auth)
        objects, pages = _pages(coll, progress, added_after=added_after)
        last_added = auth.last_added
        named = {o["id"] for o in objects if o.get("type") == "identity" and isinstance(o.get("id"), str)}
        authors = {ref for o in objects if o.get("type") in AUTHORED
                   and isinstance(ref := o.get("created_by_ref"), str) and ref not in named}
        if authors:  # named in an earlier pull's pages: the identities are read again (a few objects)
            identities, more = _pages(coll, type="identity")
            objects += [o for o in identities if o.get("id") in authors]
            pages += more
        families = {o["id"] for o in objects if o.get("type") == "malware" and isinstance(o.get("id"), str)}
        indicated = {ref for o in objects if o.get("type") == "relationship"
                     and o.get("relationship_type") == "indicates" and isinstance(ref := o.get("target_ref"), str)
                     and ref.startswith("malware--") and ref not in families}
        if indicated:  # a family the collection added in an earlier pull (it comes with its first indicator)
            found, more = _pages(coll, type="malware")
            objects += [o for o in found if o.get("id") in indicated]
            pages += more
        return Fetched(objects, last_added, pages)
    except requests.exceptions.HTTPError as e:
        code = e.response.status_code if e.response is not None else 0
        if code in (401, 403):
            raise PullError(f"the server refused the key (HTTP {code}): give an API key of that server with --key "
                            "or COALITION_TAXII_PULL_KEY") from None
        if code == 404:
            raise PullError(f"no collection {collection[:80]} there (HTTP 404): URL is the server's API root "
                            "(such as https://host/api/), --collection a collection id or alias") from None
        raise PullError(f"the server answered HTTP {code or '?'}") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        raise PullError("the server cannot be reached (down, or a wrong host or port)") from None
    except requests.exceptions.RequestException as e:
        raise PullError(f"the request failed: {type(e).__name__}") from None
    except TAXIIServiceException as e:
        raise PullError(f"not a TAXII 2.1 answer: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}") \
            from None
    except (ValueError, KeyError, TypeError) as e:  # a malformed collection resource
        raise PullError(f"the server's answer is malformed ({type(e).__name__})") from None


async def pull_once(uow_factory: UnitOfWorkFactory, *, url: str, collection: str, key: str, org_name: str,
                    now: datetime, policy: Policy, warninglists: Matcher | None = None,
                    delivery_platforms: tuple[Platform, ...] = (),
                    progress: exchange.Progress = exchange.no_progress) -> PullResult:
    """One pull: what was added since the last one, imported as submissions of `org_name`; the point reached is
    remembered only once the import is stored (a failed import is asked for again next time). Raises PullError
    (the server) or UsageError (nothing imported: an unknown organization, a refused file)."""
    shown = shown_url(url)
    state_key = shown[:500]
    async with uow_factory(read_only=True) as uow:
        if await uow.organizations.by_name(org_name) is None:
            raise UsageError(f"there is no organization named '{org_name}' (see `/ioc admin org list`)", "import")
        since = await uow.exchange.pull_state(state_key, collection[:200])
    fetched = await asyncio.to_thread(fetch, url, collection, key, since, progress)
    result = PullResult(shown, collection, since, len(fetched.objects), fetched.last_added, None)
    if fetched.objects:
        host = urlsplit(shown).hostname or "server"
        result.report = await services.import_as_organization(
            uow_factory, org_name=org_name, member_name=f"TAXII pull {host}"[:100], platform=Platform.TAXII,
            filename=f"taxii pull {host} {collection}"[:200], now=now, policy=policy, warninglists=warninglists,
            delivery_platforms=delivery_platforms, objects=fetched.objects, progress=progress)
    stopped = result.report is not None and bool(result.report.stopped)  # the rest is asked for again
    if fetched.last_added and fetched.last_added != since and not stopped:
        async with uow_factory() as uow:
            await uow.exchange.save_pull_state(state_key, collection[:200], fetched.last_added, now)
            await uow.commit()
    return result
