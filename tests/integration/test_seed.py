"""Seeding gives every installation its 48 hubs, and demo people to try the product with.

It runs on every start, so running it again must add nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
)

from core.clock import ManualClock
from core.db.base import Base
from core.db.models import (
    Coordinator,
    CoWeeklyAvailability,
    Hub,
    HubClosedDay,
    PartnerOrganisation,
    PartnerStaff,
)
from core.domain.enums import CoRole, HubKind
from core.domain.organisations import OrganisationKind
from core.domain.topics import Specialty
from yorozu.seed import SeedReport, load_hub_rows, seed

SHARED_HUBS_CSV = Path(__file__).resolve().parents[3] / "shared" / "data" / "hubs.csv"


@pytest.fixture
def sessions(
    session_factory: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """A migrated, empty database of each backend (the shared fixtures)."""
    return session_factory


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 2, 1, 0, tzinfo=UTC))


async def _seed(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock, *, demo: bool
) -> SeedReport:
    async with sessions.begin() as session:
        return await seed(session, demo=demo, clock=clock)


async def _count(sessions: async_sessionmaker[AsyncSession], model: type[Base]) -> int:
    async with sessions() as session:
        return (await session.scalar(select(func.count()).select_from(model))) or 0


def test_packaged_hubs_are_the_47_prefectures() -> None:
    rows = load_hub_rows()
    assert [row.code for row in rows] == [f"{n:02d}" for n in range(1, 48)]
    assert rows[12].prefecture_ja == "東京都"
    assert all(row.implementing_org_ja for row in rows)


def test_packaged_hubs_match_the_shared_data() -> None:
    if not SHARED_HUBS_CSV.exists():
        pytest.skip("../shared is not beside the project")
    packaged = Path(__file__).resolve().parents[2] / "yorozu" / "data" / "hubs.csv"
    assert packaged.read_bytes() == SHARED_HUBS_CSV.read_bytes()


async def test_seed_gives_48_hubs_and_is_idempotent(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    first = await _seed(sessions, clock, demo=False)
    assert first == SeedReport(hubs=48)
    second = await _seed(sessions, clock, demo=False)
    assert second.total == 0
    assert await _count(sessions, Hub) == 48
    assert await _count(sessions, Coordinator) == 0

    async with sessions() as session:
        hq = await session.scalar(select(Hub).where(Hub.code == "00"))
        tokyo = await session.scalar(select(Hub).where(Hub.code == "13"))
    assert hq is not None
    assert (hq.kind, hq.prefecture_code) == (HubKind.HQ, None)
    assert "全国本部" in hq.name_ja
    assert "中小企業基盤整備機構" in hq.implementing_org_ja
    assert tokyo is not None
    assert (tokyo.kind, tokyo.prefecture_code, tokyo.name_ja) == (
        HubKind.HUB,
        "13",
        "東京都よろず支援拠点",
    )
    assert tokyo.followup_months == [1, 3, 6, 12, 24]


async def test_demo_adds_coordinators_with_availability_and_partners(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    await _seed(sessions, clock, demo=False)
    report = await _seed(sessions, clock, demo=True)
    assert report.hubs == 0
    assert report.coordinators > 0
    assert report.availability > 0
    assert report.partner_organisations >= 5
    assert report.partner_staff >= report.partner_organisations

    async with sessions() as session:
        rows = (
            await session.execute(
                select(Hub.code, Coordinator.role, func.count())
                .join(Coordinator, Coordinator.hub_id == Hub.id)
                .group_by(Hub.code, Coordinator.role)
            )
        ).tuples()
        per_hub = {(code, role): count for code, role, count in rows}
        for code in ("01", "13", "27"):
            assert per_hub[(code, CoRole.CCO)] == 1
            assert 3 <= per_hub[(code, CoRole.CO)] <= 5
        assert per_hub[("00", CoRole.HQ_SPECIALIST)] >= 1

        without_slots = await session.scalar(
            select(func.count())
            .select_from(Coordinator)
            .where(~Coordinator.id.in_(select(CoWeeklyAvailability.co_id)))
        )
        assert without_slots == 0

        known = {str(specialty) for specialty in Specialty}
        for co in (await session.scalars(select(Coordinator))).all():
            assert co.specialties
            assert set(co.specialties) <= known
            assert co.qualifications
            assert co.slack_user_id
            assert co.slack_team_id

        kinds = set((await session.scalars(select(PartnerOrganisation.kind))).all())
        assert {
            OrganisationKind.SHOKOKAI,
            OrganisationKind.SHOKO_KAIGISHO,
            OrganisationKind.BANK,
            OrganisationKind.CREDIT_GUARANTEE,
            OrganisationKind.SMRJ,
        } <= kinds
        titles = set((await session.scalars(select(PartnerStaff.title))).all())
        assert "経営指導員" in titles

        closed = set((await session.scalars(select(HubClosedDay.day))).all())
        assert {date(2026, 12, 31), date(2027, 1, 1)} <= closed

    counts = [
        await _count(sessions, model)
        for model in (Coordinator, CoWeeklyAvailability, PartnerOrganisation, PartnerStaff)
    ]
    again = await _seed(sessions, clock, demo=True)
    assert again.total == 0, str(again)
    assert counts == [
        await _count(sessions, model)
        for model in (Coordinator, CoWeeklyAvailability, PartnerOrganisation, PartnerStaff)
    ]
    assert await _count(sessions, HubClosedDay) == report.closed_days
