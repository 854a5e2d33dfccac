"""Kill test (invariants 2 and 4): SIGKILL the worker and the dispatcher, again and again.

1,000 signed LINE events (500 owners, each follows and then writes) go through the real
webhook into PostgreSQL. `yorozu worker` and `yorozu dispatcher` run as real processes and
are killed with SIGKILL at random points several times, then restarted. Afterwards every
event was handled exactly once and every answer delivered exactly once, counted at the LINE
stand-in by content per owner.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

import core.db.models as m
from core.db.migrate import upgrade
from core.db.session import create_engine, create_session_factory
from core.domain.enums import InboxStatus, OutboxStatus
from integrations.standins import ServerThread, create_line_api, make_line_user_id
from integrations.standins.signing import line_headers
from tests.support import Role
from yorozu.app import create_app
from yorozu.settings import load_settings

OWNERS = 500
SECRET = "kill-test-line-secret"
TOKEN = "kill-test-line-token"
KILLS = 5


@pytest.fixture
def line_api() -> Iterator[tuple[str, object]]:
    standin = create_line_api({TOKEN: "1234567890"})
    with ServerThread(standin.app) as server:
        yield server.base_url, standin


def _event(user: str, kind: str, reply_token: str, stamp: int) -> dict[str, object]:
    event: dict[str, object] = {
        "type": kind,
        "mode": "active",
        "timestamp": stamp,
        "source": {"type": "user", "userId": user},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "replyToken": reply_token,
    }
    if kind == "message":
        event["message"] = {
            "id": str(stamp),
            "type": "text",
            "text": "こんにちは",
            "quoteToken": "q",
        }
    return event


def _tails(folder: Path) -> str:
    return "".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("*.log"))


async def _counts(url: str) -> tuple[int, int, int]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        pending_in = await session.scalar(
            select(func.count()).where(m.InboxEvent.status == InboxStatus.PENDING)
        )
        done_in = await session.scalar(
            select(func.count()).where(m.InboxEvent.status == InboxStatus.DONE)
        )
        unsent = await session.scalar(
            select(func.count()).where(
                m.OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
            )
        )
    await engine.dispose()
    return int(pending_in or 0), int(done_in or 0), int(unsent or 0)


@pytest.mark.timeout(600)
async def test_killing_worker_and_dispatcher_loses_nothing_and_doubles_nothing(
    kill_database: str, line_api: tuple[str, object], tmp_path: Path
) -> None:
    base_url, standin = line_api
    settings = load_settings(
        database_url=kill_database,
        redis_url=None,
        line_channel_secret=SECRET,
        line_channel_access_token=TOKEN,
        line_api_base_url=base_url,
    )
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    await engine.dispose()

    # Accept all events through the real webhook, signed as LINE signs them.
    app = create_app(settings, prepare=True)
    users = [make_line_user_id(f"kill-{i}") for i in range(OWNERS)]
    stamp = int(time.time() * 1000)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for round_kind in ("follow", "message"):
                for start in range(0, OWNERS, 25):
                    events = [
                        _event(u, round_kind, standin.issue_reply_token(u), stamp)  # type: ignore[attr-defined]
                        for u in users[start : start + 25]
                    ]
                    body = json.dumps({"destination": "U0", "events": events}).encode()
                    response = await client.post(
                        "/webhooks/line", content=body, headers=line_headers(SECRET, body)
                    )
                    assert response.status_code == 200, response.text
                stamp += 1000

    env = {
        **os.environ,
        "DATABASE_URL": kill_database,
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE_URL": base_url,
        "DISPATCH_LEASE_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    roles = [
        Role("worker", env, tmp_path / "worker.log"),
        Role("dispatcher", env, tmp_path / "d.log"),
    ]
    rng = random.Random(20261125)
    try:
        for role in roles:
            role.start()
        busy_kills = 0
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            for role in roles:
                role.kill()
            pending, _done, unsent = await _counts(kill_database)
            busy_kills += pending > 0 or unsent > 0
            for role in roles:
                role.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            pending, done, unsent = await _counts(kill_database)
            if pending == 0 and unsent == 0 and done == 2 * OWNERS:
                break
            await asyncio.sleep(0.5)
    finally:
        for role in roles:
            role.stop()

    pending, done, unsent = await _counts(kill_database)
    logs = _tails(tmp_path)
    assert busy_kills >= 3, "the kills must land while there is work in flight"
    assert (pending, done, unsent) == (0, 2 * OWNERS, 0), logs

    recorder = standin.recorder  # type: ignore[attr-defined]
    for user in users:
        deliveries = recorder.deliveries_to(user)
        contents = Counter(json.dumps(d.messages, sort_keys=True) for d in deliveries)
        assert len(deliveries) == 2, (user, [d.texts for d in deliveries])
        assert max(contents.values()) == 1
        first, second = (d.texts for d in deliveries)
        assert any("友だち追加ありがとうございます" in t for t in first)
        assert not any("友だち追加ありがとうございます" in t for t in second)
    retry_keys = Counter(d.retry_key for d in recorder.deliveries if d.retry_key)
    assert all(count == 1 for count in retry_keys.values())
