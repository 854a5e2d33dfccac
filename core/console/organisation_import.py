"""HQ registers the partner organisations (商工会, 商工会議所, banks, ...) from a CSV.

An organisation must exist before its admin can register its staff. Each row names its
kind (in Japanese or as the code), its prefecture (name or JIS code; blank for a national
one such as 中小機構), the municipalities it serves, and where it is in Slack. A row whose
name and prefecture match an existing organisation updates it; names are never guessed or
completed, only read as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import sheets
from core.console.co_import import changes
from core.db.models import AuditLog, PartnerOrganisation
from core.domain.enums import ActorKind
from core.domain.organisations import OrganisationKind
from core.i18n import Catalog, Text
from core.text.normalize import normalize_text

COLUMNS: Final = {
    "name": "name",
    "名称": "name",
    "kind": "kind",
    "種別": "kind",
    "prefecture": "prefecture",
    "都道府県": "prefecture",
    "municipalities": "municipality",
    "市区町村": "municipality",
    "slack_channel_id": "slack_channel_id",
    "slackチャンネルid": "slack_channel_id",
    "slack_team_id": "slack_team_id",
    "slackチームid": "slack_team_id",
}
KINDS: Final = {
    "商工会": OrganisationKind.SHOKOKAI,
    "商工会議所": OrganisationKind.SHOKO_KAIGISHO,
    "中小機構": OrganisationKind.SMRJ,
    "銀行": OrganisationKind.BANK,
    "金融機関": OrganisationKind.BANK,
    "信用金庫": OrganisationKind.BANK,
    "信用保証協会": OrganisationKind.CREDIT_GUARANTEE,
    "その他": OrganisationKind.OTHER,
    **{kind.value: kind for kind in OrganisationKind},
}
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")
_TEAM = re.compile(r"^[TE][A-Z0-9]{6,}$")


@dataclass
class OrganisationRow(sheets.CheckedRow):
    name: str = ""
    kind: OrganisationKind = OrganisationKind.OTHER
    prefecture_code: str | None = None
    municipality: str | None = None
    slack_channel_id: str | None = None
    slack_team_id: str | None = None


OrganisationReport = sheets.Report[OrganisationRow]


def read_organisations(data: bytes, catalog: Catalog) -> OrganisationReport:
    sheet = sheets.read_sheet(data, COLUMNS)
    if sheet.errors:
        return OrganisationReport([], sheet.errors)
    prefectures = prefecture_names(catalog)
    rows = [_check(line, cells, prefectures) for line, cells in sheet.rows]
    seen: dict[tuple[str, str | None], int] = {}
    for row in rows:
        first = seen.setdefault((row.name, row.prefecture_code), row.line)
        if first != row.line:
            row.errors.append(("name", Text("console.import.error.duplicate_name", line=first)))
    return OrganisationReport(rows)


def _check(line: int, cells: dict[str, str], prefectures: dict[str, str]) -> OrganisationRow:
    row = OrganisationRow(line=line, cells=cells)
    read = {key: normalize_text(value) for key, value in cells.items()}
    row.name = read.get("name", "")
    if not row.name:
        row.errors.append(("name", Text("console.import.error.name_missing")))
    elif len(row.name) > 200:
        row.errors.append(("name", Text("console.import.error.too_long", limit=200)))
    kind = KINDS.get(read.get("kind", ""))
    if kind is None:
        row.errors.append(("kind", Text("console.import.error.kind")))
    else:
        row.kind = kind
    prefecture = read.get("prefecture", "")
    if prefecture:
        code = prefectures.get(prefecture) or prefectures.get(prefecture.zfill(2))
        if code is None:
            row.errors.append(("prefecture", Text("console.import.error.prefecture")))
        row.prefecture_code = code
    municipality = "、".join(
        p.strip() for p in re.split(r"[、,;]", read.get("municipality", "")) if p.strip()
    )
    if len(municipality) > 100:
        row.errors.append(("municipality", Text("console.import.error.too_long", limit=100)))
    row.municipality = municipality or None
    channel = read.get("slack_channel_id", "").upper()
    if channel and not _CHANNEL.match(channel):
        row.errors.append(("slack_channel_id", Text("console.settings.error.channel")))
    row.slack_channel_id = channel or None
    team = read.get("slack_team_id", "").upper()
    if team and not _TEAM.match(team):
        row.errors.append(("slack_team_id", Text("console.import.error.team")))
    row.slack_team_id = team or None
    return row


async def check_existing(session: AsyncSession, report: OrganisationReport) -> None:
    names = [row.name for row in report.rows]
    if not names:
        return
    known = (
        await session.scalars(
            select(PartnerOrganisation).where(PartnerOrganisation.name.in_(names))
        )
    ).all()
    by_key = {(org.name, org.prefecture_code): org.id for org in known}
    for row in report.rows:
        row.existing_id = by_key.get((row.name, row.prefecture_code))


async def apply_organisations(
    session: AsyncSession, report: OrganisationReport, *, actor_id: int | None, now: datetime
) -> OrganisationReport:
    await check_existing(session, report)
    if not report.ok:
        return report
    for row in report.rows:
        org = await session.get(PartnerOrganisation, row.existing_id) if row.existing_id else None
        before = snapshot(org) if org is not None else {}
        org = await write_row(session, row, org)
        session.add(
            audit_row(
                org,
                "organisation.imported" if not before else "organisation.updated",
                changes(before, snapshot(org)),
                actor_id=actor_id,
                now=now,
                line=row.line,
            )
        )
    report.written = True
    return report


def prefecture_names(catalog: Catalog) -> dict[str, str]:
    """JIS code or Japanese name (as typed) to the JIS code."""
    prefectures = {f"{code:02d}": f"{code:02d}" for code in range(1, 48)}
    for code in list(prefectures):
        prefectures[normalize_text(catalog.text(f"prefecture.{code}", "ja"))] = code
    return prefectures


def check_record(cells: dict[str, str], catalog: Catalog) -> OrganisationRow:
    """One organisation as the console's form gives it, checked as a sheet row is."""
    return _check(0, cells, prefecture_names(catalog))


async def write_row(
    session: AsyncSession, row: OrganisationRow, org: PartnerOrganisation | None
) -> PartnerOrganisation:
    """Store one checked organisation (new when `org` is None): the sheet's and the form's."""
    if org is None:
        org = PartnerOrganisation(name=row.name, kind=row.kind)
        session.add(org)
    org.name = row.name
    org.kind = row.kind
    org.prefecture_code = row.prefecture_code
    org.municipality = row.municipality
    org.slack_channel_id = row.slack_channel_id
    org.slack_team_id = row.slack_team_id
    await session.flush()
    return org


def snapshot(org: PartnerOrganisation) -> dict[str, Any]:
    return {
        "name": org.name,
        "kind": org.kind.value,
        "prefecture": org.prefecture_code,
        "municipality": org.municipality,
        "slack_channel_id": org.slack_channel_id,
        "slack_team_id": org.slack_team_id,
    }


def audit_row(
    org: PartnerOrganisation,
    action: str,
    changed: dict[str, list[Any]],
    *,
    actor_id: int | None,
    now: datetime,
    line: int | None = None,
) -> AuditLog:
    details: dict[str, Any] = {"organisation_id": org.id, "changes": changed}
    if line is not None:
        details["line"] = line
    return AuditLog(
        at=now,
        actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
        actor_id=actor_id,
        action=action,
        details=details,
    )
