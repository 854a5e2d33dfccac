"""The closed vocabularies the stored records use.

They are StrEnums so a value reads the same in the database, in logs and in tests, and so
SQLite and PostgreSQL store the identical string (no native enum types). Labels shown to
people live in the message catalog, never here.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class HubKind(StrEnum):
    HUB = "hub"
    """One of the 47 prefectural hubs."""
    HQ = "hq"
    """The national HQ (全国本部): sees every hub, hosts specialists no hub has."""


class CoRole(StrEnum):
    CO = "co"
    CCO = "cco"
    """Chief coordinator: leads a hub, watches its queue and escalations."""
    HQ_SPECIALIST = "hq_specialist"


class Platform(StrEnum):
    LINE = "line"
    SLACK = "slack"


class ActorKind(StrEnum):
    """Who caused a change, kept apart from the id so audit rows never hold personal data."""

    PERSON = "person"
    COORDINATOR = "coordinator"
    PARTNER_STAFF = "partner_staff"
    SYSTEM = "system"


class CaseKind(StrEnum):
    """What the owner asked for: a consultation (the intake) or a question typed to a person."""

    CONSULTATION = "consultation"
    INQUIRY = "inquiry"
    """お問い合わせ: the owner wrote outside any form and no case of theirs was open."""


class MessageDirection(StrEnum):
    """Which way a message of a case's conversation went (core.chat)."""

    FROM_OWNER = "from_owner"
    TO_OWNER = "to_owner"


class CaseSource(StrEnum):
    LINE = "line"
    """An owner asked through LINE."""
    PARTNER = "partner"
    """Partner staff handed the case over (つなぐ)."""
    HUB = "hub"
    """Entered by the hub itself (walk-in, phone)."""
    TRANSFER = "transfer"
    """Moved from another hub."""
    FOLLOWUP = "followup"
    """Opened again by a follow-up after a case was closed."""


class CaseStatus(StrEnum):
    NEW = "new"
    QUEUED = "queued"
    CLAIMED = "claimed"
    BOOKED = "booked"
    IN_SUPPORT = "in_support"
    HANDED_BACK = "handed_back"
    """Handed to a partner for what it does best (橋渡し); the hub may still close it."""
    CLOSED = "closed"
    CANCELLED = "cancelled"


_C = CaseStatus

CASE_TRANSITIONS: Final[MappingProxyType[CaseStatus, frozenset[CaseStatus]]] = MappingProxyType(
    {
        # An owner may book straight from LINE, so a case can skip the queue and the claim.
        _C.NEW: frozenset({_C.QUEUED, _C.CLAIMED, _C.BOOKED, _C.CANCELLED, _C.CLOSED}),
        _C.QUEUED: frozenset({_C.CLAIMED, _C.BOOKED, _C.CANCELLED, _C.CLOSED}),
        # Back to QUEUED: the CO releases the case, or it moves to another hub's queue.
        _C.CLAIMED: frozenset(
            {_C.QUEUED, _C.BOOKED, _C.IN_SUPPORT, _C.HANDED_BACK, _C.CANCELLED, _C.CLOSED}
        ),
        # Back to CLAIMED: the booking was cancelled but the CO keeps the case.
        _C.BOOKED: frozenset(
            {_C.QUEUED, _C.CLAIMED, _C.IN_SUPPORT, _C.HANDED_BACK, _C.CANCELLED, _C.CLOSED}
        ),
        # Phase 2 support books consultation after consultation.
        _C.IN_SUPPORT: frozenset({_C.QUEUED, _C.BOOKED, _C.HANDED_BACK, _C.CLOSED}),
        # The partner may send the case back, or the hub keeps supporting alongside.
        _C.HANDED_BACK: frozenset({_C.QUEUED, _C.IN_SUPPORT, _C.CLOSED}),
        # Terminal: a returning owner gets a new case (source FOLLOWUP) so figures stay per case.
        _C.CLOSED: frozenset(),
        _C.CANCELLED: frozenset(),
    }
)
"""Allowed case status changes; anything not listed is a bug or a race and is refused."""

OPEN_CASE_STATUSES: Final = frozenset(
    {_C.NEW, _C.QUEUED, _C.CLAIMED, _C.BOOKED, _C.IN_SUPPORT, _C.HANDED_BACK}
)
"""Statuses that still need someone; a CO's capacity counts their cases in these."""


class InvalidTransitionError(ValueError):
    """A status change the case lifecycle does not allow."""

    def __init__(self, current: CaseStatus, target: CaseStatus) -> None:
        super().__init__(f"case status cannot change from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    """Whether a case may move from one status to another (never to itself)."""
    return target in CASE_TRANSITIONS[current]


def check_transition(current: CaseStatus, target: CaseStatus) -> None:
    """Refuse a disallowed change loudly, so two racing handlers cannot both succeed quietly."""
    if not can_transition(current, target):
        raise InvalidTransitionError(current, target)


class BookingStatus(StrEnum):
    HELD = "held"
    """A slot kept for an owner who is still confirming; it blocks the slot like a booking."""
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    """A hold nobody confirmed in time; the slot is free again."""


ACTIVE_BOOKING_STATUSES: Final = frozenset({BookingStatus.HELD, BookingStatus.CONFIRMED})
"""Bookings that occupy the CO's slot; the partial unique index on bookings is built from it."""


class BookingMode(StrEnum):
    VISIT = "visit"
    """The owner comes to the hub."""
    ONLINE = "online"
    ONSITE = "onsite"
    """The CO visits the business."""


class NextStep(StrEnum):
    FOLLOW_UP = "follow_up"
    CLOSE = "close"


class ReferralDirection(StrEnum):
    TO_PARTNER = "to_partner"
    """The hub hands the case to a partner (橋渡し)."""
    FROM_PARTNER = "from_partner"
    """A partner hands the case to the hub (つなぐ)."""
    TO_HUB = "to_hub"
    """The hub asks another hub, which has the specialist."""


class ReferralStatus(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DONE = "done"


class ConsentNotice(StrEnum):
    PRIVACY = "privacy"
    HANDOVER = "handover"
    """Consent to pass the case between a partner and the hub; given per case."""


class DatePrecision(StrEnum):
    """How much of a founding date is known: owners often remember only the year."""

    DAY = "day"
    MONTH = "month"
    YEAR = "year"


class SurveyKind(StrEnum):
    SATISFACTION = "satisfaction"
    CO_REVIEW = "co_review"
    FOLLOWUP = "followup"


class SurveyStatus(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    """Never sent: the owner unfollowed or asked for erasure (invariant 8)."""


class SatisfactionLevel(StrEnum):
    """The five answers of the client survey (大変満足 / 満足 / 普通 / 不満 / 大変不満)."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    NEUTRAL = "neutral"
    DISSATISFIED = "dissatisfied"
    VERY_DISSATISFIED = "very_dissatisfied"

    @property
    def counts_as_satisfied(self) -> bool:
        """The national satisfaction rate counts the top two answers only."""
        return self in _SATISFIED


_SATISFIED: Final = frozenset({SatisfactionLevel.VERY_SATISFIED, SatisfactionLevel.SATISFIED})


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    """Permanently failed (for example the owner blocked the account); never retried."""
    HELD = "held"
    """Waiting for quiet hours or a closed day to end (invariant 7)."""
    CANCELLED = "cancelled"


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"
    """Failed too often; kept with its error for operators, replayable from the CLI."""
    IGNORED = "ignored"
    """Accepted but not ours to answer (LINE standby mode, our own bot's Slack events)."""
