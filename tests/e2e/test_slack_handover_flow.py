"""A partner's hand-over followed from the modal to the closed case, through the whole app.

The app is the one `yorozu.app.create_app` builds for production: its own engine, inbox writer
and Bolt app behind `POST /slack/events`. Every Slack interaction is a request signed as Slack
signs it; the Slack Web API is the stand-in on a real local port (LINE's too, though this
story never reaches an owner's phone). The worker is the production handler
(`yorozu.handlers.build_handler`) and the dispatcher the production one, so what the test
reads at the stand-in is what the 経営指導員 and the hub's coordinator would see in Slack.

Demo data: 石井 直子 (八王子商工会議所) hands the case over; 高橋 浩二, a CO of the Tokyo hub,
takes it from the card in the hub's intake channel C0HUB13, books the consultation from the
card (the owner is not on LINE) and records it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import core.db.models as m
from core.clock import ManualClock
from core.db.session import unit_of_work
from core.domain.enums import (
    BookingStatus,
    CaseStatus,
    InboxStatus,
    OutboxStatus,
)
from core.inbox import handle_next
from integrations.standins import (
    ServerThread,
    SlackApiStandin,
    create_line_api,
    create_slack_api,
    slack_headers,
)
from integrations.standins.slack_api import SlackMessage
from yorozu.app import create_app
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.handlers import build_handler
from yorozu.seed import seed
from yorozu.settings import load_settings

Factory = async_sessionmaker[AsyncSession]

SLACK_SECRET = "handover-flow-signing-secret"
SLACK_TOKEN = "xoxb-handover-flow-bot-token"
LINE_SECRET = "handover-flow-line-secret"
LINE_TOKEN = "handover-flow-line-token"
TEAM = "T0YOROZUDEMO"
STAFF = "U0ISHIINAOK"  # 石井 直子, 経営指導員 at 八王子商工会議所 (demo seed)
CO = "U0TAKAHASHI"  # 高橋 浩二, CO at the Tokyo hub (demo seed, Mon/Wed/Fri 10:00-16:00)
CO_NAME = "高橋 浩二"
INTAKE = "C0HUB13"  # the demo Tokyo hub's intake channel
BUSINESS = "有限会社みなみ製麺"
DESCRIPTION = "主要取引先の倒産で売掛金が回収できず、来月の支払いが不安。社長の携帯は夜のみ可。"
PHONE = "042-987-6543"
CONTACT = "南 一郎"


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """The app builds its own engine from the URL: the embedded database (each step runs on
    both backends in tests/integration)."""
    return str(request.param)


@pytest.fixture
def flow_clock() -> ManualClock:
    # Monday 2026-06-01 10:00 JST.
    return ManualClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))


@pytest.fixture
def slack_api(flow_clock: ManualClock) -> SlackApiStandin:
    return create_slack_api([SLACK_TOKEN], clock=flow_clock.now, team_id=TEAM)


@dataclass
class Service:
    container: Container
    http: httpx.AsyncClient
    dispatcher: Dispatcher
    clock: ManualClock
    slack: SlackApiStandin

    @property
    def factory(self) -> Factory:
        return self.container.session_factory

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        """An interaction payload, form-encoded and signed as Slack sends it."""
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            **slack_headers(SLACK_SECRET, body),
        }
        response = await self.http.post("/slack/events", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response

    async def until(self, condition: Callable[[], Awaitable[bool]], what: str) -> None:
        """Wait for what Bolt runs after the ack (process_before_response=False): a poll of
        the real event loop, not a wait for time (the clock is manual)."""
        for _ in range(500):
            if await condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never happened: {what}")

    async def inbox_rows(self) -> int:
        async with self.factory() as session:
            return int(await session.scalar(select(func.count()).select_from(m.InboxEvent)) or 0)

    async def stored(self, before: int, what: str) -> None:
        async def more() -> bool:
            return await self.inbox_rows() > before

        await self.until(more, what)

    async def opened(self, user: str, before: int) -> dict[str, Any]:
        """The view Slack now shows `user` (as Slack knows it: id, hash, metadata)."""

        async def more() -> bool:
            return len(self.slack.recorder.views_opened_for(user)) > before

        await self.until(more, f"a modal opened for {user}")
        opened = [v for v in self.slack.recorder.views if v.user_id == user]
        view = self.slack.view(opened[-1].view_id)
        assert view is not None
        return view

    async def settle(self) -> None:
        """The worker handles every stored event, then the dispatcher sends the outbox; Slack's
        per-channel pace is kept, so the manual clock moves a little between rounds."""
        handler = build_handler(self.container)
        while await handle_next(self.factory, handler, self.clock.now(), "test-worker"):
            pass
        async with self.factory() as session:
            unhandled = await session.scalar(
                select(func.count())
                .select_from(m.InboxEvent)
                .where(m.InboxEvent.status != InboxStatus.DONE)
            )
        assert unhandled == 0
        for _ in range(30):
            await self.dispatcher.run_once()
            async with self.factory() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(m.OutboxMessage)
                    .where(m.OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
                )
            if not waiting:
                return
            self.clock.advance(timedelta(seconds=2))
        raise AssertionError("the outbox did not drain")

    def dms(self, user: str) -> list[str]:
        channel = self.slack.dm_channel_for(user)
        return [message.text or "" for message in self.slack.recorder.messages_in(channel)]


@pytest.fixture
async def service(
    database_url: str, flow_clock: ManualClock, slack_api: SlackApiStandin
) -> AsyncIterator[Service]:
    line_api = create_line_api({LINE_TOKEN: "2000000001"}, clock=flow_clock.now)
    with ServerThread(slack_api.app) as slack_server, ServerThread(line_api.app) as line_server:
        settings = load_settings(
            database_url=database_url,
            redis_url=None,
            slack_signing_secret=SLACK_SECRET,
            slack_bot_token=SLACK_TOKEN,
            slack_api_base_url=slack_server.url + "/api/",
            line_channel_secret=LINE_SECRET,
            line_channel_access_token=LINE_TOKEN,
            line_api_base_url=line_server.base_url,
        )
        app = create_app(settings, clock=flow_clock)
        async with app.router.lifespan_context(app):
            container: Container = app.state.container
            async with unit_of_work(container.session_factory) as session:
                await seed(session, demo=True, clock=flow_clock)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://yorozu") as http:
                dispatcher = Dispatcher(container)
                try:
                    yield Service(container, http, dispatcher, flow_clock, slack_api)
                finally:
                    await dispatcher.aclose()
        assert line_api.recorder.requests == []  # nothing in this story goes to an owner


# -- what people send ---------------------------------------------------------------------------


def _user(user: str) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "team_id": TEAM}


def global_shortcut(trigger: str) -> dict[str, Any]:
    return {
        "type": "shortcut",
        "token": "legacy",
        "callback_id": "handover_global",
        "trigger_id": trigger,
        "action_ts": "1780275600.000100",
        "team": {"id": TEAM, "domain": "yorozu-demo"},
        "user": _user(STAFF),
    }


def view_submission(user: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends when `user` presses the modal's submit: the view it showed, with the
    inputs' state (block id → action id "value" → the element's state)."""
    state = {block: {"value": element} for block, element in values.items()}
    return {
        "type": "view_submission",
        "token": "legacy",
        "trigger_id": "1780275600.1.handover",
        "api_app_id": "A0STANDIN1",
        "team": {"id": TEAM, "domain": "yorozu-demo"},
        "user": _user(user),
        "view": {**view, "state": {"values": state}},
    }


def click(
    user: str, trigger: str, message: SlackMessage, button: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """A click on a button of a message in a channel, as Slack sends it."""
    return {
        "type": "block_actions",
        "token": "legacy",
        "api_app_id": "A0STANDIN1",
        "trigger_id": trigger,
        "team": {"id": TEAM, "domain": "yorozu-demo"},
        "user": _user(user),
        "container": {"type": "message", "channel_id": message.channel, "message_ts": message.ts},
        "channel": {"id": message.channel, "name": "yorozu-13-intake"},
        "message": {"type": "message", "ts": message.ts, "text": message.text or ""},
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "actions",
                "value": button["value"],
                "text": button["text"],
                "action_ts": f"{at.timestamp():.6f}",
            }
        ],
    }


def button(message: SlackMessage, label: str) -> dict[str, Any]:
    found = [
        element
        for block in message.blocks or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("text", {}).get("text") == label
    ]
    assert len(found) == 1, f"no single button {label!r} in {message.blocks}"
    chosen: dict[str, Any] = found[0]
    return chosen


def handover_values() -> dict[str, Any]:
    def text(value: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    def chosen(kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "selected_option": {"value": value}}

    def ticked(kind: str, *values: str) -> dict[str, Any]:
        return {"type": kind, "selected_options": [{"value": value} for value in values]}

    return {
        "business_name": text(BUSINESS),
        "corporate_number": text(None),
        "prefecture": chosen("static_select", "13"),
        "municipality": text("八王子市"),
        "contact_name": text(CONTACT),
        "phone": text(PHONE),
        "email": text(None),
        "industry": chosen("static_select", "manufacturing"),
        "employees": {"type": "number_input", "value": "12"},
        "topics": ticked("multi_static_select", "finance"),
        "description": text(DESCRIPTION),
        "urgency": chosen("radio_buttons", "normal"),
        "consent": ticked("checkboxes", "yes"),
        "sit_in": ticked("checkboxes", "yes"),
    }


# -- the story -------------------------------------------------------------------------------


async def test_a_hand_over_from_the_modal_to_the_closed_case(service: Service) -> None:
    slack, clock = service.slack, service.clock

    # 1. 石井さん opens 「よろずに引き継ぐ」 from the shortcut menu: the modal opens.
    await service.interact(global_shortcut(slack.issue_trigger_id(STAFF)))
    modal = await service.opened(STAFF, 0)
    assert modal["callback_id"] == "handover_submit"
    assert modal["title"]["text"] == "よろずに引き継ぐ"

    # 2. She fills it in and presses 引き継ぐ: the modal closes, the worker makes the case.
    before = await service.inbox_rows()
    response = await service.interact(view_submission(STAFF, modal, handover_values()))
    assert response.content in (b"", b"{}"), response.text  # no field errors: it closes
    await service.stored(before, "the hand-over stored")
    await service.settle()

    async with service.factory() as session:
        [case] = (await session.scalars(select(m.Case))).all()
        hub = await session.get(m.Hub, case.hub_id)
        co = await session.scalar(select(m.Coordinator).where(m.Coordinator.slack_user_id == CO))
    assert hub is not None
    assert co is not None
    assert (hub.code, case.status) == ("13", CaseStatus.QUEUED)
    number = case.number
    assert number.startswith("13-2026-")

    [confirmation] = service.dms(STAFF)
    assert f"「{BUSINESS}」の引き継ぎを受け付けました。受付番号は {number} です。" in confirmation
    [card] = slack.recorder.messages_in(INTAKE)
    assert f"新規相談 {number}" in (card.text or "")
    assert BUSINESS in (card.text or "")
    assert "八王子商工会議所" in (card.text or "")
    for private in (DESCRIPTION, PHONE, CONTACT):
        assert private not in json.dumps([card.text, card.blocks], ensure_ascii=False)

    # 3. 高橋さん clicks 担当する on the card: the card names him, 石井さん hears who took it.
    before = await service.inbox_rows()
    claim = button(card, "担当する")
    await service.interact(click(CO, slack.issue_trigger_id(CO), card, claim, clock.now()))
    await service.stored(before, "the claim stored")
    await service.settle()

    [claimed_card] = slack.recorder.messages_in(INTAKE)  # the same message, updated
    assert claimed_card.ts == card.ts
    [update] = slack.recorder.updates_in(INTAKE)
    assert f"担当: {CO_NAME}" in (update.text or "")
    labels = json.dumps(claimed_card.blocks, ensure_ascii=False)
    assert "担当する" not in labels
    assert "相談結果を記録" in labels
    dms = service.dms(STAFF)
    assert len(dms) == 2
    assert f"の担当が {CO_NAME} コーディネーターに決まりました。" in dms[1]
    assert f"案件 {number}（{BUSINESS}）" in dms[1]

    # 4. The owner is not on LINE, so 高橋さん books the consultation with them by phone:
    # 予約を入れる on the card opens a modal with his next free hours in Japan time; he picks
    # Wednesday 14:00 JST, 来所, and presses 予約する.
    views_before = len(slack.recorder.views_opened_for(CO))
    [card_now] = slack.recorder.messages_in(INTAKE)
    book = button(card_now, "予約を入れる")
    await service.interact(click(CO, slack.issue_trigger_id(CO), card_now, book, clock.now()))
    book_modal = await service.opened(CO, views_before)
    assert book_modal["callback_id"] == "co.book"
    assert book_modal["title"]["text"] == "相談の予約"
    blocks = {b["block_id"]: b for b in book_modal["blocks"]}
    offered = {o["text"]["text"]: o["value"] for o in blocks["slot"]["element"]["options"]}
    assert len(offered) <= 25
    # His working days only (Mon/Wed/Fri), from today after the two hours' lead time.
    assert next(iter(offered)).startswith("6月1日(月) 1")
    assert not any("(火)" in label or "6月1日(月) 10:00" in label for label in offered)
    modes = [o["text"]["text"] for o in blocks["mode"]["element"]["options"]]
    assert modes == ["来所", "オンライン"]

    before = await service.inbox_rows()
    response = await service.interact(
        view_submission(
            CO,
            book_modal,
            {
                "slot": {
                    "type": "static_select",
                    "selected_option": {"value": offered["6月3日(水) 14:00"]},
                },
                "mode": {"type": "radio_buttons", "selected_option": {"value": "visit"}},
            },
        )
    )
    assert response.content in (b"", b"{}"), response.text  # the slot is free: it closes
    await service.stored(before, "the booking stored")
    await service.settle()

    async with service.factory() as session:
        booked_case = await session.get(m.Case, case.id)
        [booking] = (await session.scalars(select(m.Booking))).all()
    assert booked_case is not None
    assert booked_case.status is CaseStatus.BOOKED
    assert (booking.co_id, booking.status) == (co.id, BookingStatus.CONFIRMED)
    assert booking.starts_at.replace(tzinfo=UTC) == datetime(2026, 6, 3, 5, 0, tzinfo=UTC)
    booking_id = booking.id
    [booked_card] = slack.recorder.messages_in(INTAKE)  # the same card, now with the date
    assert "6月3日(水) 14:00〜15:00（来所）" in (booked_card.text or "")
    labels = json.dumps(booked_card.blocks, ensure_ascii=False)
    assert "予約を入れる" not in labels
    assert "相談結果を記録" in labels
    assert any(
        f"案件 {number} の相談を 6月3日(水) 14:00（来所）で予約しました。" in text
        for text in service.dms(CO)
    )
    dms = service.dms(STAFF)
    assert len(dms) == 3
    # Japan time, with the weekday: 14:00 JST is 05:00 UTC in the database.
    assert f"案件 {number}（{BUSINESS}）の相談日が 6月3日(水) 14:00 に決まりました。" in dms[2]

    # 5. After the consultation 高橋さん opens 相談結果を記録 on the card and submits it.
    clock.advance(datetime(2026, 6, 3, 7, 0, tzinfo=UTC) - clock.now())  # Wed 16:00 JST
    views_before = len(slack.recorder.views_opened_for(CO))
    [card_now] = slack.recorder.messages_in(INTAKE)
    outcome_button = button(card_now, "相談結果を記録")
    await service.interact(
        click(CO, slack.issue_trigger_id(CO), card_now, outcome_button, clock.now())
    )
    outcome_modal = await service.opened(CO, views_before)
    assert outcome_modal["callback_id"] == "co.outcome"
    held_on = {b["block_id"]: b for b in outcome_modal["blocks"]}["held_on"]
    assert held_on["element"]["initial_date"] == "2026-06-03"  # today, in Japan

    before = await service.inbox_rows()
    response = await service.interact(
        view_submission(
            CO,
            outcome_modal,
            {
                "held_on": {"type": "datepicker", "selected_date": "2026-06-03"},
                "minutes": {"type": "plain_text_input", "value": "75"},
                "issues": {
                    "type": "multi_static_select",
                    "selected_options": [{"value": "finance"}],
                },
                "issues_text": {"type": "plain_text_input", "value": "売掛金の回収"},
                "advice": {"type": "plain_text_input", "value": "資金繰り表を作り、保証協会へ相談"},
                "result_confirmed": {
                    "type": "checkboxes",
                    "selected_options": [{"value": "yes"}],
                },
                "referral_org": {"type": "static_select", "selected_option": None},
                "referral_reason": {"type": "plain_text_input", "value": None},
                "co_attending_org": {"type": "static_select", "selected_option": None},
                "phase": {"type": "radio_buttons", "selected_option": {"value": "1"}},
                "next_step": {"type": "radio_buttons", "selected_option": {"value": "close"}},
                "follow_up_on": {"type": "datepicker", "selected_date": None},
            },
        )
    )
    assert response.content in (b"", b"{}"), response.text
    await service.stored(before, "the outcome stored")
    await service.settle()

    async with service.factory() as session:
        [record] = (await session.scalars(select(m.ConsultationRecord))).all()
        closed = await session.get(m.Case, case.id)
        held = await session.get(m.Booking, booking_id)
    assert closed is not None
    assert held is not None
    assert (record.case_id, record.co_id, record.hub_id) == (case.id, co.id, case.hub_id)
    assert record.booking_id == booking_id
    assert record.held_on == date(2026, 6, 3)
    assert record.minutes == 75
    assert record.issues == ["finance", "売掛金の回収"]
    assert record.result_confirmed is True
    assert closed.status is CaseStatus.CLOSED
    assert held.status is BookingStatus.COMPLETED
    assert any(f"案件 {number} の相談結果を記録しました。" in text for text in service.dms(CO))

    # 石井さん heard every step, in order, once, and never the owner's own words or contacts.
    confirmation, *steps = service.dms(STAFF)
    assert len(steps) == 4
    assert "の担当が 高橋 浩二 コーディネーターに決まりました" in steps[0]
    assert "の相談日が 6月3日(水) 14:00 に決まりました" in steps[1]
    # The consultation had a booking, so the news is dated in Japan time.
    assert f"案件 {number}（{BUSINESS}）の相談を 6月3日(水) 14:00 に実施しました。" in steps[2]
    assert f"案件 {number}（{BUSINESS}）の支援が完了し、案件を終了しました。" in steps[3]
    for text in (confirmation, *steps):
        assert DESCRIPTION not in text
        assert PHONE not in text
        assert CONTACT not in text
        assert "資金繰り表" not in text  # nor the CO's notes

    # Slack refused nothing the app sent.
    refused = [r for r in slack.recorder.requests if not r.ok]
    assert refused == []
