"""The self-check list: scores, the overall reading, and the weak areas a CO starts from."""

from __future__ import annotations

import pytest

from core.conversation import MAX_CHOICES
from core.domain.topics import Topic
from core.i18n import Catalog
from core.selfcheck import CHECKLIST, Answer, Level, item, score_checklist


def answers(default: str = "yes", **overrides: str) -> dict[str, str]:
    given = {entry.key: default for entry in CHECKLIST}
    given.update(overrides)
    return given


def test_about_ten_questions_each_with_its_topic_and_texts() -> None:
    catalog = Catalog.load()
    assert 8 <= len(CHECKLIST) <= MAX_CHOICES
    assert len({entry.key for entry in CHECKLIST}) == len(CHECKLIST)
    for entry in CHECKLIST:
        assert isinstance(entry.topic, Topic)
        assert catalog.has(entry.question.key)
        assert catalog.has(entry.area.key)


def test_the_review_s_themes_are_all_asked() -> None:
    keys = {entry.key for entry in CHECKLIST}
    assert {
        "monthly_figures",
        "cash_flow",
        "product_margin",
        "loan_plan",
        "succession",
        "it_use",
        "staffing",
        "sales_channels",
        "pricing",
        "subsidies",
    } <= keys


@pytest.mark.parametrize(
    ("given", "score", "level", "weak_topics"),
    [
        (answers("yes"), 20, Level.GOOD, ()),
        (answers("mostly"), 10, Level.FAIR, ()),
        (answers("no"), 0, Level.NEEDS_ATTENTION, tuple(dict.fromkeys(e.topic for e in CHECKLIST))),
        # 80% is still good; one "no" on cash flow points to finance.
        (
            answers(cash_flow="no", succession="mostly", it_use="mostly"),
            16,
            Level.GOOD,
            (Topic.FINANCE,),
        ),
        # Finance appears once although three finance questions are weak, in checklist order.
        (
            answers(
                "mostly",
                succession="no",
                cash_flow="no",
                product_margin="no",
                loan_plan="no",
            ),
            6,
            Level.NEEDS_ATTENTION,
            (Topic.FINANCE, Topic.BUSINESS_SUCCESSION),
        ),
        (answers("mostly", staffing="yes", it_use="no"), 10, Level.FAIR, (Topic.IT_DIGITAL,)),
        (answers("mostly", staffing="no"), 9, Level.NEEDS_ATTENTION, (Topic.LABOUR,)),
    ],
)
def test_scores_levels_and_weak_topics(
    given: dict[str, str], score: int, level: Level, weak_topics: tuple[Topic, ...]
) -> None:
    result = score_checklist(given)
    assert result.score == score
    assert result.max_score == 20
    assert result.level is level
    assert result.weak_topics == weak_topics


def test_weak_and_partial_items_are_named_for_the_summary() -> None:
    result = score_checklist(answers(subsidies="no", pricing="mostly", monthly_figures="no"))
    assert result.weak == ("monthly_figures", "subsidies")
    assert result.partial == ("pricing",)
    assert result.weak_areas == (item("monthly_figures").area, item("subsidies").area)
    assert result.to_json() == {
        "score": 15,
        "max_score": 20,
        "percent": 75,
        "level": "fair",
        "weak": ["monthly_figures", "subsidies"],
        "partial": ["pricing"],
        "weak_topics": ["bookkeeping", "subsidies"],
    }


def test_every_answer_counts() -> None:
    incomplete = answers()
    del incomplete["staffing"]
    with pytest.raises(ValueError, match="staffing"):
        score_checklist(incomplete)
    with pytest.raises(ValueError, match="perhaps"):
        score_checklist(answers(staffing="perhaps"))
    with pytest.raises(ValueError, match="not self-check items"):
        score_checklist({**answers(), "weather": "yes"})


def test_answer_labels_fit_a_quick_reply() -> None:
    catalog = Catalog.load()
    for answer in Answer:
        for locale in ("ja", "en"):
            assert len(catalog.text(f"selfcheck.answer.{answer.value}", locale)) <= 20
    assert len(catalog.text("selfcheck.book", "ja")) <= 20
    assert len(catalog.text("selfcheck.book", "en")) <= 20
