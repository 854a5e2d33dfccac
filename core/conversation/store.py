"""Persistence of conversation state behind a small interface.

The engine is pure; something has to keep the state between an owner's messages, which can
be minutes or days apart and may land on different worker processes. Tests and the emulator
use the in-memory store, the service the database.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Executable, Select, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.conversation.engine import ConversationKey, ConversationState
from core.db.models.conversations import ConversationStateRow


class ConversationStore(Protocol):
    async def load(self, key: ConversationKey) -> ConversationState | None: ...

    async def save(self, state: ConversationState) -> None: ...

    async def delete(self, key: ConversationKey) -> None: ...


class InMemoryConversationStore:
    """Keeps JSON copies, so a test notices state that would not survive the database."""

    def __init__(self) -> None:
        self._states: dict[ConversationKey, dict[str, Any]] = {}

    async def load(self, key: ConversationKey) -> ConversationState | None:
        data = self._states.get(key)
        return ConversationState.from_json(data) if data is not None else None

    async def save(self, state: ConversationState) -> None:
        self._states[state.key] = state.to_json()

    async def delete(self, key: ConversationKey) -> None:
        self._states.pop(key, None)

    def __len__(self) -> int:
        return len(self._states)


class SessionConversationStore:
    """The same table, inside a transaction someone else owns.

    The worker handles an owner's event in one transaction: the answer, the outbox row and the
    conversation state commit together or not at all, so a crash never leaves a reply sent
    for a state that was not saved (or the reverse).
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(self, key: ConversationKey) -> ConversationState | None:
        row = await self._session.scalar(_select(key))
        return _to_state(row) if row is not None else None

    async def save(self, state: ConversationState) -> None:
        dialect = self._session.get_bind().dialect.name
        await self._session.execute(_upsert(dialect, _values(state)))

    async def delete(self, key: ConversationKey) -> None:
        await self._session.execute(_delete(key))


class SqlAlchemyConversationStore:
    """One row per (platform, channel, user), written with an atomic upsert.

    Each call is its own short transaction: the state is saved after the reply is decided, and
    a second save of the same key (two messages handled at once) overwrites rather than fails.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def load(self, key: ConversationKey) -> ConversationState | None:
        async with self._sessions() as session:
            row = await session.scalar(_select(key))
            return _to_state(row) if row is not None else None

    async def save(self, state: ConversationState) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(_upsert(session.get_bind().dialect.name, _values(state)))

    async def delete(self, key: ConversationKey) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(_delete(key))


def _values(state: ConversationState) -> dict[str, Any]:
    data = state.to_json()
    return {
        "platform": state.key.platform,
        "channel_id": state.key.channel_id,
        "user_id": state.key.user_id,
        "flow_id": state.flow_id,
        "status": state.status.value,
        "step": state.step,
        "answers": data["answers"],
        "known": data["known"],
        "history": data["history"],
        "started_at": state.started_at,
        "updated_at": state.updated_at,
        "expires_at": state.expires_at,
    }


def _delete(key: ConversationKey) -> Executable:
    return delete(ConversationStateRow).where(
        ConversationStateRow.platform == key.platform,
        ConversationStateRow.channel_id == key.channel_id,
        ConversationStateRow.user_id == key.user_id,
    )


_KEY_COLUMNS = ("platform", "channel_id", "user_id")


def _upsert(dialect: str, values: dict[str, Any]) -> Executable:
    # Both backends have INSERT ... ON CONFLICT; a select-then-insert would race when two
    # messages of one owner are handled at once.
    changed = {name: value for name, value in values.items() if name not in _KEY_COLUMNS}
    if dialect == "postgresql":
        pg = postgresql_insert(ConversationStateRow).values(**values)
        return pg.on_conflict_do_update(index_elements=list(_KEY_COLUMNS), set_=changed)
    if dialect == "sqlite":
        lite = sqlite_insert(ConversationStateRow).values(**values)
        return lite.on_conflict_do_update(index_elements=list(_KEY_COLUMNS), set_=changed)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")


def _select(key: ConversationKey) -> Select[tuple[ConversationStateRow]]:
    return select(ConversationStateRow).where(
        ConversationStateRow.platform == key.platform,
        ConversationStateRow.channel_id == key.channel_id,
        ConversationStateRow.user_id == key.user_id,
    )


def _to_state(row: ConversationStateRow) -> ConversationState:
    return ConversationState.from_json(
        {
            "platform": row.platform,
            "channel_id": row.channel_id,
            "user_id": row.user_id,
            "flow_id": row.flow_id,
            "status": row.status,
            "step": row.step,
            "answers": row.answers,
            "known": row.known,
            "history": row.history,
            "started_at": row.started_at.isoformat(),
            "updated_at": row.updated_at.isoformat(),
            "expires_at": row.expires_at.isoformat(),
        }
    )
