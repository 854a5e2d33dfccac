"""HQ's budget of consultation hours per hub and fiscal year, and 稼働率 against it.

DOMAIN.md: "Budget follows consultation hours (稼働率 = consultation hours per budget)".
The budget is the one number on the dashboards typed by a person, so only HQ sets it
(the console's national permission), and each change is written to the audit log with
what it was before; the hours it is divided into still come only from the records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import AuditLog, Hub, HubBudget
from core.domain.enums import ActorKind
from core.i18n import Text

MAX_HOURS: Final = 1_000_000
"""Far above any hub's year (a hub of 30 COs full time is about 50,000 hours)."""


@dataclass
class BudgetForm:
    values: dict[int, int | None] = field(default_factory=dict)
    """hub id -> budgeted hours; None to clear."""
    errors: dict[str, Text] = field(default_factory=dict)
    """Keyed by the form field (hub_<code>)."""

    @property
    def ok(self) -> bool:
        return not self.errors


def field_name(hub: Hub) -> str:
    return f"hub_{hub.code}"


async def budgets_of(session: AsyncSession, *, fiscal_year: int) -> dict[int, int]:
    """hub id -> the year's budgeted hours, for the hubs that have one."""
    rows = await session.execute(
        select(HubBudget.hub_id, HubBudget.hours).where(HubBudget.fiscal_year == fiscal_year)
    )
    return {int(hub): int(hours) for hub, hours in rows.tuples().all()}


def utilisation(minutes: int, budget_hours: int | None) -> float | None:
    """稼働率: the consultation hours held per budgeted hour; None without a budget."""
    if not budget_hours:
        return None
    return minutes / 60 / budget_hours


def read_budgets(typed: Mapping[str, str], hubs: Sequence[Hub]) -> BudgetForm:
    """Whole hours, blank for none; anything else is an error shown at its field."""
    form = BudgetForm()
    for hub in hubs:
        name = field_name(hub)
        text = typed.get(name, "").strip().replace(",", "")
        if not text:
            form.values[hub.id] = None
        elif text.isascii() and text.isdigit() and int(text) <= MAX_HOURS:
            form.values[hub.id] = int(text)
        else:
            form.errors[name] = Text("console.budgets.error", max=MAX_HOURS)
    return form


async def apply_budgets(
    session: AsyncSession,
    form: BudgetForm,
    *,
    fiscal_year: int,
    actor_id: int | None,
    now: datetime,
) -> int:
    """Store the changed budgets, one audit row each (before and after); answers how many
    changed. Unchanged hubs write nothing."""
    stored = {
        row.hub_id: row
        for row in await session.scalars(
            select(HubBudget).where(HubBudget.fiscal_year == fiscal_year)
        )
    }
    changed = 0
    for hub_id, hours in sorted(form.values.items()):
        row = stored.get(hub_id)
        before = row.hours if row is not None else None
        if before == hours:
            continue
        if hours is None:
            assert row is not None
            await session.delete(row)
        elif row is None:
            session.add(
                HubBudget(
                    hub_id=hub_id,
                    fiscal_year=fiscal_year,
                    hours=hours,
                    updated_at=now,
                    updated_by_co_id=actor_id,
                )
            )
        else:
            row.hours, row.updated_at, row.updated_by_co_id = hours, now, actor_id
        session.add(
            AuditLog(
                at=now,
                actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
                actor_id=actor_id,
                action="hub.budget_set",
                hub_id=hub_id,
                details={"fiscal_year": fiscal_year, "before": before, "after": hours},
            )
        )
        changed += 1
    return changed
