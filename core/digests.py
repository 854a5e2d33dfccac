"""The weekly summary each CCO gets in Slack (Monday 08:30): the hub at a glance.

Queue depth (open cases), unclaimed cases and the oldest wait, satisfaction this fiscal year
(core.surveys.aggregate), the CO reviews given last week, and owner pushes held for the push
budget (so deferrals are visible). HQ's CCO gets the national figures. One DM per CCO and
week (deterministic key): a second run that week queues nothing.

"Last week" is the last whole calendar week in Japan, Monday to Sunday, and it is named as
people name it (12月1日〜7日): a review counts in the week it was given, whenever the job
runs, and a rolling seven days would count a Monday-morning review in two summaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.clock import JST, fiscal_year, to_jst
from core.db.models import Case as CaseRow
from core.db.models import ConsultationRecord, Coordinator, CoReview, Hub, OutboxMessage
from core.domain.enums import OPEN_CASE_STATUSES, CaseStatus, HubKind, OutboxStatus
from core.i18n import Text
from core.i18n.dates import jst_day_range, jst_day_time
from core.messages import OutgoingMessage
from core.notify import notify_cco
from core.surveys.aggregate import overall, satisfaction_by_hub

REVIEW_COMMENTS = 3
COMMENT_CHARS = 120


@dataclass(frozen=True)
class HubWeek:
    open_cases: int
    unclaimed: int
    oldest_since: datetime | None
    satisfaction_answers: int
    satisfaction_rate: float | None
    reviews: int
    review_average: float | None
    review_lines: tuple[Text, ...]
    held_pushes: int
    review_week: tuple[date, date] | None = None
    """The Japan calendar week (Monday, Sunday) the reviews were given in."""


def last_week(now: datetime) -> tuple[date, date]:
    """The last whole Monday-to-Sunday week in Japan before `now` (the week before this one)."""
    today = to_jst(now).date()
    this_monday = today - timedelta(days=today.weekday())
    monday = this_monday - timedelta(days=7)
    return monday, monday + timedelta(days=6)


def _jst_midnight(day: date) -> datetime:
    """The start of a Japan day, as the UTC moment it is stored in."""
    return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)


def week_key(now: datetime) -> str:
    """The digest's idempotency key per week (never shown: people read `last_week`)."""
    year, week, _ = to_jst(now).isocalendar()
    return f"{year}-W{week:02d}"


async def hub_week(session: AsyncSession, hub_id: int | None, *, now: datetime) -> HubWeek:
    """The figures of one hub (None: every hub, for HQ)."""

    def scope(column: Any) -> list[ColumnElement[bool]]:
        return [] if hub_id is None else [column == hub_id]

    open_cases = await session.scalar(
        select(func.count())
        .select_from(CaseRow)
        .where(CaseRow.status.in_(OPEN_CASE_STATUSES), *scope(CaseRow.hub_id))
    )
    unclaimed, oldest = (
        await session.execute(
            select(func.count(), func.min(CaseRow.created_at)).where(
                CaseRow.status == CaseStatus.QUEUED,
                *scope(CaseRow.hub_id),
            )
        )
    ).one()
    figures = await satisfaction_by_hub(session, fiscal_year=fiscal_year(now), hub_id=hub_id)
    satisfaction = overall(figures)
    first, last = last_week(now)
    since, until = _jst_midnight(first), _jst_midnight(last + timedelta(days=1))
    review_rows = (
        await session.execute(
            select(CoReview.stars, CoReview.comment, Coordinator.name)
            .join(ConsultationRecord, ConsultationRecord.id == CoReview.consultation_id)
            .join(Coordinator, Coordinator.id == CoReview.co_id)
            .where(
                CoReview.created_at >= since,
                CoReview.created_at < until,
                *scope(ConsultationRecord.hub_id),
            )
            .order_by(CoReview.created_at.desc(), CoReview.id.desc())
        )
    ).all()
    stars = [int(s) for s, _, _ in review_rows]
    lines = tuple(
        Text(
            "scheduler.cco_digest.review",
            name=name,
            stars=int(s),
            comment=(comment or "").strip()[:COMMENT_CHARS] or "-",
        )
        for s, comment, name in review_rows[:REVIEW_COMMENTS]
    )
    held = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.HELD, *scope(OutboxMessage.hub_id))
    )
    return HubWeek(
        open_cases=int(open_cases or 0),
        unclaimed=int(unclaimed or 0),
        oldest_since=oldest,
        satisfaction_answers=satisfaction.answers,
        satisfaction_rate=satisfaction.rate,
        reviews=len(stars),
        review_average=sum(stars) / len(stars) if stars else None,
        review_lines=lines,
        held_pushes=int(held or 0),
        review_week=(first, last),
    )


def digest_message(
    hub: Hub, week: HubWeek, *, now: datetime, console_url: str | None = None
) -> OutgoingMessage:
    first, last = week.review_week or last_week(now)
    days = jst_day_range(first, last)
    texts = [
        Text("scheduler.cco_digest.title", hub=hub.name_ja, week=days),
        Text("scheduler.cco_digest.queue", open=week.open_cases, unclaimed=week.unclaimed),
    ]
    if week.oldest_since is not None:
        waited = now - week.oldest_since
        texts.append(
            Text(
                "scheduler.cco_digest.oldest",
                since=jst_day_time(week.oldest_since),
                days=waited.days,
                hours=waited.seconds // 3600,
            )
        )
    if week.satisfaction_rate is None:
        texts.append(Text("scheduler.cco_digest.satisfaction_none"))
    else:
        texts.append(
            Text(
                "scheduler.cco_digest.satisfaction",
                percent=f"{week.satisfaction_rate * 100:.1f}",
                answers=week.satisfaction_answers,
            )
        )
    if week.review_average is None:
        texts.append(Text("scheduler.cco_digest.reviews_none", week=days))
    else:
        texts.append(
            Text(
                "scheduler.cco_digest.reviews",
                week=days,
                count=week.reviews,
                average=f"{week.review_average:.1f}",
            )
        )
        texts.extend(week.review_lines)
    if week.held_pushes:
        texts.append(Text("scheduler.cco_digest.held", count=week.held_pushes))
    if console_url:
        path = (
            "/console/national" if hub.kind is HubKind.HQ else f"/console/hubs/{hub.code}/dashboard"
        )
        texts.append(Text("scheduler.cco_digest.dashboard", url=console_url.rstrip("/") + path))
    return OutgoingMessage(texts=tuple(texts))


async def weekly_digests(
    session: AsyncSession, *, now: datetime, console_url: str | None = None
) -> int:
    """Queue this week's summary for the CCOs of every active hub; answers rows queued."""
    queued = 0
    hubs = await session.scalars(select(Hub).where(Hub.active.is_(True)).order_by(Hub.id))
    for hub in list(hubs):
        scope = None if hub.kind is HubKind.HQ else hub.id
        week = await hub_week(session, scope, now=now)
        queued += await notify_cco(
            session,
            hub,
            digest_message(hub, week, now=now, console_url=console_url),
            key=f"cco_weekly:{hub.id}:{week_key(now)}",
            now=now,
        )
    return queued
