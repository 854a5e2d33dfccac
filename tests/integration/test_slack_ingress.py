"""The Slack front door as Slack sees it: signed HTTP requests in, Slack API calls out.

Requests are signed exactly as Slack signs them and go through a FastAPI app holding the
real Bolt app; the Slack Web API is the stand-in on a real local port, so what a person
would see (a home tab, an ephemeral answer) is read from what reached it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bots.slack.app import (
    SlackOAuthConfig,
    build_slack_app,
    slack_router,
)
from bots.slack.deps import SlackDeps
from core.clock import ManualClock
from core.db.models import (
    Business,
    Case,
    Coordinator,
    Hub,
    HubQueueEntry,
    InboxEvent,
    PartnerOrganisation,
    PartnerStaff,
)
from core.db.session import unit_of_work
from core.domain.enums import CaseSource, CaseStatus, CoRole, HubKind
from core.domain.organisations import OrganisationKind
from core.i18n import Catalog
from core.inbox import InboxWriter
from integrations.standins.server import ServerThread
from integrations.standins.signing import slack_headers
from integrations.standins.slack_api import SlackApiStandin, create_slack_api

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
TEAM = "T0STANDIN1"
CO_USER = "U0COTANAKA1"
PARTNER_USER = "U0PARTNER01"
STRANGER = "U0STRANGER1"


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    return create_slack_api([TOKEN], clock=clock.now, team_id=TEAM)


@pytest.fixture
def slack_server(slack_api: SlackApiStandin) -> Iterator[ServerThread]:
    with ServerThread(slack_api.app) as server:
        yield server


@dataclass
class ResponseUrls:
    """Slack's response_url, standing in: records what the app answers late."""

    received: list[dict[str, Any]]
    url: str
    arrived: threading.Event


@pytest.fixture
def response_urls() -> Iterator[ResponseUrls]:
    received: list[dict[str, Any]] = []
    arrived = threading.Event()

    async def hook(request: Request) -> Response:
        received.append(json.loads(await request.body()))
        arrived.set()
        return Response("ok")

    app = Starlette(routes=[Route("/hooks/{rest:path}", hook, methods=["POST"])])
    with ServerThread(app) as server:
        yield ResponseUrls(received, server.url + "/hooks/commands/T0/1/abc", arrived)


@dataclass
class Seeded:
    co_id: int
    my_case: str
    queued_old: str
    queued_new: str


async def seed_people(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> Seeded:
    now = clock.now()
    async with unit_of_work(session_factory) as session:
        hub = Hub(
            code="13",
            kind=HubKind.HUB,
            prefecture_code="13",
            name_ja="東京都よろず支援拠点",
            name_en="Tokyo Yorozu",
            implementing_org_ja="公益財団法人東京都中小企業振興公社",
        )
        session.add(hub)
        await session.flush()
        co = Coordinator(
            hub_id=hub.id,
            role=CoRole.CO,
            name="田中 誠",
            slack_user_id=CO_USER,
            slack_team_id=TEAM,
        )
        org = PartnerOrganisation(kind=OrganisationKind.SHOKOKAI, name="檜原村商工会")
        session.add_all([co, org])
        await session.flush()
        session.add(
            PartnerStaff(
                organisation_id=org.id,
                name="山本 花子",
                title="経営指導員",
                slack_user_id=PARTNER_USER,
                slack_team_id=TEAM,
            )
        )
        businesses = [
            Business(name=name, name_key=name, created_at=now, updated_at=now)
            for name in ("やまだ製菓", "さくら工務店", "みどり農園")
        ]
        session.add_all(businesses)
        await session.flush()
        mine = Case(
            number="13-2026-000001",
            hub_id=hub.id,
            business_id=businesses[0].id,
            source=CaseSource.PARTNER,
            status=CaseStatus.CLAIMED,
            assigned_co_id=co.id,
            created_at=now - timedelta(days=2),
            updated_at=now,
            claimed_at=now - timedelta(days=1),
        )
        old = Case(
            number="13-2026-000002",
            hub_id=hub.id,
            business_id=businesses[1].id,
            source=CaseSource.LINE,
            status=CaseStatus.QUEUED,
            created_at=now - timedelta(hours=5),
            updated_at=now,
        )
        new = Case(
            number="13-2026-000003",
            hub_id=hub.id,
            business_id=businesses[2].id,
            source=CaseSource.LINE,
            status=CaseStatus.QUEUED,
            created_at=now - timedelta(minutes=20),
            updated_at=now,
        )
        session.add_all([mine, old, new])
        await session.flush()
        # The newer case is inserted first: the home must sort by waiting time, not by id.
        session.add_all(
            [
                HubQueueEntry(
                    case_id=new.id, hub_code="13", priority=50, enqueued_at=new.created_at
                ),
                HubQueueEntry(
                    case_id=old.id, hub_code="13", priority=50, enqueued_at=old.created_at
                ),
            ]
        )
        return Seeded(co.id, mine.number, old.number, new.number)


@dataclass
class Harness:
    http: httpx.AsyncClient
    bolt: AsyncApp
    slack: SlackApiStandin
    session_factory: async_sessionmaker[AsyncSession]

    async def post(
        self,
        body: bytes,
        *,
        content_type: str,
        timestamp: int | None = None,
        headers: dict[str, str] | None = None,
        secret: str = SECRET,
    ) -> httpx.Response:
        signed = slack_headers(secret, body, timestamp)
        return await self.http.post(
            "/slack/events",
            content=body,
            headers={"content-type": content_type, **signed, **(headers or {})},
        )

    async def command(
        self, user: str, text: str, response_url: str = "", **kw: Any
    ) -> httpx.Response:
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "standin",
            "channel_id": "C0INTAKE13",
            "channel_name": "intake",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/yorozu",
            "text": text,
            "api_app_id": "A0STANDIN1",
            "response_url": response_url or "https://hooks.slack.invalid/commands/1",
            "trigger_id": self.slack.issue_trigger_id(user),
        }
        return await self.post(
            urlencode(form).encode(), content_type="application/x-www-form-urlencoded", **kw
        )

    async def event(self, event: dict[str, Any], event_id: str, **kw: Any) -> httpx.Response:
        body = {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A0STANDIN1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
        return await self.post(json.dumps(body).encode(), content_type="application/json", **kw)

    async def inbox_count(self) -> int:
        async with self.session_factory() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


@asynccontextmanager
async def harness(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
    *,
    deps_sessions: Any = None,
    durable_events: set[str] | None = None,
) -> AsyncIterator[Harness]:
    writer = InboxWriter(session_factory, clock)
    await writer.start()
    client = AsyncWebClient(token=TOKEN, base_url=slack_server.url + "/api/")
    deps = SlackDeps(
        session_factory=deps_sessions or session_factory,
        clock=clock,
        catalog=Catalog.load(),
        submit=writer.submit,
        client=client,
    )
    bolt = build_slack_app(
        deps,
        signing_secret=SECRET,
        token=TOKEN,
        api_base_url=slack_server.url + "/api/",
        durable_events=durable_events,
    )
    web = FastAPI()
    web.include_router(slack_router(lambda request: bolt))
    transport = httpx.ASGITransport(app=web)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Harness(http, bolt, slack_api, session_factory)
    finally:
        await writer.aclose()


async def slack_call(slack: SlackApiStandin, condition: Callable[[], bool]) -> None:
    """Wait until the stand-in has recorded what `condition` looks for (woken by each
    record, bounded at five seconds), while the app finishes its work behind the ack."""
    loop = asyncio.get_running_loop()
    recorded = asyncio.Event()
    slack.recorder.add_listener(lambda kind, item: loop.call_soon_threadsafe(recorded.set))
    async with asyncio.timeout(5):
        while not condition():
            await recorded.wait()
            recorded.clear()


def texts_of(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


# ----------------------------------------------------------------------------- tests


async def test_forged_and_stale_requests_are_refused_and_change_nothing(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    async with harness(
        session_factory, clock, slack_api, slack_server, durable_events={"reaction_added"}
    ) as h:
        reaction = {"type": "reaction_added", "user": CO_USER, "reaction": "eyes"}
        forged = await h.event(reaction, "Ev0FORGED1", secret="not-the-secret")
        stale = await h.event(reaction, "Ev0STALE01", timestamp=int(time.time()) - 6 * 60)
        stale_command = await h.command(CO_USER, "help", timestamp=int(time.time()) - 6 * 60)
        assert (forged.status_code, stale.status_code, stale_command.status_code) == (401,) * 3
        assert await h.inbox_count() == 0
        assert slack_api.recorder.requests == []


async def test_help_answers_a_registered_person_in_the_acknowledgement(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    await seed_people(session_factory, clock)
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        response = await h.command(PARTNER_USER, "help")
        assert response.status_code == 200
        answer = response.json()
        assert answer["response_type"] == "ephemeral"
        assert "/yorozu handover" in answer["text"]
        assert "/yorozu status" in answer["text"]

        unknown = await h.command(PARTNER_USER, "hello")
        assert "「hello」というコマンドは見つかりませんでした" in unknown.json()["text"]
        assert "/yorozu handover" in unknown.json()["text"]


async def test_someone_the_hub_does_not_know_is_told_politely(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    await seed_people(session_factory, clock)
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        for text in ("help", "status"):
            response = await h.command(STRANGER, text)
            assert response.status_code == 200
            answer = response.json()
            assert answer["response_type"] == "ephemeral"
            assert "まだ登録されていません" in answer["text"]
            assert STRANGER in answer["text"]


async def test_an_event_retried_by_slack_is_stored_once(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    async with harness(
        session_factory, clock, slack_api, slack_server, durable_events={"reaction_added"}
    ) as h:
        reaction = {
            "type": "reaction_added",
            "user": CO_USER,
            "reaction": "eyes",
            "item": {"type": "message", "channel": "C0INTAKE13", "ts": "1700000000.000100"},
            "event_ts": "1700000001.000200",
        }
        first = await h.event(reaction, "Ev0REACT001")
        retry = await h.event(
            reaction,
            "Ev0REACT001",
            headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert (first.status_code, retry.status_code) == (200, 200)
        async with session_factory() as session:
            rows = (await session.scalars(select(InboxEvent))).all()
        assert len(rows) == 1
        assert rows[0].event_id == "Ev0REACT001"
        assert rows[0].kind == "slack.event.reaction_added"
        assert rows[0].channel_id == TEAM
        assert rows[0].payload["event"]["item"]["ts"] == "1700000000.000100"


async def test_opening_the_home_tab_shows_a_co_their_cases_and_the_hub_queue(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    seeded = await seed_people(session_factory, clock)
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        opened = {
            "type": "app_home_opened",
            "user": CO_USER,
            "channel": "D0HOME0001",
            "tab": "home",
        }
        response = await h.event(opened, "Ev0HOME0001")
        assert response.status_code == 200
        await slack_call(slack_api, lambda: bool(slack_api.recorder.views_published_for(CO_USER)))
        view = slack_api.recorder.views_published_for(CO_USER)[-1]
        assert view["type"] == "home"
        assert len(view["blocks"]) <= 100
        shown = texts_of(view["blocks"])
        assert "田中 誠" in shown
        assert seeded.my_case in shown
        assert "やまだ製菓" in shown
        # The hub queue, oldest first, with how long each has waited.
        assert shown.index(seeded.queued_old) < shown.index(seeded.queued_new)
        assert "待ち時間 5時間" in shown
        assert "5時間0分" not in shown
        assert "待ち時間 20分" in shown
        buttons = [
            block["accessory"]
            for block in view["blocks"]
            if block.get("accessory", {}).get("action_id") == "case.open"
        ]
        assert len(buttons) == 3


async def test_the_open_button_shows_the_case_in_a_modal(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    await seed_people(session_factory, clock)
    async with session_factory() as session:
        case_id = await session.scalar(select(Case.id).where(Case.number == "13-2026-000002"))
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "standin"},
            "user": {"id": CO_USER, "team_id": TEAM},
            "api_app_id": "A0STANDIN1",
            "trigger_id": slack_api.issue_trigger_id(CO_USER),
            "container": {"type": "view", "view_id": "V0HOME"},
            "view": {"id": "V0HOME", "type": "home"},
            "actions": [
                {
                    "type": "button",
                    "action_id": "case.open",
                    "block_id": "b1",
                    "value": str(case_id),
                    "action_ts": "1700000000.1",
                }
            ],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        response = await h.post(body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200
        await slack_call(slack_api, lambda: bool(slack_api.recorder.views_opened_for(CO_USER)))
        modal = slack_api.recorder.views_opened_for(CO_USER)[-1]
        shown = texts_of(modal["blocks"])
        assert "13-2026-000002" in shown
        assert "さくら工務店" in shown
        assert "受付待ち" in shown


async def test_a_partner_opening_the_home_tab_is_pointed_to_the_handover(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
) -> None:
    await seed_people(session_factory, clock)
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        opened = {"type": "app_home_opened", "user": PARTNER_USER, "tab": "home"}
        await h.event(opened, "Ev0HOME0002")
        await slack_call(
            slack_api, lambda: bool(slack_api.recorder.views_published_for(PARTNER_USER))
        )
        shown = texts_of(slack_api.recorder.views_published_for(PARTNER_USER)[-1]["blocks"])
        assert "/yorozu handover" in shown
        assert "13-2026" not in shown


class GatedSessions:
    """A database that does not answer until the test opens the gate: the slow database of
    the ack-time test, standing in front of the real one."""

    def __init__(self, real: async_sessionmaker[AsyncSession]) -> None:
        self.real = real
        self.gate = asyncio.Event()
        self.waiting = 0

    def __call__(self) -> Any:
        outer = self

        class _Session:
            async def __aenter__(self) -> AsyncSession:
                outer.waiting += 1
                await outer.gate.wait()
                self.session = outer.real()
                return await self.session.__aenter__()

            async def __aexit__(self, *exc: Any) -> None:
                await self.session.__aexit__(*exc)

        return _Session()


async def test_the_command_is_acknowledged_within_three_seconds_when_the_database_is_slow(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
    response_urls: ResponseUrls,
) -> None:
    await seed_people(session_factory, clock)
    slow = GatedSessions(session_factory)
    async with harness(session_factory, clock, slack_api, slack_server, deps_sessions=slow) as h:
        started = time.monotonic()
        response = await h.command(PARTNER_USER, "help", response_url=response_urls.url)
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 3.0
        assert slow.waiting == 1, "the answer was still waiting for the database"
        assert "確認しています" in response.json()["text"]

        slow.gate.set()  # the database answers at last: the help follows on response_url
        assert await asyncio.to_thread(response_urls.arrived.wait, 5)
        assert "/yorozu handover" in response_urls.received[-1]["text"]


async def test_with_oauth_settings_a_partner_workspace_can_start_the_install(
    session_factory: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    clock: ManualClock,
    slack_server: ServerThread,
) -> None:
    oauth = SlackOAuthConfig(client_id="111.222", client_secret="oauth-secret", engine=engine)
    writer = InboxWriter(session_factory, clock)
    deps = SlackDeps(
        session_factory=session_factory,
        clock=clock,
        catalog=Catalog.load(),
        submit=writer.submit,
        client=AsyncWebClient(base_url=slack_server.url + "/api/"),
    )
    bolt = build_slack_app(
        deps,
        signing_secret=SECRET,
        token=None,
        api_base_url=slack_server.url + "/api/",
        oauth=oauth,
    )
    web = FastAPI()
    web.include_router(slack_router(lambda request: bolt))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web), base_url="http://testserver"
    ) as http:
        page = await http.get("/slack/install")
    assert page.status_code == 200
    assert "https://slack.com/oauth/v2/authorize?state=" in page.text
    assert "client_id=111.222" in page.text
    assert "chat:write" in page.text
    # The state that protects the redirect is kept in our database, not in memory.
    async with engine.connect() as conn:
        states = await conn.scalar(text("select count(*) from slack_oauth_states"))
    assert states >= 1


def test_the_manifest_asks_for_what_the_app_uses() -> None:
    """An operator creates the app from the manifest: scopes, events, shortcuts and URLs
    must be the ones the code listens for."""
    import yaml

    from bots.slack.app import BOT_SCOPES

    manifest = yaml.safe_load((Path(__file__).parents[2] / "slack-app-manifest.yml").read_text())
    assert tuple(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_home_opened",
        "reaction_added",
        "message.channels",
        "message.groups",
        "app_uninstalled",
        "tokens_revoked",
    }
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    features = manifest["features"]
    assert features["app_home"]["home_tab_enabled"] is True
    assert [c["command"] for c in features["slash_commands"]] == ["/yorozu"]
    assert {(s["type"], s["callback_id"]) for s in features["shortcuts"]} == {
        ("global", "handover_global"),
        ("message", "handover_message"),
    }


def test_a_busy_home_stays_within_slacks_hundred_blocks_and_says_what_it_left_out() -> None:
    from datetime import UTC, date, datetime

    from bots.slack.home import render_home
    from core.coordinators.home import CaseLine, CoordinatorHome, FollowUpLine

    now = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
    lines = tuple(
        CaseLine(i, f"13-2026-{i:06d}", f"事業者{i}", CaseStatus.QUEUED, now, timedelta(hours=i))
        for i in range(1, 60)
    )
    follow_ups = tuple(
        FollowUpLine(i, f"13-2026-{i:06d}", None, date(2026, 6, 1), True) for i in range(40)
    )
    home = CoordinatorHome(
        co_id=1,
        co_name="田中 誠",
        hub_id=1,
        hub_name="東京都よろず支援拠点",
        today=now.date(),
        my_cases=lines,
        today_consultations=(),
        upcoming_consultations=(),
        queue=lines[:50],
        queue_total=240,
        follow_ups=follow_ups,
        reviews=(),
    )
    view = render_home(home, Catalog.load(), now)
    assert len(view["blocks"]) <= 100
    shown = texts_of(view["blocks"])
    assert "担当案件（59件）" in shown
    assert "ほか 44件は表示しきれませんでした。" in shown  # 59 mine, 15 shown
    assert "拠点の受付待ち（240件・古い順）" in shown
    assert "ほか 225件は表示しきれませんでした。" in shown  # 240 waiting, 15 shown


async def test_handover_and_status_reach_the_partners_module(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
    response_urls: ResponseUrls,
) -> None:
    await seed_people(session_factory, clock)
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        handover = await h.command(PARTNER_USER, "handover 売上が落ちていて相談したい")
        assert handover.status_code == 200
        await slack_call(slack_api, lambda: bool(slack_api.recorder.views_opened_for(PARTNER_USER)))
        modal = slack_api.recorder.views_opened_for(PARTNER_USER)[-1]
        assert "売上が落ちていて相談したい" in texts_of(modal["blocks"])

        status = await h.command(PARTNER_USER, "status")
        assert status.status_code == 200
        assert status.json()["response_type"] == "ephemeral"
        assert status.json()["blocks"]

        stranger = await h.command(STRANGER, "handover", response_url=response_urls.url)
        assert stranger.status_code == 200
        assert await asyncio.to_thread(response_urls.arrived.wait, 5)
        assert "まだ登録されていません" in response_urls.received[-1]["text"]
        assert slack_api.recorder.views_opened_for(STRANGER) == []


async def test_partner_staff_deactivated_in_the_console_are_refused_a_hand_over_politely(
    session_factory: async_sessionmaker[AsyncSession],
    clock: ManualClock,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
    response_urls: ResponseUrls,
) -> None:
    from core.console.deactivate import set_staff_active
    from core.domain.enums import ActorKind

    await seed_people(session_factory, clock)
    async with unit_of_work(session_factory) as session:
        staff = await session.scalar(
            select(PartnerStaff).where(PartnerStaff.slack_user_id == PARTNER_USER)
        )
        assert staff is not None
        assert await set_staff_active(
            session, staff, False, actor_kind=ActorKind.SYSTEM, actor_id=None, now=clock.now()
        )
    async with harness(session_factory, clock, slack_api, slack_server) as h:
        refused = await h.command(
            PARTNER_USER, "handover 売上が落ちていて相談したい", response_url=response_urls.url
        )
        assert refused.status_code == 200
        assert await asyncio.to_thread(response_urls.arrived.wait, 5)
        assert "まだ登録されていません" in response_urls.received[-1]["text"]
        assert not slack_api.recorder.views_opened_for(PARTNER_USER)  # no hand-over form
    async with session_factory() as session:
        kept = await session.scalar(
            select(PartnerStaff).where(PartnerStaff.slack_user_id == PARTNER_USER)
        )
        assert kept is not None  # history kept
        assert kept.active is False
