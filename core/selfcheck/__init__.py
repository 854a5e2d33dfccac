"""経営セルフチェック: the owners' self-check and the break-even calculator, as pure code.

The LINE conversation that asks the questions lives in core/owners/selfcheck.py; the stored
results in core/db/models/selfchecks.py.
"""

from __future__ import annotations

from enum import StrEnum

from core.selfcheck.breakeven import THIN_MARGIN_BELOW, BreakEven, Verdict, calculate, round_to_man
from core.selfcheck.checklist import (
    ANSWER_LABELS,
    CHECKLIST,
    SCORES,
    Answer,
    CheckItem,
    ChecklistResult,
    Level,
    item,
    score_checklist,
)


class SelfCheckKind(StrEnum):
    """Which tool a stored result came from."""

    CHECKLIST = "checklist"
    BREAKEVEN = "breakeven"


__all__ = [
    "ANSWER_LABELS",
    "CHECKLIST",
    "SCORES",
    "THIN_MARGIN_BELOW",
    "Answer",
    "BreakEven",
    "CheckItem",
    "ChecklistResult",
    "Level",
    "SelfCheckKind",
    "Verdict",
    "calculate",
    "item",
    "round_to_man",
    "score_checklist",
]
