"""The hub queue card: what a coordinator sees of a new case in the hub's intake channel.

The card is neutral (core.messages.Card) so the dispatcher renders it in the reader's
language; it shows what a CO needs to decide whether to take the case, and nothing the
owner did not agree to share: no phone, no e-mail, no description.

A posted card is known by its outbox idempotency key (`card_key`); Slack's ts for it is
known only once the dispatcher has sent it, so updates name the card by key (`ts_ref`) and
the dispatcher resolves it at send time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import (
    Booking,
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    Hub,
    OutboxMessage,
    PartnerOrganisation,
    PartnerStaff,
    Referral,
)
from core.domain.enums import (
    ACTIVE_BOOKING_STATUSES,
    CaseKind,
    CaseSource,
    CaseStatus,
    NextStep,
    Platform,
    ReferralDirection,
    ReferralStatus,
)
from core.i18n import Text
from core.i18n.dates import jst_day, jst_day_time, jst_time
from core.messages import Action, Card, OutgoingMessage, encode_message
from core.outbox.store import add_message, add_raw

SLACK_TEAM = "default"
"""The outbox channel for the hub's own workspace (a single-workspace install)."""

CARD_KIND = "slack_message"
UPDATE_KIND = "slack_update"
BOOKABLE_FROM_CARD = frozenset({CaseStatus.CLAIMED, CaseStatus.IN_SUPPORT})
"""A taken case in these statuses offers 予約を入れる (core.coordinators.booking)."""


def card_key(case_id: int, sequence: int = 0) -> str:
    """The outbox key of a case's queue card; later cards (after a transfer) get a suffix."""
    base = f"case:{case_id}:card"
    return base if sequence == 0 else f"{base}:{sequence}"


def postback(action: str, **params: int | str) -> str:
    """Button data in the project's postback form: "case.claim&c=42"."""
    return "&".join([action, *(f"{name}={value}" for name, value in params.items())])


def parse_postback(data: str) -> tuple[str, dict[str, str]]:
    """("case.claim", {"c": "42"}) from "case.claim&c=42"."""
    action, _, rest = data.partition("&")
    params: dict[str, str] = {}
    for part in rest.split("&") if rest else []:
        name, _, value = part.partition("=")
        params[name] = value
    return action, params


def _verbatim(value: str) -> Text:
    return Text("common.verbatim", value=value)


def place_text(business: Business | None) -> Text:
    if business is None or not business.prefecture_code:
        return Text("card.unknown")
    return Text(
        "card.place_value",
        prefecture=Text(f"prefecture.{business.prefecture_code}"),
        municipality=business.municipality or "",
    )


def topics_text(topics: Sequence[str]) -> Text:
    if not topics:
        return Text("card.unknown")
    return Text("card.topics_value", topics=tuple(Text(f"topic.{value}") for value in topics))


def waiting_since_text(moment: datetime) -> Text:
    """Japan time: a CO reads "6月1日(月) 10:05", not UTC (invariant 10)."""
    return Text("card.waiting_since_value", at=jst_day_time(moment))


def source_text(case: Case, source_org_name: str | None) -> Text:
    if case.source is CaseSource.PARTNER:
        return Text("card.source.partner", organisation=source_org_name or "-")
    return Text(f"card.source.{case.source.value}")


def case_rows(
    case: Case, business: Business | None, *, source_org_name: str | None = None
) -> tuple[tuple[Text, Text], ...]:
    """The rows every case card shares (queue card, hand-back, another hub's request)."""
    return (
        (Text("card.label.business"), _verbatim(business.name if business else "-")),
        (Text("card.label.place"), place_text(business)),
        (
            Text("card.label.topics"),
            Text("chat.card.inquiry")
            if case.kind is CaseKind.INQUIRY
            else topics_text(case.topics or []),
        ),
        (Text("card.label.waiting_since"), waiting_since_text(case.created_at)),
        (Text("card.label.source"), source_text(case, source_org_name)),
        (
            Text("card.label.sit_in"),
            Text("card.sit_in_yes" if case.sit_in_requested else "card.sit_in_no"),
        ),
    )


@dataclass(frozen=True)
class CardState:
    """Where a case stands, as its card shows it (read by `card_state`)."""

    assignee_name: str | None = None
    claimed_at: datetime | None = None
    booking: Text | None = None
    """When and how the next consultation is, once booked."""
    record: Text | None = None
    """The latest consultation recorded (day, what comes next)."""
    referral: Text | None = None
    """The latest hand-back to a partner, and whether they took it."""
    closed_at: datetime | None = None


_NEXT_STEP: Mapping[CaseStatus, str] = {
    CaseStatus.CLAIMED: "card.next.claimed",
    CaseStatus.BOOKED: "card.next.booked",
    CaseStatus.IN_SUPPORT: "card.next.in_support",
    CaseStatus.HANDED_BACK: "card.next.handed_back",
}
"""What the CO holding the case can do next, said on the card beside its buttons."""


def queue_card_message(
    case: Case,
    business: Business | None,
    hub: Hub,
    *,
    suggestions: Sequence[str] = (),
    source_org_name: str | None = None,
    state: CardState | None = None,
) -> OutgoingMessage:
    """The card in the hub's intake channel, as the case now stands.

    Every card says where the case is (状況). Unclaimed it offers 担当する, 割り当て and
    他拠点・本部へ, with the router's suggested coordinators as a row; taken it names the CO
    and since when, the booking, the last outcome and the hand-back, says what the CO can do
    next and offers only the buttons that still work: 予約を入れる while nothing is booked,
    no buttons at all once the case is closed.
    """
    state = state or CardState()
    rows = (
        (Text("card.label.status"), _status_text(case, state)),
        *case_rows(case, business, source_org_name=source_org_name),
    )
    if case.transferred_from_hub_id is not None and hub.id == case.hub_id:
        rows += ((Text("card.label.transferred"), Text("card.transferred_value")),)
    ended = case.status in (CaseStatus.CLOSED, CaseStatus.CANCELLED)
    actions: tuple[Action, ...] = ()
    if state.assignee_name is None and not ended:
        if suggestions:
            rows += ((Text("card.label.suggested"), _verbatim(" / ".join(suggestions))),)
        actions = (
            Action(Text("card.action.claim"), postback("case.claim", c=case.id)),
            Action(Text("card.action.assign"), postback("case.assign", c=case.id)),
            Action(Text("card.action.transfer"), postback("case.transfer", c=case.id)),
        )
    if state.assignee_name is not None:
        assignee: Text = Text("card.assignee_value", name=state.assignee_name)
        if state.claimed_at is not None:
            assignee = Text(
                "card.assignee_since", name=state.assignee_name, at=jst_day_time(state.claimed_at)
            )
        rows += ((Text("card.label.assignee"), assignee),)
    if state.booking is not None:
        rows += ((Text("card.label.booking"), state.booking),)
    if state.record is not None:
        rows += ((Text("card.label.record"), state.record),)
    if state.referral is not None:
        rows += ((Text("card.label.referral"), state.referral),)
    if state.assignee_name is not None and not ended:
        nxt = _NEXT_STEP.get(case.status)
        if nxt is not None:
            rows += ((Text("card.label.next"), Text(nxt, name=state.assignee_name)),)
        bookable = state.booking is None and case.status in BOOKABLE_FROM_CARD
        actions = (
            *((Action(Text("card.action.book"), postback("case.book", c=case.id)),) * bookable),
            Action(Text("card.action.outcome"), postback("case.outcome", c=case.id)),
            Action(Text("card.action.handback"), postback("case.handback", c=case.id)),
            Action(Text("card.action.askhub"), postback("case.askhub", c=case.id)),
            Action(Text("card.action.assign"), postback("case.assign", c=case.id)),
        )
    return OutgoingMessage(
        card=Card(
            title=Text("card.title", number=case.number),
            rows=rows,
            actions=actions,
            alt_text=Text("card.alt", number=case.number),
        )
    )


def _status_text(case: Case, state: CardState) -> Text:
    if case.status is CaseStatus.CLOSED:
        if state.closed_at is not None:
            return Text("card.status.closed_on", day=jst_day(state.closed_at))
        return Text("card.status.closed")
    if state.assignee_name is None and case.status in (CaseStatus.NEW, CaseStatus.QUEUED):
        return Text("card.status.unclaimed")
    return Text(f"card.status.{case.status.value}")


def moved_card_message(
    case: Case, business: Business | None, to_hub: Hub, *, now: datetime | None = None
) -> OutgoingMessage:
    """The old card after a transfer: it stays readable, says where and when the case went,
    and has no buttons any more."""
    moved: Text = Text("card.status.moved", hub=hub_name(to_hub))
    if now is not None:
        moved = Text("card.status.moved_at", hub=hub_name(to_hub), at=jst_day_time(now))
    rows = (
        (Text("card.label.status"), moved),
        *case_rows(case, business),
        (Text("card.label.moved_to"), hub_name(to_hub)),
    )
    return OutgoingMessage(card=Card(title=Text("card.title", number=case.number), rows=rows))


def hub_name(hub: Hub) -> Text:
    if hub.prefecture_code is None:
        return Text("hub.hq")
    return Text("hub.name", prefecture=Text(f"prefecture.{hub.prefecture_code}"))


async def source_org_name(session: AsyncSession, case: Case) -> str | None:
    """The referring partner's organisation, shown as the card's source."""
    if case.referring_staff_id is None:
        return None
    staff = await session.get(PartnerStaff, case.referring_staff_id)
    if staff is None:
        return None
    org = await session.get(PartnerOrganisation, staff.organisation_id)
    return org.name if org else None


async def current_card(session: AsyncSession, case_id: int) -> OutboxMessage | None:
    """The newest queue card posted for the case (the one in its current hub's channel)."""
    base = card_key(case_id)
    card: OutboxMessage | None = await session.scalar(
        select(OutboxMessage)
        .where(
            OutboxMessage.case_id == case_id,
            OutboxMessage.kind == CARD_KIND,
            or_(
                OutboxMessage.idempotency_key == base,
                OutboxMessage.idempotency_key.like(f"{base}:%"),
            ),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return card


async def case_for_card(session: AsyncSession, channel: str, ts: str) -> int | None:
    """The case whose queue card Slack knows as (channel, ts): a 👀 on it claims the case."""
    row = await session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.accepted_request_id == ts,
            OutboxMessage.recipient == channel,
            OutboxMessage.kind == CARD_KIND,
            OutboxMessage.idempotency_key.like("case:%:card%"),
        )
    )
    if row is None or row.case_id is None or row.recipient != channel:
        return None
    return row.case_id


async def post_queue_card(
    session: AsyncSession, case_id: int, *, now: datetime, hub_id: int | None = None
) -> int | None:
    """Queue the case's card for its hub's intake channel (or `hub_id`'s), in this transaction.

    Called when a case joins a queue (LINE intake, a partner's hand-over, a transfer). None
    when the hub has no intake channel yet, or the card was already queued (a redelivered
    event must not post the card twice).
    """
    case = await session.get(Case, case_id)
    if case is None:
        raise LookupError(f"case {case_id} does not exist")
    hub = await session.get(Hub, hub_id or case.hub_id)
    if hub is None or not hub.slack_intake_channel_id:
        return None
    business = await session.get(Business, case.business_id) if case.business_id else None
    from core.coordinators.suggest import suggest_coordinators

    suggestions = [co.name for co in await suggest_coordinators(session, case, limit=3)]
    message = queue_card_message(
        case,
        business,
        hub,
        suggestions=suggestions,
        source_org_name=await source_org_name(session, case),
        state=await card_state(session, case),
    )
    previous = await current_card(session, case_id)
    sequence = 0 if previous is None else _sequence(previous.idempotency_key, case_id) + 1
    return await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=SLACK_TEAM,
        recipient=hub.slack_intake_channel_id,
        message=message,
        kind=CARD_KIND,
        idempotency_key=card_key(case_id, sequence),
        now=now,
        case_id=case_id,
        hub_id=hub.id,
    )


def _sequence(key: str, case_id: int) -> int:
    rest = key.removeprefix(card_key(case_id))
    return int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 0


async def update_card(
    session: AsyncSession,
    case_id: int,
    message: OutgoingMessage,
    *,
    now: datetime,
    suffix: str,
    card: OutboxMessage | None = None,
) -> int | None:
    """Queue a chat.update of the case's current card (`ts_ref` names it by its key).

    The update shares the card's recipient and so its ordering key: the dispatcher sends it
    only after the card itself, when the ts is known.
    """
    card = card or await current_card(session, case_id)
    if card is None:
        return None
    return await add_raw(
        session,
        platform=Platform.SLACK,
        channel_id=card.channel_id,
        recipient=card.recipient,
        payload={
            "channel": card.recipient,
            "ts_ref": card.idempotency_key,
            "messages": [encode_message(message)],
        },
        kind=UPDATE_KIND,
        idempotency_key=f"{card.idempotency_key}:{suffix}",
        now=now,
        case_id=case_id,
        hub_id=card.hub_id,
    )


# -- where the case stands -------------------------------------------------------------------


def booking_text(booking: Booking) -> Text:
    """The card's row: 6月3日(水) 14:00〜15:00（来所）."""
    return Text(
        "card.booking_value",
        start=jst_day_time(booking.starts_at),
        end=jst_time(booking.ends_at),
        mode=Text(f"coordinators.mode.{booking.mode.value}"),
    )


async def card_state(session: AsyncSession, case: Case) -> CardState:
    """Read from the case's rows what its card shows; every change re-reads it, so the card
    cannot drift from the case whichever path (Slack, LINE, the console) changed it."""
    co = await session.get(Coordinator, case.assigned_co_id) if case.assigned_co_id else None
    booking = await session.scalar(
        select(Booking)
        .where(Booking.case_id == case.id, Booking.status.in_(tuple(ACTIVE_BOOKING_STATUSES)))
        .order_by(Booking.starts_at.desc(), Booking.id.desc())
        .limit(1)
    )
    record = await session.scalar(
        select(ConsultationRecord)
        .where(ConsultationRecord.case_id == case.id)
        .order_by(ConsultationRecord.id.desc())
        .limit(1)
    )
    referral = await session.scalar(
        select(Referral)
        .where(Referral.case_id == case.id, Referral.direction == ReferralDirection.TO_PARTNER)
        .order_by(Referral.id.desc())
        .limit(1)
    )
    return CardState(
        assignee_name=co.name if co is not None else None,
        claimed_at=case.claimed_at if co is not None else None,
        booking=booking_text(booking) if booking is not None else None,
        record=_record_text(record) if record is not None else None,
        referral=await _referral_text(session, referral) if referral is not None else None,
        closed_at=case.closed_at,
    )


def _record_text(record: ConsultationRecord) -> Text:
    if record.next_step is NextStep.CLOSE:
        return Text("card.record_closed", day=jst_day(record.held_on))
    if record.follow_up_on is not None:
        return Text(
            "card.record_follow_up", day=jst_day(record.held_on), on=jst_day(record.follow_up_on)
        )
    return Text("card.record_value", day=jst_day(record.held_on))


async def _referral_text(session: AsyncSession, referral: Referral) -> Text:
    org = (
        await session.get(PartnerOrganisation, referral.to_organisation_id)
        if referral.to_organisation_id
        else None
    )
    name = org.name if org else "-"
    if referral.status is ReferralStatus.DONE:
        return Text("card.referral.done", organisation=name)
    if referral.status is ReferralStatus.ACCEPTED:
        return Text("card.referral.accepted", organisation=name)
    return Text("card.referral.sent", organisation=name)


async def refresh_card(
    session: AsyncSession, case: Case, *, now: datetime, suffix: str
) -> int | None:
    """Show the case's card as the case now stands (chat.update of the card in place).

    Called after every change of state: claim, assignment, booking (from Slack or LINE),
    rebooking and cancelling, an outcome, a hand-back and its acceptance, closing.
    """
    hub = await session.get(Hub, case.hub_id)
    if hub is None:
        return None
    await session.flush()
    business = await session.get(Business, case.business_id) if case.business_id else None
    message = queue_card_message(
        case,
        business,
        hub,
        source_org_name=await source_org_name(session, case),
        state=await card_state(session, case),
    )
    return await update_card(session, case.id, message, now=now, suffix=suffix)
