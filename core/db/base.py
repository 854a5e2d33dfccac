"""The declarative base every table hangs off.

A fixed naming convention keeps constraint names identical on SQLite and PostgreSQL, so
Alembic's autogenerate comparison (and the test that checks migrations against the models)
sees no spurious differences. `UTCDateTime` stores aware UTC datetimes on both backends:
SQLite has no time zone type and would otherwise hand back naive values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def stored_utc(value: datetime) -> datetime:
    """The UTC moment to store for an aware datetime; a naive one is refused (invariant 10).

    Shared by `UTCDateTime` and the statements that bind times without it
    (core/inbox/pg_insert.py)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are refused: store aware UTC times")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC (invariant 10)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else stored_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 - SQLAlchemy reads it
