"""Reading a spreadsheet someone saved as CSV: the part every console import shares.

Japanese Excel saves "CSV UTF-8" with a BOM, or "CSV" in Shift_JIS; both are read. Headers
are matched after NFKC and lower-casing, so 氏名 and Ｎａｍｅ alike find their column. What
is wrong with the file as a whole comes back as catalog texts; the rows come back as typed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from core.i18n import Text
from core.text.normalize import normalize_text

MAX_BYTES: Final = 1_000_000
"""A sheet of a hub's people is a few kilobytes; a bigger upload is a wrong file."""
MAX_ROWS: Final = 500


@dataclass
class Sheet:
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    """(line as Excel numbers it, {field: cell as typed}) for every non-blank row."""
    errors: list[Text] = field(default_factory=list)


def decoded(data: bytes) -> str | None:
    """UTF-8 (with or without Excel's BOM), else Shift_JIS, as Japanese Excel saves CSV."""
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def read_sheet(data: bytes, columns: Mapping[str, str], *, required: str = "name") -> Sheet:
    """Split a CSV file into rows of named cells; `columns` maps headers to field names."""
    if len(data) > MAX_BYTES:
        return Sheet(errors=[Text("console.import.too_big", limit=MAX_BYTES // 1000)])
    text = decoded(data)
    if text is None:
        return Sheet(errors=[Text("console.import.not_text")])
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return Sheet(errors=[Text("console.import.not_csv")])
    if not table:
        return Sheet(errors=[Text("console.import.empty")])
    fields = [columns.get(normalize_text(cell).lower()) for cell in table[0]]
    unknown = tuple(
        Text("common.verbatim", value=table[0][i]) for i, name in enumerate(fields) if not name
    )
    if unknown:
        return Sheet(errors=[Text("console.import.unknown_columns", columns=unknown)])
    if required not in fields:
        return Sheet(errors=[Text("console.import.no_name_column")])
    sheet = Sheet()
    for line, values in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in values):
            continue
        cells = {name: (values[i] if i < len(values) else "") for i, name in enumerate(fields)}
        sheet.rows.append((line, {k: v for k, v in cells.items() if k}))
    if len(sheet.rows) > MAX_ROWS:
        return Sheet(errors=[Text("console.import.too_many", limit=MAX_ROWS)])
    return sheet


@dataclass
class CheckedRow:
    """One sheet row as read, with what is wrong with it, field by field."""

    line: int
    """The row's line in the file (the header is line 1), as Excel shows it."""
    cells: dict[str, str]
    """What the person typed, kept as typed so the page can show it back."""
    errors: list[tuple[str, Text]] = field(default_factory=list)
    existing_id: int | None = None
    """The record this row updates, when the person is already registered."""

    @property
    def ok(self) -> bool:
        return not self.errors


RowT = TypeVar("RowT", bound=CheckedRow)


@dataclass
class Report(Generic[RowT]):
    """A whole sheet checked: written only when `ok`, and then all of it."""

    rows: list[RowT]
    file_errors: list[Text] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.file_errors and all(row.ok for row in self.rows)

    @property
    def error_count(self) -> int:
        return len(self.file_errors) + sum(len(row.errors) for row in self.rows)


@dataclass
class FieldForm:
    """A console form as posted: what the person typed (`typed`, shown back when something
    is wrong, so nothing is lost) and what it means (`values`), with errors by field."""

    typed: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Text] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors
