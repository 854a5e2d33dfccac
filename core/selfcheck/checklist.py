"""The owners' self-check (経営状況自己チェックリスト): ten questions, scored, as data.

The review of the hubs notes that the owners who most need to look at their numbers are
the ones who never come to a hub; a short self-check on LINE draws them in early. Every
question is phrased so that はい is the healthy answer, and each points to the consultation
topic a coordinator would take up, so a weak answer can pre-fill the booking and tell the
CO where to start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from core.domain.topics import Topic
from core.i18n import Text


class Answer(StrEnum):
    YES = "yes"
    MOSTLY = "mostly"
    NO = "no"


SCORES: Final[MappingProxyType[Answer, int]] = MappingProxyType(
    {Answer.YES: 2, Answer.MOSTLY: 1, Answer.NO: 0}
)
MAX_SCORE_PER_ITEM: Final = max(SCORES.values())


class Level(StrEnum):
    """The overall reading of the score; catalog keys `selfcheck.checklist.level.<value>`."""

    GOOD = "good"
    FAIR = "fair"
    NEEDS_ATTENTION = "needs_attention"


GOOD_FROM_PERCENT: Final = 80
FAIR_FROM_PERCENT: Final = 50


@dataclass(frozen=True)
class CheckItem:
    key: str
    topic: Topic
    """Where a CO would start if the answer is weak."""

    @property
    def question(self) -> Text:
        return Text(f"selfcheck.item.{self.key}.question")

    @property
    def area(self) -> Text:
        """A short name for the area, for the result summary (「資金繰り」)."""
        return Text(f"selfcheck.item.{self.key}.area")


CHECKLIST: Final[tuple[CheckItem, ...]] = (
    CheckItem("monthly_figures", Topic.BOOKKEEPING),
    CheckItem("cash_flow", Topic.FINANCE),
    CheckItem("product_margin", Topic.FINANCE),
    CheckItem("loan_plan", Topic.FINANCE),
    CheckItem("pricing", Topic.SALES_CHANNELS),
    CheckItem("sales_channels", Topic.SALES_CHANNELS),
    CheckItem("it_use", Topic.IT_DIGITAL),
    CheckItem("staffing", Topic.LABOUR),
    CheckItem("succession", Topic.BUSINESS_SUCCESSION),
    CheckItem("subsidies", Topic.SUBSIDIES),
)
"""Money first (the review's point), then the market, the means and the people."""

ANSWER_LABELS: Final[MappingProxyType[Answer, Text]] = MappingProxyType(
    {answer: Text(f"selfcheck.answer.{answer.value}") for answer in Answer}
)


@dataclass(frozen=True)
class ChecklistResult:
    score: int
    max_score: int
    level: Level
    weak: tuple[str, ...]
    """Item keys answered いいえ, in checklist order."""
    partial: tuple[str, ...]
    """Item keys answered だいたい."""
    weak_topics: tuple[Topic, ...]
    """Topics of the weak items, without repeats, in checklist order: the CO's starting points."""

    @property
    def percent(self) -> int:
        return round(self.score * 100 / self.max_score)

    @property
    def weak_areas(self) -> tuple[Text, ...]:
        return tuple(item(key).area for key in self.weak)

    def to_json(self) -> dict[str, int | str | list[str]]:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "percent": self.percent,
            "level": self.level.value,
            "weak": list(self.weak),
            "partial": list(self.partial),
            "weak_topics": [topic.value for topic in self.weak_topics],
        }


def item(key: str) -> CheckItem:
    for candidate in CHECKLIST:
        if candidate.key == key:
            return candidate
    raise KeyError(f"no self-check item {key!r}")


def score_checklist(answers: Mapping[str, str]) -> ChecklistResult:
    """Score a complete set of answers (item key → "yes" / "mostly" / "no")."""
    unknown = set(answers) - {entry.key for entry in CHECKLIST}
    if unknown:
        raise ValueError(f"not self-check items: {sorted(unknown)}")
    score = 0
    weak: list[str] = []
    partial: list[str] = []
    for entry in CHECKLIST:
        if entry.key not in answers:
            raise ValueError(f"self-check item {entry.key!r} is not answered")
        given = Answer(answers[entry.key])
        score += SCORES[given]
        if given is Answer.NO:
            weak.append(entry.key)
        elif given is Answer.MOSTLY:
            partial.append(entry.key)
    max_score = MAX_SCORE_PER_ITEM * len(CHECKLIST)
    topics = tuple(dict.fromkeys(item(key).topic for key in weak))
    return ChecklistResult(
        score=score,
        max_score=max_score,
        level=_level(score * 100 / max_score),
        weak=tuple(weak),
        partial=tuple(partial),
        weak_topics=topics,
    )


def _level(percent: float) -> Level:
    if percent >= GOOD_FROM_PERCENT:
        return Level.GOOD
    if percent >= FAIR_FROM_PERCENT:
        return Level.FAIR
    return Level.NEEDS_ATTENTION
