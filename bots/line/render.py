"""A neutral OutgoingMessage as LINE message objects (JSON dicts, per messaging-api.yml).

* texts become text messages (≤5,000 characters each; longer ones are split);
* a card becomes a flex bubble: title, rows as label/value boxes, buttons with postback
  actions (altText ≤400 characters);
* a card's links become URI buttons (a web page, or tel: for a call button);
* a location becomes a location message (a map pin) after the texts and the card;
* choices, a date picker and the back/cancel commands become quick-reply items on the last
  message (LINE shows only the last one's), at most 13;
* at most 5 messages per request: surplus texts are joined.

Postback `data` over 300 characters is a bug in the caller and raises; labels are cut at
20 characters (the tapped label is echoed in full as displayText).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from core.clock import to_jst
from core.conversation.engine import Command
from core.i18n import Catalog
from core.messages import Action, Card, DatePicker, Link, Location, OutgoingMessage, PickerMode

MAX_MESSAGES: Final = 5
MAX_TEXT: Final = 5000
MAX_QUICK_REPLY: Final = 13
MAX_LABEL: Final = 20
MAX_DATA: Final = 300
MAX_DISPLAY_TEXT: Final = 300
MAX_ALT_TEXT: Final = 400
MAX_BUTTON_LABEL: Final = 40
MAX_CARD_BUTTONS: Final = 8
MAX_URI: Final = 1000
MAX_LOCATION_TEXT: Final = 100
"""A location message's title and address: at most 100 characters each."""

LineMessage = dict[str, Any]


def render_line(
    message: OutgoingMessage, locale: str = "ja", catalog: Catalog | None = None
) -> list[LineMessage]:
    """LINE message objects for one neutral message, in the reader's language."""
    catalog = catalog or Catalog.load()
    texts = [catalog.render(text, locale) for text in message.texts]
    chunks = [chunk for text in texts for chunk in _split(text, MAX_TEXT)]
    room = (
        MAX_MESSAGES
        - (1 if message.card is not None else 0)
        - (1 if message.location is not None else 0)
    )
    chunks = _fit(chunks, room)
    messages: list[LineMessage] = [{"type": "text", "text": chunk} for chunk in chunks]
    if message.card is not None:
        messages.append(_flex(message.card, locale, catalog))
    if message.location is not None:
        messages.append(_location(message.location, locale, catalog))
    items = _quick_reply_items(message, locale, catalog)
    if items and messages:
        messages[-1]["quickReply"] = {"items": items}
    return messages


def _split(text: str, limit: int) -> list[str]:
    if not text:
        return [" "]
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _fit(chunks: list[str], room: int) -> list[str]:
    """Join trailing texts until at most `room` messages remain (each still ≤5,000)."""
    chunks = list(chunks)
    while len(chunks) > room and len(chunks) >= 2:
        merged = False
        for i in range(len(chunks) - 1):
            joined = chunks[i] + "\n\n" + chunks[i + 1]
            if len(joined) <= MAX_TEXT:
                chunks[i : i + 2] = [joined]
                merged = True
                break
        if not merged:
            raise ValueError("the texts do not fit in 5 LINE messages")
    return chunks


def _label(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join(text.split()) or "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _data(data: str) -> str:
    if len(data) > MAX_DATA:
        raise ValueError(f"postback data longer than {MAX_DATA} characters")
    return data


def _postback(action: Action, locale: str, catalog: Catalog, limit: int = MAX_LABEL) -> LineMessage:
    label = catalog.render(action.label, locale)
    return {
        "type": "postback",
        "label": _label(label, limit),
        "data": _data(action.data),
        "displayText": label[:MAX_DISPLAY_TEXT] or "-",
    }


def _uri(link: Link, locale: str, catalog: Catalog) -> LineMessage:
    if len(link.uri) > MAX_URI or not link.uri.startswith(("https://", "tel:")):
        raise ValueError("a link needs an https: or tel: address of at most 1,000 characters")
    return {
        "type": "uri",
        "label": _label(catalog.render(link.label, locale), MAX_BUTTON_LABEL),
        "uri": link.uri,
    }


def _location(place: Location, locale: str, catalog: Catalog) -> LineMessage:
    return {
        "type": "location",
        "title": _label(catalog.render(place.title, locale), MAX_LOCATION_TEXT),
        "address": _label(catalog.render(place.address, locale), MAX_LOCATION_TEXT),
        "latitude": place.latitude,
        "longitude": place.longitude,
    }


def _picker_value(moment: datetime, mode: PickerMode) -> str:
    local = to_jst(moment)
    if mode is PickerMode.date:
        return local.strftime("%Y-%m-%d")
    if mode is PickerMode.time:
        return local.strftime("%H:%M")
    return local.strftime("%Y-%m-%dT%H:%M")


def datetimepicker_action(picker: DatePicker, locale: str, catalog: Catalog) -> LineMessage:
    """A datetimepicker action; LINE takes Japan wall-clock values without a zone."""
    action: LineMessage = {
        "type": "datetimepicker",
        "label": _label(catalog.render(picker.label, locale)),
        "data": _data(picker.data),
        "mode": picker.mode.value,
    }
    for field, value in (
        ("initial", picker.initial),
        ("min", picker.earliest),
        ("max", picker.latest),
    ):
        if value is not None:
            action[field] = _picker_value(value, picker.mode)
    return action


def _quick_reply_items(
    message: OutgoingMessage, locale: str, catalog: Catalog
) -> list[LineMessage]:
    nav: list[LineMessage] = []
    if message.allow_back:
        nav.append(_command("line.back", Command.BACK, locale, catalog))
    if message.allow_cancel:
        nav.append(_command("line.cancel", Command.CANCEL, locale, catalog))
    actions = [_postback(choice, locale, catalog) for choice in message.choices]
    if message.picker is not None:
        actions.insert(0, datetimepicker_action(message.picker, locale, catalog))
    if len(actions) + len(nav) > MAX_QUICK_REPLY:
        raise ValueError(f"more than {MAX_QUICK_REPLY} quick-reply items: page the choices")
    return [{"type": "action", "action": action} for action in actions + nav]


def _command(key: str, command: Command, locale: str, catalog: Catalog) -> LineMessage:
    label = catalog.text(key, locale)
    return {
        "type": "postback",
        "label": _label(label),
        "data": command.value,
        "displayText": label,
    }


def _text(text: str, **style: Any) -> LineMessage:
    return {"type": "text", "text": text or " ", "wrap": True, **style}


def _flex(card: Card, locale: str, catalog: Catalog) -> LineMessage:
    title = catalog.render(card.title, locale)
    rows: list[LineMessage] = [
        {
            "type": "box",
            "layout": "horizontal",
            "spacing": "md",
            "contents": [
                _text(catalog.render(label, locale), size="sm", color="#888888", flex=2),
                _text(catalog.render(value, locale), size="sm", color="#333333", flex=5),
            ],
        }
        for label, value in card.rows
    ]
    body_contents: list[LineMessage] = [_text(title, weight="bold", size="md")]
    if rows:
        body_contents.append({"type": "separator", "margin": "md"})
        body_contents.append(
            {
                "type": "box",
                "layout": "vertical",
                "margin": "md",
                "spacing": "sm",
                "contents": rows,
            }
        )
    bubble: LineMessage = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical", "contents": body_contents},
    }
    buttons = [_postback(action, locale, catalog, MAX_BUTTON_LABEL) for action in card.actions]
    buttons += [_uri(link, locale, catalog) for link in card.links]
    if buttons:
        if len(buttons) > MAX_CARD_BUTTONS:
            raise ValueError(f"more than {MAX_CARD_BUTTONS} buttons on a card")
        bubble["footer"] = {
            "type": "box",
            "layout": "vertical",
            "spacing": "sm",
            "contents": [
                {
                    "type": "button",
                    "style": "primary" if index == 0 else "secondary",
                    "height": "sm",
                    "action": action,
                }
                for index, action in enumerate(buttons)
            ],
        }
    alt = catalog.render(card.alt_text, locale) if card.alt_text is not None else title
    return {"type": "flex", "altText": _label(alt, MAX_ALT_TEXT), "contents": bubble}
