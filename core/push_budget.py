"""Spending a LINE channel's monthly push budget by priority: pure functions, table-tested.

Owner pushes carry an outbox priority (lower is more urgent). As the month's remaining budget
runs short, the less urgent tiers stop first, so what is left goes to what matters most:

* booking reminders (priority 10) may spend the budget to the last push;
* a CO's answer to an owner (priority 20) stops when 5% of the budget is left;
* surveys (priority 50) stop when 10% of the budget is left;
* follow-ups (priority 90) and everything else stop when 20% is left.

A row that may not go now is held (status held, visible), not dropped: the month change
releases it. The CCO is told once a month when `warn_fraction` of the budget is spent.
"""

from __future__ import annotations

from typing import Final

PRIORITY_BOOKING_REMINDER: Final = 10
PRIORITY_CO_REPLY: Final = 20
"""A CO's answer to an owner's question (core.chat): a person is waiting for it."""
PRIORITY_SURVEY: Final = 50
PRIORITY_FOLLOWUP: Final = 90

TIERS: Final[tuple[tuple[int, float], ...]] = (
    (PRIORITY_BOOKING_REMINDER, 0.0),
    (PRIORITY_CO_REPLY, 0.05),
    (PRIORITY_SURVEY, 0.10),
)
LOWEST_TIER_RESERVE: Final = 0.20
"""The share of the budget kept back from everything less urgent than a survey."""

HELD_REASON: Final = "push_budget"


def reserve_for(priority: int, budget: int) -> float:
    """Pushes that must stay unspent for a row of this priority to go."""
    for threshold, share in TIERS:
        if priority <= threshold:
            return budget * share
    return budget * LOWEST_TIER_RESERVE


def may_spend(priority: int, *, budget: int | None, used: int) -> bool:
    """Whether one more push of this priority fits the month (`used` pushes so far)."""
    if budget is None:
        return True
    remaining = budget - used
    if remaining <= 0:
        return False
    return remaining - 1 >= reserve_for(priority, budget) or (priority <= PRIORITY_BOOKING_REMINDER)


def should_warn(*, budget: int | None, used: int, warn_fraction: float) -> bool:
    return budget is not None and budget > 0 and used >= budget * warn_fraction
