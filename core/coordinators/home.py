"""What a coordinator sees first when they open the app: their day and their hub's backlog.

A CO starts the day by asking four questions: which cases are mine, whom do I meet today,
what is waiting in our queue (and for how long), and whom did I promise to call back. This
module answers them with plain queries, so the Slack App Home (bots/slack/home.py), a web page
or a report can show the same numbers. Nothing here knows about Slack.

Times are stored in UTC; "today" is the Japanese calendar day, because that is the day the
hub works by (invariant 10).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.clock import JST, to_jst
from core.db.models import (
    Booking,
    Business,
    Case,
    CaseMessage,
    ConsultationRecord,
    Coordinator,
    CoReview,
    Hub,
    HubQueueEntry,
    Person,
)
from core.domain.enums import OPEN_CASE_STATUSES, BookingStatus, CaseStatus, MessageDirection

UPCOMING_DAYS = 14
"""Consultations shown beyond today: two weeks is what a CO plans their visits by."""
FOLLOW_UP_HORIZON_DAYS = 7
"""Follow-ups due within a week are shown, so a call can be planned before it is late."""
LIST_LIMIT = 50
"""More rows than a screen can usefully show; the renderer trims further and says so."""
REVIEW_LIMIT = 5

_ACTIVE_BOOKINGS = (BookingStatus.HELD, BookingStatus.CONFIRMED)


@dataclass(frozen=True)
class CaseLine:
    """One case as a line of a list: enough to recognise it and decide to open it."""

    case_id: int
    number: str
    business: str | None
    """The business name, or the person's name when there is no business yet (創業予定)."""
    status: CaseStatus
    waiting_since: datetime
    """UTC: when the case was created (my cases) or joined the queue (the hub queue)."""
    waiting: timedelta


@dataclass(frozen=True)
class ConsultationLine:
    booking_id: int
    case_id: int
    number: str
    business: str | None
    starts_at: datetime
    """Japan time."""
    ends_at: datetime
    """Japan time."""
    mode: str
    location: str | None


@dataclass(frozen=True)
class FollowUpLine:
    case_id: int
    number: str
    business: str | None
    due_on: date
    overdue: bool


@dataclass(frozen=True)
class ReviewLine:
    stars: int
    comment: str | None
    at: datetime
    """Japan time."""


@dataclass(frozen=True)
class CoordinatorHome:
    """Everything the CO's home shows, in display order, newest facts from the database."""

    co_id: int
    co_name: str
    hub_id: int
    hub_name: str
    today: date
    """The Japanese calendar day the figures are for."""
    my_cases: tuple[CaseLine, ...]
    today_consultations: tuple[ConsultationLine, ...]
    upcoming_consultations: tuple[ConsultationLine, ...]
    queue: tuple[CaseLine, ...]
    queue_total: int
    follow_ups: tuple[FollowUpLine, ...]
    reviews: tuple[ReviewLine, ...]


@dataclass(frozen=True)
class ConversationLine:
    """One message of the case's conversation with the owner (core.chat)."""

    at: datetime
    """Japan time."""
    from_owner: bool
    author: str | None
    """The CO who answered; None for the owner's own messages."""
    content_type: str
    body: str | None
    refused: bool


@dataclass(frozen=True)
class CaseDetails:
    """One case as a CO opens it from the home: who, what, where it stands."""

    case_id: int
    number: str
    hub_id: int
    status: CaseStatus
    business: str | None
    prefecture_code: str | None
    municipality: str | None
    industry: str | None
    employees: int | None
    topics: tuple[str, ...]
    description: str | None
    assigned_co: str | None
    sit_in_requested: bool
    created_at: datetime
    """Japan time."""
    next_booking: datetime | None
    """Japan time of the next active booking, if any."""
    consultations: int
    conversation: tuple[ConversationLine, ...] = ()
    """The newest messages with the owner, oldest first (at most CONVERSATION_LINES)."""


CONVERSATION_LINES = 10
"""What fits the case modal beside the facts; the thread under the card holds the rest."""


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def jst_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants at which a Japanese calendar day starts and ends."""
    start = datetime.combine(day, time(0, 0), tzinfo=JST).astimezone(UTC)
    return start, start + timedelta(days=1)


def _name_of(business: str | None, person: Person | None) -> str | None:
    if business:
        return business
    if person is None or person.erased_at is not None:
        return None
    if person.display_name:
        return person.display_name
    parts = [part for part in (person.family_name, person.given_name) if part]
    return " ".join(parts) or None


async def load_home(session: AsyncSession, co_id: int, now: datetime) -> CoordinatorHome | None:
    """The home of one coordinator at `now`, or None when there is no such active CO."""
    co = await session.get(Coordinator, co_id)
    if co is None or not co.active:
        return None
    hub = await session.get(Hub, co.hub_id)
    if hub is None:
        return None
    now = _utc(now)
    today = to_jst(now).date()
    queue, queue_total = await _hub_queue(session, hub.code, now)
    today_list, upcoming = await _consultations(session, co.id, today)
    return CoordinatorHome(
        co_id=co.id,
        co_name=co.name,
        hub_id=hub.id,
        hub_name=hub.name_ja,
        today=today,
        my_cases=await _my_cases(session, co.id, now),
        today_consultations=today_list,
        upcoming_consultations=upcoming,
        queue=queue,
        queue_total=queue_total,
        follow_ups=await _follow_ups(session, co.id, today),
        reviews=await _reviews(session, co.id),
    )


async def _my_cases(session: AsyncSession, co_id: int, now: datetime) -> tuple[CaseLine, ...]:
    rows = await session.execute(
        select(Case, Business.name, Person)
        .outerjoin(Business, Business.id == Case.business_id)
        .outerjoin(Person, Person.id == Case.person_id)
        .where(Case.assigned_co_id == co_id, Case.status.in_(OPEN_CASE_STATUSES))
        .order_by(Case.created_at, Case.id)
        .limit(LIST_LIMIT)
    )
    lines = []
    for case, business, person in rows.tuples():
        since = _utc(case.claimed_at or case.created_at)
        lines.append(
            CaseLine(
                case_id=case.id,
                number=case.number,
                business=_name_of(business, person),
                status=case.status,
                waiting_since=since,
                waiting=max(now - since, timedelta(0)),
            )
        )
    return tuple(lines)


async def _hub_queue(
    session: AsyncSession, hub_code: str, now: datetime
) -> tuple[tuple[CaseLine, ...], int]:
    """Unclaimed cases of the hub, oldest first: the one waiting longest is the one to take."""
    waiting = and_(HubQueueEntry.hub_code == hub_code, HubQueueEntry.claimed_by_co_id.is_(None))
    total = await session.scalar(select(func.count()).select_from(HubQueueEntry).where(waiting))
    rows = await session.execute(
        select(HubQueueEntry.enqueued_at, Case, Business.name, Person)
        .join(Case, Case.id == HubQueueEntry.case_id)
        .outerjoin(Business, Business.id == Case.business_id)
        .outerjoin(Person, Person.id == Case.person_id)
        .where(waiting)
        .order_by(HubQueueEntry.enqueued_at, HubQueueEntry.case_id)
        .limit(LIST_LIMIT)
    )
    lines = []
    for enqueued_at, case, business, person in rows.tuples():
        since = _utc(enqueued_at)
        lines.append(
            CaseLine(
                case_id=case.id,
                number=case.number,
                business=_name_of(business, person),
                status=case.status,
                waiting_since=since,
                waiting=max(now - since, timedelta(0)),
            )
        )
    return tuple(lines), int(total or 0)


async def _consultations(
    session: AsyncSession, co_id: int, today: date
) -> tuple[tuple[ConsultationLine, ...], tuple[ConsultationLine, ...]]:
    start, end_of_today = jst_day_bounds(today)
    horizon = start + timedelta(days=UPCOMING_DAYS + 1)
    rows = await session.execute(
        select(Booking, Case.number, Business.name, Person)
        .join(Case, Case.id == Booking.case_id)
        .outerjoin(Business, Business.id == Case.business_id)
        .outerjoin(Person, Person.id == Case.person_id)
        .where(
            Booking.co_id == co_id,
            Booking.status.in_(_ACTIVE_BOOKINGS),
            Booking.starts_at >= start,
            Booking.starts_at < horizon,
        )
        .order_by(Booking.starts_at, Booking.id)
        .limit(LIST_LIMIT)
    )
    today_lines: list[ConsultationLine] = []
    upcoming: list[ConsultationLine] = []
    for booking, number, business, person in rows.tuples():
        starts = _utc(booking.starts_at)
        line = ConsultationLine(
            booking_id=booking.id,
            case_id=booking.case_id,
            number=number,
            business=_name_of(business, person),
            starts_at=to_jst(starts),
            ends_at=to_jst(_utc(booking.ends_at)),
            mode=booking.mode.value,
            location=booking.location,
        )
        (today_lines if starts < end_of_today else upcoming).append(line)
    return tuple(today_lines), tuple(upcoming)


async def _follow_ups(session: AsyncSession, co_id: int, today: date) -> tuple[FollowUpLine, ...]:
    """Promised follow-ups of open cases, unless a later consultation already took place."""
    later = aliased(ConsultationRecord)
    superseded = (
        select(later.id)
        .where(
            later.case_id == ConsultationRecord.case_id,
            or_(
                later.held_on > ConsultationRecord.held_on,
                and_(later.held_on == ConsultationRecord.held_on, later.id > ConsultationRecord.id),
            ),
        )
        .exists()
    )
    rows = await session.execute(
        select(ConsultationRecord.case_id, ConsultationRecord.follow_up_on, Case.number)
        .add_columns(Business.name, Person)
        .join(Case, Case.id == ConsultationRecord.case_id)
        .outerjoin(Business, Business.id == Case.business_id)
        .outerjoin(Person, Person.id == Case.person_id)
        .where(
            ConsultationRecord.co_id == co_id,
            ConsultationRecord.follow_up_on.is_not(None),
            ConsultationRecord.follow_up_on <= today + timedelta(days=FOLLOW_UP_HORIZON_DAYS),
            Case.status.in_(OPEN_CASE_STATUSES),
            ~superseded,
        )
        .order_by(ConsultationRecord.follow_up_on, ConsultationRecord.id)
        .limit(LIST_LIMIT)
    )
    lines = []
    for case_id, due_on, number, business, person in rows.tuples():
        assert due_on is not None
        lines.append(
            FollowUpLine(
                case_id=case_id,
                number=number,
                business=_name_of(business, person),
                due_on=due_on,
                overdue=due_on < today,
            )
        )
    return tuple(lines)


async def _reviews(session: AsyncSession, co_id: int) -> tuple[ReviewLine, ...]:
    rows = await session.scalars(
        select(CoReview)
        .where(CoReview.co_id == co_id)
        .order_by(CoReview.created_at.desc(), CoReview.id.desc())
        .limit(REVIEW_LIMIT)
    )
    return tuple(
        ReviewLine(stars=row.stars, comment=row.comment, at=to_jst(_utc(row.created_at)))
        for row in rows
    )


async def load_case_details(
    session: AsyncSession,
    case_id: int,
    *,
    viewer_hub_id: int | None = None,
    viewer_co_id: int | None = None,
) -> CaseDetails | None:
    """A case as a CO sees it, or None when it does not exist.

    With a viewer given, another hub's case is shown only to the CO it is assigned to (an HQ
    specialist helping out): a CO has no business reading other hubs' files.
    """
    row = (
        await session.execute(
            select(Case, Business, Person, Coordinator.name)
            .outerjoin(Business, Business.id == Case.business_id)
            .outerjoin(Person, Person.id == Case.person_id)
            .outerjoin(Coordinator, Coordinator.id == Case.assigned_co_id)
            .where(Case.id == case_id)
        )
    ).first()
    if row is None:
        return None
    case, business, person, co_name = row
    if (
        viewer_hub_id is not None
        and case.hub_id != viewer_hub_id
        and (viewer_co_id is None or case.assigned_co_id != viewer_co_id)
    ):
        return None
    next_start = await session.scalar(
        select(func.min(Booking.starts_at)).where(
            Booking.case_id == case.id, Booking.status.in_(_ACTIVE_BOOKINGS)
        )
    )
    consultations = await session.scalar(
        select(func.count())
        .select_from(ConsultationRecord)
        .where(ConsultationRecord.case_id == case.id)
    )
    return CaseDetails(
        case_id=case.id,
        number=case.number,
        hub_id=case.hub_id,
        status=case.status,
        business=_name_of(business.name if business else None, person),
        prefecture_code=business.prefecture_code if business else None,
        municipality=business.municipality if business else None,
        industry=business.industry if business else None,
        employees=business.employees if business else None,
        topics=tuple(case.topics or ()),
        description=case.description,
        assigned_co=co_name,
        sit_in_requested=case.sit_in_requested,
        created_at=to_jst(_utc(case.created_at)),
        next_booking=to_jst(_utc(next_start)) if next_start is not None else None,
        consultations=int(consultations or 0),
        conversation=await _conversation(session, case.id),
    )


async def _conversation(session: AsyncSession, case_id: int) -> tuple[ConversationLine, ...]:
    rows = (
        await session.execute(
            select(CaseMessage, Coordinator.name)
            .outerjoin(Coordinator, Coordinator.id == CaseMessage.author_co_id)
            .where(CaseMessage.case_id == case_id)
            .order_by(CaseMessage.id.desc())
            .limit(CONVERSATION_LINES)
        )
    ).all()
    return tuple(
        ConversationLine(
            at=to_jst(_utc(message.created_at)),
            from_owner=message.direction is MessageDirection.FROM_OWNER,
            author=author,
            content_type=message.content_type,
            body=message.body,
            refused=message.status == "refused",
        )
        for message, author in reversed(rows)
    )
