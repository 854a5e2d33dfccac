"""A neutral OutgoingMessage as Slack Block Kit, with a plain-text fallback.

Texts become mrkdwn section blocks, a card a bold title plus a fields section (label/value),
choices and the card's actions buttons in an actions block (the postback data is the
button's value), a date picker a datepicker/timepicker/datetimepicker element, back/cancel
buttons with the conversation commands. The plain text goes in `text` for notifications and
screen readers.
"""

from __future__ import annotations

from typing import Any, Final

from core.clock import to_jst
from core.conversation.engine import Command
from core.i18n import Catalog
from core.messages import Action, DatePicker, OutgoingMessage, PickerMode

MAX_SECTION_TEXT: Final = 3000
MAX_FIELD_TEXT: Final = 2000
MAX_FIELDS: Final = 10
MAX_BUTTON_TEXT: Final = 75
MAX_VALUE: Final = 2000
MAX_ELEMENTS: Final = 25

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters, escaped for mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(
    message: OutgoingMessage, locale: str = "ja", catalog: Catalog | None = None
) -> tuple[str, list[Block]]:
    """(fallback text, blocks) for one neutral message."""
    catalog = catalog or Catalog.load()
    plain: list[str] = []
    blocks: list[Block] = []
    for text in message.texts:
        rendered = catalog.render(text, locale)
        plain.append(rendered)
        for start in range(0, max(1, len(rendered)), MAX_SECTION_TEXT):
            chunk = escape(rendered[start : start + MAX_SECTION_TEXT]) or " "
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    elements: list[Block] = []
    card = message.card
    if card is not None:
        title = catalog.render(card.title, locale)
        plain.append(title)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(title)}*"}})
        fields = []
        for label, value in card.rows:
            label_text, value_text = catalog.render(label, locale), catalog.render(value, locale)
            plain.append(f"{label_text}: {value_text}")
            field = f"*{escape(label_text)}*\n{escape(value_text)}"
            fields.append({"type": "mrkdwn", "text": field[:MAX_FIELD_TEXT]})
        for start in range(0, len(fields), MAX_FIELDS):
            blocks.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
        elements += [
            _button(a, locale, catalog, len(elements) + i) for i, a in enumerate(card.actions)
        ]
    elements += [
        _button(a, locale, catalog, len(elements) + i) for i, a in enumerate(message.choices)
    ]
    if message.picker is not None:
        elements.append(_picker(message.picker, locale, catalog))
    if message.allow_back:
        elements.append(_command_button("line.back", Command.BACK, locale, catalog))
    if message.allow_cancel:
        elements.append(_command_button("line.cancel", Command.CANCEL, locale, catalog))
    for start in range(0, len(elements), MAX_ELEMENTS):
        blocks.append({"type": "actions", "elements": elements[start : start + MAX_ELEMENTS]})
    return "\n".join(plain)[:40_000], blocks


def _plain(text: str, limit: int = MAX_BUTTON_TEXT) -> dict[str, Any]:
    text = text or "-"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _button(action: Action, locale: str, catalog: Catalog, index: int) -> Block:
    if len(action.data) > MAX_VALUE:
        raise ValueError(f"button value longer than {MAX_VALUE} characters")
    return {
        "type": "button",
        "action_id": f"choice:{index}",
        "text": _plain(catalog.render(action.label, locale)),
        "value": action.data,
    }


def _command_button(key: str, command: Command, locale: str, catalog: Catalog) -> Block:
    return {
        "type": "button",
        "action_id": f"command:{command.value}",
        "text": _plain(catalog.text(key, locale)),
        "value": command.value,
    }


def _picker(picker: DatePicker, locale: str, catalog: Catalog) -> Block:
    placeholder = _plain(catalog.render(picker.label, locale), 150)
    action_id = f"picker:{picker.data}"[:255]
    if picker.mode is PickerMode.date:
        element: Block = {"type": "datepicker", "action_id": action_id, "placeholder": placeholder}
        if picker.initial is not None:
            element["initial_date"] = to_jst(picker.initial).strftime("%Y-%m-%d")
        return element
    if picker.mode is PickerMode.time:
        element = {
            "type": "timepicker",
            "action_id": action_id,
            "placeholder": placeholder,
            "timezone": "Asia/Tokyo",
        }
        if picker.initial is not None:
            element["initial_time"] = to_jst(picker.initial).strftime("%H:%M")
        return element
    element = {"type": "datetimepicker", "action_id": action_id}
    if picker.initial is not None:
        element["initial_date_time"] = int(picker.initial.timestamp())
    return element
