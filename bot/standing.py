"""An organization's standing in the coalition (`/ioc stats orgs`, issue 13): the "give to receive" view."""

from __future__ import annotations

from bot.values import frozen


@frozen
class OrgStanding:
    """Counted over the items one viewer may see (another organization's anonymous items under the anonymous name)."""

    name: str
    submitted: int
    approved: int  # approved at some point (or stored approved)
    confirmed_by_others: int  # items another organization confirmed
    false_positive: int  # items someone called a false positive
    median_decision_hours: float | None  # from submission to the first approval or rejection

    @property
    def false_positive_rate(self) -> float:
        return self.false_positive / self.submitted if self.submitted else 0.0
