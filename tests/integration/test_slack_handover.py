"""Partner staff hand a case over in Slack and hear what became of it.

Requests are signed the way Slack signs them and go through the real Bolt app (with the
partners listeners registered) over ASGI; the Slack Web API is the stand-in on a real local
port, and the dispatcher delivers the outbox to it, so the tests check what a staff member
and the hub's COs would actually see. Both database backends.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.slack.deps import WORK, SlackDeps, WorkContext
from bots.slack.partners import SUBMIT_KIND, register, status_for
from core.clock import ManualClock
from core.db.models import (
    Booking,
    Business,
    Case,
    ConsentRecord,
    Coordinator,
    Hub,
    InboxEvent,
    OutboxMessage,
    PartnerOrganisation,
    PartnerStaff,
    Referral,
)
from core.db.session import unit_of_work
from core.domain.enums import (
    BookingMode,
    BookingStatus,
    CaseSource,
    CaseStatus,
    ConsentNotice,
    OutboxStatus,
    ReferralDirection,
    ReferralStatus,
)
from core.i18n import Catalog
from core.inbox import NewInboxEvent, add_events, handle_next
from core.partners import ReferrerStep, notify_referrer
from core.queues.sql import SqlAlchemyHubQueue
from integrations.standins import ServerThread, SlackApiStandin, create_slack_api, slack_headers
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.seed import seed
from yorozu.settings import DEV_SLACK_BOT_TOKEN, load_settings

Factory = async_sessionmaker[AsyncSession]
SECRET = "test-signing-secret"
TEAM = "T0HACHIOJI"
STAFF_USER = "U0ISHIINAOK"  # 石井 直子, 経営指導員 at 八王子商工会議所 (demo seed)
CO_USER = "U0TAKAHASHI"  # 高橋 浩二, CO at the Tokyo hub (demo seed)
INTAKE = "C0INTAKE13"
DESCRIPTION = "売上が落ち込み資金繰りが厳しい。店主の電話は夜のみ可。"


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    return create_slack_api(
        [DEV_SLACK_BOT_TOKEN], clock=clock.now, team_id=TEAM, channels={INTAKE: "intake-13"}
    )


@pytest.fixture
def slack_server(slack_api: SlackApiStandin) -> Iterator[ServerThread]:
    with ServerThread(slack_api.app) as server:
        yield server


@pytest.fixture
async def seeded(session_factory: Factory, clock: ManualClock) -> Factory:
    async with unit_of_work(session_factory) as session:
        await seed(session, demo=True, clock=clock)
        await session.execute(
            update(Hub).where(Hub.code == "13").values(slack_intake_channel_id=INTAKE)
        )
    return session_factory


async def _submit(factory: Factory, clock: ManualClock, events: list[NewInboxEvent]) -> None:
    async with unit_of_work(factory) as session:
        await add_events(session, events, now=clock.now())


@pytest.fixture
async def slack(
    seeded: Factory, clock: ManualClock, slack_server: ServerThread
) -> AsyncIterator[httpx.AsyncClient]:
    """The Bolt app with the partners listeners, behind FastAPI, reached over ASGI."""
    client = AsyncWebClient(token=DEV_SLACK_BOT_TOKEN, base_url=slack_server.url + "/api/")

    async def submit(events: Any) -> None:
        await _submit(seeded, clock, list(events))

    deps = SlackDeps(
        session_factory=seeded, clock=clock, catalog=Catalog.load(), submit=submit, client=client
    )
    bolt = AsyncApp(signing_secret=SECRET, client=client)
    register(bolt, deps)
    handler = AsyncSlackRequestHandler(bolt)
    api = FastAPI()

    @api.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://yorozu.test") as http:
        http.deps = deps  # type: ignore[attr-defined]
        yield http


@pytest.fixture
async def dispatcher(
    engine: AsyncEngine,
    seeded: Factory,
    clock: ManualClock,
    database_url: str,
    slack_server: ServerThread,
) -> AsyncIterator[Dispatcher]:
    settings = load_settings(
        database_url=database_url, slack_api_base_url=slack_server.url + "/api/"
    )
    container = Container(settings=settings, clock=clock, engine=engine, session_factory=seeded)
    d = Dispatcher(container)
    try:
        yield d
    finally:
        await d.aclose()


# -- helpers ----------------------------------------------------------------------------------


async def post_payload(http: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        **slack_headers(SECRET, body, int(time.time())),
    }
    return await http.post("/slack/events", content=body, headers=headers)


def shortcut(trigger: str, *, user: str = STAFF_USER, message: str | None = None) -> dict[str, Any]:
    base: dict[str, Any] = {
        "token": "legacy",
        "trigger_id": trigger,
        "user": {"id": user, "username": "staff", "team_id": TEAM},
        "team": {"id": TEAM, "domain": "hachioji"},
        "action_ts": "1780000000.000100",
    }
    if message is None:
        return {**base, "type": "shortcut", "callback_id": "handover_global"}
    return {
        **base,
        "type": "message_action",
        "callback_id": "handover_message",
        "message_ts": "1780000000.000200",
        "channel": {"id": "C0HACHIOJI", "name": "soudan"},
        "message": {"type": "message", "user": user, "ts": "1780000000.000200", "text": message},
        "response_url": "https://hooks.slack.test/actions/1",
    }


def form_state(
    *,
    name: str = "株式会社さくら商店",
    phone: str | None = "042-123-4567",
    email: str | None = None,
    consent: bool = True,
    sit_in: bool = True,
) -> dict[str, Any]:
    def text(value: str | None) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    def choice(kind: str, value: str | None) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
        return {"value": {"type": kind, "selected_option": option}}

    def checked(on: bool) -> dict[str, Any]:
        options = [{"text": {"type": "plain_text", "text": "✓"}, "value": "yes"}] if on else []
        return {"value": {"type": "checkboxes", "selected_options": options}}

    return {
        "business_name": text(name),
        "corporate_number": text(None),
        "prefecture": choice("static_select", "13"),
        "municipality": text("八王子市"),
        "contact_name": text("佐倉 花子"),
        "phone": text(phone),
        "email": text(email),
        "industry": choice("static_select", "retail"),
        "employees": {"value": {"type": "number_input", "value": "4"}},
        "topics": {
            "value": {
                "type": "multi_static_select",
                "selected_options": [
                    {"text": {"type": "plain_text", "text": "t"}, "value": "finance"}
                ],
            }
        },
        "description": text(DESCRIPTION),
        "urgency": choice("radio_buttons", "urgent"),
        "consent": checked(consent),
        "sit_in": checked(sit_in),
    }


def submission(view_id: str, values: dict[str, Any], metadata: str = "") -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "hachioji"},
        "user": {"id": STAFF_USER, "username": "ishii", "team_id": TEAM},
        "api_app_id": "A0STANDIN1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": "handover_submit",
            "hash": f"h-{view_id}",
            "private_metadata": metadata,
            "state": {"values": values},
        },
    }


def wait_for_views(slack_api: SlackApiStandin, count: int) -> threading.Event:
    done = threading.Event()

    def listener(kind: str, item: Any) -> None:
        if kind == "views" and len(slack_api.recorder.views) >= count:
            done.set()

    slack_api.recorder.add_listener(listener)
    if len(slack_api.recorder.views) >= count:
        done.set()
    return done


async def run_worker(factory: Factory, clock: ManualClock) -> int:
    """Handle every pending inbox row with the registered Slack work handlers."""

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        queue = SqlAlchemyHubQueue.in_transaction(session)
        await WORK[row.kind](session, row.payload, WorkContext(now=clock.now(), queue=queue))

    handled = 0
    while await handle_next(factory, handle, clock.now(), "test-worker"):
        handled += 1
    return handled


async def hand_over(
    http: httpx.AsyncClient, factory: Factory, clock: ManualClock, view_id: str, **form: Any
) -> httpx.Response:
    response = await post_payload(http, submission(view_id, form_state(**form)))
    assert response.status_code == 200
    assert response.content in (b"", b"{}"), response.text
    await run_worker(factory, clock)
    return response


async def deliver(dispatcher: Dispatcher, factory: Factory, clock: ManualClock) -> None:
    """Run the dispatcher until the outbox is empty; one DM per recipient goes at a time (in
    order) and Slack's per-channel pace is kept, so time moves on between rounds."""
    for _round in range(30):
        await dispatcher.run_once()
        async with factory() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
            )
        if not waiting:
            return
        clock.advance(timedelta(seconds=2))
    async with factory() as session:
        stuck = (
            await session.execute(
                select(
                    OutboxMessage.kind,
                    OutboxMessage.recipient,
                    OutboxMessage.status,
                    OutboxMessage.last_error,
                )
            )
        ).all()
    pytest.fail(f"the outbox did not drain: {stuck}")


async def outbox(factory: Factory) -> list[OutboxMessage]:
    async with factory() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def texts_of(row: OutboxMessage) -> list[str]:
    return [t["key"] for message in row.payload["messages"] for t in message.get("texts", [])]


# -- the tests --------------------------------------------------------------------------------


async def test_the_shortcut_opens_the_modal_with_the_organisations_prefecture(
    slack: httpx.AsyncClient, slack_api: SlackApiStandin
) -> None:
    opened = wait_for_views(slack_api, 1)
    response = await post_payload(slack, shortcut(slack_api.issue_trigger_id(STAFF_USER)))
    assert response.status_code == 200
    assert await asyncio.to_thread(opened.wait, 5)
    [view] = slack_api.recorder.views_opened_for(STAFF_USER)
    assert view["callback_id"] == "handover_submit"
    assert view["title"]["text"] == "よろずに引き継ぐ"
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    assert len(view["blocks"]) <= 100
    assert blocks["prefecture"]["element"]["initial_option"]["value"] == "13"
    assert len(blocks["prefecture"]["element"]["options"]) == 47
    assert blocks["consent"]["optional"] is False
    assert json.loads(view["private_metadata"])["locale"] == "ja"


async def test_the_message_shortcut_prefills_the_description(
    slack: httpx.AsyncClient, slack_api: SlackApiStandin
) -> None:
    opened = wait_for_views(slack_api, 1)
    trigger = slack_api.issue_trigger_id(STAFF_USER)
    response = await post_payload(slack, shortcut(trigger, message="来月の資金繰りが心配とのこと"))
    assert response.status_code == 200
    assert await asyncio.to_thread(opened.wait, 5)
    [view] = slack_api.recorder.views_opened_for(STAFF_USER)
    [description] = [b for b in view["blocks"] if b.get("block_id") == "description"]
    assert description["element"]["initial_value"] == "来月の資金繰りが心配とのこと"


async def test_someone_who_is_not_partner_staff_gets_a_polite_note(
    slack: httpx.AsyncClient, slack_api: SlackApiStandin
) -> None:
    stranger = "U0STRANGER1"
    opened = wait_for_views(slack_api, 1)
    response = await post_payload(
        slack, shortcut(slack_api.issue_trigger_id(stranger), user=stranger)
    )
    assert response.status_code == 200
    assert await asyncio.to_thread(opened.wait, 5)
    [view] = slack_api.recorder.views_opened_for(stranger)
    assert "submit" not in view
    assert "支援機関のご担当者さま向け" in view["blocks"][0]["text"]["text"]


async def test_without_the_owners_consent_the_field_shows_an_error_and_nothing_is_stored(
    slack: httpx.AsyncClient, seeded: Factory
) -> None:
    response = await post_payload(slack, submission("V0NOCONSENT", form_state(consent=False)))
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"consent"}
    assert "同意" in answer["errors"]["consent"]
    async with seeded() as session:
        assert (await session.scalars(select(InboxEvent))).all() == []
        assert (await session.scalars(select(Case))).all() == []


async def test_a_bad_phone_is_shown_on_the_phone_field(slack: httpx.AsyncClient) -> None:
    response = await post_payload(slack, submission("V0BADPHONE1", form_state(phone="12-34")))
    assert response.json()["errors"].keys() == {"phone"}


async def test_a_valid_hand_over_becomes_a_queued_case_the_hub_and_the_staff_see(
    slack: httpx.AsyncClient,
    seeded: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    dispatcher: Dispatcher,
) -> None:
    response = await post_payload(slack, submission("V0HANDOVER1", form_state()))
    assert response.status_code == 200
    assert response.content in (b"", b"{}")  # the modal closes
    # A retried request is recognised: still one inbox row.
    await post_payload(slack, submission("V0HANDOVER1", form_state()))
    async with seeded() as session:
        [row] = (await session.scalars(select(InboxEvent))).all()
        assert row.kind == SUBMIT_KIND
    assert await run_worker(seeded, clock) == 1

    async with seeded() as session:
        [case] = (await session.scalars(select(Case))).all()
        staff = await session.scalar(
            select(PartnerStaff).where(PartnerStaff.slack_user_id == STAFF_USER)
        )
        assert staff is not None
        assert case.number.startswith("13-2026-")
        assert (case.source, case.status) == (CaseSource.PARTNER, CaseStatus.QUEUED)
        assert (case.referring_staff_id, case.sit_in_requested) == (staff.id, True)
        assert case.topics == ["finance"]
        assert case.priority < 50  # urgent goes ahead of normal intakes
        [consent] = (await session.scalars(select(ConsentRecord))).all()
        assert (consent.notice, consent.case_id, consent.channel) == (
            ConsentNotice.HANDOVER,
            case.id,
            "slack",
        )
        [referral] = (await session.scalars(select(Referral))).all()
        assert (referral.direction, referral.status, referral.to_organisation_id) == (
            ReferralDirection.FROM_PARTNER,
            ReferralStatus.SENT,
            staff.organisation_id,
        )
        waiting = await SqlAlchemyHubQueue.in_transaction(session).list_waiting("13")
        assert [entry.case_id for entry in waiting] == [case.id]

    rows = await outbox(seeded)
    assert {row.recipient for row in rows} == {STAFF_USER, INTAKE}

    await deliver(dispatcher, seeded, clock)
    dm = slack_api.recorder.messages_in(slack_api.dm_channel_for(STAFF_USER))
    assert len(dm) == 1
    assert case.number in (dm[0].text or "")
    assert "引き継ぎを受け付けました" in (dm[0].text or "")
    [card] = slack_api.recorder.messages_in(INTAKE)
    assert case.number in (card.text or "")


async def test_a_second_hand_over_of_the_same_business_points_at_the_open_case(
    slack: httpx.AsyncClient,
    seeded: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    dispatcher: Dispatcher,
) -> None:
    await hand_over(
        slack,
        seeded,
        clock,
        "V0FIRST0001",
        name="株式会社さくら商店",
        phone=None,
        email="hanako@sakura.example",
    )
    await deliver(dispatcher, seeded, clock)
    await hand_over(slack, seeded, clock, "V0SECOND001", name="㈱さくら商店", phone="0421234567")

    async with seeded() as session:
        [case] = (await session.scalars(select(Case))).all()
        assert len((await session.scalars(select(Business))).all()) == 1
        assert len((await session.scalars(select(Referral))).all()) == 1
    await deliver(dispatcher, seeded, clock)
    dm = slack_api.recorder.messages_in(slack_api.dm_channel_for(STAFF_USER))
    assert len(dm) == 2
    assert case.number in (dm[1].text or "")
    assert "すでに進行中の案件" in (dm[1].text or "")
    assert "担当者の決定待ち" in (dm[1].text or "")
    assert len(slack_api.recorder.messages_in(INTAKE)) == 1  # no second card


async def test_the_referrer_hears_each_step_once_and_never_the_owners_details(
    slack: httpx.AsyncClient,
    seeded: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    dispatcher: Dispatcher,
) -> None:
    await hand_over(slack, seeded, clock, "V0STEPS0001")
    await deliver(dispatcher, seeded, clock)
    async with unit_of_work(seeded) as session:
        case = await session.scalar(select(Case))
        co = await session.scalar(select(Coordinator).where(Coordinator.slack_user_id == CO_USER))
        org = await session.scalar(
            select(PartnerOrganisation).where(PartnerOrganisation.name == "東京信用保証協会")
        )
        assert case is not None
        assert co is not None
        assert org is not None
        case.assigned_co_id = co.id
        starts = clock.now().replace(hour=5)  # 14:00 JST
        session.add(
            Booking(
                case_id=case.id,
                co_id=co.id,
                hub_id=case.hub_id,
                starts_at=starts,
                ends_at=starts.replace(hour=6),
                mode=BookingMode.VISIT,
                status=BookingStatus.CONFIRMED,
                created_at=clock.now(),
            )
        )
        await session.flush()
        now = clock.now()
        told = [
            await notify_referrer(
                session, case.id, ReferrerStep.CLAIMED, now=now, detail={"co_id": co.id}
            ),
            await notify_referrer(
                session, case.id, ReferrerStep.CLAIMED, now=now, detail={"co_id": co.id}
            ),
            await notify_referrer(
                session, case.id, "booked", now=now, detail={"starts_at": starts.isoformat()}
            ),
            await notify_referrer(session, case.id, ReferrerStep.HELD, now=now),
            await notify_referrer(
                session,
                case.id,
                ReferrerStep.HANDED_BACK,
                now=now,
                detail={"organisation_id": org.id},
            ),
            await notify_referrer(session, case.id, ReferrerStep.CLOSED, now=now),
        ]
        assert told == [True, False, True, True, True, True]
        number = case.number

    await deliver(dispatcher, seeded, clock)
    dm = [
        m.text or "" for m in slack_api.recorder.messages_in(slack_api.dm_channel_for(STAFF_USER))
    ]
    steps = dm[1:]
    assert len(steps) == 5
    assert all(number in text and "さくら商店" in text for text in steps)
    assert co.name in steps[0]
    assert "6月2日(火) 14:00" in steps[1]
    assert "実施しました" in steps[2]
    assert "東京信用保証協会" in steps[3]
    assert "終了しました" in steps[4]
    for text in dm:
        assert DESCRIPTION not in text
        assert "042" not in text
        assert "佐倉" not in text

    # /yorozu status lists the case (the record is still open) with its CO, nothing more.
    blocks = await status_for(slack.deps, TEAM, STAFF_USER)  # type: ignore[attr-defined]
    listed = json.dumps(blocks, ensure_ascii=False)
    assert number in listed
    assert co.name in listed
    assert DESCRIPTION not in listed


async def test_consent_withdrawn_means_no_more_news(
    slack: httpx.AsyncClient, seeded: Factory, clock: ManualClock
) -> None:
    await hand_over(slack, seeded, clock, "V0WITHDRAW1")
    async with unit_of_work(seeded) as session:
        case = await session.scalar(select(Case))
        assert case is not None
        await session.execute(update(ConsentRecord).values(withdrawn_at=clock.now()))
        assert not await notify_referrer(session, case.id, ReferrerStep.CLOSED, now=clock.now())
    blocks = await status_for(slack.deps, TEAM, STAFF_USER)  # type: ignore[attr-defined]
    assert "進行中の引き継ぎ案件はありません" in json.dumps(blocks, ensure_ascii=False)
