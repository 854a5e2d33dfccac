"""Who a privacy request is about: the person rows found by what the requester can tell us.

A LINE user id, a phone number (any way it is written: normalised as the intake and the
hand-over store it), an e-mail, a name together with the business's name, or a case number.
One human can be more than one row (an owner on LINE and the contact a partner entered in
the hand-over form), so every row that matches is answered, each with what matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Business, Case, ChannelIdentity, Person, PersonBusiness
from core.dedup.matching import name_key as business_key
from core.erasure import name_key
from core.text.normalize import nfkc, normalize_phone


class BadQuery(ValueError):
    """The request says nothing we can look for, or says it in a form we cannot read."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        """A catalog key under privacy.find.error (no personal data)."""


@dataclass(frozen=True)
class Query:
    line_user_id: str | None = None
    phone: str | None = None
    email: str | None = None
    name: str | None = None
    business: str | None = None
    """Only with `name`: a name alone would find strangers."""
    case_number: str | None = None


@dataclass
class PersonMatch:
    person_id: int
    matched_by: set[str] = field(default_factory=set)
    """line_user_id, phone, email, name_business, case_number."""
    display_name: str | None = None
    erased: bool = False
    case_numbers: list[str] = field(default_factory=list)
    businesses: list[str] = field(default_factory=list)


async def _people_of_business(session: AsyncSession, business: str) -> set[int]:
    key = business_key(business)
    if not key:
        return set()
    ids = select(Business.id).where(Business.name_key == key)
    linked = set(
        await session.scalars(
            select(PersonBusiness.person_id).where(PersonBusiness.business_id.in_(ids))
        )
    )
    linked |= {
        pid
        for pid in await session.scalars(
            select(Case.person_id).where(Case.business_id.in_(ids), Case.person_id.is_not(None))
        )
        if pid is not None
    }
    return linked


async def find_people(session: AsyncSession, query: Query) -> list[PersonMatch]:
    """Every person row the query points at, oldest first (erased ones too, marked)."""
    found: dict[int, PersonMatch] = {}

    def hit(person_id: int, how: str) -> None:
        found.setdefault(person_id, PersonMatch(person_id)).matched_by.add(how)

    asked = False
    if query.line_user_id and query.line_user_id.strip():
        asked = True
        for pid in await session.scalars(
            select(ChannelIdentity.person_id).where(
                ChannelIdentity.external_user_id == query.line_user_id.strip()
            )
        ):
            hit(pid, "line_user_id")
    if query.phone and query.phone.strip():
        asked = True
        phone = normalize_phone(query.phone)
        if phone is None:
            raise BadQuery("phone")
        for pid in await session.scalars(select(Person.id).where(Person.phone == phone)):
            hit(pid, "phone")
    if query.email and query.email.strip():
        asked = True
        email = nfkc(query.email).replace(" ", "").lower()
        if "@" not in email:
            raise BadQuery("email")
        for pid in await session.scalars(
            select(Person.id).where(func.lower(Person.email) == email)
        ):
            hit(pid, "email")
    if query.name and query.name.strip():
        asked = True
        if not (query.business and query.business.strip()):
            raise BadQuery("name_needs_business")
        wanted = name_key(nfkc(query.name))
        candidates = await _people_of_business(session, query.business)
        if candidates:
            for person in await session.scalars(
                select(Person).where(Person.id.in_(sorted(candidates)))
            ):
                names = {
                    name_key(nfkc(person.display_name or "")),
                    name_key(nfkc(f"{person.family_name or ''}{person.given_name or ''}")),
                }
                if wanted in names:
                    hit(person.id, "name_business")
    elif query.business and query.business.strip():
        raise BadQuery("business_needs_name")
    if query.case_number and query.case_number.strip():
        asked = True
        number = nfkc(query.case_number).strip()
        for owner in await session.scalars(select(Case.person_id).where(Case.number == number)):
            if owner is not None:
                hit(owner, "case_number")
    if not asked:
        raise BadQuery("empty")
    for match in found.values():
        await describe(session, match)
    return [found[pid] for pid in sorted(found)]


async def describe(session: AsyncSession, match: PersonMatch) -> None:
    """Fill in what the operator needs to tell the rows apart."""
    person = await session.get(Person, match.person_id)
    if person is None:
        return
    match.erased = person.erased_at is not None
    match.display_name = person.display_name or (
        " ".join(p for p in (person.family_name, person.given_name) if p) or None
    )
    match.case_numbers = list(
        await session.scalars(
            select(Case.number).where(Case.person_id == person.id).order_by(Case.id)
        )
    )
    match.businesses = list(
        await session.scalars(
            select(Business.name)
            .where(
                or_(
                    Business.id.in_(
                        select(PersonBusiness.business_id).where(
                            PersonBusiness.person_id == person.id
                        )
                    ),
                    Business.id.in_(select(Case.business_id).where(Case.person_id == person.id)),
                )
            )
            .order_by(Business.id)
        )
    )
