"""The promises the front door makes to owners, kept on SQLite and PostgreSQL with a moving clock.

Booking reminders (planned on confirming, moved and cancelled with the booking), the
satisfaction survey after a consultation with the CO review, and the post-founding
follow-up. What is asserted is what an owner or a CO would notice: the rows in the outbox
(when they are due, what they say, which buttons they carry) and the answers given.

The owner is a real row set (person, LINE identity, consent, case) at 東京都's hub, booking
鈴木 美咲 from the demo seed. The clock starts at Tuesday 2026-06-02 10:00 in Tokyo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import count

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import JST, ManualClock
from core.db.models import (
    Booking,
    Business,
    Case,
    CaseMessage,
    ChannelIdentity,
    ConsentRecord,
    ConsultationRecord,
    Coordinator,
    CoReview,
    Hub,
    OutboxMessage,
    Person,
    PersonBusiness,
    Survey,
    SurveyAnswer,
)
from core.domain.enums import (
    BookingStatus,
    CaseSource,
    CaseStatus,
    ConsentNotice,
    OutboxStatus,
    Platform,
    SurveyKind,
    SurveyStatus,
)
from core.i18n import Catalog, Text
from core.messages import OutgoingMessage, decode_message
from core.owners import booking, handler, postbacks
from core.owners.events import OwnerEvent, OwnerEventKind
from core.owners.onboarding import ChannelContext
from core.surveys.aggregate import co_reviews, satisfaction_by_co, satisfaction_by_hub
from scheduler import owner_jobs
from yorozu.seed import seed

CATALOG = Catalog.load()
CHANNEL = "13"
_events = count(1)


def ja(text: Text) -> str:
    return CATALOG.render(text, "ja")


def jst(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=JST).astimezone(UTC)


@dataclass
class World:
    factory: async_sessionmaker[AsyncSession]
    clock: ManualClock
    hub_id: int
    suzuki: Coordinator

    # -- setting up ----------------------------------------------------------------------

    async def owner(
        self, n: int, *, topics: list[str] | None = None, founded: date | None = None
    ) -> int:
        """A consented owner on LINE with a business and a claimed case; answers the person id."""
        now = self.clock.now()
        async with self.factory() as session, session.begin():
            person = Person(display_name=f"owner {n}", locale="ja")
            business = Business(
                name=f"テスト商店{n}",
                name_key=f"テスト商店{n}",
                prefecture_code="13",
                founding_date=founded,
                created_at=now,
                updated_at=now,
            )
            session.add_all([person, business])
            await session.flush()
            session.add_all(
                [
                    PersonBusiness(person_id=person.id, business_id=business.id),
                    ChannelIdentity(
                        person_id=person.id,
                        platform=Platform.LINE,
                        channel_id=CHANNEL,
                        external_user_id=user_id(n),
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
                        hub_id=self.hub_id,
                        business_id=business.id,
                        person_id=person.id,
                        source=CaseSource.LINE,
                        topics=topics or ["it_digital"],
                        status=CaseStatus.QUEUED,
                        created_at=now,
                        updated_at=now,
                    ),
                ]
            )
            return person.id

    async def case(self, person_id: int) -> Case:
        async with self.factory() as session:
            found = await session.scalar(
                select(Case).where(Case.person_id == person_id).order_by(Case.id)
            )
            assert found is not None
            return found

    async def consultation(self, person_id: int, held_on: date) -> int:
        """The CO records a consultation with the owner (the カルテ row)."""
        case = await self.case(person_id)
        async with self.factory() as session, session.begin():
            record = ConsultationRecord(
                case_id=case.id,
                co_id=self.suzuki.id,
                hub_id=self.hub_id,
                held_on=held_on,
                minutes=60,
                created_at=self.clock.now(),
            )
            session.add(record)
            await session.flush()
            return record.id

    # -- the owner on LINE ---------------------------------------------------------------

    async def tap(
        self, person_id: int, data: str, params: dict[str, str] | None = None
    ) -> list[OutgoingMessage]:
        return await self._event(person_id, OwnerEventKind.POSTBACK, data=data, params=params)

    async def say(self, person_id: int, text: str) -> list[OutgoingMessage]:
        return await self._event(person_id, OwnerEventKind.TEXT, text=text)

    async def _event(
        self,
        person_id: int,
        kind: OwnerEventKind,
        *,
        data: str | None = None,
        text: str | None = None,
        params: dict[str, str] | None = None,
    ) -> list[OutgoingMessage]:
        """One webhook event, one transaction, through the real owner handler."""
        now = self.clock.now()
        async with self.factory() as session, session.begin():
            identity = await session.scalar(
                select(ChannelIdentity).where(ChannelIdentity.person_id == person_id)
            )
            assert identity is not None
            event = OwnerEvent(
                kind=kind,
                event_id=f"ev-{next(_events)}",
                channel_key=CHANNEL,
                user_id=identity.external_user_id,
                occurred_at=now,
                received_at=now,
                reply_token="token",
                text=text,
                data=data,
                params=params or {},
            )
            channel = ChannelContext(
                channel_key=CHANNEL,
                hub_id=self.hub_id,
                hub_name=Text("hub.name", prefecture=Text("prefecture.13")),
                privacy_url="https://example.invalid/privacy",
                national=False,
            )
            ctx = await handler.handle_owner_event(session, event, channel, now)
            assert ctx is not None
            return ctx.said

    # -- what reached the outbox ---------------------------------------------------------

    async def rows(self, kind: str, *, status: OutboxStatus | None = None) -> list[OutboxMessage]:
        async with self.factory() as session:
            query = select(OutboxMessage).where(OutboxMessage.kind == kind)
            if status is not None:
                query = query.where(OutboxMessage.status == status)
            return list(await session.scalars(query.order_by(OutboxMessage.not_before)))

    async def run(self, job: str) -> int:
        result: int = await owner_jobs.OWNER_JOBS[job](self.factory, self.clock)
        return result


def user_id(n: int) -> str:
    return f"U{n:032d}"


def message(row: OutboxMessage) -> OutgoingMessage:
    [only] = [decode_message(item) for item in row.payload["messages"]]
    return only


def buttons(msg: OutgoingMessage) -> dict[str, str]:
    actions = list(msg.choices) + list(msg.card.actions if msg.card else ())
    return {ja(a.label): a.data for a in actions}


@pytest.fixture
async def world(session_factory: async_sessionmaker[AsyncSession], clock: ManualClock) -> World:
    async with session_factory() as session, session.begin():
        await seed(session, demo=True, clock=clock)
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        suzuki = await session.scalar(select(Coordinator).where(Coordinator.name == "鈴木 美咲"))
        assert hub is not None
        assert suzuki is not None
        return World(session_factory, clock, hub.id, suzuki)


async def _book(world: World, person_id: int, day: str, *, move: int | None = None) -> Booking:
    """Pick the first free slot of `day` as the owner does (date picker, then a slot)."""
    case = await world.case(person_id)
    extra = {"mv": move} if move is not None else {}
    [offer] = await world.tap(
        person_id, postbacks.encode(booking.DAY, c=case.id, **extra), {"date": day}
    )
    first = next(a.data for a in offer.choices if a.data.startswith("a=booking.pick"))
    [confirmation] = await world.tap(person_id, first)
    assert ja(confirmation.texts[0]) in (ja(Text("booking.confirmed")), ja(Text("booking.moved")))
    async with world.factory() as session:
        latest = await session.scalar(
            select(Booking)
            .where(Booking.case_id == case.id, Booking.status == BookingStatus.CONFIRMED)
            .order_by(Booking.id.desc())
            .limit(1)
        )
        assert latest is not None
        return latest


# -- booking reminders ---------------------------------------------------------------------


async def test_a_confirmed_booking_gets_two_reminders_at_the_right_japan_times(
    world: World,
) -> None:
    owner = await world.owner(1)
    booked = await _book(world, owner, "2026-06-04")
    assert booked.starts_at == jst(6, 4, 9)  # 鈴木's Thursday morning, online

    reminders = await world.rows("reminder", status=OutboxStatus.PENDING)
    # The day before at 10:00, and two hours before: 07:00 is before the owners' window opens
    # (08:00), so it is planned earlier, at 20:00 the evening before; never later, where it
    # would arrive after the start.
    assert [row.not_before for row in reminders] == [jst(6, 3, 10), jst(6, 3, 20)]
    assert {row.idempotency_key for row in reminders} == {
        f"reminder:booking:{booked.id}:day_before",
        f"reminder:booking:{booked.id}:2h",
    }
    assert all(row.priority == 10 and row.recipient == user_id(1) for row in reminders)
    day_before = message(reminders[0])
    assert ja(day_before.texts[0]).startswith(
        "明日はご相談のご予約日です（6月4日(木) 09:00〜10:00）"
    )
    assert day_before.meta["stale_after"] == booked.starts_at.isoformat()
    # The evening one says 明日 too, since that is when it is read.
    assert ja(message(reminders[1]).texts[0]).startswith(
        "明日はご相談のご予約日です（6月4日(木) 09:00〜10:00）"
    )
    assert buttons(day_before) == {
        "予約を確認": f"a=reminder.confirm&b={booked.id}",
        "変更": f"a=booking.move&b={booked.id}",
        "キャンセル": f"a=booking.cancel&b={booked.id}",
    }

    # The owner's later answers are not held back behind tomorrow's reminder.
    assert all(row.ordering_key != f"line:{CHANNEL}:{user_id(1)}" for row in reminders)


async def test_moving_a_booking_moves_its_reminders_and_cancelling_cancels_them(
    world: World,
) -> None:
    owner = await world.owner(2)
    first = await _book(world, owner, "2026-06-04")
    moved = await _book(world, owner, "2026-06-09", move=first.id)
    assert moved.id != first.id

    rows = await world.rows("reminder")
    old = [r for r in rows if r.idempotency_key.startswith(f"reminder:booking:{first.id}:")]
    new = [r for r in rows if r.idempotency_key.startswith(f"reminder:booking:{moved.id}:")]
    assert {r.status for r in old} == {OutboxStatus.CANCELLED}
    assert len(old) == 2
    assert [r.status for r in new] == [OutboxStatus.PENDING, OutboxStatus.PENDING]
    # 9 June 09:00: the day before at 10:00, and two hours before moved to 20:00 that evening.
    assert moved.starts_at == jst(6, 9, 9)
    assert [r.not_before for r in new] == [jst(6, 8, 10), jst(6, 8, 20)]

    await world.tap(owner, postbacks.encode(booking.CANCEL_CONFIRM, b=moved.id))
    assert await world.rows("reminder", status=OutboxStatus.PENDING) == []


async def test_the_safety_net_plans_reminders_for_bookings_made_elsewhere_once(
    world: World,
) -> None:
    owner = await world.owner(3)
    case = await world.case(owner)
    async with world.factory() as session, session.begin():
        session.add(
            Booking(
                case_id=case.id,
                co_id=world.suzuki.id,
                hub_id=world.hub_id,
                starts_at=jst(6, 5, 9),
                ends_at=jst(6, 5, 10),
                mode="online",
                created_at=world.clock.now(),
            )
        )

    assert await world.run("plan_booking_reminders") == 2
    assert await world.run("plan_booking_reminders") == 0
    assert [r.not_before for r in await world.rows("reminder")] == [jst(6, 4, 10), jst(6, 4, 20)]


async def test_the_owner_confirms_from_the_reminder(world: World) -> None:
    owner = await world.owner(4)
    booked = await _book(world, owner, "2026-06-04")
    [answer] = await world.tap(owner, f"a=reminder.confirm&b={booked.id}")
    assert ja(answer.texts[0]).startswith("ご確認ありがとうございます")
    assert answer.card is not None


# -- the satisfaction survey and the CO review --------------------------------------------


async def _survey_row(world: World, consultation_id: int) -> tuple[Survey, OutboxMessage]:
    async with world.factory() as session:
        found = await session.scalar(
            select(Survey).where(Survey.consultation_id == consultation_id)
        )
        row = await session.scalar(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"survey:consultation:{consultation_id}"
            )
        )
        assert found is not None
        assert row is not None
        return found, row


async def test_a_consultation_gets_one_survey_the_next_business_day_at_ten(
    world: World,
) -> None:
    owner = await world.owner(5)
    world.clock.set(jst(6, 5, 16))  # Friday afternoon
    record = await world.consultation(owner, date(2026, 6, 5))

    assert await world.run("plan_surveys") == 1
    assert await world.run("plan_surveys") == 0  # twice: planned once

    planned, row = await _survey_row(world, record)
    assert planned.due_at == jst(6, 8, 10)  # Monday 10:00
    assert planned.expires_at == jst(6, 15, 10)
    assert row.not_before == jst(6, 8, 10)
    assert row.priority == 50
    push = message(row)
    assert (
        ja(push.texts[0])
        == "6月5日(金)は、よろず支援拠点にご相談いただき、ありがとうございました。"
    )
    assert list(buttons(push)) == ["大変満足", "満足", "普通", "不満", "大変不満"]


async def test_a_hubs_survey_time_set_in_the_console_is_when_the_survey_goes(
    world: World,
) -> None:
    from datetime import time

    async with world.factory() as session, session.begin():
        hub = await session.get(Hub, world.hub_id)
        assert hub is not None
        hub.survey_send_at = time(11, 30)
    owner = await world.owner(5)
    world.clock.set(jst(6, 5, 16))  # Friday afternoon
    record = await world.consultation(owner, date(2026, 6, 5))
    assert await world.run("plan_surveys") == 1
    planned, row = await _survey_row(world, record)
    assert planned.due_at == jst(6, 8, 11, 30)  # Monday 11:30
    assert row.not_before == planned.due_at


async def test_answering_twice_counts_once_and_the_co_review_is_stored(world: World) -> None:
    owner = await world.owner(6)
    record = await world.consultation(owner, date(2026, 6, 2))
    await world.run("plan_surveys")
    planned, row = await _survey_row(world, record)
    world.clock.set(jst(6, 3, 10, 5))
    rate = buttons(message(row))

    first = await world.tap(owner, rate["大変満足"])
    assert ja(first[0].texts[0]) == "ご回答ありがとうございました。"
    assert [ja(c.label) for c in first[0].choices] == ["コメントせずに次へ"]

    again = await world.tap(owner, rate["大変不満"])
    assert ja(again[0].texts[0]) == "すでにご回答いただいています。ご協力ありがとうございました。"

    stars = await world.say(owner, "とても分かりやすかったです")
    assert ja(stars[0].texts[0]) == "貴重なご意見をありがとうございます。"
    assert "鈴木 美咲" in ja(stars[0].texts[1])
    star_buttons = buttons(stars[0])
    assert list(star_buttons) == ["★★★★★", "★★★★☆", "★★★☆☆", "★★☆☆☆", "★☆☆☆☆"]

    thanks = await world.tap(owner, star_buttons["★★★★☆"])
    assert ja(thanks[0].texts[0]) == "評価をありがとうございました。"
    await world.say(owner, "また相談します")
    assert ja((await world.tap(owner, star_buttons["★☆☆☆☆"]))[0].texts[0]).startswith(
        "コーディネーターの評価はすでに"
    )

    async with world.factory() as session:
        answers = {
            a.question: a.value
            for a in await session.scalars(
                select(SurveyAnswer).where(SurveyAnswer.survey_id == planned.id)
            )
        }
        review = await session.scalar(select(CoReview))
        stored = await session.get(Survey, planned.id)
    assert answers == {"satisfaction": "very_satisfied", "comment": "とても分かりやすかったです"}
    assert stored is not None
    assert stored.status is SurveyStatus.ANSWERED
    assert review is not None
    assert (review.co_id, review.stars, review.comment) == (world.suzuki.id, 4, "また相談します")


async def test_a_comment_typed_after_its_window_reaches_the_case_and_the_owner_is_thanked(
    world: World,
) -> None:
    owner = await world.owner(6)
    record = await world.consultation(owner, date(2026, 6, 2))
    await world.run("plan_surveys")
    planned, row = await _survey_row(world, record)
    world.clock.set(jst(6, 3, 10, 5))
    await world.tap(owner, buttons(message(row))["満足"])
    world.clock.set(jst(6, 5, 9, 0))  # the day for a comment has passed

    late = await world.say(owner, "説明がとても丁寧でした。次回もお願いします")
    assert [ja(t) for t in late[0].texts] == [
        "ご感想ありがとうございます。担当の相談員にお伝えしました。"
    ]
    async with world.factory() as session:
        kept = list(
            await session.scalars(select(CaseMessage).where(CaseMessage.case_id == planned.case_id))
        )
    assert [k.body for k in kept] == ["説明がとても丁寧でした。次回もお願いします"]


async def test_satisfaction_aggregates_per_co_and_hub_and_expired_answers_do_not_count(
    world: World,
) -> None:
    owners = [await world.owner(n) for n in (7, 8, 9)]
    records = [await world.consultation(o, date(2026, 6, 2)) for o in owners]
    assert await world.run("plan_surveys") == 3
    world.clock.set(jst(6, 3, 11))
    for owner, record, answer in zip(owners[:2], records[:2], ("満足", "普通"), strict=True):
        _survey, row = await _survey_row(world, record)
        await world.tap(owner, buttons(message(row))[answer])
        await world.tap(owner, f"a=survey.stars&s={_survey.id}&v=5")

    world.clock.set(jst(6, 11, 10))  # past the 7 days
    assert await world.run("expire_surveys") == 1
    _late, late_row = await _survey_row(world, records[2])
    [late] = await world.tap(owners[2], buttons(message(late_row))["大変満足"])
    assert ja(late.texts[0]).startswith("このアンケートの回答期限は過ぎています")

    async with world.factory() as session:
        by_co = await satisfaction_by_co(session, fiscal_year=2026)
        by_hub = await satisfaction_by_hub(session, fiscal_year=2026)
        last_year = await satisfaction_by_hub(session, fiscal_year=2025)
        reviews = await co_reviews(session, fiscal_year=2026, hub_id=world.hub_id)
    assert (by_co[world.suzuki.id].answers, by_co[world.suzuki.id].satisfied) == (2, 1)
    assert by_hub[world.hub_id].rate == 0.5
    assert last_year == {}
    assert reviews[world.suzuki.id].count == 2
    assert reviews[world.suzuki.id].average == 5.0


# -- post-founding follow-ups ---------------------------------------------------------------


async def test_a_founded_business_is_followed_up_at_three_months(world: World) -> None:
    owner = await world.owner(10, founded=date(2026, 3, 2))
    await world.consultation(owner, date(2026, 4, 10))
    world.clock.set(jst(6, 1, 10))

    assert await world.run("plan_followups") == 1
    assert await world.run("plan_followups") == 0
    [row] = await world.rows("followup")
    assert row.not_before == jst(6, 2, 10)
    assert row.priority == 90
    assert row.idempotency_key.endswith(":3")
    push = message(row)
    assert ja(push.texts[0]) == "創業から3か月が経ちました。その後いかがですか？"
    assert list(buttons(push)) == ["順調です", "少し不安", "相談したい"]


async def test_a_founder_who_consulted_about_founding_is_followed_up_after_the_consultation(
    world: World,
) -> None:
    owner = await world.owner(11, topics=["founding"])
    world.clock.set(jst(4, 1, 10))
    await world.consultation(owner, date(2026, 4, 1))
    world.clock.set(jst(4, 30, 10))
    assert await world.run("plan_followups") == 1
    [row] = await world.rows("followup")
    assert row.not_before == jst(5, 1, 10)
    assert ja(message(row).texts[0]).startswith("ご相談から1か月")


async def test_wanting_to_consult_opens_a_queued_case_and_tells_the_previous_co(
    world: World,
) -> None:
    owner = await world.owner(12, founded=date(2026, 3, 2))
    await world.consultation(owner, date(2026, 4, 10))
    async with world.factory() as session, session.begin():
        previous = await session.scalar(select(Case).where(Case.person_id == owner))
        assert previous is not None
        previous.status = CaseStatus.CLOSED
    world.clock.set(jst(6, 1, 10))
    await world.run("plan_followups")
    [row] = await world.rows("followup")
    world.clock.set(jst(6, 2, 10, 30))
    choices = buttons(message(row))

    [answer] = await world.tap(owner, choices["相談したい"])
    async with world.factory() as session:
        cases = list(
            await session.scalars(select(Case).where(Case.person_id == owner).order_by(Case.id))
        )
    assert len(cases) == 2
    new = cases[1]
    assert (new.status, new.source, new.hub_id) == (
        CaseStatus.QUEUED,
        CaseSource.FOLLOWUP,
        world.hub_id,
    )
    assert new.number in ja(answer.texts[0])

    dms = [
        r
        for r in await world.rows("slack_message")
        if r.recipient == world.suzuki.slack_user_id and r.idempotency_key.startswith("followup:")
    ]
    assert len(dms) == 1
    text = ja(message(dms[0]).texts[0])
    assert new.number in text
    assert cases[0].number in text

    # A second tap is thanked, and opens nothing more.
    [again] = await world.tap(owner, choices["相談したい"])
    assert ja(again.texts[0]).startswith("すでにご回答いただいています")
    async with world.factory() as session:
        assert len(list(await session.scalars(select(Case).where(Case.person_id == owner)))) == 2


async def test_a_little_worried_is_offered_the_self_check(world: World) -> None:
    owner = await world.owner(13, founded=date(2026, 3, 2))
    world.clock.set(jst(6, 1, 10))
    await world.run("plan_followups")
    [row] = await world.rows("followup")
    [answer] = await world.tap(owner, buttons(message(row))["少し不安"])
    assert buttons(answer)["セルフチェックをする"] == "a=menu.selfcheck"
    async with world.factory() as session:
        followups = list(
            await session.scalars(select(Survey).where(Survey.kind == SurveyKind.FOLLOWUP))
        )
    assert [s.status for s in followups] == [SurveyStatus.ANSWERED]


async def test_a_booking_too_soon_for_a_reminder_gets_none_and_the_confirmation_says_so(
    world: World,
) -> None:
    owner = await world.owner(1)
    world.clock.set(jst(6, 4, 8, 30))  # Thursday 08:30, for 鈴木's 09:00 slot
    case = await world.case(owner)
    [offer] = await world.tap(
        owner, postbacks.encode(booking.DAY, c=case.id), {"date": "2026-06-04"}
    )
    first = next(a.data for a in offer.choices if a.data.startswith("a=booking.pick"))
    [confirmation] = await world.tap(owner, first)
    said = [ja(text) for text in confirmation.texts]
    assert said[0] == ja(Text("booking.confirmed"))
    assert "ご予約の時間が近いため、事前のリマインドはお送りしません。" in "".join(said)
    # No row is planned only to be dropped as stale at 09:00.
    assert await world.rows("reminder") == []

    # A booking with time for its reminders (next Thursday) says nothing of the kind.
    other = await world.owner(2)
    case = await world.case(other)
    [offer] = await world.tap(
        other, postbacks.encode(booking.DAY, c=case.id), {"date": "2026-06-11"}
    )
    first = next(a.data for a in offer.choices if a.data.startswith("a=booking.pick"))
    [confirmation] = await world.tap(other, first)
    assert "リマインド" not in "".join(ja(text) for text in confirmation.texts)
    assert [row.recipient for row in await world.rows("reminder")] == [user_id(2)] * 2
