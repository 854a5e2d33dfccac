"""Jobs that keep the owner-facing promises: reminders, surveys, follow-ups.

Each is `async def job(sessions, clock) -> int` (how many rows it planned or changed) and
walks its records a batch at a time, one transaction per batch, so memory stays flat however
many there are. Every row it writes has a deterministic key: running a job twice, or two
schedulers at once, plans nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.db.session import unit_of_work
from core.followups.planning import plan_followups_batch
from core.reminders.bookings import plan_missing_booking_reminders
from core.surveys.planning import expire_surveys as expire_due_surveys
from core.surveys.planning import plan_surveys_batch

log = logging.getLogger(__name__)

Batch = Callable[..., Awaitable[tuple[int, int | None]]]
BATCH_SIZE = 200


async def _in_batches(
    sessions: async_sessionmaker[AsyncSession], now: datetime, batch: Batch, name: str
) -> int:
    total, after_id = 0, 0
    while True:
        async with unit_of_work(sessions) as session:
            planned, last_id = await batch(session, now=now, after_id=after_id, limit=BATCH_SIZE)
        total += planned
        if last_id is None:
            break
        after_id = last_id
    if total:
        log.info("%s planned", name, extra={"count": total})
    return total


async def plan_booking_reminders(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Safety net: confirmed future bookings without reminders get them (a Slack-side booking,
    a crash between confirming and planning)."""
    return await _in_batches(
        sessions, clock.now(), plan_missing_booking_reminders, "booking reminders"
    )


async def plan_surveys(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """A satisfaction survey for every recent consultation record that has none."""
    return await _in_batches(sessions, clock.now(), plan_surveys_batch, "surveys")


async def plan_followups(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Post-founding check-ins coming due (1, 3, 6, 12, 24 months by default)."""
    return await _in_batches(sessions, clock.now(), plan_followups_batch, "follow-ups")


async def expire_surveys(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Surveys and follow-ups past their expiry stop counting as open."""
    async with unit_of_work(sessions) as session:
        expired = await expire_due_surveys(session, now=clock.now())
    if expired:
        log.info("surveys expired", extra={"count": expired})
    return expired


OWNER_JOBS = {
    "plan_booking_reminders": plan_booking_reminders,
    "plan_surveys": plan_surveys,
    "plan_followups": plan_followups,
    "expire_surveys": expire_surveys,
}
"""Job id -> job, for the runner to register (each with its own trigger)."""
