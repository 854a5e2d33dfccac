"""Topics fit one LINE quick reply and every topic and specialty has a label to show."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from core.domain.topics import (
    LINE_QUICK_REPLY_LIMIT,
    TOPIC_SPECIALTIES,
    Specialty,
    Topic,
    topics_covered,
)

I18N = Path(__file__).resolve().parents[2] / "core" / "i18n"
LANGUAGES = ["ja", "en"]
QUICK_REPLY_LABEL_LIMIT = 20


def _catalog(language: str) -> dict[str, Any]:
    with (I18N / language / "topics.toml").open("rb") as file:
        return tomllib.load(file)


def test_all_topics_fit_one_line_quick_reply() -> None:
    assert len(Topic) <= LINE_QUICK_REPLY_LIMIT == 13


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("table", "values"), [("topic", Topic), ("specialty", Specialty)])
def test_every_value_has_exactly_one_label(
    language: str, table: str, values: type[Topic] | type[Specialty]
) -> None:
    labels = _catalog(language)[table]
    assert set(labels) == {v.value for v in values}
    assert all(isinstance(label, str) and label.strip() for label in labels.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_topic_labels_fit_a_quick_reply_button(language: str) -> None:
    too_long = {
        key: label
        for key, label in _catalog(language)["topic"].items()
        if len(label) > QUICK_REPLY_LABEL_LIMIT
    }
    assert too_long == {}


@pytest.mark.parametrize(
    ("topic", "label"),
    [
        (Topic.FOUNDING, "創業"),
        (Topic.SALES_CHANNELS, "売上拡大・販路開拓"),
        (Topic.OTHER, "その他"),
    ],
)
def test_japanese_labels_are_the_ones_owners_know(topic: Topic, label: str) -> None:
    assert _catalog("ja")["topic"][topic.value] == label


def test_every_topic_has_a_specialty_entry_and_every_specialty_serves_a_topic() -> None:
    assert set(TOPIC_SPECIALTIES) == set(Topic)
    served = set().union(*TOPIC_SPECIALTIES.values())
    assert served == set(Specialty)


@pytest.mark.parametrize(
    ("topics", "specialties", "covered"),
    [
        ({Topic.IT_DIGITAL}, {Specialty.IT}, {Topic.IT_DIGITAL}),
        ({Topic.IT_DIGITAL, Topic.TAX}, {Specialty.ACCOUNTING}, {Topic.TAX}),
        (
            {Topic.BOOKKEEPING, Topic.FINANCE},
            {Specialty.ACCOUNTING},
            {Topic.BOOKKEEPING, Topic.FINANCE},
        ),
        ({Topic.LABOUR_INSURANCE}, {Specialty.DESIGN}, set()),
        ({Topic.OTHER}, set(Specialty), set()),
    ],
)
def test_topics_covered_by_specialties(
    topics: set[Topic], specialties: set[Specialty], covered: set[Topic]
) -> None:
    assert topics_covered(frozenset(topics), frozenset(specialties)) == covered
