"""The pre-counted hub-months stay exact through every kind of write, on both backends.

The dashboard and the national roll-up read figure_months, which triggers keep (migration
0012). Starting from test_figures' world, a mix of writes follows: outcome edits through
the ORM, a bulk UPDATE, a record moved to another month, year and hub, deletions, referrals
turned around and re-dated across a Japan-time month boundary, a case given a business and
another moved to a different one, a 名寄せ merge, and an erasure. After each step the
tables must equal a count made from scratch, in Python, from every record; and the
figures read from them must equal core.figures and the drill-down lists of core.dashboard,
month by month.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import figure_months
from core.clock import ManualClock
from core.dashboard import MONTHS, Figure, hub_year
from core.db.models import (
    Business,
    Case,
    ConsultationRecord,
    FigureMonth,
    FigureMonthBusiness,
    Referral,
)
from core.domain.enums import ReferralDirection
from core.erasure import erase_cases
from core.figures import figures_by_hub
from tests.integration.test_figures import HUB_CODES, YEARS, World, _world, utc

BLANKS = " \t\n\r\u3000"


def _issues(listed: object) -> int:
    if not isinstance(listed, list):
        return 0
    return sum(1 for i in listed if isinstance(i, str) and i.strip(BLANKS))


async def _from_scratch(
    session: AsyncSession,
) -> tuple[dict[tuple[int, date], tuple[int, ...]], dict[tuple[int, date, int], int]]:
    """figure_months and figure_month_businesses as they should be, counted in Python."""
    months: dict[tuple[int, date], list[int]] = {}
    businesses: Counter[tuple[int, date, int]] = Counter()
    rows = await session.execute(
        select(ConsultationRecord, Case.business_id).join(
            Case, Case.id == ConsultationRecord.case_id
        )
    )
    for record, business in rows.tuples().all():
        month = record.held_on.replace(day=1)
        entry = months.setdefault((record.hub_id, month), [0] * 7)
        n = _issues(record.issues)
        for i, v in enumerate(
            (
                1,
                int(record.result_confirmed),
                int(record.co_attending_org_id is not None),
                int(n > 0),
                n,
                record.minutes,
                0,
            )
        ):
            entry[i] += v
        if business is not None:
            businesses[(record.hub_id, month, business)] += 1
    for referral in (await session.scalars(select(Referral))).all():
        if referral.direction is ReferralDirection.TO_PARTNER:
            from core.clock import JST

            on = referral.created_at.astimezone(JST).date().replace(day=1)
            months.setdefault((referral.from_hub_id, on), [0] * 7)[6] += 1
    return (
        {key: tuple(v) for key, v in months.items() if any(v)},
        {key: n for key, n in businesses.items() if n},
    )


async def _kept(
    session: AsyncSession,
) -> tuple[dict[tuple[int, date], tuple[int, ...]], dict[tuple[int, date, int], int]]:
    months = {
        (row.hub_id, row.month): (
            row.consultations,
            row.results_confirmed,
            row.joint_consultations,
            row.issues_set,
            row.issue_responses,
            row.minutes,
            row.referrals,
        )
        for row in (await session.scalars(select(FigureMonth))).all()
    }
    businesses = {
        (row.hub_id, row.month, row.business_id): row.consultations
        for row in (await session.scalars(select(FigureMonthBusiness))).all()
    }
    return (
        {key: v for key, v in months.items() if any(v)},
        {key: n for key, n in businesses.items() if n},
    )


async def _check(sessions: async_sessionmaker[AsyncSession], world: World, step: str) -> None:
    async with sessions() as session:
        kept = await _kept(session)
        assert kept[0], "the world counts something"
        assert kept == await _from_scratch(session), step
        for year in YEARS:
            assert await figure_months.figures_by_hub(
                session, fiscal_year=year
            ) == await figures_by_hub(session, fiscal_year=year), (step, year)
            for hub in HUB_CODES:
                fast = await figure_months.hub_months(
                    session, hub_id=world.hubs[hub], fiscal_year=year
                )
                listed = await hub_year(session, hub_id=world.hubs[hub], fiscal_year=year)
                for figure in Figure:
                    for month in (None, *MONTHS):
                        assert fast.value(figure, month) == listed.value(figure, month), (
                            step,
                            hub,
                            year,
                            figure,
                            month,
                        )


async def test_the_hub_months_equal_a_count_from_scratch_after_every_kind_of_write(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    world = await _world(session_factory, clock)
    await _check(session_factory, world, "the world as written")
    a, b = world.hubs["A"], world.hubs["B"]

    async def step(name: str, change: Callable[[AsyncSession], Awaitable[None]]) -> None:
        async with session_factory.begin() as session:
            await change(session)
        await _check(session_factory, world, name)

    async def outcome_edit(session: AsyncSession) -> None:
        record = await session.scalar(
            select(ConsultationRecord).where(ConsultationRecord.held_on == date(2026, 4, 1))
        )
        assert record is not None
        record.result_confirmed = not record.result_confirmed
        record.issues = ["販路開拓", "\u3000", 3, "価格"]  # type: ignore[list-item]
        record.minutes += 25
        record.co_attending_org_id = None

    async def bulk_update(session: AsyncSession) -> None:
        await session.execute(
            update(ConsultationRecord)
            .where(ConsultationRecord.hub_id == a)
            .values(minutes=ConsultationRecord.minutes + 5, result_confirmed=True)
        )

    async def moved_month_year_and_hub(session: AsyncSession) -> None:
        record = await session.scalar(
            select(ConsultationRecord).where(ConsultationRecord.held_on == date(2026, 5, 10))
        )
        assert record is not None
        record.held_on = date(2027, 4, 2)  # into FY2027
        other = await session.scalar(
            select(ConsultationRecord).where(ConsultationRecord.held_on == date(2026, 6, 1))
        )
        assert other is not None
        other.hub_id, other.co_id = b, world.cos["B"]  # recorded at the wrong hub, corrected

    async def deleted(session: AsyncSession) -> None:
        await session.execute(
            delete(ConsultationRecord).where(ConsultationRecord.held_on == date(2026, 7, 1))
        )
        referral = await session.scalar(
            select(Referral).where(Referral.direction == ReferralDirection.TO_PARTNER).limit(1)
        )
        assert referral is not None
        await session.delete(referral)

    async def referrals_turned_and_redated(session: AsyncSession) -> None:
        came = await session.scalar(
            select(Referral).where(Referral.direction == ReferralDirection.FROM_PARTNER).limit(1)
        )
        assert came is not None
        came.direction = ReferralDirection.TO_PARTNER
        went = await session.scalar(
            select(Referral)
            .where(Referral.direction == ReferralDirection.TO_PARTNER, Referral.from_hub_id == b)
            .limit(1)
        )
        assert went is not None
        went.created_at = utc(2026, 5, 31, 15, 30)  # 1 June in Japan: June's, not May's

    async def businesses_changed(session: AsyncSession) -> None:
        nobiz = await session.get(Case, world.cases["nobiz"])
        assert nobiz is not None
        nobiz.business_id = world.businesses["b3"]
        await session.execute(
            update(Case)
            .where(Case.id == world.cases["osaka"])
            .values(business_id=world.businesses["b2"])
        )

    async def merged(session: AsyncSession) -> None:
        twin = await session.get(Business, world.businesses["b2"])
        assert twin is not None
        twin.merged_into_id = world.businesses["b3"]  # 名寄せ finds b2 and b3 are one

    async def erased(session: AsyncSession) -> None:
        await erase_cases(session, list(world.cases.values()))

    async def more_records(session: AsyncSession) -> None:
        session.add_all(
            ConsultationRecord(
                case_id=world.cases["b1"],
                co_id=world.cos["A"],
                hub_id=a,
                held_on=date(2026, 8, day),
                minutes=30,
                issues=["IT化"] if day % 2 else [],
                result_confirmed=day % 3 == 0,
                created_at=utc(2026, 8, day, 1),
            )
            for day in range(1, 29)
        )

    await step("an outcome edited", outcome_edit)
    await step("a bulk UPDATE", bulk_update)
    await step("records moved to another month, year and hub", moved_month_year_and_hub)
    await step("a record and a referral deleted", deleted)
    await step("referrals turned around and re-dated", referrals_turned_and_redated)
    await step("cases given another business", businesses_changed)
    await step("two businesses merged", merged)
    await step("the cases erased", erased)
    await step("28 records in one flush", more_records)


async def test_writers_at_the_same_time_lose_no_count(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """Two transactions write the same hub-month at once; the counts keep both.

    A recount in each writer would lose one of them (each sees only its own record); the
    triggers add their difference, which PostgreSQL applies to the row as committed."""
    world = await _world(session_factory, clock)
    first_written, second_writing = asyncio.Event(), asyncio.Event()

    async def writer(minutes: int, first: bool) -> None:
        if not first:
            await first_written.wait()
        async with session_factory.begin() as session:
            session.add(
                ConsultationRecord(
                    case_id=world.cases["b2"],
                    co_id=world.cos["A"],
                    hub_id=world.hubs["A"],
                    held_on=date(2026, 9, 1),
                    minutes=minutes,
                    issues=["販路開拓"],
                    created_at=utc(2026, 9, 1, 1),
                )
            )
            if first:
                await session.flush()  # counted, not committed: the month's row is held
                first_written.set()
                await second_writing.wait()
            else:
                second_writing.set()  # its flush waits for the first to commit

    if session_factory.kw["bind"].dialect.name == "sqlite":
        first_written.set()
        second_writing.set()
        await writer(10, True)  # SQLite has one writer at a time by design
        await writer(20, False)
    else:
        await asyncio.gather(writer(10, True), writer(20, False))
    await _check(session_factory, world, "two writers at once")
    async with session_factory() as session:
        row = await session.get(FigureMonth, (world.hubs["A"], date(2026, 9, 1)))
        assert row is not None
        assert (row.consultations, row.minutes, row.issue_responses) == (2, 30, 2)
