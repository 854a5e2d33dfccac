"""Booking, moving and cancelling a consultation on LINE, on SQLite and PostgreSQL.

The owners here are real rows (person, LINE identity, consent, case) and the coordinators are
the seed's demo COs of 東京都 with their weekly hours. The clock stands at Tuesday
2026-06-02 10:00 in Tokyo.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock, to_jst
from core.db.models import (
    Booking,
    Case,
    CaseStatusHistory,
    ChannelIdentity,
    ConsentRecord,
    Coordinator,
    Hub,
    HubClosedDay,
    OutboxMessage,
    Person,
)
from core.domain.enums import (
    BookingStatus,
    CaseSource,
    CaseStatus,
    ConsentNotice,
    OutboxStatus,
    Platform,
)
from core.i18n import Catalog, Text
from core.messages import Action, OutgoingMessage, decode_message
from core.owners import booking, postbacks
from core.owners.context import OwnerContext
from core.owners.events import OwnerEvent, OwnerEventKind
from core.owners.onboarding import ChannelContext, Owner
from yorozu.seed import seed

CATALOG = Catalog.load()


def ja(text: Text) -> str:
    return CATALOG.render(text, "ja")


@dataclass
class Setup:
    hub_id: int
    suzuki: Coordinator
    """鈴木 美咲 (IT, design): mornings online, Tuesday and Thursday afternoons at the hub."""


async def _setup(session_factory: async_sessionmaker[AsyncSession], clock: ManualClock) -> Setup:
    async with session_factory() as session, session.begin():
        await seed(session, demo=True, clock=clock)
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        suzuki = await session.scalar(select(Coordinator).where(Coordinator.name == "鈴木 美咲"))
        assert suzuki is not None
        return Setup(hub.id, suzuki)


async def _new_owner(
    session: AsyncSession, setup: Setup, clock: ManualClock, n: int, topics: list[str]
) -> int:
    """A consented owner with an intake-complete case; returns the person id."""
    now = clock.now()
    person = Person(display_name=f"owner {n}", locale="ja")
    session.add(person)
    await session.flush()
    session.add_all(
        [
            ChannelIdentity(
                person_id=person.id,
                platform=Platform.LINE,
                channel_id="13",
                external_user_id=f"U{n:032d}",
                created_at=now,
            ),
            ConsentRecord(
                person_id=person.id,
                notice=ConsentNotice.PRIVACY,
                version="2026-04",
                channel="line",
                given_at=now,
            ),
            Case(
                number=f"13-2026-{n:06d}",
                hub_id=setup.hub_id,
                person_id=person.id,
                source=CaseSource.LINE,
                topics=topics,
                status=CaseStatus.QUEUED,
                created_at=now,
                updated_at=now,
            ),
        ]
    )
    await session.flush()
    return person.id


async def _context(
    session: AsyncSession,
    setup: Setup,
    clock: ManualClock,
    person_id: int,
    data: str = "",
    params: dict[str, str] | None = None,
) -> OwnerContext:
    person = await session.get(Person, person_id)
    identity = await session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.person_id == person_id)
    )
    assert person is not None
    assert identity is not None
    event = OwnerEvent(
        kind=OwnerEventKind.POSTBACK,
        event_id=f"ev-{person_id}-{data}",
        channel_key="13",
        user_id=identity.external_user_id,
        occurred_at=clock.now(),
        received_at=clock.now(),
        reply_token="token",
        data=data,
        params=params or {},
    )
    channel = ChannelContext(
        channel_key="13",
        hub_id=setup.hub_id,
        hub_name=Text("hub.name", prefecture=Text("prefecture.13")),
        privacy_url="https://example.invalid/privacy",
        national=False,
    )
    return OwnerContext(
        session=session,
        event=event,
        owner=Owner(person, identity, consented=True),
        channel=channel,
        now=clock.now(),
    )


class Owners:
    """Taps buttons as an owner would, each tap its own transaction (one webhook event)."""

    def __init__(
        self, factory: async_sessionmaker[AsyncSession], setup: Setup, clock: ManualClock
    ) -> None:
        self.factory, self.setup, self.clock = factory, setup, clock

    async def new(self, n: int, topics: list[str] | None = None) -> int:
        async with self.factory() as session, session.begin():
            return await _new_owner(session, self.setup, self.clock, n, topics or ["it_digital"])

    async def start(self, person_id: int) -> list[OutgoingMessage]:
        async with self.factory() as session, session.begin():
            ctx = await _context(session, self.setup, self.clock, person_id)
            await booking.start(ctx)
            return ctx.said

    async def tap(
        self, person_id: int, data: str, params: dict[str, str] | None = None
    ) -> list[OutgoingMessage]:
        async with self.factory() as session, session.begin():
            ctx = await _context(session, self.setup, self.clock, person_id, data, params)
            action, values = postbacks.decode(data)
            assert await booking.on_postback(ctx, action, values)
            return ctx.said

    async def show(self, person_id: int) -> list[OutgoingMessage]:
        async with self.factory() as session, session.begin():
            ctx = await _context(session, self.setup, self.clock, person_id)
            await booking.show_bookings(ctx)
            return ctx.said


@pytest.fixture
async def owners(session_factory: async_sessionmaker[AsyncSession], clock: ManualClock) -> Owners:
    return Owners(session_factory, await _setup(session_factory, clock), clock)


def slot_buttons(message: OutgoingMessage) -> list[Action]:
    return [a for a in message.choices if a.data.startswith("a=booking.pick")]


def slot_times(message: OutgoingMessage) -> list[str]:
    return [ja(a.label) for a in slot_buttons(message)]


def button(message: OutgoingMessage, action: str) -> str:
    actions = list(message.choices) + list(message.card.actions if message.card else ())
    return next(a.data for a in actions if postbacks.decode(a.data)[0] == action)


async def _bookings(factory: async_sessionmaker[AsyncSession]) -> list[Booking]:
    async with factory() as session:
        return list(await session.scalars(select(Booking).order_by(Booking.id)))


async def _case(factory: async_sessionmaker[AsyncSession], person_id: int) -> Case:
    async with factory() as session:
        case = await session.scalar(select(Case).where(Case.person_id == person_id))
        assert case is not None
        return case


async def _slack_rows(factory: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with factory() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.platform == Platform.SLACK)
            .order_by(OutboxMessage.id)
        )
        return list(rows)


# -- booking -----------------------------------------------------------------------------------


async def test_an_owner_is_offered_the_it_specialists_next_slots_and_books_one(
    owners: Owners, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    owner = await owners.new(1, ["it_digital"])
    [offer] = await owners.start(owner)

    assert ja(offer.texts[0]).startswith("ご都合のよい日時")
    # 鈴木 covers IT: her Tuesday afternoon at the hub (no slot before 12:00, the lead time),
    # then her online mornings.
    assert slot_times(offer) == [
        "6/2(火) 13:00 来所",
        "6/2(火) 14:00 来所",
        "6/2(火) 15:00 来所",
        "6/2(火) 16:00 来所",
        "6/3(水) 09:00 オンライン",
        "6/3(水) 10:00 オンライン",
        "6/3(水) 11:00 オンライン",
        "6/4(木) 09:00 オンライン",
    ]
    assert offer.picker is not None
    assert postbacks.decode(offer.picker.data)[0] == booking.DAY
    assert len(offer.choices) + 1 <= 13

    [confirmation] = await owners.tap(owner, slot_buttons(offer)[4].data)

    assert (
        ja(confirmation.texts[0])
        == "ご予約を承りました。当日お会いできるのを楽しみにしております。"
    )
    card = confirmation.card
    assert card is not None
    rows = {ja(label): ja(value) for label, value in card.rows}
    assert rows["日時"] == "6月3日(水) 09:00〜10:00"
    assert rows["方法"] == "オンライン（ビデオ通話）"
    assert rows["担当"] == "鈴木 美咲 コーディネーター"
    assert rows["専門分野"] == "IT・デジタル、デザイン"
    assert rows["受付番号"] == "13-2026-000001"
    assert [ja(a.label) for a in card.actions] == ["予約を変更", "キャンセル"]

    [held] = await _bookings(session_factory)
    assert held.status is BookingStatus.CONFIRMED
    assert to_jst(held.starts_at).isoformat() == "2026-06-03T09:00:00+09:00"
    case = await _case(session_factory, owner)
    assert case.status is CaseStatus.BOOKED
    assert case.assigned_co_id == owners.setup.suzuki.id
    async with session_factory() as session:
        history = list(
            await session.scalars(
                select(CaseStatusHistory).where(CaseStatusHistory.case_id == case.id)
            )
        )
    assert [(h.from_status, h.to_status) for h in history] == [
        (CaseStatus.QUEUED, CaseStatus.BOOKED)
    ]

    # Asking to book again shows the booking instead of a second one.
    [again] = await owners.start(owner)
    assert again.texts[0].key == "booking.already_booked"
    assert again.card is not None


async def test_a_visit_card_names_the_hub(owners: Owners) -> None:
    owner = await owners.new(1)
    [offer] = await owners.start(owner)
    [confirmation] = await owners.tap(owner, slot_buttons(offer)[0].data)
    assert confirmation.card is not None
    rows = {ja(label): ja(value) for label, value in confirmation.card.rows}
    assert rows["日時"] == "6月2日(火) 13:00〜14:00"
    assert rows["方法"] == "東京都よろず支援拠点にて（ご来所）"


async def test_another_day_from_the_date_picker_respects_holidays_and_closed_days(
    owners: Owners, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session, session.begin():
        session.add(HubClosedDay(hub_id=owners.setup.hub_id, day=datetime(2026, 6, 4).date()))
    owner = await owners.new(1)
    [offer] = await owners.start(owner)
    assert "6/4(木) 09:00 オンライン" not in slot_times(offer)  # closed day
    day = offer.picker.data if offer.picker else ""

    [on_day] = await owners.tap(owner, day, {"date": "2026-06-08"})
    assert ja(on_day.texts[0]) == "6月8日(月)の空き枠です。ご都合のよい時間をお選びください。"
    assert slot_times(on_day) == [
        "6/8(月) 09:00 オンライン",
        "6/8(月) 10:00 オンライン",
        "6/8(月) 11:00 オンライン",
    ]

    # 2026-07-20 is 海の日: nothing that day, the next days instead.
    [holiday] = await owners.tap(owner, day, {"date": "2026-07-20"})
    assert ja(holiday.texts[0]).startswith("申し訳ありません。7月20日(月)はご予約いただける枠")
    assert slot_times(holiday)[0] == "7/21(火) 09:00 オンライン"


# -- the slot taken in the meantime ------------------------------------------------------------


async def test_a_slot_taken_in_the_meantime_offers_the_next_ones(
    owners: Owners, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await owners.new(1), await owners.new(2)
    [offer_1] = await owners.start(first)
    [offer_2] = await owners.start(second)
    contested = slot_buttons(offer_2)[0]
    await owners.tap(first, slot_buttons(offer_1)[0].data)

    [answer] = await owners.tap(second, contested.data)

    assert answer.texts[0].key == "booking.slot_taken"
    assert ja(contested.label) not in slot_times(answer)
    assert slot_times(answer)[0] == "6/2(火) 14:00 来所"
    assert len(await _bookings(session_factory)) == 1


async def test_a_stale_button_for_a_past_slot_is_refused_politely(
    owners: Owners, clock: ManualClock, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    owner = await owners.new(1)
    [offer] = await owners.start(owner)
    clock.advance(timedelta(hours=5))
    [answer] = await owners.tap(owner, slot_buttons(offer)[0].data)
    assert answer.texts[0].key == "booking.slot_gone"
    assert slot_times(answer)[0] == "6/3(水) 09:00 オンライン"
    assert await _bookings(session_factory) == []


# -- 予約の確認・変更 ---------------------------------------------------------------------------


async def test_no_bookings_gets_a_friendly_invitation(owners: Owners) -> None:
    owner = await owners.new(1)
    [message] = await owners.show(owner)
    assert message.texts[0].key == "booking.list.none"
    [book] = message.choices
    assert ja(book.label) == "相談を予約する"
    assert postbacks.decode(book.data)[0] == booking.START


async def test_moving_keeps_the_old_slot_until_the_new_one_is_held(
    owners: Owners, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    owner = await owners.new(1)
    [offer] = await owners.start(owner)
    await owners.tap(owner, slot_buttons(offer)[0].data)  # 6/2 13:00

    intro, card = await owners.show(owner)
    assert ja(intro.texts[0]) == "今後のご予約は1件です。"
    assert card.card is not None
    [choose] = await owners.tap(owner, button(card, booking.MOVE))
    assert choose.texts[0].key == "booking.move.intro"
    assert "6/2(火) 13:00 来所" not in slot_times(choose)
    [old] = await _bookings(session_factory)
    assert old.status is BookingStatus.CONFIRMED  # not released yet

    [moved] = await owners.tap(owner, slot_buttons(choose)[2].data)  # 6/2 16:00

    assert ja(moved.texts[0]) == "ご予約の日時を変更しました。"
    old, new = await _bookings(session_factory)
    assert old.status is BookingStatus.CANCELLED
    assert old.cancelled_at is not None
    assert new.status is BookingStatus.CONFIRMED
    assert to_jst(new.starts_at).hour == 16
    assert (await _case(session_factory, owner)).status is CaseStatus.BOOKED
    booked, notice = await _slack_rows(session_factory)
    # The CO heard of the booking when it was made, then of the move.
    assert booked.idempotency_key == f"booking:{old.id}:booked:co"
    assert ja(decode_message(booked.payload["messages"][0]).texts[0]) == (
        "【新規予約】受付番号 13-2026-000001 の相談が、相談者の方により LINE から "
        "6月2日(火) 13:00〜14:00 で予約されました。"
    )
    assert notice.idempotency_key == f"booking:{old.id}:moved:co"
    text = decode_message(notice.payload["messages"][0]).texts[0]
    assert ja(text) == (
        "【予約変更】受付番号 13-2026-000001 の 6月2日(火) 13:00〜14:00 のご予約が、"
        "相談者の方により 6月2日(火) 16:00〜17:00 に変更されました。"
    )

    # The old hour is free again for the next owner.
    other = await owners.new(2)
    [offer_2] = await owners.start(other)
    assert slot_times(offer_2)[0] == "6/2(火) 13:00 来所"


async def test_cancelling_asks_first_then_frees_the_slot_and_tells_the_co(
    owners: Owners, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    owner = await owners.new(1)
    [offer] = await owners.start(owner)
    [confirmation] = await owners.tap(owner, slot_buttons(offer)[0].data)

    [question] = await owners.tap(owner, button(confirmation, booking.CANCEL))
    assert (
        ja(question.texts[0])
        == "6月2日(火) 13:00〜14:00のご予約をキャンセルします。よろしいですか？"
    )
    assert [ja(a.label) for a in question.choices] == ["キャンセルする", "キャンセルしない"]
    [kept] = await owners.tap(owner, button(question, booking.KEEP))
    assert kept.texts[0].key == "booking.cancel.kept"
    [still] = await _bookings(session_factory)
    assert still.status is BookingStatus.CONFIRMED

    [done] = await owners.tap(owner, button(question, booking.CANCEL_CONFIRM))

    assert ja(done.texts[0]).startswith("6月2日(火) 13:00〜14:00のご予約をキャンセルしました。")
    assert postbacks.decode(done.choices[0].data)[0] == booking.START
    [cancelled] = await _bookings(session_factory)
    assert cancelled.status is BookingStatus.CANCELLED
    assert cancelled.cancelled_at is not None
    case = await _case(session_factory, owner)
    assert case.status is CaseStatus.CLAIMED
    assert case.assigned_co_id == owners.setup.suzuki.id
    _booked, notice = await _slack_rows(session_factory)
    assert notice.idempotency_key == f"booking:{cancelled.id}:cancelled:co"
    assert notice.kind == "slack_message"
    assert notice.status is OutboxStatus.PENDING
    assert notice.recipient == owners.setup.suzuki.slack_user_id
    assert notice.channel_id == owners.setup.suzuki.slack_team_id
    text = decode_message(notice.payload["messages"][0]).texts[0]
    assert text.key == "booking.co_cancelled"
    assert "13-2026-000001" in ja(text)
    assert "6月2日(火) 13:00〜14:00" in ja(text)

    # Cancelling twice (a second tap on the old button) changes nothing more.
    [again] = await owners.tap(owner, button(question, booking.CANCEL_CONFIRM))
    assert again.texts[0].key == "booking.not_found"
    assert len(await _slack_rows(session_factory)) == 2
    [empty] = await owners.show(owner)
    assert empty.texts[0].key == "booking.list.none"

    # The hour is offered again.
    [offer_again] = await owners.start(owner)
    assert slot_times(offer_again)[0] == "6/2(火) 13:00 来所"


async def test_another_owners_booking_cannot_be_touched(owners: Owners) -> None:
    owner, stranger = await owners.new(1), await owners.new(2)
    [offer] = await owners.start(owner)
    [confirmation] = await owners.tap(owner, slot_buttons(offer)[0].data)
    for action in (booking.CANCEL, booking.CANCEL_CONFIRM, booking.MOVE):
        [answer] = await owners.tap(
            stranger, button(confirmation, booking.CANCEL).replace(booking.CANCEL, action, 1)
        )
        assert answer.texts[0].key == "booking.not_found"


# -- the race ----------------------------------------------------------------------------------


async def test_a_hundred_owners_racing_for_one_slot_get_one_booking(
    owners: Owners, backend: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    people = [await owners.new(n) for n in range(1, 101)]
    [offer] = await owners.start(people[0])
    contested = slot_buttons(offer)[0]
    _, values = postbacks.decode(contested.data)

    async def race(person_id: int) -> list[OutgoingMessage]:
        async with owners.factory() as session, session.begin():
            case = await session.scalar(select(Case.id).where(Case.person_id == person_id))
            data = postbacks.encode(booking.PICK, c=str(case), co=values["co"], t=values["t"])
            ctx = await _context(session, owners.setup, owners.clock, person_id, data)
            await booking.on_postback(ctx, booking.PICK, postbacks.decode(data)[1])
            return ctx.said

    if backend == "postgresql":
        answers = await asyncio.gather(*(race(p) for p in people))
    else:
        # SQLite serialises writers: the database still decides, one owner at a time.
        answers = [await race(p) for p in people]

    winners = [a for a in answers if a[0].texts[0].key == "booking.confirmed"]
    losers = [a for a in answers if a[0].texts[0].key == "booking.slot_taken"]
    assert len(winners) == 1
    assert len(losers) == 99
    for [message] in losers:
        assert slot_buttons(message), "every loser is offered other slots"
        assert ja(contested.label) not in slot_times(message)
    async with session_factory() as session:
        active = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.status.in_([BookingStatus.CONFIRMED, BookingStatus.HELD]))
        )
        booked_cases = await session.scalar(
            select(func.count()).select_from(Case).where(Case.status == CaseStatus.BOOKED)
        )
    assert active == 1
    assert booked_cases == 1


async def test_a_co_who_takes_the_case_meanwhile_keeps_it_when_the_owner_books(
    owners: Owners, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    owner = await owners.new(1, ["it_digital"])
    [offer] = await owners.start(owner)  # 鈴木's times: she covers IT
    case = await _case(session_factory, owner)
    async with session_factory() as session, session.begin():
        takahashi = await session.scalar(select(Coordinator).where(Coordinator.name == "高橋 浩二"))
        assert takahashi is not None
        claimed = await session.get(Case, case.id)
        assert claimed is not None
        claimed.assigned_co_id = takahashi.id  # 高橋さん took it from the card in Slack

    [again] = await owners.tap(owner, slot_buttons(offer)[0].data)

    assert ja(again.texts[0]) == (
        "ご相談の担当が 高橋 浩二 コーディネーター に決まりました。"
        "担当者の空き枠からお選びください。"
    )
    assert {postbacks.decode(a.data)[1]["co"] for a in slot_buttons(again)} == {str(takahashi.id)}
    assert await _bookings(session_factory) == []

    [confirmation] = await owners.tap(owner, slot_buttons(again)[0].data)
    assert confirmation.card is not None
    [held] = await _bookings(session_factory)
    assert held.co_id == takahashi.id
    assert (await _case(session_factory, owner)).assigned_co_id == takahashi.id
