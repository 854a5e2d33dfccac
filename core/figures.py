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
from datetime import UTC, date, datetime, time
from typing import Final

from sqlalchemy import ColumnElement, bindparam, func, select, text
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
    businesses = await _businesses(session, held)
    for hub, (issues_set, responses) in (await _issues(session, first, last, hub_ids)).items():
        entry = counts[hub]
        entry[4], entry[5] = issues_set, responses
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
            businesses=businesses.get(hub, 0),
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


async def _businesses(session: AsyncSession, held: list[ColumnElement[bool]]) -> dict[int, int]:
    """Distinct consulted businesses per hub, a merged twin counted once (名寄せ).

    The database counts distinct businesses; only the few that took part in a merge (a twin
    or the business it was merged into) are read back, to subtract the twins whose survivor
    the same hub also consulted. Exact, and no list of every business leaves the database.
    """
    distinct_counts = await session.execute(
        select(ConsultationRecord.hub_id, func.count(Case.business_id.distinct()))
        .join(Case, Case.id == ConsultationRecord.case_id)
        .where(*held, Case.business_id.is_not(None))
        .group_by(ConsultationRecord.hub_id)
    )
    result = {int(hub): int(count) for hub, count in distinct_counts.tuples().all()}
    roots = await business_survivors(session)
    involved = sorted(set(roots) | set(roots.values()))
    consulted: dict[int, set[int]] = {}
    for chunk in (involved[i : i + 5000] for i in range(0, len(involved), 5000)):
        pairs = await session.execute(
            select(ConsultationRecord.hub_id, Case.business_id)
            .join(Case, Case.id == ConsultationRecord.case_id)
            .where(*held, Case.business_id.in_(chunk))
            .distinct()
        )
        for hub, business in pairs.tuples().all():
            if business is not None:
                consulted.setdefault(int(hub), set()).add(int(business))
    for hub, seen in consulted.items():
        result[hub] -= len(seen) - len({roots.get(b, b) for b in seen})
    return result


_BLANKS: Final = " \t\n\r\u3000"
"""What an issue may consist of and still be blank (the outcome modal strips it, but the
count must not depend on that): spaces, tabs, newlines and the ideographic space."""

_ISSUES_SQL: Final = {
    "postgresql": """
        SELECT cr.hub_id, count(DISTINCT cr.id), count(*)
        FROM consultation_records cr, json_array_elements(cr.issues) AS e(item)
        WHERE cr.held_on BETWEEN :first AND :last {hubs}
          AND json_typeof(e.item) = 'string' AND btrim(e.item #>> '{{}}', :blanks) <> ''
        GROUP BY cr.hub_id""",
    "sqlite": """
        SELECT cr.hub_id, count(DISTINCT cr.id), count(*)
        FROM consultation_records cr, json_each(cr.issues) AS e
        WHERE cr.held_on BETWEEN :first AND :last {hubs}
          AND e.type = 'text' AND trim(e.value, :blanks) <> ''
        GROUP BY cr.hub_id""",
}
"""Issues set and consultation responses per hub, counted by the database: each backend
unnests a JSON list its own way, so the statement is written once per backend."""


async def _issues(
    session: AsyncSession, first: date, last: date, hub_ids: Sequence[int] | None
) -> dict[int, tuple[int, int]]:
    dialect = session.get_bind().dialect.name
    statement = text(
        _ISSUES_SQL[dialect].format(hubs="AND cr.hub_id IN :hubs" if hub_ids is not None else "")
    ).bindparams(first=first, last=last, blanks=_BLANKS)
    if hub_ids is not None:
        statement = statement.bindparams(bindparam("hubs", value=list(hub_ids), expanding=True))
    rows = await session.execute(statement)
    return {int(hub): (int(records), int(issues)) for hub, records, issues in rows.tuples().all()}


async def business_survivors(session: AsyncSession, ids: set[int] | None = None) -> dict[int, int]:
    """Each business id mapped to the business it was finally merged into (itself if none);
    without `ids`, every merged business.

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
    for start in set(parent) if ids is None else ids:
        current, seen = start, {start}
        while (up := parent.get(current)) is not None and up not in seen:
            seen.add(up)
            current = up
        roots[start] = current
    return roots
