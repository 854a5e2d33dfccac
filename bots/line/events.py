"""LINE webhook event (as stored in the inbox) → core OwnerEvent.

Only the fields the core needs are read; anything LINE adds later is ignored rather than
breaking the worker. Unknown event types become OTHER so the owner still gets an answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.owners.events import OwnerEvent, OwnerEventKind


def _when(payload: dict[str, Any], fallback: datetime) -> datetime:
    stamp = payload.get("timestamp")
    if isinstance(stamp, int | float):
        return datetime.fromtimestamp(stamp / 1000, UTC)
    return fallback


def to_owner_event(
    payload: dict[str, Any], *, channel_key: str, received_at: datetime
) -> OwnerEvent | None:
    """None for events that are not an owner speaking to us (groups, rooms, unknown sources)."""
    source = payload.get("source") or {}
    user_id = source.get("userId")
    if source.get("type") != "user" or not isinstance(user_id, str):
        return None
    kind_name = payload.get("type")
    base: dict[str, Any] = {
        "event_id": str(payload.get("webhookEventId") or ""),
        "channel_key": channel_key,
        "user_id": user_id,
        "occurred_at": _when(payload, received_at),
        "received_at": received_at,
        "reply_token": payload.get("replyToken"),
    }
    if kind_name == "follow":
        return OwnerEvent(kind=OwnerEventKind.FOLLOW, **base)
    if kind_name == "unfollow":
        base["reply_token"] = None
        return OwnerEvent(kind=OwnerEventKind.UNFOLLOW, **base)
    if kind_name == "postback":
        postback = payload.get("postback") or {}
        params = {k: str(v) for k, v in (postback.get("params") or {}).items()}
        return OwnerEvent(
            kind=OwnerEventKind.POSTBACK, data=postback.get("data"), params=params, **base
        )
    if kind_name == "message":
        message = payload.get("message") or {}
        if message.get("type") == "text":
            return OwnerEvent(kind=OwnerEventKind.TEXT, text=str(message.get("text", "")), **base)
        return OwnerEvent(
            kind=OwnerEventKind.OTHER,
            message_type=str(message.get("type", "unknown")),
            content=_content(message),
            **base,
        )
    return OwnerEvent(kind=OwnerEventKind.OTHER, message_type=str(kind_name), **base)


CONTENT_FIELDS = (
    ("id", "message_id"),
    ("fileName", "file_name"),
    ("fileSize", "file_size"),
    ("duration", "duration"),
    ("title", "title"),
    ("address", "address"),
    ("latitude", "latitude"),
    ("longitude", "longitude"),
    ("packageId", "package_id"),
    ("stickerId", "sticker_id"),
)
"""LINE message fields (webhook spec: image, video, audio, file, location, sticker messages)
the core keeps, under its own names."""


def _content(message: dict[str, Any]) -> dict[str, str]:
    found = {
        ours: str(message[theirs])
        for theirs, ours in CONTENT_FIELDS
        if message.get(theirs) not in (None, "")
    }
    provider = message.get("contentProvider")
    if isinstance(provider, dict) and provider.get("type"):
        # "line": the content is fetched from LINE; "external": it lives at the sender's URL.
        found["provider"] = str(provider["type"])
    return found
