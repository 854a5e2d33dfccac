"""Which bot token sends for which Slack workspace (issue 18, section 2).

Single-token mode (SLACK_BOT_TOKEN, no OAuth): every send uses that token, as before.
OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET): each workspace that installed the app
has its own installation in slack_sdk's SQLAlchemy store (tables from migration 0007), and a
send resolves the token of the hub's workspace (and Enterprise Grid org) through Bolt's
`AsyncInstallationStoreAuthorize`, which also rotates tokens when the app has rotation on
(a bot with a refresh token: `AsyncTokenRotator`, oauth.v2.access grant_type=refresh_token,
the new token saved back to the store). A workspace with no installation answers None: the
dispatcher records the message as failed with reason `not_installed`.

Rows with no workspace of their own (a hub with no slack_team_id, a DM addressed to the
default team) keep using SLACK_BOT_TOKEN: the operator's own workspace.

Saving an installation (a reinstall through /slack/oauth_redirect) reconnects the workspace's
hubs and releases what was held for them (core.workspaces.reconnect). Tokens never reach the
logs.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.db.session import unit_of_work
from core.workspaces import reconnect
from yorozu.settings import Settings

log = logging.getLogger(__name__)

ROTATE_MINUTES_BEFORE_EXPIRY = 120
"""Bolt's default: a token expiring within this is refreshed before it is used."""


class WorkspaceInstallationStore(AsyncSQLAlchemyInstallationStore):
    """slack_sdk's store, which also reconnects the workspace's hubs when an install is saved."""

    def __init__(
        self,
        client_id: str,
        engine: AsyncEngine,
        *,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(client_id=client_id, engine=engine)
        self._sessions = session_factory
        self._clock = clock

    async def async_save(self, installation: Installation) -> None:
        await super().async_save(installation)  # type: ignore[no-untyped-call]
        if self._sessions is None or self._clock is None:
            return
        async with unit_of_work(self._sessions) as session:
            released = await reconnect(
                session,
                team_id=installation.team_id,
                enterprise_id=installation.enterprise_id,
                now=self._clock.now(),
            )
        log.info(
            "Slack workspace installed; held messages released",
            extra={"team_id": installation.team_id, "released": released},
        )


def oauth_enabled(settings: Settings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


class SlackTokens:
    """The bot token for a workspace: the single token, or the workspace's installation."""

    def __init__(
        self,
        settings: Settings,
        *,
        installation_store: AsyncSQLAlchemyInstallationStore | None = None,
        client: AsyncWebClient | None = None,
    ) -> None:
        self.single = settings.slack_bot_token.get_secret_value()
        self.client = client or AsyncWebClient(base_url=str(settings.slack_api_base_url))
        self._authorize: AsyncInstallationStoreAuthorize | None = None
        if installation_store is not None and oauth_enabled(settings):
            assert settings.slack_client_secret is not None
            self._authorize = AsyncInstallationStoreAuthorize(
                installation_store=installation_store,
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                token_rotation_expiration_minutes=ROTATE_MINUTES_BEFORE_EXPIRY,
                bot_only=True,
                cache_enabled=True,
                client=self.client,
                logger=log,
            )

    @property
    def per_workspace(self) -> bool:
        return self._authorize is not None

    async def token_for(self, team_id: str | None, enterprise_id: str | None) -> str | None:
        """The bot token for the workspace; None when the app is not installed there."""
        if self._authorize is None or (team_id is None and enterprise_id is None):
            return self.single
        context = AsyncBoltContext()
        context["client"] = self.client
        context["is_enterprise_install"] = team_id is None
        result: Any = await self._authorize(
            context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=None
        )
        token = getattr(result, "bot_token", None) if result is not None else None
        return str(token) if token else None


def installation_store(
    settings: Settings,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession] | None = None,
    clock: Clock | None = None,
) -> WorkspaceInstallationStore | None:
    """The installation store when OAuth is on, else None."""
    if not oauth_enabled(settings) or settings.slack_client_id is None:
        return None
    return WorkspaceInstallationStore(
        settings.slack_client_id, engine, session_factory=session_factory, clock=clock
    )
