"""The rich menus under the owner's chat, as data, and which one a person should see.

The menu follows the person's state (issue 5): before consent it offers only what needs no
personal data (consent, the privacy policy, the FAQ); once registered it offers the six
everyday actions (「相談員と話す」 among them: a person is behind the bot); with an upcoming
booking the booking comes first, because "when is it, can I move it" is then the likeliest
question. Definitions are plain data (a grid, catalog keys,
postback data) so the LINE adapter can turn them into LINE's JSON and an image, and tests can
check LINE's limits without LINE.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from core.i18n import Text
from core.owners import postbacks

BEFORE_CONSENT: Final = "before_consent"
REGISTERED: Final = "registered"
BOOKED: Final = "booked"
MENU_IDS: Final[tuple[str, ...]] = (BEFORE_CONSENT, REGISTERED, BOOKED)
DEFAULT_MENU: Final = REGISTERED
"""The channel's default: what a person without a per-user link sees."""

MENU_BOOK: Final = "menu.book"
MENU_BOOKINGS: Final = "menu.bookings"
MENU_SELFCHECK: Final = "menu.selfcheck"
MENU_FAQ: Final = "menu.faq"
MENU_HUB: Final = "menu.hub"
MENU_TALK: Final = "menu.talk"

PRIVACY_LINK: Final = "privacy"
"""A link the edge resolves per channel (the privacy notice URL is a setting, not data)."""

MAX_AREAS: Final = 20
MAX_CHAT_BAR_LENGTH: Final = 14
MAX_ACTION_LABEL_LENGTH: Final = 20


class Height(StrEnum):
    """LINE's two full-width menu shapes; the adapter maps them to pixels."""

    FULL = "full"
    HALF = "half"


@dataclass(frozen=True)
class Cell:
    """Where a tile sits in the menu's grid, in whole cells (0-based, spans ≥ 1)."""

    column: int
    row: int
    columns: int = 1
    rows: int = 1

    def covers(self) -> frozenset[tuple[int, int]]:
        return frozenset(
            (self.column + c, self.row + r) for c in range(self.columns) for r in range(self.rows)
        )


@dataclass(frozen=True)
class Postback:
    """A tap that comes back as a postback; `display` appears in the chat as the owner's words,
    so the conversation reads naturally afterwards."""

    data: str
    display: Text


@dataclass(frozen=True)
class Link:
    """A tap that opens a page; `link` names a URL the edge knows (see PRIVACY_LINK)."""

    link: str


@dataclass(frozen=True)
class MenuArea:
    key: str
    label: Text
    caption: Text | None
    action: Postback | Link
    cell: Cell
    emphasis: bool = False
    """Drawn in the accent colour: the one thing this menu most wants the owner to do."""


@dataclass(frozen=True)
class RichMenuDefinition:
    menu_id: str
    height: Height
    columns: int
    rows: int
    chat_bar: Text
    areas: tuple[MenuArea, ...]
    opened: bool = True
    """Shown open when the chat opens (LINE's `selected`)."""


def _menu_action(action: str, label_key: str) -> Postback:
    return Postback(postbacks.encode(action), Text(label_key))


def _area(
    key: str, action: str, cell: Cell, *, emphasis: bool = False, caption: str | None = None
) -> MenuArea:
    return MenuArea(
        key=key,
        label=Text(f"richmenu.label.{key}"),
        caption=Text(caption or f"richmenu.caption.{key}"),
        action=_menu_action(action, f"richmenu.label.{key}"),
        cell=cell,
        emphasis=emphasis,
    )


def _second_row() -> tuple[MenuArea, ...]:
    return (
        _area("selfcheck", MENU_SELFCHECK, Cell(0, 1)),
        _area("faq", MENU_FAQ, Cell(1, 1)),
        _area("hub", MENU_HUB, Cell(2, 1)),
    )


BEFORE_CONSENT_MENU: Final = RichMenuDefinition(
    menu_id=BEFORE_CONSENT,
    height=Height.HALF,
    columns=4,
    rows=1,
    chat_bar=Text("richmenu.chat_bar.before_consent"),
    areas=(
        MenuArea(
            key="consent",
            label=Text("richmenu.label.consent"),
            caption=Text("richmenu.caption.consent"),
            action=Postback(
                postbacks.encode(postbacks.CONSENT_AGREE), Text("richmenu.label.consent")
            ),
            cell=Cell(0, 0, columns=2),
            emphasis=True,
        ),
        MenuArea(
            key="privacy",
            label=Text("richmenu.label.privacy"),
            caption=Text("richmenu.caption.privacy"),
            action=Link(PRIVACY_LINK),
            cell=Cell(2, 0),
        ),
        _area("faq", MENU_FAQ, Cell(3, 0)),
    ),
)

REGISTERED_MENU: Final = RichMenuDefinition(
    menu_id=REGISTERED,
    height=Height.FULL,
    columns=3,
    rows=2,
    chat_bar=Text("richmenu.chat_bar.registered"),
    areas=(
        _area("book", MENU_BOOK, Cell(0, 0), emphasis=True),
        _area("talk", MENU_TALK, Cell(1, 0)),
        _area("bookings", MENU_BOOKINGS, Cell(2, 0)),
        *_second_row(),
    ),
)

BOOKED_MENU: Final = RichMenuDefinition(
    menu_id=BOOKED,
    height=Height.FULL,
    columns=3,
    rows=2,
    chat_bar=Text("richmenu.chat_bar.booked"),
    areas=(
        _area(
            "bookings",
            MENU_BOOKINGS,
            Cell(0, 0),
            emphasis=True,
            caption="richmenu.caption.bookings_upcoming",
        ),
        _area("talk", MENU_TALK, Cell(1, 0)),
        _area("book", MENU_BOOK, Cell(2, 0), caption="richmenu.caption.book_another"),
        *_second_row(),
    ),
)

MENUS: Final[dict[str, RichMenuDefinition]] = {
    menu.menu_id: menu for menu in (BEFORE_CONSENT_MENU, REGISTERED_MENU, BOOKED_MENU)
}


def menu_for(consented: bool, has_upcoming_booking: bool) -> str:
    """The menu id a person in this state should see.

    Without consent nothing else is offered, even if a booking exists (consent withdrawn
    through erasure): every other action would collect or show personal data.
    """
    if not consented:
        return BEFORE_CONSENT
    if has_upcoming_booking:
        return BOOKED
    return REGISTERED


def definition(menu_id: str) -> RichMenuDefinition:
    return MENUS[menu_id]


def problems(menu: RichMenuDefinition) -> list[str]:
    """What in a definition LINE would refuse or a person could not use; empty when fine.

    Checked here rather than by LINE so a bad edit fails a unit test, not a deploy.
    """
    found: list[str] = []
    if len(menu.areas) > MAX_AREAS:
        found.append(f"{menu.menu_id}: more than {MAX_AREAS} areas")
    seen: set[tuple[int, int]] = set()
    keys: set[str] = set()
    for area in menu.areas:
        cell = area.cell
        if min(cell.column, cell.row) < 0 or min(cell.columns, cell.rows) < 1:
            found.append(f"{menu.menu_id}.{area.key}: invalid cell {cell}")
        if cell.column + cell.columns > menu.columns or cell.row + cell.rows > menu.rows:
            found.append(f"{menu.menu_id}.{area.key}: outside the {menu.columns}x{menu.rows} grid")
        overlap = seen & cell.covers()
        if overlap:
            found.append(f"{menu.menu_id}.{area.key}: overlaps another tile at {sorted(overlap)}")
        seen |= cell.covers()
        if area.key in keys:
            found.append(f"{menu.menu_id}.{area.key}: key used twice")
        keys.add(area.key)
        if (
            isinstance(area.action, Postback)
            and len(area.action.data) > postbacks.MAX_POSTBACK_LENGTH
        ):
            found.append(f"{menu.menu_id}.{area.key}: postback data too long")
    if len(seen) != menu.columns * menu.rows:
        found.append(f"{menu.menu_id}: the grid has empty cells")
    return found
