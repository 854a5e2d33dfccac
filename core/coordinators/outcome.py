"""Checking a consultation outcome as the CO typed it, before anything is stored.

The outcome is what the hub's eight figures are counted from (DOMAIN.md), so a wrong
number here is a wrong national figure later. The checks are pure: the Slack modal shows
their messages under the fields (response_action "errors"), the web form can do the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from core.domain.enums import NextStep
from core.i18n import Text
from core.text import nfkc

MAX_MINUTES = 600
"""Ten hours: longer is a typo (minutes typed as seconds), not a consultation."""
MAX_ISSUES = 10
MAX_ISSUE_LENGTH = 200
MAX_ADVICE_LENGTH = 3000
MAX_REASON_LENGTH = 1000

FIELDS = (
    "held_on",
    "minutes",
    "issues",
    "advice",
    "result_confirmed",
    "referral_org",
    "referral_reason",
    "co_attending_org",
    "phase",
    "next_step",
    "follow_up_on",
)
"""Field names; the Slack modal uses them as block ids so errors land under the right input."""


@dataclass(frozen=True)
class OutcomeForm:
    """The outcome as entered: strings and selections, nothing trusted yet."""

    held_on: str | None = None
    minutes: str | None = None
    issues: Sequence[str] = ()
    """Chosen issue values (topic values such as "finance")."""
    issues_text: str | None = None
    """Free-text issues, one per line, for what the list does not name."""
    advice: str | None = None
    result_confirmed: bool = False
    referral_org: str | None = None
    referral_reason: str | None = None
    co_attending_org: str | None = None
    phase: str | None = None
    next_step: str | None = None
    follow_up_on: str | None = None


@dataclass(frozen=True)
class Outcome:
    """A checked outcome, ready to become a ConsultationRecord."""

    held_on: date
    minutes: int
    issues: tuple[str, ...]
    advice_summary: str | None
    result_confirmed: bool
    referral_org_id: int | None
    referral_reason: str | None
    co_attending_org_id: int | None
    phase: int
    next_step: NextStep
    follow_up_on: date | None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def _id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _issues(chosen: Sequence[str], typed: str | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in [*chosen, *(typed or "").splitlines()]:
        cleaned = item.strip()
        if cleaned:
            seen.setdefault(cleaned, None)
    return tuple(seen)


def validate_outcome(form: OutcomeForm, *, today: date) -> Outcome | dict[str, Text]:
    """The checked outcome, or the errors by field name (`FIELDS`).

    `today` is the Japan-time date: a consultation cannot be held in the future, and a
    follow-up must come after the consultation it follows.
    """
    errors: dict[str, Text] = {}
    held_on = _date(form.held_on)
    if held_on is None:
        errors["held_on"] = Text("coordinators.error.held_on_required")
    elif held_on > today:
        errors["held_on"] = Text("coordinators.error.held_on_future")

    minutes: int | None = None
    # Width as everywhere else (core.text): "６０" typed in a Japanese IME is 60.
    raw_minutes = nfkc(form.minutes or "").strip()
    if not raw_minutes:
        errors["minutes"] = Text("coordinators.error.minutes_required")
    elif not _ASCII_DIGITS.fullmatch(raw_minutes) or not 1 <= int(raw_minutes) <= MAX_MINUTES:
        errors["minutes"] = Text("coordinators.error.minutes_range", most=MAX_MINUTES)
    else:
        minutes = int(raw_minutes)

    issues = _issues(form.issues, form.issues_text)
    if not issues:
        errors["issues"] = Text("coordinators.error.issues_required")
    elif len(issues) > MAX_ISSUES:
        errors["issues"] = Text("coordinators.error.issues_too_many", most=MAX_ISSUES)
    elif any(len(issue) > MAX_ISSUE_LENGTH for issue in issues):
        errors["issues"] = Text("coordinators.error.issue_too_long", most=MAX_ISSUE_LENGTH)

    advice = (form.advice or "").strip() or None
    if advice is not None and len(advice) > MAX_ADVICE_LENGTH:
        errors["advice"] = Text("coordinators.error.too_long", most=MAX_ADVICE_LENGTH)

    referral_org = _id(form.referral_org)
    reason = (form.referral_reason or "").strip() or None
    if form.referral_org and referral_org is None:
        errors["referral_org"] = Text("coordinators.error.unknown_choice")
    if referral_org is not None and reason is None:
        errors["referral_reason"] = Text("coordinators.error.referral_reason_required")
    elif referral_org is None and reason is not None and "referral_org" not in errors:
        errors["referral_org"] = Text("coordinators.error.referral_org_required")
    elif reason is not None and len(reason) > MAX_REASON_LENGTH:
        errors["referral_reason"] = Text("coordinators.error.too_long", most=MAX_REASON_LENGTH)

    co_attending = _id(form.co_attending_org)
    if form.co_attending_org and co_attending is None:
        errors["co_attending_org"] = Text("coordinators.error.unknown_choice")

    phase = 1
    if form.phase not in (None, "", "1", "2"):
        errors["phase"] = Text("coordinators.error.unknown_choice")
    elif form.phase == "2":
        phase = 2

    next_step = NextStep.FOLLOW_UP
    if form.next_step not in (None, "", *(step.value for step in NextStep)):
        errors["next_step"] = Text("coordinators.error.unknown_choice")
    elif form.next_step:
        next_step = NextStep(form.next_step)

    follow_up_on = _date(form.follow_up_on)
    if next_step is NextStep.FOLLOW_UP and "next_step" not in errors:
        if follow_up_on is None:
            errors["follow_up_on"] = Text("coordinators.error.follow_up_required")
        elif follow_up_on <= max(today, held_on or today):
            errors["follow_up_on"] = Text("coordinators.error.follow_up_past")
    if next_step is NextStep.CLOSE:
        follow_up_on = None

    if errors:
        return errors
    assert held_on is not None
    assert minutes is not None
    return Outcome(
        held_on=held_on,
        minutes=minutes,
        issues=issues,
        advice_summary=advice,
        result_confirmed=form.result_confirmed,
        referral_org_id=referral_org,
        referral_reason=reason if referral_org is not None else None,
        co_attending_org_id=co_attending,
        phase=phase,
        next_step=next_step,
        follow_up_on=follow_up_on,
    )


_ASCII_DIGITS = re.compile(r"[0-9]+")
"""After NFKC: `str.isdigit` would also take digits of other scripts, which `int` reads."""
