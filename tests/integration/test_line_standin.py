"""The LINE stand-in, over a real local port, with httpx and line-bot-sdk v3."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiException,
    AsyncApiClient,
    AsyncMessagingApi,
    AsyncMessagingApiBlob,
    ButtonsTemplate,
    Configuration,
    DatetimePickerAction,
    FlexBox,
    FlexBubble,
    FlexMessage,
    FlexText,
    MessageAction,
    MulticastRequest,
    PostbackAction,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    RichMenuArea,
    RichMenuBounds,
    RichMenuRequest,
    RichMenuSize,
    ShowLoadingAnimationRequest,
    TemplateMessage,
    TextMessage,
    URIAction,
)
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import MessageEvent, TextMessageContent

from integrations.standins import (
    LineApiStandin,
    ServerThread,
    create_line_api,
    line_webhook_body,
    make_line_user_id,
    serve,
    sign_line_body,
)

TOKEN = "test-channel-access-token"
CHANNEL_ID = "1234567890"
ALICE = make_line_user_id("alice")
BOB = make_line_user_id("bob")


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class SwappableApp:
    """One server per module; each test gets a fresh stand-in behind it."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await self.target(scope, receive, send)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, SwappableApp]]:
    app = SwappableApp()
    with ServerThread(app) as running:
        yield running, app


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def line(server: tuple[ServerThread, SwappableApp], clock: FakeClock) -> LineApiStandin:
    standin = create_line_api({TOKEN: CHANNEL_ID}, clock)
    server[1].target = standin.app
    return standin


@pytest.fixture
def url(server: tuple[ServerThread, SwappableApp], line: LineApiStandin) -> str:
    return server[0].url


@pytest.fixture
async def http(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ) as client:
        yield client


@pytest.fixture
async def sdk(url: str) -> AsyncIterator[tuple[AsyncMessagingApi, AsyncMessagingApiBlob]]:
    config = Configuration(host=url, access_token=TOKEN)
    async with AsyncApiClient(config) as client:
        yield AsyncMessagingApi(client), AsyncMessagingApiBlob(client)


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": t, **extra}


def png(width: int, height: int) -> bytes:
    """A real (grey) PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------- auth
async def test_bearer_token_is_required(url: str, line: LineApiStandin) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        missing = await client.get("/v2/bot/message/quota")
        wrong = await client.get("/v2/bot/message/quota", headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 401
    assert "Authorization header required" in missing.json()["message"]
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"message"}
    assert [r.status for r in line.recorder.requests] == [401, 401]


# ----------------------------------------------------------------------------- reply
async def test_reply_token_works_once(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, _ = sdk
    token = line.issue_reply_token(ALICE)
    resp = await api.reply_message(
        ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="こんにちは")])
    )
    assert len(resp.sent_messages) == 1
    with pytest.raises(ApiException) as refused:
        await api.reply_message(
            ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="again")])
        )
    assert refused.value.status == 400
    assert refused.value.body is not None
    assert "Invalid reply token" in refused.value.body
    assert line.recorder.texts_to(ALICE) == ["こんにちは"]
    assert line.recorder.replies_to(ALICE)[0].endpoint == "reply"


async def test_reply_token_expires_after_a_minute(
    http: httpx.AsyncClient, line: LineApiStandin, clock: FakeClock
) -> None:
    fresh = line.issue_reply_token(ALICE)
    stale = line.issue_reply_token(ALICE)
    clock.advance(59)
    ok = await http.post(
        "/v2/bot/message/reply", json={"replyToken": fresh, "messages": [text("in time")]}
    )
    clock.advance(2)
    late = await http.post(
        "/v2/bot/message/reply", json={"replyToken": stale, "messages": [text("late")]}
    )
    assert ok.status_code == 200
    assert late.status_code == 400
    assert late.json() == {"message": "Invalid reply token"}
    assert line.recorder.texts_to(ALICE) == ["in time"]


async def test_retry_key_is_refused_on_reply(http: httpx.AsyncClient, line: LineApiStandin) -> None:
    token = line.issue_reply_token(ALICE)
    resp = await http.post(
        "/v2/bot/message/reply",
        json={"replyToken": token, "messages": [text("x")]},
        headers={"X-Line-Retry-Key": str(uuid.uuid4())},
    )
    assert resp.status_code == 400
    assert line.recorder.deliveries == []


# ----------------------------------------------------------------------------- push
async def test_repeated_retry_key_answers_409_and_delivers_once(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, _ = sdk
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=ALICE, messages=[TextMessage(text="予約を受け付けました")])
    first = await api.push_message_with_http_info(request, x_line_retry_key=key)
    assert first.status_code == 200
    first_id = first.headers["x-line-request-id"]
    with pytest.raises(ApiException) as again:
        await api.push_message_with_http_info(request, x_line_retry_key=key)
    assert again.value.status == 409
    assert again.value.headers["x-line-accepted-request-id"] == first_id
    assert len(line.recorder.pushes_to(ALICE)) == 1
    assert line.recorder.pushes_to(ALICE)[0].retry_key == key


async def test_retry_key_must_be_a_uuid(http: httpx.AsyncClient, line: LineApiStandin) -> None:
    resp = await http.post(
        "/v2/bot/message/push",
        json={"to": ALICE, "messages": [text("x")]},
        headers={"X-Line-Retry-Key": "not-a-uuid"},
    )
    assert resp.status_code == 400
    assert line.recorder.deliveries == []


async def test_retry_key_is_forgotten_after_24_hours(
    http: httpx.AsyncClient, line: LineApiStandin, clock: FakeClock
) -> None:
    key = str(uuid.uuid4())
    body = {"to": ALICE, "messages": [text("x")]}
    assert (
        await http.post("/v2/bot/message/push", json=body, headers={"X-Line-Retry-Key": key})
    ).status_code == 200
    clock.advance(23 * 3600)
    assert (
        await http.post("/v2/bot/message/push", json=body, headers={"X-Line-Retry-Key": key})
    ).status_code == 409
    clock.advance(2 * 3600)
    assert (
        await http.post("/v2/bot/message/push", json=body, headers={"X-Line-Retry-Key": key})
    ).status_code == 200
    assert len(line.recorder.pushes_to(ALICE)) == 2


# ----------------------------------------------------------------------------- schema
QR_ITEM = {"type": "action", "action": {"type": "message", "label": "はい", "text": "はい"}}


@pytest.mark.parametrize(
    ("messages", "prop"),
    [
        pytest.param(
            [text("x", quickReply={"items": [QR_ITEM] * 14})],
            "messages[0].quickReply.items",
            id="14-quick-replies",
        ),
        pytest.param([text("x")] * 6, "messages", id="6-messages"),
        pytest.param([{"type": "hologram", "text": "x"}], "messages[0].type", id="unknown-type"),
        pytest.param([text("あ" * 5001)], "messages[0].text", id="text-5001"),
        pytest.param([{"type": "text"}], "messages[0].text", id="text-missing"),
        pytest.param([], "messages", id="no-messages"),
        pytest.param(
            [
                text(
                    "x",
                    quickReply={
                        "items": [
                            {
                                "type": "action",
                                "action": {"type": "postback", "label": "l", "data": "d" * 301},
                            }
                        ]
                    },
                )
            ],
            "messages[0].quickReply.items[0].action.data",
            id="postback-data-301",
        ),
        pytest.param(
            [
                text(
                    "x",
                    quickReply={
                        "items": [{"type": "action", "action": {"type": "teleport", "label": "l"}}]
                    },
                )
            ],
            "messages[0].quickReply.items[0].action.type",
            id="unknown-action",
        ),
        pytest.param(
            [{"type": "sticker", "packageId": "1"}],
            "messages[0].stickerId",
            id="sticker-without-id",
        ),
    ],
)
async def test_schema_violations_answer_400(
    http: httpx.AsyncClient, line: LineApiStandin, messages: list[dict[str, Any]], prop: str
) -> None:
    resp = await http.post("/v2/bot/message/push", json={"to": ALICE, "messages": messages})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["message"] == f"The request body has {len(body['details'])} error(s)"
    assert prop in [d["property"] for d in body["details"]]
    assert all(set(d) == {"message", "property"} for d in body["details"])
    assert line.recorder.deliveries == []
    assert line.recorder.requests[-1].status == 400


async def test_sdk_built_rich_messages_pass_validation(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, _ = sdk
    quick = QuickReply(
        items=[
            QuickReplyItem(
                action=PostbackAction(label="予約", data="a=book&id=1", display_text="予約")
            ),
            QuickReplyItem(
                action=DatetimePickerAction(
                    label="日時", data="a=pick", mode="datetime", initial="2026-04-01T10:00"
                )
            ),
            QuickReplyItem(action=MessageAction(label="いいえ", text="いいえ")),
        ]
    )
    messages = [
        TemplateMessage(
            alt_text="選んでください",
            template=ButtonsTemplate(
                text="相談の種類",
                actions=[
                    URIAction(label="詳細", uri="https://example.com/"),
                    MessageAction(label="A", text="A"),
                ],
            ),
        ),
        FlexMessage(
            alt_text="予約確認",
            contents=FlexBubble(
                body=FlexBox(layout="vertical", contents=[FlexText(text="4月1日 10:00")])
            ),
        ),
        TextMessage(text="いかがですか", quick_reply=quick),
    ]
    await api.push_message(PushMessageRequest(to=ALICE, messages=messages))
    delivered = line.recorder.pushes_to(ALICE)[0].messages
    assert [m["type"] for m in delivered] == ["template", "flex", "text"]
    assert line.recorder.texts_to(ALICE) == ["いかがですか"]


# ----------------------------------------------------------------------------- quota, blocks
async def test_monthly_quota_answers_429(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, _ = sdk
    line.set_monthly_limit(3)
    await api.push_message(
        PushMessageRequest(to=ALICE, messages=[TextMessage(text="1"), TextMessage(text="2")])
    )
    with pytest.raises(ApiException) as over:
        await api.push_message(
            PushMessageRequest(to=ALICE, messages=[TextMessage(text="3"), TextMessage(text="4")])
        )
    assert over.value.status == 429
    assert over.value.body is not None
    assert "You have reached your monthly limit." in over.value.body
    assert over.value.headers.get("Retry-After") is None
    quota = await api.get_message_quota()
    used = await api.get_message_quota_consumption()
    assert (quota.type, quota.value, used.total_usage) == ("limited", 3, 2)
    # Replies are free.
    token = line.issue_reply_token(ALICE)
    await api.reply_message(
        ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="r")])
    )
    assert line.usage(CHANNEL_ID) == 2


async def test_push_to_blocked_user_answers_200_but_delivers_nothing(
    http: httpx.AsyncClient, line: LineApiStandin
) -> None:
    line.block(BOB)
    resp = await http.post("/v2/bot/message/push", json={"to": BOB, "messages": [text("hi")]})
    multi = await http.post(
        "/v2/bot/message/multicast", json={"to": [ALICE, BOB], "messages": [text("all")]}
    )
    assert resp.status_code == 200
    assert "sentMessages" in resp.json()
    assert multi.status_code == 200
    assert line.recorder.pushes_to(BOB) == []
    assert line.recorder.texts_to(ALICE) == ["all"]
    assert [d.to for d in line.recorder.undelivered] == [BOB, BOB]
    assert (await http.get(f"/v2/bot/profile/{BOB}")).status_code == 404


async def test_push_to_malformed_user_id_is_refused(http: httpx.AsyncClient) -> None:
    resp = await http.post("/v2/bot/message/push", json={"to": "alice", "messages": [text("x")]})
    assert resp.status_code == 400


# ----------------------------------------------------------------------------- faults
async def test_fail_next_scripts_errors_then_recovers(
    http: httpx.AsyncClient, line: LineApiStandin
) -> None:
    line.fail_next(2, 500)
    body = {"to": ALICE, "messages": [text("x")]}
    statuses = [(await http.post("/v2/bot/message/push", json=body)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert len(line.recorder.pushes_to(ALICE)) == 1
    assert [r.status for r in line.recorder.requests] == [500, 500, 200]


async def test_500_after_acceptance_then_retry_gets_409(
    http: httpx.AsyncClient, line: LineApiStandin
) -> None:
    line.fail_next(1, 500, deliver=True, path="/v2/bot/message/push")
    key = str(uuid.uuid4())
    body = {"to": ALICE, "messages": [text("once")]}
    first = await http.post("/v2/bot/message/push", json=body, headers={"X-Line-Retry-Key": key})
    retry = await http.post("/v2/bot/message/push", json=body, headers={"X-Line-Retry-Key": key})
    assert (first.status_code, retry.status_code) == (500, 409)
    assert retry.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert line.recorder.texts_to(ALICE) == ["once"]


async def test_rate_limit_429_has_no_retry_after(
    http: httpx.AsyncClient, line: LineApiStandin, clock: FakeClock
) -> None:
    line.set_rate_limit("push", per_second=1, burst=2)
    body = {"to": ALICE, "messages": [text("x")]}
    statuses = [(await http.post("/v2/bot/message/push", json=body)).status_code for _ in range(3)]
    limited = line.recorder.requests[-1]
    assert statuses == [200, 200, 429]
    assert limited.response == {"message": "The API rate limit has been exceeded. Try again later."}
    clock.advance(1)
    assert (await http.post("/v2/bot/message/push", json=body)).status_code == 200
    line.fail_next(1, 429)
    scripted = await http.post("/v2/bot/message/push", json=body)
    assert scripted.status_code == 429
    assert "retry-after" not in scripted.headers


async def test_delay_times_out_the_client_but_the_push_lands(
    url: str, line: LineApiStandin
) -> None:
    line.delay(0.5, count=1)
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=0.1
    ) as client:
        with pytest.raises(httpx.TimeoutException):
            await client.post(
                "/v2/bot/message/push", json={"to": ALICE, "messages": [text("slow")]}
            )
    assert line.recorder.texts_to(ALICE) == ["slow"]


# ----------------------------------------------------------------------------- others
async def test_profile_and_loading_animation(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, _ = sdk
    line.set_profile(ALICE, "山田商店")
    profile = await api.get_profile(ALICE)
    assert (profile.display_name, profile.user_id) == ("山田商店", ALICE)
    await api.show_loading_animation(ShowLoadingAnimationRequest(chat_id=ALICE, loading_seconds=10))
    assert [(c, s) for c, s, _ in line.recorder.loading_animations] == [(ALICE, 10)]
    with pytest.raises(ApiException) as bad:
        await api.show_loading_animation(
            ShowLoadingAnimationRequest(chat_id=ALICE, loading_seconds=7)
        )
    assert bad.value.status == 400


async def test_multicast_through_the_sdk(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, _ = sdk
    await api.multicast(MulticastRequest(to=[ALICE, BOB], messages=[TextMessage(text="お知らせ")]))
    assert line.recorder.texts_to(ALICE) == line.recorder.texts_to(BOB) == ["お知らせ"]
    assert line.usage(CHANNEL_ID) == 2


async def test_rich_menu_lifecycle(
    sdk: tuple[AsyncMessagingApi, AsyncMessagingApiBlob], line: LineApiStandin
) -> None:
    api, blob = sdk
    request = RichMenuRequest(
        size=RichMenuSize(width=2500, height=843),
        selected=True,
        name="owner-menu",
        chat_bar_text="メニュー",
        areas=[
            RichMenuArea(
                bounds=RichMenuBounds(x=0, y=0, width=1250, height=843),
                action=PostbackAction(data="a=book"),
            )
        ],
    )
    created = await api.create_rich_menu(request)
    menu_id = created.rich_menu_id
    with pytest.raises(ApiException) as no_image:
        await api.link_rich_menu_id_to_user(ALICE, menu_id)
    assert no_image.value.status == 400
    with pytest.raises(ApiException) as wrong_size:
        await blob.set_rich_menu_image(
            menu_id, png(800, 270), _headers={"Content-Type": "image/png"}
        )
    assert wrong_size.value.status == 400
    await blob.set_rich_menu_image(menu_id, png(2500, 843), _headers={"Content-Type": "image/png"})
    await api.link_rich_menu_id_to_user(ALICE, menu_id)
    await api.set_default_rich_menu(menu_id)
    listed = await api.get_rich_menu_list()
    assert [m.rich_menu_id for m in listed.richmenus] == [menu_id]
    assert line.rich_menu_for(ALICE) == menu_id
    assert (await api.get_rich_menu_id_of_user(ALICE)).rich_menu_id == menu_id
    await api.delete_rich_menu(menu_id)
    assert line.rich_menu_ids() == []
    assert line.rich_menu_for(ALICE) is None
    with pytest.raises(ApiException) as gone:
        await api.get_rich_menu(menu_id)
    assert gone.value.status == 404


async def test_rich_menu_with_too_long_chat_bar_text_is_refused(http: httpx.AsyncClient) -> None:
    body = {
        "size": {"width": 2500, "height": 843},
        "selected": False,
        "name": "m",
        "chatBarText": "あ" * 15,
        "areas": [],
    }
    resp = await http.post("/v2/bot/richmenu", json=body)
    assert resp.status_code == 400
    assert resp.json()["details"][0]["property"] == "chatBarText"


# ----------------------------------------------------------------------------- signing
def _event(user_id: str, message: str) -> dict[str, Any]:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": 1775000000000,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": "01HZX3V0000000000000000000",
        "deliveryContext": {"isRedelivery": False},
        "replyToken": "abc",
        "message": {"id": "1", "type": "text", "text": message, "quoteToken": "q"},
    }


@pytest.mark.parametrize("secret", ["channel-secret", "秘密"])
def test_sign_line_body_is_accepted_by_webhook_parser(secret: str) -> None:
    body = line_webhook_body("Udestination", [_event(ALICE, "予約したい")])
    parser = WebhookParser(secret)
    events = parser.parse(body.decode(), sign_line_body(secret, body))
    assert isinstance(events, list)
    event = events[0]
    assert isinstance(event, MessageEvent)
    assert isinstance(event.message, TextMessageContent)
    assert event.message.text == "予約したい"
    with pytest.raises(InvalidSignatureError):
        parser.parse(body.decode(), sign_line_body("other", body))


def test_clock_must_be_aware() -> None:
    naive: Callable[[], datetime] = lambda: datetime(2026, 1, 1)  # noqa: E731
    standin = create_line_api(None, naive)
    with pytest.raises(ValueError, match="aware"):
        standin.issue_reply_token(ALICE)


def test_serve_helper_reset_and_listener() -> None:
    standin = create_line_api({TOKEN: CHANNEL_ID})
    seen: list[str] = []
    standin.recorder.add_listener(lambda d: seen.append(d.to))
    with serve(standin.app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        resp = httpx.post(
            base_url + "/v2/bot/message/push",
            json={"to": ALICE, "messages": [text("x")]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert resp.status_code == 200
    assert seen == [ALICE]
    standin.reset()
    assert standin.recorder.deliveries == []
    assert standin.usage(CHANNEL_ID) == 0
