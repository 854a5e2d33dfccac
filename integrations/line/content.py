"""What an owner sent that LINE keeps for us: photos and files, fetched with the SDK's blob client.

LINE delivers only the message id in the webhook; the bytes come from api-data.line.me
(`GET /v2/bot/message/{messageId}/content`, line-bot-sdk v3 `AsyncMessagingApiBlob`) for a
limited time after sending. Callers check what they can before fetching (a file's size is in
the webhook event); the answer's own size is checked again here, so nothing larger than
`max_bytes` is ever handed on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from linebot.v3.messaging import AsyncApiClient, AsyncMessagingApiBlob, Configuration
from linebot.v3.messaging.exceptions import ApiException

from core.outbox.policy import SendOutcome

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Content:
    outcome: SendOutcome
    data: bytes = b""
    content_type: str = "application/octet-stream"

    @property
    def too_large(self) -> bool:
        return self.outcome.error == "too_large"


class LineContent:
    """One blob client per access token (a channel's), over the data API's base URL."""

    def __init__(self, data_base_url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self._base_url = data_base_url.rstrip("/")
        self._timeout = timeout
        self._clients: dict[str, tuple[AsyncApiClient, AsyncMessagingApiBlob]] = {}

    def _blob(self, access_token: str) -> AsyncMessagingApiBlob:
        found = self._clients.get(access_token)
        if found is None:
            client = AsyncApiClient(Configuration(host=self._base_url, access_token=access_token))
            found = (client, AsyncMessagingApiBlob(client))
            self._clients[access_token] = found
        return found[1]

    async def fetch(self, access_token: str, message_id: str, *, max_bytes: int) -> Content:
        """The content of one message, or the outcome that says why not (never raises)."""
        try:
            response = await self._blob(access_token).get_message_content_with_http_info(
                message_id, _request_timeout=self._timeout
            )
        except ApiException as exc:
            status = int(exc.status) if exc.status else None
            return Content(SendOutcome(status=status, error=f"line_content_{status}"))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return Content(SendOutcome(status=None, error=type(exc).__name__))
        data = bytes(response.data or b"")
        headers = response.headers or {}
        content_type = str(headers.get("Content-Type") or headers.get("content-type") or "").split(
            ";"
        )[0]
        if len(data) > max_bytes:
            return Content(SendOutcome(status=200, error="too_large", ok=False))
        return Content(
            SendOutcome(status=int(response.status_code or 200), ok=True),
            data,
            content_type or "application/octet-stream",
        )

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for client, _blob in clients.values():
            try:
                await client.close()
            except Exception:
                log.warning("closing a LINE blob client failed", exc_info=True)
