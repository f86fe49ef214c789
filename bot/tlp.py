"""TLP 2.0 (FIRST, https://www.first.org/tlp/): labels, their order, parsing and STIX marking ids."""

from __future__ import annotations

import enum


class TLP(enum.Enum):
    CLEAR = "CLEAR"
    GREEN = "GREEN"
    AMBER = "AMBER"
    AMBER_STRICT = "AMBER+STRICT"
    RED = "RED"

    @property
    def rank(self) -> int:
        return self._rank  # type: ignore[attr-defined,no-any-return]

    def __lt__(self, other: TLP) -> bool:
        return self.rank < other.rank

    def __le__(self, other: TLP) -> bool:
        return self.rank <= other.rank

    def __gt__(self, other: TLP) -> bool:
        return self.rank > other.rank

    def __ge__(self, other: TLP) -> bool:
        return self.rank >= other.rank

    @property
    def label(self) -> str:
        return f"TLP:{self.value}"

    @property
    def shareable_in_channels(self) -> bool:
        """AMBER+STRICT and RED never go to a shared channel, whatever its ceiling."""
        return self <= TLP.AMBER

    @classmethod
    def parse(cls, text: str) -> TLP:
        """Accept `green`, `TLP:GREEN`, `amber+strict`, `amber-strict`, and TLP 1.0's `white` (= CLEAR)."""
        key = text.strip().upper().removeprefix("TLP:").replace("-", "+").replace("_", "+")
        key = {"WHITE": "CLEAR", "AMBERSTRICT": "AMBER+STRICT", "STRICT": "AMBER+STRICT"}.get(key, key)
        try:
            return cls(key)
        except ValueError:
            raise ValueError(
                f"'{text}' is not a TLP label; use one of clear, green, amber, amber+strict, red"
            ) from None


_ORDER = (TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED)
for _rank, _label in enumerate(_ORDER):  # set once: comparisons are on every card's hot path
    _label._rank = _rank  # type: ignore[attr-defined]

# The official TLP 2.0 marking-definition ids (the stix2 library ships only TLP 1.0's).
STIX_MARKING_IDS = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
