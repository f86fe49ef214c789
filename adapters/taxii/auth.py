"""The API key of a request to the TAXII server or the endpoints beside it (blocklists, MISP feed): `Authorization:
Bearer KEY`, or HTTP Basic with the key as the password; and what those plain endpoints share (KeyedEndpoint)."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from bot.ports import StoreUnavailable

if TYPE_CHECKING:
    from adapters.config import TaxiiSettings
    from bot.dispatcher import Dispatcher
    from bot.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


def bearer(request: web.Request) -> str:
    """The key the request carries, or "" (checked by bot.exchange.authenticate, by SHA-256, in constant time)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def text_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A plain-text answer of the endpoints beside TAXII (a device or a MISP instance reads it as it is)."""
    return web.Response(status=status, text=message + "\n", content_type="text/plain", headers=headers)


class KeyedEndpoint:
    """What the plain HTTP endpoints beside TAXII share (the blocklists, the MISP feed): an organization's key
    from the Authorization header (or `?key=` where the operator allows it), and failures answered in one line:
    the store down is 503 (one log line), anything else 500 with a reference (logged with its traceback)."""

    what = "endpoint"  # in log lines

    def __init__(self, uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, settings: TaxiiSettings) -> None:
        self.uow_factory, self.dispatcher, self.settings = uow_factory, dispatcher, settings

    def _key(self, request: web.Request) -> str:
        key = bearer(request)
        if not key and self.settings.feed_key_in_query:
            key = request.query.get("key", "")
        return key

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except StoreUnavailable as e:
            log.warning("%s %s: the store is unavailable (%s)", self.what, request.path, e.reason)
            return text_response(503, "The coalition's store is unavailable right now; try again in a minute.",
                                 {"Retry-After": "60"})
        except (ConnectionResetError, web.HTTPException):
            raise
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("%s %s failed (ref %s)", self.what, request.path, ref)
            return text_response(500, f"Internal error (reference {ref}).")
