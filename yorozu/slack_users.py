"""The Slack user directory (users.info) the console and `yorozu admin` check Slack ids with."""

from __future__ import annotations

from core.console.slack_users import SlackUserDirectory
from yorozu.bootstrap import Container


def slack_directory(container: Container) -> SlackUserDirectory:
    """users.info for the Slack ids typed into the console and `yorozu admin` (the bot token
    of the person's workspace: the single token, or the workspace's installation)."""
    from core.staff import DEFAULT_TEAM
    from integrations.slack.directory import SlackUsersDirectory
    from yorozu.slack_tokens import SlackTokens, installation_store

    settings = container.settings
    tokens = SlackTokens(
        settings,
        installation_store=installation_store(
            settings, container.engine, container.session_factory, container.clock
        ),
    )

    async def token_for(team_id: str | None) -> str | None:
        team = None if team_id in (None, DEFAULT_TEAM) else team_id
        return await tokens.token_for(team, None)

    return SlackUsersDirectory(str(settings.slack_api_base_url), token_for)
