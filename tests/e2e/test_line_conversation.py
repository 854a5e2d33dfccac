"""An owner's whole LINE conversation, through the real webhook, worker and dispatcher.

Every request to LINE goes to the stand-in on a real local port, which checks it against
LINE's official OpenAPI description; every event is signed as LINE signs it. The owner is
driven the way a person uses the app: they read what arrived and tap the buttons it offers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

import core.db.models as m
from core.clock import ManualClock
from core.db.session import unit_of_work
from core.domain.enums import BookingStatus, CaseStatus
from core.inbox import handle_next
from integrations.standins import ServerThread, create_line_api, make_line_user_id
from integrations.standins.line_api import LineApiStandin
from integrations.standins.signing import line_headers
from yorozu.app import create_app
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.handlers import build_handler
from yorozu.sandbox import line_actions
from yorozu.seed import seed
from yorozu.settings import load_settings

SECRET = "conversation-test-secret"
TOKEN = "conversation-test-token"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The app builds its own engine from the URL: the embedded database (the flows
    themselves run on both backends in tests/integration)."""
    return str(request.param)


@pytest.fixture
def line_clock() -> ManualClock:
    # Monday 2026-06-01 10:00 JST: the demo COs have free slots in the days after.
    return ManualClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))


@pytest.fixture
def line_api(line_clock: ManualClock) -> Iterator[tuple[str, LineApiStandin]]:
    standin = create_line_api({TOKEN: "2000000001"}, clock=line_clock.now)
    with ServerThread(standin.app) as server:
        yield server.base_url, standin


@dataclass
class Service:
    container: Container
    client: httpx.AsyncClient
    dispatcher: Dispatcher
    clock: ManualClock

    async def settle(self) -> None:
        """Let the worker handle every stored event and the dispatcher send every answer."""
        handler = build_handler(self.container)
        sessions = self.container.session_factory
        while await handle_next(sessions, handler, self.clock.now(), "test-worker"):
            pass
        for _ in range(20):
            report = await self.dispatcher.run_once()
            if report.claimed == 0:
                break


@pytest.fixture
async def service(
    database_url: str,
    line_api: tuple[str, LineApiStandin],
    line_clock: ManualClock,
) -> AsyncIterator[Service]:
    base_url, _standin = line_api
    settings = load_settings(
        database_url=database_url,
        redis_url=None,
        line_channel_secret=SECRET,
        line_channel_access_token=TOKEN,
        line_api_base_url=base_url,
    )
    app = create_app(settings, clock=line_clock)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        async with unit_of_work(container.session_factory) as session:
            await seed(session, demo=True, clock=line_clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://line") as client:
            dispatcher = Dispatcher(container)
            try:
                yield Service(container, client, dispatcher, line_clock)
            finally:
                await dispatcher.aclose()


@dataclass
class Phone:
    """One owner's LINE app: sends signed events, reads what LINE delivered."""

    service: Service
    standin: LineApiStandin
    user_id: str = field(default_factory=lambda: make_line_user_id(uuid.uuid4().hex))
    seen: int = 0

    async def _send(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        now = self.service.clock.now()
        event = {
            "mode": "active",
            "timestamp": int(now.timestamp() * 1000),
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
            **event,
        }
        if event["type"] != "unfollow":
            event["replyToken"] = self.standin.issue_reply_token(self.user_id)
        body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
        response = await self.service.client.post(
            "/webhooks/line", content=body, headers=line_headers(SECRET, body)
        )
        assert response.status_code == 200, response.text
        await self.service.settle()
        messages = self.standin.recorder.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        return new

    async def follow(self) -> list[dict[str, Any]]:
        return await self._send({"type": "follow", "follow": {"isUnblocked": False}})

    async def say(self, text: str) -> list[dict[str, Any]]:
        message = {"id": uuid.uuid4().hex[:12], "type": "text", "text": text, "quoteToken": "q"}
        return await self._send({"type": "message", "message": message})

    async def tap(self, label: str, received: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Tap the button with this label in what was last received."""
        action = find_action(received, label)
        postback: dict[str, Any] = {"data": action["data"]}
        return await self._send({"type": "postback", "postback": postback})

    async def pick_date(
        self, label: str, received: list[dict[str, Any]], day: str
    ) -> list[dict[str, Any]]:
        action = find_action(received, label)
        postback = {"data": action["data"], "params": {"date": day}}
        return await self._send({"type": "postback", "postback": postback})


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(item.get("text") or item.get("altText", "")) for item in messages)


def actions(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tappable action in some LINE messages: quick replies and flex buttons."""
    return line_actions(messages)


def find_action(messages: list[dict[str, Any]], label: str) -> dict[str, Any]:
    for action in actions(messages):
        if label in str(action.get("label", "")):
            return action
    labels = [a.get("label") for a in actions(messages)]
    raise AssertionError(f"no button {label!r} among {labels}\n{texts(messages)}")


async def _rows(service: Service, model: Any) -> list[Any]:
    async with service.container.session_factory() as session:
        return list(await session.scalars(select(model)))


async def test_follow_consent_intake_booking_change_and_cancel(
    service: Service, line_api: tuple[str, LineApiStandin]
) -> None:
    _url, standin = line_api
    phone = Phone(service, standin)

    greeting = await phone.follow()
    assert "友だち追加ありがとうございます" in texts(greeting)
    assert "プライバシーポリシー" in texts(greeting)
    # Nothing personal is asked before consent: a message only gets the consent question.
    assert "同意" in texts(await phone.say("相談したいです"))

    consented = await phone.tap("同意する", greeting)
    assert "ご同意ありがとうございます" in texts(consented)

    said = await phone._send({"type": "postback", "postback": {"data": "a=menu.book"}})
    assert "事業者名（会社名・屋号）を教えてください" in texts(said)
    said = await phone.say("さくら商店")
    said = await phone.say("山田 花子")
    assert "都道府県" in texts(said)  # the national account asks the prefecture
    said = await phone.say("東京")
    said = await phone.say("渋谷区")
    said = await phone.tap("小売", said)
    assert "数字" in texts(await phone.say("たくさん"))  # a wrong answer is re-asked
    said = await phone.say("戻る")  # back to the industry, the answer kept
    said = await phone.tap("小売", said)
    said = await phone.say("3人")
    said = await phone.say("令和5年4月")
    said = await phone.tap("売上拡大", said)
    said = await phone.tap("完了", said)
    said = await phone.say("新商品の販路を広げたい")
    offers = await phone.tap("来所", said)
    assert "受付番号" in texts(offers)
    slot_buttons = [a for a in actions(offers) if "booking.pick" in a["data"]]
    assert slot_buttons, texts(offers)

    confirmed = await phone.tap(slot_buttons[0]["label"], offers)
    assert "予約" in texts(confirmed)
    [booking] = await _rows(service, m.Booking)
    assert booking.status is BookingStatus.CONFIRMED
    [case] = await _rows(service, m.Case)
    assert case.status is CaseStatus.BOOKED
    # The hub's queue card in Slack now names the slot's CO and the date, with no 担当する.
    co = next(c for c in await _rows(service, m.Coordinator) if c.id == booking.co_id)
    updates = [
        row
        for row in await _rows(service, m.OutboxMessage)
        if row.kind == "slack_update" and row.case_id == case.id
    ]
    assert len(updates) == 1
    shown = json.dumps(updates[0].payload, ensure_ascii=False)
    assert co.name in shown
    assert "case.claim" not in shown

    # 予約の確認・変更 → move to another slot, then cancel it with a confirmation.
    listing = await phone._send({"type": "postback", "postback": {"data": "a=menu.bookings"}})
    moving = await phone.tap("変更", listing)
    other = [a for a in actions(moving) if "booking.pick" in a["data"]]
    moved = await phone.tap(other[1]["label"] if len(other) > 1 else other[0]["label"], moving)
    assert "予約" in texts(moved)
    bookings = await _rows(service, m.Booking)
    assert [b.status for b in bookings].count(BookingStatus.CONFIRMED) == 1

    listing = await phone._send({"type": "postback", "postback": {"data": "a=menu.bookings"}})
    asking = await phone.tap("キャンセル", listing)
    cancelled = await phone.tap("キャンセルする", asking)
    assert "キャンセル" in texts(cancelled)
    assert "予約をキャンセルします。よろしいですか" in texts(asking)
    bookings = await _rows(service, m.Booking)
    assert all(b.status is not BookingStatus.CONFIRMED for b in bookings)

    # The stand-in refused nothing: every request matched LINE's official description.
    refused = [r for r in standin.recorder.requests if r.status >= 400]
    assert refused == []


async def test_an_abandoned_intake_is_resumed_the_next_day(
    service: Service, line_api: tuple[str, LineApiStandin], line_clock: ManualClock
) -> None:
    _url, standin = line_api
    phone = Phone(service, standin)
    greeting = await phone.follow()
    await phone.tap("同意する", greeting)
    await phone._send({"type": "postback", "postback": {"data": "a=menu.book"}})
    await phone.say("山田製作所")
    await phone.say("山田 太郎")

    line_clock.advance(timedelta(days=1, hours=2))
    prompt = await phone.say("こんにちは")
    assert "再開" in texts(prompt) or "続き" in texts(prompt)
    resumed = await phone.tap("続き", prompt)
    # The answers given yesterday are kept: the next question is the prefecture.
    assert "都道府県" in texts(resumed)
    async with service.container.session_factory() as session:
        state = await session.scalar(select(m.ConversationStateRow))
    assert state is not None
    assert state.answers["business_name"] == "山田製作所"
