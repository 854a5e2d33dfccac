"""A Slack post goes out exactly once (issue 18, section 1), against the real Slack stand-in.

Each post carries its outbox id in message metadata. When an attempt may have gone out
without our hearing of it (the answer was lost, it hung past the time-out, a 5xx came back,
the dispatcher died holding it), the retry first looks in the channel's history and records
the message it finds instead of posting again; updates then target that message.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models.outbox import OutboxMessage
from core.db.session import unit_of_work
from core.domain.enums import OutboxStatus, Platform
from core.i18n import Text
from core.messages import OutgoingMessage, encode_message
from core.outbox import store
from integrations.slack.client import OUTBOX_EVENT_TYPE, SlackSender, outbox_metadata
from integrations.standins import ServerThread, SlackApiStandin, create_slack_api, make_slack_id
from tests.support import drain_outbox, outbox_row
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.settings import DEV_SLACK_BOT_TOKEN, load_settings

Factory = async_sessionmaker[AsyncSession]
TEAM = "T0STANDIN1"
CHANNEL = make_slack_id("C", "exactly-once")


@pytest.fixture
def slack_api(clock: ManualClock) -> SlackApiStandin:
    standin = create_slack_api([DEV_SLACK_BOT_TOKEN], clock=clock.now, team_id=TEAM)
    standin.add_channel(CHANNEL, "intake")
    return standin


@pytest.fixture
def slack_server(slack_api: SlackApiStandin) -> Iterator[ServerThread]:
    with ServerThread(slack_api.app) as server:
        yield server


@pytest.fixture
async def dispatcher(
    engine: AsyncEngine,
    session_factory: Factory,
    clock: ManualClock,
    database_url: str,
    slack_server: ServerThread,
) -> AsyncIterator[Dispatcher]:
    settings = load_settings(
        database_url=database_url,
        slack_api_base_url=slack_server.url + "/api/",
        send_timeout_seconds=1,
    )
    container = Container(
        settings=settings, clock=clock, engine=engine, session_factory=session_factory
    )
    d = Dispatcher(container, rng=random.Random(7))
    try:
        yield d
    finally:
        await d.aclose()


def card(value: str) -> OutgoingMessage:
    return OutgoingMessage(texts=(Text("common.verbatim", value=value),))


async def add_card(factory: Factory, clock: ManualClock, key: str, **raw: str) -> int:
    async with unit_of_work(factory) as session:
        if raw:
            row = await store.add_raw(
                session,
                platform=Platform.SLACK,
                channel_id=TEAM,
                recipient=CHANNEL,
                payload={"channel": CHANNEL, **raw},
                kind="slack_message",
                idempotency_key=key,
                now=clock.now(),
            )
        else:
            row = await store.add_message(
                session,
                platform=Platform.SLACK,
                channel_id=TEAM,
                recipient=CHANNEL,
                message=card(key),
                kind="slack_message",
                idempotency_key=key,
                now=clock.now(),
            )
        assert row is not None
        return row


async def add_update(factory: Factory, clock: ManualClock, key: str, value: str) -> None:
    async with unit_of_work(factory) as session:
        await store.add_raw(
            session,
            platform=Platform.SLACK,
            channel_id=TEAM,
            recipient=CHANNEL,
            payload={"channel": CHANNEL, "ts_ref": key, "messages": [encode_message(card(value))]},
            kind="slack_update",
            idempotency_key=f"{key}:claimed",
            now=clock.now(),
        )


async def row(factory: Factory, row_id: int) -> OutboxMessage:
    found: OutboxMessage = await outbox_row(factory, row_id)
    return found


async def drain(dispatcher: Dispatcher, factory: Factory, clock: ManualClock) -> None:
    await drain_outbox(dispatcher, factory, clock, step=timedelta(seconds=30))


def checks(dispatcher: Dispatcher, found: str) -> float:
    value = dispatcher.metrics.registry.get_sample_value(
        "yorozu_slack_history_checks_total", {"found": found}
    )
    return value or 0.0


async def test_every_post_carries_its_outbox_id_and_history_returns_it(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    row_id = await add_card(session_factory, clock, "case:1:card")
    await drain(dispatcher, session_factory, clock)
    [posted] = slack_api.recorder.messages_in(CHANNEL)
    assert posted.metadata == {
        "event_type": OUTBOX_EVENT_TYPE,
        "event_payload": {"outbox_id": row_id},
    }
    client = dispatcher.slack.client
    plain = await client.conversations_history(channel=CHANNEL)
    assert "metadata" not in plain["messages"][0]
    full = await client.conversations_history(channel=CHANNEL, include_all_metadata=True)
    assert full["messages"][0]["metadata"]["event_payload"] == {"outbox_id": row_id}
    assert checks(dispatcher, "true") == checks(dispatcher, "false") == 0  # a first attempt


@pytest.mark.parametrize("mode", ["drop", "timeout"])
async def test_a_post_whose_answer_was_lost_is_found_not_posted_again(
    dispatcher: Dispatcher,
    session_factory: Factory,
    clock: ManualClock,
    slack_api: SlackApiStandin,
    mode: str,
) -> None:
    row_id = await add_card(session_factory, clock, "case:2:card")
    await add_update(session_factory, clock, "case:2:card", "claimed by CO")
    slack_api.lose_answers(1.0, mode, hang=3)
    report = await dispatcher.run_once()
    assert report.retried == 1
    assert (await row(session_factory, row_id)).first_attempt_at == clock.now()
    slack_api.clear_faults()
    await drain(dispatcher, session_factory, clock)
    [posted] = slack_api.recorder.messages_in(CHANNEL)
    assert len(slack_api.recorder.calls("chat.postMessage")) == 1
    assert (await row(session_factory, row_id)).accepted_request_id == posted.ts
    assert checks(dispatcher, "true") == 1
    [update] = slack_api.recorder.updates_in(CHANNEL)
    assert update.ts == posted.ts
    assert slack_api.message(CHANNEL, posted.ts).text == "claimed by CO"  # type: ignore[union-attr]


async def test_a_post_refused_by_a_5xx_before_it_was_made_is_posted_after_looking(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    row_id = await add_card(session_factory, clock, "case:3:card")
    slack_api.fail_next(1, 503, method="chat.postMessage")
    await drain(dispatcher, session_factory, clock)
    [posted] = slack_api.recorder.messages_in(CHANNEL)
    assert (await row(session_factory, row_id)).accepted_request_id == posted.ts
    assert checks(dispatcher, "false") == 1
    assert checks(dispatcher, "true") == 0


async def test_a_rate_limited_post_is_retried_without_a_look_up(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    await add_card(session_factory, clock, "case:4:card")
    slack_api.fail_next(1, 429, retry_after=1, method="chat.postMessage")
    await drain(dispatcher, session_factory, clock)
    assert len(slack_api.recorder.messages_in(CHANNEL)) == 1
    assert not slack_api.recorder.calls("conversations.history")


async def test_a_dispatcher_killed_between_send_and_record_is_not_doubled(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    row_id = await add_card(session_factory, clock, "case:5:card")
    # A dispatcher claims the row and posts it, then dies before recording anything.
    async with unit_of_work(session_factory) as session:
        claimed = await store.claim(session, now=clock.now(), lease=timedelta(seconds=30))
    [message] = claimed.messages
    other = SlackSender(dispatcher.slack.client.base_url, DEV_SLACK_BOT_TOKEN, timeout=1)
    try:
        sent = await other.post_message(CHANNEL, "a card", metadata=outbox_metadata(message.id))
    finally:
        await other.aclose()
    assert sent.succeeded
    clock.advance(timedelta(seconds=31))  # its lease lapses
    await drain(dispatcher, session_factory, clock)
    assert [m.ts for m in slack_api.recorder.messages_in(CHANNEL)] == [sent.request_id]
    done = await row(session_factory, row_id)
    assert (done.status, done.accepted_request_id) == (OutboxStatus.SENT, sent.request_id)


async def test_a_lost_thread_reply_is_found_in_the_thread(
    dispatcher: Dispatcher, session_factory: Factory, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    await add_card(session_factory, clock, "case:6:card")
    await drain(dispatcher, session_factory, clock)
    [parent] = slack_api.recorder.messages_in(CHANNEL)
    reply = await add_card(
        session_factory, clock, "case:6:reply", text="a note", thread_ts=parent.ts
    )
    slack_api.lose_answers(1.0, "drop")
    clock.advance(timedelta(seconds=2))  # chat.postMessage: one a second per channel
    assert (await dispatcher.run_once()).retried == 1
    slack_api.clear_faults()
    await drain(dispatcher, session_factory, clock)
    [posted] = slack_api.recorder.thread(CHANNEL, parent.ts)
    assert (await row(session_factory, reply)).accepted_request_id == posted.ts
    assert slack_api.recorder.calls("conversations.replies")
    assert len(slack_api.recorder.calls("chat.postMessage")) == 2


async def test_history_pages_by_cursor_newest_first_within_oldest(
    dispatcher: Dispatcher, clock: ManualClock, slack_api: SlackApiStandin
) -> None:
    client = dispatcher.slack.client
    stamps = []
    for n in range(7):
        answer = await client.chat_postMessage(channel=CHANNEL, text=f"m{n}")
        stamps.append(answer["ts"])
        clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.conversations_history(
            channel=CHANNEL, oldest=stamps[1], limit=2, cursor=cursor
        )
        seen += [m["text"] for m in page["messages"]]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page["has_more"]:
            break
    assert seen == ["m6", "m5", "m4", "m3", "m2"]  # oldest is exclusive
