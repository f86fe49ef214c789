"""Workspace lanes: a row's part for a workspace another process serves becomes a row of that workspace, keeping the
delivery keys of the row it came from."""

from __future__ import annotations

from bot.domain import (
    OutboxEvent,
)

from .sink import Delivery, Notify, UpdateCard, UpdateCaseCard

LANE_OF = "lane_of"  # in a lane row's payload: the id of the row it was split from (its delivery keys are that row's)


LANE_RETRIED = "lane_retried"  # ... and whether that row had been tried before (its notices may be out already)


def origin_id(event: OutboxEvent) -> int:
    """The row whose id a delivery key carries: the row itself, or for a lane row the row it was split from."""
    return int(event.payload.get(LANE_OF, event.id))


def lane_payload(event: OutboxEvent) -> dict[str, object]:
    """The payload of a lane row split from this row: the same, naming the row whose delivery keys it keeps."""
    payload: dict[str, object] = {**event.payload, LANE_OF: origin_id(event)}
    if retried(event):
        payload[LANE_RETRIED] = True
    return payload


def retried(event: OutboxEvent) -> bool:
    """Whether an earlier attempt may have delivered some of this row (its own, or its origin row's)."""
    return event.attempts > 1 or bool(event.payload.get(LANE_RETRIED))


def kind_of(delivery: Delivery) -> str:
    """posts, edits or notices (how a dropped delivery is counted)."""
    if isinstance(delivery, UpdateCard | UpdateCaseCard):
        return "edits"
    return "notices" if isinstance(delivery, Notify) else "posts"
