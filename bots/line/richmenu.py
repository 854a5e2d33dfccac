"""A rich menu definition (core/owners/richmenus.py) as LINE's request JSON and its image.

The image is drawn from the same definition as the tap areas, so a tile and the area that
answers a tap on it cannot drift apart, and a label edited in the catalog reaches both the
picture and the accessibility label at the next deploy.

LINE's rules (PLATFORMS.md): JPEG/PNG, 800–2500 px wide, ≥250 px high, width/height ≥1.45,
≤1 MB, the image size equal to the menu size, ≤20 areas, chat bar text ≤14 characters.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from PIL import Image, ImageDraw, ImageFont

from core.i18n import Catalog
from core.owners.richmenus import (
    MENUS,
    Cell,
    Height,
    Link,
    MenuArea,
    Postback,
    RichMenuDefinition,
)

WIDTH: Final = 2500
HEIGHTS: Final[dict[Height, int]] = {Height.FULL: 1686, Height.HALF: 843}
MAX_IMAGE_BYTES: Final = 1024 * 1024
MAX_LABEL: Final = 20
MAX_CHAT_BAR: Final = 14
NAME_PREFIX: Final = "yorozu-"
"""Every menu a deploy creates is named with this prefix; a later deploy deletes the ones it
replaced by it, and leaves menus made by hand in the console alone."""

FONT_CANDIDATES: Final[tuple[str, ...]] = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
FONT_PACKAGE: Final = "fonts-ipaexfont-gothic"

# Brand-neutral: a calm slate blue for the one tile a menu most wants tapped, soft greys for
# the rest, white gutters. Contrast of text on both is above WCAG AA for large text.
BACKGROUND: Final = (255, 255, 255)
TILE: Final = (241, 244, 247)
TILE_TEXT: Final = (31, 41, 51)
TILE_CAPTION: Final = (82, 96, 109)
TILE_ICON: Final = (62, 92, 128)
ACCENT: Final = (44, 82, 122)
ACCENT_TEXT: Final = (255, 255, 255)
ACCENT_CAPTION: Final = (214, 226, 238)
GUTTER: Final = 8


class FontNotFoundError(RuntimeError):
    """No font that can draw Japanese: the image would show empty boxes instead of labels."""


@dataclass(frozen=True)
class RenderedMenu:
    """One menu ready to deploy: LINE's JSON (with its name), the PNG, and its alias id."""

    menu_id: str
    request: dict[str, Any]
    image: bytes
    name: str
    alias: str


def menu_size(menu: RichMenuDefinition) -> tuple[int, int]:
    return WIDTH, HEIGHTS[menu.height]


def cell_box(menu: RichMenuDefinition, cell: Cell) -> tuple[int, int, int, int]:
    """(x, y, width, height) in pixels; integer edges so adjacent tiles share them exactly."""
    width, height = menu_size(menu)
    x0 = cell.column * width // menu.columns
    x1 = (cell.column + cell.columns) * width // menu.columns
    y0 = cell.row * height // menu.rows
    y1 = (cell.row + cell.rows) * height // menu.rows
    return x0, y0, x1 - x0, y1 - y0


def alias_for(menu_id: str) -> str:
    """The rich menu alias (≤32 characters of [a-z0-9_-]) for `richmenuswitch` tabs."""
    return (NAME_PREFIX + menu_id.replace(".", "-"))[:32]


def rich_menu_request(
    menu: RichMenuDefinition,
    *,
    links: Mapping[str, str],
    locale: str = "ja",
    catalog: Catalog | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """LINE's RichMenuRequest as JSON. `links` resolves each Link (e.g. "privacy" → URL)."""
    catalog = catalog or Catalog.load()
    width, height = menu_size(menu)
    chat_bar = catalog.render(menu.chat_bar, locale)
    if len(chat_bar) > MAX_CHAT_BAR:
        raise ValueError(f"{menu.menu_id}: chat bar text over {MAX_CHAT_BAR} characters")
    areas = []
    for area in menu.areas:
        x, y, w, h = cell_box(menu, area.cell)
        areas.append(
            {
                "bounds": {"x": x, "y": y, "width": w, "height": h},
                "action": _action(area, links, locale, catalog),
            }
        )
    return {
        "size": {"width": width, "height": height},
        "selected": menu.opened,
        "name": name or NAME_PREFIX + menu.menu_id,
        "chatBarText": chat_bar,
        "areas": areas,
    }


def _action(
    area: MenuArea, links: Mapping[str, str], locale: str, catalog: Catalog
) -> dict[str, Any]:
    label = catalog.render(area.label, locale)[:MAX_LABEL]
    if isinstance(area.action, Postback):
        return {
            "type": "postback",
            "label": label,
            "data": area.action.data,
            "displayText": catalog.render(area.action.display, locale),
        }
    if isinstance(area.action, Link):
        try:
            uri = links[area.action.link]
        except KeyError:
            raise ValueError(f"no URL for the {area.action.link!r} link") from None
        return {"type": "uri", "label": label, "uri": uri}
    raise TypeError(f"unknown rich menu action {area.action!r}")


# -- fonts ----------------------------------------------------------------------------------


def find_font(
    configured: str | Path | None = None,
    *,
    candidates: tuple[str, ...] = FONT_CANDIDATES,
    use_fontconfig: bool = True,
) -> Path:
    """The font to draw Japanese with: the configured one (RICH_MENU_FONT), else a known CJK
    font, else what fontconfig offers for Japanese."""
    if configured:
        path = Path(configured)
        if path.is_file():
            return path
        raise FontNotFoundError(f"RICH_MENU_FONT points to {path}, which does not exist")
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    found = _fontconfig_japanese() if use_fontconfig else None
    if found is not None:
        return found
    raise FontNotFoundError(
        "no Japanese font found for the rich menu image: install the Debian package "
        f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or set RICH_MENU_FONT to a .ttf/.otf"
    )


def _fontconfig_japanese() -> Path | None:
    """fc-match answers *something* even without Japanese fonts (DejaVu), so its answer is only
    taken when fc-list also names it as covering Japanese."""
    fc_match, fc_list = shutil.which("fc-match"), shutil.which("fc-list")
    if fc_match is None or fc_list is None:
        return None
    try:
        best = subprocess.run(
            [fc_match, ":lang=ja", "-f", "%{file}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        covering = subprocess.run(
            [fc_list, ":lang=ja", "-f", "%{file}\n"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    if best and best in covering and Path(best).is_file():
        return Path(best)
    return None


# -- the image ------------------------------------------------------------------------------


def render_image(
    menu: RichMenuDefinition,
    *,
    locale: str = "ja",
    catalog: Catalog | None = None,
    font_path: str | Path | None = None,
) -> bytes:
    """The menu's PNG: one tile per area, label and caption in the reader's language."""
    catalog = catalog or Catalog.load()
    font_file = find_font(font_path)
    width, height = menu_size(menu)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    unit = HEIGHTS[Height.FULL] // 2  # one full-menu row: sizes stay equal across menus
    for area in menu.areas:
        x, y, w, h = cell_box(menu, area.cell)
        box = (x + GUTTER // 2, y + GUTTER // 2, x + w - GUTTER // 2 - 1, y + h - GUTTER // 2 - 1)
        _draw_tile(draw, box, area, catalog, locale, font_file, unit)
    return _png(image)


def _draw_tile(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    area: MenuArea,
    catalog: Catalog,
    locale: str,
    font_file: Path,
    unit: int,
) -> None:
    left, top, right, bottom = box
    fill, text_colour, caption_colour, icon_colour = (
        (ACCENT, ACCENT_TEXT, ACCENT_CAPTION, ACCENT_TEXT)
        if area.emphasis
        else (TILE, TILE_TEXT, TILE_CAPTION, TILE_ICON)
    )
    draw.rounded_rectangle(box, radius=unit // 20, fill=fill)
    tile_w, tile_h = right - left, bottom - top
    room = int(tile_w * 0.86)
    label = catalog.render(area.label, locale)
    caption = catalog.render(area.caption, locale) if area.caption is not None else ""
    label_font = _fit(font_file, label, room, int(unit * (0.125 if area.emphasis else 0.105)))
    caption_font = _fit(font_file, caption, room, int(unit * 0.062)) if caption else None
    icon = int(min(tile_h * 0.30, unit * 0.30))
    gap = int(unit * 0.05)
    label_h = _line_height(label_font)
    caption_h = _line_height(caption_font) if caption_font is not None else 0
    total = icon + gap + label_h + (gap // 2 + caption_h if caption_font is not None else 0)
    cy = top + (tile_h - total) // 2
    cx = left + tile_w // 2
    icon_box = (cx - icon // 2, cy, cx + icon // 2, cy + icon)
    _draw_icon(draw, area.key, icon_box, icon_colour, fill, font_file)
    cy += icon + gap
    stroke = max(1, label_font.size // 40)
    draw.text(
        (cx, cy),
        label,
        font=label_font,
        fill=text_colour,
        anchor="mt",
        stroke_width=stroke,
        stroke_fill=text_colour,
    )
    if caption_font is not None:
        cy += label_h + gap // 2
        draw.text((cx, cy), caption, font=caption_font, fill=caption_colour, anchor="mt")


@lru_cache(maxsize=64)
def _font(font_file: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_file), size)


def _fit(font_file: Path, text: str, room: int, size: int) -> ImageFont.FreeTypeFont:
    """The largest font ≤ `size` in which `text` fits on one line of `room` pixels."""
    while True:
        font = _font(font_file, size)
        if size <= 12 or font.getlength(text) <= room:
            return font
        size = int(size * 0.92)


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return int(ascent + descent)


def _draw_icon(
    draw: ImageDraw.ImageDraw,
    key: str,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    background: tuple[int, int, int],
    font_file: Path,
) -> None:
    """Simple line icons drawn from primitives, so no icon files or licences are needed."""
    left, top, right, bottom = box
    size = right - left
    line = max(3, size // 14)
    cx, cy = (left + right) // 2, (top + bottom) // 2
    if key == "book":  # a calendar with a plus
        draw.rounded_rectangle(
            (left, top + size // 8, right, bottom), radius=size // 10, outline=colour, width=line
        )
        draw.line((left, top + size * 3 // 8, right, top + size * 3 // 8), fill=colour, width=line)
        for x in (left + size // 4, right - size // 4):
            draw.line((x, top, x, top + size // 4), fill=colour, width=line)
        arm = size // 7
        my = (top + size * 3 // 8 + bottom) // 2
        draw.line((cx - arm, my, cx + arm, my), fill=colour, width=line)
        draw.line((cx, my - arm, cx, my + arm), fill=colour, width=line)
    elif key == "bookings":  # a calendar with a tick
        draw.rounded_rectangle(
            (left, top + size // 8, right, bottom), radius=size // 10, outline=colour, width=line
        )
        draw.line((left, top + size * 3 // 8, right, top + size * 3 // 8), fill=colour, width=line)
        for x in (left + size // 4, right - size // 4):
            draw.line((x, top, x, top + size // 4), fill=colour, width=line)
        my = (top + size * 3 // 8 + bottom) // 2
        draw.line(
            (cx - size // 5, my, cx - size // 20, my + size // 7, cx + size // 5, my - size // 8),
            fill=colour,
            width=line,
            joint="curve",
        )
    elif key == "selfcheck":  # a rising bar chart
        base = bottom - line
        draw.line((left, base, right, base), fill=colour, width=line)
        bar = size // 5
        for i, frac in enumerate((0.35, 0.6, 0.9)):
            x0 = left + size // 10 + i * (bar + size // 10)
            draw.rectangle((x0, base - int(size * frac), x0 + bar, base), fill=colour)
    elif key == "faq":  # a speech bubble with a question mark
        draw.ellipse((left, top, right, bottom - size // 8), outline=colour, width=line)
        draw.polygon(
            (
                (left + size // 5, bottom - size // 4),
                (left + size // 8, bottom),
                (left + size * 2 // 5, bottom - size // 6),
            ),
            fill=colour,
        )
        mark = _font(font_file, int(size * 0.5))
        draw.text((cx, cy - size // 16), "?", font=mark, fill=colour, anchor="mm")
    elif key == "hub":  # a map pin
        r = size * 3 // 10
        pin_top = top + size // 12
        draw.ellipse((cx - r, pin_top, cx + r, pin_top + 2 * r), fill=colour)
        draw.polygon(
            (
                (cx - r * 9 // 10, pin_top + r * 3 // 2),
                (cx + r * 9 // 10, pin_top + r * 3 // 2),
                (cx, bottom),
            ),
            fill=colour,
        )
        hole = r * 2 // 5
        draw.ellipse(
            (cx - hole, pin_top + r - hole, cx + hole, pin_top + r + hole), fill=background
        )
    elif key == "consent":  # a tick in a circle
        draw.ellipse(box, outline=colour, width=line)
        draw.line(
            (cx - size // 4, cy, cx - size // 14, cy + size // 6, cx + size // 4, cy - size // 6),
            fill=colour,
            width=line,
            joint="curve",
        )
    elif key == "privacy":  # a padlock
        body_top = top + size * 2 // 5
        draw.rounded_rectangle(
            (left + size // 8, body_top, right - size // 8, bottom), radius=size // 12, fill=colour
        )
        shackle = size // 4
        draw.arc(
            (cx - shackle, top, cx + shackle, body_top + shackle),
            start=180,
            end=360,
            fill=colour,
            width=line,
        )
        for x in (cx - shackle + line // 2, cx + shackle - line // 2):
            draw.line((x, top + shackle, x, body_top), fill=colour, width=line)
        draw.ellipse(
            (
                cx - size // 14,
                body_top + size // 6,
                cx + size // 14,
                body_top + size // 6 + size // 7,
            ),
            fill=background,
        )


def _png(image: Image.Image) -> bytes:
    """PNG bytes within LINE's 1 MB; flat tiles compress far below it, a palette is the
    fallback should a future design not."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > MAX_IMAGE_BYTES:
        buffer = io.BytesIO()
        image.quantize(colors=256).save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"rich menu image is {len(data)} bytes, over LINE's 1 MB")
    return data


# -- everything at once ----------------------------------------------------------------------


def build_menus(
    *,
    links: Mapping[str, str],
    locale: str = "ja",
    catalog: Catalog | None = None,
    font_path: str | Path | None = None,
    menus: Iterable[RichMenuDefinition] | None = None,
) -> list[RenderedMenu]:
    """Every menu as JSON plus PNG, named by a digest of both.

    The digest in the name is what makes a re-deploy idempotent: a menu whose JSON and image
    are unchanged keeps its name, so the deploy finds it on LINE and reuses it instead of
    replacing it (which would drop every per-user link to it).
    """
    catalog = catalog or Catalog.load()
    rendered = []
    for menu in menus if menus is not None else MENUS.values():
        request = rich_menu_request(menu, links=links, locale=locale, catalog=catalog)
        image = render_image(menu, locale=locale, catalog=catalog, font_path=font_path)
        digest = hashlib.sha256(
            json.dumps(request, sort_keys=True, ensure_ascii=False).encode() + image
        ).hexdigest()[:12]
        name = f"{NAME_PREFIX}{menu.menu_id}-{digest}"
        request["name"] = name
        rendered.append(RenderedMenu(menu.menu_id, request, image, name, alias_for(menu.menu_id)))
    return rendered
