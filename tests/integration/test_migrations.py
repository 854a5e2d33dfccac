"""The migrations, applied from empty, produce exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import core.db.models  # noqa: F401
from core.db.base import Base
from core.db.migrate import current_revision, head_revision


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_database_is_at_the_newest_revision(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
