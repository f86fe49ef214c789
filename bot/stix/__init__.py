"""STIX 2.1 mapping of the coalition's store: export (plain dicts, streamed) and import (a small pattern
reader), with the official TLP 2.0 marking definitions. Pure: no I/O, no ORM, no HTTP."""

from __future__ import annotations

from bot.lazy_exports import lazy_exports

# Each name is looked up in its module on first use (PEP 562): an import reads patterns and markings, and loads
# no exporter.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "export": ("STIX_MEDIA_TYPE", "BundleBuilder", "BundleStream", "bundle", "csv_rows", "grouping_id",
        "grouping_object", "indicates_object", "indicator_object", "malware_object", "note_object", "object_id",
        "opinion_object", "sighting_object", "text_lines",),
    "ids": ("COALITION_IDENTITY", "IDENTITY_CREATED", "STIX_IDS_SECRET", "ActIds", "coalition_identity",
        "identity_object", "org_identity_id", "parse_timestamp", "timestamp", "vulnerability_id",),
    "importer": ("ImportFormatError", "ImportPlan", "plan_objects", "read_file", "stix_objects",),
    "markings": ("TLP2_CREATED", "TLP2_EXTENSION_DEFINITION", "TLP2_EXTENSION_ID", "TLP2_MARKINGS",),
    "patterns": ("UnsupportedPattern", "escape", "parse_pattern", "pattern_for",),
    "provenance": ("ORIGIN_EXTENSION_DEFINITION", "ORIGIN_EXTENSION_ID", "ORIGIN_PROPERTY",),
}
_HOME = {name: f"{__name__}.{module}" for module, names in _EXPORTS.items() for name in names}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOME)
