"""The eight figures of the records system count per hub and fiscal year, on both backends.

One world is built from the tables below: two hubs (東京 = "A", 大阪 = "B"), businesses with
a merged twin, consultation records and referrals on both sides of the fiscal-year
boundaries. The first test reads every hub and year off EXPECTED; the second adds one more
row to that world and states exactly which figures of which hub and year must move, so a
row that must count nothing is shown to change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models import (
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    Hub,
    PartnerOrganisation,
    Referral,
)
from core.domain.enums import CaseSource, ReferralDirection
from core.figures import HubFigures, hub_figures
from yorozu.seed import seed

HUB_CODES = {"A": "13", "B": "27"}
YEARS = (2024, 2025, 2026, 2027)

TO_PARTNER = ReferralDirection.TO_PARTNER
FROM_PARTNER = ReferralDirection.FROM_PARTNER
TO_HUB = ReferralDirection.TO_HUB

BLANK = ("", "   ", "\u3000")
"""Issues left blank, including a full-width space: none of them is an issue set."""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# --- the world ----------------------------------------------------------------------------

BUSINESSES: dict[str, str | None] = {
    # business: the business it was merged into (名寄せ)
    "b1": None,
    "b1twin": "b1",
    "b1older": "b1twin",  # merged into the twin before the twin was merged: a chain
    "b2": None,
    "b3": None,
    "b4": None,
    "osaka": None,
}

CASES: dict[str, tuple[str, str | None]] = {
    # case: (the hub it is at now, its business)
    "b1": ("A", "b1"),
    "b1twin": ("A", "b1twin"),
    "b1older": ("A", "b1older"),
    "b2": ("A", "b2"),
    "b3": ("A", "b3"),
    "nobiz": ("A", None),  # no business known: a consultation, but no business to count
    "moved": ("B", "b4"),  # held at A first, then transferred to B
    "osaka": ("B", "osaka"),
    "osaka_b1": ("B", "b1twin"),  # the same business as A's b1, consulted at B too
}


@dataclass(frozen=True)
class Rec:
    """A consultation record: held at `hub` on `case`; `joint` = a partner attended."""

    hub: str
    case: str
    held_on: date
    minutes: int
    confirmed: bool = False
    joint: bool = False
    issues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ref:
    """A referral hanging on a case of `hub` (its from_hub), created at `at`."""

    hub: str
    direction: ReferralDirection
    at: datetime


RECORDS = (
    Rec("A", "b3", date(2025, 3, 31), 10, True, True, ("x",)),  # FY2024's last day
    Rec("A", "b3", date(2025, 4, 1), 60, True, False, ("資金繰り",)),  # FY2025's first day
    Rec("A", "b1", date(2026, 3, 31), 45, False, True, ()),  # FY2025's last day
    Rec("A", "b1", date(2026, 4, 1), 90, True, True, ("資金繰り", "販路開拓", "人材")),  # FY2026
    Rec("A", "b1twin", date(2026, 5, 10), 30, False, False, (*BLANK, "販路開拓")),
    Rec("A", "b2", date(2027, 3, 31), 50, True, False, BLANK),  # FY2026's last day
    Rec("A", "nobiz", date(2026, 6, 1), 30),
    Rec("A", "moved", date(2026, 4, 10), 40, False, True, ("事業承継",)),  # before the move
    Rec("A", "b2", date(2027, 4, 1), 15),  # FY2027
    Rec("B", "osaka", date(2026, 4, 1), 120, True, True, ("IT化", "資金繰り")),
    Rec("B", "osaka_b1", date(2026, 4, 2), 60),
    Rec("B", "moved", date(2026, 7, 1), 90, False, False, ("事業承継",)),  # after the move
)

REFERRALS = (
    Ref("A", TO_PARTNER, utc(2025, 3, 31, 14, 59, 59)),  # 2025-03-31 23:59:59 JST: FY2024
    Ref("A", TO_PARTNER, utc(2025, 3, 31, 15, 0)),  # 2025-04-01 00:00 JST: FY2025
    Ref("A", TO_PARTNER, utc(2026, 3, 31, 14, 59, 59)),  # 2026-03-31 23:59:59 JST: FY2025
    Ref("A", TO_PARTNER, utc(2026, 3, 31, 15, 30)),  # 2026-04-01 00:30 JST: FY2026
    Ref("A", TO_PARTNER, utc(2027, 3, 31, 14, 59, 59)),  # 2027-03-31 23:59:59 JST: FY2026
    Ref("A", TO_PARTNER, utc(2027, 3, 31, 15, 0)),  # 2027-04-01 00:00 JST: FY2027
    Ref("A", FROM_PARTNER, utc(2026, 5, 1, 1, 0)),  # a partner handed over to A
    Ref("A", TO_HUB, utc(2026, 5, 1, 2, 0)),  # A asked hub B: not a partner
    Ref("B", TO_PARTNER, utc(2026, 5, 1, 3, 0)),
    Ref("B", FROM_PARTNER, utc(2026, 5, 2, 3, 0)),
)

F = HubFigures
# fmt: off
EXPECTED: dict[tuple[str, int], tuple[HubFigures, float]] = {
    # (hub, FY):   businesses, consultations, results confirmed, referrals, joint,
    #              issues set, issue responses, minutes;        hours
    ("A", 2024): (F(1, 1, 1, 1, 1, 1, 1, 10), 10 / 60),
    ("A", 2025): (F(2, 2, 1, 2, 1, 1, 1, 105), 1.75),
    ("A", 2026): (F(3, 5, 2, 2, 2, 3, 5, 240), 4.0),
    ("A", 2027): (F(1, 1, 0, 1, 0, 0, 0, 15), 0.25),
    ("B", 2024): (F(0, 0, 0, 0, 0, 0, 0, 0), 0.0),
    ("B", 2025): (F(0, 0, 0, 0, 0, 0, 0, 0), 0.0),
    ("B", 2026): (F(3, 3, 1, 1, 1, 2, 3, 270), 4.5),
    ("B", 2027): (F(0, 0, 0, 0, 0, 0, 0, 0), 0.0),
}
# fmt: on
"""
A 2026: businesses b1 (b1 and its twin once), b2, b4 (nobiz has none); joint: b1 04-01 and
moved; issues: 3 on b1, 1 on the twin (blanks dropped), 1 on moved, none on b2 (all blank).
B 2026: businesses osaka, b1 (via its twin), b4; A's moved record stays A's.
"""


@dataclass(frozen=True)
class World:
    hubs: dict[str, int]
    cos: dict[str, int]
    organisations: tuple[int, int]
    businesses: dict[str, int]
    cases: dict[str, int]


async def _build(session: AsyncSession, clock: ManualClock) -> World:
    await seed(session, demo=True, clock=clock)
    hubs = {
        key: (await session.scalars(select(Hub.id).where(Hub.code == code))).one()
        for key, code in HUB_CODES.items()
    }
    cos = {
        key: (
            await session.scalars(
                select(Coordinator.id).where(Coordinator.hub_id == hub).order_by(Coordinator.id)
            )
        ).first()
        for key, hub in hubs.items()
    }
    assert all(cos.values()), "the demo seed gives hubs 13 and 27 their COs"
    co_ids = {key: co for key, co in cos.items() if co is not None}
    orgs = list(
        (
            await session.scalars(select(PartnerOrganisation.id).order_by(PartnerOrganisation.id))
        ).all()[:2]
    )
    assert len(orgs) == 2, "the demo seed gives partner organisations"
    now = clock.now()
    businesses: dict[str, int] = {}
    for name, merged_into in BUSINESSES.items():  # survivors come before their twins
        business = Business(
            name=name,
            name_key=name,
            merged_into_id=businesses[merged_into] if merged_into else None,
            created_at=now,
            updated_at=now,
        )
        session.add(business)
        await session.flush()
        businesses[name] = business.id
    cases: dict[str, int] = {}
    for number, (name, (hub, business_name)) in enumerate(CASES.items(), start=1):
        case = Case(
            number=f"{HUB_CODES[hub]}-2026-{number:06d}",
            hub_id=hubs[hub],
            business_id=businesses[business_name] if business_name else None,
            source=CaseSource.TRANSFER if name == "moved" else CaseSource.HUB,
            transferred_from_hub_id=hubs["A"] if name == "moved" else None,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        await session.flush()
        cases[name] = case.id
    return World(hubs, co_ids, (orgs[0], orgs[1]), businesses, cases)


def _record(world: World, rec: Rec) -> ConsultationRecord:
    return ConsultationRecord(
        case_id=world.cases[rec.case],
        co_id=world.cos[rec.hub],
        hub_id=world.hubs[rec.hub],
        held_on=rec.held_on,
        minutes=rec.minutes,
        issues=list(rec.issues),
        result_confirmed=rec.confirmed,
        co_attending_org_id=world.organisations[0 if rec.hub == "A" else 1] if rec.joint else None,
        created_at=utc(rec.held_on.year, rec.held_on.month, rec.held_on.day, 9, 0),
    )


def _referral(world: World, ref: Ref) -> Referral:
    other = "B" if ref.hub == "A" else "A"
    return Referral(
        case_id=world.cases["b1" if ref.hub == "A" else "osaka"],
        direction=ref.direction,
        from_hub_id=world.hubs[ref.hub],
        to_hub_id=world.hubs[other] if ref.direction == TO_HUB else None,
        to_organisation_id=None if ref.direction == TO_HUB else world.organisations[0],
        reason="テスト",
        created_at=ref.at,
    )


async def _add(session: AsyncSession, world: World, rows: tuple[Rec | Ref, ...]) -> None:
    session.add_all(
        _record(world, row) if isinstance(row, Rec) else _referral(world, row) for row in rows
    )
    await session.flush()


async def _world(
    sessions: async_sessionmaker[AsyncSession], clock: ManualClock, *extra: Rec | Ref
) -> World:
    async with sessions.begin() as session:
        world = await _build(session, clock)
        await _add(session, world, (*RECORDS, *REFERRALS, *extra))
    return world


async def _all_figures(
    sessions: async_sessionmaker[AsyncSession], world: World
) -> dict[tuple[str, int], HubFigures]:
    async with sessions() as session:
        return {
            (hub, year): await hub_figures(session, hub_id=world.hubs[hub], fiscal_year=year)
            for hub in HUB_CODES
            for year in YEARS
        }


# --- the figures of the world -------------------------------------------------------------


async def test_each_hub_and_year_counts_its_own_records(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    world = await _world(session_factory, clock)
    got = await _all_figures(session_factory, world)
    assert got == {key: figures for key, (figures, _) in EXPECTED.items()}
    assert {key: figures.hours for key, figures in got.items()} == {
        key: hours for key, (_, hours) in EXPECTED.items()
    }


# --- one more row: where it counts, and where it must not ---------------------------------

Changes = Mapping[tuple[str, int], Mapping[str, int]]

ONE_MORE: list[tuple[str, Rec | Ref, Changes]] = [
    (
        "a record at the other hub counts there only",
        Rec("B", "osaka_b1", date(2026, 6, 1), 60, True, True, ("資金繰り",)),
        {
            ("B", 2026): {
                "consultations": 1,
                "results_confirmed": 1,
                "joint_consultations": 1,
                "issues_set": 1,
                "issue_responses": 1,
                "minutes": 60,
            }
        },
    ),
    (
        "held 2026-03-31 counts in FY2025",
        Rec("A", "b2", date(2026, 3, 31), 20, True),
        {("A", 2025): {"businesses": 1, "consultations": 1, "results_confirmed": 1, "minutes": 20}},
    ),
    (
        "held 2026-04-01 counts in FY2026",
        Rec("A", "b3", date(2026, 4, 1), 20, False, True),
        {
            ("A", 2026): {
                "businesses": 1,
                "consultations": 1,
                "joint_consultations": 1,
                "minutes": 20,
            }
        },
    ),
    (
        "the merged twin again is no new business",
        Rec("A", "b1twin", date(2026, 8, 1), 60),
        {("A", 2026): {"consultations": 1, "minutes": 60}},
    ),
    (
        "the survivor again is no new business",
        Rec("A", "b1", date(2026, 8, 1), 60),
        {("A", 2026): {"consultations": 1, "minutes": 60}},
    ),
    (
        "a business merged twice over is still the survivor",
        Rec("A", "b1older", date(2026, 8, 1), 60),
        {("A", 2026): {"consultations": 1, "minutes": 60}},
    ),
    (
        "blank issues set no issue",
        Rec("A", "b2", date(2026, 8, 1), 30, False, False, BLANK),
        {("A", 2026): {"consultations": 1, "minutes": 30}},
    ),
    (
        "one issue",
        Rec("A", "b2", date(2026, 8, 1), 30, False, False, ("資金繰り",)),
        {("A", 2026): {"consultations": 1, "issues_set": 1, "issue_responses": 1, "minutes": 30}},
    ),
    (
        "three issues in one consultation respond three times",
        Rec("A", "b2", date(2026, 8, 1), 30, False, False, ("資金繰り", "", "販路開拓", "人材")),
        {("A", 2026): {"consultations": 1, "issues_set": 1, "issue_responses": 3, "minutes": 30}},
    ),
    (
        "to a partner at 2026-04-01 00:30 JST counts in FY2026",
        Ref("A", TO_PARTNER, utc(2026, 3, 31, 15, 30)),
        {("A", 2026): {"referrals": 1}},
    ),
    (
        "to a partner at 2026-03-31 23:59:59 JST counts in FY2025",
        Ref("A", TO_PARTNER, utc(2026, 3, 31, 14, 59, 59)),
        {("A", 2025): {"referrals": 1}},
    ),
    (
        "to a partner from the other hub counts there only",
        Ref("B", TO_PARTNER, utc(2026, 6, 1)),
        {("B", 2026): {"referrals": 1}},
    ),
    ("from a partner is no referral of the hub", Ref("A", FROM_PARTNER, utc(2026, 6, 1)), {}),
    ("to another hub is no referral to a partner", Ref("A", TO_HUB, utc(2026, 6, 1)), {}),
]


def _params() -> list[object]:
    params: list[object] = []
    for name, row, changes in ONE_MORE:
        params.append(pytest.param(row, changes, id=name))
    return params


@pytest.mark.parametrize(("row", "changes"), _params())
async def test_one_more_row_moves_exactly_its_figures(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    row: Rec | Ref,
    changes: Changes,
) -> None:
    world = await _world(session_factory, clock, row)
    expected = {key: figures for key, (figures, _) in EXPECTED.items()}
    for key, deltas in changes.items():
        figures = expected[key]
        expected[key] = replace(
            figures, **{name: getattr(figures, name) + delta for name, delta in deltas.items()}
        )
    assert await _all_figures(session_factory, world) == expected
