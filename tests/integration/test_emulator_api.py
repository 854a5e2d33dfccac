"""The emulator's API, as the page uses it: prepared requests go to the real endpoints.

The service runs with its embedded background roles (worker and dispatcher) and the local
stand-ins; the test plays the page: it asks for a signed request, sends it to the service's
own webhook, and reads what reached the stand-ins.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.clock import ManualClock
from yorozu.app import create_app
from yorozu.roles import dispatcher_role, worker_role
from yorozu.settings import Environment, load_settings

PARTNER = "U0ISHIINAOK"  # 石井 直子, 八王子商工会議所 (demo seed)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))  # Monday 10:00 JST


@pytest.fixture
async def page(tmp_path: Path, clock: ManualClock) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        yorozu_env=Environment.development,
        database_url=f"sqlite:///{tmp_path}/emulator.db",
        redis_url=None,
        dispatch_poll_seconds=0.05,
    )
    assert settings.emulator_on
    app = create_app(
        settings,
        clock=clock,
        prepare=True,
        background=[worker_role, dispatcher_role],
        emulator=True,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            yield client


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll the running service (its roles work in this event loop) until `check` answers."""
    for _ in range(400):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


async def send(page: httpx.AsyncClient, prepared: dict[str, Any]) -> httpx.Response:
    """What the page does with a prepared request: post it as is to the real endpoint."""
    return await page.post(
        prepared["url"], content=prepared["body"].encode(), headers=prepared["headers"]
    )


async def test_the_page_and_its_assets_are_served(page: httpx.AsyncClient) -> None:
    response = await page.get("/emulator")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert (await page.get("/emulator/static/../router.py")).status_code == 404


async def test_the_config_names_the_owner_the_people_and_the_intake_channels(
    page: httpx.AsyncClient,
) -> None:
    config = (await page.get("/emulator/api/config")).json()
    roles = {p["role"] for p in config["slack"]["personas"]}
    assert {"partner", "co", "cco"} <= roles
    names = {p["user_id"]: p["name"] for p in config["slack"]["personas"]}
    assert names[PARTNER] == "石井 直子"
    assert {"id": "C0HUB13", "name": "yorozu-13-intake"} in config["slack"]["channels"]
    assert config["slack"]["default_persona"] in names


async def test_a_follow_sent_by_the_page_is_answered_in_the_phone(
    page: httpx.AsyncClient,
) -> None:
    prepared = (
        await page.post("/emulator/api/line/prepare", json={"event": {"type": "follow"}})
    ).json()
    assert prepared["url"] == "/webhooks/line"
    assert (await send(page, prepared)).status_code == 200

    async def greeted() -> Any:
        state = (await page.get("/emulator/api/line/state")).json()
        texts = [m["message"].get("text", "") for m in state["messages"]]
        return state if any("友だち追加ありがとうございます" in t for t in texts) else None

    state = await until(greeted, "the greeting")
    assert state["followed"] is True
    assert state["messages"][0]["kind"] == "reply"
    consent = state["messages"][-1]["message"]
    labels = [item["action"]["label"] for item in consent["quickReply"]["items"]]
    assert labels == ["同意する", "同意しない"]


async def test_the_webhook_checks_the_signature_the_page_was_given(
    page: httpx.AsyncClient,
) -> None:
    prepared = (
        await page.post(
            "/emulator/api/line/prepare",
            json={"event": {"type": "message", "text": "こんにちは"}},
        )
    ).json()
    tampered = {**prepared, "body": prepared["body"].replace("こんにちは", "さようなら")}
    assert (await send(page, tampered)).status_code == 400
    empty = await page.post(
        "/emulator/api/line/prepare", json={"event": {"type": "message", "text": ""}}
    )
    assert empty.status_code == 422
    assert "text" in empty.text


async def test_a_shortcut_sent_by_the_page_opens_the_hand_over_modal(
    page: httpx.AsyncClient,
) -> None:
    prepared = (
        await page.post(
            "/emulator/api/slack/prepare",
            json={
                "user": PARTNER,
                "interaction": {"kind": "shortcut", "callback_id": "handover_global"},
            },
        )
    ).json()
    assert prepared["url"] == "/slack/events"
    assert (await send(page, prepared)).status_code == 200

    async def opened() -> Any:
        state = (await page.get("/emulator/api/slack/state", params={"user": PARTNER})).json()
        return state["views"]

    [view] = await until(opened, "the hand-over modal")
    assert view["view"]["title"]["text"] == "よろずに引き継ぐ"
    assert view["view"]["callback_id"] == "handover_submit"
    # Another persona sees nothing of it.
    other = (await page.get("/emulator/api/slack/state", params={"user": "U0TAKAHASHI"})).json()
    assert other["views"] == []


async def test_an_unknown_interaction_is_refused_with_a_reason(page: httpx.AsyncClient) -> None:
    response = await page.post(
        "/emulator/api/slack/prepare", json={"user": PARTNER, "interaction": {"kind": "dance"}}
    )
    assert response.status_code == 422
    assert "dance" in response.text


async def test_moving_the_clock_runs_the_jobs_that_would_have_fired(
    page: httpx.AsyncClient, clock: ManualClock
) -> None:
    before = clock.now()
    moved = (await page.post("/emulator/api/clock/advance", json={"seconds": 86400})).json()
    assert clock.now() == before + timedelta(days=1)
    assert moved["clock"]["now_jst"] == "2026-06-02T10:00:00+09:00"
    ran = {job["id"] for job in moved["jobs"]}
    # A day holds the morning digest (08:30 on business days), retention (02:00) and the
    # planners' ten-minute cycles.
    assert {"co_morning_digest", "retention", "plan_booking_reminders", "plan_surveys"} <= ran
    assert "cco_weekly_digest" not in ran  # Mondays only; Tuesday's 08:30 is not one

    short = (await page.post("/emulator/api/clock/advance", json={"seconds": 30})).json()
    assert short["jobs"] == []  # no trigger falls in 10:00:00-10:00:30

    to_next_monday = await page.post(
        "/emulator/api/clock/advance", json={"to_jst": "2026-06-08T09:00"}
    )
    assert "cco_weekly_digest" in {job["id"] for job in to_next_monday.json()["jobs"]}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"seconds": -5}, "greater than 0"),
        ({"seconds": 500 * 86400}, "400 days"),
        ({"to_jst": "2020-01-01T09:00"}, "only moves forward"),
        ({"to_jst": "tomorrow"}, "YYYY-MM-DD"),
        ({}, "either seconds or to_jst"),
    ],
)
async def test_the_clock_refuses_to_go_back_or_too_far(
    page: httpx.AsyncClient, clock: ManualClock, body: dict[str, Any], reason: str
) -> None:
    before = clock.now()
    response = await page.post("/emulator/api/clock/advance", json=body)
    assert response.status_code == 422
    assert reason in response.text
    assert clock.now() == before


async def test_without_the_emulator_there_is_no_page(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/off.db", redis_url=None)
    app = create_app(settings, prepare=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            assert (await client.get("/emulator")).status_code == 404
            assert (await client.get("/emulator/api/config")).status_code == 404


async def test_the_persona_picker_opens_the_console_signed_in_as_that_persona(
    page: httpx.AsyncClient,
) -> None:
    config = (await page.get("/emulator/api/config")).json()
    cco = next(p for p in config["slack"]["personas"] if p["role"] == "cco" and "東京" in p["org"])
    opened = await page.get(f"/emulator/console?user={cco['user_id']}")
    assert opened.status_code == 303
    start = await page.get(opened.headers["location"])
    assert start.status_code == 302  # to the OIDC stand-in's authorize page
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(start.headers["location"])
    assert approved.status_code == 302
    back = httpx.URL(approved.headers["location"])
    signed = await page.get(f"{back.path}?{back.query.decode()}")
    assert signed.status_code == 303
    hub = await page.get("/console", follow_redirects=True)
    assert hub.status_code == 200
    assert f"{cco['name']}（チーフコーディネーター）としてサインイン中" in hub.text
    assert (await page.get("/emulator/console?user=U0NOBODY00")).status_code == 404
