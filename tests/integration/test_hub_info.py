"""拠点のご案内 through the real webhook, worker and dispatcher, to the LINE stand-in.

The owner writes to the 東京都 hub's own account (/webhooks/line/13). Its CCO's profile is
entered through the console's settings code (core.console.hub_settings), the way the console
page stores it. The stand-in checks every request against LINE's OpenAPI description. The
clock stands at Monday 2026-06-01 10:00 in Tokyo; the demo COs have free slots after it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.clock import ManualClock
from core.console import hub_settings
from core.db.models import Booking, Case, ChannelIdentity, Hub, LineChannel
from core.db.session import unit_of_work
from core.domain.enums import BookingStatus, CaseSource, CaseStatus
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

SECRET, TOKEN = "hub-info-national-secret", "hub-info-national-token"
HUB_SECRET, HUB_TOKEN = "hub-info-13-secret-0123456789abcd", "hub-info-13-token"
PROFILE = {
    "info_name": "東京都よろず支援拠点",
    "info_postal_code": "１０００００５",
    "info_address": "東京都千代田区丸の内一丁目1-1 テストビル3階",
    "info_latitude": "35.681236",
    "info_longitude": "139.767125",
    "info_phone": "03-1234-5678",
    "info_website": "https://example.org/yorozu13",
    "info_hours_0": "9:00-17:00",
    "info_hours_1": "9:00-17:00",
    "info_hours_2": "9:00-12:00, 13:00-17:00",
    "info_hours_3": "9:00-17:00",
    "info_hours_4": "9:00-17:00",
    "info_hours_5": "休",
    "info_hours_6": "休",
    "info_access": "JR東京駅 丸の内北口から徒歩5分",
}


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The app builds its own engine from the URL (the settings code runs on both backends
    in the console tests)."""
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))


@pytest.fixture
def line_api(clock: ManualClock) -> Iterator[tuple[str, LineApiStandin]]:
    standin = create_line_api({TOKEN: "2000000001", HUB_TOKEN: "2000000013"}, clock=clock.now)
    with ServerThread(standin.app) as server:
        yield server.base_url, standin


@dataclass
class Service:
    container: Container
    client: httpx.AsyncClient
    dispatcher: Dispatcher
    clock: ManualClock
    standin: LineApiStandin

    async def settle(self) -> None:
        handler = build_handler(self.container)
        sessions = self.container.session_factory
        while await handle_next(sessions, handler, self.clock.now(), "test-worker"):
            pass
        for _ in range(20):
            if (await self.dispatcher.run_once()).claimed == 0:
                break

    async def set_profile(self, typed: dict[str, str], closed: list[date] = ()) -> None:  # type: ignore[assignment]
        async with unit_of_work(self.container.session_factory) as session:
            hub = await session.scalar(select(Hub).where(Hub.code == "13"))
            assert hub is not None
            current = await hub_settings.current_settings(session, hub)
            current["closed_days"] = "\n".join(d.isoformat() for d in closed)
            form = hub_settings.read_settings({**current, **typed})
            assert form.ok, form.errors
            await hub_settings.apply_settings(
                session, hub, form, actor_id=None, now=self.clock.now()
            )


@pytest.fixture
async def service(
    database_url: str, line_api: tuple[str, LineApiStandin], clock: ManualClock
) -> AsyncIterator[Service]:
    base_url, standin = line_api
    settings = load_settings(
        database_url=database_url,
        redis_url=None,
        line_channel_secret=SECRET,
        line_channel_access_token=TOKEN,
        line_api_base_url=base_url,
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        container: Container = app.state.container
        async with unit_of_work(container.session_factory) as session:
            await seed(session, demo=True, clock=clock)
            hub = await session.scalar(select(Hub).where(Hub.code == "13"))
            assert hub is not None
            session.add(
                LineChannel(
                    hub_id=hub.id,
                    channel_id="2000000013",
                    name="東京都よろず支援拠点",
                    secret=HUB_SECRET,
                    access_token=HUB_TOKEN,
                )
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://line") as client:
            dispatcher = Dispatcher(container)
            try:
                yield Service(container, client, dispatcher, clock, standin)
            finally:
                await dispatcher.aclose()


@dataclass
class Phone:
    service: Service
    path: str = "/webhooks/line/13"
    secret: str = HUB_SECRET
    user_id: str = ""
    seen: int = 0

    def __post_init__(self) -> None:
        self.user_id = make_line_user_id(uuid.uuid4().hex)

    async def send(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        standin = self.service.standin
        event = {
            "mode": "active",
            "timestamp": int(self.service.clock.now().timestamp() * 1000),
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
            "replyToken": standin.issue_reply_token(self.user_id),
            **event,
        }
        body = json.dumps({"destination": "Ubot", "events": [event]}).encode()
        answer = await self.service.client.post(
            self.path, content=body, headers=line_headers(self.secret, body)
        )
        assert answer.status_code == 200, answer.text
        await self.service.settle()
        messages = standin.recorder.messages_to(self.user_id)
        new, self.seen = messages[self.seen :], len(messages)
        return new

    async def postback(self, data: str) -> list[dict[str, Any]]:
        return await self.send({"type": "postback", "postback": {"data": data}})

    async def consented(self) -> None:
        greeting = await self.send({"type": "follow", "follow": {"isUnblocked": False}})
        agree = next(a for a in line_actions(greeting) if a["label"] == "同意する")
        await self.postback(agree["data"])


def flat(messages: list[dict[str, Any]]) -> str:
    return json.dumps(messages, ensure_ascii=False)


def buttons(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every action on the card's buttons, by label."""
    found: dict[str, dict[str, Any]] = {}
    for message in messages:
        if message["type"] != "flex":
            continue
        for button in message["contents"].get("footer", {}).get("contents", []):
            found[button["action"]["label"]] = button["action"]
    return found


def refused(service: Service) -> list[Any]:
    return [r for r in service.standin.recorder.requests if r.status >= 400]


async def test_the_hub_info_shows_address_map_call_and_web_buttons_hours_and_the_next_slot(
    service: Service,
) -> None:
    await service.set_profile(PROFILE)
    phone = Phone(service)
    await phone.consented()

    said = await phone.postback("a=menu.hub")
    kinds = [m["type"] for m in said]
    assert kinds == ["flex", "location"], kinds
    card = flat(said[:1])
    assert "東京都よろず支援拠点" in card
    assert "〒100-0005 東京都千代田区丸の内一丁目1-1 テストビル3階" in card
    assert "03-1234-5678" in card
    # Monday: today's hours, and the week summarised by runs of weekdays.
    assert "本日は営業しています（9:00〜17:00）" in card
    assert "月〜火　9:00〜17:00" in card
    assert "水　9:00〜12:00、13:00〜17:00" in card
    assert "土〜日　休み" in card
    assert "JR東京駅 丸の内北口から徒歩5分" in card
    assert "次の空き" in card
    pin = said[1]
    assert (pin["latitude"], pin["longitude"]) == (35.681236, 139.767125)
    assert pin["title"] == "東京都よろず支援拠点"
    found = buttons(said)
    assert found["電話する（03-1234-5678）"] == {
        "type": "uri",
        "label": "電話する（03-1234-5678）",
        "uri": "tel:+81312345678",
    }
    assert found["ホームページを見る"]["uri"] == "https://example.org/yorozu13"
    # No case yet: booking starts with the intake, which ends by offering the slots.
    intake = await phone.postback(found["相談を予約する"]["data"])
    assert "事業者名" in flat(intake)
    assert refused(service) == []


async def test_an_owner_with_a_case_books_the_slot_shown_in_one_tap(service: Service) -> None:
    await service.set_profile(PROFILE)
    phone = Phone(service)
    await phone.consented()
    async with unit_of_work(service.container.session_factory) as session:
        identity = await session.scalar(
            select(ChannelIdentity).where(ChannelIdentity.external_user_id == phone.user_id)
        )
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert identity is not None
        assert hub is not None
        now = service.clock.now()
        session.add(
            Case(
                number="13-2026-000001",
                hub_id=hub.id,
                person_id=identity.person_id,
                source=CaseSource.LINE,
                topics=["sales"],
                status=CaseStatus.QUEUED,
                created_at=now,
                updated_at=now,
            )
        )

    info = await phone.postback("a=menu.hub")
    book = buttons(info)["この日時で予約する"]
    assert "booking.pick" in book["data"]
    booked = await phone.postback(book["data"])
    assert "予約" in flat(booked)
    async with service.container.session_factory() as session:
        [row] = (await session.scalars(select(Booking))).all()
        assert row.status is BookingStatus.CONFIRMED
        assert str(int(row.starts_at.timestamp())) in book["data"]
    again = await phone.postback("a=menu.hub")
    assert "ご予約" in flat(again)
    assert "予約を確認する" in buttons(again)
    assert refused(service) == []


async def test_a_closed_day_says_so_and_nothing_unset_is_shown(service: Service) -> None:
    # Only the hours are known; today (Monday 2026-06-01) is one of the hub's closed days.
    await service.set_profile(
        {"info_hours_0": "9:00-17:00"}, closed=(date(2026, 6, 1), date(2026, 12, 29))
    )
    phone = Phone(service)
    await phone.consented()
    said = await phone.postback("a=menu.hub")
    assert [m["type"] for m in said] == ["text", "flex"]  # no map: no position known
    shown = flat(said)
    assert "本日は休業日です" in shown
    assert "ただいま準備中" in shown
    for absent in ('"住所"', '"電話"', '"アクセス"', "ホームページを見る", "tel:", '"uri"'):
        assert absent not in shown, absent
    assert refused(service) == []


async def test_the_national_account_names_no_hub_before_there_is_a_case(service: Service) -> None:
    phone = Phone(service, path="/webhooks/line", secret=SECRET)
    await phone.consented()
    said = await phone.postback("a=menu.hub")
    assert "担当する拠点の住所や営業時間をご案内します" in flat(said)
    assert "location" not in [m["type"] for m in said]
    assert refused(service) == []
