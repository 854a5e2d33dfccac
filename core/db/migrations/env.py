"""Alembic environment: always driven with a connection handed in by core.db.migrate."""

from __future__ import annotations

from alembic import context

import core.db.models  # noqa: F401  (registers every table on Base.metadata)
from core.db.base import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `yorozu db upgrade` (core.db.migrate)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
