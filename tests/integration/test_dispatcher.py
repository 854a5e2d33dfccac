"""The outbox and the dispatcher (invariant 4) against real local LINE and Slack stand-ins.

Time is a ManualClock shared by the dispatcher and the stand-ins (reply tokens, quotas, rate
buckets); the tests move it forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models.inbox import PushUsage
from core.db.models.outbox import OutboxMessage
from core.db.models.people import ChannelIdentity, Person
from core.db.models.richmenus import RichMenuDeployment
from core.db.session import unit_of_work
from core.domain.enums import OutboxStatus, Platform
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store
from integrations.line.client import LineSender
from integrations.standins import (
    LineApiStandin,
    ServerThread,
    SlackApiStandin,
    create_line_api,
    create_slack_api,
    make_line_user_id,
    make_slack_id,
)
from yorozu.bootstrap import Container
from yorozu.channels import DEFAULT_CHANNEL
from yorozu.dispatcher import Dispatcher, run_dispatcher
from yorozu.settings import DEV_LINE_CHANNEL_ACCESS_TOKEN, DEV_SLACK_BOT_TOKEN, load_settings

CHANNEL = "1650000001"
TEAM = "T0STANDIN1"
Factory = async_sessionmaker[AsyncSession]
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def msg(value: str) -> OutgoingMessage:
    return OutgoingMessage(texts=(Text("common.verbatim", value=value),))


# -- fixtures ---------------------------------------------------------------------------


@dataclass
class Storm:
    """An ASGI wrapper that fails a share of sends, before or after they take effect."""

    app: Any
    clock: ManualClock
    platform: str
    rate: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(20260602))
    log: list[tuple[str, datetime, int, float | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        path: str = scope["path"]
        is_send = path in ("/v2/bot/message/push", "/v2/bot/message/reply") or path.endswith(
            "chat.postMessage"
        )
        with self.lock:
            roll = self.rng.random() if is_send else 1.0
            choice = self.rng.random()
            retry_after = self.rng.choice((1, 2, 3))
        text = ""
        if path.endswith("chat.postMessage"):
            text = str(json.loads(body or b"{}").get("text", ""))
        if roll < self.rate:
            if self.platform == "line":
                if choice < 1 / 3:
                    await _answer(send, 429, {"message": "The API rate limit has been exceeded."})
                    return
                if choice < 2 / 3:
                    await _answer(send, 500, {"message": "Internal Server Error"})
                    return
                # LINE took the message, then failed to answer: the retry key must save us.
                await self.app(scope, replay, _discard)
                await _answer(send, 500, {"message": "Internal Server Error"})
                return
            self._note(text, 429, float(retry_after))
            await _answer(
                send, 429, {"ok": False, "error": "ratelimited"}, {"retry-after": str(retry_after)}
            )
            return
        status_seen: list[int] = []
        retry_seen: list[float | None] = [None]

        async def spy(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                for key, value in message.get("headers", []):
                    if key.lower() == b"retry-after":
                        retry_seen[0] = float(value)
            await send(message)

        await self.app(scope, replay, spy)
        if text:
            self._note(text, status_seen[0] if status_seen else 0, retry_seen[0])

    def _note(self, text: str, status: int, retry_after: float | None) -> None:
        with self.lock:
            self.log.append((text, self.clock.now(), status, retry_after))


async def _discard(message: dict[str, Any]) -> None:
    return None


async def _answer(
    send: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    header_list = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    header_list += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": header_list})
    await send({"type": "http.response.body", "body": raw})


@pytest.fixture
def line_api(clock: ManualClock) -> LineApiStandin:
    return create_line_api({DEV_LINE_CHANNEL_ACCESS_TOKEN: CHANNEL}, clock=clock.now)


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    return create_slack_api([DEV_SLACK_BOT_TOKEN], clock=clock.now, team_id=TEAM)


@pytest.fixture
def line_storm(line_api: LineApiStandin, clock: ManualClock) -> Storm:
    return Storm(line_api.app, clock, "line")


@pytest.fixture
def slack_storm(slack_api: SlackApiStandin, clock: ManualClock) -> Storm:
    return Storm(slack_api.app, clock, "slack")


@pytest.fixture
def line_server(line_storm: Storm) -> Iterator[ServerThread]:
    with ServerThread(line_storm) as server:
        yield server


@pytest.fixture
def slack_server(slack_storm: Storm) -> Iterator[ServerThread]:
    with ServerThread(slack_storm) as server:
        yield server


@pytest.fixture
async def container(
    engine: AsyncEngine,
    session_factory: Factory,
    clock: ManualClock,
    database_url: str,
    line_server: ServerThread,
    slack_server: ServerThread,
) -> Container:
    settings = load_settings(
        database_url=database_url,
        line_api_base_url=line_server.url,
        slack_api_base_url=slack_server.url + "/api/",
    )
    return Container(settings=settings, clock=clock, engine=engine, session_factory=session_factory)


@pytest.fixture
async def dispatcher(container: Container) -> AsyncIterator[Dispatcher]:
    d = Dispatcher(container, rng=random.Random(42))
    try:
        yield d
    finally:
        await d.aclose()


# -- helpers ----------------------------------------------------------------------------


async def add(
    factory: Factory,
    clock: ManualClock,
    recipient: str,
    text: str,
    *,
    kind: str = "push",
    platform: Platform = Platform.LINE,
    channel_id: str = CHANNEL,
    key: str | None = None,
    **options: Any,
) -> int:
    async with unit_of_work(factory) as session:
        row = await store.add_message(
            session,
            platform=platform,
            channel_id=channel_id,
            recipient=recipient,
            message=msg(text),
            kind=kind,
            idempotency_key=key or f"test:{recipient}:{text}",
            now=clock.now(),
            **options,
        )
        assert row is not None
        return row


async def row(factory: Factory, row_id: int) -> OutboxMessage:
    async with factory() as session:
        found = await session.get(OutboxMessage, row_id)
        assert found is not None
        return found


async def statuses(factory: Factory) -> dict[str, int]:
    async with factory() as session:
        return await store.stats(session)


async def drain(
    dispatcher: Dispatcher, factory: Factory, clock: ManualClock, *, rounds: int = 5000
) -> None:
    """Run the dispatcher until nothing is pending or sending, jumping the clock to due times."""
    for _ in range(rounds):
        report = await dispatcher.run_once()
        counts = await statuses(factory)
        if counts["pending"] == 0 and counts["sending"] == 0:
            return
        if report.claimed == 0:
            async with factory() as session:
                due = await session.scalar(
                    select(func.min(OutboxMessage.not_before)).where(
                        OutboxMessage.status == OutboxStatus.PENDING
                    )
                )
            step = clock.now() + timedelta(milliseconds=10)
            clock.set(max(step, due) if due is not None else step)
    raise AssertionError(f"outbox not drained: {await statuses(factory)}")


async def pushes(factory: Factory, clock: ManualClock) -> int:
    async with factory() as session:
        return await store.push_usage(session, CHANNEL, now=clock.now())


# -- tests ------------------------------------------------------------------------------


async def test_each_row_delivered_once_in_order_per_recipient(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    users = [make_line_user_id(f"order-{i}") for i in range(5)]
    for n in range(3):
        for user in users:
            await add(session_factory, clock, user, f"{user[-4:]}-{n}")
    first = await dispatcher.run_once()
    assert first.claimed == 5  # one at a time per recipient
    await drain(dispatcher, session_factory, clock)
    for user in users:
        assert line_api.recorder.texts_to(user) == [f"{user[-4:]}-{n}" for n in range(3)]
        assert all(d.retry_key for d in line_api.recorder.pushes_to(user))
    assert await pushes(session_factory, clock) == 15
    metrics = dispatcher.metrics.registry
    assert metrics.get_sample_value("yorozu_line_pushes_total", {"channel": CHANNEL}) == 15
    assert (await statuses(session_factory))["sent"] == 15


async def test_repeated_idempotency_key_is_a_no_op(
    session_factory: Factory, clock: ManualClock
) -> None:
    user = make_line_user_id("idem")
    await add(session_factory, clock, user, "once", key="k1")
    async with unit_of_work(session_factory) as session:
        again = await store.add_message(
            session,
            platform=Platform.LINE,
            channel_id=CHANNEL,
            recipient=user,
            message=msg("twice"),
            kind="push",
            idempotency_key="k1",
            now=clock.now(),
        )
    assert again is None
    assert sum((await statuses(session_factory)).values()) == 1


async def _menu_on_line(base_url: str) -> str:
    """A rich menu created and given its image through the LINE stand-in's own API."""
    image = io.BytesIO()
    Image.new("RGB", (2500, 843), "white").save(image, format="PNG")
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "test",
        "chatBarText": "メニュー",
        "areas": [
            {
                "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                "action": {"type": "message", "text": "予約"},
            }
        ],
    }
    headers = {"Authorization": f"Bearer {DEV_LINE_CHANNEL_ACCESS_TOKEN}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        created = await http.post("/v2/bot/richmenu", json=body)
        assert created.status_code == 200, created.text
        menu_id = str(created.json()["richMenuId"])
        uploaded = await http.post(
            f"/v2/bot/richmenu/{menu_id}/content",
            content=image.getvalue(),
            headers={"Content-Type": "image/png"},
        )
        assert uploaded.status_code == 200, uploaded.text
    return menu_id


async def test_rich_menu_links_go_to_the_deployed_menu_or_fail_saying_none_is(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    line_server: ServerThread,
) -> None:
    """One batch links several owners (their channel's menus read once for it); a menu that
    was never deployed is a permanent failure that says so, not a retry."""
    menu_id = await _menu_on_line(line_server.url)
    async with unit_of_work(session_factory) as session:
        session.add(
            RichMenuDeployment(
                channel_key="default",
                menu_key="registered",
                line_rich_menu_id=menu_id,
                deployed_at=clock.now(),
            )
        )
    owners = [make_line_user_id(f"menu-{n}") for n in range(3)]
    async with unit_of_work(session_factory) as session:
        for index, (user, menu) in enumerate(
            zip(owners, ("registered", "registered", "booked"), strict=True)
        ):
            await store.add_raw(
                session,
                platform=Platform.LINE,
                channel_id="default",
                recipient=user,
                payload={"menu": menu},
                kind="richmenu_link",
                idempotency_key=f"test:menu:{index}",
                now=clock.now(),
            )

    report = await dispatcher.run_once()

    assert report.claimed == 3
    assert [line_api.rich_menu_for(user) for user in owners[:2]] == [menu_id, menu_id]
    assert line_api.rich_menu_for(owners[2]) is None
    async with session_factory() as session:
        failed = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
            )
        ).all()
    assert [(row.recipient, row.last_error) for row in failed] == [
        (owners[2], "no_rich_menu_deployed:booked")
    ]


async def test_valid_reply_token_replies_for_free(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    user = make_line_user_id("reply")
    token = line_api.issue_reply_token(user, CHANNEL)
    row_id = await add(
        session_factory,
        clock,
        user,
        "hello",
        kind="reply",
        reply_token=token,
        reply_token_expires_at=clock.now() + timedelta(seconds=50),
    )
    await drain(dispatcher, session_factory, clock)
    assert len(line_api.recorder.replies_to(user)) == 1
    assert line_api.recorder.pushes_to(user) == []
    assert await pushes(session_factory, clock) == 0
    assert (await row(session_factory, row_id)).status is OutboxStatus.SENT
    assert (
        dispatcher.metrics.registry.get_sample_value(
            "yorozu_line_replies_total", {"channel": CHANNEL}
        )
        == 1
    )


@pytest.mark.parametrize("why", ["expired", "refused"])
async def test_unusable_reply_token_falls_back_to_push_with_retry_key(
    why: str,
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
) -> None:
    user = make_line_user_id("fallback")
    if why == "expired":
        token = line_api.issue_reply_token(user, CHANNEL)
        expires = clock.now() - timedelta(seconds=1)
    else:  # LINE answers 400 Invalid reply token on the first attempt
        token, expires = "f" * 32, clock.now() + timedelta(seconds=50)
    row_id = await add(
        session_factory,
        clock,
        user,
        "late",
        kind="reply",
        reply_token=token,
        reply_token_expires_at=expires,
    )
    await drain(dispatcher, session_factory, clock)
    [push] = line_api.recorder.pushes_to(user)
    sent = await row(session_factory, row_id)
    assert push.retry_key == sent.retry_key
    assert sent.status is OutboxStatus.SENT
    assert await pushes(session_factory, clock) == 1


@pytest.mark.parametrize("accepted_first", [False, True])
async def test_line_500_then_success_delivers_once(
    accepted_first: bool,
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
) -> None:
    user = make_line_user_id("flaky")
    line_api.fail_next(1, 500, path="/v2/bot/message/push", deliver=accepted_first)
    row_id = await add(session_factory, clock, user, "retry me")
    report = await dispatcher.run_once()
    assert report.retried == 1
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(user) == ["retry me"]
    sent = await row(session_factory, row_id)
    assert sent.status is OutboxStatus.SENT
    assert sent.attempts == 2
    statuses_seen = [r.status for r in line_api.recorder.requests_to("/v2/bot/message/push")]
    assert statuses_seen == ([500, 409] if accepted_first else [500, 200])
    assert await pushes(session_factory, clock) == 1


async def test_dispatcher_killed_between_send_and_mark(
    container: Container,
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
) -> None:
    user = make_line_user_id("crash")
    row_id = await add(session_factory, clock, user, "exactly once")
    # The first dispatcher claims and sends, then dies before recording.
    async with unit_of_work(session_factory) as session:
        claimed = (
            await store.claim(session, now=clock.now(), lease=timedelta(seconds=30))
        ).messages
    [first] = claimed
    sender = LineSender(str(container.settings.line_api_base_url))
    try:
        outcome = await sender.push(
            DEV_LINE_CHANNEL_ACCESS_TOKEN,
            user,
            [{"type": "text", "text": "exactly once"}],
            first.retry_key,
        )
    finally:
        await sender.aclose()
    assert outcome.status == 200
    # Under the lease nobody takes it; after it the row comes back and LINE answers 409.
    assert (await dispatcher.run_once()).claimed == 0
    clock.advance(timedelta(seconds=31))
    report = await dispatcher.run_once()
    assert report.sent == 1
    assert line_api.recorder.texts_to(user) == ["exactly once"]
    sent = await row(session_factory, row_id)
    assert sent.status is OutboxStatus.SENT
    assert sent.accepted_request_id == outcome.request_id
    assert [r.status for r in line_api.recorder.requests_to("/v2/bot/message/push")] == [200, 409]
    # The late first dispatcher cannot overwrite what the second recorded.
    async with unit_of_work(session_factory) as session:
        assert not await store.mark_failed(session, first, reason="late", now=clock.now())
    assert (await row(session_factory, row_id)).status is OutboxStatus.SENT


async def test_retried_reply_whose_token_we_used_counts_as_sent(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    user = make_line_user_id("reply-twice")
    token = line_api.issue_reply_token(user, CHANNEL)
    line_api.fail_next(1, 500, path="/v2/bot/message/reply", deliver=True)
    row_id = await add(
        session_factory,
        clock,
        user,
        "once",
        kind="reply",
        reply_token=token,
        reply_token_expires_at=clock.now() + timedelta(seconds=60),
    )
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(user) == ["once"]
    assert line_api.recorder.pushes_to(user) == []
    assert (await row(session_factory, row_id)).status is OutboxStatus.SENT


async def test_monthly_limit_holds_the_push(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    line_api.set_monthly_limit(0)
    user = make_line_user_id("budget")
    row_id = await add(session_factory, clock, user, "wait for budget")
    report = await dispatcher.run_once()
    assert report.held == 1
    held = await row(session_factory, row_id)
    assert held.status is OutboxStatus.HELD
    clock.advance(timedelta(hours=1))
    assert (await dispatcher.run_once()).claimed == 0
    # Budget back (a new month, a bigger plan): released rows go out.
    line_api.set_monthly_limit(None)
    async with unit_of_work(session_factory) as session:
        assert await store.release_held(session, now=clock.now(), channel_id=CHANNEL) == 1
    await drain(dispatcher, session_factory, clock)
    assert line_api.recorder.texts_to(user) == ["wait for budget"]


async def test_permanent_400_is_recorded_and_not_retried(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    user = make_line_user_id("bad")
    line_api.fail_next(
        1, 400, {"message": "The request body has 1 error(s)"}, path="/v2/bot/message/push"
    )
    bad = await add(session_factory, clock, user, "refused")
    good = await add(session_factory, clock, user, "next one")
    await drain(dispatcher, session_factory, clock)
    failed = await row(session_factory, bad)
    assert failed.status is OutboxStatus.FAILED
    assert failed.attempts == 1
    assert failed.last_error == "http_400"
    assert (await row(session_factory, good)).status is OutboxStatus.SENT
    assert line_api.recorder.texts_to(user) == ["next one"]
    clock.advance(timedelta(hours=2))
    assert (await dispatcher.run_once()).claimed == 0


async def test_unfollowed_recipient_gets_nothing(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    user = make_line_user_id("gone")
    other = make_line_user_id("stays")
    async with unit_of_work(session_factory) as session:
        person = Person(locale="ja")
        session.add(person)
        await session.flush()
        session.add(
            ChannelIdentity(
                person_id=person.id,
                platform=Platform.LINE,
                channel_id=CHANNEL,
                external_user_id=user,
                followed=False,
                unfollowed_at=clock.now(),
                created_at=clock.now(),
            )
        )
    gone = await add(session_factory, clock, user, "never")
    kept = await add(session_factory, clock, other, "fine")
    report = await dispatcher.run_once()
    assert report.cancelled == 1
    assert (await row(session_factory, gone)).status is OutboxStatus.CANCELLED
    assert (await row(session_factory, kept)).status is OutboxStatus.SENT
    assert line_api.recorder.deliveries_to(user) == []
    assert [r.body["to"] for r in line_api.recorder.requests_to("/v2/bot/message/push")] == [other]
    # On the unfollow event itself, everything waiting is cancelled at once.
    later = await add(session_factory, clock, other, "later")
    async with unit_of_work(session_factory) as session:
        assert await store.cancel_for_recipient(session, CHANNEL, other) == 1
    assert (await row(session_factory, later)).status is OutboxStatus.CANCELLED


async def test_slack_429_retry_after_is_honoured(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    channel = make_slack_id("C", "intake")
    slack_api.add_channel(channel, "intake")
    slack_api.fail_next(1, 429, retry_after=2, method="chat.postMessage")
    row_id = await add(
        session_factory,
        clock,
        channel,
        "a case for you",
        kind="slack_message",
        platform=Platform.SLACK,
        channel_id=TEAM,
    )
    started = clock.now()
    report = await dispatcher.run_once()
    assert report.retried == 1
    waiting = await row(session_factory, row_id)
    assert waiting.status is OutboxStatus.PENDING
    assert waiting.not_before >= started + timedelta(seconds=2)
    clock.advance(timedelta(seconds=1.9))
    assert (await dispatcher.run_once()).claimed == 0
    await drain(dispatcher, session_factory, clock)
    [posted] = slack_api.recorder.messages_in(channel)
    assert posted.text == "a case for you"
    assert posted.blocks
    assert posted.blocks[0]["type"] == "section"
    assert posted.at >= started + timedelta(seconds=2)
    assert (await row(session_factory, row_id)).accepted_request_id == posted.ts


async def test_storm_every_message_exactly_once(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    line_api: LineApiStandin,
    slack_api: SlackApiStandin,
    line_storm: Storm,
    slack_storm: Storm,
) -> None:
    line_storm.rate = 0.3
    slack_storm.rate = 0.3
    users = [make_line_user_id(f"storm-{i}") for i in range(40)]
    channels = [make_slack_id("C", f"storm-{i}") for i in range(10)]
    for channel in channels:
        slack_api.add_channel(channel)
    expected_line: list[str] = []
    expected_slack: list[str] = []
    n = 0
    for round_ in range(5):
        for user in users:
            text = f"line-{n}"
            if round_ == 0 and n % 4 == 0:
                await add(
                    session_factory,
                    clock,
                    user,
                    text,
                    kind="reply",
                    reply_token=line_api.issue_reply_token(user, CHANNEL),
                    reply_token_expires_at=clock.now() + timedelta(seconds=60),
                )
            else:
                await add(session_factory, clock, user, text)
            expected_line.append(text)
            n += 1
    for _ in range(10):
        for channel in channels:
            text = f"slack-{n}"
            await add(
                session_factory,
                clock,
                channel,
                text,
                kind="slack_message",
                platform=Platform.SLACK,
                channel_id=TEAM,
            )
            expected_slack.append(text)
            n += 1
    assert len(expected_line) + len(expected_slack) == 300

    await drain(dispatcher, session_factory, clock)

    counts = await statuses(session_factory)
    assert counts["sent"] == 300, counts
    line_texts = Counter(t for d in line_api.recorder.deliveries for t in d.texts)
    assert sorted(line_texts) == sorted(expected_line)
    assert set(line_texts.values()) == {1}, [t for t, c in line_texts.items() if c > 1]
    slack_texts = Counter(m.text for m in slack_api.recorder.messages)
    assert sorted(slack_texts) == sorted(expected_slack)
    assert set(slack_texts.values()) == {1}
    # Order per recipient survived the storm.
    for user in users:
        texts = line_api.recorder.texts_to(user)
        assert texts == sorted(texts, key=lambda t: int(t.split("-")[1]))
    # No Slack retry came earlier than the Retry-After it was given.
    attempts: dict[str, list[tuple[datetime, int, float | None]]] = {}
    for text, at, status, retry_after in slack_storm.log:
        attempts.setdefault(text, []).append((at, status, retry_after))
    retried = 0
    for tries in attempts.values():
        for (at, status, retry_after), (next_at, _s, _r) in itertools.pairwise(tries):
            if status == 429:
                retried += 1
                assert retry_after is not None
                assert next_at - at >= timedelta(seconds=retry_after)
    assert retried > 10
    # Every push was counted once against the plan; replies were free.
    async with session_factory() as session:
        usage = await session.scalar(select(func.sum(PushUsage.pushes)))
    line_pushes = sum(1 for d in line_api.recorder.deliveries if d.endpoint == "push")
    assert usage == line_pushes


async def test_postgres_dispatchers_never_claim_one_row(
    backend: str, session_factory: Factory, clock: ManualClock
) -> None:
    if backend != "postgresql":
        pytest.skip("SKIP LOCKED is the PostgreSQL guarantee; SQLite runs one dispatcher")
    for i in range(20):
        await add(session_factory, clock, make_line_user_id(f"pg-{i}"), f"pg-{i}")
    async with session_factory() as first, session_factory() as second, first.begin():
        a = await store.claim(first, now=clock.now(), lease=timedelta(seconds=30), limit=12)
        async with second.begin():
            b = await store.claim(second, now=clock.now(), lease=timedelta(seconds=30), limit=12)
    ids_a = {m.id for m in a.messages}
    ids_b = {m.id for m in b.messages}
    assert len(ids_a) == 12
    assert len(ids_b) == 8
    assert not ids_a & ids_b


def test_clock_fixture_is_utc(clock: ManualClock) -> None:
    assert clock.now().tzinfo is UTC


async def test_run_dispatcher_loop_stops_on_request(
    container: Container, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    user = make_line_user_id("loop")
    row_id = await add(session_factory, clock, user, "from the loop")
    stop = asyncio.Event()
    task = asyncio.create_task(run_dispatcher(container, stop=stop))
    for _ in range(200):  # short real waits for HTTP only
        if (await row(session_factory, row_id)).status is OutboxStatus.SENT:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert line_api.recorder.texts_to(user) == ["from the loop"]


async def test_line_quota_and_its_consumption_are_two_gauges(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, line_api: LineApiStandin
) -> None:
    line_api.set_monthly_limit(500)
    user = make_line_user_id("quota")
    for n in range(3):
        await add(session_factory, clock, user, f"quota-{n}")
    await drain(dispatcher, session_factory, clock)
    await dispatcher.refresh_line_quota()
    metrics = dispatcher.metrics.registry
    default = {"channel": DEFAULT_CHANNEL}  # the national account's key
    assert metrics.get_sample_value("yorozu_line_push_quota", default) == 500
    assert metrics.get_sample_value("yorozu_line_push_consumption", default) == 3
