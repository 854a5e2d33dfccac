"""A coordinator books a case's consultation (core.coordinators.booking), on both databases.

What a person would notice: the case is booked with the CO, the slot is taken, the partner who
handed the case over hears the date in Japan time, an owner on LINE gets their reminders, and a
slot that is not free or a case that is someone else's is refused with nothing written.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.coordinators.actions import CaseActionError
from core.coordinators.booking import book_consultation, free_slots
from core.db.models import (
    Booking,
    Business,
    Case,
    CaseStatusHistory,
    ChannelIdentity,
    ConsentRecord,
    Coordinator,
    CoWeeklyAvailability,
    Hub,
    OutboxMessage,
    PartnerOrganisation,
    PartnerStaff,
    Person,
)
from core.db.session import unit_of_work
from core.domain.enums import (
    BookingMode,
    BookingStatus,
    CaseSource,
    CaseStatus,
    ConsentNotice,
    Platform,
)
from core.domain.organisations import OrganisationKind
from core.i18n import Catalog
from core.messages import decode_message
from yorozu.seed import seed

Factory = async_sessionmaker[AsyncSession]
TEAM = "T0BOOKING1"
STAFF_USER = "U0REFERRER"
THURSDAY_14_JST = datetime(2026, 6, 4, 5, 0, tzinfo=UTC)


async def _world(factory: Factory, clock: ManualClock, *, on_line: bool) -> dict[str, int]:
    """Hub 13, two COs working Mon–Fri 10:00–16:00, a partner's hand-over claimed by the first."""
    now = clock.now()
    async with unit_of_work(factory) as session:
        await seed(session, clock=clock)
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        cos = [
            Coordinator(
                hub_id=hub.id, name=name, slack_user_id=user, slack_team_id=TEAM, specialties=[]
            )
            for name, user in (("高橋 浩二", "U0TAKAHASH"), ("佐藤 花子", "U0SATOHANA"))
        ]
        org = PartnerOrganisation(
            kind=OrganisationKind.SHOKOKAI, name="八王子商工会", prefecture_code="13"
        )
        person = Person(display_name="南")
        business = Business(
            name="有限会社みなみ製麺",
            name_key="みなみ製麺",
            prefecture_code="13",
            municipality="八王子市",
            created_at=now,
            updated_at=now,
        )
        session.add_all([*cos, org, person, business])
        await session.flush()
        for co in cos:
            session.add_all(
                CoWeeklyAvailability(
                    co_id=co.id,
                    weekday=day,
                    start_time=time(10),
                    end_time=time(16),
                    mode=BookingMode.VISIT,
                )
                for day in range(5)
            )
        staff = PartnerStaff(
            organisation_id=org.id, name="石井 直子", slack_user_id=STAFF_USER, slack_team_id=TEAM
        )
        session.add(staff)
        if on_line:
            session.add(
                ChannelIdentity(
                    person_id=person.id,
                    platform=Platform.LINE,
                    channel_id="2000000001",
                    external_user_id="U" + "a" * 32,
                    created_at=now,
                )
            )
        await session.flush()
        case = Case(
            number="13-2026-000001",
            hub_id=hub.id,
            business_id=business.id,
            person_id=person.id,
            source=CaseSource.PARTNER,
            topics=["finance"],
            status=CaseStatus.CLAIMED,
            assigned_co_id=cos[0].id,
            claimed_at=now,
            referring_staff_id=staff.id,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        await session.flush()
        session.add(
            ConsentRecord(
                person_id=person.id,
                notice=ConsentNotice.HANDOVER,
                version="1",
                channel="slack",
                given_at=now,
                case_id=case.id,
            )
        )
        return {"case": case.id, "co": cos[0].id, "other": cos[1].id}


async def _texts_to(session: AsyncSession, recipient: str) -> list[str]:
    catalog = Catalog.load()
    rows = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)
    )
    texts: list[str] = []
    for row in rows:
        for encoded in row.payload.get("messages", []):
            message = decode_message(encoded)
            texts += [catalog.render(text, "ja") for text in message.texts]
    return texts


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("on_line", [True, False], ids=["owner-on-line", "owner-not-on-line"])
async def test_the_co_books_the_case_and_everyone_hears_the_date(
    session_factory: Factory, clock: ManualClock, on_line: bool
) -> None:
    ids = await _world(session_factory, clock, on_line=on_line)
    async with unit_of_work(session_factory) as session:
        offered = await free_slots(session, ids["case"], ids["co"], now=clock.now())
        assert THURSDAY_14_JST in [slot.starts_at for slot in offered]
        assert all(slot.co_id == ids["co"] for slot in offered)
        booking = await book_consultation(
            session,
            ids["case"],
            ids["co"],
            starts_at=THURSDAY_14_JST,
            mode=BookingMode.ONLINE,
            now=clock.now(),
        )
        booking_id = booking.id

    async with session_factory() as session:
        case = await session.get(Case, ids["case"])
        booking = await session.get(Booking, booking_id)
        assert case is not None
        assert booking is not None
        assert case.status is CaseStatus.BOOKED
        assert case.assigned_co_id == ids["co"]
        assert booking.status is BookingStatus.CONFIRMED
        assert (booking.co_id, booking.mode) == (ids["co"], BookingMode.ONLINE)
        assert booking.starts_at.replace(tzinfo=UTC) == THURSDAY_14_JST
        history = (
            await session.scalars(
                select(CaseStatusHistory).where(CaseStatusHistory.case_id == ids["case"])
            )
        ).all()
        assert [(h.from_status, h.to_status) for h in history] == [
            (CaseStatus.CLAIMED, CaseStatus.BOOKED)
        ]
        told = await _texts_to(session, STAFF_USER)
        assert told == [
            "案件 13-2026-000001（有限会社みなみ製麺）の相談日が 6月4日(木) 14:00 に決まりました。"
        ]
        assert any(
            "13-2026-000001 の相談を 6月4日(木) 14:00（オンライン）で予約しました" in text
            for text in await _texts_to(session, "U0TAKAHASH")
        )
        reminders = (
            await session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.kind == "reminder")
            )
        ).all()
        if on_line:
            assert sorted(reminders) == [
                f"reminder:booking:{booking_id}:2h",
                f"reminder:booking:{booking_id}:day_before",
            ]
        else:
            assert reminders == []
        # The card in the hub's channel would be updated; here the case had no card posted.
        assert await _count(session, Booking) == 1


async def test_a_slot_that_is_not_free_is_refused_and_nothing_is_written(
    session_factory: Factory, clock: ManualClock
) -> None:
    ids = await _world(session_factory, clock, on_line=True)
    tuesday_11 = datetime(2026, 6, 2, 2, 0, tzinfo=UTC)  # 11:00 JST, inside the lead time
    saturday = datetime(2026, 6, 6, 5, 0, tzinfo=UTC)  # not a working day
    half_past = datetime(2026, 6, 4, 5, 30, tzinfo=UTC)  # slots start on the hour
    for starts_at in (tuesday_11, saturday, half_past):
        with pytest.raises(CaseActionError) as refused:
            async with unit_of_work(session_factory) as session:
                await book_consultation(
                    session,
                    ids["case"],
                    ids["co"],
                    starts_at=starts_at,
                    mode=BookingMode.VISIT,
                    now=clock.now(),
                )
        assert refused.value.message.key == "coordinators.error.slot_unavailable"

    # Booked once, the same hour is no longer free: not for this case, nor for another.
    async with unit_of_work(session_factory) as session:
        await book_consultation(
            session,
            ids["case"],
            ids["co"],
            starts_at=THURSDAY_14_JST,
            mode=BookingMode.VISIT,
            now=clock.now(),
        )
    with pytest.raises(CaseActionError) as again:
        async with unit_of_work(session_factory) as session:
            await book_consultation(
                session,
                ids["case"],
                ids["co"],
                starts_at=datetime(2026, 6, 5, 5, 0, tzinfo=UTC),
                mode=BookingMode.VISIT,
                now=clock.now(),
            )
    assert again.value.message.key == "coordinators.error.already_booked"
    async with session_factory() as session:
        assert await _count(session, Booking) == 1
        case = await session.get(Case, ids["case"])
        assert case is not None
        assert case.status is CaseStatus.BOOKED


async def test_someone_elses_case_is_refused(session_factory: Factory, clock: ManualClock) -> None:
    ids = await _world(session_factory, clock, on_line=False)
    with pytest.raises(CaseActionError) as refused:
        async with unit_of_work(session_factory) as session:
            await book_consultation(
                session,
                ids["case"],
                ids["other"],
                starts_at=THURSDAY_14_JST,
                mode=BookingMode.VISIT,
                now=clock.now(),
            )
    assert refused.value.message.key == "coordinators.error.not_yours"
    async with session_factory() as session:
        assert await _count(session, Booking) == 0
        case = await session.get(Case, ids["case"])
        assert case is not None
        assert case.status is CaseStatus.CLAIMED
        assert await _texts_to(session, STAFF_USER) == []
