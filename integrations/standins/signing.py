"""Sign test requests exactly as LINE and Slack sign theirs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

__all__ = [
    "line_headers",
    "line_webhook_body",
    "sign_line_body",
    "sign_slack_body",
    "slack_headers",
]


def sign_line_body(secret: str, body: bytes) -> str:
    """``x-line-signature``: Base64(HMAC-SHA256(channel secret, raw body))."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def line_headers(secret: str, body: bytes) -> dict[str, str]:
    """Headers of a LINE webhook delivery of ``body``."""
    return {
        "content-type": "application/json; charset=utf-8",
        "x-line-signature": sign_line_body(secret, body),
        "user-agent": "LineBotWebhook/2.0",
    }


def line_webhook_body(destination: str, events: list[dict[str, Any]]) -> bytes:
    """The raw body LINE would send: ``{"destination": ..., "events": [...]}``."""
    return json.dumps(
        {"destination": destination, "events": events}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def sign_slack_body(signing_secret: str, body: bytes, timestamp: int) -> str:
    """``X-Slack-Signature``: ``v0=`` + hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def slack_headers(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` for ``body``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign_slack_body(signing_secret, body, ts),
    }
