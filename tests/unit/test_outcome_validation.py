"""The outcome a CO enters is checked before it can become a figure (core.coordinators.outcome)."""

from __future__ import annotations

from datetime import date

import pytest

from core.coordinators.outcome import Outcome, OutcomeForm, validate_outcome
from core.domain.enums import NextStep
from core.i18n import Catalog

TODAY = date(2026, 6, 2)


def good(**changes: object) -> OutcomeForm:
    base: dict[str, object] = {
        "held_on": "2026-06-02",
        "minutes": "60",
        "issues": ("finance",),
        "advice": "資金繰り表の作成を助言",
        "phase": "1",
        "next_step": "follow_up",
        "follow_up_on": "2026-07-02",
    }
    base.update(changes)
    return OutcomeForm(**base)  # type: ignore[arg-type]


def test_a_complete_outcome_is_accepted_with_its_figures() -> None:
    result = validate_outcome(
        good(
            issues=("finance", "sales_channels"),
            issues_text="価格設定の見直し\n\nfinance",
            result_confirmed=True,
            referral_org="7",
            referral_reason="マル経融資の推薦",
            co_attending_org="8",
            phase="2",
        ),
        today=TODAY,
    )
    assert isinstance(result, Outcome)
    assert result.minutes == 60
    assert result.issues == ("finance", "sales_channels", "価格設定の見直し")
    assert result.result_confirmed is True
    assert (result.referral_org_id, result.referral_reason) == (7, "マル経融資の推薦")
    assert result.co_attending_org_id == 8
    assert result.phase == 2
    assert result.next_step is NextStep.FOLLOW_UP
    assert result.follow_up_on == date(2026, 7, 2)


@pytest.mark.parametrize(
    ("changes", "field", "key"),
    [
        ({"held_on": None}, "held_on", "coordinators.error.held_on_required"),
        ({"held_on": "2026-06-03"}, "held_on", "coordinators.error.held_on_future"),
        ({"minutes": ""}, "minutes", "coordinators.error.minutes_required"),
        ({"minutes": "0"}, "minutes", "coordinators.error.minutes_range"),
        ({"minutes": "601"}, "minutes", "coordinators.error.minutes_range"),
        ({"minutes": "一時間"}, "minutes", "coordinators.error.minutes_range"),
        ({"issues": (), "issues_text": " \n "}, "issues", "coordinators.error.issues_required"),
        ({"referral_org": "7"}, "referral_reason", "coordinators.error.referral_reason_required"),
        (
            {"referral_reason": "記帳指導"},
            "referral_org",
            "coordinators.error.referral_org_required",
        ),
        ({"phase": "3"}, "phase", "coordinators.error.unknown_choice"),
        ({"follow_up_on": None}, "follow_up_on", "coordinators.error.follow_up_required"),
        ({"follow_up_on": "2026-06-02"}, "follow_up_on", "coordinators.error.follow_up_past"),
    ],
)
def test_each_mistake_is_reported_on_its_own_field(
    changes: dict[str, object], field: str, key: str
) -> None:
    result = validate_outcome(good(**changes), today=TODAY)
    assert isinstance(result, dict)
    assert result[field].key == key
    # The message exists in both languages, so the modal can show it under the field.
    catalog = Catalog.load()
    assert catalog.render(result[field], "ja")
    assert catalog.render(result[field], "en")


@pytest.mark.parametrize("typed", ["９０", "\u3000９０\u3000", " 90 "])
def test_full_width_minutes_are_read_as_typed_on_a_japanese_keyboard(typed: str) -> None:
    result = validate_outcome(good(minutes=typed), today=TODAY)
    assert isinstance(result, Outcome)
    assert result.minutes == 90


def test_closing_needs_no_follow_up_date_and_drops_one_given() -> None:
    result = validate_outcome(good(next_step="close", follow_up_on="2026-05-01"), today=TODAY)
    assert isinstance(result, Outcome)
    assert result.next_step is NextStep.CLOSE
    assert result.follow_up_on is None


def test_several_mistakes_are_reported_together() -> None:
    result = validate_outcome(good(held_on="", minutes="x", issues=()), today=TODAY)
    assert isinstance(result, dict)
    assert set(result) == {"held_on", "minutes", "issues"}
