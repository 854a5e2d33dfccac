"""Photos and files an owner sends: which are shown in the case's thread, and how they travel.

LINE keeps the bytes; the webhook brings only the message id (and, for a file, its name and
size). The dispatcher fetches what is worth showing from LINE and shares it in the thread
(`SLACK_FILE_KIND` rows); the core decides here what that is, so a 300 MB video or an
executable is never downloaded, while the CO still reads that it came.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Final

from core.db.models import CaseMessage

SLACK_FILE_KIND: Final = "slack_file"
MAX_ATTACHMENT_BYTES: Final = 10 * 2**20
"""What the thread shows: photos from a phone are a few MB; larger files are named, not
fetched (the CO asks the owner for another way)."""
SHOWN_FILE_TYPES: Final = frozenset(
    {
        ".pdf",
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".heic",
        ".webp",
        ".xlsx",
        ".xls",
        ".docx",
        ".doc",
        ".pptx",
        ".csv",
        ".txt",
    }
)
"""Documents a consultation uses (決算書, 事業計画, photos of a shop); nothing executable."""


def why_not_shown(words: CaseMessage) -> str | None:
    """None when the dispatcher should fetch and show it; else why only its name is told
    (too_large, type), or "kind" for what is never fetched (video, audio, stickers)."""
    attachment = words.attachment or {}
    if words.content_type == "image":
        if attachment.get("provider", "line") != "line" or not attachment.get("message_id"):
            return "kind"
        return None
    if words.content_type != "file" or not attachment.get("message_id"):
        return "kind"
    suffix = PurePosixPath(str(attachment.get("file_name") or "")).suffix.lower()
    if suffix not in SHOWN_FILE_TYPES:
        return "type"
    try:
        size = int(str(attachment.get("file_size") or "0"))
    except ValueError:
        size = 0
    if size > MAX_ATTACHMENT_BYTES:
        return "too_large"
    return None
