"""A business owner's LINE app: the webhook events it causes, signed with the channel secret."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.clock import Clock
from integrations.standins import line_headers
from yorozu.sandbox.signed import SignedRequest

WEBHOOK_PATH = "/webhooks/line"
BOT_DESTINATION = "U" + "b07" * 10 + "00"  # the bot's own user id, as LINE puts it first


def webhook_event_id() -> str:
    """A ULID-shaped id, as LINE's webhookEventId (26 characters, Crockford base32)."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(secrets.choice(alphabet) for _ in range(26))


@dataclass
class LineOwner:
    """One LINE user talking to the account whose secret signs the events.

    `reply_token` asks the LINE stand-in for a live token, as LINE mints one per event: the
    service's answer then goes back as a reply, exactly as in production.
    """

    user_id: str
    channel_secret: str
    clock: Clock
    reply_token: Callable[[str], str]
    path: str = WEBHOOK_PATH

    def follow(self, *, unblocked: bool = False) -> SignedRequest:
        return self._event({"type": "follow", "follow": {"isUnblocked": unblocked}})

    def unfollow(self) -> SignedRequest:
        return self._event({"type": "unfollow"}, reply=False)

    def text(self, text: str) -> SignedRequest:
        message = {
            "id": str(uuid.uuid4().int)[:18],
            "type": "text",
            "text": text,
            "quoteToken": secrets.token_urlsafe(24),
        }
        return self._event({"type": "message", "message": message})

    def sticker(self, package_id: str, sticker_id: str) -> SignedRequest:
        message = {
            "id": self._message_id(),
            "type": "sticker",
            "packageId": package_id,
            "stickerId": sticker_id,
            "stickerResourceType": "STATIC",
            "quoteToken": secrets.token_urlsafe(24),
        }
        return self._event({"type": "message", "message": message})

    def image(self, message_id: str | None = None) -> SignedRequest:
        """A photo sent from the phone: LINE keeps the bytes; the event carries only the id
        under which the content API serves them (contentProvider "line")."""
        message = {
            "id": message_id or self._message_id(),
            "type": "image",
            "contentProvider": {"type": "line"},
            "quoteToken": secrets.token_urlsafe(24),
        }
        return self._event({"type": "message", "message": message})

    def file(self, file_name: str, file_size: int, message_id: str | None = None) -> SignedRequest:
        message = {
            "id": message_id or self._message_id(),
            "type": "file",
            "fileName": file_name,
            "fileSize": file_size,
        }
        return self._event({"type": "message", "message": message})

    def location(
        self, title: str, address: str, latitude: float, longitude: float
    ) -> SignedRequest:
        message = {
            "id": self._message_id(),
            "type": "location",
            "title": title,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
        }
        return self._event({"type": "message", "message": message})

    @staticmethod
    def _message_id() -> str:
        return str(uuid.uuid4().int)[:18]

    def postback(self, data: str, params: dict[str, str] | None = None) -> SignedRequest:
        postback: dict[str, Any] = {"data": data}
        if params:
            postback["params"] = params
        return self._event({"type": "postback", "postback": postback})

    def _event(self, event: dict[str, Any], *, reply: bool = True) -> SignedRequest:
        full = {
            **event,
            "mode": "active",
            "timestamp": int(self.clock.now().timestamp() * 1000),
            "source": {"type": "user", "userId": self.user_id},
            "webhookEventId": webhook_event_id(),
            "deliveryContext": {"isRedelivery": False},
        }
        if reply:
            full["replyToken"] = self.reply_token(self.user_id)
        body = json.dumps(
            {"destination": BOT_DESTINATION, "events": [full]},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return SignedRequest(self.path, body, line_headers(self.channel_secret, body))


def line_actions(messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tappable postback in some LINE messages (quick replies, flex and template
    buttons, date pickers): what the owner's phone lets them tap."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in {"postback", "datetimepicker"} and "data" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(list(messages))
    return found
