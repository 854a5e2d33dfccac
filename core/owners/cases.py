"""A finished intake becomes a case: the business found or created, routed, numbered, queued.

The national figures count businesses after 名寄せ, so an owner who types ㈱さくら商店 for
a business the hub already knows as 株式会社さくら商店 must land on that record, not a new
one. The case is written in the caller's transaction (the owner's answer and the case commit
together); only the queue, which can be rebuilt from the cases table, lives outside it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import fiscal_year
from core.db.models import (
    AuditLog,
    Business,
    Case,
    CaseStatusHistory,
    Hub,
    Person,
    PersonBusiness,
)
from core.dedup.matching import BusinessFacts, MatchReason, find_match, name_key
from core.domain.enums import ActorKind, BookingMode, CaseSource, CaseStatus, DatePrecision
from core.domain.industries import Industry
from core.domain.topics import Topic
from core.i18n import Text
from core.owners.selfcheck import attach_to_case
from core.queues.port import HubQueue, QueueEntry
from core.routing.hubs import RouteDecision, route_to_hub
from core.routing.prefectures import prefecture_code
from core.text.normalize import fold_whitespace

QUEUE_PRIORITY: Final = 50
"""A case from LINE intake waits in the middle of the 0..99 range: nothing marks it urgent,
and a CCO can still put escalations ahead of it and housekeeping behind it."""

_NUMBER_ATTEMPTS: Final = 8
"""Two intakes finishing at once may pick the same number; the loser takes the next one."""
_SEQUENCE_DIGITS: Final = 6


@dataclass(frozen=True)
class IntakeAnswers:
    """What the owner told the intake, typed; None where the question was not asked."""

    business_name: str
    owner_name: str | None = None
    prefecture: str | None = None
    """As typed or stored (name or JIS code); routing reads either."""
    municipality: str | None = None
    industry: Industry | None = None
    employees: int | None = None
    founding_date: date | None = None
    founding_precision: DatePrecision | None = None
    founding_planned: bool = False
    topics: tuple[Topic, ...] = ()
    description: str | None = None
    mode: BookingMode | None = None


@dataclass(frozen=True)
class CreatedCase:
    case: Case
    business: Business
    hub: Hub
    route: RouteDecision
    matched: MatchReason | None
    """Why an existing business was taken (名寄せ); None when a new one was created."""


def case_number(hub_code: str, year: int, sequence: int) -> str:
    """ "13-2026-000042": what the owner quotes on the phone and the CO searches for."""
    return f"{case_number_prefix(hub_code, year)}{sequence:0{_SEQUENCE_DIGITS}d}"


def case_number_prefix(hub_code: str, year: int) -> str:
    return f"{hub_code}-{year}-"


def hub_display_name(hub: Hub) -> Text:
    if hub.prefecture_code is None:
        return Text("hub.hq")
    return Text("hub.name", prefecture=Text(f"prefecture.{hub.prefecture_code}"))


async def owner_business(session: AsyncSession, person_id: int) -> Business | None:
    """The business the person last spoke for, followed through any merge (名寄せ)."""
    business = await session.scalar(
        select(Business)
        .join(PersonBusiness, PersonBusiness.business_id == Business.id)
        .where(PersonBusiness.person_id == person_id)
        .order_by(PersonBusiness.id.desc())
        .limit(1)
    )
    return await _survivor(session, business) if business is not None else None


async def create_case_from_intake(
    session: AsyncSession,
    *,
    person: Person,
    answers: IntakeAnswers,
    channel_hub_id: int | None,
    now: datetime,
    queue: HubQueue | None = None,
) -> CreatedCase:
    """Record the request and put it in front of the right hub.

    `channel_hub_id` is the hub owning the LINE account (None for the national one): it
    decides only when the owner did not name a prefecture.
    """
    channel_hub = await session.get(Hub, channel_hub_id) if channel_hub_id is not None else None
    route = route_to_hub(answers.prefecture, channel_hub.code if channel_hub else None)
    hub = await session.scalar(select(Hub).where(Hub.code == route.hub_code))
    if hub is None:
        raise LookupError(f"no hub with code {route.hub_code!r}: is the hub seed loaded?")
    # A hub's own account serves its prefecture: without an answer that is where the business is.
    place = prefecture_code(answers.prefecture) if answers.prefecture else hub.prefecture_code

    business, matched = await find_or_create_business(
        session, answers, person_id=person.id, prefecture=place, now=now
    )
    _fill_name(person, answers.owner_name)
    await session.flush()
    await _link(session, person.id, business, planned=answers.founding_planned)
    await session.flush()

    topics = list(answers.topics)
    if answers.founding_planned and Topic.FOUNDING not in topics:
        # Not offered as a button (the 13th would not fit); a founder-to-be consults on it.
        topics.insert(0, Topic.FOUNDING)
    case = await open_queued_case(
        session,
        hub,
        lambda number: Case(
            number=number,
            hub_id=hub.id,
            business_id=business.id,
            person_id=person.id,
            source=CaseSource.LINE,
            topics=[topic.value for topic in topics],
            description=answers.description,
            preferred_mode=answers.mode,
            status=CaseStatus.QUEUED,
            created_at=now,
            updated_at=now,
        ),
        actor_id=person.id,
        now=now,
        queue=queue,
        # Ids and kinds only: the audit log never holds personal data (invariant 9).
        details={
            "source": CaseSource.LINE.value,
            "route": route.reason.value,
            "business_id": business.id,
            "business_match": matched.value if matched else "new",
            "preferred_mode": answers.mode.value if answers.mode else None,
        },
        # Self-checks the owner did before the case existed go to the CO with it.
        before_queue=lambda case: attach_to_case(session, person_id=person.id, case_id=case.id),
    )
    return CreatedCase(case=case, business=business, hub=hub, route=route, matched=matched)


async def find_or_create_business(
    session: AsyncSession,
    answers: IntakeAnswers,
    *,
    person_id: int,
    prefecture: str | None,
    now: datetime,
) -> tuple[Business, MatchReason | None]:
    """名寄せ: the business the answers describe, if the hub already has it; else a new one."""
    name = fold_whitespace(answers.business_name)
    key = name_key(name)
    candidates: list[Business] = []
    linked = await owner_business(session, person_id)
    if linked is not None:
        candidates.append(linked)
    if prefecture is not None and key:
        candidates.extend(
            await session.scalars(
                select(Business)
                .where(
                    Business.prefecture_code == prefecture,
                    Business.name_key == key,
                    Business.merged_into_id.is_(None),
                )
                .order_by(Business.id)
            )
        )
    facts = BusinessFacts(name=name, prefecture_code=prefecture, municipality=answers.municipality)
    match = find_match(facts, [_facts(business) for business in candidates])
    if match is not None:
        business = _by_facts(candidates, match.record)
        _update(business, answers, now)
        return business, match.reason
    business = Business(
        name=name,
        name_key=key,
        prefecture_code=prefecture,
        municipality=answers.municipality,
        founding_planned=False,
        created_at=now,
        updated_at=now,
    )
    _update(business, answers, now)
    session.add(business)
    return business, None


def _facts(business: Business) -> BusinessFacts:
    return BusinessFacts(
        name=business.name,
        corporate_number=business.corporate_number,
        phone=business.phone,
        prefecture_code=business.prefecture_code,
        municipality=business.municipality,
    )


def _by_facts(candidates: Sequence[Business], record: BusinessFacts) -> Business:
    # find_match hands back one of the records it was given; map it back to its row.
    return next(b for b in candidates if _facts(b) == record)


def _update(business: Business, answers: IntakeAnswers, now: datetime) -> None:
    """What the owner just said is the newest word on the business; gaps are filled too."""
    if answers.municipality and not business.municipality:
        business.municipality = answers.municipality
    if answers.industry is not None:
        business.industry = answers.industry.value
    if answers.employees is not None:
        business.employees = answers.employees
    if answers.founding_date is not None or answers.founding_planned:
        business.founding_date = answers.founding_date
        business.founding_precision = answers.founding_precision
        business.founding_planned = answers.founding_planned
    business.updated_at = now


async def _survivor(session: AsyncSession, business: Business) -> Business:
    seen = {business.id}
    while business.merged_into_id is not None:
        survivor = await session.get(Business, business.merged_into_id)
        if survivor is None or survivor.id in seen:
            break
        seen.add(survivor.id)
        business = survivor
    return business


def _fill_name(person: Person, owner_name: str | None) -> None:
    if not owner_name:
        return
    parts = fold_whitespace(owner_name).split(" ")
    person.display_name = " ".join(parts)
    if len(parts) >= 2:
        person.family_name, person.given_name = parts[0], " ".join(parts[1:])
    else:
        # One word: we cannot tell family from given name, and guessing would misaddress them.
        person.family_name = person.given_name = None


async def _link(
    session: AsyncSession, person_id: int, business: Business, *, planned: bool
) -> None:
    exists = await session.scalar(
        select(PersonBusiness.id).where(
            PersonBusiness.person_id == person_id, PersonBusiness.business_id == business.id
        )
    )
    if exists is None:
        role = "founder-to-be" if planned else "owner"
        session.add(PersonBusiness(person_id=person_id, business_id=business.id, role=role))


async def open_queued_case(
    session: AsyncSession,
    hub: Hub,
    build: Callable[[str], Case],
    *,
    actor_id: int,
    now: datetime,
    queue: HubQueue | None,
    details: dict[str, object],
    note: str | None = None,
    before_queue: Callable[[Case], Awaitable[object]] | None = None,
) -> Case:
    """An owner's new case, numbered, with its history and audit rows, queued and carded.

    One place for what every owner-side case needs, so the intake and a follow-up's
    相談したい cannot drift apart.
    """
    case = await add_numbered_case(session, case_number_prefix(hub.code, fiscal_year(now)), build)
    session.add(
        CaseStatusHistory(
            case_id=case.id,
            from_status=None,
            to_status=CaseStatus.QUEUED,
            at=now,
            actor_kind=ActorKind.PERSON,
            actor_id=actor_id,
            note=note,
        )
    )
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.PERSON,
            actor_id=actor_id,
            action="case.created",
            case_id=case.id,
            hub_id=hub.id,
            details=details,
        )
    )
    await session.flush()
    if before_queue is not None:
        await before_queue(case)
    if queue is not None:
        await queue.enqueue(QueueEntry(case.id, hub.code, QUEUE_PRIORITY, now))
    from core.coordinators.cards import post_queue_card  # cards read cases; imported late

    await post_queue_card(session, case.id, now=now)
    return case


async def add_numbered_case(
    session: AsyncSession, prefix: str, build: Callable[[str], Case]
) -> Case:
    """Insert the case under the next free number of its hub and fiscal year.

    The number is the highest taken plus one; two transactions racing for it meet at the
    unique constraint, and the loser's savepoint rolls back so it can take the next.
    """
    for _attempt in range(_NUMBER_ATTEMPTS):
        highest = await session.scalar(
            select(func.max(Case.number)).where(Case.number.like(f"{prefix}%"))
        )
        sequence = int(highest.removeprefix(prefix)) + 1 if highest else 1
        case = build(f"{prefix}{sequence:0{_SEQUENCE_DIGITS}d}")
        try:
            async with session.begin_nested():
                session.add(case)
        except IntegrityError:
            continue
        return case
    raise RuntimeError(f"no free case number under {prefix!r} after {_NUMBER_ATTEMPTS} tries")
