"""users.info behind core.console.slack_users: is a typed Slack id a person of the workspace?

Slack answers `user_not_found` for an id it does not know (the stand-in does too, in strict
mode), `deleted: true` for an account deactivated in Slack, and `is_bot` for an app. Any
other failure (no token, rate limit, time-out) answers UNCHECKED: the console must not
refuse a hub's registration because Slack is slow, and it never guesses that an id is wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from core.console.slack_users import SlackUserStatus

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5

TokenFor = Callable[[str | None], Awaitable[str | None]]


class SlackUsersDirectory:
    def __init__(self, base_url: str, token_for: TokenFor) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        self._base_url = base_url
        self._token_for = token_for

    async def user_status(self, team_id: str | None, user_id: str) -> SlackUserStatus:
        token = await self._token_for(team_id)
        if not token:
            return SlackUserStatus.UNCHECKED
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            client = AsyncWebClient(
                token=token,
                base_url=self._base_url,
                timeout=TIMEOUT_SECONDS,
                session=session,
                retry_handlers=[],
            )
            try:
                response = await client.users_info(user=user_id)
            except SlackApiError as exc:
                data = exc.response.data if isinstance(exc.response.data, dict) else {}
                if data.get("error") == "user_not_found":
                    return SlackUserStatus.NOT_FOUND
                log.warning("users.info failed", extra={"error": data.get("error")})
                return SlackUserStatus.UNCHECKED
            except (TimeoutError, aiohttp.ClientError, OSError, SlackClientError) as exc:
                log.warning("users.info unreachable", extra={"error": type(exc).__name__})
                return SlackUserStatus.UNCHECKED
        user = response.data.get("user") if isinstance(response.data, dict) else None
        if not isinstance(user, dict):
            return SlackUserStatus.UNCHECKED
        if user.get("deleted"):
            return SlackUserStatus.DEACTIVATED
        if user.get("is_bot"):
            return SlackUserStatus.BOT
        return SlackUserStatus.FOUND
