"""Who a Slack user is to the hub: one of its coordinators, a partner's staff, or nobody.

Every Slack listener asks this first: a CO sees the queue and their cases, partner staff
hand cases over and follow them, and anyone else gets a polite explanation instead of a
form they cannot use. It lives in core/ because the answer is about our people, not about
Slack; the ids are just the keys people are known by there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.db.models import Coordinator, PartnerStaff

_Row = TypeVar("_Row", Coordinator, PartnerStaff)
StaffKind = Literal["coordinator", "partner"]
DEFAULT_TEAM = "default"
"""The team id a single-workspace install uses when it does not know its workspace's id."""


@dataclass(frozen=True)
class StaffIdentity:
    """A person the hub works with, as found from their Slack ids.

    `role` is the coordinator's role ("co", "cco", "hq_specialist") or the staff member's
    title (for example 経営指導員) when known, else "staff".
    """

    kind: StaffKind
    id: int
    role: str
    display_name: str
    hub_id: int | None = None
    organisation_id: int | None = None
    locale: str = "ja"
    console_admin: bool = False
    """HQ (on an HQ coordinator) or their organisation's admin (on partner staff)."""

    @property
    def is_coordinator(self) -> bool:
        return self.kind == "coordinator"

    @property
    def is_partner(self) -> bool:
        return self.kind == "partner"


def _same_team(
    column: InstrumentedAttribute[str | None], team_id: str | None
) -> ColumnElement[bool] | None:
    """A filter on the row's team, or None for "any team".

    People seeded for a single-workspace install carry no team (or "default"), so they
    match whatever team Slack reports; a known team never matches another team's row.
    """
    if not team_id or team_id == DEFAULT_TEAM:
        return None
    return or_(column == team_id, column.is_(None), column == DEFAULT_TEAM)


async def resolve_slack_user(
    session: AsyncSession, team_id: str | None, user_id: str
) -> StaffIdentity | None:
    """The coordinator or partner staff member behind a Slack user, or None.

    A coordinator wins when one person is registered as both (a CO seconded from a 商工会
    still works the queue). A row of the exact team is preferred over one without a team.
    """
    if not user_id:
        return None
    co_query = select(Coordinator).where(
        Coordinator.slack_user_id == user_id, Coordinator.active.is_(True)
    )
    co_team = _same_team(Coordinator.slack_team_id, team_id)
    if co_team is not None:
        co_query = co_query.where(co_team)
    co = _best((await session.scalars(co_query.order_by(Coordinator.id))).all(), team_id)
    if co is not None:
        return StaffIdentity(
            kind="coordinator",
            id=co.id,
            role=co.role.value,
            display_name=co.name,
            hub_id=co.hub_id,
            console_admin=co.console_admin,
        )
    staff_query = select(PartnerStaff).where(
        PartnerStaff.slack_user_id == user_id, PartnerStaff.active.is_(True)
    )
    staff_team = _same_team(PartnerStaff.slack_team_id, team_id)
    if staff_team is not None:
        staff_query = staff_query.where(staff_team)
    staff = _best((await session.scalars(staff_query.order_by(PartnerStaff.id))).all(), team_id)
    if staff is not None:
        return StaffIdentity(
            kind="partner",
            id=staff.id,
            role=staff.title or "staff",
            display_name=staff.name,
            organisation_id=staff.organisation_id,
            console_admin=staff.console_admin,
        )
    return None


def _best(rows: Sequence[_Row], team_id: str | None) -> _Row | None:
    exact = [row for row in rows if team_id and row.slack_team_id == team_id]
    candidates = exact or list(rows)
    return candidates[0] if candidates else None
