"""Channel-neutral outgoing messages, and their JSON form for the outbox.

The core says *what* to tell someone (texts, choices, a card, a date picker); bots/ decide
*how* (a LINE quick reply or flex bubble, a Slack Block Kit message). The outbox stores this
neutral form, and the dispatcher renders it in the recipient's language at send time, so a
message waiting out the night is still rendered in the language the person has by morning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from core.i18n import Text


class PickerMode(StrEnum):
    date = "date"
    time = "time"
    datetime = "datetime"


@dataclass(frozen=True)
class Action:
    """A tappable choice: `data` comes back to the core as a postback, `label` is shown."""

    label: Text
    data: str


@dataclass(frozen=True)
class Link:
    """A button that opens an address instead of answering the core: a web page (https:) or
    a phone call (tel:). The core checks the address when it is typed, not when shown."""

    label: Text
    uri: str


@dataclass(frozen=True)
class Location:
    """A place on a map (LINE shows it as a map pin the owner can open in their maps app)."""

    title: Text
    address: Text
    latitude: float
    longitude: float


@dataclass(frozen=True)
class DatePicker:
    """Ask for a date or time; times are Japan time on the screen, UTC in the core."""

    label: Text
    data: str
    mode: PickerMode = PickerMode.datetime
    initial: datetime | None = None
    earliest: datetime | None = None
    latest: datetime | None = None


@dataclass(frozen=True)
class Card:
    """A summary card (a booking confirmation, a case): title, labelled rows and buttons."""

    title: Text
    rows: tuple[tuple[Text, Text], ...] = ()
    actions: tuple[Action, ...] = ()
    alt_text: Text | None = None
    links: tuple[Link, ...] = ()
    """Buttons that open a page or call a number, shown after the actions."""


@dataclass(frozen=True)
class OutgoingMessage:
    texts: tuple[Text, ...] = ()
    choices: tuple[Action, ...] = ()
    card: Card | None = None
    picker: DatePicker | None = None
    allow_back: bool = False
    allow_cancel: bool = False
    meta: dict[str, str] = field(default_factory=dict, compare=False)
    location: Location | None = None
    """Shown after the texts and the card."""

    def __post_init__(self) -> None:
        if not (self.texts or self.card or self.location):
            raise ValueError("a message needs at least a text, a card or a location")


# -- JSON codec ---------------------------------------------------------------------------


def _encode_param(value: Any) -> Any:
    if isinstance(value, Text):
        return {"$text": encode_text(value)}
    if isinstance(value, tuple):
        return {"$list": [encode_text(item) for item in value]}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    return value


def _decode_param(value: Any) -> Any:
    if isinstance(value, dict):
        if "$text" in value:
            return decode_text(value["$text"])
        if "$list" in value:
            return tuple(decode_text(item) for item in value["$list"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$date" in value:
            return date.fromisoformat(value["$date"])
    return value


def encode_text(text: Text) -> dict[str, Any]:
    return {"key": text.key, "params": {k: _encode_param(v) for k, v in text.params.items()}}


def decode_text(data: dict[str, Any]) -> Text:
    params = {k: _decode_param(v) for k, v in data.get("params", {}).items()}
    return Text(data["key"], **params)


def _encode_action(action: Action) -> dict[str, Any]:
    return {"label": encode_text(action.label), "data": action.data}


def _decode_action(data: dict[str, Any]) -> Action:
    return Action(label=decode_text(data["label"]), data=data["data"])


def _encode_link(link: Link) -> dict[str, Any]:
    return {"label": encode_text(link.label), "uri": link.uri}


def _decode_link(data: dict[str, Any]) -> Link:
    return Link(label=decode_text(data["label"]), uri=data["uri"])


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def encode_message(message: OutgoingMessage) -> dict[str, Any]:
    data: dict[str, Any] = {"texts": [encode_text(t) for t in message.texts]}
    if message.choices:
        data["choices"] = [_encode_action(a) for a in message.choices]
    if message.card is not None:
        card = message.card
        data["card"] = {
            "title": encode_text(card.title),
            "rows": [[encode_text(a), encode_text(b)] for a, b in card.rows],
            "actions": [_encode_action(a) for a in card.actions],
            "alt_text": encode_text(card.alt_text) if card.alt_text else None,
        }
        if card.links:
            data["card"]["links"] = [_encode_link(link) for link in card.links]
    if message.picker is not None:
        picker = message.picker
        data["picker"] = {
            "label": encode_text(picker.label),
            "data": picker.data,
            "mode": picker.mode.value,
            "initial": _dt(picker.initial),
            "earliest": _dt(picker.earliest),
            "latest": _dt(picker.latest),
        }
    if message.allow_back:
        data["allow_back"] = True
    if message.allow_cancel:
        data["allow_cancel"] = True
    if message.meta:
        data["meta"] = dict(message.meta)
    if message.location is not None:
        place = message.location
        data["location"] = {
            "title": encode_text(place.title),
            "address": encode_text(place.address),
            "latitude": place.latitude,
            "longitude": place.longitude,
        }
    return data


def decode_message(data: dict[str, Any]) -> OutgoingMessage:
    card = None
    if data.get("card"):
        raw = data["card"]
        card = Card(
            title=decode_text(raw["title"]),
            rows=tuple((decode_text(a), decode_text(b)) for a, b in raw.get("rows", [])),
            actions=tuple(_decode_action(a) for a in raw.get("actions", [])),
            alt_text=decode_text(raw["alt_text"]) if raw.get("alt_text") else None,
            links=tuple(_decode_link(link) for link in raw.get("links", [])),
        )
    picker = None
    if data.get("picker"):
        raw = data["picker"]
        picker = DatePicker(
            label=decode_text(raw["label"]),
            data=raw["data"],
            mode=PickerMode(raw.get("mode", "datetime")),
            initial=_parse_dt(raw.get("initial")),
            earliest=_parse_dt(raw.get("earliest")),
            latest=_parse_dt(raw.get("latest")),
        )
    location = None
    if data.get("location"):
        raw = data["location"]
        location = Location(
            title=decode_text(raw["title"]),
            address=decode_text(raw["address"]),
            latitude=float(raw["latitude"]),
            longitude=float(raw["longitude"]),
        )
    return OutgoingMessage(
        texts=tuple(decode_text(t) for t in data.get("texts", [])),
        choices=tuple(_decode_action(a) for a in data.get("choices", [])),
        card=card,
        picker=picker,
        allow_back=bool(data.get("allow_back", False)),
        allow_cancel=bool(data.get("allow_cancel", False)),
        meta=dict(data.get("meta", {})),
        location=location,
    )
