"""Keeping PostgreSQL's inbox claim on its index when its statistics are out of date.

The worker's claim reads a window of the partial index of pending ids in order and stops at
its limit (migration 0011, core/inbox/pg_claim.py). That is the right plan whatever the
counts are, but the planner chooses by its statistics, and in a burst, exactly when the
claims matter, those say that almost nothing is pending: it then reads every pending row
through another index and sorts them all. Measured in issue 14 with 3,800 events waiting
and two workers: 41-47 ms a claim instead of 0.3 ms, and PostgreSQL's CPU went to the claims
while the webhook's inserts waited.

So the claim's transaction first turns off sorting and bitmap scans for itself (set_config
with is_local: nothing outside the transaction changes), and turns them back to what they
were before the handlers' own queries run. SQLite is told its index by name instead
(INDEXED BY) and needs none of this. The dispatcher's claim does not use it: each of its
look-ups is an equality and a range on exactly its index's columns (migration 0016). With
it, a test of the dispatcher under a storm of errors (test_storm_every_message_exactly_once)
ran past its timeout on PostgreSQL; why was not found, so it is left out there.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_SETTINGS: Final = ("enable_sort", "enable_bitmapscan")
_OFF: Final = text(
    "SELECT "
    + ", ".join(
        f"current_setting('{name}'), set_config('{name}', 'off', true)" for name in _SETTINGS
    )
)
_RESTORE: Final = text(
    "SELECT " + ", ".join(f"set_config('{name}', :{name}, true)" for name in _SETTINGS)
)

Saved = dict[str, str]


async def index_order_only(session: AsyncSession) -> Saved | None:
    """Until `restore`, this transaction's plans walk indexes in order (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    row = (await session.execute(_OFF)).one()
    return {name: str(row[2 * n]) for n, name in enumerate(_SETTINGS)}


async def restore(session: AsyncSession, saved: Saved | None) -> None:
    """The settings `index_order_only` found, back for the rest of the transaction."""
    if saved is not None:
        await session.execute(_RESTORE, saved)
