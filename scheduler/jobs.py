"""Periodic jobs: importable module-level coroutines with explicit resources.

APScheduler 3.x wants jobs it can reference by name; each job gets what it needs
(sessions, clock) as arguments and decides from the record what is due, so a job run twice,
or by two schedulers at once, changes nothing the second time.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.db.session import unit_of_work
from core.outbox import store as outbox

log = logging.getLogger(__name__)


async def release_held_pushes(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """A new month renews LINE's push quota: what waited for the budget may go now."""
    async with unit_of_work(sessions) as session:
        released = await outbox.release_held(session, now=clock.now())
    if released:
        log.info("held pushes released", extra={"count": released})
    return released
