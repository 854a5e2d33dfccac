"""The CCO's weekly summary counts the reviews given last week, a Japan calendar week named
as people name it (12月1日〜7日), not an ISO week code nor a rolling seven days."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.slack.render import render_slack
from core.clock import ManualClock
from core.db.models import (
    Case,
    ConsultationRecord,
    Coordinator,
    CoReview,
    Hub,
    OutboxMessage,
    Person,
)
from core.db.session import unit_of_work
from core.digests import last_week, weekly_digests
from core.domain.enums import CaseSource, CaseStatus, CoRole
from core.i18n import Catalog
from core.messages import decode_message
from yorozu.seed import seed

MONDAY_0830_JST = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)  # Tuesday 8 Dec 08:30 JST
"""A day late (the job ran on Tuesday): the week summarised is still 11月30日〜12月6日."""


def test_last_week_is_the_japan_calendar_week_before_this_one() -> None:
    # Monday 8 December 2026, 00:30 in Tokyo is still Sunday in UTC.
    assert last_week(datetime(2026, 12, 6, 15, 30, tzinfo=UTC)) == (
        date(2026, 11, 30),
        date(2026, 12, 6),
    )
    assert last_week(datetime(2026, 12, 6, 14, 30, tzinfo=UTC)) == (
        date(2026, 11, 23),
        date(2026, 11, 29),
    )


async def test_reviews_count_in_the_japan_week_they_were_given(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock(MONDAY_0830_JST)
    given = [
        (datetime(2026, 11, 29, 14, 59, tzinfo=UTC), 1),  # Sun 29 Nov 23:59 JST: the week before
        (datetime(2026, 11, 29, 15, 0, tzinfo=UTC), 5),  # Mon 30 Nov 00:00 JST: counted
        (datetime(2026, 12, 6, 14, 59, tzinfo=UTC), 4),  # Sun 6 Dec 23:59 JST: counted
        (datetime(2026, 12, 6, 15, 0, tzinfo=UTC), 2),  # Mon 7 Dec 00:00 JST: this week
    ]
    async with unit_of_work(session_factory) as session:
        await seed(session, clock=clock)
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        cco = Coordinator(hub_id=hub.id, name="所長", role=CoRole.CCO, slack_user_id="U0CCO00013")
        co = Coordinator(hub_id=hub.id, name="相談員 田中", slack_user_id="U0CO000013")
        person = Person(display_name="山田")
        session.add_all([cco, co, person])
        await session.flush()
        case = Case(
            number="13-2026-000009",
            hub_id=hub.id,
            person_id=person.id,
            source=CaseSource.LINE,
            status=CaseStatus.CLOSED,
            created_at=given[0][0],
            updated_at=given[0][0],
        )
        session.add(case)
        await session.flush()
        for at, stars in given:
            record = ConsultationRecord(
                case_id=case.id,
                co_id=co.id,
                hub_id=hub.id,
                held_on=at.date(),
                minutes=60,
                created_at=at,
            )
            session.add(record)
            await session.flush()
            session.add(
                CoReview(consultation_id=record.id, co_id=co.id, stars=stars, created_at=at)
            )
        await weekly_digests(session, now=clock.now())
        cco_id = cco.id
    async with session_factory() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"%:co{cco_id}"))
        )
        assert row is not None
        text = "\n".join(
            render_slack(decode_message(item), "ja", Catalog.load())[0]
            for item in row.payload["messages"]
        )
    assert "東京都よろず支援拠点 週次サマリー（11月30日〜12月6日）" in text
    assert "-W" not in text
    assert "先週（11月30日〜12月6日）のコーディネーター評価：2件、平均 ★4.5" in text
