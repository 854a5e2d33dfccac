"""LINE Messaging API sends over line-bot-sdk v3 (AsyncMessagingApi), answering neutral outcomes.

One AsyncApiClient per channel access token, created on first use and closed by `aclose`.
The SDK raises ApiException for every non-2xx answer and does not retry; this wrapper never
raises for an HTTP answer, a time-out or a refused connection: it answers a `SendOutcome` and
leaves the decision to core.outbox.policy. The SDK's default time-out is 300 s; ours is short.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    PushMessageRequest,
    ReplyMessageRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from core.outbox.policy import SendOutcome

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0


class LineSender:
    """Reply and push for any number of channels, each with its own access token."""

    def __init__(self, base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clients: dict[str, tuple[AsyncApiClient, AsyncMessagingApi]] = {}

    def _api(self, access_token: str) -> AsyncMessagingApi:
        found = self._clients.get(access_token)
        if found is None:
            configuration = Configuration(host=self._base_url, access_token=access_token)
            client = AsyncApiClient(configuration)
            found = (client, AsyncMessagingApi(client))
            self._clients[access_token] = found
        return found[1]

    async def reply(
        self, access_token: str, reply_token: str, messages: Sequence[Mapping[str, Any]]
    ) -> SendOutcome:
        """Reply with a token (free; no retry key: LINE refuses one on reply)."""
        request = ReplyMessageRequest.from_dict(
            {"replyToken": reply_token, "messages": list(messages)}
        )
        api = self._api(access_token)
        return await self._call(
            api.reply_message_with_http_info(request, _request_timeout=self._timeout)
        )

    async def push(
        self,
        access_token: str,
        to: str,
        messages: Sequence[Mapping[str, Any]],
        retry_key: str,
        *,
        notification_disabled: bool = False,
    ) -> SendOutcome:
        """Push with X-Line-Retry-Key; the same key on every attempt of one outbox row."""
        body: dict[str, Any] = {"to": to, "messages": list(messages)}
        if notification_disabled:
            body["notificationDisabled"] = True
        request = PushMessageRequest.from_dict(body)
        api = self._api(access_token)
        return await self._call(
            api.push_message_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout
            )
        )

    async def get_quota(self, access_token: str) -> int | None:
        """The month's push quota (None: unlimited or unknown)."""
        try:
            quota = await self._api(access_token).get_message_quota(_request_timeout=self._timeout)
        except (TimeoutError, ApiException, aiohttp.ClientError):
            log.warning("LINE quota could not be read")
            return None
        if getattr(quota, "type", None) == "limited":
            value = getattr(quota, "value", None)
            return int(value) if value is not None else None
        return None

    async def get_consumption(self, access_token: str) -> int | None:
        """Messages counted against the quota this month, as LINE reports it."""
        try:
            consumption = await self._api(access_token).get_message_quota_consumption(
                _request_timeout=self._timeout
            )
        except (TimeoutError, ApiException, aiohttp.ClientError):
            log.warning("LINE quota consumption could not be read")
            return None
        total = getattr(consumption, "total_usage", None)
        return int(total) if total is not None else None

    async def _call(self, call: Any) -> SendOutcome:
        try:
            response = await call
        except ApiException as exc:
            return _from_exception(exc)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendOutcome(status=None, error=type(exc).__name__)
        headers = response.headers or {}
        return SendOutcome(
            status=int(response.status_code or 200),
            request_id=_header(headers, "x-line-request-id"),
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client, _api in clients.values():
            try:
                await client.close()
            except Exception:
                log.warning("closing a LINE client failed", exc_info=True)


def _from_exception(exc: ApiException) -> SendOutcome:
    headers = exc.headers or {}
    status = int(exc.status) if exc.status is not None else None
    if status == 0:
        status = None
    request_id = _header(headers, "x-line-accepted-request-id") or _header(
        headers, "x-line-request-id"
    )
    return SendOutcome(status=status, request_id=request_id, error=_error_message(exc.body))


def _error_message(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if isinstance(body, str) else body
    except ValueError:
        return str(body)[:200]
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return str(body)[:200]


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is not None:
        value = getter(name)
        if value is None:
            value = getter(name.title())
        if value is not None:
            return str(value)
    for key, value in headers.items():
        if str(key).lower() == name:
            return str(value)
    return None
