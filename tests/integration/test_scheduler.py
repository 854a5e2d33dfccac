"""The scheduler and the owner-push gate (issue 7, invariant 7) against LINE and Slack stand-ins.

A ManualClock drives the dispatcher, the jobs and the stand-ins; the tests move it instead of
sleeping, and assert what an owner or a coordinator would notice: what reached the LINE or
Slack stand-in, or what waits in the outbox.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import JST, ManualClock
from core.db.models import (
    AuditLog,
    Booking,
    Business,
    Case,
    ChannelIdentity,
    ConsultationRecord,
    ConversationStateRow,
    Coordinator,
    Hub,
    HubClosedDay,
    LineChannel,
    OutboxMessage,
    Person,
    SelfCheckResult,
)
from core.db.session import unit_of_work
from core.domain.enums import (
    BookingMode,
    BookingStatus,
    CaseSource,
    CaseStatus,
    CoRole,
    HubKind,
    OutboxStatus,
    Platform,
)
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store
from core.selfcheck import SelfCheckKind
from integrations.standins import (
    LineApiStandin,
    ServerThread,
    SlackApiStandin,
    create_line_api,
    create_slack_api,
    make_line_user_id,
)
from scheduler import jobs
from scheduler.jobs import JobConfig
from scheduler.runner import job_specs, leadership, run_scheduler
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.settings import DEV_LINE_CHANNEL_ACCESS_TOKEN, DEV_SLACK_BOT_TOKEN, load_settings

CHANNEL = "1650000001"
TEAM = "T0STANDIN1"
Factory = async_sessionmaker[AsyncSession]
CCO13 = "U0CCO13AAA"
CCO00 = "U0CCO00AAA"
CO13 = "U0CO13AAAA"


def jst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=JST).astimezone(UTC)


def msg(value: str, **meta: str) -> OutgoingMessage:
    return OutgoingMessage(texts=(Text("common.verbatim", value=value),), meta=meta)


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def line_api(clock: ManualClock) -> LineApiStandin:
    return create_line_api({DEV_LINE_CHANNEL_ACCESS_TOKEN: CHANNEL}, clock=clock.now)


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    api = create_slack_api([DEV_SLACK_BOT_TOKEN], clock=clock.now, team_id=TEAM)
    for user in (CCO13, CCO00, CO13):
        api.add_user(user, user.lower())
    return api


@pytest.fixture
def line_server(line_api: LineApiStandin) -> Iterator[ServerThread]:
    with ServerThread(line_api.app) as server:
        yield server


@pytest.fixture
def slack_server(slack_api: SlackApiStandin) -> Iterator[ServerThread]:
    with ServerThread(slack_api.app) as server:
        yield server


@pytest.fixture
async def container(
    engine: AsyncEngine,
    session_factory: Factory,
    clock: ManualClock,
    database_url: str,
    line_server: ServerThread,
    slack_server: ServerThread,
) -> Container:
    settings = load_settings(
        database_url=database_url,
        line_api_base_url=line_server.url,
        slack_api_base_url=slack_server.url + "/api/",
    )
    return Container(settings=settings, clock=clock, engine=engine, session_factory=session_factory)


@pytest.fixture
async def dispatcher(container: Container) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(container, rng=random.Random(7))
    try:
        yield d
    finally:
        await d.aclose()


@dataclass(frozen=True)
class World:
    hq: int
    hub: int
    cco: int
    co: int


@pytest.fixture
async def world(session_factory: Factory) -> World:
    async with unit_of_work(session_factory) as session:
        hq = Hub(
            code="00",
            kind=HubKind.HQ,
            name_ja="全国本部",
            name_en="HQ",
            implementing_org_ja="本部",
            slack_intake_channel_id="C0HQINTAKE",
        )
        hub = Hub(
            code="13",
            kind=HubKind.HUB,
            prefecture_code="13",
            name_ja="東京都よろず支援拠点",
            name_en="Tokyo",
            implementing_org_ja="東京都中小企業振興公社",
            slack_intake_channel_id="C0TKINTAKE",
        )
        session.add_all([hq, hub])
        await session.flush()
        people = [
            Coordinator(hub_id=hq.id, role=CoRole.CCO, name="本部 チーフ", slack_user_id=CCO00),
            Coordinator(hub_id=hub.id, role=CoRole.CCO, name="東京 チーフ", slack_user_id=CCO13),
            Coordinator(hub_id=hub.id, role=CoRole.CO, name="東京 太郎", slack_user_id=CO13),
        ]
        session.add_all(people)
        await session.flush()
        return World(hq=hq.id, hub=hub.id, cco=people[1].id, co=people[2].id)


# -- helpers ----------------------------------------------------------------------------


async def add_push(
    factory: Factory,
    clock: ManualClock,
    user: str,
    text: str,
    *,
    hub_id: int | None = None,
    channel_id: str = CHANNEL,
    priority: int = 100,
    not_before: datetime | None = None,
    kind: str = "push",
    **meta: str,
) -> int:
    async with unit_of_work(factory) as session:
        row = await store.add_message(
            session,
            platform=Platform.LINE,
            channel_id=channel_id,
            recipient=user,
            message=msg(text, **meta),
            kind=kind,
            idempotency_key=f"test:{user}:{text}",
            now=clock.now(),
            priority=priority,
            not_before=not_before,
            hub_id=hub_id,
        )
        assert row is not None
        return row


async def row(factory: Factory, row_id: int) -> OutboxMessage:
    async with factory() as session:
        found = await session.get(OutboxMessage, row_id)
        assert found is not None
        return found


async def drain(dispatcher: Dispatcher, factory: Factory, clock: ManualClock) -> None:
    """Send what is due now (small clock steps only for rate limits, never past a quiet row)."""
    for _ in range(200):
        report = await dispatcher.run_once()
        if report.claimed == 0:
            async with factory() as session:
                due = await session.scalar(
                    select(func.min(OutboxMessage.not_before)).where(
                        OutboxMessage.status == OutboxStatus.PENDING,
                        OutboxMessage.not_before > clock.now(),
                    )
                )
            if due is None or due > clock.now() + timedelta(seconds=5):
                return
            clock.set(due)
    raise AssertionError("outbox not drained")


def dm_texts(slack_api: SlackApiStandin, user: str) -> list[str]:
    return [m.text or "" for m in slack_api.recorder.messages_in(slack_api.dm_channel_for(user))]


async def slack_rows(factory: Factory, recipient: str) -> list[OutboxMessage]:
    async with factory() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.platform == Platform.SLACK,
                    OutboxMessage.recipient == recipient,
                )
                .order_by(OutboxMessage.id)
            )
        )


def keys_of(rows: list[OutboxMessage]) -> list[str]:
    return [r.idempotency_key for r in rows]


def text_keys(rows: list[OutboxMessage]) -> list[str]:
    return [t["key"] for r in rows for m in r.payload["messages"] for t in m["texts"]]


_numbers = iter(range(1, 10_000))


async def add_case(
    factory: Factory,
    hub_id: int,
    created: datetime,
    *,
    status: CaseStatus = CaseStatus.QUEUED,
    person_id: int | None = None,
    business_id: int | None = None,
    closed_at: datetime | None = None,
    description: str = "創業資金の相談",
) -> int:
    async with unit_of_work(factory) as session:
        case = Case(
            number=f"13-2026-{next(_numbers):06d}",
            hub_id=hub_id,
            source=CaseSource.LINE,
            status=status,
            topics=["founding"],
            description=description,
            person_id=person_id,
            business_id=business_id,
            created_at=created,
            updated_at=closed_at or created,
            closed_at=closed_at,
        )
        session.add(case)
        await session.flush()
        return case.id


# -- quiet hours, closed days, staleness, downtime ---------------------------------------


async def test_a_push_at_night_waits_for_the_window_at_eight_and_goes_then(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    world: World,
) -> None:
    clock.set(jst(2026, 6, 2, 22, 0))  # Tuesday night
    user = make_line_user_id("quiet")
    row_id = await add_push(session_factory, clock, user, "reminder", hub_id=world.hub)
    chatting = make_line_user_id("chatting")
    token = line_api.issue_reply_token(chatting, CHANNEL)
    async with unit_of_work(session_factory) as session:
        await store.add_message(
            session,
            platform=Platform.LINE,
            channel_id=CHANNEL,
            recipient=chatting,
            message=msg("answer"),
            kind="reply",
            idempotency_key="test:reply",
            now=clock.now(),
            reply_token=token,
            reply_token_expires_at=clock.now() + timedelta(seconds=60),
            hub_id=world.hub,
        )
    report = await dispatcher.run_once()
    assert report.quiet == 1
    # The owner who is chatting is answered at night; the push waits.
    assert line_api.recorder.texts_to(chatting) == ["answer"]
    assert line_api.recorder.texts_to(user) == []
    waiting = await row(session_factory, row_id)
    assert waiting.status is OutboxStatus.PENDING
    assert waiting.not_before == jst(2026, 6, 3, 8, 0)
    clock.set(jst(2026, 6, 3, 7, 59))
    assert (await dispatcher.run_once()).claimed == 0
    clock.set(jst(2026, 6, 3, 8, 0))
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(user) == ["reminder"]
    assert (await row(session_factory, row_id)).status is OutboxStatus.SENT


async def test_owners_pushes_go_on_closed_days_and_weekends_inside_the_window(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    world: World,
) -> None:
    """The hub's closed days hold what needs its staff, not what owners are told (issue 16):
    a reminder on Sunday evening for a Monday booking is welcome."""
    async with unit_of_work(session_factory) as session:
        session.add(HubClosedDay(hub_id=world.hub, day=date(2026, 6, 3), reason="臨時休業"))
    clock.set(jst(2026, 6, 3, 11, 0))
    hub_user, national_user = make_line_user_id("closed"), make_line_user_id("national")
    await add_push(session_factory, clock, hub_user, "survey", hub_id=world.hub)
    await add_push(session_factory, clock, national_user, "news")
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(national_user) == ["news"]
    assert line_api.recorder.texts_to(hub_user) == ["survey"]
    clock.set(jst(2026, 6, 7, 20, 0))  # Sunday evening
    await add_push(session_factory, clock, hub_user, "tomorrow 09:00", hub_id=world.hub)
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(hub_user) == ["survey", "tomorrow 09:00"]


async def test_a_stale_reminder_is_dropped_and_recorded(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    world: World,
) -> None:
    clock.set(jst(2026, 6, 2, 22, 0))
    late, night = make_line_user_id("late"), make_line_user_id("night")
    # Its event began an hour ago.
    passed = await add_push(
        session_factory,
        clock,
        late,
        "in two hours",
        hub_id=world.hub,
        stale_after=(clock.now() - timedelta(hours=1)).isoformat(),
    )
    # Could only go at 08:00, when the window opens and its 08:00 event begins.
    too_late = await add_push(
        session_factory,
        clock,
        night,
        "tomorrow 08:00",
        hub_id=world.hub,
        stale_after=jst(2026, 6, 3, 8, 0).isoformat(),
    )
    report = await dispatcher.run_once()
    assert report.stale == 2
    for row_id in (passed, too_late):
        dropped = await row(session_factory, row_id)
        assert (dropped.status, dropped.last_error) == (OutboxStatus.FAILED, "stale")
    clock.set(jst(2026, 6, 3, 9, 0))
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.deliveries_to(late) == []
    assert line_api.recorder.deliveries_to(night) == []
    # Loud: counted by kind and reason.
    counted = dispatcher.metrics.owner_pushes_undelivered.labels("push", "stale")._value.get()
    assert counted == 2


async def test_the_cco_hears_next_business_morning_what_could_not_reach_owners(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    world: World,
) -> None:
    case_id = await add_case(session_factory, world.hub, jst(2026, 6, 4, 10))
    async with session_factory() as session:
        number = (await session.get(Case, case_id)).number  # type: ignore[union-attr]
    clock.set(jst(2026, 6, 5, 22, 0))  # Friday night: the dispatcher comes back after a stop
    async with unit_of_work(session_factory) as session:
        for key, kind, stale_after in (
            ("reminder:a", "reminder", jst(2026, 6, 5, 21, 0)),
            ("reminder:b", "reminder", jst(2026, 6, 5, 21, 30)),
            ("survey:a", "survey", None),
        ):
            await store.add_message(
                session,
                platform=Platform.LINE,
                channel_id=CHANNEL,
                recipient=make_line_user_id(key),
                message=msg(
                    key, **({"stale_after": stale_after.isoformat()} if stale_after else {})
                ),
                kind=kind,
                idempotency_key=key,
                now=clock.now(),
                not_before=jst(2026, 6, 4, 12, 0) if kind == "survey" else jst(2026, 6, 5, 20),
                hub_id=world.hub,
                case_id=case_id,
            )
    report = await dispatcher.run_once()
    assert (report.stale, report.missed) == (2, 1)
    # Saturday is no business day: nothing yet. Monday 08:30: one note, once.
    clock.set(jst(2026, 6, 6, 8, 30))
    assert await jobs.co_morning_digest(session_factory, clock) == 0
    clock.set(jst(2026, 6, 8, 8, 30))
    assert await jobs.co_morning_digest(session_factory, clock) == 1
    assert await jobs.co_morning_digest(session_factory, clock) == 0
    await drain(dispatcher, session_factory, clock)
    [note] = dm_texts(slack_api, CCO13)
    assert "お届けできなかったLINEのお知らせが3件" in note
    assert f"予約のリマインド（予約の時刻を過ぎたため送信を取りやめ）：2件　案件 {number}" in note
    assert "満足度アンケート（送信の遅れ（システムの停止など））：1件" in note
    # Told once: Tuesday's note has nothing new to say.
    clock.set(jst(2026, 6, 9, 8, 30))
    assert await jobs.co_morning_digest(session_factory, clock) == 0


async def test_after_downtime_recent_items_go_once_older_are_missed(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    world: World,
) -> None:
    now = clock.now()  # Tuesday 10:00; the dispatcher was down since Sunday
    recent, old = make_line_user_id("recent"), make_line_user_id("old")
    kept = await add_push(
        session_factory, clock, recent, "due 2h ago", not_before=now - timedelta(hours=2)
    )
    missed = await add_push(
        session_factory, clock, old, "due 30h ago", not_before=now - timedelta(hours=30)
    )
    report = await dispatcher.run_once()
    assert (report.sent, report.missed) == (1, 1)
    await drain(dispatcher, session_factory, clock)
    clock.advance(timedelta(hours=1))
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(recent) == ["due 2h ago"]
    assert line_api.recorder.deliveries_to(old) == []
    assert (await row(session_factory, kept)).status is OutboxStatus.SENT
    recorded = await row(session_factory, missed)
    assert (recorded.status, recorded.last_error) == (OutboxStatus.FAILED, "missed")


# -- push budget --------------------------------------------------------------------------


async def test_budget_goes_to_reminders_first_holds_the_rest_and_tells_the_cco_once(
    container: Container,
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    slack_api: SlackApiStandin,
    world: World,
) -> None:
    async with unit_of_work(session_factory) as session:
        session.add(
            LineChannel(
                hub_id=world.hub, channel_id="1650000013", name="東京", monthly_push_budget=10
            )
        )
    kinds = {10: "reminder", 50: "survey", 90: "followup"}
    plan = [90, 10, 50, 10, 90, 10, 50, 10, 90, 10, 50, 10]  # 6 reminders, 3 surveys, 3 follow-ups
    rows: dict[int, tuple[int, str]] = {}
    for index, priority in enumerate(plan):
        user = make_line_user_id(f"budget-{index}")
        row_id = await add_push(
            session_factory,
            clock,
            user,
            f"{kinds[priority]} {index}",
            hub_id=world.hub,
            channel_id="13",
            priority=priority,
        )
        rows[row_id] = (priority, user)
    report = await dispatcher.run_once()
    assert (report.claimed, report.sent, report.held) == (12, 9, 3)
    for row_id, (priority, user) in rows.items():
        found = await row(session_factory, row_id)
        if priority == 90:
            assert (found.status, found.last_error) == (OutboxStatus.HELD, "push_budget")
            assert line_api.recorder.deliveries_to(user) == []
        else:
            assert found.status is OutboxStatus.SENT
    # The last push of the month goes to a reminder; a survey has to wait.
    last, survey = make_line_user_id("last-reminder"), make_line_user_id("late-survey")
    await add_push(
        session_factory,
        clock,
        survey,
        "survey late",
        hub_id=world.hub,
        channel_id="13",
        priority=50,
    )
    await add_push(
        session_factory,
        clock,
        last,
        "reminder late",
        hub_id=world.hub,
        channel_id="13",
        priority=10,
    )
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(last) == ["reminder late"]
    assert line_api.recorder.deliveries_to(survey) == []
    async with session_factory() as session:
        assert await store.push_usage(session, "13", now=clock.now()) == 10
        assert (await store.stats(session))["held"] == 4
    # Told once, even by a dispatcher that starts afresh.
    fresh = Dispatcher(container, rng=random.Random(8))
    try:
        await add_push(
            session_factory,
            clock,
            make_line_user_id("more"),
            "more",
            hub_id=world.hub,
            channel_id="13",
            priority=90,
        )
        await drain(fresh, session_factory, clock)
    finally:
        await fresh.aclose()
    [warning] = dm_texts(slack_api, CCO13)
    assert "90%" in warning
    # The weekly summary shows the held pushes; the month change releases them.
    clock.set(jst(2026, 7, 1, 0, 5))
    assert await jobs.release_held_pushes(session_factory, clock) == 5
    clock.set(jst(2026, 7, 1, 9, 0))
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(survey) == ["survey late"]
    async with session_factory() as session:
        assert (await store.stats(session))["held"] == 0


# -- escalation ---------------------------------------------------------------------------


async def test_escalation_tells_the_cco_after_n_and_hq_after_m_business_hours(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    world: World,
) -> None:
    config = JobConfig(escalation_hours=24, escalation_hq_extra_hours=16)
    await add_case(session_factory, world.hub, jst(2026, 6, 2, 10, 0))  # Tuesday 10:00
    # 24 business hours (09:00-17:00): Friday 10:00. 40: the next Tuesday 10:00.
    steps = [
        (jst(2026, 6, 5, 9, 59), 0, 0),
        (jst(2026, 6, 5, 10, 0), 1, 0),
        (jst(2026, 6, 6, 12, 0), 1, 0),  # Saturday counts nothing
        (jst(2026, 6, 9, 9, 59), 1, 0),
        (jst(2026, 6, 9, 10, 0), 1, 1),
        (jst(2026, 6, 9, 11, 0), 1, 1),
    ]
    for moment, cco_rows, hq_rows in steps:
        clock.set(moment)
        await jobs.escalate(session_factory, clock, config)
        await jobs.escalate(session_factory, clock, config)
        assert len(await slack_rows(session_factory, CCO13)) == cco_rows, moment
        assert len(await slack_rows(session_factory, CCO00)) == hq_rows, moment
    await drain(dispatcher, session_factory, clock)
    assert len(dm_texts(slack_api, CCO13)) == 1
    assert len(dm_texts(slack_api, CCO00)) == 1
    (told,) = dm_texts(slack_api, CCO13)
    assert "は、受付から24営業時間が過ぎましたが、まだ担当者が決まっていません" in told
    assert "（受付：6月2日(火) 10:00、相談内容：" in told
    assert "たちました" not in told
    assert "13-2026-" in dm_texts(slack_api, CCO00)[0]
    async with session_factory() as session:
        actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
    assert actions == ["case.escalated.cco", "case.escalated.hq"]


async def test_a_hubs_own_business_hours_hq_threshold_and_cco_channel_rule_its_escalation(
    session_factory: Factory, clock: ManualClock, world: World
) -> None:
    """What a CCO sets in the console's hub settings: business 09:00-13:00, the CCO told
    after 4 business hours and HQ 2 more later, the CCO's notice in the CCOs' channel."""
    from datetime import time

    async with unit_of_work(session_factory) as session:
        hub = await session.get(Hub, world.hub)
        assert hub is not None
        hub.business_day_start, hub.business_day_end = time(9, 0), time(13, 0)
        hub.escalation_hours, hub.escalation_hq_hours = 4, 2
        hub.slack_cco_channel_id = "C0CHIEFS13"
    await add_case(session_factory, world.hub, jst(2026, 6, 2, 10, 0))  # Tuesday 10:00
    # Tuesday 10-13 is 3 business hours; the 4th ends Wednesday 10:00; HQ's 6th at 12:00.
    steps = [
        (jst(2026, 6, 2, 16, 0), 0, 0),  # after 13:00 nothing more counts that day
        (jst(2026, 6, 3, 9, 59), 0, 0),
        (jst(2026, 6, 3, 10, 0), 1, 0),
        (jst(2026, 6, 3, 11, 59), 1, 0),
        (jst(2026, 6, 3, 12, 0), 1, 1),
    ]
    for moment, cco_rows, hq_rows in steps:
        clock.set(moment)
        await jobs.escalate(session_factory, clock, JobConfig())
        assert len(await slack_rows(session_factory, "C0CHIEFS13")) == cco_rows, moment
        assert len(await slack_rows(session_factory, CCO13)) == 0, moment
        assert len(await slack_rows(session_factory, CCO00)) == hq_rows, moment


async def test_a_claimed_case_is_not_escalated(
    session_factory: Factory, clock: ManualClock, world: World
) -> None:
    await add_case(session_factory, world.hub, jst(2026, 6, 1, 9, 0), status=CaseStatus.CLAIMED)
    clock.set(jst(2026, 6, 12, 9, 0))
    assert await jobs.escalate(session_factory, clock, JobConfig()) == 0


# -- coordinators: digest and reminders ---------------------------------------------------


async def _booking(
    factory: Factory, world: World, case_id: int, starts: datetime, *, status: BookingStatus
) -> int:
    async with unit_of_work(factory) as session:
        booking = Booking(
            case_id=case_id,
            co_id=world.co,
            hub_id=world.hub,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            mode=BookingMode.VISIT,
            status=status,
            created_at=starts - timedelta(days=3),
        )
        session.add(booking)
        await session.flush()
        return booking.id


async def test_co_digest_and_missing_outcome_and_followup_reminders(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    world: World,
) -> None:
    async with unit_of_work(session_factory) as session:
        person = Person(locale="ja")
        business = Business(
            name="山田商店", name_key="山田商店", created_at=clock.now(), updated_at=clock.now()
        )
        session.add_all([person, business])
        await session.flush()
        person_id, business_id = person.id, business.id
    case_id = await add_case(
        session_factory,
        world.hub,
        jst(2026, 5, 28, 10),
        status=CaseStatus.BOOKED,
        person_id=person_id,
        business_id=business_id,
        description="カフェを開業したい。資金計画を相談したい。",
    )
    async with unit_of_work(session_factory) as session:
        session.add(
            SelfCheckResult(
                person_id=person_id,
                case_id=case_id,
                kind=SelfCheckKind.CHECKLIST,
                answers={},
                result={"percent": 55, "weak_topics": ["finance"]},
                created_at=jst(2026, 5, 28, 11),
            )
        )
    other_case = await add_case(
        session_factory, world.hub, jst(2026, 5, 28, 12), status=CaseStatus.BOOKED
    )
    await _booking(
        session_factory, world, case_id, jst(2026, 6, 2, 14), status=BookingStatus.CONFIRMED
    )
    recorded = await _booking(
        session_factory, world, other_case, jst(2026, 6, 2, 16), status=BookingStatus.CONFIRMED
    )
    clock.set(jst(2026, 6, 2, 8, 30))  # Tuesday morning
    assert await jobs.co_morning_digest(session_factory, clock) == 1
    assert await jobs.co_morning_digest(session_factory, clock) == 0
    await drain(dispatcher, session_factory, clock)
    [digest] = dm_texts(slack_api, CO13)
    assert digest.startswith("おはようございます。本日 6月2日(火) のご相談は2件です。")
    for shown in ("山田商店", "カフェを開業したい", "55%", "資金繰り・融資", "14:00", "16:00"):
        assert shown in digest
    # One outcome recorded, one not: only the missing one is asked for, the next business
    # day at 10:00, once.
    async with unit_of_work(session_factory) as session:
        session.add(
            ConsultationRecord(
                case_id=other_case,
                booking_id=recorded,
                co_id=world.co,
                hub_id=world.hub,
                held_on=date(2026, 6, 2),
                minutes=60,
                follow_up_on=date(2026, 6, 6),  # a Saturday
                created_at=jst(2026, 6, 2, 17),
            )
        )
    clock.set(jst(2026, 6, 3, 9, 59))
    assert await jobs.co_reminders(session_factory, clock) == 0
    clock.set(jst(2026, 6, 3, 10, 0))
    assert await jobs.co_reminders(session_factory, clock) == 1
    assert await jobs.co_reminders(session_factory, clock) == 0
    rows = await slack_rows(session_factory, CO13)
    assert text_keys(rows)[-1] == "scheduler.co_outcome.reminder"
    # The follow-up due on Saturday is brought up on Monday morning, once.
    clock.set(jst(2026, 6, 6, 10, 0))
    assert await jobs.co_reminders(session_factory, clock) == 0
    clock.set(jst(2026, 6, 8, 9, 0))
    assert await jobs.co_reminders(session_factory, clock) == 1
    assert await jobs.co_reminders(session_factory, clock) == 0
    await drain(dispatcher, session_factory, clock)
    texts = dm_texts(slack_api, CO13)
    assert len(texts) == 3
    assert "の結果がまだ記録されていません" in texts[1]
    assert "のフォローアップ予定日は 6月6日(土) です。" in texts[2]
    # No digest on a day off (Saturday), even with a booking.
    await _booking(
        session_factory, world, case_id, jst(2026, 6, 13, 10), status=BookingStatus.CONFIRMED
    )
    clock.set(jst(2026, 6, 13, 8, 30))
    assert await jobs.co_morning_digest(session_factory, clock) == 0


async def test_weekly_digest_reaches_each_cco_once_a_week(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    world: World,
) -> None:
    await add_case(session_factory, world.hub, jst(2026, 6, 1, 10))
    await add_case(session_factory, world.hub, jst(2026, 6, 1, 11), status=CaseStatus.CLAIMED)
    clock.set(jst(2026, 6, 8, 8, 30))  # Monday
    config = JobConfig(console_url="https://yorozu.example.jp/")
    assert await jobs.cco_weekly_digest(session_factory, clock, config) == 2  # hub and HQ
    assert await jobs.cco_weekly_digest(session_factory, clock, config) == 0
    await drain(dispatcher, session_factory, clock)
    [summary] = dm_texts(slack_api, CCO13)
    assert "東京都よろず支援拠点" in summary
    assert "対応中の案件：2件、うち担当者未定：1件" in summary
    assert "ダッシュボード: https://yorozu.example.jp/console/hubs/13/dashboard" in summary


# -- retention ----------------------------------------------------------------------------


async def test_retention_erases_personal_data_of_long_closed_cases_and_keeps_counts(
    session_factory: Factory, clock: ManualClock, world: World
) -> None:
    async with unit_of_work(session_factory) as session:
        old_owner = Person(
            family_name="山田", given_name="花子", phone="0312345678", email="h@example.jp"
        )
        recent_owner = Person(family_name="佐藤", phone="0311112222")
        business = Business(
            name="山田商店",
            name_key="山田商店",
            phone="0312345678",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add_all([old_owner, recent_owner, business])
        await session.flush()
        session.add(
            ChannelIdentity(
                person_id=old_owner.id,
                platform=Platform.LINE,
                channel_id=CHANNEL,
                external_user_id="Uold",
                created_at=jst(2020, 3, 1),
            )
        )
        session.add(
            ConversationStateRow(
                platform="line",
                channel_id=CHANNEL,
                user_id="Uold",
                flow_id="intake",
                status="active",
                step="x",
                answers={"name": "山田"},
                known=[],
                history=[],
                started_at=jst(2020, 4, 1),
                updated_at=jst(2020, 4, 1),
                expires_at=jst(2020, 4, 2),
            )
        )
        ids = (old_owner.id, recent_owner.id, business.id)
    old_case = await add_case(
        session_factory,
        world.hub,
        jst(2020, 4, 1),
        status=CaseStatus.CLOSED,
        person_id=ids[0],
        business_id=ids[2],
        closed_at=jst(2020, 6, 1),
        description="山田花子さんの借入の相談",
    )
    recent_case = await add_case(
        session_factory,
        world.hub,
        jst(2025, 4, 1),
        status=CaseStatus.CLOSED,
        person_id=ids[1],
        closed_at=jst(2025, 6, 1),
        description="佐藤さんの相談",
    )
    async with unit_of_work(session_factory) as session:
        session.add(
            SelfCheckResult(
                person_id=ids[0],
                case_id=old_case,
                kind=SelfCheckKind.BREAKEVEN,
                answers={"sales": 1},
                result={},
                created_at=jst(2020, 4, 2),
            )
        )
        session.add(
            ConsultationRecord(
                case_id=old_case,
                co_id=world.co,
                hub_id=world.hub,
                held_on=date(2020, 4, 10),
                minutes=60,
                advice_summary="山田さんの資金繰り",
                created_at=jst(2020, 4, 10),
            )
        )
    config = JobConfig(retention_days=1827)
    # One case and its owner (the other owner's case closed within the period).
    assert await jobs.retention(session_factory, clock, config) == 2
    assert await jobs.retention(session_factory, clock, config) == 0
    async with session_factory() as session:
        old = await session.get(Person, ids[0])
        assert old is not None
        assert old.erased_at == clock.now()
        assert (old.family_name, old.given_name, old.phone, old.email) == (None,) * 4
        kept = await session.get(Person, ids[1])
        assert kept is not None
        assert (kept.family_name, kept.erased_at) == ("佐藤", None)
        shop = await session.get(Business, ids[2])
        assert shop is not None
        assert (shop.phone, shop.name) == (None, "山田商店")
        assert (await session.get(Case, old_case)).description is None  # type: ignore[union-attr]
        assert (await session.get(Case, recent_case)).description == "佐藤さんの相談"  # type: ignore[union-attr]
        assert await session.scalar(select(func.count()).select_from(Case)) == 2
        assert await session.scalar(select(func.count()).select_from(ConsultationRecord)) == 1
        record = await session.scalar(select(ConsultationRecord))
        assert record is not None
        assert (record.advice_summary, record.minutes) == (None, 60)
        assert await session.scalar(select(func.count()).select_from(SelfCheckResult)) == 0
        assert await session.scalar(select(func.count()).select_from(ConversationStateRow)) == 0
        audits = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "retention.erased"))
        )
    assert [(a.case_id, a.details) for a in audits] == [(old_case, {"business_id": ids[2]})]


# -- two schedulers at once ---------------------------------------------------------------


async def test_jobs_run_twice_or_at_once_send_nothing_twice(
    backend: str,
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    world: World,
) -> None:
    for hour in (9, 10, 11):
        await add_case(session_factory, world.hub, jst(2026, 6, 1, hour))
    await add_case(
        session_factory,
        world.hub,
        jst(2019, 1, 1),
        status=CaseStatus.CLOSED,
        closed_at=jst(2019, 2, 1),
    )
    clock.set(jst(2026, 6, 15, 8, 30))  # Monday: everything is due
    config = JobConfig()

    async def every_job() -> None:
        await jobs.escalate(session_factory, clock, config)
        await jobs.co_reminders(session_factory, clock)
        await jobs.co_morning_digest(session_factory, clock)
        await jobs.cco_weekly_digest(session_factory, clock)
        await jobs.retention(session_factory, clock, config)

    if backend == "postgresql":
        await asyncio.gather(every_job(), every_job())
    else:  # the embedded setup runs one scheduler; run it twice in a row
        await every_job()
    await every_job()
    await drain(dispatcher, session_factory, clock)
    for user in (CCO13, CCO00):
        texts = dm_texts(slack_api, user)
        assert len(texts) == len(set(texts)), user
    # Three escalations to the hub's CCO and three to HQ, one weekly digest each.
    assert len(dm_texts(slack_api, CCO13)) == 3 + 1
    assert len(dm_texts(slack_api, CCO00)) == 3 + 1
    async with session_factory() as session:
        erased = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "retention.erased")
        )
        escalated = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action.like("case.escalated%"))
        )
    assert (erased, escalated) == (1, 6)


async def _two_instances(engine: AsyncEngine, redis_url: str | None) -> list[str]:
    stop = asyncio.Event()
    order: list[str] = []
    first_in = asyncio.Event()
    release_first = asyncio.Event()

    async def instance(name: str) -> None:
        async with leadership(engine, stop, redis_url=redis_url, retry_seconds=0.05):
            order.append(f"{name} in")
            first_in.set()
            await release_first.wait()
            order.append(f"{name} out")

    first = asyncio.create_task(instance("a"))
    await first_in.wait()
    second = asyncio.create_task(instance("b"))
    # The second retries every 0.05 s: a few tries, and it is still standing by.
    await asyncio.sleep(0.25)
    standing_by = list(order)
    release_first.set()
    await asyncio.wait_for(asyncio.gather(first, second), timeout=10)
    return [*standing_by, "|", *order]


EXPECTED_ORDER = ["a in", "|", "a in", "a out", "b in", "b out"]
"""What the first instance saw while the second stood by, then the whole story."""


async def test_only_one_scheduler_holds_the_postgres_lock(
    backend: str, engine: AsyncEngine
) -> None:
    """A second instance stands by until the first lets go. (SQLite: one process, no lock.)"""
    if backend != "postgresql":
        pytest.skip("the embedded SQLite setup runs one scheduler process")
    assert await _two_instances(engine, None) == EXPECTED_ORDER


async def test_only_one_scheduler_holds_the_redis_lock(engine: AsyncEngine, redis_url: str) -> None:
    assert await _two_instances(engine, redis_url) == EXPECTED_ORDER


def test_job_ids_and_triggers_are_explicit(session_factory: Factory, clock: ManualClock) -> None:
    specs = {spec.id: spec for spec in job_specs(session_factory, clock)}
    assert {
        "release_held_pushes",
        "escalation",
        "co_reminders",
        "co_morning_digest",
        "cco_weekly_digest",
        "retention",
    } <= set(specs)
    monday = datetime(2026, 6, 7, 23, 0, tzinfo=UTC)  # Monday 08:00 JST
    fire = specs["co_morning_digest"].trigger.get_next_fire_time(None, monday)
    assert fire == jst(2026, 6, 8, 8, 30)
    fire = specs["retention"].trigger.get_next_fire_time(None, monday)
    assert fire == jst(2026, 6, 9, 2, 0)


async def test_run_scheduler_starts_and_stops(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_scheduler(engine, session_factory, clock, stop=stop, retry_seconds=0.05)
    )
    await asyncio.sleep(0.2)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
