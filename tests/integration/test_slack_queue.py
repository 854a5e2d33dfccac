"""The hub queue in Slack, through the real Bolt app with signed requests, against the Slack
stand-in on a real local port, on both databases.

Clicks become inbox rows (bots/slack/coordinators.py), a worker runs them
(core.inbox.handle_next with the registered work handlers), and the dispatcher delivers the
outbox to the stand-in: every assertion is on what reached Slack or the database.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.slack import coordinators as _coordinators  # noqa: F401  (registers the work)
from bots.slack.app import build_slack_app, slack_router
from bots.slack.deps import WORK, SlackDeps, WorkContext
from core.clock import ManualClock
from core.coordinators.cards import post_queue_card
from core.db.models import (
    Business,
    Case,
    ConsentRecord,
    ConsultationRecord,
    Coordinator,
    Hub,
    InboxEvent,
    OutboxMessage,
    PartnerOrganisation,
    PartnerStaff,
    Person,
    Referral,
)
from core.db.session import unit_of_work
from core.domain.enums import (
    CaseSource,
    CaseStatus,
    ConsentNotice,
    InboxStatus,
    OutboxStatus,
    ReferralStatus,
)
from core.domain.organisations import OrganisationKind
from core.i18n import Catalog
from core.inbox import NewInboxEvent
from core.inbox.store import add_events, handle_next
from core.queues.port import QueueEntry
from core.queues.sql import SqlAlchemyHubQueue
from integrations.standins import ServerThread, SlackApiStandin, create_slack_api, slack_headers
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.seed import seed
from yorozu.settings import DEV_SLACK_BOT_TOKEN, DEV_SLACK_SIGNING_SECRET, load_settings

TEAM = "T0STANDIN1"
HUB_CHANNEL = "C0HUB13QUE"
HQ_CHANNEL = "C0HQQUEUE0"
PARTNER_CHANNEL = "C0SHOKOKAI"
PARTNER_USER = "U0PARTNER01"
Factory = async_sessionmaker[AsyncSession]


def co_user(n: int) -> str:
    return f"U0CO{n:05d}"


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    return create_slack_api(
        [DEV_SLACK_BOT_TOKEN],
        clock=clock.now,
        team_id=TEAM,
        channels={HUB_CHANNEL: "queue-13", HQ_CHANNEL: "queue-hq", PARTNER_CHANNEL: "shokokai"},
    )


@pytest.fixture
def slack_server(slack_api: SlackApiStandin) -> Iterator[ServerThread]:
    with ServerThread(slack_api.app) as server:
        yield server


@pytest.fixture
def container(
    engine: AsyncEngine,
    session_factory: Factory,
    clock: ManualClock,
    database_url: str,
    slack_server: ServerThread,
) -> Container:
    settings = load_settings(
        database_url=database_url, slack_api_base_url=slack_server.url + "/api/"
    )
    return Container(settings=settings, clock=clock, engine=engine, session_factory=session_factory)


class Harness:
    """The app, a worker and a dispatcher around one database and one Slack stand-in."""

    def __init__(
        self,
        factory: Factory,
        clock: ManualClock,
        slack: SlackApiStandin,
        dispatcher: Dispatcher,
        http: httpx.AsyncClient,
        submitted: list[NewInboxEvent],
    ) -> None:
        self.factory, self.clock, self.slack = factory, clock, slack
        self.dispatcher, self.http, self.submitted = dispatcher, http, submitted

    async def post(self, body: bytes, content_type: str) -> httpx.Response:
        headers = {"Content-Type": content_type, **slack_headers(DEV_SLACK_SIGNING_SECRET, body)}
        return await self.http.post("/slack/events", content=body, headers=headers)

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = await self.post(body, "application/x-www-form-urlencoded")
        assert response.status_code == 200, response.text
        return response

    async def click(self, user: str, value: str, n: int = 0) -> httpx.Response:
        return await self.interact(
            {
                "type": "block_actions",
                "team": {"id": TEAM},
                "user": {"id": user, "team_id": TEAM},
                "trigger_id": self.slack.issue_trigger_id(user),
                "container": {"type": "message"},
                "channel": {"id": HUB_CHANNEL},
                "message": {"ts": "1"},
                "actions": [
                    {
                        "type": "button",
                        "action_id": f"choice:{n}",
                        "block_id": "b",
                        "value": value,
                        "action_ts": f"{self.clock.now().timestamp():.6f}{user}",
                    }
                ],
            }
        )

    async def submit_view(
        self, user: str, view: dict[str, Any], values: dict[str, dict[str, Any]]
    ) -> httpx.Response:
        state = {block: {"value": element} for block, element in values.items()}
        return await self.interact(
            {
                "type": "view_submission",
                "team": {"id": TEAM},
                "user": {"id": user, "team_id": TEAM},
                "view": {
                    **view,
                    "id": f"V{len(self.submitted):08d}",
                    "hash": "h",
                    "state": {"values": state},
                },
            }
        )

    async def until(self, condition: Any, what: str) -> None:
        """Wait for work Bolt runs after the ack (process_before_response=False)."""
        for _ in range(500):
            if condition():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"never happened: {what}")

    async def work(self, *, concurrent: int = 1) -> None:
        async def handle(session: AsyncSession, row: InboxEvent) -> None:
            queue = SqlAlchemyHubQueue.in_transaction(session)
            await WORK[row.kind](
                session, row.payload, WorkContext(now=self.clock.now(), queue=queue)
            )

        async def worker(name: str) -> None:
            while await handle_next(self.factory, handle, self.clock.now(), name):
                pass

        await asyncio.gather(*(worker(f"w{i}") for i in range(concurrent)))
        async with self.factory() as session:
            dead = await session.scalar(
                select(func.count()).where(InboxEvent.status == InboxStatus.DEAD)
            )
            pending = await session.scalar(
                select(func.count()).where(InboxEvent.status == InboxStatus.PENDING)
            )
        assert (dead, pending) == (0, 0)

    async def deliver(self) -> None:
        for _ in range(40):
            await self.dispatcher.run_once()
            async with self.factory() as session:
                waiting = await session.scalar(
                    select(func.count()).where(
                        OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                    )
                )
            if not waiting:
                return
            self.clock.advance(timedelta(seconds=5))
        raise AssertionError("outbox never drained")

    def dms(self, user: str) -> list[str]:
        return [
            m.text or "" for m in self.slack.recorder.messages_in(self.slack.dm_channel_for(user))
        ]


@pytest.fixture
async def harness(
    container: Container,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> AsyncIterator[Harness]:
    submitted: list[NewInboxEvent] = []

    async def submit(events: Any) -> None:
        async with unit_of_work(session_factory) as session:
            await add_events(session, list(events), now=clock.now())
        submitted.extend(events)

    client = AsyncWebClient(token=DEV_SLACK_BOT_TOKEN, base_url=slack_server.url + "/api/")
    deps = SlackDeps(
        session_factory=session_factory,
        clock=clock,
        catalog=Catalog.load(),
        submit=submit,
        client=client,
        default_team_id=TEAM,
    )
    bolt = build_slack_app(
        deps,
        signing_secret=DEV_SLACK_SIGNING_SECRET,
        token=DEV_SLACK_BOT_TOKEN,
        api_base_url=slack_server.url + "/api/",
    )
    api = FastAPI()
    api.include_router(slack_router(lambda _request: bolt))
    dispatcher = Dispatcher(container, rng=random.Random(7))
    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://yorozu") as http:
        yield Harness(session_factory, clock, slack_api, dispatcher, http, submitted)
    await dispatcher.aclose()


@pytest.fixture
async def world(harness: Harness, clock: ManualClock) -> dict[str, int]:
    """Hub 13 with 20 COs and a queued hand-over from a 商工会 (with the owner's consent)."""
    now = clock.now()
    async with unit_of_work(harness.factory) as session:
        await seed(session, clock=clock)
        hubs = {hub.code: hub for hub in (await session.scalars(select(Hub))).all()}
        hubs["13"].slack_intake_channel_id = HUB_CHANNEL
        hubs["00"].slack_intake_channel_id = HQ_CHANNEL
        for n in range(20):
            session.add(
                Coordinator(
                    hub_id=hubs["13"].id,
                    name=f"担当{n:02d}",
                    specialties=["finance"] if n == 3 else [],
                    slack_user_id=co_user(n),
                    slack_team_id=TEAM,
                )
            )
        org = PartnerOrganisation(
            kind=OrganisationKind.SHOKOKAI,
            name="八王子商工会",
            prefecture_code="13",
            slack_channel_id=PARTNER_CHANNEL,
            slack_team_id=TEAM,
        )
        session.add(org)
        await session.flush()
        staff = PartnerStaff(
            organisation_id=org.id,
            name="指導員 佐藤",
            slack_user_id=PARTNER_USER,
            slack_team_id=TEAM,
        )
        person = Person(display_name="山田")
        business = Business(
            name="山田製作所",
            name_key="山田製作所",
            prefecture_code="13",
            municipality="八王子市",
            created_at=now,
            updated_at=now,
        )
        session.add_all([staff, person, business])
        await session.flush()
        case = Case(
            number="13-2026-000001",
            hub_id=hubs["13"].id,
            business_id=business.id,
            person_id=person.id,
            source=CaseSource.PARTNER,
            topics=["finance"],
            status=CaseStatus.QUEUED,
            referring_staff_id=staff.id,
            sit_in_requested=True,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        await session.flush()
        session.add(
            ConsentRecord(
                person_id=person.id,
                notice=ConsentNotice.HANDOVER,
                version="1",
                channel="slack",
                given_at=now,
                case_id=case.id,
            )
        )
        await SqlAlchemyHubQueue.in_transaction(session).enqueue(
            QueueEntry(case_id=case.id, hub_code="13", priority=50, enqueued_at=now)
        )
        await post_queue_card(session, case.id, now=now)
        ids = {"case": case.id, "org": org.id, "staff": staff.id}
    await harness.deliver()
    return ids


# -- tests ------------------------------------------------------------------------------


async def test_the_card_shows_the_case_and_offers_the_three_actions(
    harness: Harness, world: dict[str, int]
) -> None:
    (card,) = harness.slack.recorder.messages_in(HUB_CHANNEL)
    assert "13-2026-000001" in (card.text or "")
    assert "山田製作所" in (card.text or "")
    assert "東京都八王子市" in (card.text or "")
    assert "資金繰り・融資" in (card.text or "")
    assert "八王子商工会" in (card.text or "")
    assert "10:00" in (card.text or "")  # JST, not 01:00 UTC
    buttons = [e for b in card.blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["担当する", "割り当て", "他拠点・本部へ"]
    assert buttons[0]["value"] == f"case.claim&c={world['case']}"
    assert "担当03" in (card.text or "")  # the router's suggestion: covers finance


async def test_twenty_coordinators_click_at_once_and_one_owns_the_case(
    harness: Harness, world: dict[str, int], backend: str
) -> None:
    value = f"case.claim&c={world['case']}"
    await asyncio.gather(*(harness.click(co_user(n), value) for n in range(20)))
    await harness.until(lambda: len(harness.submitted) == 20, "20 clicks stored")
    await harness.work(concurrent=20 if backend == "postgresql" else 1)
    await harness.deliver()

    async with harness.factory() as session:
        case = await session.get(Case, world["case"])
        assert case is not None
        assert case.status is CaseStatus.CLAIMED
        owner = await session.get(Coordinator, case.assigned_co_id)
        assert owner is not None
    (card,) = harness.slack.recorder.messages_in(HUB_CHANNEL)
    (update,) = harness.slack.recorder.updates_in(HUB_CHANNEL)
    assert update.ts == card.ts
    assert f"担当: {owner.name}" in (update.text or "")
    assert "担当する" not in json.dumps(update.blocks, ensure_ascii=False)
    told = [n for n in range(20) if co_user(n) != owner.slack_user_id]
    for n in told:
        assert any(f"{owner.name}さんが担当しています" in t for t in harness.dms(co_user(n)))
    assert harness.dms(str(owner.slack_user_id)) == []
    # The partner who handed the case over hears that a CO took it.
    assert any("13-2026-000001" in t for t in harness.dms(PARTNER_USER))


async def test_eyes_on_the_card_claims_it(harness: Harness, world: dict[str, int]) -> None:
    (card,) = harness.slack.recorder.messages_in(HUB_CHANNEL)
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM,
            "api_app_id": "A0YOROZU",
            "event_id": "Ev0EYES0001",
            "event_time": int(harness.clock.now().timestamp()),
            "event": {
                "type": "reaction_added",
                "user": co_user(5),
                "reaction": "eyes",
                "item": {"type": "message", "channel": HUB_CHANNEL, "ts": card.ts},
                "event_ts": "1.2",
            },
        }
    ).encode()
    response = await harness.post(body, "application/json")
    assert response.status_code == 200
    await harness.work()
    await harness.deliver()
    async with harness.factory() as session:
        case = await session.get(Case, world["case"])
        assert case is not None
        assert case.status is CaseStatus.CLAIMED
    (update,) = harness.slack.recorder.updates_in(HUB_CHANNEL)
    assert "担当: 担当05" in (update.text or "")


async def _claim(harness: Harness, world: dict[str, int], n: int = 1) -> None:
    await harness.click(co_user(n), f"case.claim&c={world['case']}")
    await harness.until(lambda: len(harness.submitted) >= 1, "claim stored")
    await harness.work()
    await harness.deliver()


async def _modal(harness: Harness, user: str, value: str) -> dict[str, Any]:
    before = len(harness.slack.recorder.views_opened_for(user))
    await harness.click(user, value)
    await harness.until(
        lambda: len(harness.slack.recorder.views_opened_for(user)) > before, "modal opened"
    )
    return harness.slack.recorder.views_opened_for(user)[-1]


async def test_outcome_is_recorded_and_the_referrer_told(
    harness: Harness, world: dict[str, int]
) -> None:
    await _claim(harness, world)
    view = await _modal(harness, co_user(1), f"case.outcome&c={world['case']}")
    assert {b["block_id"] for b in view["blocks"]} >= {"held_on", "minutes", "issues", "phase"}

    # A typo comes back as a field error, nothing is stored.
    submitted = len(harness.submitted)
    bad = await harness.submit_view(
        co_user(1),
        view,
        {
            "held_on": {"type": "datepicker", "selected_date": "2026-06-02"},
            "minutes": {"type": "plain_text_input", "value": "0"},
            "issues": {"type": "multi_static_select", "selected_options": []},
        },
    )
    errors = bad.json()
    assert errors["response_action"] == "errors"
    assert set(errors["errors"]) >= {"minutes", "issues"}
    assert len(harness.submitted) == submitted

    org = str(world["org"])
    await harness.submit_view(
        co_user(1),
        view,
        {
            "held_on": {"type": "datepicker", "selected_date": "2026-06-02"},
            "minutes": {"type": "plain_text_input", "value": "90"},
            "issues": {
                "type": "multi_static_select",
                "selected_options": [{"value": "finance"}, {"value": "sales_channels"}],
            },
            "issues_text": {"type": "plain_text_input", "value": "原価の把握"},
            "advice": {"type": "plain_text_input", "value": "資金繰り表を毎月つける"},
            "result_confirmed": {"type": "checkboxes", "selected_options": [{"value": "yes"}]},
            "referral_org": {"type": "static_select", "selected_option": {"value": org}},
            "referral_reason": {"type": "plain_text_input", "value": "マル経融資"},
            "co_attending_org": {"type": "static_select", "selected_option": {"value": org}},
            "phase": {"type": "radio_buttons", "selected_option": {"value": "2"}},
            "next_step": {"type": "radio_buttons", "selected_option": {"value": "close"}},
            "follow_up_on": {"type": "datepicker", "selected_date": None},
        },
    )
    await harness.until(lambda: len(harness.submitted) == submitted + 1, "outcome stored")
    await harness.work()
    await harness.deliver()
    async with harness.factory() as session:
        (record,) = (await session.scalars(select(ConsultationRecord))).all()
        assert record.minutes == 90
        assert record.issues == ["finance", "sales_channels", "原価の把握"]
        assert record.result_confirmed is True
        assert record.co_attending_org_id == world["org"]
        assert record.phase == 2
        assert record.held_on.isoformat() == "2026-06-02"
        case = await session.get(Case, world["case"])
        assert case is not None
        assert case.status is CaseStatus.CLOSED
        assert record.hub_id == case.hub_id
        (referral,) = (await session.scalars(select(Referral))).all()
        assert referral.to_organisation_id == world["org"]
        assert referral.reason == "マル経融資"
    assert len(harness.dms(PARTNER_USER)) >= 3  # claimed, held, closed
    assert any(
        "13-2026-000001" in (m.text or "")
        for m in harness.slack.recorder.messages_in(PARTNER_CHANNEL)
    )


async def test_hand_back_reaches_the_partner_who_accepts_and_reports(
    harness: Harness, world: dict[str, int]
) -> None:
    await _claim(harness, world)
    view = await _modal(harness, co_user(1), f"case.handback&c={world['case']}")
    count = len(harness.submitted)
    await harness.submit_view(
        co_user(1),
        view,
        {
            "org": {"type": "static_select", "selected_option": {"value": str(world["org"])}},
            "reason": {"type": "plain_text_input", "value": "記帳指導をお願いします"},
        },
    )
    await harness.until(lambda: len(harness.submitted) == count + 1, "hand-back stored")
    await harness.work()
    await harness.deliver()
    (request,) = harness.slack.recorder.messages_in(PARTNER_CHANNEL)
    assert "記帳指導をお願いします" in (request.text or "")
    (button,) = [e for b in request.blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert button["text"]["text"] == "受け入れる"

    await harness.click(PARTNER_USER, button["value"])
    await harness.until(lambda: len(harness.submitted) == count + 2, "accept stored")
    await harness.work()
    await harness.deliver()
    assert any("指導員 佐藤さんが案件 13-2026-000001" in t for t in harness.dms(co_user(1)))
    (accepted,) = harness.slack.recorder.updates_in(PARTNER_CHANNEL)
    assert accepted.ts == request.ts

    done_value = next(
        e["value"] for b in accepted.blocks or [] if b["type"] == "actions" for e in b["elements"]
    )
    view = await _modal(harness, PARTNER_USER, done_value)
    await harness.submit_view(
        PARTNER_USER, view, {"outcome": {"type": "plain_text_input", "value": "記帳指導を開始"}}
    )
    await harness.until(lambda: len(harness.submitted) == count + 3, "result stored")
    await harness.work()
    await harness.deliver()
    async with harness.factory() as session:
        (referral,) = (await session.scalars(select(Referral))).all()
        assert referral.status is ReferralStatus.DONE
        case = await session.get(Case, world["case"])
        assert case is not None
        assert case.status is CaseStatus.HANDED_BACK
    assert any("記帳指導を開始" in t for t in harness.dms(co_user(1)))


async def test_asking_hq_puts_the_request_in_hqs_queue_and_the_answer_comes_back(
    harness: Harness, world: dict[str, int]
) -> None:
    async with unit_of_work(harness.factory) as session:
        hq = await session.scalar(select(Hub).where(Hub.code == "00"))
        assert hq is not None
        session.add(
            Coordinator(
                hub_id=hq.id, name="本部 専門家", slack_user_id="U0HQSPEC01", slack_team_id=TEAM
            )
        )
    await _claim(harness, world)
    view = await _modal(harness, co_user(1), f"case.askhub&c={world['case']}")
    count = len(harness.submitted)
    await harness.submit_view(
        co_user(1),
        view,
        {
            "hub": {"type": "static_select", "selected_option": {"value": "00"}},
            "reason": {"type": "plain_text_input", "value": "事業承継の専門家の助言がほしい"},
        },
    )
    await harness.until(lambda: len(harness.submitted) == count + 1, "request stored")
    await harness.work()
    await harness.deliver()
    (request,) = harness.slack.recorder.messages_in(HQ_CHANNEL)
    assert "13-2026-000001" in (request.text or "")
    assert "事業承継の専門家の助言がほしい" in (request.text or "")
    (button,) = [e for b in request.blocks or [] if b["type"] == "actions" for e in b["elements"]]

    await harness.click("U0HQSPEC01", button["value"])
    await harness.until(lambda: len(harness.submitted) == count + 2, "answer stored")
    await harness.work()
    await harness.deliver()
    assert any("本部 専門家さんが案件 13-2026-000001" in t for t in harness.dms(co_user(1)))
    async with harness.factory() as session:
        (referral,) = (await session.scalars(select(Referral))).all()
        assert referral.status is ReferralStatus.ACCEPTED
