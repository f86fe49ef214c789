"""When the weekly digest is due (`[digest] day` and `hour`, UTC): kept apart from bot.weekly so that reading the
configuration imports nothing more than this."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.values import frozen

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LATE = timedelta(days=1)  # a week's digest not written within a day of its moment is skipped


@frozen
class WeeklySchedule:
    """When the digest is due: a weekday (0 = Monday) and an hour, UTC."""

    day: int = 0
    hour: int = 9

    def moment(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before `now`."""
        now = now.astimezone(UTC)
        at = now.replace(hour=self.hour, minute=0, second=0, microsecond=0)
        at -= timedelta(days=(at.weekday() - self.day) % 7)
        return at if at <= now else at - timedelta(days=7)

    def due(self, now: datetime) -> datetime | None:
        """The moment whose digest is to be written now, or None (not within a day of one)."""
        at = self.moment(now)
        return at if now - at < LATE else None


def week_of(moment: datetime) -> date:
    """The Monday (UTC) of the week a moment is in: the digest is written once per such week."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def day_number(name: str) -> int:
    """`monday` .. `sunday` (any case, or its first three letters) as 0 .. 6."""
    key = name.strip().lower()
    for n, day in enumerate(DAYS):
        if key in (day, day[:3]):
            return n
    raise ValueError(f"'{name}' is not a day of the week; use one of {', '.join(DAYS)}")


__all__ = ["DAYS", "LATE", "WeeklySchedule", "day_number", "week_of"]
