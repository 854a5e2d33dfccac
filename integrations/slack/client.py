"""Slack Web API sends over slack_sdk's AsyncWebClient, answering neutral outcomes.

slack_sdk raises SlackApiError both for HTTP 429 (with a Retry-After header) and for HTTP 200
with `"ok": false`; this wrapper turns either, and time-outs or refused connections, into a
`SendOutcome`. The SDK's own retry handlers are switched off: the outbox decides when to try
again (a silent SDK retry of chat.postMessage could post twice).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from core.outbox.policy import SendOutcome

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5


class SlackSender:
    """chat.postMessage, chat.update, views.publish and conversations.open for one bot token."""

    def __init__(
        self, base_url: str, token: str, *, timeout: int = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        # One connection pool for every call (without it slack_sdk opens a session per call);
        # build the sender inside the running event loop, close it with `aclose`.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            session=self._session,
            retry_handlers=[],
        )

    async def aclose(self) -> None:
        await self._session.close()

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> SendOutcome:
        """Post to a channel (or a user id: the app's DM with them); request_id is the ts."""
        return await self._call(
            self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks) if blocks else None,  # type: ignore[arg-type]
                thread_ts=thread_ts,
            ),
            id_field="ts",
        )

    async def update(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
    ) -> SendOutcome:
        return await self._call(
            self.client.chat_update(
                channel=channel,
                ts=ts,
                text=text,
                blocks=list(blocks) if blocks else None,  # type: ignore[arg-type]
            ),
            id_field="ts",
        )

    async def publish_home(self, user_id: str, view: Mapping[str, Any]) -> SendOutcome:
        return await self._call(
            self.client.views_publish(user_id=user_id, view=dict(view)), id_field=None
        )

    async def open_dm(self, user: str) -> tuple[SendOutcome, str | None]:
        """The DM channel id with `user` (conversations.open), with the call's outcome."""
        outcome = await self._call(self.client.conversations_open(users=user), id_field=None)
        return outcome, outcome.request_id

    async def _call(
        self, call: Awaitable[AsyncSlackResponse], *, id_field: str | None
    ) -> SendOutcome:
        try:
            response = await call
        except SlackApiError as exc:
            return _from_error(exc.response)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendOutcome(status=None, error=type(exc).__name__)
        except SlackClientError as exc:
            return SendOutcome(status=None, error=type(exc).__name__)
        data = response.data if isinstance(response.data, dict) else {}
        request_id: str | None = None
        if id_field is not None and data.get(id_field) is not None:
            request_id = str(data[id_field])
        elif isinstance(data.get("channel"), dict):
            request_id = str(data["channel"].get("id") or "") or None
        return SendOutcome(status=response.status_code, request_id=request_id, ok=True)


def _from_error(response: Any) -> SendOutcome:
    status = int(getattr(response, "status_code", 0) or 0) or None
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None) or {}
    retry_after: float | None = None
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            try:
                retry_after = float(value)
            except (TypeError, ValueError):
                retry_after = None
    return SendOutcome(
        status=status, error=str(error) if error else None, retry_after=retry_after, ok=False
    )
