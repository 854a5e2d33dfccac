"""Gauges read from the record at scrape time: inbox, outbox and hub queue depths."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Case, Hub, InboxEvent, OutboxMessage
from core.domain.enums import CaseStatus, InboxStatus, OutboxStatus
from core.inbox.journal import JournalBacklog
from yorozu.arrivals import journal_backlog
from yorozu.bootstrap import Container


async def inbox_backlog_age(
    session: AsyncSession, now: datetime, journal: JournalBacklog | None = None
) -> float:
    """Seconds the oldest unhandled inbound event has waited (0 when nothing waits); with
    serve's arrivals journal, its unmoved rows wait too (they are older than any pending)."""
    oldest = await session.scalar(
        select(func.min(InboxEvent.received_at)).where(InboxEvent.status == InboxStatus.PENDING)
    )
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    if journal is not None and journal.oldest is not None:
        oldest = journal.oldest if oldest is None else min(oldest, journal.oldest)
    if oldest is None:
        return 0.0
    return max((now - oldest).total_seconds(), 0.0)


def register_gauges(container: Container) -> None:
    metrics = container.metrics

    async def refresh() -> None:
        now = container.clock.now()
        journal = await journal_backlog(container)
        async with container.session_factory() as session:
            inbox = dict(
                (
                    await session.execute(
                        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
                    )
                )
                .tuples()
                .all()
            )
            waiting = journal.waiting if journal is not None else 0
            metrics.inbox_pending.set(inbox.get(InboxStatus.PENDING, 0) + waiting)
            metrics.inbox_oldest_pending.set(await inbox_backlog_age(session, now, journal))
            metrics.inbox_dead.set(inbox.get(InboxStatus.DEAD, 0))
            outbox = dict(
                (
                    await session.execute(
                        select(OutboxMessage.status, func.count())
                        .where(
                            OutboxMessage.status.in_(
                                [OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD]
                            )
                        )
                        .group_by(OutboxMessage.status)
                    )
                )
                .tuples()
                .all()
            )
            for status in (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD):
                metrics.outbox_pending.labels(status.value).set(outbox.get(status, 0))
            queued = await session.execute(
                select(Hub.code, func.count(Case.id), func.min(Case.created_at))
                .join(Case, Case.hub_id == Hub.id)
                .where(Case.status == CaseStatus.QUEUED)
                .group_by(Hub.code)
            )
            for code, depth, oldest in queued.tuples():
                metrics.queue_depth.labels(code).set(depth)
                age = (now - oldest).total_seconds() if oldest is not None else 0.0
                metrics.queue_oldest_wait.labels(code).set(max(age, 0.0))

    metrics.on_scrape(refresh)
