"""The coalition's policy knobs, built once from configuration and handed to the dispatcher."""

from __future__ import annotations

from dataclasses import field
from datetime import timedelta
from enum import StrEnum

from bot.score import ScoreModel
from bot.tlp import TLP
from bot.values import frozen


class WarninglistAction(StrEnum):
    WARN = "warn"  # store it, flag it on the card
    BLOCK = "block"  # refuse it unless `override` with a reason


@frozen
class Policy:
    default_tlp: TLP = TLP.AMBER
    default_confidence: int = 50
    default_valid_for: timedelta | None = timedelta(days=180)
    default_channel_ceiling: TLP = TLP.GREEN  # for channels no admin has registered
    auto_approve_confirmations: int = 0  # N confirmations from N distinct organizations, no FP; 0 = off
    warninglist_action: WarninglistAction = WarninglistAction.WARN
    max_values_per_command: int = 1000
    page_size: int = 10
    score_model: ScoreModel = field(default_factory=ScoreModel)  # how scores decay (issue 13, `[score]`)
    score_expire_below: float | None = None  # expire an approved item whose score fell below this; None = off
