"""Telling hub staff in Slack: a CCO's DM, or the hub's intake channel when it has no CCO.

The scheduler's notices (escalations, budget warnings, digests, CO reminders) all go through
the outbox with a deterministic idempotency key, so a job that runs twice queues one message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.db.models import Coordinator, Hub
from core.domain.enums import CoRole, Platform
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox.store import add_message
from core.routing.hubs import HQ_CODE
from core.staff import DEFAULT_TEAM

SLACK_KIND = "slack_message"


async def hub_by_code(session: AsyncSession, code: str) -> Hub | None:
    found: Hub | None = await session.scalar(select(Hub).where(Hub.code == code))
    return found


async def hq_hub(session: AsyncSession) -> Hub | None:
    return await hub_by_code(session, HQ_CODE)


async def ccos(session: AsyncSession, hub_id: int) -> list[Coordinator]:
    """The hub's active chief coordinators who can be reached in Slack."""
    rows = await session.scalars(
        select(Coordinator)
        .where(
            Coordinator.hub_id == hub_id,
            Coordinator.role == CoRole.CCO,
            Coordinator.active.is_(True),
            Coordinator.slack_user_id.is_not(None),
        )
        .order_by(Coordinator.id)
    )
    return list(rows)


async def dm(
    session: AsyncSession,
    co: Coordinator,
    message: OutgoingMessage,
    *,
    key: str,
    now: datetime,
    case_id: int | None = None,
    priority: int = 100,
) -> bool:
    """A Slack DM to one coordinator; False when they have no Slack id or it was queued before."""
    if not co.slack_user_id:
        return False
    row = await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=co.slack_team_id or DEFAULT_TEAM,
        recipient=co.slack_user_id,
        message=message,
        kind=SLACK_KIND,
        idempotency_key=key,
        now=now,
        case_id=case_id,
        hub_id=co.hub_id,
        priority=priority,
    )
    return row is not None


async def notify_cco(
    session: AsyncSession,
    hub: Hub,
    message: OutgoingMessage,
    *,
    key: str,
    now: datetime,
    case_id: int | None = None,
) -> int:
    """Post in the hub's CCO channel when it has one; else DM each CCO of the hub (key
    suffixed per CCO), and with none, post in its intake channel.

    Answers how many rows were queued now (0 when all were queued before).
    """
    if hub.slack_cco_channel_id:
        posted = await add_message(
            session,
            platform=Platform.SLACK,
            channel_id=DEFAULT_TEAM,
            recipient=hub.slack_cco_channel_id,
            message=message,
            kind=SLACK_KIND,
            idempotency_key=f"{key}:cco_channel",
            now=now,
            case_id=case_id,
            hub_id=hub.id,
        )
        return int(posted is not None)
    queued = 0
    chiefs = await ccos(session, hub.id)
    for co in chiefs:
        queued += await dm(session, co, message, key=f"{key}:co{co.id}", now=now, case_id=case_id)
    if chiefs or not hub.slack_intake_channel_id:
        return queued
    row = await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=DEFAULT_TEAM,
        recipient=hub.slack_intake_channel_id,
        message=message,
        kind=SLACK_KIND,
        idempotency_key=f"{key}:intake",
        now=now,
        case_id=case_id,
        hub_id=hub.id,
    )
    return int(row is not None)


DEFAULT_CHANNEL_KEY = "default"
"""The channel key of the account configured in settings (national): its CCO is HQ's."""


async def warn_push_budget(
    session: AsyncSession, channel_key: str, *, used: int, budget: int, now: datetime
) -> int:
    """Tell the CCO of the channel's hub (HQ for the default channel), once per month."""
    hub = None if channel_key == DEFAULT_CHANNEL_KEY else await hub_by_code(session, channel_key)
    hub = hub or await hq_hub(session)
    if hub is None:
        return 0
    month = to_jst(now).strftime("%Y-%m")
    message = OutgoingMessage(
        texts=(
            Text(
                "scheduler.budget.warning",
                channel=channel_key,
                month=month,
                percent=min(100, used * 100 // max(1, budget)),
                used=used,
                budget=budget,
            ),
        )
    )
    return await notify_cco(
        session, hub, message, key=f"push_budget:warn:{channel_key}:{month}", now=now
    )
