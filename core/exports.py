"""A hub's records for a fiscal year as tables: what the CSV and XLSX exports write.

The rows come from the same records the figures count (core.dashboard), so an export and
the dashboard agree. Every export of personal data is written to the audit log with who,
which hub, which year and how many rows, never the rows themselves.

Column headers are catalog texts (export.column.*), Japanese first. DOMAIN.md does not give
the records system's own column names, so these are ours; a hub that needs its system's
exact headers can rename them in the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.dashboard import MONTHS, Figure, HubYear, hub_year
from core.db.models import (
    AuditLog,
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    PartnerOrganisation,
    Survey,
    SurveyAnswer,
)
from core.domain.enums import ActorKind
from core.i18n import Text
from core.surveys.aggregate import fiscal_year_days


class Export(StrEnum):
    CONSULTATIONS = "consultations"
    CASES = "cases"
    REFERRALS = "referrals"
    SURVEYS = "surveys"


@dataclass(frozen=True)
class Table:
    header: tuple[Text, ...]
    rows: Sequence[tuple[str | int | float, ...]]


def _h(*names: str) -> tuple[Text, ...]:
    return tuple(Text(f"export.column.{name}") for name in names)


async def export_table(
    session: AsyncSession, export: Export, *, hub_id: int, fiscal_year: int
) -> Table:
    year = await hub_year(session, hub_id=hub_id, fiscal_year=fiscal_year)
    match export:
        case Export.CONSULTATIONS:
            return await _consultations(session, year)
        case Export.CASES:
            return await _cases(session, year)
        case Export.REFERRALS:
            return Table(
                _h("date", "case_number", "organisation"),
                [
                    (r.on.isoformat(), r.case_number, await _org_name(session, r.organisation_id))
                    for r in year.referrals()
                ],
            )
        case Export.SURVEYS:
            return await _surveys(session, hub_id, fiscal_year)
    raise ValueError(export)


async def _org_name(session: AsyncSession, organisation_id: int | None) -> str:
    if organisation_id is None:
        return ""
    org = await session.get(PartnerOrganisation, organisation_id)
    return org.name if org is not None else ""


async def _consultations(session: AsyncSession, year: HubYear) -> Table:
    lines = year.consultations()
    names = await _business_names(session, {line.business_id for line in lines})
    return Table(
        _h(
            "date",
            "case_number",
            "business",
            "coordinator",
            "minutes",
            "issues",
            "result_confirmed",
            "joint",
        ),
        [
            (
                line.held_on.isoformat(),
                line.case_number,
                names.get(line.business_id or 0, ""),
                line.co_name,
                line.minutes,
                "、".join(line.issues),
                1 if line.result_confirmed else 0,
                1 if line.joint else 0,
            )
            for line in lines
        ],
    )


async def _business_names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Business.id, Business.name).where(Business.id.in_(wanted)))
    return dict(rows.tuples().all())


async def _cases(session: AsyncSession, year: HubYear) -> Table:
    case_ids = sorted({line.case_id for line in year.consultations()})
    rows = []
    if case_ids:
        found = await session.execute(
            select(Case, Business.name, Coordinator.name)
            .outerjoin(Business, Business.id == Case.business_id)
            .outerjoin(Coordinator, Coordinator.id == Case.assigned_co_id)
            .where(Case.id.in_(case_ids))
            .order_by(Case.id)
        )
        for case, business, co in found.tuples().all():
            rows.append(
                (
                    case.number,
                    business or "",
                    case.status.value,
                    case.source.value,
                    "、".join(case.topics or []),
                    co or "",
                    case.created_at.date().isoformat(),
                )
            )
    return Table(
        _h("case_number", "business", "status", "source", "topics", "coordinator", "opened"), rows
    )


async def _surveys(session: AsyncSession, hub_id: int, fiscal_year: int) -> Table:
    first, last = fiscal_year_days(fiscal_year)
    found = await session.execute(
        select(
            Case.number,
            ConsultationRecord.held_on,
            SurveyAnswer.question,
            cast(SurveyAnswer.value, String),
        )
        .join(Survey, Survey.id == SurveyAnswer.survey_id)
        .join(ConsultationRecord, ConsultationRecord.id == Survey.consultation_id)
        .join(Case, Case.id == Survey.case_id)
        .where(
            ConsultationRecord.hub_id == hub_id,
            ConsultationRecord.held_on >= first,
            ConsultationRecord.held_on <= last,
        )
        .order_by(ConsultationRecord.held_on, SurveyAnswer.id)
    )
    return Table(
        _h("case_number", "date", "question", "answer"),
        [(n, d.isoformat(), q, (v or "").strip('"')) for n, d, q, v in found.tuples().all()],
    )


def figures_by_month(year: HubYear) -> Table:
    """The eight figures per month and for the year, as the XLSX workbook holds them."""
    months = (Text("export.column.month", month=m) for m in MONTHS)
    header = (Text("export.column.figure"), *months)
    rows: list[tuple[str | int | float, ...]] = []
    for figure in Figure:
        values = [round(year.value(figure, m), 2) for m in MONTHS]
        rows.append((figure.value, *values, round(year.value(figure), 2)))
    return Table((*header, Text("export.column.year_total")), rows)


def audit_export(
    session: AsyncSession,
    export: str,
    *,
    hub_id: int,
    fiscal_year: int,
    rows: int,
    actor_kind: ActorKind,
    actor_id: int | None,
    now: datetime,
) -> None:
    session.add(
        AuditLog(
            at=now,
            actor_kind=actor_kind,
            actor_id=actor_id,
            action="export.downloaded",
            hub_id=hub_id,
            details={"export": export, "fiscal_year": fiscal_year, "rows": rows},
        )
    )
