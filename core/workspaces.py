"""Which Slack workspace a hub's messages go through, and whether it is still connected.

A hub's channels live in one workspace (`hubs.slack_team_id`, with `slack_enterprise_id` for
an Enterprise Grid organisation); None means the single workspace of the configured bot
token. When the app is uninstalled from a workspace or its tokens are revoked, its hubs are
marked disconnected and their Slack messages are held, not dropped (`disconnect`); a reinstall
releases them (`reconnect`). The tokens themselves are the composition root's business
(yorozu/slack_tokens.py): this module knows only ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Hub, OutboxMessage
from core.domain.enums import OutboxStatus, Platform

DISCONNECTED = "workspace_disconnected"
"""The held reason of a Slack message to a workspace that uninstalled the app."""
NOT_INSTALLED = "not_installed"
"""The failure reason of a Slack message to a workspace the app was never installed in."""


@dataclass(frozen=True)
class Workspace:
    team_id: str | None
    enterprise_id: str | None
    disconnected: bool = False


async def hub_workspaces(session: AsyncSession, hub_ids: set[int]) -> dict[int, Workspace]:
    """Each hub's workspace, for the hubs named."""
    if not hub_ids:
        return {}
    rows = await session.execute(
        select(Hub.id, Hub.slack_team_id, Hub.slack_enterprise_id, Hub.slack_disconnected_at).where(
            Hub.id.in_(hub_ids)
        )
    )
    return {
        hub_id: Workspace(team, enterprise, disconnected_at is not None)
        for hub_id, team, enterprise, disconnected_at in rows.all()
    }


def _hubs_of(team_id: str | None, enterprise_id: str | None) -> ColumnElement[bool]:
    """The hubs in the workspace (or, for an org-wide install, the Grid organisation)."""
    if team_id:
        return Hub.slack_team_id == team_id
    if enterprise_id:
        return Hub.slack_enterprise_id == enterprise_id
    return Hub.id.is_(None)  # no workspace named: none


def _rows_of(hub_ids: list[int], team_id: str | None) -> ColumnElement[bool]:
    """Slack rows for those hubs, or addressed to the workspace itself (a DM to a CO there)."""
    return or_(
        OutboxMessage.hub_id.in_(hub_ids),
        OutboxMessage.channel_id == (team_id or "-"),
    )


async def disconnect(
    session: AsyncSession, *, team_id: str | None, enterprise_id: str | None, now: datetime
) -> tuple[list[str], int]:
    """The app lost the workspace: mark its hubs disconnected and hold their waiting messages.

    Answers the hub codes and how many messages were held. Repeating it changes nothing.
    """
    hubs = (
        await session.execute(select(Hub.id, Hub.code).where(_hubs_of(team_id, enterprise_id)))
    ).all()
    ids = [hub_id for hub_id, _ in hubs]
    if ids:
        await session.execute(
            update(Hub)
            .where(Hub.id.in_(ids), Hub.slack_disconnected_at.is_(None))
            .values(slack_disconnected_at=now)
            .execution_options(synchronize_session=False)
        )
    held = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.platform == Platform.SLACK,
            OutboxMessage.status == OutboxStatus.PENDING,
            _rows_of(ids, team_id),
        )
        .values(status=OutboxStatus.HELD, last_error=DISCONNECTED)
        .execution_options(synchronize_session=False)
    )
    return sorted(code for _, code in hubs), int(getattr(held, "rowcount", 0) or 0)


async def reconnect(
    session: AsyncSession, *, team_id: str | None, enterprise_id: str | None, now: datetime
) -> int:
    """The app is installed in the workspace again: its hubs are connected and what was held
    for it goes out now. Answers how many messages were released."""
    ids = list(await session.scalars(select(Hub.id).where(_hubs_of(team_id, enterprise_id))))
    if ids:
        await session.execute(
            update(Hub)
            .where(Hub.id.in_(ids))
            .values(slack_disconnected_at=None)
            .execution_options(synchronize_session=False)
        )
    released = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.platform == Platform.SLACK,
            OutboxMessage.status == OutboxStatus.HELD,
            OutboxMessage.last_error == DISCONNECTED,
            _rows_of(ids, team_id),
        )
        .values(status=OutboxStatus.PENDING, not_before=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(released, "rowcount", 0) or 0)


async def disconnected_hub_codes(session: AsyncSession) -> list[str]:
    """Hubs whose Slack workspace is disconnected (for /healthz and the CCO)."""
    return sorted(
        await session.scalars(select(Hub.code).where(Hub.slack_disconnected_at.is_not(None)))
    )


async def tell_hq_and_cco(
    session: AsyncSession, hub_id: int, text_key: str, *, now: datetime, key: str
) -> int:
    """Tell HQ and the hub's CCO about the hub's Slack connection, once per `key`.

    The hub's own CCO is reached only if their DM goes through another workspace; a notice
    that cannot be delivered fails with the same key and so never makes another one.
    """
    from core.clock import to_jst
    from core.i18n import Text
    from core.messages import OutgoingMessage
    from core.notify import hq_hub, notify_cco

    hub = await session.get(Hub, hub_id)
    if hub is None:
        return 0
    message = OutgoingMessage(
        texts=(Text(text_key, hub=hub.code, day=to_jst(now).strftime("%Y-%m-%d")),)
    )
    told = 0
    hq = await hq_hub(session)
    for target in {hub.id: hub, **({hq.id: hq} if hq is not None else {})}.values():
        told += await notify_cco(session, target, message, key=f"{key}:to{target.id}", now=now)
    return told
