"""A partner hands a case to the hub (つなぐ): the form's rules, 名寄せ, and what is written.

Partner staff (経営指導員, bank officers) know the owner and hand the case over with the
owner's consent; without that consent nothing may be passed on, so the form refuses to go
through and says so on the consent field. A business that already has an open case is not
given a twin: the staff member is shown the case that exists, because two COs working one
business from two cases is exactly the shallow cooperation partners complain about.

Validation is pure (it runs inside Slack's 3-second ack); `hand_over` runs later in the
worker, inside the inbox row's transaction, so the case, its consent, the referral, the queue
entry and the messages commit together or not at all (invariants 2 and 4).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import fiscal_year
from core.coordinators.cards import post_queue_card
from core.db.models import (
    AuditLog,
    Business,
    Case,
    CaseStatusHistory,
    ConsentRecord,
    Hub,
    PartnerStaff,
    Person,
    PersonBusiness,
    Referral,
)
from core.dedup.matching import BusinessFacts, MatchReason, find_match, name_key
from core.domain.corporate_number import corporate_number_problem, normalize_corporate_number
from core.domain.enums import (
    OPEN_CASE_STATUSES,
    ActorKind,
    CaseSource,
    CaseStatus,
    ConsentNotice,
    Platform,
    ReferralDirection,
    ReferralStatus,
)
from core.domain.industries import Industry
from core.domain.topics import Topic
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox.store import add_message
from core.owners.cases import add_numbered_case, case_number_prefix, hub_display_name
from core.queues.port import HubQueue, QueueEntry
from core.routing.hubs import route_to_hub
from core.routing.prefectures import BY_CODE
from core.text.normalize import fold_whitespace, nfkc, normalize_phone

HANDOVER_NOTICE_VERSION: Final = "2026-04"
"""The hand-over consent wording partners read out to the owner; bump it when it changes."""

DEFAULT_TEAM: Final = "default"
"""The outbox channel for a Slack workspace whose team id we do not know (one workspace)."""

MAX_NAME: Final = 200
MAX_SHORT: Final = 100
MAX_DESCRIPTION: Final = 3000
"""Slack's plain_text_input allows 3,000 characters; the form promises no more."""
MAX_EMPLOYEES: Final = 1_000_000
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")


class HandoverField(StrEnum):
    """The form's fields; the Slack modal uses these as block ids, so errors land on them."""

    BUSINESS_NAME = "business_name"
    CORPORATE_NUMBER = "corporate_number"
    PREFECTURE = "prefecture"
    MUNICIPALITY = "municipality"
    CONTACT_NAME = "contact_name"
    PHONE = "phone"
    EMAIL = "email"
    INDUSTRY = "industry"
    EMPLOYEES = "employees"
    TOPICS = "topics"
    DESCRIPTION = "description"
    URGENCY = "urgency"
    CONSENT = "consent"
    SIT_IN = "sit_in"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


URGENCY_PRIORITY: Final[Mapping[Urgency, int]] = {Urgency.NORMAL: 50, Urgency.URGENT: 20}
"""Queue priority (lower first). Normal waits with LINE intakes (50); urgent goes ahead of
them but stays behind anything a CCO escalates by hand (below 20)."""


@dataclass(frozen=True)
class RawHandover:
    """The form as submitted: strings as typed, option values as chosen, nothing checked."""

    business_name: str | None = None
    corporate_number: str | None = None
    prefecture: str | None = None
    municipality: str | None = None
    contact_name: str | None = None
    phone: str | None = None
    email: str | None = None
    industry: str | None = None
    employees: str | None = None
    topics: tuple[str, ...] = ()
    description: str | None = None
    urgency: str | None = None
    owner_consented: bool = False
    sit_in: bool = False


@dataclass(frozen=True)
class HandoverForm:
    """A hand-over that passed every rule, in canonical forms (phone digits-only, JIS code)."""

    business_name: str
    prefecture: str
    contact_name: str
    topics: tuple[Topic, ...]
    municipality: str | None = None
    corporate_number: str | None = None
    phone: str | None = None
    email: str | None = None
    industry: Industry | None = None
    employees: int | None = None
    description: str | None = None
    urgency: Urgency = Urgency.NORMAL
    sit_in: bool = False

    @property
    def priority(self) -> int:
        return URGENCY_PRIORITY[self.urgency]

    def to_payload(self) -> dict[str, Any]:
        """JSON for the inbox row; the owner's consent is implied (only valid forms get here)."""
        return {
            "business_name": self.business_name,
            "prefecture": self.prefecture,
            "contact_name": self.contact_name,
            "topics": [topic.value for topic in self.topics],
            "municipality": self.municipality,
            "corporate_number": self.corporate_number,
            "phone": self.phone,
            "email": self.email,
            "industry": self.industry.value if self.industry else None,
            "employees": self.employees,
            "description": self.description,
            "urgency": self.urgency.value,
            "sit_in": self.sit_in,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> HandoverForm:
        return cls(
            business_name=str(data["business_name"]),
            prefecture=str(data["prefecture"]),
            contact_name=str(data["contact_name"]),
            topics=tuple(Topic(value) for value in data.get("topics", [])),
            municipality=data.get("municipality"),
            corporate_number=data.get("corporate_number"),
            phone=data.get("phone"),
            email=data.get("email"),
            industry=Industry(data["industry"]) if data.get("industry") else None,
            employees=data.get("employees"),
            description=data.get("description"),
            urgency=Urgency(data.get("urgency") or Urgency.NORMAL),
            sit_in=bool(data.get("sit_in", False)),
        )


@dataclass(frozen=True)
class Validation:
    form: HandoverForm | None
    errors: Mapping[str, Text] = field(default_factory=dict)
    """Field (block id) → what to fix, shown under that field."""

    @property
    def ok(self) -> bool:
        return self.form is not None


def _err(name: str, **params: str | int) -> Text:
    return Text(f"partners.error.{name}", **params)


def _clean(text: str | None) -> str | None:
    folded = fold_whitespace(text or "")
    return folded or None


def validate_handover(raw: RawHandover) -> Validation:
    """Check the form the way the hub needs it: who, where, how to reach them, what, consent.

    Every problem is reported at once, each on its own field, so the staff member fixes the
    form in one go instead of discovering the rules one submission at a time.
    """
    errors: dict[str, Text] = {}
    f = HandoverField

    name = _clean(raw.business_name)
    if name is None:
        errors[f.BUSINESS_NAME] = _err("business_name_required")
    elif len(name) > MAX_NAME or not name_key(name):
        errors[f.BUSINESS_NAME] = _err("business_name_invalid", limit=MAX_NAME)

    corporate_number = None
    if _clean(raw.corporate_number) is not None:
        corporate_number = normalize_corporate_number(raw.corporate_number or "")
        problem = corporate_number_problem(raw.corporate_number or "")
        if problem is not None:
            kind, count = problem
            if kind == "length":
                errors[f.CORPORATE_NUMBER] = _err("corporate_number_length", count=count)
            elif kind == "not_digits":
                errors[f.CORPORATE_NUMBER] = _err("corporate_number_not_digits")
            else:
                errors[f.CORPORATE_NUMBER] = _err("corporate_number_invalid")

    prefecture = _clean(raw.prefecture)
    if prefecture is None:
        errors[f.PREFECTURE] = _err("prefecture_required")
    elif prefecture not in BY_CODE:
        errors[f.PREFECTURE] = _err("prefecture_invalid")

    municipality = _clean(raw.municipality)
    if municipality is not None and len(municipality) > MAX_SHORT:
        errors[f.MUNICIPALITY] = _err("too_long", limit=MAX_SHORT)

    contact = _clean(raw.contact_name)
    if contact is None:
        errors[f.CONTACT_NAME] = _err("contact_name_required")
    elif len(contact) > MAX_SHORT:
        errors[f.CONTACT_NAME] = _err("too_long", limit=MAX_SHORT)

    phone = None
    if _clean(raw.phone) is not None:
        phone = normalize_phone(raw.phone or "")
        if phone is None:
            errors[f.PHONE] = _err("phone_invalid")
    email = None
    typed_email = _clean(raw.email)
    if typed_email is not None:
        email = nfkc(typed_email).replace(" ", "")
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            errors[f.EMAIL] = _err("email_invalid")
            email = None
    if _clean(raw.phone) is None and typed_email is None:
        errors[f.PHONE] = _err("contact_required")

    industry = None
    if raw.industry:
        try:
            industry = Industry(raw.industry)
        except ValueError:
            errors[f.INDUSTRY] = _err("choice_invalid")

    employees = None
    if _clean(raw.employees) is not None:
        digits = nfkc(raw.employees or "").strip().replace(",", "")
        if not digits.isdigit() or int(digits) > MAX_EMPLOYEES:
            errors[f.EMPLOYEES] = _err("employees_invalid")
        else:
            employees = int(digits)

    topics: list[Topic] = []
    for value in raw.topics:
        try:
            topic = Topic(value)
        except ValueError:
            errors[f.TOPICS] = _err("choice_invalid")
            break
        if topic not in topics:
            topics.append(topic)
    if not raw.topics:
        errors[f.TOPICS] = _err("topics_required")

    description = (raw.description or "").strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION:
        errors[f.DESCRIPTION] = _err("too_long", limit=MAX_DESCRIPTION)

    urgency = Urgency.NORMAL
    if raw.urgency:
        try:
            urgency = Urgency(raw.urgency)
        except ValueError:
            errors[f.URGENCY] = _err("choice_invalid")

    if not raw.owner_consented:
        errors[f.CONSENT] = _err("consent_required")

    if errors:
        return Validation(form=None, errors=errors)
    assert name is not None
    assert prefecture is not None
    assert contact is not None
    return Validation(
        form=HandoverForm(
            business_name=name,
            prefecture=prefecture,
            contact_name=contact,
            topics=tuple(topics),
            municipality=municipality,
            corporate_number=corporate_number,
            phone=phone,
            email=email,
            industry=industry,
            employees=employees,
            description=description,
            urgency=urgency,
            sit_in=raw.sit_in,
        )
    )


# -- the hand-over itself --------------------------------------------------------------------


@dataclass(frozen=True)
class HandoverOutcome:
    case_id: int
    case_number: str
    status: CaseStatus
    hub_id: int
    business_id: int | None
    existing: bool
    """True when the business already had an open case: nothing new was created."""
    match: MatchReason | None
    """Why an existing business was taken (名寄せ); None for a new business."""
    referral_id: int | None = None


async def hand_over(
    session: AsyncSession,
    form: HandoverForm,
    *,
    staff_id: int,
    now: datetime,
    queue: HubQueue | None = None,
) -> HandoverOutcome:
    """Turn a valid hand-over into a queued case, or point at the open case that exists.

    Writes, in the caller's transaction: the business (new or 名寄せ'd), the contact person,
    the per-case hand-over consent, the case and its first history row, the referral from
    the partner, an audit row (ids only), the queue entry, the hub's card and the staff
    member's confirmation DM.
    """
    staff = await session.get(PartnerStaff, staff_id)
    if staff is None:
        raise LookupError(f"no partner staff {staff_id}")
    route = route_to_hub(form.prefecture, None)
    hub = await session.scalar(select(Hub).where(Hub.code == route.hub_code))
    if hub is None:
        raise LookupError(f"no hub with code {route.hub_code!r}: is the hub seed loaded?")

    business, match = await _matching_business(session, form)
    if business is not None:
        open_case = await session.scalar(
            select(Case)
            .where(Case.business_id == business.id, Case.status.in_(OPEN_CASE_STATUSES))
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(1)
        )
        if open_case is not None:
            return await _point_at_existing(
                session, open_case, business, staff, match=match, now=now
            )
        _refresh(business, form, now)
    else:
        business = Business(
            name=form.business_name,
            name_key=name_key(form.business_name),
            corporate_number=form.corporate_number,
            prefecture_code=form.prefecture,
            municipality=form.municipality,
            industry=form.industry.value if form.industry else None,
            employees=form.employees,
            phone=form.phone,
            founding_planned=False,
            created_at=now,
            updated_at=now,
        )
        session.add(business)
        await session.flush()

    person = await _contact_person(session, business, form)
    case = await add_numbered_case(
        session,
        case_number_prefix(hub.code, fiscal_year(now)),
        lambda number: Case(
            number=number,
            hub_id=hub.id,
            business_id=business.id,
            person_id=person.id,
            source=CaseSource.PARTNER,
            topics=[topic.value for topic in form.topics],
            description=form.description,
            status=CaseStatus.QUEUED,
            priority=form.priority,
            referring_staff_id=staff.id,
            sit_in_requested=form.sit_in,
            created_at=now,
            updated_at=now,
        ),
    )
    await session.flush()
    session.add(
        CaseStatusHistory(
            case_id=case.id,
            from_status=None,
            to_status=CaseStatus.QUEUED,
            at=now,
            actor_kind=ActorKind.PARTNER_STAFF,
            actor_id=staff.id,
        )
    )
    session.add(
        ConsentRecord(
            person_id=person.id,
            notice=ConsentNotice.HANDOVER,
            version=HANDOVER_NOTICE_VERSION,
            channel="slack",
            given=True,
            given_at=now,
            case_id=case.id,
        )
    )
    referral = Referral(
        case_id=case.id,
        direction=ReferralDirection.FROM_PARTNER,
        from_hub_id=hub.id,
        to_organisation_id=staff.organisation_id,
        status=ReferralStatus.SENT,
        created_at=now,
    )
    session.add(referral)
    await session.flush()
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.PARTNER_STAFF,
            actor_id=staff.id,
            action="case.created",
            case_id=case.id,
            hub_id=hub.id,
            # Ids and kinds only (invariant 9).
            details={
                "source": CaseSource.PARTNER.value,
                "route": route.reason.value,
                "business_id": business.id,
                "business_match": match.value if match else "new",
                "referral_id": referral.id,
                "organisation_id": staff.organisation_id,
                "urgency": form.urgency.value,
                "sit_in": form.sit_in,
            },
        )
    )
    await session.flush()
    if queue is not None:
        await queue.enqueue(QueueEntry(case.id, hub.code, form.priority, now))
    # The coordinators' card (claim, assign, transfer) in the hub's intake channel.
    await post_queue_card(session, case.id, now=now)
    await _confirm(session, staff, case, business, hub, form, now)
    return HandoverOutcome(
        case_id=case.id,
        case_number=case.number,
        status=case.status,
        hub_id=hub.id,
        business_id=business.id,
        existing=False,
        match=match,
        referral_id=referral.id,
    )


async def _matching_business(
    session: AsyncSession, form: HandoverForm
) -> tuple[Business | None, MatchReason | None]:
    """名寄せ within the prefecture: the same 法人番号, phone, or name (and place)."""
    key = name_key(form.business_name)
    same: list[Any] = [Business.name_key == key]
    if form.phone:
        same.append(Business.phone == form.phone)
    if form.corporate_number:
        same.append(Business.corporate_number == form.corporate_number)
    where = [Business.merged_into_id.is_(None), or_(*same)]
    if not form.corporate_number:
        where.append(Business.prefecture_code == form.prefecture)
    candidates: Sequence[Business] = (
        await session.scalars(select(Business).where(*where).order_by(Business.id))
    ).all()
    facts = BusinessFacts(
        name=form.business_name,
        corporate_number=form.corporate_number,
        phone=form.phone,
        prefecture_code=form.prefecture,
        municipality=form.municipality,
    )
    match = find_match(facts, [_facts(business) for business in candidates])
    if match is None:
        return None, None
    business = next(b for b in candidates if _facts(b) == match.record)
    return business, match.reason


def _facts(business: Business) -> BusinessFacts:
    return BusinessFacts(
        name=business.name,
        corporate_number=business.corporate_number,
        phone=business.phone,
        prefecture_code=business.prefecture_code,
        municipality=business.municipality,
    )


def _refresh(business: Business, form: HandoverForm, now: datetime) -> None:
    """The partner's word fills what the record lacks; it never overwrites the owner's own."""
    if form.municipality and not business.municipality:
        business.municipality = form.municipality
    if form.industry is not None and not business.industry:
        business.industry = form.industry.value
    if form.employees is not None and business.employees is None:
        business.employees = form.employees
    if form.phone and not business.phone:
        business.phone = form.phone
    if form.corporate_number and not business.corporate_number:
        business.corporate_number = form.corporate_number
    business.updated_at = now


async def _contact_person(session: AsyncSession, business: Business, form: HandoverForm) -> Person:
    """The contact the partner named; a person already linked to the business is reused when
    the phone, the e-mail or the name agrees, so one owner does not become two people."""
    linked = (
        await session.scalars(
            select(Person)
            .join(PersonBusiness, PersonBusiness.person_id == Person.id)
            .where(PersonBusiness.business_id == business.id, Person.erased_at.is_(None))
            .order_by(Person.id)
        )
    ).all()
    wanted_name = "".join(form.contact_name.split())
    for person in linked:
        if (
            (form.phone and person.phone == form.phone)
            or (form.email and person.email == form.email)
            or "".join((person.display_name or "").split()) == wanted_name
        ):
            person.phone = person.phone or form.phone
            person.email = person.email or form.email
            return person
    parts = form.contact_name.split(" ")
    person = Person(
        display_name=form.contact_name,
        family_name=parts[0] if len(parts) >= 2 else None,
        given_name=" ".join(parts[1:]) if len(parts) >= 2 else None,
        phone=form.phone,
        email=form.email,
    )
    session.add(person)
    await session.flush()
    session.add(PersonBusiness(person_id=person.id, business_id=business.id, role="contact"))
    await session.flush()
    return person


def staff_channel(staff: PartnerStaff) -> str:
    """The outbox channel (Slack team) through which this staff member is reached."""
    return staff.slack_team_id or DEFAULT_TEAM


def case_status_text(status: CaseStatus) -> Text:
    """The status as a partner reads it (担当者の決定待ち, 相談日確定, ...)."""
    return Text(f"partners.status.{status.value}")


async def _point_at_existing(
    session: AsyncSession,
    case: Case,
    business: Business,
    staff: PartnerStaff,
    *,
    match: MatchReason | None,
    now: datetime,
) -> HandoverOutcome:
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.PARTNER_STAFF,
            actor_id=staff.id,
            action="case.handover_matched_open_case",
            case_id=case.id,
            hub_id=case.hub_id,
            details={
                "business_id": business.id,
                "business_match": match.value if match else None,
                "organisation_id": staff.organisation_id,
            },
        )
    )
    if staff.slack_user_id:
        await add_message(
            session,
            platform=Platform.SLACK,
            channel_id=staff_channel(staff),
            recipient=staff.slack_user_id,
            message=OutgoingMessage(
                texts=(
                    Text(
                        "partners.existing.body",
                        business=business.name,
                        number=case.number,
                        status=case_status_text(case.status),
                    ),
                    Text("partners.existing.next"),
                )
            ),
            kind="slack_message",
            idempotency_key=f"handover:existing:{case.id}:{staff.id}:{now.isoformat()}",
            now=now,
            case_id=case.id,
            hub_id=case.hub_id,
        )
    return HandoverOutcome(
        case_id=case.id,
        case_number=case.number,
        status=case.status,
        hub_id=case.hub_id,
        business_id=business.id,
        existing=True,
        match=match,
    )


async def _confirm(
    session: AsyncSession,
    staff: PartnerStaff,
    case: Case,
    business: Business,
    hub: Hub,
    form: HandoverForm,
    now: datetime,
) -> None:
    if not staff.slack_user_id:
        return
    texts = [
        Text("partners.confirm.received", business=business.name, number=case.number),
        Text("partners.confirm.next", hub=hub_display_name(hub)),
    ]
    if form.sit_in:
        texts.append(Text("partners.confirm.sit_in"))
    texts.append(Text("partners.confirm.status_hint"))
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=staff_channel(staff),
        recipient=staff.slack_user_id,
        message=OutgoingMessage(texts=tuple(texts)),
        kind="slack_message",
        idempotency_key=f"handover:{case.id}:confirm",
        now=now,
        case_id=case.id,
        hub_id=hub.id,
    )
