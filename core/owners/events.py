"""The owner's side of the front door as the core sees it: no LINE types here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class OwnerEventKind(StrEnum):
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    TEXT = "text"
    POSTBACK = "postback"
    OTHER = "other"
    """Stickers, images, audio, location, files: answered politely, never lost."""


@dataclass(frozen=True)
class OwnerEvent:
    kind: OwnerEventKind
    event_id: str
    """The platform's id for the event (LINE webhookEventId): idempotency keys derive from it."""
    channel_key: str
    """Which official account: "default" (configured in settings) or a hub code."""
    user_id: str
    occurred_at: datetime
    received_at: datetime
    reply_token: str | None = None
    text: str | None = None
    data: str | None = None
    """Postback data."""
    params: dict[str, str] = field(default_factory=dict)
    """Date/time picker answers: {"date"|"time"|"datetime": "..."} in Japan time."""
    message_type: str | None = None
    """For OTHER: sticker, image, video, audio, location, file."""
    content: dict[str, str] = field(default_factory=dict)
    """For OTHER: what the message carried, as plain strings: the LINE message id (to fetch an
    image or file), a file's name and size, a place's title, address and coordinates, a
    sticker's ids. Never the content itself."""
    language: str | None = None
    """The owner's LINE language, when known."""

    @property
    def ordering_key(self) -> str:
        return f"line:{self.channel_key}:{self.user_id}"
