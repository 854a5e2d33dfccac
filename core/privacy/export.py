"""開示: everything we hold about a person, as data (JSON) and as a page they can read.

`export_person` reads every table that holds something of theirs: the person row, platform
identities, consents with the notice version each was given for, businesses, cases with their
history, conversation (case_messages), bookings and consultations, surveys with their answers,
reviews, and self-checks. Times are UTC ISO strings in the data and Japan time on the page.
`render_html` writes a self-contained Japanese page (no script, no outside links) whose labels
come from the message catalogs (privacy.export.*), so an English page is one locale away.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.db.models import (
    Booking,
    Business,
    Case,
    CaseMessage,
    CaseStatusHistory,
    ChannelIdentity,
    ConsentRecord,
    ConsultationRecord,
    CoReview,
    Hub,
    Person,
    PersonBusiness,
    SelfCheckResult,
    Survey,
    SurveyAnswer,
)
from core.i18n import Catalog, Text

SECTIONS: Final = (
    "person",
    "identities",
    "consents",
    "businesses",
    "cases",
    "status_history",
    "messages",
    "bookings",
    "consultations",
    "surveys",
    "survey_answers",
    "reviews",
    "selfchecks",
)
"""The export's parts, in the order the page shows them."""


def _value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _row(obj: Any, columns: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {**{name: _value(getattr(obj, name)) for name in columns}, **extra}


@dataclass(frozen=True)
class PersonExport:
    person_id: int
    generated_at: datetime
    sections: dict[str, list[dict[str, Any]]]

    def as_json(self) -> str:
        return json.dumps(
            {
                "person_id": self.person_id,
                "generated_at": self.generated_at.isoformat(),
                **self.sections,
            },
            ensure_ascii=False,
            indent=2,
        )

    @property
    def counts(self) -> dict[str, int]:
        """Rows per section: what the audit row may say about an export."""
        return {name: len(rows) for name, rows in self.sections.items()}


async def export_person(session: AsyncSession, person_id: int, *, now: datetime) -> PersonExport:
    """Everything held about the person; LookupError if there is no such person."""
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(f"no person {person_id}")
    s: dict[str, list[dict[str, Any]]] = {name: [] for name in SECTIONS}
    s["person"].append(
        _row(
            person,
            ("id", "display_name", "family_name", "given_name", "phone", "email", "locale"),
            erased_at=_value(person.erased_at),
        )
    )
    for identity in await session.scalars(
        select(ChannelIdentity)
        .where(ChannelIdentity.person_id == person_id)
        .order_by(ChannelIdentity.id)
    ):
        s["identities"].append(
            _row(
                identity,
                ("platform", "channel_id", "external_user_id", "followed", "created_at"),
                unfollowed_at=_value(identity.unfollowed_at),
            )
        )
    cases = list(
        await session.scalars(select(Case).where(Case.person_id == person_id).order_by(Case.id))
    )
    numbers = {case.id: case.number for case in cases}
    case_ids = list(numbers)
    for consent in await session.scalars(
        select(ConsentRecord)
        .where(ConsentRecord.person_id == person_id)
        .order_by(ConsentRecord.given_at, ConsentRecord.id)
    ):
        s["consents"].append(
            _row(
                consent,
                ("notice", "version", "channel", "given", "given_at", "withdrawn_at"),
                case_number=numbers.get(consent.case_id) if consent.case_id else None,
            )
        )
    business_ids = {
        *(
            await session.scalars(
                select(PersonBusiness.business_id).where(PersonBusiness.person_id == person_id)
            )
        ),
        *(case.business_id for case in cases if case.business_id is not None),
    }
    roles = dict(
        (
            await session.execute(
                select(PersonBusiness.business_id, PersonBusiness.role).where(
                    PersonBusiness.person_id == person_id
                )
            )
        )
        .tuples()
        .all()
    )
    if business_ids:
        for business in await session.scalars(
            select(Business).where(Business.id.in_(sorted(business_ids))).order_by(Business.id)
        ):
            s["businesses"].append(
                _row(
                    business,
                    (
                        "name",
                        "corporate_number",
                        "prefecture_code",
                        "municipality",
                        "industry",
                        "employees",
                        "phone",
                    ),
                    role=roles.get(business.id),
                )
            )
    hubs = {hub.id: hub.code for hub in await session.scalars(select(Hub))}
    for case in cases:
        s["cases"].append(
            _row(
                case,
                (
                    "number",
                    "source",
                    "kind",
                    "topics",
                    "description",
                    "status",
                    "created_at",
                    "closed_at",
                ),
                hub=hubs.get(case.hub_id),
            )
        )
    if case_ids:
        for history in await session.scalars(
            select(CaseStatusHistory)
            .where(CaseStatusHistory.case_id.in_(case_ids))
            .order_by(CaseStatusHistory.at, CaseStatusHistory.id)
        ):
            s["status_history"].append(
                _row(
                    history,
                    ("from_status", "to_status", "at", "note"),
                    case_number=numbers[history.case_id],
                )
            )
        for message in await session.scalars(
            select(CaseMessage)
            .where(CaseMessage.case_id.in_(case_ids))
            .order_by(CaseMessage.created_at, CaseMessage.id)
        ):
            s["messages"].append(
                _row(
                    message,
                    ("direction", "content_type", "body", "attachment", "status", "created_at"),
                    case_number=numbers[message.case_id],
                )
            )
        for booking in await session.scalars(
            select(Booking).where(Booking.case_id.in_(case_ids)).order_by(Booking.starts_at)
        ):
            s["bookings"].append(
                _row(
                    booking,
                    ("starts_at", "ends_at", "mode", "status", "location", "online_url"),
                    case_number=numbers[booking.case_id],
                )
            )
        for record in await session.scalars(
            select(ConsultationRecord)
            .where(ConsultationRecord.case_id.in_(case_ids))
            .order_by(ConsultationRecord.held_on, ConsultationRecord.id)
        ):
            s["consultations"].append(
                _row(
                    record,
                    ("held_on", "minutes", "issues", "advice_summary"),
                    case_number=numbers[record.case_id],
                )
            )
    surveys = list(
        await session.scalars(
            select(Survey)
            .where(or_(Survey.person_id == person_id, Survey.case_id.in_(case_ids or [-1])))
            .order_by(Survey.due_at, Survey.id)
        )
    )
    for survey in surveys:
        s["surveys"].append(
            _row(
                survey,
                ("kind", "status", "due_at", "answered_at"),
                case_number=numbers.get(survey.case_id),
            )
        )
    survey_ids = [survey.id for survey in surveys]
    if survey_ids:
        for answer in await session.scalars(
            select(SurveyAnswer)
            .where(SurveyAnswer.survey_id.in_(survey_ids))
            .order_by(SurveyAnswer.survey_id, SurveyAnswer.id)
        ):
            s["survey_answers"].append(_row(answer, ("question", "value", "answered_at")))
        for review in await session.scalars(
            select(CoReview).where(CoReview.survey_id.in_(survey_ids)).order_by(CoReview.id)
        ):
            s["reviews"].append(_row(review, ("stars", "comment", "created_at")))
    for check in await session.scalars(
        select(SelfCheckResult)
        .where(SelfCheckResult.person_id == person_id)
        .order_by(SelfCheckResult.created_at)
    ):
        s["selfchecks"].append(_row(check, ("kind", "answers", "result", "created_at")))
    return PersonExport(person_id=person_id, generated_at=now, sections=s)


def _shown(value: Any, catalog: Catalog, locale: str) -> str:
    """One value as a person reads it: Japan time, yes/no, JSON spelled out."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return catalog.render(Text("common.yes" if value else "common.no"), locale)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return to_jst(moment).strftime("%Y-%m-%d %H:%M")
        return value
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render_html(export: PersonExport, catalog: Catalog, locale: str = "ja") -> str:
    """The export as a readable page: one table per part, labels from the catalogs."""

    def t(key: str, **params: Any) -> str:
        return html.escape(catalog.render(Text(f"privacy.export.{key}", **params), locale))

    parts = [
        "<!doctype html>",
        f'<html lang="{html.escape(locale)}"><head><meta charset="utf-8">',
        f"<title>{t('title')}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}th,td{border:1px solid #999;padding:.3em .6em;text-align:left;"
        "vertical-align:top}th{background:#eee}</style></head><body>",
        f"<h1>{t('title')}</h1>",
        f"<p>{t('intro', at=to_jst(export.generated_at).strftime('%Y-%m-%d %H:%M'))}</p>",
    ]
    for name in SECTIONS:
        rows = export.sections.get(name, [])
        parts.append(f"<h2>{t('section.' + name)}</h2>")
        if not rows:
            parts.append(f"<p>{t('none')}</p>")
            continue
        columns = list(rows[0])
        parts.append("<table><tr>")
        parts.extend(f"<th>{t('field.' + column)}</th>" for column in columns)
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>")
            parts.extend(
                f"<td>{html.escape(_shown(row.get(column), catalog, locale))}</td>"
                for column in columns
            )
            parts.append("</tr>")
        parts.append("</table>")
    parts.append(f"<p>{t('footer')}</p></body></html>")
    return "\n".join(parts)
