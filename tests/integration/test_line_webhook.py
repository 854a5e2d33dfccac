"""The LINE webhook: signed requests are stored once, before the 200; forged ones change nothing.

Real HTTP through httpx's ASGI transport, real databases (SQLite and PostgreSQL), bodies
signed exactly as LINE signs them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.line.webhook import (
    DEFAULT_CHANNEL,
    LineWebhook,
    SqlAlchemyHubChannels,
    WebhookFastPath,
    line_webhook_router,
    translate_events,
)
from core.clock import ManualClock
from core.db.models import Hub, InboxEvent, LineChannel
from core.domain.enums import HubKind, InboxStatus, Platform
from core.inbox import InboxWriter, NewInboxEvent
from integrations.standins.signing import line_headers, line_webhook_body, sign_line_body

SECRET = "test-line-channel-secret"
HUB_SECRET = "tokyo-line-channel-secret"
DESTINATION = "U" + "0" * 32


def message_event(
    event_id: str,
    user: str,
    *,
    text: str = "こんにちは",
    redelivery: bool = False,
    mode: str = "active",
    timestamp: int = 1_780_000_000_000,
) -> dict[str, Any]:
    return {
        "type": "message",
        "mode": mode,
        "timestamp": timestamp,
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": redelivery},
        "replyToken": "r" * 32,
        "message": {"id": "1", "type": "text", "quoteToken": "q", "text": text},
    }


@pytest.fixture
async def writer(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> AsyncIterator[InboxWriter]:
    inbox_writer = InboxWriter(session_factory, clock)
    try:
        yield inbox_writer
    finally:
        await inbox_writer.aclose()


@pytest.fixture(params=["routes", "fast_path"])
async def client(
    request: pytest.FixtureRequest,
    writer: InboxWriter,
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[httpx.AsyncClient]:
    """The webhook as the framework's routes, and as the fast path the service runs in
    front of them (raw ASGI, bots/line/webhook.py): both must answer alike."""
    app = FastAPI()
    webhook = LineWebhook(
        sink=writer, default_secret=SECRET, hub_channels=SqlAlchemyHubChannels(session_factory)
    )
    router = line_webhook_router(webhook)
    app.include_router(router)
    served: Any = app if request.param == "routes" else WebhookFastPath(app, router=router)
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def post(
    client: httpx.AsyncClient,
    events: list[dict[str, Any]],
    *,
    secret: str = SECRET,
    path: str = "/webhooks/line",
) -> httpx.Response:
    body = line_webhook_body(DESTINATION, events)
    return await client.post(path, content=body, headers=line_headers(secret, body))


async def stored(factory: async_sessionmaker[AsyncSession]) -> list[InboxEvent]:
    async with factory() as session:
        return list(await session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


async def test_a_forged_or_missing_signature_is_400_and_stores_nothing(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    body = line_webhook_body(DESTINATION, [message_event("01J0000000000000000000FORG", "U1")])
    forged = await client.post(
        "/webhooks/line", content=body, headers=line_headers("not-the-secret", body)
    )
    missing = await client.post(
        "/webhooks/line", content=body, headers={"content-type": "application/json"}
    )
    tampered_body = body.replace("こんにちは".encode(), "さようなら".encode())
    tampered = await client.post(
        "/webhooks/line", content=tampered_body, headers=line_headers(SECRET, body)
    )
    assert forged.status_code == 400
    assert forged.json() == {"detail": "invalid x-line-signature"}
    assert missing.status_code == 400
    assert missing.json() == {"detail": "missing x-line-signature"}
    assert tampered.status_code == 400
    assert await stored(session_factory) == []


async def test_a_flood_of_forged_requests_is_one_log_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Each forged request is refused, but the log gets one line, not one per request."""
    body = line_webhook_body(DESTINATION, [message_event("01J0000000000000000000FLOOD", "U1")])
    with caplog.at_level(logging.WARNING, logger="bots.line.webhook"):
        answers = [
            await client.post("/webhooks/line", content=body, headers=line_headers("forged", body))
            for _ in range(50)
        ]
    assert {a.status_code for a in answers} == {400}
    refused = [r for r in caplog.records if r.getMessage() == "line webhook signature refused"]
    assert len(refused) == 1


async def test_the_console_verify_request_is_200(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    response = await post(client, [])
    assert response.status_code == 200
    assert await stored(session_factory) == []


async def test_a_redelivered_event_is_stored_once(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    event_id = "01J00000000000000000000001"
    first = await post(client, [message_event(event_id, "U1")])
    again = await post(client, [message_event(event_id, "U1", redelivery=True)])
    assert (first.status_code, again.status_code) == (200, 200)
    rows = await stored(session_factory)
    assert [(row.event_id, row.redelivery) for row in rows] == [(event_id, False)]
    row = rows[0]
    assert row.platform is Platform.LINE
    assert row.channel_id == DEFAULT_CHANNEL
    assert row.ordering_key == "line:default:U1"
    assert row.kind == "message"
    assert row.status is InboxStatus.PENDING
    assert row.occurred_at is not None
    assert int(row.occurred_at.timestamp() * 1000) == 1_780_000_000_000
    assert row.payload["message"]["text"] == "こんにちは"


async def test_a_first_delivery_seen_only_as_redelivery_is_marked(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await post(client, [message_event("01J00000000000000000000002", "U1", redelivery=True)])
    assert [row.redelivery for row in await stored(session_factory)] == [True]


async def test_standby_events_are_stored_as_ignored(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    response = await post(
        client, [message_event("01J00000000000000000000003", "U1", mode="standby")]
    )
    assert response.status_code == 200
    assert [row.status for row in await stored(session_factory)] == [InboxStatus.IGNORED]


async def test_one_request_with_several_users_and_sources(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    group_event = message_event("01J0000000000000000000000G", "unused")
    group_event["source"] = {"type": "group", "groupId": "C-group"}
    follow = {
        "type": "follow",
        "mode": "active",
        "timestamp": 1_780_000_000_100,
        "source": {"type": "user", "userId": "U2"},
        "webhookEventId": "01J0000000000000000000000F",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "t",
        "follow": {"isUnblocked": False},
    }
    events = [
        message_event("01J0000000000000000000000A", "U1"),
        follow,
        message_event("01J0000000000000000000000B", "U1", text="二通目"),
        group_event,
    ]
    response = await post(client, events)
    assert response.status_code == 200
    rows = await stored(session_factory)
    assert [(row.event_id[-1], row.kind, row.ordering_key) for row in rows] == [
        ("A", "message", "line:default:U1"),
        ("F", "follow", "line:default:U2"),
        ("B", "message", "line:default:U1"),
        ("G", "message", "line:default:C-group"),
    ]


async def test_group_commit_stores_every_event_before_its_200(
    client: httpx.AsyncClient,
    writer: InboxWriter,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async def deliver(n: int) -> None:
        event_id = f"01J{n:023d}"
        response = await post(client, [message_event(event_id, f"U{n % 7}")])
        assert response.status_code == 200
        # Acknowledged means committed: a fresh session already sees the event.
        async with session_factory() as session:
            found = await session.scalar(
                select(func.count()).where(InboxEvent.event_id == event_id)
            )
        assert found == 1

    requests = 40
    await asyncio.gather(*(deliver(n) for n in range(requests)))
    assert len(await stored(session_factory)) == requests
    assert 1 <= writer.batches < requests  # requests shared transactions


async def test_too_large_a_body_is_413_and_bad_json_is_400(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    huge = b'{"destination":"x","events":[],"pad":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    too_large = await client.post(
        "/webhooks/line", content=huge, headers=line_headers(SECRET, huge)
    )
    not_json = b"{not json"
    bad = await client.post(
        "/webhooks/line", content=not_json, headers=line_headers(SECRET, not_json)
    )
    no_events = json.dumps({"destination": "x"}).encode()
    shapeless = await client.post(
        "/webhooks/line", content=no_events, headers=line_headers(SECRET, no_events)
    )
    assert too_large.status_code == 413
    assert bad.status_code == 400
    assert bad.json() == {"detail": "the body is not JSON"}
    assert shapeless.status_code == 400
    assert await stored(session_factory) == []


@pytest.mark.parametrize(
    "odd",
    ['"timestamp": NaN', '"timestamp": 1e999', '"text": "\\ud83d"'],
    ids=["nan", "infinity", "lone-surrogate"],
)
async def test_a_body_that_is_not_strict_json_is_400_and_stores_nothing(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession], odd: str
) -> None:
    """No column could store these: refused alone, not failing a batch shared by others."""
    body = ('{"destination": "x", "events": [{"type": "message", ' + odd + "}]}").encode()
    answer = await client.post("/webhooks/line", content=body, headers=line_headers(SECRET, body))
    assert answer.status_code == 400
    assert answer.json() == {"detail": "the body is not JSON"}
    assert await stored(session_factory) == []


async def test_a_streamed_body_is_read_whole_and_refused_once_past_2_mb(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """No Content-Length (chunked): the body is counted as it comes."""
    body = line_webhook_body(DESTINATION, [message_event("evt-stream", "U" + "1" * 32)])

    async def in_pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    whole = await client.post(
        "/webhooks/line", content=in_pieces(body, 7), headers=line_headers(SECRET, body)
    )
    huge = b'{"destination":"x","events":[],"pad":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    too_large = await client.post(
        "/webhooks/line",
        content=in_pieces(huge, 256 * 1024),
        headers=line_headers(SECRET, huge),
    )
    assert whole.status_code == 200
    assert too_large.status_code == 413
    assert too_large.json() == {"detail": "the body is larger than 2 MB"}
    assert [row.event_id for row in await stored(session_factory)] == ["evt-stream"]


async def test_a_hub_route_uses_the_hubs_own_channel_secret(
    client: httpx.AsyncClient, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory() as session, session.begin():
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
        session.add(
            LineChannel(hub_id=hub.id, channel_id="2000000013", name="東京", secret=HUB_SECRET)
        )
        session.add(
            Hub(
                code="14",
                kind=HubKind.HUB,
                prefecture_code="14",
                name_ja="神奈川県よろず支援拠点",
                name_en="Kanagawa",
                implementing_org_ja="x",
            )
        )
    event = message_event("01J000000000000000000000HB", "U9")
    with_default_secret = await post(client, [event], path="/webhooks/line/13")
    ok = await post(client, [event], secret=HUB_SECRET, path="/webhooks/line/13")
    unknown = await post(client, [event], secret=HUB_SECRET, path="/webhooks/line/40")
    no_channel = await post(client, [event], secret=HUB_SECRET, path="/webhooks/line/14")
    not_a_code = await post(client, [event], secret=HUB_SECRET, path="/webhooks/line/tokyo")
    assert with_default_secret.status_code == 400
    assert ok.status_code == 200
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "unknown hub 40"}
    assert no_channel.status_code == 404
    assert "no LINE channel" in no_channel.json()["detail"]
    assert not_a_code.status_code == 404
    rows = await stored(session_factory)
    assert [(row.channel_id, row.ordering_key) for row in rows] == [("13", "line:13:U9")]


class _Store:
    """A store in front of the real writer: the database gone, or a commit that hangs."""

    def __init__(self, *, away: bool) -> None:
        self.away = away
        self.released = asyncio.Event()

    async def __call__(self, events: Sequence[NewInboxEvent], now: object) -> int:
        if self.away:
            raise ConnectionError("database away")
        await self.released.wait()
        return len(events)


@pytest.mark.parametrize(("away", "detail"), [(True, "stored"), (False, "in time")])
async def test_no_200_unless_stored(
    away: bool, detail: str, session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """The real writer, over a store that fails or never commits: 503, never a hang."""
    store = _Store(away=away)
    writer = InboxWriter(session_factory, clock, store=store)
    app = FastAPI()
    router = line_webhook_router(LineWebhook(sink=writer, default_secret=SECRET, ack_timeout=0.05))
    app.include_router(router)
    body = line_webhook_body(DESTINATION, [message_event("01J00000000000000000000009", "U1")])
    try:
        for served in (app, WebhookFastPath(app, router=router)):
            transport = httpx.ASGITransport(app=served)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                response = await asyncio.wait_for(
                    http.post("/webhooks/line", content=body, headers=line_headers(SECRET, body)),
                    timeout=5,
                )
            assert response.status_code == 503
            assert detail in response.json()["detail"]
    finally:
        store.released.set()
        await writer.aclose()


async def test_each_request_gives_up_at_its_own_deadline(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """One timer serves every waiting request: a shorter wait that comes later still ends
    first, and a request whose commit comes in time is not failed by an older deadline."""
    store = _Store(away=False)
    writer = InboxWriter(session_factory, clock, store=store, max_in_flight=1, linger=0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ended: dict[str, float] = {}

    async def submit(name: str, give_up_after: float) -> str:
        try:
            await writer.submit(translate_events(_body(name), "c"), give_up_after=give_up_after)
            return "stored"
        except TimeoutError:
            ended[name] = loop.time() - started
            return "gave up"

    def _body(name: str) -> bytes:
        return line_webhook_body(DESTINATION, [message_event(name, "U1")])

    try:
        long = asyncio.create_task(submit("long", 2.0))
        await asyncio.sleep(0.01)
        short = asyncio.create_task(submit("short", 0.1))
        assert await asyncio.wait_for(short, 5) == "gave up"
        assert not long.done()
        store.released.set()
        assert await asyncio.wait_for(long, 5) == "stored"
    finally:
        store.released.set()
        await writer.aclose()
    assert 0.09 <= ended["short"] < 1.0


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_writer_wakes_the_workers_through_redis_after_commit(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    from yorozu.worker import WAKE_KEY, redis_wake

    redis = aioredis.from_url(redis_url)
    writer = InboxWriter(session_factory, clock, wake=redis_wake(redis))
    try:
        app = FastAPI()
        app.include_router(line_webhook_router(LineWebhook(sink=writer, default_secret=SECRET)))
        body = line_webhook_body(DESTINATION, [message_event("01J0000000000000000000000W", "U1")])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post(
                "/webhooks/line", content=body, headers=line_headers(SECRET, body)
            )
            assert response.status_code == 200
            await writer.aclose()
            assert await redis.llen(WAKE_KEY) >= 1
            # A redelivery stores nothing new, so it wakes nobody.
            await redis.delete(WAKE_KEY)
            writer = InboxWriter(session_factory, clock, wake=redis_wake(redis))
            app.router.routes.clear()
            app.include_router(line_webhook_router(LineWebhook(sink=writer, default_secret=SECRET)))
            again = await http.post(
                "/webhooks/line", content=body, headers=line_headers(SECRET, body)
            )
            assert again.status_code == 200
            await writer.aclose()
            assert await redis.llen(WAKE_KEY) == 0
    finally:
        await writer.aclose()
        await redis.aclose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_slow_wake_up_holds_back_no_commit(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """Telling the workers (a Redis round trip) happens beside the commits, not in their slot:
    batches keep committing while it waits, and are told of together when it is back."""
    told: list[int] = []
    redis_back = asyncio.Event()

    async def slow_wake(count: int) -> None:
        told.append(count)
        await redis_back.wait()

    writer = InboxWriter(session_factory, clock, wake=slow_wake, max_in_flight=1)
    try:
        for n in range(3):
            event_id = f"01J00000000000000000000SW{n}"
            events = translate_events(
                line_webhook_body(DESTINATION, [message_event(event_id, f"U{n}")]), "default"
            )
            await asyncio.wait_for(writer.submit(events), timeout=5)
        assert len(await stored(session_factory)) == 3
        assert told == [1]  # the first wake-up is still on its way
        redis_back.set()
        await writer.aclose()
        assert told == [1, 2]
    finally:
        redis_back.set()
        await writer.aclose()


def test_signatures_are_base64_hmac_sha256() -> None:
    from bots.line.webhook import signature_matches

    body = b'{"events":[]}'
    assert signature_matches(SECRET, body, sign_line_body(SECRET, body))
    assert not signature_matches(SECRET, body, sign_line_body("other", body))
    assert not signature_matches(SECRET, body, None)
    assert not signature_matches(SECRET, body, "ü-not-base64")
    japanese = '{"events":[],"note":"よろず"}'.encode()
    assert signature_matches(SECRET, japanese, sign_line_body(SECRET, japanese))
    # Signed correctly over bytes that are not UTF-8: not something LINE sends.
    latin = '{"events":[],"note":"caf\u00e9"}'.encode("latin-1")
    assert not signature_matches(SECRET, latin, sign_line_body(SECRET, latin))
