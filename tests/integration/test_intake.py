"""The intake as an owner lives it: questions on LINE, wrong answers asked again, a case at the hub.

Each owner message is handled in its own transaction, as the worker does; what the owner sees
is the Japanese the catalog renders from `ctx.said`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.conversation import ConversationKey, SessionConversationStore, Status
from core.db.models import (
    AuditLog,
    Business,
    Case,
    CaseStatusHistory,
    Hub,
    Person,
    PersonBusiness,
)
from core.db.session import unit_of_work
from core.dedup.matching import name_key
from core.domain.enums import CaseSource, CaseStatus, DatePrecision, HubKind
from core.domain.industries import Industry
from core.i18n import Catalog, Text
from core.messages import OutgoingMessage
from core.owners import cases, intake
from core.owners.context import OwnerContext
from core.owners.events import OwnerEvent, OwnerEventKind
from core.owners.onboarding import ChannelContext, find_or_create_owner, record_consent
from core.owners.replies import conversation_postback
from core.queues.port import QueueEntry

PRIVACY_URL = "https://example.jp/privacy"
NATIONAL = ChannelContext("default", None, Text("hub.national"), PRIVACY_URL, national=True)
CATALOG = Catalog.load()
_event_ids = itertools.count(1)


class RecordingQueue:
    """Stands in for the hub queue: the cases the intake put in front of a hub."""

    def __init__(self) -> None:
        self.entries: list[QueueEntry] = []

    async def enqueue(self, entry: QueueEntry) -> None:
        self.entries.append(entry)


@pytest.fixture
async def hubs(session_factory: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    rows = {
        "00": Hub(
            code="00",
            kind=HubKind.HQ,
            prefecture_code=None,
            name_ja="よろず支援拠点全国本部",
            name_en="Yorozu HQ",
            implementing_org_ja="独立行政法人中小企業基盤整備機構",
        ),
        "13": Hub(
            code="13",
            kind=HubKind.HUB,
            prefecture_code="13",
            name_ja="東京都よろず支援拠点",
            name_en="Tokyo Yorozu Support Center",
            implementing_org_ja="公益財団法人東京都中小企業振興公社",
        ),
        "14": Hub(
            code="14",
            kind=HubKind.HUB,
            prefecture_code="14",
            name_ja="神奈川県よろず支援拠点",
            name_en="Kanagawa Yorozu Support Center",
            implementing_org_ja="公益財団法人神奈川産業振興センター",
        ),
    }
    async with unit_of_work(session_factory) as session:
        session.add_all(rows.values())
    return {code: hub.id for code, hub in rows.items()}


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


def kanagawa(hubs: dict[str, int]) -> ChannelContext:
    name = Text("hub.name", prefecture=Text("prefecture.14"))
    return ChannelContext("14", hubs["14"], name, PRIVACY_URL, national=False)


class Chat:
    """One owner on one LINE account; each call is one event in one transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: ManualClock,
        channel: ChannelContext,
        queue: RecordingQueue,
        user_id: str = "U-owner-1",
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.channel = channel
        self.queue = queue
        self.user_id = user_id
        self.last: list[OutgoingMessage] = []

    def _event(self, kind: OwnerEventKind, **fields: Any) -> OwnerEvent:
        now = self.clock.now()
        return OwnerEvent(
            kind=kind,
            event_id=f"ev-{next(_event_ids)}",
            channel_key=self.channel.channel_key,
            user_id=self.user_id,
            occurred_at=now,
            received_at=now,
            reply_token="reply-token",
            **fields,
        )

    async def _handle(
        self, event: OwnerEvent, act: Callable[[OwnerContext], Awaitable[None]]
    ) -> str:
        async with unit_of_work(self.sessions) as session:
            owner = await find_or_create_owner(session, event)
            if not owner.consented:
                await record_consent(session, owner, given=True, now=self.clock.now())
            ctx = OwnerContext(
                session, event, owner, self.channel, self.clock.now(), queue=self.queue
            )
            await act(ctx)
        self.last = ctx.said
        return "\n".join(
            CATALOG.render(text, "ja") for message in ctx.said for text in message.texts
        )

    async def start(self) -> str:
        return await self._handle(
            self._event(OwnerEventKind.TEXT, text="相談を予約する"), intake.start
        )

    async def send(self, text: str) -> str:
        return await self._handle(self._event(OwnerEventKind.TEXT, text=text), self._answer)

    async def tap(self, value: str) -> str:
        event = self._event(OwnerEventKind.POSTBACK, data=conversation_postback(value))
        return await self._handle(event, self._answer)

    @staticmethod
    async def _answer(ctx: OwnerContext) -> None:
        state = await ctx.conversations.load(ctx.conversation_key)
        assert state is not None
        assert state.flow_id == intake.FLOW_ID
        await intake.on_input(ctx, state)

    def buttons(self) -> list[str]:
        return [CATALOG.render(action.label, "ja") for action in self.last[-1].choices]


async def finish_from_topics(chat: Chat) -> str:
    await chat.tap("sales_channels")
    await chat.tap("__done__")
    await chat.send("新商品の販路を広げたいです。")
    return await chat.tap("online")


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def all_rows(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> list[Any]:
    async with sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def test_a_whole_intake_on_the_national_account_ends_in_a_queued_case(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    chat = Chat(session_factory, clock, NATIONAL, queue)

    said = await chat.start()
    assert "ご相談の受付をはじめます" in said
    assert "事業者名（会社名・屋号）を教えてください" in said
    assert "お名前をフルネームで" in await chat.send("さくら商店")
    assert "都道府県を教えてください" in await chat.send("山田　太郎")
    said = await chat.send("ナルニア")
    assert "都道府県が読み取れませんでした" in said
    assert "都道府県を教えてください" in said
    assert "市区町村を教えてください" in await chat.send("東京")
    assert "業種にいちばん近いもの" in await chat.send("渋谷区")
    assert {"小売業", "飲食業", "製造業", "その他"} <= set(chat.buttons())
    assert "従業員数を数字で" in await chat.tap("retail")
    assert "数字で入力してください" in await chat.send("たくさん")
    assert "100000以下の数を入力してください" in await chat.send("200000")
    assert "創業（開業）された年月" in await chat.send("３人")
    said = await chat.send("そのうち")
    assert "日付が読み取れませんでした" in said
    said = await chat.send("戻る")
    assert "従業員数を数字で" in said
    assert "前回のご回答：3" in said
    assert "創業（開業）された年月" in await chat.send("4人")
    said = await chat.send("令和5年4月")
    assert "ご相談になりたい内容" in said
    assert len(chat.last[-1].choices) <= 13
    assert "「売上拡大・販路開拓」を選びました" in await chat.tap("sales_channels")
    assert "選択中：売上拡大・販路開拓、資金繰り・融資" in await chat.tap("finance")
    assert "具体的にお書きください" in await chat.tap("__done__")
    description = "新商品の販路を広げたいです。\n資金繰りの見通しも相談したいです。"
    assert "ご相談の方法" in await chat.send(description)
    said = await chat.tap("online")

    assert "ご回答ありがとうございました。" in said
    assert "受付番号は「13-2026-000001」です" in said
    assert "ご都合のよい日時をお選びください" in said

    [business] = await all_rows(session_factory, Business)
    assert (business.name, business.prefecture_code, business.municipality) == (
        "さくら商店",
        "13",
        "渋谷区",
    )
    assert (business.industry, business.employees) == ("retail", 4)
    assert business.founding_date == date(2023, 4, 1)
    assert business.founding_precision is DatePrecision.MONTH
    assert business.founding_planned is False
    [person] = await all_rows(session_factory, Person)
    assert (person.family_name, person.given_name, person.display_name) == (
        "山田",
        "太郎",
        "山田 太郎",
    )
    [link] = await all_rows(session_factory, PersonBusiness)
    assert (link.person_id, link.business_id, link.role) == (person.id, business.id, "owner")
    [case] = await all_rows(session_factory, Case)
    assert case.number == "13-2026-000001"
    assert case.hub_id == hubs["13"]
    assert case.status is CaseStatus.QUEUED
    assert case.source is CaseSource.LINE
    assert (case.business_id, case.person_id) == (business.id, person.id)
    assert case.topics == ["sales_channels", "finance"]
    assert case.description == description
    [history] = await all_rows(session_factory, CaseStatusHistory)
    assert (history.case_id, history.from_status, history.to_status) == (
        case.id,
        None,
        CaseStatus.QUEUED,
    )
    [audit] = await all_rows(session_factory, AuditLog)
    assert (audit.action, audit.case_id, audit.hub_id) == ("case.created", case.id, hubs["13"])
    assert audit.details["preferred_mode"] == "online"
    assert audit.details["business_match"] == "new"
    assert queue.entries == [QueueEntry(case.id, "13", cases.QUEUE_PRIORITY, clock.now())]


async def test_a_hub_account_does_not_ask_the_prefecture_and_keeps_the_case(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    chat = Chat(session_factory, clock, kanagawa(hubs), queue)
    transcript = [
        await chat.start(),
        await chat.send("はこね工房"),
        await chat.send("箱根 花子"),
        await chat.send("箱根町"),
        await chat.tap("food_service"),
        await chat.send("0"),
        await chat.send("創業予定"),
        await finish_from_topics(chat),
    ]

    assert not any("都道府県" in said for said in transcript)
    assert "市区町村を教えてください" in transcript[2]
    assert "受付番号は「14-2026-000001」です" in transcript[-1]
    assert "ご都合のよい日時をお選びください" in transcript[-1]
    [business] = await all_rows(session_factory, Business)
    assert (business.prefecture_code, business.municipality) == ("14", "箱根町")
    assert business.founding_planned is True
    assert business.founding_date is None
    [case] = await all_rows(session_factory, Case)
    assert case.hub_id == hubs["14"]
    # A founder-to-be consults on founding, though there is no button for it.
    assert case.topics == ["founding", "sales_channels"]
    [link] = await all_rows(session_factory, PersonBusiness)
    assert link.role == "founder-to-be"
    assert [entry.hub_code for entry in queue.entries] == ["14"]


async def complete_first_intake(chat: Chat) -> None:
    await chat.start()
    for text in ("さくら商店", "山田 太郎", "東京都", "渋谷区"):
        await chat.send(text)
    await chat.tap("retail")
    await chat.send("3")
    await chat.send("2015/4/1")
    await finish_from_topics(chat)


async def test_a_returning_owner_is_asked_only_about_the_new_request(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    chat = Chat(session_factory, clock, NATIONAL, queue)
    await complete_first_intake(chat)
    clock.advance(timedelta(days=30))

    said = await chat.start()
    assert "事業者名" not in said
    assert "業種" not in said
    assert "ご相談になりたい内容" in said
    said = await finish_from_topics(chat)

    assert "受付番号は「13-2026-000002」です" in said
    assert await count(session_factory, Business) == 1
    assert await count(session_factory, PersonBusiness) == 1
    first, second = await all_rows(session_factory, Case)
    assert first.business_id == second.business_id
    [business] = await all_rows(session_factory, Business)
    assert business.founding_date == date(2015, 4, 1)
    assert business.founding_precision is DatePrecision.DAY


async def test_a_business_the_hub_knows_is_found_however_its_name_is_written(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    known_since = datetime(2025, 1, 10, tzinfo=UTC)
    async with unit_of_work(session_factory) as session:
        existing = Business(
            name="株式会社さくら商店",
            name_key=name_key("株式会社さくら商店"),
            prefecture_code="13",
            municipality="渋谷区",
            created_at=known_since,
            updated_at=known_since,
        )
        session.add(existing)
    chat = Chat(session_factory, clock, NATIONAL, queue)
    await chat.start()
    for text in ("㈱さくら商店", "山田 太郎", "東京", "渋谷区"):
        await chat.send(text)
    await chat.tap("retail")
    await chat.send("5")
    await chat.send("平成20年")
    await finish_from_topics(chat)

    [business] = await all_rows(session_factory, Business)
    assert business.id == existing.id
    assert business.name == "株式会社さくら商店"
    assert (business.employees, business.founding_date) == (5, date(2008, 1, 1))
    assert business.founding_precision is DatePrecision.YEAR
    [case] = await all_rows(session_factory, Case)
    assert case.business_id == existing.id
    [link] = await all_rows(session_factory, PersonBusiness)
    assert link.business_id == existing.id
    [audit] = await all_rows(session_factory, AuditLog)
    assert audit.details["business_match"] == "same_name_and_place"


async def test_an_intake_left_halfway_resumes_the_next_day_with_its_answers(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    chat = Chat(session_factory, clock, NATIONAL, queue)
    await chat.start()
    await chat.send("さくら商店")
    await chat.send("山田 太郎")
    clock.advance(timedelta(days=1))

    said = await chat.send("東京")
    assert "前回の続きから再開しますか？" in said
    assert {"続きから", "最初から"} <= set(chat.buttons())
    said = await chat.tap("__continue__")
    assert "前回の続きから再開します。" in said
    assert "都道府県を教えてください" in said
    assert "市区町村" in await chat.send("東京")
    await chat.send("渋谷区")
    await chat.tap("retail")
    await chat.send("3")
    await chat.send("2015年4月")
    said = await finish_from_topics(chat)

    assert "受付番号は「13-2026-000001」です" in said
    [business] = await all_rows(session_factory, Business)
    assert business.name == "さくら商店"
    [person] = await all_rows(session_factory, Person)
    assert person.family_name == "山田"


async def test_stopping_keeps_the_answers_and_the_menu_picks_up_where_it_stopped(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    chat = Chat(session_factory, clock, NATIONAL, queue)
    await chat.start()
    await chat.send("さくら商店")
    said = await chat.send("やめる")
    assert "入力を中止しました" in said
    assert "メニューの「相談を予約する」から" in said

    clock.advance(timedelta(hours=2))
    said = await chat.start()
    assert "前回の続きから再開します。" in said
    assert "お名前をフルネームで" in said
    async with session_factory() as session:
        key = ConversationKey("line", NATIONAL.channel_key, chat.user_id)
        state = await SessionConversationStore(session).load(key)
    assert state is not None
    assert state.status is Status.ACTIVE
    assert state.answers["business_name"] == "さくら商店"
    assert await count(session_factory, Case) == 0


async def test_the_booking_flow_takes_over_once_the_case_exists(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
    queue: RecordingQueue,
) -> None:
    chat = Chat(session_factory, clock, NATIONAL, queue)
    await complete_first_intake(chat)

    [case] = await all_rows(session_factory, Case)
    rendered = [CATALOG.render(text, "ja") for message in chat.last for text in message.texts]
    assert f"ご相談を受け付けました。受付番号は「{case.number}」です。" in rendered
    # The booking flow answers in the same reply: the owner is offered a time at once.
    assert any("ご都合のよい日時" in text for text in rendered)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_cases_finished_at_the_same_moment_get_distinct_numbers(
    backend: str,
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    hubs: dict[str, int],
) -> None:
    # SQLite has one writer at a time, so only PostgreSQL can race for a number.
    async with unit_of_work(session_factory) as session:
        people = [Person() for _ in range(6)]
        session.add_all(people)
    answers = cases.IntakeAnswers(business_name="さくら商店", prefecture="13")

    async def finish(person_id: int) -> str:
        async with unit_of_work(session_factory) as session:
            person = await session.get(Person, person_id)
            assert person is not None
            created = await cases.create_case_from_intake(
                session, person=person, answers=answers, channel_hub_id=None, now=clock.now()
            )
            return created.case.number

    numbers = await asyncio.gather(*(finish(person.id) for person in people))

    assert sorted(numbers) == [f"13-2026-{n:06d}" for n in range(1, 7)]


def test_every_button_of_the_intake_has_a_label_that_fits_a_quick_reply() -> None:
    # LINE cuts quick-reply labels at 20 characters; a missing label would raise on a phone.
    for national in (True, False):
        flow = intake.build_flow(national=national)
        for question in flow.questions:
            for choice in question.choices:
                for locale in ("ja", "en"):
                    assert 0 < len(CATALOG.render(choice.label, locale)) <= 20
    assert {f"industry.{industry.value}" for industry in Industry} <= CATALOG.keys("ja")
