"""LINE Messaging API sends, answering neutral outcomes.

Reply and push, the two calls on the dispatcher's hot path, post the already-rendered JSON
straight over one aiohttp session: the SDK's request models re-validate every message with
pydantic, which cost more CPU per message than everything else in the dispatcher and held
it well under LINE's rate (bench/dispatch.py). The bodies are the ones the SDK would send,
and the LINE stand-in checks each against the official OpenAPI description in tests. The
quota reads stay on line-bot-sdk v3 (AsyncMessagingApi), one client per access token.

Nothing here raises for an HTTP answer, a time-out or a refused connection: every call
answers a `SendOutcome` and core.outbox.policy decides. Time-outs are short (the SDK's
default is 300 s).
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
        self._session: aiohttp.ClientSession | None = None

    async def _post(
        self, access_token: str, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> SendOutcome:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=256),
                json_serialize=json.dumps,
            )
        try:
            async with self._session.post(
                self._base_url + path,
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={
                    "Authorization": f"Bearer {access_token}",
                    "Content-Type": "application/json",
                    **headers,
                },
            ) as response:
                payload = await response.read()
                status = response.status
                if 200 <= status < 300:
                    return SendOutcome(
                        status=status, request_id=response.headers.get("x-line-request-id")
                    )
                request_id = response.headers.get(
                    "x-line-accepted-request-id"
                ) or response.headers.get("x-line-request-id")
                return SendOutcome(
                    status=status, request_id=request_id, error=_error_message(payload)
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendOutcome(status=None, error=type(exc).__name__)

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
        body = {"replyToken": reply_token, "messages": list(messages)}
        return await self._post(access_token, "/v2/bot/message/reply", body, {})

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
        return await self._post(
            access_token, "/v2/bot/message/push", body, {"X-Line-Retry-Key": retry_key}
        )

    async def get_profile_language(self, access_token: str, user_id: str) -> str | None:
        """The owner's LINE language ("ja", "en", ...), or None when it cannot be read."""
        try:
            profile = await self._api(access_token).get_profile(
                user_id, _request_timeout=self._timeout
            )
        except (TimeoutError, ApiException, aiohttp.ClientError, OSError):
            log.warning("LINE profile could not be read")
            return None
        language = getattr(profile, "language", None)
        return str(language) if language else None

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
        if self._session is not None:
            await self._session.close()
            self._session = None
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
