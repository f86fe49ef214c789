"""The API key of a request to the TAXII server or its blocklists: `Authorization: Bearer KEY`, or HTTP Basic
with the key as the password."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web


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
