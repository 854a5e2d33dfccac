"""Escalation: a case left unclaimed in a hub queue for too long is shown to people above.

After N business hours (the hub's `escalation_hours`) in status queued the hub's CCO is told;
after M = N + `hq_extra_hours` business hours HQ is told too (HQ's CCO, or its intake channel).
Business hours are 09:00-17:00 on the hub's business days (core.calendar), so a case queued on
Friday evening does not escalate over the weekend.

The job decides from the record: the wait starts when the case last entered the queue (its
latest status-history row to queued, else its creation), and each notice has an idempotency
key per case, queue entry and level, so a run every few minutes, or two schedulers at once,
tell each person once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.db.models import AuditLog, Case, CaseStatusHistory, Hub
from core.domain.enums import ActorKind, CaseStatus
from core.hub_calendar import DEFAULT_CALENDAR, HubCalendar, hub_calendars
from core.i18n import Text
from core.i18n.dates import jst_day_time
from core.messages import OutgoingMessage
from core.notify import hq_hub, notify_cco

BATCH = 500


@dataclass(frozen=True)
class EscalationPolicy:
    default_hours: int = 24
    """N for a hub without its own escalation_hours."""
    hq_extra_hours: int = 16
    """M - N: further business hours before HQ is told."""


@dataclass(frozen=True)
class Waiting:
    case_id: int
    number: str
    hub_id: int
    topics: tuple[str, ...]
    since: datetime


def escalation_key(case_id: int, since: datetime, level: str) -> str:
    return f"escalation:case{case_id}:{int(since.timestamp())}:{level}"


def _stamp(moment: datetime) -> Text:
    return jst_day_time(moment)


def _message(key: str, waiting: Waiting, hub: Hub, hours: float) -> OutgoingMessage:
    topics = tuple(Text(f"topic.{value}") for value in waiting.topics)
    return OutgoingMessage(
        texts=(
            Text(
                key,
                number=waiting.number,
                hub=hub.name_ja,
                hours=int(hours),
                since=_stamp(waiting.since),
                topics=topics or (Text("scheduler.common.none"),),
            ),
        )
    )


async def _waiting(session: AsyncSession, after_id: int) -> list[Waiting]:
    """The next batch of queued cases (by id) and when their wait began."""
    entered = (
        select(
            CaseStatusHistory.case_id.label("case_id"),
            func.max(CaseStatusHistory.at).label("at"),
        )
        .where(CaseStatusHistory.to_status == CaseStatus.QUEUED)
        .group_by(CaseStatusHistory.case_id)
        .subquery()
    )
    rows = await session.execute(
        select(Case.id, Case.number, Case.hub_id, Case.topics, Case.created_at, entered.c.at)
        .outerjoin(entered, entered.c.case_id == Case.id)
        .where(Case.status == CaseStatus.QUEUED, Case.id > after_id)
        .order_by(Case.id)
        .limit(BATCH)
    )
    found = []
    for case_id, number, hub_id, topics, created_at, at in rows.all():
        since = max(created_at, at) if at is not None else created_at
        found.append(Waiting(case_id, number, hub_id, tuple(topics or ()), since))
    return found


async def escalate_unclaimed(
    session: AsyncSession, *, now: datetime, policy: EscalationPolicy | None = None
) -> int:
    """Queue the notices that are due; answers how many were queued now."""
    policy = policy or EscalationPolicy()
    hubs = {hub.id: hub for hub in await session.scalars(select(Hub))}
    hq = await hq_hub(session)
    shortest = min([h.escalation_hours or policy.default_hours for h in hubs.values()] or [1])
    # A case cannot have waited N business hours in less than N hours.
    older_than = now - timedelta(hours=shortest)
    calendars = await hub_calendars(session, hubs, today=to_jst(now).date())
    queued = 0
    after_id = 0
    while True:
        batch = await _waiting(session, after_id)
        if not batch:
            return queued
        after_id = batch[-1].case_id
        queued += await _escalate_batch(
            session, [w for w in batch if w.since <= older_than], hubs, hq, calendars, now, policy
        )
        if len(batch) < BATCH:
            return queued


async def _escalate_batch(
    session: AsyncSession,
    batch: Sequence[Waiting],
    hubs: dict[int, Hub],
    hq: Hub | None,
    calendars: dict[int, HubCalendar],
    now: datetime,
    policy: EscalationPolicy,
) -> int:
    queued = 0
    for waiting in batch:
        hub = hubs.get(waiting.hub_id)
        if hub is None:
            continue
        calendar = calendars.get(hub.id, DEFAULT_CALENDAR)
        hours = calendar.business_hours_between(waiting.since, now)
        first = hub.escalation_hours or policy.default_hours
        second = first + (hub.escalation_hq_hours or policy.hq_extra_hours)
        levels: list[tuple[str, Hub, str]] = []
        if hours >= first:
            levels.append(("cco", hub, "scheduler.escalation.cco"))
        if hours >= second and hq is not None and hq.id != hub.id:
            levels.append(("hq", hq, "scheduler.escalation.hq"))
        for level, target, text_key in levels:
            told = await notify_cco(
                session,
                target,
                _message(text_key, waiting, hub, hours),
                key=escalation_key(waiting.case_id, waiting.since, level),
                now=now,
                case_id=waiting.case_id,
            )
            if told:
                session.add(
                    AuditLog(
                        at=now,
                        actor_kind=ActorKind.SYSTEM,
                        actor_id=None,
                        action=f"case.escalated.{level}",
                        case_id=waiting.case_id,
                        hub_id=hub.id,
                        details={"business_hours": int(hours), "to_hub_id": target.id},
                    )
                )
            queued += told
    return queued
