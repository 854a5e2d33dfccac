"""拠点のご案内 for many hubs at once, from a CSV an operator fills in (HQ, by script).

One row per hub, named by its JIS code (01..47, 00 for HQ). Each column is one field of
the console's hub settings and is checked by the same code (core.console.hub_settings), so
the sheet and the page accept exactly the same values. A column left out of the sheet
keeps what is stored; a blank cell in a column that is there clears that field. Every row
is checked before anything is written, and the audit log gets one `hub.settings_changed`
row per hub changed, old → new, as the page writes it.

There is no shipped sheet: the package has no verified source for the hubs' addresses and
phone numbers, and a value is never guessed (yorozu/data/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import sheets
from core.console.hub_settings import HOURS_FIELDS, apply_profile, current_profile, read_profile
from core.db.models import AuditLog, Hub
from core.domain.enums import ActorKind
from core.i18n import Text

_WEEKDAYS_JA: Final = ("月", "火", "水", "木", "金", "土", "日")
_WEEKDAYS_EN: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
COLUMNS: Final = {
    "code": "code",
    "コード": "code",
    "拠点コード": "code",
    "name": "info_name",
    "正式名称": "info_name",
    "postal_code": "info_postal_code",
    "郵便番号": "info_postal_code",
    "address": "info_address",
    "住所": "info_address",
    "latitude": "info_latitude",
    "緯度": "info_latitude",
    "longitude": "info_longitude",
    "経度": "info_longitude",
    "phone": "info_phone",
    "電話番号": "info_phone",
    "website": "info_website",
    "ホームページ": "info_website",
    "access": "info_access",
    "アクセス": "info_access",
    **{f"hours_{en}": name for en, name in zip(_WEEKDAYS_EN, HOURS_FIELDS, strict=True)},
    **{f"{ja}曜日": name for ja, name in zip(_WEEKDAYS_JA, HOURS_FIELDS, strict=True)},
}


@dataclass
class HubInfoRow(sheets.CheckedRow):
    code: str = ""
    values: dict[str, Any] = field(default_factory=dict)


ImportReport = sheets.Report[HubInfoRow]


async def check_sheet(session: AsyncSession, data: bytes) -> ImportReport:
    """Every row checked against its hub; nothing written."""
    sheet = sheets.read_sheet(data, COLUMNS, required="code")
    report = ImportReport(rows=[], file_errors=list(sheet.errors))
    hubs = {hub.code: hub for hub in (await session.scalars(select(Hub))).all()}
    seen: set[str] = set()
    for line, cells in sheet.rows:
        row = HubInfoRow(line=line, cells=cells, code=cells.get("code", "").strip().zfill(2))
        report.rows.append(row)
        hub = hubs.get(row.code)
        if hub is None:
            row.errors.append(("code", Text("hub_info.import.unknown_hub", code=row.code)))
            continue
        if row.code in seen:
            row.errors.append(("code", Text("hub_info.import.twice", code=row.code)))
        seen.add(row.code)
        row.existing_id = hub.id
        typed = {**await current_profile(session, hub), **cells}
        form = read_profile(typed)
        row.errors.extend((name, problem) for name, problem in form.errors.items())
        row.values = form.values
    return report


async def apply_sheet(
    session: AsyncSession, data: bytes, *, actor_id: int | None, now: datetime
) -> ImportReport:
    """Write the sheet when every row is right; otherwise the report of what is wrong."""
    report = await check_sheet(session, data)
    if not report.ok:
        return report
    for row in report.rows:
        hub = await session.get(Hub, row.existing_id)
        assert hub is not None
        before = await current_profile(session, hub)
        await apply_profile(session, hub, row.values, now)
        await session.flush()
        after = await current_profile(session, hub)
        changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
        if changes:
            session.add(
                AuditLog(
                    at=now,
                    actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
                    actor_id=actor_id,
                    action="hub.settings_changed",
                    hub_id=hub.id,
                    details={"changes": changes, "source": "hub_info_import"},
                )
            )
    report.written = True
    return report
