"""The eight figures of the records system (カルテシステム), per hub and fiscal year.

The national dashboard shows these for every hub; they decide budgets, so each one counts
exactly what its definition (DOMAIN.md) says and nothing the staff could double-enter:

1. businesses after 名寄せ: distinct businesses consulted, a merged twin counted once
2. consultations held: consultation records
3. results confirmed: records with the result confirmed
4. referrals to other support organisations: the hub's hand-overs to a partner
5. consultations held together with another organisation: records with a partner attending
6. issues set: records with at least one issue set
7. consultation responses: every issue set, several per consultation
8. consultation time: minutes (shown as hours)

A consultation counts in the fiscal year (April to March) of its Japan-time date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import JST
from core.db.models import Business, Case, ConsultationRecord, Referral
from core.domain.enums import ReferralDirection
from core.surveys.aggregate import fiscal_year_days


@dataclass(frozen=True)
class HubFigures:
    businesses: int
    consultations: int
    results_confirmed: int
    referrals: int
    joint_consultations: int
    issues_set: int
    issue_responses: int
    minutes: int

    @property
    def hours(self) -> float:
        return self.minutes / 60


async def hub_figures(session: AsyncSession, *, hub_id: int, fiscal_year: int) -> HubFigures:
    first, last = fiscal_year_days(fiscal_year)
    held = [
        ConsultationRecord.hub_id == hub_id,
        ConsultationRecord.held_on >= first,
        ConsultationRecord.held_on <= last,
    ]
    consultations, confirmed, joint, minutes = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(ConsultationRecord.result_confirmed.is_(True)),
                func.count().filter(ConsultationRecord.co_attending_org_id.is_not(None)),
                func.coalesce(func.sum(ConsultationRecord.minutes), 0),
            ).where(*held)
        )
    ).one()
    # Merged twins count once: each consulted business is mapped to its survivor.
    consulted: set[int] = set(
        await session.scalars(
            select(distinct(func.coalesce(Case.business_id, 0)))  # never 0: filtered below
            .select_from(ConsultationRecord)
            .join(Case, Case.id == ConsultationRecord.case_id)
            .where(*held, Case.business_id.is_not(None))
        )
    )
    businesses = len(set((await business_survivors(session, consulted)).values()))
    # Issues are a JSON list per record: counted here, as JSON length differs by backend.
    issues_set = responses = 0
    for issues in await session.scalars(select(ConsultationRecord.issues).where(*held)):
        count = len([issue for issue in issues or [] if isinstance(issue, str) and issue.strip()])
        issues_set += 1 if count else 0
        responses += count
    start = datetime.combine(first, time(0), JST).astimezone(UTC)
    end = datetime(fiscal_year + 1, 4, 1, tzinfo=JST).astimezone(UTC)
    referrals = await session.scalar(
        select(func.count())
        .select_from(Referral)
        .where(
            Referral.from_hub_id == hub_id,
            Referral.direction == ReferralDirection.TO_PARTNER,
            Referral.created_at >= start,
            Referral.created_at < end,
        )
    )
    return HubFigures(
        businesses=businesses,
        consultations=int(consultations),
        results_confirmed=int(confirmed),
        referrals=int(referrals or 0),
        joint_consultations=int(joint),
        issues_set=issues_set,
        issue_responses=responses,
        minutes=int(minutes),
    )


async def business_survivors(session: AsyncSession, ids: set[int]) -> dict[int, int]:
    """Each business id mapped to the business it was finally merged into (itself if none).

    Merges can chain (a twin of a twin), so parents are followed until a business that was
    not merged; a cycle, which merging never writes, stops at the first repeat.
    """
    parent: dict[int, int | None] = {}
    todo = set(ids)
    while todo:
        rows = await session.execute(
            select(Business.id, Business.merged_into_id).where(Business.id.in_(todo))
        )
        found = dict(rows.tuples().all())
        parent.update(found)
        todo = {p for p in found.values() if p is not None and p not in parent}
    roots: dict[int, int] = {}
    for start in ids:
        current, seen = start, {start}
        while (up := parent.get(current)) is not None and up not in seen:
            seen.add(up)
            current = up
        roots[start] = current
    return roots
