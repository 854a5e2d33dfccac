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
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.console import sheets
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
    prefectures = {f"{code:02d}": f"{code:02d}" for code in range(1, 48)}
    for code in list(prefectures):
        prefectures[normalize_text(catalog.text(f"prefecture.{code}", "ja"))] = code
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
        created = org is None
        if org is None:
            org = PartnerOrganisation(name=row.name, kind=row.kind)
            session.add(org)
        org.kind = row.kind
        org.prefecture_code = row.prefecture_code
        org.municipality = row.municipality
        org.slack_channel_id = row.slack_channel_id
        org.slack_team_id = row.slack_team_id
        await session.flush()
        session.add(
            AuditLog(
                at=now,
                actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
                actor_id=actor_id,
                action="organisation.imported" if created else "organisation.updated",
                details={"organisation_id": org.id, "line": row.line},
            )
        )
    report.written = True
    return report
