"""core.db.conflict: the cached ON CONFLICT DO NOTHING insert is the dialects' own SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from core.db.conflict import insert_or_skip
from core.db.models import InboxEvent, OutboxMessage

TABLES = [
    (InboxEvent.__table__, ["platform", "event_id"]),
    (OutboxMessage.__table__, ["idempotency_key"]),
]


@pytest.mark.parametrize(("postgres", "module"), [(False, sqlite), (True, postgresql)])
@pytest.mark.parametrize(("table", "columns"), TABLES)
def test_same_sql_as_the_dialects_own_insert(
    postgres: bool, module: object, table: Table, columns: list[str]
) -> None:
    dialect = postgresql.dialect() if postgres else sqlite.dialect()
    ours = insert_or_skip(table, columns, postgres=postgres).returning(table.c.id)
    theirs = (
        module.insert(table)  # type: ignore[attr-defined]
        .on_conflict_do_nothing(index_elements=columns)
        .returning(table.c.id)
    )
    assert str(ours.compile(dialect=dialect)) == str(theirs.compile(dialect=dialect))


@pytest.mark.parametrize("postgres", [False, True])
def test_it_has_a_cache_key_that_tells_the_conflict_target(postgres: bool) -> None:
    """Compiled once and reused, and never confused with an insert on other columns."""
    table = OutboxMessage.__table__
    first = insert_or_skip(table, ["idempotency_key"], postgres=postgres)
    again = insert_or_skip(table, ["idempotency_key"], postgres=postgres)
    other = insert_or_skip(table, ["retry_key"], postgres=postgres)
    key = first._generate_cache_key()
    assert key is not None
    assert key == again._generate_cache_key()
    assert key != other._generate_cache_key()
