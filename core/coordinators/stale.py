"""Why a card's button no longer applies, read at the moment it is pressed.

A card in Slack may be minutes or days old on someone's screen: the case was claimed by a
colleague, closed, moved to another hub, or the request already accepted. Pressing such a
button must not do nothing silently, nor send a DM that lands far from the card: the Slack
side answers with this reason only to the person who pressed it, where they pressed it.

The check reads only; the action itself checks again atomically (a race between two
presses is still decided there).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from core.coordinators.actions import CaseActionError, _check_may_work
from core.db.models import Case, Coordinator, Referral
from core.domain.enums import CaseStatus, ReferralDirection, ReferralStatus
from core.i18n import Text

_CLAIMABLE = (CaseStatus.NEW, CaseStatus.QUEUED)
_WORK = frozenset({"case.book", "case.outcome", "case.handback", "case.askhub"})
_TRANSFERABLE = (*_CLAIMABLE, CaseStatus.CLAIMED)


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


async def stale_reason(
    session: AsyncSession, action: str, params: Mapping[str, str], *, co_id: int | None
) -> Text | None:
    """The reason the button `action` (a postback name like "case.claim") cannot work now,
    for the coordinator `co_id` (None for partner staff); None when it still can."""
    if action in ("handback.accept", "askhub.accept", "handback.done"):
        return await _referral_reason(session, action, _int(params.get("r")), co_id)
    if not action.startswith("case."):
        return None
    case = await session.get(Case, _int(params.get("c")))
    if case is None:
        return Text("coordinators.error.no_case")
    number = case.number
    if case.status is CaseStatus.CLOSED:
        return Text("card.stale.closed", number=number)
    if case.status is CaseStatus.CANCELLED:
        return Text("card.stale.cancelled", number=number)
    co = await session.get(Coordinator, co_id) if co_id is not None else None
    if co is None:
        return None  # who they are is answered by the action (not registered)
    if co.hub_id != case.hub_id and case.transferred_from_hub_id == co.hub_id:
        return Text("card.stale.moved", number=number)
    if action == "case.claim":
        if case.assigned_co_id is not None and case.assigned_co_id != co.id:
            holder = await session.get(Coordinator, case.assigned_co_id)
            if holder is not None:
                return Text("card.stale.taken", number=number, name=holder.name)
            return Text("coordinators.claim.unavailable", number=number)
        if case.assigned_co_id is None and case.status not in _CLAIMABLE:
            return Text("coordinators.claim.unavailable", number=number)
        return None
    if action == "case.transfer" and case.status not in _TRANSFERABLE:
        return Text("coordinators.error.cannot_transfer")
    if action in _WORK:
        if action == "case.book" and case.status is CaseStatus.BOOKED:
            return Text("card.stale.booked", number=number)
        try:
            await _check_may_work(session, co, case)
        except CaseActionError as refusal:
            if case.assigned_co_id is not None and case.assigned_co_id != co.id:
                holder = await session.get(Coordinator, case.assigned_co_id)
                if holder is not None:
                    return Text("card.stale.taken", number=number, name=holder.name)
            return refusal.message
    return None


async def _referral_reason(
    session: AsyncSession, action: str, referral_id: int, co_id: int | None
) -> Text | None:
    referral = await session.get(Referral, referral_id)
    if referral is None:
        return Text("coordinators.error.no_referral")
    if action == "handback.done":
        return Text("card.stale.referral_done") if referral.status is ReferralStatus.DONE else None
    if referral.status is ReferralStatus.SENT:
        return None
    if referral.status is ReferralStatus.DONE:
        return Text("card.stale.referral_done")
    if referral.direction is ReferralDirection.TO_HUB and referral.answered_by_co_id is not None:
        if referral.answered_by_co_id == co_id:
            return None  # their own second press: nothing new happens
        answered = await session.get(Coordinator, referral.answered_by_co_id)
        if answered is not None:
            return Text("card.stale.askhub_taken", name=answered.name)
    return Text("card.stale.referral_taken")
