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

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, time
from typing import Final

from sqlalchemy import ColumnElement, func, select
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


EMPTY: Final = HubFigures(0, 0, 0, 0, 0, 0, 0, 0)


def sum_figures(items: Iterable[HubFigures]) -> HubFigures:
    """Hubs added together (the national line): a business consulted at two hubs counts
    at each, as each hub's own records system counts it."""
    total = EMPTY
    for one in items:
        total = HubFigures(*(a + b for a, b in zip(astuple(total), astuple(one), strict=True)))
    return total


async def hub_figures(session: AsyncSession, *, hub_id: int, fiscal_year: int) -> HubFigures:
    return (await figures_by_hub(session, fiscal_year=fiscal_year, hub_ids=[hub_id])).get(
        hub_id, EMPTY
    )


async def figures_by_hub(
    session: AsyncSession, *, fiscal_year: int, hub_ids: Sequence[int] | None = None
) -> dict[int, HubFigures]:
    """The eight figures of every hub (or of `hub_ids`) in one pass per kind of record.

    The national roll-up and a hub's own page use this same function, so a hub's line in the
    roll-up is its page's figures by construction. Hubs without any record are left out.
    """
    first, last = fiscal_year_days(fiscal_year)
    held: list[ColumnElement[bool]] = [
        ConsultationRecord.held_on >= first,
        ConsultationRecord.held_on <= last,
    ]
    if hub_ids is not None:
        held.append(ConsultationRecord.hub_id.in_(list(hub_ids)))
    counts: dict[int, list[int]] = {}
    rows = await session.execute(
        select(
            ConsultationRecord.hub_id,
            func.count(),
            func.count().filter(ConsultationRecord.result_confirmed.is_(True)),
            func.count().filter(ConsultationRecord.co_attending_org_id.is_not(None)),
            func.coalesce(func.sum(ConsultationRecord.minutes), 0),
        )
        .where(*held)
        .group_by(ConsultationRecord.hub_id)
    )
    for hub, consultations, confirmed, joint, minutes in rows.tuples().all():
        # consultations, confirmed, joint, minutes, issues set, responses, referrals
        counts[int(hub)] = [int(consultations), int(confirmed), int(joint), int(minutes), 0, 0, 0]
    # Merged twins count once: each consulted business is mapped to its survivor.
    consulted: dict[int, set[int]] = {}
    pairs = await session.execute(
        select(ConsultationRecord.hub_id, Case.business_id)
        .join(Case, Case.id == ConsultationRecord.case_id)
        .where(*held, Case.business_id.is_not(None))
        .distinct()
    )
    for hub, business in pairs.tuples().all():
        if business is not None:
            consulted.setdefault(int(hub), set()).add(int(business))
    roots = await business_survivors(session, set().union(*consulted.values()))
    # Issues are a JSON list per record: counted here, as JSON length differs by backend.
    issues = await session.execute(
        select(ConsultationRecord.hub_id, ConsultationRecord.issues).where(*held)
    )
    for hub, listed in issues.tuples().all():
        count = len([issue for issue in listed or [] if isinstance(issue, str) and issue.strip()])
        entry = counts[int(hub)]
        entry[4] += 1 if count else 0
        entry[5] += count
    start = datetime.combine(first, time(0), JST).astimezone(UTC)
    end = datetime(fiscal_year + 1, 4, 1, tzinfo=JST).astimezone(UTC)
    referred: list[ColumnElement[bool]] = [
        Referral.direction == ReferralDirection.TO_PARTNER,
        Referral.created_at >= start,
        Referral.created_at < end,
    ]
    if hub_ids is not None:
        referred.append(Referral.from_hub_id.in_(list(hub_ids)))
    referrals = await session.execute(
        select(Referral.from_hub_id, func.count()).where(*referred).group_by(Referral.from_hub_id)
    )
    for hub, count in referrals.tuples().all():
        counts.setdefault(int(hub), [0, 0, 0, 0, 0, 0, 0])[6] = int(count)
    return {
        hub: HubFigures(
            businesses=len({roots[b] for b in consulted.get(hub, set())}),
            consultations=entry[0],
            results_confirmed=entry[1],
            referrals=entry[6],
            joint_consultations=entry[2],
            issues_set=entry[4],
            issue_responses=entry[5],
            minutes=entry[3],
        )
        for hub, entry in counts.items()
    }


async def business_survivors(session: AsyncSession, ids: set[int]) -> dict[int, int]:
    """Each business id mapped to the business it was finally merged into (itself if none).

    Merges can chain (a twin of a twin), so parents are followed until a business that was
    not merged; a cycle, which merging never writes, stops at the first repeat.
    """
    # Only merged businesses have a parent, and they are few (名寄せ finds twins, not
    # thousands): read those, never an IN list of every id (a national year has 250,000).
    merged = await session.execute(
        select(Business.id, Business.merged_into_id).where(Business.merged_into_id.is_not(None))
    )
    parent: dict[int, int | None] = dict(merged.tuples().all())
    roots: dict[int, int] = {}
    for start in ids:
        current, seen = start, {start}
        while (up := parent.get(current)) is not None and up not in seen:
            seen.add(up)
            current = up
        roots[start] = current
    return roots
