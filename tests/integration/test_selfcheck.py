"""経営セルフチェック on LINE, driven event by event as the router would, on both databases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.conversation import ConversationKey, SessionConversationStore, Status
from core.db.models import Case, Hub
from core.db.models.selfchecks import SelfCheckResult
from core.domain.enums import CaseSource, CaseStatus, HubKind
from core.domain.topics import Topic
from core.i18n import Catalog, Text
from core.messages import OutgoingMessage
from core.owners import selfcheck
from core.owners.context import OwnerContext
from core.owners.events import OwnerEvent, OwnerEventKind
from core.owners.onboarding import ChannelContext, find_or_create_owner, record_consent
from core.owners.replies import conversation_postback
from core.selfcheck import CHECKLIST, SelfCheckKind

CATALOG = Catalog.load()
CHANNEL = ChannelContext(
    channel_key="default",
    hub_id=None,
    hub_name=Text("common.verbatim", value="東京都よろず支援拠点"),
    privacy_url="https://example.jp/privacy",
    national=True,
)


@dataclass
class Phone:
    """One owner's LINE app: sends what they type or tap, keeps what they were told."""

    sessions: async_sessionmaker[AsyncSession]
    clock: ManualClock
    user_id: str = "U-selfcheck-owner"
    seen: list[OutgoingMessage] = field(default_factory=list)
    count: int = 0

    async def register(self) -> int:
        async with self.sessions() as session, session.begin():
            owner = await find_or_create_owner(session, self._event(OwnerEventKind.FOLLOW))
            await record_consent(session, owner, given=True, now=self.clock.now())
            return owner.person.id

    def _event(
        self, kind: OwnerEventKind, text: str | None = None, data: str | None = None
    ) -> OwnerEvent:
        self.count += 1
        now = self.clock.now()
        return OwnerEvent(
            kind=kind,
            event_id=f"ev-{self.count}",
            channel_key=CHANNEL.channel_key,
            user_id=self.user_id,
            occurred_at=now,
            received_at=now,
            reply_token=f"rt-{self.count}",
            text=text,
            data=data,
        )

    async def _handle(self, event: OwnerEvent, *, begin: bool = False) -> OutgoingMessage:
        async with self.sessions() as session, session.begin():
            owner = await find_or_create_owner(session, event)
            ctx = OwnerContext(session, event, owner, CHANNEL, self.clock.now())
            if begin:
                await selfcheck.start(ctx)
            else:
                state = await ctx.conversations.load(ctx.conversation_key)
                assert state is not None
                assert state.flow_id == selfcheck.FLOW_ID
                await selfcheck.on_input(ctx, state)
        assert len(ctx.said) == 1, "one answer per event"
        self.seen.append(ctx.said[0])
        return ctx.said[0]

    async def open_selfcheck(self) -> OutgoingMessage:
        return await self._handle(
            self._event(OwnerEventKind.POSTBACK, data="a=menu.selfcheck"), begin=True
        )

    async def type(self, text: str) -> OutgoingMessage:
        return await self._handle(self._event(OwnerEventKind.TEXT, text=text))

    async def press(self, data: str) -> OutgoingMessage:
        """A button that is not one of the current question's choices."""
        return await self._handle(self._event(OwnerEventKind.POSTBACK, data=data))

    async def tap(self, value: str) -> OutgoingMessage:
        data = conversation_postback(value)
        return await self._handle(self._event(OwnerEventKind.POSTBACK, data=data))

    async def answer_checklist(self, **overrides: str) -> OutgoingMessage:
        last = self.seen[-1]
        for entry in CHECKLIST:
            last = await self.tap(overrides.get(entry.key, "yes"))
        return last


def shown(message: OutgoingMessage, locale: str = "ja") -> str:
    return "\n".join(CATALOG.render(text, locale) for text in message.texts)


def buttons(message: OutgoingMessage) -> dict[str, str]:
    return {CATALOG.render(action.label, "ja"): action.data for action in message.choices}


@pytest.fixture
async def phone(session_factory: async_sessionmaker[AsyncSession], clock: ManualClock) -> Phone:
    return Phone(session_factory, clock)


async def results(
    sessions: async_sessionmaker[AsyncSession], kind: SelfCheckKind
) -> list[SelfCheckResult]:
    async with sessions() as session:
        rows = await session.scalars(
            select(SelfCheckResult).where(SelfCheckResult.kind == kind).order_by(SelfCheckResult.id)
        )
        return list(rows)


async def open_case(
    sessions: async_sessionmaker[AsyncSession], person_id: int, clock: ManualClock
) -> int:
    async with sessions() as session, session.begin():
        hub = Hub(
            code="13",
            kind=HubKind.HUB,
            prefecture_code="13",
            name_ja="東京都よろず支援拠点",
            name_en="Tokyo Yorozu Support Center",
            implementing_org_ja="公益財団法人東京都中小企業振興公社",
        )
        session.add(hub)
        await session.flush()
        closed = Case(
            number="13-2026-000001",
            hub_id=hub.id,
            person_id=person_id,
            source=CaseSource.LINE,
            status=CaseStatus.CLOSED,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        case = Case(
            number="13-2026-000002",
            hub_id=hub.id,
            person_id=person_id,
            source=CaseSource.LINE,
            created_at=clock.now() - timedelta(days=1),
            updated_at=clock.now(),
        )
        session.add_all([closed, case])
        await session.flush()
        return case.id


async def test_full_run_with_a_wrong_amount_re_asked_stored_for_the_case(
    phone: Phone, session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    person_id = await phone.register()
    case_id = await open_case(session_factory, person_id, clock)

    first = await phone.open_selfcheck()
    assert "経営セルフチェックを始めます" in shown(first)
    assert "毎月の売上と利益を把握していますか？" in shown(first)
    assert {"はい", "だいたい", "いいえ"} <= set(buttons(first))

    # Two typed answers among the taps: typed labels count as much as taps.
    await phone.tap("yes")
    clock.advance(timedelta(minutes=1))
    await phone.type("いいえ")  # 資金繰り表
    await phone.type("だいたい")  # 商品ごとの採算
    for _ in range(5):
        await phone.tap("yes")
    offer = await phone.tap("no")  # 事業承継 (the last but one)
    assert "損益分岐点" not in shown(offer)
    offer = await phone.tap("yes")  # 補助金
    text = shown(offer)
    assert "チェック結果は20点満点中15点でした。" in text
    assert "「いいえ」とお答えの項目：資金繰り、事業承継" in text
    assert "損益分岐点（赤字にならないために必要な売上高）を計算してみませんか？" in text

    [checklist] = await results(session_factory, SelfCheckKind.CHECKLIST)
    assert checklist.person_id == person_id
    assert checklist.case_id == case_id
    assert checklist.answers["cash_flow"] == "no"
    assert checklist.result["weak_topics"] == ["finance", "business_succession"]

    sales = await phone.tap("yes")
    assert "年間の売上高を入力してください" in shown(sales)
    await phone.type("1,200万円")
    wrong = await phone.type("たくさん")
    assert "金額として読み取れませんでした" in shown(wrong)
    assert "年間の変動費を入力してください" in shown(wrong)
    await phone.type("７００万")
    final = await phone.type("400万円")

    text = shown(final)
    assert "セルフチェックは以上です" in text
    assert "損益分岐点売上高は約9,600,000円です" in text
    assert "売上があと約2,400,000円減ると赤字になります（安全余裕率20.0%）" in text
    assert buttons(final) == {"相談を予約する": "a=menu.book"}
    assert final.card is not None
    rows = {
        CATALOG.render(label, "ja"): CATALOG.render(value, "ja") for label, value in final.card.rows
    }
    assert rows["限界利益"] == "5,000,000円"
    assert rows["限界利益率"] == "41.7%"
    assert rows["損益分岐点売上高"] == "9,600,000円"
    assert rows["安全余裕率"] == "20.0%"

    [breakeven] = await results(session_factory, SelfCheckKind.BREAKEVEN)
    assert breakeven.case_id == case_id
    assert breakeven.answers == {
        "sales": 12_000_000,
        "variable_costs": 7_000_000,
        "fixed_costs": 4_000_000,
    }
    assert breakeven.result["verdict"] == "healthy"
    assert breakeven.result["break_even_sales"] == 9_600_000

    async with session_factory() as session:
        assert await selfcheck.latest_weak_topics(session, person_id) == (
            Topic.FINANCE,
            Topic.BUSINESS_SUCCESSION,
        )


async def test_a_loss_is_said_plainly_and_linked_when_a_case_opens_later(
    phone: Phone, session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    person_id = await phone.register()
    await phone.open_selfcheck()
    await phone.answer_checklist()
    await phone.type("はい")
    await phone.type("1000万")
    await phone.type("600万")
    final = await phone.type("5,000千円")

    text = shown(final)
    assert "損益分岐点売上高は約12,500,000円です" in text
    assert "年間約1,000,000円の赤字です" in text
    assert "売上をあと約2,500,000円増やすか" in text
    assert "Your sales are below that" in shown(final, "en")
    assert final.card is not None
    rows = {
        CATALOG.render(label, "ja"): CATALOG.render(value, "ja") for label, value in final.card.rows
    }
    assert rows["安全余裕率"] == "-25.0%"

    stored = await results(session_factory, SelfCheckKind.CHECKLIST) + await results(
        session_factory, SelfCheckKind.BREAKEVEN
    )
    assert [row.case_id for row in stored] == [None, None]
    assert stored[1].result["verdict"] == "loss"

    case_id = await open_case(session_factory, person_id, clock)
    async with session_factory() as session, session.begin():
        linked = await selfcheck.attach_to_case(session, person_id=person_id, case_id=case_id)
    assert linked == 2
    stored = await results(session_factory, SelfCheckKind.CHECKLIST) + await results(
        session_factory, SelfCheckKind.BREAKEVEN
    )
    assert [row.case_id for row in stored] == [case_id, case_id]


async def test_variable_costs_above_sales_mean_no_break_even(
    phone: Phone, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await phone.register()
    await phone.open_selfcheck()
    await phone.answer_checklist()
    await phone.tap("yes")
    zero = await phone.type("0円")
    assert "売上高は0円より大きい金額で入力してください" in shown(zero)
    await phone.type("500万")
    await phone.type("600万")
    final = await phone.type("0")

    text = shown(final)
    assert "限界利益（売上高−変動費）がマイナスです" in text
    assert "損益分岐点には届きません" in text
    assert "損益分岐点売上高は約" not in text
    assert final.card is not None
    rows = {
        CATALOG.render(label, "ja"): CATALOG.render(value, "ja") for label, value in final.card.rows
    }
    assert rows["損益分岐点売上高"] == "計算できません"
    assert rows["限界利益"] == "-1,000,000円"
    [breakeven] = await results(session_factory, SelfCheckKind.BREAKEVEN)
    assert breakeven.result["verdict"] == "no_margin"
    assert breakeven.result["break_even_sales"] is None


async def test_declining_the_calculator_still_invites_to_book(
    phone: Phone, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await phone.register()
    await phone.open_selfcheck()
    offer = await phone.answer_checklist(**{entry.key: "no" for entry in CHECKLIST})
    assert "チェック結果は20点満点中0点でした。" in shown(offer)
    final = await phone.tap("no")

    assert "セルフチェックは以上です" in shown(final)
    assert "コーディネーターと一緒に次の一手を考えてみませんか" in shown(final)
    assert buttons(final) == {"相談を予約する": "a=menu.book"}
    assert final.card is None
    assert await results(session_factory, SelfCheckKind.BREAKEVEN) == []
    [checklist] = await results(session_factory, SelfCheckKind.CHECKLIST)
    assert checklist.result["level"] == "needs_attention"


async def test_going_back_to_change_an_answer_updates_the_one_stored_result(
    phone: Phone, session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    await phone.register()
    await phone.open_selfcheck()
    await phone.answer_checklist(subsidies="no")
    back = await phone.type("戻る")
    assert "使える補助金や支援制度を調べ、活用していますか？" in shown(back)
    again = await phone.tap("yes")
    assert "チェック結果は20点満点中20点でした。" in shown(again)

    [checklist] = await results(session_factory, SelfCheckKind.CHECKLIST)
    assert checklist.answers["subsidies"] == "yes"
    assert checklist.result["score"] == 20

    # A later run is a new result: the CO sees how the owner's answers moved.
    clock.advance(timedelta(days=30))
    await phone.open_selfcheck()
    await phone.answer_checklist(staffing="no")
    first, second = await results(session_factory, SelfCheckKind.CHECKLIST)
    assert first.result["score"] == 20
    assert second.result["weak"] == ["staffing"]


async def test_an_unrelated_tap_re_asks_and_cancel_keeps_the_checklist(
    phone: Phone, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await phone.register()
    await phone.open_selfcheck()
    stray = await phone.press("a=booking.hold&s=1")
    assert "毎月の売上と利益を把握していますか？" in shown(stray)
    await phone.answer_checklist()
    cancelled = await phone.type("やめる")
    assert "入力を中止しました" in shown(cancelled)

    async with session_factory() as session:
        state = await SessionConversationStore(session).load(
            ConversationKey("line", CHANNEL.channel_key, phone.user_id)
        )
    assert state is not None
    assert state.status is Status.CANCELLED
    assert len(await results(session_factory, SelfCheckKind.CHECKLIST)) == 1
