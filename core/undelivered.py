"""The CCO's morning note of owner pushes that could not go out: broken promises, told.

A planned push (a booking reminder, a survey, a follow-up) that the dispatcher recorded as
stale or missed means an owner was not told something we promised to tell them. The counter
and the log line reach the operators; this note reaches the people who can still act: each
CCO of the hub hears, on the hub's next business morning, which cases were affected, so that
someone can phone the owner before the consultation rather than wait for a no-show.

Each note covers the failures since the same time on the hub's previous business day (the
previous note), so nothing is told twice and nothing recorded over a weekend is lost. One note
per hub and day (deterministic key): a second run that morning queues nothing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import jst_day
from core.db.models import Case, Hub, OutboxMessage
from core.domain.enums import OutboxStatus, Platform
from core.hub_calendar import DEFAULT_CALENDAR, HubCalendar, hub_calendars
from core.i18n import Text
from core.messages import OutgoingMessage
from core.notify import notify_cco
from core.outbox.gate import MISSED, STALE

REASONS: Final = (STALE, MISSED)
KINDS: Final = frozenset({"reminder", "survey", "followup"})
"""The planned kinds the note names; any other owner push is listed as a notice."""
LOOKBACK: Final = timedelta(days=14)
"""No run of closed days is longer: failures older than this were told already."""


def _previous_business_day(calendar: HubCalendar, day: date) -> date:
    candidate = day - timedelta(days=1)
    while not calendar.is_business_day(candidate) and day - candidate < LOOKBACK:
        candidate -= timedelta(days=1)
    return candidate


async def undelivered_notes(session: AsyncSession, *, now: datetime) -> int:
    """Queue each hub's note (on its business days, when it has something); answers how many."""
    rows = (
        await session.execute(
            select(
                OutboxMessage.hub_id,
                OutboxMessage.kind,
                OutboxMessage.last_error,
                OutboxMessage.failed_at,
                Case.number,
            )
            .outerjoin(Case, Case.id == OutboxMessage.case_id)
            .where(
                OutboxMessage.platform == Platform.LINE,
                OutboxMessage.status == OutboxStatus.FAILED,
                OutboxMessage.last_error.in_(REASONS),
                OutboxMessage.failed_at >= now - LOOKBACK,
                OutboxMessage.failed_at < now,
                OutboxMessage.hub_id.is_not(None),
            )
            .order_by(OutboxMessage.failed_at, OutboxMessage.id)
        )
    ).all()
    if not rows:
        return 0
    today = jst_day(now)
    calendars = await hub_calendars(session, {row.hub_id for row in rows}, today=today)
    by_hub: dict[int, list[tuple[str, str, str | None]]] = defaultdict(list)
    for hub_id, kind, reason, failed_at, number in rows:
        calendar = calendars.get(hub_id, DEFAULT_CALENDAR)
        if not calendar.is_business_day(today):
            continue
        since = now - (today - _previous_business_day(calendar, today))
        if failed_at >= since:
            by_hub[hub_id].append((kind if kind in KINDS else "other", str(reason), number))
    queued = 0
    for hub_id, items in by_hub.items():
        hub = await session.get(Hub, hub_id)
        if hub is None:
            continue
        key = f"undelivered:{hub_id}:{today.isoformat()}"
        queued += await notify_cco(session, hub, note_message(items), key=key, now=now)
    return queued


def note_message(items: list[tuple[str, str, str | None]]) -> OutgoingMessage:
    """One line per (kind, reason) with its count and the cases it concerns."""
    counts = Counter((kind, reason) for kind, reason, _ in items)
    numbers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, reason, number in items:
        if number and number not in numbers[(kind, reason)]:
            numbers[(kind, reason)].append(number)
    texts = [Text("scheduler.undelivered.title", count=len(items))]
    for (kind, reason), count in sorted(counts.items()):
        cases = tuple(Text("common.verbatim", value=n) for n in numbers[(kind, reason)])
        texts.append(
            Text(
                "scheduler.undelivered.item",
                kind=Text(f"scheduler.undelivered.kind.{kind}"),
                reason=Text(f"scheduler.undelivered.reason.{reason}"),
                count=count,
                cases=cases or Text("scheduler.common.none"),
            )
        )
    return OutgoingMessage(texts=tuple(texts))
