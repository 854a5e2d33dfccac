"""INSERT … ON CONFLICT (columns) DO NOTHING that SQLAlchemy compiles once, not every time.

SQLAlchemy 2.0 marks the SQLite and PostgreSQL `insert()` constructs `inherit_cache = False`,
so a statement using `on_conflict_do_nothing` is compiled again on every execution. The
inbox (every acknowledged webhook) and the outbox (every answer) insert that way; profiling
`yorozu serve` under a burst (issue 14) showed the compilation costing more than the insert.

The two classes here are the dialects' own constructs with a cache key: the INSERT inherits
its key from the standard INSERT (table, values, RETURNING, and the ON CONFLICT clause), and
the ON CONFLICT DO NOTHING clause is keyed by its target column names. They compile to
exactly what the dialects' own constructs compile to (tests/unit/test_conflict_insert.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.sql.visitors import InternalTraversal

_KEYED_BY_TARGET: list[tuple[str, InternalTraversal]] = [
    ("target_names", InternalTraversal.dp_string_list)
]


class _SqliteInsert(sqlite_dml.Insert):
    inherit_cache = True


class _PostgresInsert(postgresql_dml.Insert):
    inherit_cache = True


class _SqliteDoNothing(sqlite_dml.OnConflictDoNothing):
    _cache_key_traversal = _KEYED_BY_TARGET

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(index_elements=list(names))
        self.target_names = list(names)


class _PostgresDoNothing(postgresql_dml.OnConflictDoNothing):
    _cache_key_traversal = _KEYED_BY_TARGET

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(index_elements=list(names))
        self.target_names = list(names)


def insert_or_skip(table: Table, conflict_columns: Sequence[str], *, postgres: bool) -> Any:
    """INSERT INTO table … ON CONFLICT (conflict_columns) DO NOTHING, with a cache key.

    Add `.returning(...)` as usual and execute it with the row's values as parameters.
    """
    if postgres:
        statement: Any = _PostgresInsert(table)
        statement._post_values_clause = _PostgresDoNothing(conflict_columns)
    else:
        statement = _SqliteInsert(table)
        statement._post_values_clause = _SqliteDoNothing(conflict_columns)
    return statement
