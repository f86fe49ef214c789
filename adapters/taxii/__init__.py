"""TAXII 2.1 server (aiohttp): the coalition's approved indicators as a feed, and a collection to submit to."""

from adapters.taxii.app import TAXII_MEDIA_TYPE, TaxiiService, create_app, create_service, serve

__all__ = ["TAXII_MEDIA_TYPE", "TaxiiService", "create_app", "create_service", "serve"]
