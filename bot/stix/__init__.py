"""STIX 2.1 mapping of the coalition's store: export (plain dicts, streamed) and import (a small pattern
reader), with the official TLP 2.0 marking definitions. Pure: no I/O, no ORM, no HTTP."""

from bot.stix.export import (
    STIX_MEDIA_TYPE,
    BundleBuilder,
    BundleStream,
    bundle,
    csv_rows,
    indicator_object,
    object_id,
    opinion_object,
    sighting_object,
    text_lines,
)
from bot.stix.ids import (
    COALITION_IDENTITY,
    IDENTITY_CREATED,
    STIX_IDS_SECRET,
    ActIds,
    coalition_identity,
    identity_object,
    org_identity_id,
    parse_timestamp,
    timestamp,
)
from bot.stix.importer import ImportFormatError, ImportPlan, plan_objects, read_file, stix_objects
from bot.stix.markings import TLP2_CREATED, TLP2_EXTENSION_DEFINITION, TLP2_EXTENSION_ID, TLP2_MARKINGS
from bot.stix.patterns import UnsupportedPattern, escape, parse_pattern, pattern_for
from bot.stix.provenance import ORIGIN_EXTENSION_DEFINITION, ORIGIN_EXTENSION_ID, ORIGIN_PROPERTY

__all__ = [
    "COALITION_IDENTITY",
    "IDENTITY_CREATED",
    "ORIGIN_EXTENSION_DEFINITION",
    "ORIGIN_EXTENSION_ID",
    "ORIGIN_PROPERTY",
    "STIX_IDS_SECRET",
    "STIX_MEDIA_TYPE",
    "TLP2_CREATED",
    "TLP2_EXTENSION_DEFINITION",
    "TLP2_EXTENSION_ID",
    "TLP2_MARKINGS",
    "ActIds",
    "BundleBuilder",
    "BundleStream",
    "ImportFormatError",
    "ImportPlan",
    "UnsupportedPattern",
    "bundle",
    "coalition_identity",
    "csv_rows",
    "escape",
    "identity_object",
    "indicator_object",
    "object_id",
    "opinion_object",
    "org_identity_id",
    "parse_pattern",
    "parse_timestamp",
    "pattern_for",
    "plan_objects",
    "read_file",
    "sighting_object",
    "stix_objects",
    "text_lines",
    "timestamp",
]
