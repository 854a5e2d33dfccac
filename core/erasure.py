"""Erasure: what erasing a person's data means, for データを削除 and for retention (invariant 8).

Erasing blanks or replaces what identifies someone, and keeps every row that counts and
anonymous aggregates are made of: ids, statuses, dates, minutes, topics, issues, hubs, COs,
stars and satisfaction answers stay, so the eight figures (core.figures) and satisfaction
(core.surveys.aggregate) read the same before and after. Every statement is a set-based
UPDATE or DELETE whose WHERE skips what is already erased: running it again changes nothing,
and the counts it returns are rows actually erased.

A person (`erase_person`):

* `persons`: names, phone and e-mail blanked, `erased_at` set; consents marked withdrawn
  (the rows stay: they are the record of consent);
* `channel_identities`: the platform user id replaced by the tombstone "erased:<row id>",
  which is derived from nothing of theirs; someone who writes again is a new person;
* their `conversation_states` and `selfcheck_results` deleted;
* their `inbox_events` (found by the ordering key, which holds the platform user id): payload
  replaced by `ERASED_PAYLOAD`, ordering key by `ERASED_KEY`, error cleared; pending or dead
  ones marked ignored, so neither the worker nor a replay brings the data back; on a request,
  handled Slack hand-over forms that named them (same phone, e-mail or contact name) too;
* their LINE `outbox_messages`: waiting ones cancelled, and every one not being sent at this
  moment loses payload, recipient and ordering key (the same markers);
* their cases (`erase_cases`, which also erases the done Slack messages about them: cards,
  DMs) and their survey and review comments;
* on a request, what is still planned ends (core.privacy.planned: upcoming bookings cancelled
  and the CO told, planned surveys and follow-ups cancelled), and Slack's own copies of the
  messages about their cases are edited to the erased form or deleted through the outbox
  (core.privacy.slack);
* on a request, the other person rows that are the same human: a partner's hand-over contact
  for one of their businesses with the same phone, e-mail or name (core.partners.handover
  makes one when it cannot tell); each is erased the same way, with its own audit row;
* the phone of their businesses, when it is their number or nobody else (not erased) is linked
  to the business;
* one `person.erased` audit row: person id, why, and how many rows of each kind were erased.
  It holds nothing personal, so an operator who restores a backup taken before can read the
  ids from it and erase those people again.

What the answer to the request itself writes afterwards (the confirmation, the rich menu
link) needs the LINE user id until it is sent; the nightly retention run scrubs such rows
once sent (core.retention: outgoing messages to nobody we know).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import ColumnElement, case, delete, literal, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import (
    AuditLog,
    Booking,
    Business,
    Case,
    CaseMessage,
    CaseStatusHistory,
    ChannelIdentity,
    ConsentRecord,
    ConsultationRecord,
    ConversationStateRow,
    Coordinator,
    CoReview,
    InboxEvent,
    OutboxMessage,
    Person,
    PersonBusiness,
    Referral,
    SelfCheckResult,
    Survey,
    SurveyAnswer,
)
from core.domain.enums import ActorKind, InboxStatus, OutboxStatus, Platform
from core.privacy.planned import end_planned
from core.privacy.slack import SlackErasure, SlackTarget, cancel_waiting, erase_in_slack
from core.surveys.planning import COMMENT_QUESTION

ERASED_KEY: Final = "erased"
"""Replaces ordering keys and LINE recipients (both hold platform user ids). A row with this
ordering key is erased: that is also how the nightly sweeps skip what they already did."""
ERASED_PAYLOAD: Final[dict[str, Any]] = {"erased": True}
"""Replaces an inbox or outbox payload."""
TOMBSTONE_PREFIX: Final = "erased:"
PERSON_ERASED: Final = "person.erased"
"""The audit action of a person's erasure."""
OUTBOX_DONE: Final = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.CANCELLED)
"""Outgoing messages nobody will send again: their payload and recipient are no longer needed."""
_WAITING: Final = (OutboxStatus.PENDING, OutboxStatus.HELD)
_CHUNK: Final = 500
"""Ids per IN (...) list."""


class ErasureReason(StrEnum):
    REQUEST = "request"
    """The person asked (データを削除)."""
    RETENTION = "retention"
    """The retention period ran out (core.retention)."""


@dataclass
class Erasure:
    """What one erasure did: rows per kind (no personal data; goes into the audit row)."""

    fresh: bool = False
    """The person was not erased before."""
    counts: dict[str, int] = field(default_factory=dict)
    slack: list[SlackTarget] = field(default_factory=list)
    """The Slack messages queued to be edited or deleted (ids only)."""
    people: list[int] = field(default_factory=list)
    """Every person row erased: this one first, then the same human's other rows."""

    def add(self, kind: str, rows: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + rows

    @property
    def changed(self) -> bool:
        return self.fresh or any(self.counts.values())


def _rows(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _chunks(ids: Iterable[int]) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


async def scrub_inbox(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Erase the matching inbox events: payload and ordering key replaced, error cleared,
    pending or dead ones marked ignored. Answers how many rows it erased."""
    result = await session.execute(
        update(InboxEvent)
        .where(*where, InboxEvent.ordering_key != ERASED_KEY)
        .values(
            payload=dict(ERASED_PAYLOAD),
            ordering_key=ERASED_KEY,
            last_error=None,
            status=case(
                (
                    InboxEvent.status.in_((InboxStatus.PENDING, InboxStatus.DEAD)),
                    literal(InboxStatus.IGNORED.value),
                ),
                else_=InboxEvent.status,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return _rows(result)


async def scrub_outbox(session: AsyncSession, *where: ColumnElement[bool]) -> int:
    """Erase the matching outgoing messages that are done (sent, failed or cancelled): payload
    and ordering key replaced, and a LINE recipient (a user id) too; a Slack recipient is a
    channel, which the cards are found by, and stays. Answers how many rows it erased."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            *where,
            OutboxMessage.status.in_(OUTBOX_DONE),
            OutboxMessage.ordering_key != ERASED_KEY,
        )
        .values(
            payload=dict(ERASED_PAYLOAD),
            ordering_key=ERASED_KEY,
            reply_token=None,
            recipient=case(
                (OutboxMessage.platform == Platform.LINE, literal(ERASED_KEY)),
                else_=OutboxMessage.recipient,
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return _rows(result)


async def erase_cases(
    session: AsyncSession, case_ids: Sequence[int], *, before: datetime | None = None
) -> dict[str, int]:
    """Blank the free text of these cases; rows, statuses, dates and counts stay.

    The description, status-history notes, referral reasons and outcomes, booking places and
    online links, the consultations' advice notes (the CO's summary of a named person's
    affairs is theirs too), survey and review comments, the case's conversation (what the
    owner wrote to the hub and the COs answered, core.chat), and the payloads of the messages
    about the case that are done (cards, threads and DMs in Slack, pushes on LINE).
    """
    counts: dict[str, int] = dict.fromkeys(
        (
            "cases",
            "status_notes",
            "referrals",
            "bookings",
            "advice_notes",
            "survey_comments",
            "review_comments",
            "outbox_messages",
            "conversation",
        ),
        0,
    )
    for ids in _chunks(case_ids):
        statements: list[tuple[str, Any]] = [
            (
                "cases",
                update(Case)
                .where(Case.id.in_(ids), Case.description.is_not(None))
                .values(description=None),
            ),
            (
                "status_notes",
                update(CaseStatusHistory)
                .where(CaseStatusHistory.case_id.in_(ids), CaseStatusHistory.note.is_not(None))
                .values(note=None),
            ),
            (
                "referrals",
                update(Referral)
                .where(
                    Referral.case_id.in_(ids),
                    or_(Referral.reason.is_not(None), Referral.outcome.is_not(None)),
                )
                .values(reason=None, outcome=None),
            ),
            (
                "bookings",
                update(Booking)
                .where(
                    Booking.case_id.in_(ids),
                    or_(Booking.location.is_not(None), Booking.online_url.is_not(None)),
                )
                .values(location=None, online_url=None),
            ),
            (
                "conversation",
                update(CaseMessage)
                .where(
                    CaseMessage.case_id.in_(ids),
                    or_(CaseMessage.body.is_not(None), CaseMessage.attachment.is_not(None)),
                )
                .values(body=None, attachment=None),
            ),
            (
                "advice_notes",
                update(ConsultationRecord)
                .where(
                    ConsultationRecord.case_id.in_(ids),
                    ConsultationRecord.advice_summary.is_not(None),
                )
                .values(advice_summary=None),
            ),
        ]
        for kind, statement in statements:
            result = await session.execute(statement.execution_options(synchronize_session=False))
            counts[kind] += _rows(result)
        surveys = select(Survey.id).where(Survey.case_id.in_(ids))
        consultations = select(ConsultationRecord.id).where(ConsultationRecord.case_id.in_(ids))
        counts["survey_comments"] += await _delete_survey_comments(session, surveys)
        counts["review_comments"] += await _blank_review_comments(
            session, CoReview.consultation_id.in_(consultations)
        )
        # `before`: the person was erased then; what was written about the case since (the
        # Slack edits erasing it, the CO's note of a cancelled booking) is not theirs.
        counts["outbox_messages"] += await scrub_outbox(
            session,
            OutboxMessage.case_id.in_(ids),
            *((OutboxMessage.created_at < before,) if before is not None else ()),
        )
    return counts


async def _delete_survey_comments(session: AsyncSession, surveys: Any) -> int:
    # Comments are free text; the other answers (satisfaction, follow-up choices) are the
    # anonymous aggregates and stay.
    result = await session.execute(
        delete(SurveyAnswer)
        .where(SurveyAnswer.survey_id.in_(surveys), SurveyAnswer.question == COMMENT_QUESTION)
        .execution_options(synchronize_session=False)
    )
    return _rows(result)


async def _blank_review_comments(session: AsyncSession, which: ColumnElement[bool]) -> int:
    result = await session.execute(
        update(CoReview)
        .where(which, CoReview.comment.is_not(None))
        .values(comment=None)
        .execution_options(synchronize_session=False)
    )
    return _rows(result)


async def erase_person(
    session: AsyncSession,
    person_id: int,
    *,
    now: datetime,
    reason: ErasureReason,
    slack: SlackErasure = SlackErasure.UPDATE,
    actor: tuple[ActorKind, int | None] | None = None,
    same_human: bool = True,
) -> Erasure | None:
    """Erase everything personal tied to this person (module docstring); None if no such person.

    `slack` says whether Slack's copies are edited or deleted (the SLACK_ERASURE setting);
    `actor` is who asked when it is not the person themself (an operator's 消去), for the
    audit row; `same_human` looks for the same human's other person rows (off for those).

    In the caller's transaction. Safe to repeat: a second run finds nothing left and writes no
    second audit row. On PostgreSQL the person row is locked first, so two runs at once (two
    schedulers, or a request during the nightly run) take turns.
    """
    query = select(Person).where(Person.id == person_id).execution_options(populate_existing=True)
    if session.get_bind().dialect.name == "postgresql":
        # FOR NO KEY UPDATE: rows that merely point at the person (a consent being written)
        # do not wait for it.
        query = query.with_for_update(of=Person, key_share=True)
    person = await session.scalar(query)
    if person is None:
        return None
    erasure = Erasure(fresh=person.erased_at is None)
    erased_before = person.erased_at
    named = {
        "phone": person.phone,
        "email": person.email,
        "contact_name": person.display_name,
    }

    # Cases first: the nightly run locks cases, then what hangs on them, then businesses;
    # taking them in that order too (after the person) leaves no lock cycle with it.
    case_ids = list(await session.scalars(select(Case.id).where(Case.person_id == person_id)))
    aliases: list[int] = []
    if reason is ErasureReason.REQUEST:
        if same_human:
            aliases = await same_human_rows(session, person)
        erasure.add(
            "slack_cancelled", await cancel_waiting(session, case_ids, before=erased_before)
        )
        for kind, rows in (await end_planned(session, person_id, case_ids, now=now)).items():
            erasure.add(kind, rows)
    for kind, rows in (await erase_cases(session, case_ids, before=erased_before)).items():
        erasure.add(kind, rows)
    if reason is ErasureReason.REQUEST:
        erasure.add("home_views", await _scrub_home_views(session, case_ids, erased_before))
        erasure.slack = await erase_in_slack(
            session, case_ids, now=now, mode=slack, before=erased_before
        )
        erasure.add("slack_messages", len(erasure.slack))
    await _erase_identities(session, person_id, erasure)
    if reason is ErasureReason.REQUEST:
        # (Past the retention period such forms are long erased by the nightly run.)
        await _erase_handover_forms(session, named, erasure)
    erasure.add("business_phones", await _erase_business_phones(session, person, now))

    person.display_name = None
    person.family_name = None
    person.given_name = None
    person.phone = None
    person.email = None
    person.erased_at = person.erased_at or now

    result = await session.execute(
        delete(SelfCheckResult)
        .where(SelfCheckResult.person_id == person_id)
        .execution_options(synchronize_session=False)
    )
    erasure.add("selfchecks", _rows(result))
    result = await session.execute(
        update(ConsentRecord)
        .where(ConsentRecord.person_id == person_id, ConsentRecord.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
    erasure.add("consents_withdrawn", _rows(result))

    # Surveys hang on a case, but the one who answered is the survey's person.
    surveys = select(Survey.id).where(Survey.person_id == person_id)
    erasure.add("survey_comments", await _delete_survey_comments(session, surveys))
    erasure.add(
        "review_comments", await _blank_review_comments(session, CoReview.survey_id.in_(surveys))
    )

    if actor is not None:
        actor_kind, actor_id = actor
    elif reason is ErasureReason.REQUEST:
        actor_kind, actor_id = ActorKind.PERSON, person_id
    else:
        actor_kind, actor_id = ActorKind.SYSTEM, None
    if erasure.changed:
        session.add(
            AuditLog(
                at=now,
                actor_kind=actor_kind,
                actor_id=actor_id,
                action=PERSON_ERASED,
                case_id=None,
                hub_id=None,
                # Ids and counts only (invariant 9).
                details={
                    "person_id": person_id,
                    "reason": reason.value,
                    "erased": dict(sorted(erasure.counts.items())),
                },
            )
        )
    await session.flush()
    erasure.people.append(person_id)
    for alias in aliases:
        other = await erase_person(
            session, alias, now=now, reason=reason, slack=slack, actor=actor, same_human=False
        )
        if other is not None and other.changed:
            # (Their own audit row says what was erased of them; this answer sums both.)
            erasure.people.append(alias)
            erasure.slack.extend(other.slack)
            for kind, rows in other.counts.items():
                erasure.add(kind, rows)
            erasure.add("same_human_people", 1)
    return erasure


HOME_KIND: Final = "slack_home"


async def _scrub_home_views(
    session: AsyncSession, case_ids: Sequence[int], before: datetime | None
) -> int:
    """The App Home views sent to the COs of these cases list them (business or name, the
    description, the last message): their copies in the outbox go. The COs' homes are
    published again by whoever erased (core.privacy.requests.ErasurePlan.coordinators)."""
    if not case_ids:
        return 0
    users = [
        user
        for user in await session.scalars(
            select(Coordinator.slack_user_id).where(
                Coordinator.id.in_(
                    select(Case.assigned_co_id).where(
                        Case.id.in_(case_ids), Case.assigned_co_id.is_not(None)
                    )
                ),
                Coordinator.slack_user_id.is_not(None),
            )
        )
        if user
    ]
    if not users:
        return 0
    return await scrub_outbox(
        session,
        OutboxMessage.platform == Platform.SLACK,
        OutboxMessage.kind == HOME_KIND,
        OutboxMessage.recipient.in_(users),
        *((OutboxMessage.created_at < before,) if before is not None else ()),
    )


def name_key(name: str | None) -> str:
    """A person's name compared as the hand-over compares it: spaces of any width ignored."""
    return "".join((name or "").split())


async def same_human_rows(session: AsyncSession, person: Person) -> list[int]:
    """Other, not yet erased person rows linked to this person's businesses (their own or
    their cases') with the same phone, e-mail or name: a partner's hand-over contact."""
    businesses = union(
        select(PersonBusiness.business_id.label("id")).where(PersonBusiness.person_id == person.id),
        select(Case.business_id.label("id")).where(
            Case.person_id == person.id, Case.business_id.is_not(None)
        ),
    ).subquery()
    linked = union(
        select(PersonBusiness.person_id.label("id")).where(
            PersonBusiness.business_id.in_(select(businesses.c.id))
        ),
        select(Case.person_id.label("id")).where(
            Case.business_id.in_(select(businesses.c.id)), Case.person_id.is_not(None)
        ),
    ).subquery()
    candidates = await session.scalars(
        select(Person)
        .where(
            Person.id.in_(select(linked.c.id)),
            Person.id != person.id,
            Person.erased_at.is_(None),
        )
        .order_by(Person.id)
    )
    names = {
        key
        for key in (
            name_key(person.display_name),
            name_key(f"{person.family_name or ''}{person.given_name or ''}"),
        )
        if key
    }
    found: list[int] = []
    for other in candidates:
        if (
            (person.phone and other.phone == person.phone)
            or (person.email and other.email and other.email.lower() == person.email.lower())
            or (names and name_key(other.display_name) in names)
        ):
            found.append(other.id)
    return found


async def _erase_identities(session: AsyncSession, person_id: int, erasure: Erasure) -> None:
    """Per platform identity: dialog, inbox and outbox rows by the user id, then the id itself."""
    identities = list(
        await session.scalars(
            select(ChannelIdentity)
            .where(ChannelIdentity.person_id == person_id)
            .order_by(ChannelIdentity.id)
        )
    )
    for identity in identities:
        user_id = identity.external_user_id
        if user_id.startswith(TOMBSTONE_PREFIX):
            continue
        platform = Platform(identity.platform)
        key = f"{platform.value}:{identity.channel_id}:{user_id}"[:200]
        result = await session.execute(
            delete(ConversationStateRow)
            .where(
                ConversationStateRow.platform == platform.value,
                ConversationStateRow.channel_id == identity.channel_id,
                ConversationStateRow.user_id == user_id,
            )
            .execution_options(synchronize_session=False)
        )
        erasure.add("conversations", _rows(result))
        erasure.add(
            "inbox_events",
            await scrub_inbox(
                session, InboxEvent.platform == platform, InboxEvent.ordering_key == key
            ),
        )
        theirs = (
            OutboxMessage.platform == platform,
            OutboxMessage.channel_id == identity.channel_id,
            or_(OutboxMessage.recipient == user_id, OutboxMessage.ordering_key == key),
        )
        # Nothing more goes to them (a message being sent this very moment still goes; the
        # nightly run erases it afterwards).
        result = await session.execute(
            update(OutboxMessage)
            .where(*theirs, OutboxMessage.status.in_(_WAITING))
            .values(status=OutboxStatus.CANCELLED, last_error="erased")
            .execution_options(synchronize_session=False)
        )
        erasure.add("outbox_cancelled", _rows(result))
        erasure.add("outbox_messages", await scrub_outbox(session, *theirs))
        identity.external_user_id = f"{TOMBSTONE_PREFIX}{identity.id}"
        erasure.add("identities", 1)


async def _erase_handover_forms(
    session: AsyncSession, named: dict[str, str | None], erasure: Erasure
) -> None:
    """Hand-over forms a partner submitted about this person (they are not keyed by them)."""
    matches = [
        InboxEvent.payload[("form", name)].as_string() == value
        for name, value in named.items()
        if value
    ]
    if not matches:
        return
    rows = await scrub_inbox(
        session,
        InboxEvent.platform == Platform.SLACK,
        InboxEvent.status != InboxStatus.PENDING,
        or_(*matches),
    )
    erasure.add("inbox_events", rows)


async def _erase_business_phones(session: AsyncSession, person: Person, now: datetime) -> int:
    linked = union(
        select(PersonBusiness.business_id.label("id")).where(PersonBusiness.person_id == person.id),
        select(Case.business_id.label("id")).where(
            Case.person_id == person.id, Case.business_id.is_not(None)
        ),
    ).subquery()
    erased = 0
    for business in await session.scalars(
        select(Business).where(Business.id.in_(select(linked.c.id)), Business.phone.is_not(None))
    ):
        if business.phone != person.phone and await _someone_else_speaks_for(
            session, business.id, person.id
        ):
            continue
        business.phone = None
        business.updated_at = now
        erased += 1
    return erased


async def _someone_else_speaks_for(session: AsyncSession, business_id: int, person_id: int) -> bool:
    others = union(
        select(PersonBusiness.person_id.label("id")).where(
            PersonBusiness.business_id == business_id, PersonBusiness.person_id != person_id
        ),
        select(Case.person_id.label("id")).where(
            Case.business_id == business_id,
            Case.person_id.is_not(None),
            Case.person_id != person_id,
        ),
    ).subquery()
    found = await session.scalar(
        select(Person.id)
        .where(Person.id.in_(select(others.c.id)), Person.erased_at.is_(None))
        .limit(1)
    )
    return found is not None
