"""The migrations, applied from empty, produce exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import core.db.models  # noqa: F401
from core.db.base import Base
from core.db.migrate import current_revision, head_revision

SLACK_SDK_TABLES = frozenset({"slack_installations", "slack_bots", "slack_oauth_states"})
"""Created by migration 0007, described by slack_sdk's stores rather than our models."""


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", name) not in SLACK_SDK_TABLES


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": _ours}
    )
    return list(compare_metadata(context, Base.metadata))


def _slack_diff(connection: Connection) -> list[Any]:
    from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

    metadata = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, "slack_installations")
    SQLAlchemyInstallationStore.build_bots_table(metadata, "slack_bots")
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, "slack_oauth_states")

    def sdk_tables(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        return not _ours(obj, name, type_, False, None)

    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": sdk_tables}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_slack_installation_tables_are_the_sdks_own(engine: AsyncEngine) -> None:
    """Migration 0007 creates what slack_sdk's SQLAlchemy stores read and write."""
    async with engine.connect() as connection:
        differences = await connection.run_sync(_slack_diff)
    assert differences == []


async def test_database_is_at_the_newest_revision(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
