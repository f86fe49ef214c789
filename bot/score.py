"""An indicator's score (issue 13): 0-100, from what the coalition knows of it, decaying with time, and able to
say how it was reached in plain words (`/ioc why #ID`).

    raw   = confidence / 2                                       the submitter's own confidence: 0-50
          + 8 x trust/100 for each organization that confirmed   others vouching: at most +30
          + 4 for each organization that sighted it              seen again: at most +12
          - 12 x trust/100 for each organization that called it a false positive
    score = clamp(raw, 0, 100) x decay(t)
    decay(t) = 1 - (t / lifetime)^(1 / decay_speed)              MISP's polynomial decay, 0 from t = lifetime

t is the time since the latest sign of life: the latest sighting or confirmation, else the submission. Lifetimes
start from OpenCTI's published defaults (IP and URL 47 days, domain 300, file hashes 460) and, like the decay
speed (0.5: slow at first, then faster), are set per type (`ScoreModel`). Organizations count once each, the
submitting organization's own confirmations not at all (it vouched by submitting), and each weighs as its trust.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.domain import Indicator, SightingSummary, Verdict
from bot.ioc import IOCType
from bot.values import frozen

if TYPE_CHECKING:
    from bot.ports import UnitOfWork

CONFIRM_POINTS = 8.0  # per confirming organization of trust 100
CONFIRM_MAX = 30.0
SIGHTING_POINTS = 4.0  # per sighting organization
SIGHTING_MAX = 12.0
FALSE_POSITIVE_POINTS = 12.0  # per organization of trust 100
TREND_WINDOW = timedelta(days=7)

LIFETIMES_DAYS: dict[IOCType, float] = {  # OpenCTI's defaults where it has one
    IOCType.IPV4: 47, IOCType.IPV6: 47, IOCType.CIDR: 47, IOCType.URL: 47, IOCType.EMAIL: 47,
    IOCType.DOMAIN: 300, IOCType.ASN: 300, IOCType.BTC: 300,
    IOCType.MD5: 460, IOCType.SHA1: 460, IOCType.SHA256: 460, IOCType.SHA512: 460, IOCType.CVE: 460,
}


@frozen
class ScoreModel:
    """How scores decay, per type (configurable: `[score]` in the settings)."""

    lifetimes_days: dict[IOCType, float] = field(default_factory=lambda: dict(LIFETIMES_DAYS))
    decay_speed: float = 0.5  # 1 - (t/lifetime)^2: an IP 21 days after its last sighting keeps 80%
    threshold: float = 20.0  # "reaches 20 on ...": the score under which an item is hardly worth blocking

    def lifetime(self, kind: IOCType) -> timedelta:
        return timedelta(days=self.lifetimes_days.get(kind, 47))


@frozen
class ScoreInputs:
    """What the score is computed from: nothing else."""

    type: IOCType
    confidence: int  # the submitter's, 0-100
    submitted_at: datetime
    confirming_trust: tuple[int, ...] = ()  # the trust (0-100) of each other organization that confirmed
    false_positive_trust: tuple[int, ...] = ()  # ... of each organization that called it a false positive
    sighting_orgs: int = 0  # organizations that sighted it
    last_confirmed: datetime | None = None
    last_sighted: datetime | None = None


@frozen
class Score:
    value: int  # 0-100
    trend: str  # "↑" confirmed or sighted in the last week, "↓" lost a point or more over it, "→" steady
    steps: tuple[str, ...]  # the computation, in plain words
    reaches_threshold: datetime | None  # when it falls to the model's threshold (None: it is under it already)

    def __str__(self) -> str:
        return f"{self.value} {self.trend}"


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


def _raw(inputs: ScoreInputs) -> tuple[float, list[str]]:
    steps = [f"base {inputs.confidence / 2:g} from confidence {inputs.confidence}"]
    raw = inputs.confidence / 2
    if inputs.confirming_trust:
        points = min(CONFIRM_MAX, sum(CONFIRM_POINTS * t / 100 for t in inputs.confirming_trust))
        n = len(inputs.confirming_trust)
        capped = " (at most +30)" if points == CONFIRM_MAX else ""
        steps.append(f"+{points:.0f} for confirmations by {n} organization{'s' if n != 1 else ''}{capped}")
        raw += points
    if inputs.sighting_orgs:
        points = min(SIGHTING_MAX, SIGHTING_POINTS * inputs.sighting_orgs)
        n = inputs.sighting_orgs
        steps.append(f"+{points:.0f} for sightings by {n} organization{'s' if n != 1 else ''}")
        raw += points
    if inputs.false_positive_trust:
        points = sum(FALSE_POSITIVE_POINTS * t / 100 for t in inputs.false_positive_trust)
        n = len(inputs.false_positive_trust)
        steps.append(f"-{points:.0f} for {'one false-positive vote' if n == 1 else f'{n} false-positive votes'}")
        raw -= points
    if raw != _clamp(raw):
        steps.append(f"kept within 0-100: {_clamp(raw):.0f}")
    return _clamp(raw), steps


def confidence_floor(min_score: int) -> int:
    """The least submitter's confidence with which an item can score `min_score` at all: confirmations and
    sightings add at most CONFIRM_MAX + SIGHTING_MAX, time only takes away, and a score is rounded, so below it no
    evidence lifts an item there (search min_score filters on it in the store before scoring). Over 100: no item
    can score that much."""
    return max(0, math.ceil(2 * (min_score - 0.5 - CONFIRM_MAX - SIGHTING_MAX)))


def last_activity(inputs: ScoreInputs) -> datetime:
    return max(d for d in (inputs.submitted_at, inputs.last_confirmed, inputs.last_sighted) if d is not None)


def decay(kind: IOCType, age: timedelta, model: ScoreModel) -> float:
    """MISP's polynomial decay: 1 at age 0, 0 from the type's lifetime on."""
    ratio = max(0.0, age / model.lifetime(kind))
    return 0.0 if ratio >= 1 else 1 - ratio ** (1 / model.decay_speed)


def compute(inputs: ScoreInputs, now: datetime, model: ScoreModel | None = None) -> Score:
    """The score of one indicator now, with its trend, its explanation and when it reaches the threshold."""
    model = model or ScoreModel()
    raw, steps = _raw(inputs)
    since = last_activity(inputs)
    age = max(timedelta(0), now - since)
    factor = decay(inputs.type, age, model)
    value = round(raw * factor)
    days = age.days
    what = "the last sighting or confirmation" if since != inputs.submitted_at else "it was submitted"
    if round(factor, 2) < 1:  # a decay that rounds to ×1.00 is no step worth reading
        steps.append(f"×{factor:.2f} for {days} day{'s' if days != 1 else ''} since {what} "
                     f"(a {inputs.type.value} lives {model.lifetime(inputs.type).days} days)")
    reaches = None
    if value > model.threshold and raw > 0:
        ratio = (1 - model.threshold / raw) ** model.decay_speed  # solve raw × decay(t) = threshold for t
        reaches = since + model.lifetime(inputs.type) * ratio
        steps.append(f"reaches {model.threshold:g} on {reaches.date().isoformat()}")
    signs = [d for d in (inputs.last_confirmed, inputs.last_sighted) if d is not None]
    week_ago = raw * decay(inputs.type, max(timedelta(0), age - TREND_WINDOW), model)
    if signs and now - max(signs) <= TREND_WINDOW:
        trend = "↑"  # confirmed or sighted in the last week
    elif week_ago - raw * factor >= 1:
        trend = "↓"  # lost at least a point over the last week
    else:
        trend = "→"
    return Score(value, trend, tuple(steps), reaches)


@frozen
class OrgVerdict:
    """One organization's verdict on an indicator as the store counts it: its trust and its latest such vote."""

    org_id: int
    verdict: str  # a bot.domain.Verdict value
    trust: int  # the organization's trust, 0-100
    latest: datetime


def inputs_for(indicator: Indicator, verdicts: Iterable[OrgVerdict], sightings: SightingSummary) -> ScoreInputs:
    """What the store knows of an indicator, as the score's inputs: the submitting organization's own
    confirmations count for nothing (it vouched by submitting), nor as a sign of life."""
    confirming = [v for v in verdicts if v.verdict == Verdict.CONFIRM.value and v.org_id != indicator.org_id]
    false_positive = [v for v in verdicts if v.verdict == Verdict.FALSE_POSITIVE.value]
    return ScoreInputs(
        type=indicator.type, confidence=indicator.confidence, submitted_at=indicator.created_at,
        confirming_trust=tuple(v.trust for v in sorted(confirming, key=lambda v: v.org_id)),
        false_positive_trust=tuple(v.trust for v in sorted(false_positive, key=lambda v: v.org_id)),
        sighting_orgs=sightings.orgs,
        last_confirmed=max((v.latest for v in confirming), default=None),
        last_sighted=sightings.last_seen,
    )


async def scores_of(uow: UnitOfWork, rows: Sequence[Indicator], now: datetime, model: ScoreModel) -> dict[int, int]:
    """The scores of a batch, from one read of their votes and sightings (no card built)."""
    evidence = await uow.votes.evidence([r.id for r in rows])
    return {r.id: compute(inputs_for(r, evidence[r.id].verdicts, evidence[r.id].sightings), now, model).value
            for r in rows}


def explain(score: Score) -> str:
    """`/ioc why`: the computation as one sentence."""
    return "; ".join(score.steps) + f": score {score.value}."


__all__ = ["LIFETIMES_DAYS", "OrgVerdict", "Score", "ScoreInputs", "ScoreModel", "compute", "confidence_floor",
           "decay", "explain", "inputs_for", "last_activity"]
