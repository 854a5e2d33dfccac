"""Which coordinators to offer first when a case is assigned: the router's ranking.

The ranking itself is core.routing.coordinators (pure); this module only reads the hub's
coordinators and their open-case counts so the card and the assign modal show the same names
in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Case, Coordinator, Hub
from core.domain.enums import OPEN_CASE_STATUSES, CoRole
from core.domain.topics import Specialty, Topic
from core.routing.coordinators import CoCandidate, rank_coordinators


def _topics(values: Sequence[str]) -> frozenset[Topic]:
    known = {topic.value for topic in Topic}
    return frozenset(Topic(value) for value in values if value in known)


def _specialties(values: Sequence[str]) -> frozenset[Specialty]:
    known = {specialty.value for specialty in Specialty}
    return frozenset(Specialty(value) for value in values if value in known)


async def hub_coordinators(session: AsyncSession, hub_id: int) -> list[Coordinator]:
    """The hub's active coordinators by name: the assign modal's full list."""
    rows = await session.scalars(
        select(Coordinator)
        .where(Coordinator.hub_id == hub_id, Coordinator.active.is_(True))
        .order_by(Coordinator.name_kana, Coordinator.name, Coordinator.id)
    )
    return list(rows.all())


async def suggest_coordinators(
    session: AsyncSession, case: Case, *, limit: int = 5
) -> list[Coordinator]:
    """The case hub's coordinators with room, best first for the case's topics.

    Only the case's own hub: taking a colleague from another hub is "ask another hub", a
    different action with that hub's consent.
    """
    hub = await session.get(Hub, case.hub_id)
    if hub is None:
        return []
    coordinators = await hub_coordinators(session, hub.id)
    if not coordinators:
        return []
    counts = dict(
        (
            await session.execute(
                select(Case.assigned_co_id, func.count())
                .where(
                    Case.assigned_co_id.in_([co.id for co in coordinators]),
                    Case.status.in_(list(OPEN_CASE_STATUSES)),
                )
                .group_by(Case.assigned_co_id)
            )
        )
        .tuples()
        .all()
    )
    candidates = [
        CoCandidate(
            co_id=str(co.id),
            hub_code=hub.code,
            role="cco" if co.role is CoRole.CCO else "co",
            specialties=_specialties(co.specialties or []),
            open_cases=int(counts.get(co.id, 0)),
            capacity=co.capacity,
            next_free_slot=None,
            active=co.active,
        )
        for co in coordinators
    ]
    by_id = {str(co.id): co for co in coordinators}
    ranked = rank_coordinators(hub.code, _topics(case.topics or []), candidates)
    return [by_id[item.candidate.co_id] for item in ranked[:limit]]
