"""Uninstalling the app, or revoking its tokens, really ends access (issue 18, section 2).

`app_uninstalled` and `tokens_revoked` are stored in the inbox like every durable Slack event
(bots/slack/app.py stores the kinds that have a `@work` handler) and handled here by the
worker, in the inbox row's transaction:

* the workspace's tokens are deleted from slack_sdk's installation tables (migration 0007):
  every installation and bot of the team for an uninstall or a revoked bot token; only the
  users' installations when only user tokens were revoked;
* when the bot lost access, the workspace's hubs are marked disconnected and their waiting
  Slack messages are held (core.workspaces.disconnect): the dispatcher holds any that come
  later, a reinstall releases them all; HQ and the hubs' CCOs are told;
* /healthz lists the disconnected hubs under `slack.disconnected`.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import ColumnElement, MetaData, Table, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack.deps import WorkContext, work
from core.db.models import Hub
from core.workspaces import disconnect, tell_hq_and_cco

log = logging.getLogger(__name__)

_METADATA = MetaData()
INSTALLATIONS: Table = SQLAlchemyInstallationStore.build_installations_table(
    _METADATA, SQLAlchemyInstallationStore.default_installations_table_name
)
BOTS: Table = SQLAlchemyInstallationStore.build_bots_table(
    _METADATA, SQLAlchemyInstallationStore.default_bots_table_name
)


def _of_workspace(table: Table, team_id: str | None, enterprise_id: str | None) -> Any:
    conditions: list[ColumnElement[bool]] = []
    if team_id:
        conditions.append(table.c.team_id == team_id)
    if enterprise_id:
        conditions.append(table.c.enterprise_id == enterprise_id)
    return and_(*conditions) if conditions else table.c.id.is_(None)


def _workspace(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    team = payload.get("team_id")
    enterprise = payload.get("enterprise_id")
    return (str(team) if team and team != "default" else None), (
        str(enterprise) if enterprise else None
    )


async def _lose_workspace(
    session: AsyncSession, team_id: str | None, enterprise_id: str | None, ctx: WorkContext
) -> None:
    for table in (INSTALLATIONS, BOTS):
        await session.execute(delete(table).where(_of_workspace(table, team_id, enterprise_id)))
    codes, held = await disconnect(
        session, team_id=team_id, enterprise_id=enterprise_id, now=ctx.now
    )
    log.warning(
        "Slack workspace disconnected: tokens deleted, its messages held",
        extra={"team_id": team_id, "hubs": codes, "held": held},
    )
    hubs = await session.scalars(select(Hub.id).where(Hub.code.in_(codes)))
    for hub_id in hubs:
        await tell_hq_and_cco(
            session,
            hub_id,
            "slack.workspace.disconnected",
            now=ctx.now,
            key=f"slack:disconnected:{hub_id}:{ctx.now.isoformat()}",
        )


@work("slack.event.app_uninstalled")
async def app_uninstalled(session: AsyncSession, payload: dict[str, Any], ctx: WorkContext) -> None:
    team_id, enterprise_id = _workspace(payload)
    await _lose_workspace(session, team_id, enterprise_id, ctx)


@work("slack.event.tokens_revoked")
async def tokens_revoked(session: AsyncSession, payload: dict[str, Any], ctx: WorkContext) -> None:
    team_id, enterprise_id = _workspace(payload)
    tokens = (payload.get("event") or {}).get("tokens") or {}
    if tokens.get("bot"):
        await _lose_workspace(session, team_id, enterprise_id, ctx)
        return
    users = [str(user) for user in tokens.get("oauth") or []]
    if users:
        await session.execute(
            delete(INSTALLATIONS).where(
                _of_workspace(INSTALLATIONS, team_id, enterprise_id),
                INSTALLATIONS.c.user_id.in_(users),
            )
        )
