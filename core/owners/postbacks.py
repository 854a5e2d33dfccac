"""Postback data: what a tapped button sends back, compact and versionless.

LINE allows 300 characters; query-string form keeps it short, readable in logs (it carries
no personal data) and parseable without a schema.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

MAX_POSTBACK_LENGTH = 300


def encode(action: str, **values: str | int) -> str:
    data = urlencode({"a": action, **{k: str(v) for k, v in values.items()}})
    if len(data) > MAX_POSTBACK_LENGTH:
        raise ValueError(f"postback data over {MAX_POSTBACK_LENGTH} characters: {action}")
    return data


def decode(data: str | None) -> tuple[str, dict[str, str]]:
    """(action, values); unknown or malformed data decodes to action "" so it is answered."""
    if not data:
        return "", {}
    try:
        pairs = dict(parse_qsl(data, strict_parsing=True))
    except ValueError:
        return "", {}
    action = pairs.pop("a", "")
    return action, pairs


CONSENT_AGREE = "consent.agree"
CONSENT_DECLINE = "consent.decline"
DELETE_CONFIRM = "delete.confirm"
DELETE_KEEP = "delete.keep"
MENU = "menu"
MENU_BOOK = "menu.book"
MENU_BOOKINGS = "menu.bookings"
MENU_SELFCHECK = "menu.selfcheck"
MENU_FAQ = "menu.faq"
MENU_HUB = "menu.hub"
MENU_TALK = "menu.talk"
