"""A request ready to send, signed the way LINE or Slack signs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class SignedRequest:
    """Raw bytes and headers: the signature covers the exact body, so both travel together."""

    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """For the emulator page, which sends the request itself with fetch()."""
        return {"url": self.path, "headers": self.headers, "body": self.body.decode()}

    async def send(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(self.path, content=self.body, headers=self.headers)
