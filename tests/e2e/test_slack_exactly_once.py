"""Slack exactly once, end to end (issue 18.1): lost answers and a killed dispatcher.

1,000 cases join the queues of the 47 hubs; each queue card is queued with a chat.update that
claims it (as a CO's 担当する would), behind it in the same channel. A real `yorozu dispatcher`
process sends them to the Slack stand-in, which loses 30 % of chat.postMessage answers after
posting (first by dropping the connection, later by hanging past the client's time-out), and
the dispatcher is killed with SIGKILL twice mid-batch and started again. Afterwards the
stand-in's channels hold exactly 1,000 messages, one per card, each carrying its outbox id, and
each updated in place to its claimed form; nothing was posted twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import core.db.models as m
from core.clock import ManualClock
from core.coordinators.cards import CARD_KIND, UPDATE_KIND, post_queue_card, update_card
from core.db.migrate import upgrade
from core.db.session import create_engine, create_session_factory, unit_of_work
from core.domain.enums import CaseSource, CaseStatus, OutboxStatus
from core.i18n import Text
from core.messages import OutgoingMessage
from integrations.slack.client import outbox_id_of
from integrations.standins import ServerThread, create_slack_api, make_slack_id
from tests.support import Role
from yorozu.seed import seed

CASES = 1000
TOKEN = "xoxb-exactly-once-e2e"
LOST = 0.3
POSTS_PER_SECOND = 3.0


def claimed(case_id: int) -> OutgoingMessage:
    return OutgoingMessage(texts=(Text("common.verbatim", value=f"case {case_id}: claimed"),))


async def _queue(url: str) -> dict[str, str]:
    """Seed the hubs, give each an intake channel, queue the cards and their claims."""
    engine = create_engine(url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)
    channels: dict[str, str] = {}
    async with unit_of_work(sessions) as session:
        await seed(session, clock=ManualClock(now))
        hubs = list(
            (await session.scalars(select(m.Hub).where(m.Hub.prefecture_code.is_not(None)))).all()
        )
        assert len(hubs) == 47
        for hub in hubs:
            hub.slack_intake_channel_id = make_slack_id("C", f"intake-{hub.code}")
            channels[hub.slack_intake_channel_id] = f"intake-{hub.code}"
    async with unit_of_work(sessions) as session:
        for n in range(CASES):
            hub = hubs[n % len(hubs)]
            case = m.Case(
                number=f"E2E-{n:05d}",
                hub_id=hub.id,
                source=CaseSource.HUB,
                status=CaseStatus.NEW,
                topics=[],
                created_at=now,
                updated_at=now,
            )
            session.add(case)
            await session.flush()
            card = await post_queue_card(session, case.id, now=now)
            assert card is not None
            await update_card(session, case.id, claimed(case.id), now=now, suffix="claim")
    await engine.dispose()
    return channels


async def _unsent(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        waiting = await session.scalar(
            select(func.count()).where(
                m.OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
            )
        )
        sending = await session.scalar(
            select(func.count()).where(m.OutboxMessage.status == OutboxStatus.SENDING)
        )
    await engine.dispose()
    return int(waiting or 0), int(sending or 0)


async def _rows(url: str) -> list[m.OutboxMessage]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        rows = list((await session.scalars(select(m.OutboxMessage))).all())
    await engine.dispose()
    return rows


@pytest.mark.timeout(300)
async def test_lost_answers_and_kills_give_exactly_one_message_per_card(
    kill_database: str, tmp_path: Path
) -> None:
    channels = await _queue(kill_database)
    standin = create_slack_api([TOKEN], channels=channels)
    # Slack's rates raised (chat.postMessage 1/s per channel, Tier 3 per workspace) so that
    # 1,000 cards fit in a test; the stand-in still enforces them and the dispatcher paces.
    standin.set_rate_limit("chat.postMessage", POSTS_PER_SECOND, POSTS_PER_SECOND)
    for method in ("chat.update", "conversations.history", "conversations.replies"):
        standin.set_rate_limit(method, 200.0, 200.0)
    standin.lose_answers(LOST, "drop", seed=18)
    with ServerThread(standin.app) as server:
        env = {
            **os.environ,
            "DATABASE_URL": kill_database,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_BASE_URL": server.url + "/api/",
            "DISPATCH_LEASE_SECONDS": "3",
            "DISPATCH_POLL_SECONDS": "0.05",
            "SEND_TIMEOUT_SECONDS": "1",
            "SLACK_RATE_PER_SECOND": str(POSTS_PER_SECOND),
            "SLACK_METHOD_RATE_PER_MINUTE": "12000",
            "SLACK_HISTORY_RATE_PER_MINUTE": "12000",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("REDIS_URL", None)
        dispatcher = Role("dispatcher", env, tmp_path / "dispatcher.log")
        try:
            dispatcher.start()
            for posted_before_kill, mode in ((250, "timeout"), (600, "drop")):
                deadline = time.monotonic() + 120
                while len(standin.recorder.messages) < posted_before_kill:
                    assert time.monotonic() < deadline, _tail(tmp_path)
                    await asyncio.sleep(0.05)
                while True:  # kill it mid-batch
                    while (await _unsent(kill_database))[1] == 0:
                        assert time.monotonic() < deadline, _tail(tmp_path)
                    dispatcher.kill()
                    if (await _unsent(kill_database))[1] > 0:
                        break  # killed while rows were being sent, as the test needs
                    # The batch ended between the look and the kill: try the next one.
                    dispatcher.start()
                standin.lose_answers(LOST, mode, hang=5, seed=posted_before_kill)
                dispatcher.start()
            deadline = time.monotonic() + 150
            while (await _unsent(kill_database))[0] > 0:
                assert time.monotonic() < deadline, _tail(tmp_path)
                await asyncio.sleep(0.25)
        finally:
            dispatcher.stop()

    assert standin.lost_answers >= 0.2 * CASES
    rows = await _rows(kill_database)
    cards = {row.id: row for row in rows if row.kind == CARD_KIND}
    updates = [row for row in rows if row.kind == UPDATE_KIND]
    assert len(cards) == len(updates) == CASES
    assert {row.status for row in rows} == {OutboxStatus.SENT}, Counter(r.last_error for r in rows)

    messages = standin.recorder.messages
    assert len(messages) == CASES  # not one posted twice
    assert {msg.channel for msg in messages} == set(channels)
    by_outbox = Counter(outbox_id_of({"metadata": msg.metadata}) for msg in messages)
    assert set(by_outbox) == set(cards)
    assert set(by_outbox.values()) == {1}
    for msg in messages:
        card = cards[outbox_id_of({"metadata": msg.metadata}) or 0]
        assert (card.recipient, card.accepted_request_id) == (msg.channel, msg.ts)
        assert msg.text == f"case {card.case_id}: claimed"  # updated in place
        assert msg.edits >= 1
    # Every chat.update went to a posted card; a repeat is only a claim re-sent after a kill.
    assert all(call.ok for call in standin.recorder.calls("chat.update"))
    repeats = sum(msg.edits - 1 for msg in messages)
    assert repeats <= 2 * len(channels)
    assert len(standin.recorder.calls("conversations.history")) >= standin.lost_answers


def _tail(folder: Path) -> str:
    return "".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("*.log"))
