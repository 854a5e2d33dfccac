"""Conversation state survives the trip through each store unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from core.conversation import (
    Choice,
    ConversationKey,
    ConversationState,
    ConversationStore,
    Flow,
    InMemoryConversationStore,
    Question,
    QuestionKind,
    SqlAlchemyConversationStore,
    Status,
    answer,
    start,
)
from core.db.base import Base
from core.db.models.conversations import ConversationStateRow
from core.i18n import Text

NOW = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
KEY = ConversationKey("line", "hub-hokkaido", "U0123")
FLOW = Flow(
    id="store_sample",
    questions=(
        Question("name", Text("common.verbatim", value="name?")),
        Question(
            "topics",
            Text("common.verbatim", value="topics?"),
            kind=QuestionKind.MULTI_CHOICE,
            choices=(Choice("tax", Text("topic.tax")), Choice("finance", Text("topic.finance"))),
        ),
        Question("founded", Text("common.verbatim", value="founded?"), kind=QuestionKind.DATE),
        Question("note", Text("common.verbatim", value="note?")),
    ),
)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_async_engine("sqlite+aiosqlite:///" + str(tmp_path / "t.db"))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


@pytest.fixture(params=["memory", "sqlalchemy"])
def store(
    request: pytest.FixtureRequest, sessions: async_sessionmaker[AsyncSession]
) -> ConversationStore:
    if request.param == "memory":
        return InMemoryConversationStore()
    return SqlAlchemyConversationStore(sessions)


def _half_way() -> ConversationState:
    state, _ = start(FLOW, KEY, NOW, known={"name": "やまだ商店"})
    for message in ("tax", "finance", "done", "2019-04-01"):
        state, _ = answer(FLOW, state, message, NOW)
    return state


async def test_missing_key_loads_nothing(store: ConversationStore) -> None:
    assert await store.load(KEY) is None


async def test_saved_state_loads_back_equal(store: ConversationStore) -> None:
    state = _half_way()
    assert state.step == "note"
    await store.save(state)

    loaded = await store.load(KEY)

    assert loaded is not None
    assert ConversationState.from_json(loaded.to_json(), FLOW) == state
    assert loaded.started_at.tzinfo is not None
    assert loaded.expires_at == NOW + FLOW.expiry
    finished, _ = answer(FLOW, loaded, "特になし", NOW + timedelta(minutes=5))
    assert finished.status is Status.DONE
    assert finished.answers == {
        "name": "やまだ商店",
        "topics": ["tax", "finance"],
        "founded": date(2019, 4, 1),
        "note": "特になし",
    }


async def test_saving_again_overwrites_and_keeps_history(store: ConversationStore) -> None:
    state = _half_way()
    await store.save(state)
    later = NOW + timedelta(days=3)
    state, _ = answer(FLOW, state, "hello", later)
    state, _ = answer(FLOW, state, "最初から", later)
    await store.save(state)

    loaded = await store.load(KEY)

    assert loaded is not None
    assert ConversationState.from_json(loaded.to_json(), FLOW) == state
    assert loaded.answers == {"name": "やまだ商店"}
    assert loaded.history[0].answers["founded"] == "2019-04-01"
    assert loaded.started_at == later


async def test_keys_are_separate_and_delete_removes_one(store: ConversationStore) -> None:
    other_channel = ConversationKey("line", "national", "U0123")
    other_user = ConversationKey("line", "hub-hokkaido", "U9999")
    for key in (KEY, other_channel, other_user):
        state, _ = start(FLOW, key, NOW)
        await store.save(state)

    await store.delete(KEY)
    await store.delete(KEY)  # deleting twice is harmless

    assert await store.load(KEY) is None
    for key in (other_channel, other_user):
        loaded = await store.load(key)
        assert loaded is not None
        assert loaded.key == key


async def test_sql_store_keeps_one_row_per_person_and_channel(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlAlchemyConversationStore(sessions)
    state = _half_way()
    await store.save(state)
    state, _ = answer(FLOW, state, "やめる", NOW)
    await store.save(state)

    async with sessions() as session:
        rows = (await session.scalars(select(ConversationStateRow))).all()
    assert len(rows) == 1
    (row,) = rows
    assert row.status == "cancelled"
    assert row.answers["founded"] == "2019-04-01"
    assert row.known == ["name"]
    assert row.updated_at == NOW
