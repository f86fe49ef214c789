"""Helpers for the storage tests (a uniquely named module: conftest files cannot be imported)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain import Member, NewIndicator, Organization
from bot.ioc import IOCType
from bot.tlp import TLP

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_counter = itertools.count(1)


def new_indicator(member: Member, value: str | None = None, *, type: IOCType = IOCType.DOMAIN,
                  tlp: TLP = TLP.GREEN, tags: tuple[str, ...] = (), note: str = "", anonymous: bool = False,
                  seen_at: datetime = T0, valid_until: datetime | None = None,
                  confidence: int = 70) -> NewIndicator:
    if value is None:
        value = f"evil-{next(_counter)}.example"
    return NewIndicator(
        type=type, value=value, tlp=tlp, confidence=confidence, tags=tags, note=note,
        submitter_id=member.id, org_id=member.org_id, anonymous=anonymous, seen_at=seen_at,
        valid_until=valid_until, stix_id=f"indicator--{uuid.uuid4()}",
    )


@dataclass(frozen=True)
class Seed:
    bank: Organization
    cert: Organization
    alice: Member  # bank, member
    amy: Member  # bank, member
    bob: Member  # cert, member
    mod: Member  # cert, moderator
    admin: Member  # bank, admin


__all__ = ["T0", "Seed", "new_indicator", "timedelta"]
