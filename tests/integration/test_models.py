"""The schema keeps its promises on both backends: UTC times, no double booking, unique keys.

Each test builds the schema from the models with create_all in a fresh SQLite file or a
fresh PostgreSQL schema, so these checks do not depend on the migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import (
    AsyncSession,
    async_sessionmaker,
)

from core.db.models import (
    Booking,
    Business,
    Case,
    ChannelIdentity,
    ConsultationRecord,
    Coordinator,
    CoReview,
    Hub,
    Person,
    Survey,
    SurveyAnswer,
)
from core.domain.enums import (
    CASE_TRANSITIONS,
    BookingMode,
    BookingStatus,
    CaseSource,
    CaseStatus,
    HubKind,
    InvalidTransitionError,
    Platform,
    SurveyKind,
    can_transition,
    check_transition,
)

NOW = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
JST = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def sessions(
    session_factory: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """A migrated, empty database of each backend (the shared fixtures)."""
    return session_factory


async def _hub_co_case(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[int, int, int, int]:
    """A hub with two COs and one case; returns (hub, co, other co, case) ids."""
    async with sessions.begin() as session:
        hub = Hub(
            code="13",
            kind=HubKind.HUB,
            prefecture_code="13",
            name_ja="東京都よろず支援拠点",
            name_en="Tokyo Yorozu Support Center",
            implementing_org_ja="（一社）東京都信用金庫協会",
        )
        session.add(hub)
        await session.flush()
        co = Coordinator(hub_id=hub.id, name="佐藤 健一", slack_user_id="U1", slack_team_id="T1")
        other = Coordinator(hub_id=hub.id, name="鈴木 美咲", slack_user_id="U2", slack_team_id="T1")
        case = Case(
            number="13-2026-000001",
            hub_id=hub.id,
            source=CaseSource.LINE,
            topics=["finance"],
            created_at=NOW,
            updated_at=NOW,
        )
        session.add_all([co, other, case])
        await session.flush()
        return hub.id, co.id, other.id, case.id


def _booking(hub_id: int, co_id: int, case_id: int, starts_at: datetime) -> Booking:
    return Booking(
        case_id=case_id,
        co_id=co_id,
        hub_id=hub_id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=1),
        mode=BookingMode.VISIT,
        status=BookingStatus.CONFIRMED,
        created_at=NOW,
    )


async def test_aware_datetimes_round_trip_as_utc(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    created_jst = datetime(2026, 6, 2, 10, 30, tzinfo=JST)
    async with sessions.begin() as session:
        business = Business(
            name="テスト商店", name_key="テスト商店", created_at=created_jst, updated_at=created_jst
        )
        session.add(business)
        await session.flush()
        business_id = business.id
    async with sessions() as session:
        loaded = await session.get(Business, business_id)
        assert loaded is not None
        assert loaded.created_at == created_jst
        assert loaded.created_at.utcoffset() == timedelta(0)
        assert loaded.created_at.hour == 1


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    naive = datetime(2026, 6, 2, 10, 30)  # naive on purpose
    with pytest.raises(StatementError, match="naive"):
        async with sessions.begin() as session:
            session.add(Business(name="x", name_key="x", created_at=naive, updated_at=naive))


async def test_defaults_and_enums_are_stored_as_values(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hub_id, _, _, case_id = await _hub_co_case(sessions)
    async with sessions() as session:
        hub = await session.get(Hub, hub_id)
        assert hub is not None
        assert hub.followup_months == [1, 3, 6, 12, 24]
        assert (hub.quiet_start.hour, hub.quiet_end.hour) == (21, 8)  # push window 08:00-21:00
        raw = await session.execute(
            text("SELECT status, source, priority, phase FROM cases WHERE id = :id"),
            {"id": case_id},
        )
        assert raw.one() == ("new", "line", 100, 1)


async def test_check_constraints_refuse_unknown_enum_values(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, _, _, case_id = await _hub_co_case(sessions)
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await session.execute(
                text("UPDATE cases SET status = 'bogus' WHERE id = :id"), {"id": case_id}
            )


async def test_a_co_is_never_double_booked(sessions: async_sessionmaker[AsyncSession]) -> None:
    hub_id, co_id, other_co_id, case_id = await _hub_co_case(sessions)
    slot = datetime(2026, 6, 3, 1, 0, tzinfo=UTC)
    async with sessions.begin() as session:
        first = _booking(hub_id, co_id, case_id, slot)
        session.add(first)
        await session.flush()
        first_id = first.id

    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(_booking(hub_id, co_id, case_id, slot))

    held = _booking(hub_id, co_id, case_id, slot)
    held.status = BookingStatus.HELD
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(held)

    # Another CO at the same time, and the same CO an hour later, are fine.
    async with sessions.begin() as session:
        session.add(_booking(hub_id, other_co_id, case_id, slot))
        session.add(_booking(hub_id, co_id, case_id, slot + timedelta(hours=1)))

    async with sessions.begin() as session:
        cancelled = await session.get(Booking, first_id)
        assert cancelled is not None
        cancelled.status = BookingStatus.CANCELLED
        cancelled.cancelled_at = NOW

    async with sessions.begin() as session:
        session.add(_booking(hub_id, co_id, case_id, slot))

    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Booking).where(Booking.co_id == co_id)
        )
        assert count == 3


async def test_channel_identities_are_unique_per_platform_channel_and_user(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        person = Person()
        session.add(person)
        await session.flush()
        person_id = person.id

    def identity(channel_id: str) -> ChannelIdentity:
        return ChannelIdentity(
            person_id=person_id,
            platform=Platform.LINE,
            channel_id=channel_id,
            external_user_id="U" + "0" * 32,
            created_at=NOW,
        )

    async with sessions.begin() as session:
        session.add(identity("1650000001"))
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(identity("1650000001"))
    async with sessions.begin() as session:
        session.add(identity("1650000002"))


async def test_foreign_keys_are_enforced(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(Coordinator(hub_id=999, name="x"))


async def test_coordinator_slack_identity_is_unique(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hub_id, _, _, _ = await _hub_co_case(sessions)
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(
                Coordinator(hub_id=hub_id, name="x", slack_user_id="U1", slack_team_id="T1")
            )


async def test_one_survey_per_consultation_and_one_answer_per_question(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    hub_id, co_id, _, case_id = await _hub_co_case(sessions)
    async with sessions.begin() as session:
        person = Person()
        consultation = ConsultationRecord(
            case_id=case_id,
            co_id=co_id,
            hub_id=hub_id,
            held_on=NOW.date(),
            minutes=60,
            created_at=NOW,
        )
        session.add_all([person, consultation])
        await session.flush()
        person_id, consultation_id = person.id, consultation.id

    def survey(kind: SurveyKind) -> Survey:
        return Survey(
            case_id=case_id,
            consultation_id=consultation_id,
            person_id=person_id,
            kind=kind,
            due_at=NOW,
        )

    async with sessions.begin() as session:
        first = survey(SurveyKind.SATISFACTION)
        session.add(first)
        await session.flush()
        survey_id = first.id
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(survey(SurveyKind.SATISFACTION))
    async with sessions.begin() as session:
        session.add(survey(SurveyKind.CO_REVIEW))

    async with sessions.begin() as session:
        session.add(
            SurveyAnswer(survey_id=survey_id, question="q1", value="satisfied", answered_at=NOW)
        )
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(
                SurveyAnswer(
                    survey_id=survey_id, question="q1", value={"again": True}, answered_at=NOW
                )
            )

    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            session.add(
                CoReview(consultation_id=consultation_id, co_id=co_id, stars=6, created_at=NOW)
            )
    async with sessions.begin() as session:
        session.add(CoReview(consultation_id=consultation_id, co_id=co_id, stars=5, created_at=NOW))


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (CaseStatus.NEW, CaseStatus.QUEUED, True),
        (CaseStatus.QUEUED, CaseStatus.CLAIMED, True),
        (CaseStatus.CLAIMED, CaseStatus.BOOKED, True),
        (CaseStatus.BOOKED, CaseStatus.CLAIMED, True),
        (CaseStatus.IN_SUPPORT, CaseStatus.HANDED_BACK, True),
        (CaseStatus.QUEUED, CaseStatus.IN_SUPPORT, False),
        (CaseStatus.CLOSED, CaseStatus.QUEUED, False),
        (CaseStatus.CANCELLED, CaseStatus.NEW, False),
        (CaseStatus.CLAIMED, CaseStatus.CLAIMED, False),
    ],
)
def test_case_transitions(current: CaseStatus, target: CaseStatus, allowed: bool) -> None:
    assert can_transition(current, target) is allowed
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(InvalidTransitionError):
            check_transition(current, target)


def test_every_case_status_has_a_transition_entry() -> None:
    assert set(CASE_TRANSITIONS) == set(CaseStatus)
    assert all(status not in CASE_TRANSITIONS[status] for status in CaseStatus)
