"""The Slack stand-in, over a real local port, with slack_sdk's AsyncWebClient and httpx."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from integrations.standins import (
    ServerThread,
    SlackApiStandin,
    create_slack_api,
    make_slack_id,
    sign_slack_body,
    slack_headers,
)

TOKEN = "xoxb-test-token"
CHANNEL = "C0PARTNERS1"
USER = "U0COORD0001"
TS_RE = re.compile(r"^\d{10}\.\d{6}$")


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
def slack(server: tuple[ServerThread, SwappableApp], clock: FakeClock) -> SlackApiStandin:
    standin = create_slack_api({TOKEN}, clock, channels={CHANNEL: "partners"})
    server[1].target = standin.app
    return standin


@pytest.fixture
def url(server: tuple[ServerThread, SwappableApp], slack: SlackApiStandin) -> str:
    return server[0].url


@pytest.fixture
def client(url: str) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=url + "/api/", timeout=5)


@pytest.fixture
async def http(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=5) as c:
        yield c


def modal(title: str = "相談の登録", **extra: Any) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "送信"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "メモ"},
                "element": {"type": "plain_text_input", "action_id": "note"},
            }
        ],
        **extra,
    }


# ----------------------------------------------------------------------------- auth
async def test_auth(url: str, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert me["ok"] is True
    assert me["user_id"]
    bad = AsyncWebClient(token="xoxb-wrong", base_url=url + "/api/")
    with pytest.raises(SlackApiError) as invalid:
        await bad.auth_test()
    assert invalid.value.response["error"] == "invalid_auth"
    assert invalid.value.response.status_code == 200
    anonymous = AsyncWebClient(base_url=url + "/api/")
    with pytest.raises(SlackApiError) as missing:
        await anonymous.auth_test()
    assert missing.value.response["error"] == "not_authed"


# ----------------------------------------------------------------------------- messages
async def test_post_update_permalink_react(client: AsyncWebClient, slack: SlackApiStandin) -> None:
    first = await client.chat_postMessage(channel=CHANNEL, text="新しい相談があります")
    second = await client.chat_postMessage(channel="#partners", text="2件目", thread_ts=first["ts"])
    assert TS_RE.match(first["ts"])
    assert first["ts"] == "1775012400.000100"
    assert second["ts"] > first["ts"]
    assert second["channel"] == CHANNEL
    await client.chat_update(
        channel=CHANNEL,
        ts=first["ts"],
        text="担当: 佐藤",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*担当*: 佐藤"}}],
    )
    link = await client.chat_getPermalink(channel=CHANNEL, message_ts=first["ts"])
    assert link["permalink"].endswith("/p1775012400000100")
    await client.reactions_add(channel=CHANNEL, timestamp=first["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError) as twice:
        await client.reactions_add(channel=CHANNEL, timestamp=first["ts"], name="white_check_mark")
    assert twice.value.response["error"] == "already_reacted"
    messages = slack.recorder.messages_in(CHANNEL)
    assert [m.text for m in messages] == ["担当: 佐藤", "2件目"]
    assert messages[0].edits == 1
    assert messages[0].reactions == ["white_check_mark"]
    assert slack.recorder.thread(CHANNEL, first["ts"])[0].text == "2件目"
    assert [u.text for u in slack.recorder.updates_in(CHANNEL)] == ["担当: 佐藤"]


async def test_message_errors(client: AsyncWebClient, slack: SlackApiStandin) -> None:
    with pytest.raises(SlackApiError) as nowhere:
        await client.chat_postMessage(channel="#no-such-channel", text="x")
    assert nowhere.value.response["error"] == "channel_not_found"
    too_many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError) as blocks:
        await client.chat_postMessage(channel=CHANNEL, text="x", blocks=too_many)
    assert blocks.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as unknown:
        await client.chat_postMessage(channel=CHANNEL, text="x", blocks=[{"type": "banner"}])
    assert unknown.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as missing:
        await client.chat_update(channel=CHANNEL, ts="1700000000.000100", text="x")
    assert missing.value.response["error"] == "message_not_found"
    assert slack.recorder.messages == []
    await client.chat_postMessage(channel=CHANNEL, text="ok", blocks=[{"type": "divider"}] * 50)


async def test_dm_ephemeral_and_users(client: AsyncWebClient, slack: SlackApiStandin) -> None:
    slack.add_user(USER, "sato", real_name="佐藤 花子", email="sato@example.jp")
    info = await client.users_info(user=USER)
    assert info["user"]["real_name"] == "佐藤 花子"
    assert info["user"]["tz"] == "Asia/Tokyo"
    opened = await client.conversations_open(users=USER)
    dm = opened["channel"]["id"]
    assert dm == slack.dm_channel_for(USER)
    await client.chat_postMessage(channel=dm, text="DM です")
    await client.chat_postMessage(channel=USER, text="ユーザー宛て")
    assert [m.text for m in slack.recorder.messages_in(dm)] == ["DM です", "ユーザー宛て"]
    eph = await client.chat_postEphemeral(channel=CHANNEL, user=USER, text="あなただけに")
    assert TS_RE.match(eph["message_ts"])
    assert [e.text for e in slack.recorder.ephemerals_for(USER)] == ["あなただけに"]
    with pytest.raises(SlackApiError) as nobody:
        await client.users_info(user="not-a-user")
    assert nobody.value.response["error"] == "user_not_found"


async def test_form_encoded_call_with_token_in_body(
    http: httpx.AsyncClient, slack: SlackApiStandin
) -> None:
    resp = await http.post(
        "/api/chat.postMessage",
        data={
            "token": TOKEN,
            "channel": CHANNEL,
            "text": "form",
            "blocks": '[{"type": "divider"}]',
        },
    )
    assert resp.status_code == 200
    assert resp.json()["ok"] is True
    assert slack.recorder.messages_in(CHANNEL)[0].blocks == [{"type": "divider"}]
    unknown = await http.post("/api/chat.teleport", data={"token": TOKEN})
    assert unknown.json() == {"ok": False, "error": "unknown_method"}


# ----------------------------------------------------------------------------- rate limits, faults
async def test_post_message_rate_limit_answers_429_with_retry_after(
    client: AsyncWebClient, slack: SlackApiStandin, clock: FakeClock
) -> None:
    slack.set_rate_limit("chat.postMessage", per_second=1, burst=2)
    await client.chat_postMessage(channel=CHANNEL, text="1")
    await client.chat_postMessage(channel=CHANNEL, text="2")
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel=CHANNEL, text="3")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    assert limited.value.response["error"] == "ratelimited"
    # The limit is per channel: another channel is still fine.
    await client.chat_postMessage(channel="C0OTHER0001", text="elsewhere")
    clock.advance(1)
    await client.chat_postMessage(channel=CHANNEL, text="3")
    assert [m.text for m in slack.recorder.messages_in(CHANNEL)] == ["1", "2", "3"]


async def test_fail_next_and_delay(
    url: str, client: AsyncWebClient, slack: SlackApiStandin
) -> None:
    slack.fail_next(1, 429, retry_after=7)
    with pytest.raises(SlackApiError) as scripted:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert scripted.value.response.status_code == 429
    assert scripted.value.response.headers["Retry-After"] == "7"
    slack.fail_next(1, 500, method="chat.postMessage")
    await client.auth_test()  # other methods are unaffected
    with pytest.raises(SlackApiError) as server_error:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert server_error.value.response.status_code == 500
    slack.fail_next(1, 200, error="fatal_error")
    with pytest.raises(SlackApiError) as soft:
        await client.chat_postMessage(channel=CHANNEL, text="x")
    assert soft.value.response["error"] == "fatal_error"
    assert slack.recorder.messages == []
    slack.delay(0.5, count=1)
    impatient = AsyncWebClient(token=TOKEN, base_url=url + "/api/", timeout=0.1)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await impatient.chat_postMessage(channel=CHANNEL, text="slow")
    assert [m.text for m in slack.recorder.messages_in(CHANNEL)] == ["slow"]
    assert [r.status for r in slack.recorder.calls("chat.postMessage")][:3] == [429, 500, 200]


# ----------------------------------------------------------------------------- views
async def test_views_open_trigger_is_single_use_and_expires(
    client: AsyncWebClient, slack: SlackApiStandin, clock: FakeClock
) -> None:
    trigger = slack.issue_trigger_id(USER)
    opened = await client.views_open(trigger_id=trigger, view=modal(private_metadata="case=42"))
    assert opened["view"]["id"].startswith("V")
    assert opened["view"]["private_metadata"] == "case=42"
    with pytest.raises(SlackApiError) as reused:
        await client.views_open(trigger_id=trigger, view=modal())
    assert reused.value.response["error"] == "exchanged_trigger_id"
    late = slack.issue_trigger_id(USER)
    clock.advance(3.5)
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=late, view=modal())
    assert expired.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as invented:
        await client.views_open(trigger_id="123.456.abc", view=modal())
    assert invented.value.response["error"] == "invalid_trigger_id"
    assert len(slack.recorder.views_opened_for(USER)) == 1


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        pytest.param(modal("あ" * 25), "/view/title/text", id="title-25"),
        pytest.param(
            modal(private_metadata="x" * 3001), "/view/private_metadata", id="metadata-3001"
        ),
        pytest.param(
            {**modal(), "blocks": [{"type": "divider"}] * 101}, "/view/blocks", id="101-blocks"
        ),
        pytest.param({**modal(), "submit": None}, "/view/submit", id="input-without-submit"),
    ],
)
async def test_invalid_modals_are_refused(
    client: AsyncWebClient, slack: SlackApiStandin, view: dict[str, Any], pointer: str
) -> None:
    if view.get("submit", "") is None:
        del view["submit"]
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=slack.issue_trigger_id(USER), view=view)
    assert refused.value.response["error"] == "invalid_arguments"
    messages = refused.value.response["response_metadata"]["messages"]
    assert any(pointer in m for m in messages)
    assert slack.recorder.views == []


async def test_title_of_24_characters_is_fine(
    client: AsyncWebClient, slack: SlackApiStandin
) -> None:
    await client.views_open(trigger_id=slack.issue_trigger_id(USER), view=modal("あ" * 24))


async def test_views_update_push_publish(client: AsyncWebClient, slack: SlackApiStandin) -> None:
    opened = await client.views_open(trigger_id=slack.issue_trigger_id(USER), view=modal())
    view_id = opened["view"]["id"]
    updated = await client.views_update(
        view_id=view_id, view=modal("更新"), hash=opened["view"]["hash"]
    )
    assert updated["view"]["title"]["text"] == "更新"
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=view_id, view=modal(), hash=opened["view"]["hash"])
    assert stale.value.response["error"] == "hash_conflict"
    await client.views_push(trigger_id=slack.issue_trigger_id(USER), view=modal("2"))
    await client.views_push(trigger_id=slack.issue_trigger_id(USER), view=modal("3"))
    with pytest.raises(SlackApiError) as deep:
        await client.views_push(trigger_id=slack.issue_trigger_id(USER), view=modal("4"))
    assert deep.value.response["error"] == "push_limit_reached"
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "今日の予定"}}],
    }
    await client.views_publish(user_id=USER, view=home)
    await client.views_publish(user_id=USER, view={**home, "blocks": []})
    published = slack.recorder.views_published_for(USER)
    assert len(published) == 2
    assert published[-1]["blocks"] == []
    with pytest.raises(SlackApiError) as not_home:
        await client.views_publish(user_id=USER, view=modal())
    assert not_home.value.response["error"] == "invalid_arguments"


# ----------------------------------------------------------------------------- signing
def test_slack_headers_are_accepted_by_signature_verifier() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    body = b"token=xyz&team_id=T1&command=%2Fyorozu&text=%E7%9B%B8%E8%AB%87"
    now = int(time.time())
    headers = slack_headers(secret, body, now)
    verifier = SignatureVerifier(secret)
    assert verifier.is_valid_request(body, headers)
    assert verifier.is_valid(body, str(now), headers["X-Slack-Signature"])
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    old = slack_headers(secret, body, now - 600)
    assert not verifier.is_valid_request(body, old)
    assert sign_slack_body(secret, body, now) == headers["X-Slack-Signature"]


def test_make_slack_id_is_deterministic() -> None:
    assert make_slack_id("U", "sato") == make_slack_id("U", "sato")
    assert re.match(r"^U[0-9A-F]{10}$", make_slack_id("U"))


async def test_ephemerals_are_checked_like_any_message(
    client: AsyncWebClient, slack: SlackApiStandin
) -> None:
    """chat.postEphemeral refuses what Slack refuses: bad blocks, no text, no such channel
    or user; nothing is recorded for a refused call."""
    slack.add_user(USER, "sato")
    refusals = {
        "invalid_blocks": {"channel": CHANNEL, "user": USER, "blocks": [{"type": "nonsense"}]},
        "no_text": {"channel": CHANNEL, "user": USER},
        "channel_not_found": {"channel": "", "user": USER, "text": "x"},
        "user_not_found": {"channel": CHANNEL, "user": "someone", "text": "x"},
    }
    for error, args in refusals.items():
        with pytest.raises(SlackApiError) as refused:
            await client.api_call("chat.postEphemeral", json=args)
        assert refused.value.response["error"] == error
    assert slack.recorder.ephemerals_for(USER) == []
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*あなただけに*"}}]
    await client.chat_postEphemeral(channel=CHANNEL, user=USER, text="あなただけに", blocks=blocks)
    (shown,) = slack.recorder.ephemerals_for(USER)
    assert (shown.channel, shown.text, shown.blocks) == (CHANNEL, "あなただけに", blocks)
