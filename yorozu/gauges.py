"""Gauges read from the record at scrape time: inbox, outbox and hub queue depths."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Case, Hub, InboxEvent, OutboxMessage
from core.domain.enums import CaseStatus, InboxStatus, OutboxStatus
from yorozu.bootstrap import Container


async def inbox_backlog_age(session: AsyncSession, now: datetime) -> float:
    """Seconds the oldest unhandled inbound event has waited (0 when nothing waits)."""
    oldest = await session.scalar(
        select(func.min(InboxEvent.received_at)).where(InboxEvent.status == InboxStatus.PENDING)
    )
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return max((now - oldest).total_seconds(), 0.0)


def register_gauges(container: Container) -> None:
    metrics = container.metrics

    async def refresh() -> None:
        now = container.clock.now()
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
            metrics.inbox_pending.set(inbox.get(InboxStatus.PENDING, 0))
            metrics.inbox_oldest_pending.set(await inbox_backlog_age(session, now))
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
            waiting = await session.execute(
                select(Hub.code, func.count(Case.id), func.min(Case.created_at))
                .join(Case, Case.hub_id == Hub.id)
                .where(Case.status == CaseStatus.QUEUED)
                .group_by(Hub.code)
            )
            for code, depth, oldest in waiting.tuples():
                metrics.queue_depth.labels(code).set(depth)
                age = (now - oldest).total_seconds() if oldest is not None else 0.0
                metrics.queue_oldest_wait.labels(code).set(max(age, 0.0))

    metrics.on_scrape(refresh)
