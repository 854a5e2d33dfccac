"""Periodic jobs: importable module-level coroutines with explicit resources.

APScheduler 3.x wants jobs it can reference by name; each job gets what it needs
(sessions, clock, config) as arguments and decides from the record what is due, so a job run
twice, or by two schedulers at once, changes nothing the second time: every message it queues
has a deterministic idempotency key. Each job answers how many rows it queued or changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.coordinators import reminders as co_reminders_core
from core.db.session import unit_of_work
from core.digests import weekly_digests
from core.escalation import EscalationPolicy, escalate_unclaimed
from core.outbox import store as outbox
from core.retention import run_retention
from core.undelivered import undelivered_notes

log = logging.getLogger(__name__)

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class JobConfig:
    """What the jobs take from settings (the scheduler role builds it; tests pass their own)."""

    escalation_hours: int = 24
    escalation_hq_extra_hours: int = 16
    retention_days: int = 1827
    console_url: str | None = None
    """The console's address: the CCO's weekly digest links to the hub's dashboard."""


async def release_held_pushes(sessions: Sessions, clock: Clock) -> int:
    """A new month renews LINE's push quota: what waited for the budget may go now."""
    async with unit_of_work(sessions) as session:
        released = await outbox.release_held(session, now=clock.now())
    if released:
        log.info("held pushes released", extra={"count": released})
    return released


async def escalate(sessions: Sessions, clock: Clock, config: JobConfig) -> int:
    """Tell the CCO, then HQ, about cases waiting unclaimed too long (business hours)."""
    policy = EscalationPolicy(config.escalation_hours, config.escalation_hq_extra_hours)
    async with unit_of_work(sessions) as session:
        return await escalate_unclaimed(session, now=clock.now(), policy=policy)


async def co_morning_digest(sessions: Sessions, clock: Clock) -> int:
    """Each CO's consultations of the day, with intake and self-check, and each CCO's note of
    owner pushes that could not go out (business days)."""
    async with unit_of_work(sessions) as session:
        now = clock.now()
        digests = await co_reminders_core.morning_digest(session, now=now)
        return digests + await undelivered_notes(session, now=now)


async def co_reminders(sessions: Sessions, clock: Clock) -> int:
    """Missing consultation outcomes and follow-ups due: a DM to the CO, once each."""
    async with unit_of_work(sessions) as session:
        outcomes = await co_reminders_core.outcome_reminders(session, now=clock.now())
    async with unit_of_work(sessions) as session:
        followups = await co_reminders_core.followup_reminders(session, now=clock.now())
    return outcomes + followups


async def cco_weekly_digest(
    sessions: Sessions, clock: Clock, config: JobConfig | None = None
) -> int:
    """The weekly summary to each hub's CCO, with a link to the hub's dashboard."""
    url = config.console_url if config is not None else None
    async with unit_of_work(sessions) as session:
        return await weekly_digests(session, now=clock.now(), console_url=url)


async def retention(sessions: Sessions, clock: Clock, config: JobConfig) -> int:
    """Erase personal data past its period: closed cases, inactive people, raw messages
    (core.retention), a batch per transaction."""
    report = await run_retention(
        sessions, now=clock.now(), retention=timedelta(days=config.retention_days)
    )
    if report.total:
        log.info("personal data past its period erased", extra=report.as_dict())
    return report.total
