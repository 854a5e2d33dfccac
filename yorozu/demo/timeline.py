"""The demo's timeline: who did what, on which platform, and what arrived, in Japan time.

Every word the demo itself prints comes from the message catalog (core/i18n/*/demo.toml), so
`--lang en` prints the same story in English. The excerpts of what arrived are the service's
own words, as the stand-ins received them: they are not translated here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.clock import to_jst
from core.i18n import Catalog, Text

if TYPE_CHECKING:
    from integrations.standins.line_api import Delivery
    from yorozu.demo.world import Seen

EXCERPT_WIDTH = 72
"""Display columns of an excerpt (a Japanese character takes two)."""
MAX_LABELS = 6
TIME_COLUMN = 18
PLATFORM_COLUMN = 5


@dataclass(frozen=True)
class Entry:
    """One line of the timeline."""

    at: datetime
    platform: str  # "LINE" | "Slack" | "" (the demo's own notes)
    text: str


def width(text: str) -> int:
    """Columns a terminal gives the text (wide and full-width characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def clip(text: str, columns: int = EXCERPT_WIDTH) -> str:
    """One line, cut to `columns` with an ellipsis."""
    flat = re.sub(r"\s+", " ", text).strip()
    if width(flat) <= columns:
        return flat
    out, used = [], 0
    for ch in flat:
        used += width(ch)
        if used > columns - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


def line_texts(messages: Sequence[dict[str, Any]]) -> list[str]:
    """What the owner's phone shows, one bubble each: a text, or a card's alt text."""
    return [
        str(message.get("text") or message.get("altText"))
        for message in messages
        if message.get("text") or message.get("altText")
    ]


def changed(before: str, after: str) -> str:
    """An edited message as a reader notices it: its first line, then the lines now new."""
    old = set(before.splitlines())
    lines = after.splitlines()
    new = [line for line in lines[1:] if line not in old]
    return "\n".join(lines[:1] + new)


def line_labels(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The labels of the quick replies (the buttons under the last message)."""
    labels: list[str] = []
    for message in messages:
        for item in (message.get("quickReply") or {}).get("items", []):
            label = (item.get("action") or {}).get("label")
            if label:
                labels.append(str(label))
    return labels


@dataclass
class Timeline:
    """Formats entries in one language; knows the names behind the platforms' ids."""

    catalog: Catalog
    locale: str
    names: dict[str, str] = field(default_factory=dict)
    """Platform user ids (LINE and Slack) → the person's name."""
    channels: dict[str, str] = field(default_factory=dict)
    """Slack channel ids → their name (#yorozu-13-intake)."""
    dms: dict[str, str] = field(default_factory=dict)
    """Slack DM channel ids → the user id on the other end."""
    _last_time: str | None = None
    _texts: dict[tuple[str, str], str] = field(default_factory=dict)
    """Slack messages as last seen (channel, ts → text), to tell what an edit changed."""

    def t(self, key: str, **params: Any) -> str:
        return self.catalog.text(f"demo.{key}", self.locale, **params)

    def when(self, moment: datetime) -> str:
        local = to_jst(moment)
        weekday = self.catalog.render(Text(f"booking.weekday.{local.weekday()}"), self.locale)
        return self.t("time", at=local, weekday=weekday)

    # -- entries -------------------------------------------------------------------------

    def acted(self, at: datetime, platform: str, who: str, what: str) -> Entry:
        return Entry(at, platform, self.t("acted", who=who, what=what))

    def note(self, at: datetime, text: str) -> Entry:
        return Entry(at, "", text)

    def arrived(self, seen: Seen) -> list[Entry]:
        """What reached the stand-ins, in the order it arrived: each LINE bubble on a line of
        its own (under the first), a Slack post's first lines, an edit's changed lines."""
        entries: list[tuple[datetime, int, Entry]] = []
        for order, delivery in enumerate(seen.line):
            entries.append(
                (delivery.at, order, Entry(delivery.at, "LINE", self._bubbles(delivery)))
            )
        base = len(entries)
        for order, message in enumerate(seen.slack, start=base):
            original = str(message.args.get("text") or message.text or "")
            self._texts[(message.channel, message.ts)] = original
            text = self._slack_place(message.channel, original, updated=False)
            entries.append((message.at, order, Entry(message.at, "Slack", text)))
        base = len(entries)
        for order, update in enumerate(seen.updates, start=base):
            before = self._texts.get((update.channel, update.ts), "")
            after = update.text or ""
            self._texts[(update.channel, update.ts)] = after
            text = self._slack_place(update.channel, changed(before, after), updated=True)
            entries.append((update.at, order, Entry(update.at, "Slack", text)))
        return [entry for _at, _order, entry in sorted(entries, key=lambda item: item[:2])]

    def _bubbles(self, delivery: Delivery) -> str:
        owner = self.names.get(delivery.to, delivery.to)
        bubbles = [clip(text) for text in line_texts(delivery.messages)] or ["…"]
        first = self.t("line_to_owner", account=self.t("line_account"), owner=owner, excerpt="")
        more = self.t("line_more", excerpt="")
        indent = " " * max(0, width(first) - width(more))
        lines = [
            self.t("line_to_owner", account=self.t("line_account"), owner=owner, excerpt=b)
            if index == 0
            else indent + self.t("line_more", excerpt=b)
            for index, b in enumerate(bubbles)
        ]
        labels = line_labels(delivery.messages)
        if labels:
            shown = labels[:MAX_LABELS] + (["…"] if len(labels) > MAX_LABELS else [])
            lines[-1] += " " + self.t("buttons", labels=" | ".join(shown))
        return "\n".join(lines)

    def _slack_place(self, channel: str, text: str, *, updated: bool) -> str:
        excerpt = clip(" / ".join(line for line in text.splitlines() if line.strip()))
        if channel in self.dms:
            user = self.dms[channel]
            return self.t("slack_dm", name=self.names.get(user, user), excerpt=excerpt)
        name = self.channels.get(channel, channel.lower())
        key = "slack_updated" if updated else "slack_channel"
        return self.t(key, channel=name, excerpt=excerpt)

    # -- printing ------------------------------------------------------------------------

    def lines(self, entries: Iterable[Entry]) -> list[str]:
        """The entries as printed lines; the time is shown only when it changes."""
        out = []
        blank = " " * (TIME_COLUMN + PLATFORM_COLUMN + 4)
        for entry in entries:
            stamp = self.when(entry.at)
            shown = stamp if stamp != self._last_time else ""
            self._last_time = stamp
            first, *more = entry.text.split("\n")
            head = f"{pad(shown, TIME_COLUMN)}  {pad(entry.platform, PLATFORM_COLUMN)}  {first}"
            out.append(head.rstrip())
            out.extend((blank + line).rstrip() for line in more)
        return out
