"""Partner staff who are not registered yet ask the hub for access; its CCO approves or denies.

The request comes from Slack (the refusal an unregistered person gets offers it). It names
the person, their organisation (one of the hub's partner organisations, or typed when it is
not listed) and a note. One Slack user has at most one pending request: asking again updates
it rather than adding a second. The hub's CCOs hear of it by Slack DM with 承認 / 却下 and see
it in the console; either way the decision goes through `decide`, after the caller has
checked with core.console.access.authorize that the person may manage the hub.

Approval registers them as partner_staff of the organisation (an inactive row of the same
Slack user is woken up instead); denial tells them politely. Both are audited with ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import (
    AccessRequest,
    AccessRequestStatus,
    AuditLog,
    Hub,
    PartnerOrganisation,
    PartnerStaff,
)
from core.domain.enums import ActorKind, HubKind, Platform
from core.i18n import Text
from core.messages import Action, OutgoingMessage
from core.notify import SLACK_KIND, notify_cco
from core.outbox.store import add_message
from core.owners import postbacks
from core.text.normalize import normalize_text

APPROVE: Final = "access.approve"
DENY: Final = "access.deny"
MAX_NAME: Final = 100
MAX_ORGANISATION: Final = 200
MAX_NOTE: Final = 1000


class RequestField(StrEnum):
    """The request form's fields (the Slack modal's block ids)."""

    NAME = "name"
    PREFECTURE = "prefecture"
    ORGANISATION = "organisation"
    ORGANISATION_NAME = "organisation_name"
    NOTE = "note"


@dataclass(frozen=True)
class RequestForm:
    name: str
    hub_id: int
    organisation_id: int | None
    organisation_name: str | None
    note: str | None


async def read_request(
    session: AsyncSession, typed: dict[str, str | None]
) -> tuple[RequestForm | None, dict[RequestField, Text]]:
    """The typed form checked: a form, or errors by field (the modal shows them in place)."""
    errors: dict[RequestField, Text] = {}
    name = normalize_text(typed.get(RequestField.NAME) or "")
    if not name:
        errors[RequestField.NAME] = Text("access.error.name")
    elif len(name) > MAX_NAME:
        errors[RequestField.NAME] = Text("access.error.too_long", limit=MAX_NAME)
    organisation: PartnerOrganisation | None = None
    chosen = typed.get(RequestField.ORGANISATION) or ""
    if chosen.isdigit():
        organisation = await session.get(PartnerOrganisation, int(chosen))
    organisation_name = normalize_text(typed.get(RequestField.ORGANISATION_NAME) or "") or None
    if organisation is None and organisation_name is None:
        errors[RequestField.ORGANISATION_NAME] = Text("access.error.organisation")
    elif organisation_name is not None and len(organisation_name) > MAX_ORGANISATION:
        errors[RequestField.ORGANISATION_NAME] = Text(
            "access.error.too_long", limit=MAX_ORGANISATION
        )
    note = (typed.get(RequestField.NOTE) or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        errors[RequestField.NOTE] = Text("access.error.too_long", limit=MAX_NOTE)
    hub = await _hub_for(session, organisation, typed.get(RequestField.PREFECTURE))
    if hub is None:
        errors[RequestField.PREFECTURE] = Text("access.error.prefecture")
    if errors or hub is None:
        return None, errors
    return (
        RequestForm(
            name=name,
            hub_id=hub.id,
            organisation_id=organisation.id if organisation else None,
            organisation_name=None if organisation else organisation_name,
            note=note,
        ),
        {},
    )


async def _hub_for(
    session: AsyncSession, organisation: PartnerOrganisation | None, prefecture: str | None
) -> Hub | None:
    """The hub that answers for the organisation (its prefecture's; HQ for national ones),
    else for the prefecture chosen."""
    if organisation is not None:
        if organisation.prefecture_code is None:
            query = select(Hub).where(Hub.kind == HubKind.HQ)
        else:
            query = select(Hub).where(Hub.prefecture_code == organisation.prefecture_code)
    elif prefecture:
        query = select(Hub).where(Hub.prefecture_code == prefecture, Hub.kind != HubKind.HQ)
    else:
        return None
    found: Hub | None = await session.scalar(query.order_by(Hub.id).limit(1))
    return found


async def organisations_of(session: AsyncSession, hub: Hub) -> list[PartnerOrganisation]:
    """The partner organisations a hub works with (its prefecture's; HQ: the national ones)."""
    if hub.kind is HubKind.HQ:
        query = select(PartnerOrganisation).where(PartnerOrganisation.prefecture_code.is_(None))
    else:
        query = select(PartnerOrganisation).where(
            PartnerOrganisation.prefecture_code == hub.prefecture_code
        )
    return list(await session.scalars(query.order_by(PartnerOrganisation.name)))


@dataclass(frozen=True)
class Submitted:
    request: AccessRequest
    created: bool
    """False when a pending request of the same person was updated instead."""


async def submit_request(
    session: AsyncSession,
    form: RequestForm,
    *,
    team_id: str,
    user_id: str,
    locale: str,
    now: datetime,
    event_key: str,
) -> Submitted:
    """Store the request (or update the pending one) and tell the hub's CCOs the first time.

    `event_key` names the submission (its inbox event), so the person hears of each one once.
    """
    pending = await pending_of(session, team_id, user_id)
    created = pending is None
    if pending is None:
        pending = AccessRequest(
            slack_team_id=team_id,
            slack_user_id=user_id,
            status=AccessRequestStatus.PENDING,
            created_at=now,
            hub_id=form.hub_id,
            name=form.name,
        )
        session.add(pending)
    pending.hub_id = form.hub_id
    pending.name = form.name
    pending.organisation_id = form.organisation_id
    pending.organisation_name = form.organisation_name
    pending.note = form.note
    pending.locale = locale
    pending.updated_at = now
    await session.flush()
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.SYSTEM,
            actor_id=None,
            action="access.requested" if created else "access.request_updated",
            hub_id=pending.hub_id,
            details={"request_id": pending.id},
        )
    )
    hub = await session.get(Hub, pending.hub_id)
    if created and hub is not None:
        await notify_cco(
            session,
            hub,
            await cco_message(session, pending),
            key=f"access:{pending.id}:requested",
            now=now,
        )
    await _tell_requester(
        session,
        pending,
        Text("access.received") if created else Text("access.updated"),
        key=f"access:{pending.id}:received:{event_key}",
        now=now,
    )
    return Submitted(pending, created)


async def pending_of(session: AsyncSession, team_id: str, user_id: str) -> AccessRequest | None:
    found: AccessRequest | None = await session.scalar(
        select(AccessRequest)
        .where(
            AccessRequest.slack_team_id == team_id,
            AccessRequest.slack_user_id == user_id,
            AccessRequest.status == AccessRequestStatus.PENDING,
        )
        .order_by(AccessRequest.id)
        .limit(1)
    )
    return found


async def organisation_text(session: AsyncSession, request: AccessRequest) -> Text:
    if request.organisation_id is not None:
        organisation = await session.get(PartnerOrganisation, request.organisation_id)
        if organisation is not None:
            return Text("common.verbatim", value=organisation.name)
    return Text("access.typed_organisation", name=request.organisation_name or "")


async def cco_message(session: AsyncSession, request: AccessRequest) -> OutgoingMessage:
    """The CCO's DM: who asks, for which organisation, and the two buttons.

    A typed organisation is not one of ours yet: approving needs one chosen in the console,
    so the DM says so and offers only 却下 here.
    """
    texts = [
        Text(
            "access.cco.request",
            name=request.name,
            organisation=await organisation_text(session, request),
            user=request.slack_user_id,
        )
    ]
    if request.note:
        texts.append(Text("access.cco.note", note=request.note))
    choices = [Action(Text("access.cco.deny"), postbacks.encode(DENY, r=request.id))]
    if request.organisation_id is not None:
        choices.insert(
            0, Action(Text("access.cco.approve"), postbacks.encode(APPROVE, r=request.id))
        )
    else:
        texts.append(Text("access.cco.choose_in_console"))
    return OutgoingMessage(texts=tuple(texts), choices=tuple(choices))


class Outcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"
    ALREADY = "already"
    """Decided before (by another CCO, or in the console)."""
    NEEDS_ORGANISATION = "needs_organisation"
    NOT_ALLOWED = "not_allowed"
    """The person who pressed the button may not manage the request's hub."""


async def decide(
    session: AsyncSession,
    request: AccessRequest,
    *,
    approve: bool,
    decided_by: int | None,
    now: datetime,
    organisation_id: int | None = None,
) -> Outcome:
    """Approve (register them) or deny; the caller has authorized the decider for the hub."""
    if request.status is not AccessRequestStatus.PENDING:
        return Outcome.ALREADY
    if not approve:
        request.status = AccessRequestStatus.DENIED
        request.decided_at, request.decided_by, request.updated_at = now, decided_by, now
        _audit(session, request, "access.denied", decided_by, now)
        await _tell_requester(
            session, request, Text("access.denied"), key=f"access:{request.id}:denied", now=now
        )
        return Outcome.DENIED
    organisation = await session.get(
        PartnerOrganisation, organisation_id or request.organisation_id or 0
    )
    hub = await session.get(Hub, request.hub_id)
    allowed = {o.id for o in await organisations_of(session, hub)} if hub is not None else set()
    if organisation is None or organisation.id not in allowed:
        return Outcome.NEEDS_ORGANISATION
    staff: PartnerStaff | None = await session.scalar(
        select(PartnerStaff).where(
            PartnerStaff.slack_user_id == request.slack_user_id,
            PartnerStaff.slack_team_id == request.slack_team_id,
        )
    )
    if staff is None:
        staff = PartnerStaff(
            organisation_id=organisation.id,
            name=request.name,
            slack_user_id=request.slack_user_id,
            slack_team_id=request.slack_team_id,
        )
        session.add(staff)
    staff.organisation_id = organisation.id
    staff.name = request.name
    staff.active = True
    await session.flush()
    request.status = AccessRequestStatus.APPROVED
    request.organisation_id = organisation.id
    request.partner_staff_id = staff.id
    request.decided_at, request.decided_by, request.updated_at = now, decided_by, now
    _audit(session, request, "access.approved", decided_by, now, staff_id=staff.id)
    await _tell_requester(
        session,
        request,
        Text("access.approved", organisation=organisation.name),
        key=f"access:{request.id}:approved",
        now=now,
    )
    return Outcome.APPROVED


def _audit(
    session: AsyncSession,
    request: AccessRequest,
    action: str,
    decided_by: int | None,
    now: datetime,
    **extra: int,
) -> None:
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.COORDINATOR if decided_by else ActorKind.SYSTEM,
            actor_id=decided_by,
            action=action,
            hub_id=request.hub_id,
            details={"request_id": request.id, **extra},
        )
    )


async def _tell_requester(
    session: AsyncSession, request: AccessRequest, text: Text, *, key: str, now: datetime
) -> None:
    """A Slack DM to the person who asked, through the outbox (rendered in their language)."""
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=request.slack_team_id,
        recipient=request.slack_user_id,
        message=OutgoingMessage(texts=(text,)),
        kind=SLACK_KIND,
        idempotency_key=key,
        now=now,
        locale=request.locale,
        hub_id=request.hub_id,
    )


async def tell_decider(
    session: AsyncSession,
    request: AccessRequest,
    outcome: Outcome,
    *,
    team_id: str,
    user_id: str,
    key: str,
    now: datetime,
) -> None:
    """What the CCO who pressed a button sees next: done, or why not."""
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=team_id,
        recipient=user_id,
        message=OutgoingMessage(texts=(Text(f"access.cco.{outcome.value}", name=request.name),)),
        kind=SLACK_KIND,
        idempotency_key=key,
        now=now,
        hub_id=request.hub_id,
    )


async def pending_for_hub(session: AsyncSession, hub_id: int) -> list[AccessRequest]:
    return list(
        await session.scalars(
            select(AccessRequest)
            .where(
                AccessRequest.hub_id == hub_id,
                AccessRequest.status == AccessRequestStatus.PENDING,
            )
            .order_by(AccessRequest.created_at, AccessRequest.id)
        )
    )
