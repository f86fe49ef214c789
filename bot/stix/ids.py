"""Stable STIX identifiers: the same coalition, organization, vote or sighting always gets the same id.

The coalition's and the organizations' identities are public objects (their ids are a uuid5 of public names);
the ids of people's acts (opinions, sightings) are keyed with the deployment's secret (`ActIds`)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

NAMESPACE = uuid.UUID("7964c74b-e70c-5bf9-a26f-b01fc749b57f")  # uuid5(NAMESPACE_URL, "urn:coalition-bot:stix")


def stable_uuid(name: str) -> uuid.UUID:
    """uuid5(NAMESPACE, name) with the version bits set to 4: derived from the name, so the same every time,
    and shaped as the UUIDv4 that STIX 2.1 asks of SDOs and SROs (the validator refuses v5 there)."""
    return uuid.UUID(bytes=uuid.uuid5(NAMESPACE, name).bytes, version=4)


COALITION_IDENTITY = f"identity--{stable_uuid('coalition')}"
IDENTITY_CREATED = "2020-01-01T00:00:00.000Z"


@functools.lru_cache(maxsize=4096)
def org_identity_id(org_id: int) -> str:
    return f"identity--{stable_uuid(f'organization/{org_id}')}"


STIX_IDS_SECRET = "stix-ids"  # noqa: S105 - the name of the per-deployment secret in the store, not a secret


class ActIds:
    """Ids of the objects made from a person's act (a vote's opinion, a sighting): HMAC-SHA256 under the
    deployment's secret, shaped as a UUIDv4.

    Stable (the same secret gives the same id for the same act on every export and feed page), and not
    computable from public data: with a public derivation (uuid5 of object id and member id) an exporter
    could recompute, for each member, the id of their opinion on any item and so learn who voted on what, and
    through a member's other opinions the organization behind an anonymous item. The key is per act and per
    object, so two opinions of one member on two items share nothing visible either."""

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the STIX id secret must be at least 16 random bytes")
        self._key = secret

    def _uuid(self, name: str) -> uuid.UUID:
        digest = hmac.new(self._key, name.encode(), hashlib.sha256).digest()
        return uuid.UUID(bytes=digest[:16], version=4)

    def opinion_id(self, object_id: str, member_id: int) -> str:
        return f"opinion--{self._uuid(f'{object_id}/vote/{member_id}')}"

    def sighting_id(self, object_id: str, sighting_row_id: int) -> str:
        return f"sighting--{self._uuid(f'{object_id}/sighting/{sighting_row_id}')}"

    def note_id(self, object_id: str, comment_id: int) -> str:
        """A comment's STIX note (issue 13)."""
        return f"note--{self._uuid(f'{object_id}/comment/{comment_id}')}"

    def __repr__(self) -> str:  # never the secret
        return "ActIds(<secret>)"


def vulnerability_id(indicator_stix_id: str) -> str:
    """A CVE is exported as a vulnerability with the same uuid as the stored indicator id (reversible)."""
    return "vulnerability--" + indicator_stix_id.partition("--")[2]


_TIMESTAMPS: dict[datetime, str] = {}


def timestamp(dt: datetime) -> str:
    """STIX timestamp, UTC, millisecond precision: 2026-11-01T09:00:00.000Z.

    On the export hot path: each distinct datetime is formatted once (a bounded cache; many objects share their
    creation, approval or validity times), and formatting itself is one %-format, not isoformat + slicing."""
    found = _TIMESTAMPS.get(dt)
    if found is not None:
        return found
    utc = dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    text = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - twice as fast as f"{dt:%Y...}"
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond // 1000)
    if len(_TIMESTAMPS) >= 65_536:
        _TIMESTAMPS.clear()
    _TIMESTAMPS[dt] = text
    return text


@functools.lru_cache(maxsize=4096)  # imports repeat the same times (valid_until, created) many times over
def parse_timestamp(text: str) -> datetime:
    """A STIX/TAXII timestamp (any sub-second precision, Z or offset) as an aware UTC datetime."""
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    if "." in t:  # fromisoformat in 3.11 wants 3 or 6 fraction digits
        head, _, rest = t.partition(".")
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits):]
        t = f"{head}.{(digits + '000000')[:6]}{tz}"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def identity_object(identity_id: str, name: str, description: str = "") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "identity", "spec_version": "2.1", "id": identity_id, "created": IDENTITY_CREATED,
        "modified": IDENTITY_CREATED, "name": name, "identity_class": "organization",
    }
    if description:
        obj["description"] = description
    return obj


def coalition_identity(name: str = "Coalition") -> dict[str, Any]:
    return identity_object(COALITION_IDENTITY, name, "The coalition, for members' anonymous submissions")
