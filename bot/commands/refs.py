"""The references a command names: `#42`, a STIX id, a value, a member (`m7` or a mention).

Their own module, so that what resolves a reference (bot.services.context, bot.actions) loads no command class."""

from __future__ import annotations

from bot.ioc import Observable
from bot.values import frozen


@frozen
class IdRef:
    id: int

    def __str__(self) -> str:
        return f"#{self.id}"


@frozen
class StixRef:
    stix_id: str

    def __str__(self) -> str:
        return self.stix_id


@frozen
class ValueRef:
    observable: Observable

    def __str__(self) -> str:
        return self.observable.value


Ref = IdRef | StixRef | ValueRef


@frozen
class MemberRef:
    """`m7` (a member id), or a platform mention `<@U123>` resolved on the speaker's platform."""

    member_id: int | None = None
    user_id: str | None = None

    def __str__(self) -> str:
        return f"m{self.member_id}" if self.member_id is not None else f"<@{self.user_id}>"
