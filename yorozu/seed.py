"""Reference data every installation needs, and demo people for trying the product out.

The 47 hubs and HQ are loaded from yorozu/data/hubs.csv, shipped inside the package so a
deployed service never reads the development tree. Seeding runs on every `serve` start, so
it only adds what is missing and never overwrites what operators changed since. It flushes
but does not commit: the caller's unit of work decides.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, time, timedelta
from importlib import resources

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock, fiscal_year
from core.db.models import (
    Coordinator,
    CoWeeklyAvailability,
    Hub,
    HubClosedDay,
    PartnerOrganisation,
    PartnerStaff,
)
from core.domain.enums import BookingMode, CoRole, HubKind
from core.domain.organisations import OrganisationKind
from core.domain.topics import Specialty

HQ_CODE = "00"


@dataclass(frozen=True)
class HubRow:
    code: str
    prefecture_ja: str
    prefecture_en: str
    implementing_org_ja: str


@dataclass(frozen=True)
class SeedReport:
    """What one run added; all zeros on a second run is the idempotency promise."""

    hubs: int = 0
    closed_days: int = 0
    coordinators: int = 0
    availability: int = 0
    partner_organisations: int = 0
    partner_staff: int = 0

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def __str__(self) -> str:
        return "seeded " + ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


def load_hub_rows() -> list[HubRow]:
    """The 47 prefectural hubs as shipped in the package, in JIS code order."""
    text = resources.files("yorozu").joinpath("data/hubs.csv").read_text(encoding="utf-8")
    rows = [
        HubRow(
            code=row["code"].strip(),
            prefecture_ja=row["prefecture_ja"].strip(),
            prefecture_en=row["prefecture_en"].strip(),
            implementing_org_ja=row["implementing_org_ja"].strip(),
        )
        for row in csv.DictReader(io.StringIO(text))
    ]
    return sorted(rows, key=lambda row: row.code)


async def seed(session: AsyncSession, *, demo: bool = False, clock: Clock) -> SeedReport:
    """Add the hubs (and with `demo`, COs and partners) that are not there yet."""
    hubs, added_hubs = await _seed_hubs(session)
    if not demo:
        return SeedReport(hubs=added_hubs)
    closed_days = await _seed_closed_days(session, hubs, clock)
    for code in (*DEMO_HUB_CODES, HQ_CODE):
        # Each demo hub's queue posts to its own intake channel in the demo workspace.
        if hubs[code].slack_intake_channel_id is None:
            hubs[code].slack_intake_channel_id = f"C0HUB{code}"
    coordinators, availability = await _seed_coordinators(session, hubs)
    organisations, staff = await _seed_partners(session)
    return SeedReport(
        hubs=added_hubs,
        closed_days=closed_days,
        coordinators=coordinators,
        availability=availability,
        partner_organisations=organisations,
        partner_staff=staff,
    )


async def _seed_hubs(session: AsyncSession) -> tuple[dict[str, Hub], int]:
    existing = {hub.code: hub for hub in (await session.scalars(select(Hub))).all()}
    wanted = [
        Hub(
            code=HQ_CODE,
            kind=HubKind.HQ,
            prefecture_code=None,
            name_ja="よろず支援拠点全国本部",
            name_en="Yorozu Support Centers National HQ",
            implementing_org_ja="（独）中小企業基盤整備機構",
        ),
        *(
            Hub(
                code=row.code,
                kind=HubKind.HUB,
                prefecture_code=row.code,
                name_ja=f"{row.prefecture_ja}よろず支援拠点",
                name_en=f"{row.prefecture_en} Yorozu Support Center",
                implementing_org_ja=row.implementing_org_ja,
            )
            for row in load_hub_rows()
        ),
    ]
    added = [hub for hub in wanted if hub.code not in existing]
    session.add_all(added)
    await session.flush()
    existing.update({hub.code: hub for hub in added})
    return existing, len(added)


# --- demo data -------------------------------------------------------------------------------

DEMO_HUB_CODES = ("01", "13", "27")
"""Hubs that get demo COs: 北海道, 東京都, 大阪府 (plus HQ's specialists)."""

_S = Specialty
_VISIT, _ONLINE, _ONSITE = BookingMode.VISIT, BookingMode.ONLINE, BookingMode.ONSITE

Slot = tuple[int, time, time, BookingMode]


def _days(weekdays: Iterable[int], start: time, end: time, mode: BookingMode) -> list[Slot]:
    return [(weekday, start, end, mode) for weekday in weekdays]


_WEEKDAYS = range(5)
_PATTERNS: dict[str, list[Slot]] = {
    "full": _days(_WEEKDAYS, time(9), time(17), _VISIT),
    "mornings_online": [
        *_days(_WEEKDAYS, time(9), time(12), _ONLINE),
        *_days((1, 3), time(13), time(17), _VISIT),
    ],
    "mon_wed_fri": _days((0, 2, 4), time(10), time(16), _VISIT),
    "tue_thu_sat": [
        *_days((1, 3), time(9), time(17), _ONLINE),
        (5, time(10), time(15), _VISIT),
    ],
    "onsite": [
        *_days(range(4), time(13), time(17), _ONSITE),
        (4, time(9), time(17), _VISIT),
    ],
}


@dataclass(frozen=True)
class _DemoCo:
    hub: str
    role: CoRole
    name: str
    kana: str
    romaji: str
    specialties: Sequence[Specialty]
    qualifications: Sequence[str]
    introduction: str
    pattern: str
    capacity: int = 15


_DEMO_COS: tuple[_DemoCo, ...] = (
    # 東京都
    _DemoCo(
        "13", CoRole.CCO, "佐藤 健一", "さとう けんいち", "sato.kenichi",
        (_S.SALES_CHANNELS, _S.FINANCE, _S.SUCCESSION), ("中小企業診断士",),
        "信用金庫で30年、中小企業の資金繰りと事業承継を支援してきました。", "full", 10,
    ),
    _DemoCo(
        "13", CoRole.CO, "鈴木 美咲", "すずき みさき", "suzuki.misaki",
        (_S.IT, _S.DESIGN), ("ITコーディネータ",),
        "ホームページ、ネットショップ、SNS の始め方から一緒に考えます。", "mornings_online",
    ),
    _DemoCo(
        "13", CoRole.CO, "高橋 浩二", "たかはし こうじ", "takahashi.koji",
        (_S.FINANCE, _S.ACCOUNTING, _S.FOUNDING), ("税理士",),
        "創業計画、資金調達、決算書の読み方をわかりやすくお伝えします。", "mon_wed_fri",
    ),
    _DemoCo(
        "13", CoRole.CO, "田中 由美", "たなか ゆみ", "tanaka.yumi",
        (_S.LABOUR, _S.LEGAL), ("社会保険労務士",),
        "採用、就業規則、助成金など人の悩みをご相談ください。", "tue_thu_sat",
    ),
    _DemoCo(
        "13", CoRole.CO, "伊藤 大輔", "いとう だいすけ", "ito.daisuke",
        (_S.PRODUCT_DEVELOPMENT, _S.MANUFACTURING, _S.SALES_CHANNELS), ("中小企業診断士",),
        "製造業の新商品開発と販路開拓を、現場に伺って支援します。", "onsite", 12,
    ),
    # 大阪府
    _DemoCo(
        "27", CoRole.CCO, "山本 隆", "やまもと たかし", "yamamoto.takashi",
        (_S.FINANCE, _S.SUCCESSION), ("中小企業診断士", "ファイナンシャル・プランナー"),
        "銀行出身です。採算の見える化から一緒に始めましょう。", "full", 10,
    ),
    _DemoCo(
        "27", CoRole.CO, "中村 彩", "なかむら あや", "nakamura.aya",
        (_S.DESIGN, _S.PRODUCT_DEVELOPMENT, _S.FOOD), ("デザイナー",),
        "パッケージやロゴなど、売れるデザインを一緒につくります。", "mon_wed_fri",
    ),
    _DemoCo(
        "27", CoRole.CO, "小林 誠", "こばやし まこと", "kobayashi.makoto",
        (_S.FINANCE, _S.ACCOUNTING), ("中小企業診断士", "税理士"),
        "資金繰り表と事業計画づくりを得意としています。", "mornings_online",
    ),
    _DemoCo(
        "27", CoRole.CO, "加藤 恵子", "かとう けいこ", "kato.keiko",
        (_S.LABOUR,), ("社会保険労務士",),
        "人手不足、定着、働き方改革の相談をお受けします。", "full",
    ),
    _DemoCo(
        "27", CoRole.CO, "吉田 翔", "よしだ しょう", "yoshida.sho",
        (_S.IT, _S.SALES_CHANNELS, _S.OVERSEAS), ("ITコーディネータ", "中小企業診断士"),
        "EC と越境 EC、業務のデジタル化をお手伝いします。", "tue_thu_sat",
    ),
    # 北海道
    _DemoCo(
        "01", CoRole.CCO, "山田 誠一", "やまだ せいいち", "yamada.seiichi",
        (_S.TOURISM, _S.SALES_CHANNELS, _S.SUCCESSION), ("中小企業診断士",),
        "観光と食の事業者を中心に、道内各地を回っています。", "full", 10,
    ),
    _DemoCo(
        "01", CoRole.CO, "佐々木 亮", "ささき りょう", "sasaki.ryo",
        (_S.FOUNDING, _S.FINANCE), ("中小企業診断士",),
        "創業前から創業後のフォローまで伴走します。", "mornings_online",
    ),
    _DemoCo(
        "01", CoRole.CO, "山口 千尋", "やまぐち ちひろ", "yamaguchi.chihiro",
        (_S.FOOD, _S.PRODUCT_DEVELOPMENT, _S.SALES_CHANNELS), ("フードコーディネーター",),
        "農産物の加工品開発と道外への販路づくりを支援します。", "onsite",
    ),
    _DemoCo(
        "01", CoRole.CO, "松本 修", "まつもと おさむ", "matsumoto.osamu",
        (_S.SUCCESSION, _S.ACCOUNTING), ("税理士",),
        "事業承継と税務の相談をお受けします。", "mon_wed_fri",
    ),
    # 全国本部
    _DemoCo(
        HQ_CODE, CoRole.HQ_SPECIALIST, "井上 直樹", "いのうえ なおき", "inoue.naoki",
        (_S.LEGAL,), ("弁理士",),
        "商標・特許など知的財産の相談に、全国の拠点からオンラインで応じます。",
        "tue_thu_sat",
    ),
    _DemoCo(
        HQ_CODE, CoRole.HQ_SPECIALIST, "木村 里奈", "きむら りな", "kimura.rina",
        (_S.OVERSEAS, _S.SALES_CHANNELS), ("中小企業診断士", "通関士"),
        "海外展開と輸出の相談に、全国の拠点からオンラインで応じます。",
        "mornings_online",
    ),
)  # fmt: skip


def _demo_slack_ids(co: _DemoCo) -> tuple[str, str]:
    """Fake Slack ids that look real and stay stable, so a second run finds the same CO.

    The team is "default": one workspace, whatever its real id (the emulator and a
    single-workspace install both match it).
    """
    team = "default"
    user = "U0" + co.romaji.replace(".", "").upper()[:9]
    return user, team


async def _seed_closed_days(session: AsyncSession, hubs: dict[str, Hub], clock: Clock) -> int:
    """The year-end closure (年末年始) of the current fiscal year for the demo hubs."""
    year = fiscal_year(clock.now())
    start = date(year, 12, 29)
    days = [start + timedelta(days=offset) for offset in range(6)]
    hub_ids = [hubs[code].id for code in DEMO_HUB_CODES]
    existing = {
        (hub_id, day)
        for hub_id, day in (
            await session.execute(
                select(HubClosedDay.hub_id, HubClosedDay.day).where(
                    HubClosedDay.hub_id.in_(hub_ids)
                )
            )
        ).tuples()
    }
    added = [
        HubClosedDay(hub_id=hub_id, day=day, reason="年末年始")
        for hub_id in hub_ids
        for day in days
        if (hub_id, day) not in existing
    ]
    session.add_all(added)
    await session.flush()
    return len(added)


async def _seed_coordinators(session: AsyncSession, hubs: dict[str, Hub]) -> tuple[int, int]:
    existing = set(
        (
            await session.execute(select(Coordinator.slack_user_id, Coordinator.slack_team_id))
        ).tuples()
    )
    coordinators = 0
    availability = 0
    for demo in _DEMO_COS:
        user, team = _demo_slack_ids(demo)
        if (user, team) in existing:
            continue
        co = Coordinator(
            hub_id=hubs[demo.hub].id,
            role=demo.role,
            name=demo.name,
            name_kana=demo.kana,
            specialties=[specialty.value for specialty in demo.specialties],
            qualifications=list(demo.qualifications),
            self_introduction=demo.introduction,
            slack_user_id=user,
            slack_team_id=team,
            email=f"{demo.romaji}@hub{demo.hub}.yorozu.example",
            capacity=demo.capacity,
        )
        session.add(co)
        await session.flush()
        slots = [
            CoWeeklyAvailability(
                co_id=co.id, weekday=weekday, start_time=start, end_time=end, mode=mode
            )
            for weekday, start, end, mode in _PATTERNS[demo.pattern]
        ]
        session.add_all(slots)
        coordinators += 1
        availability += len(slots)
    await session.flush()
    return coordinators, availability


@dataclass(frozen=True)
class _DemoStaff:
    name: str
    title: str
    romaji: str


@dataclass(frozen=True)
class _DemoOrganisation:
    kind: OrganisationKind
    name: str
    prefecture_code: str
    municipality: str | None
    slack_key: str
    staff: tuple[_DemoStaff, ...]


_K = OrganisationKind
_DEMO_ORGANISATIONS: tuple[_DemoOrganisation, ...] = (
    _DemoOrganisation(
        _K.SHOKOKAI, "瑞穂町商工会", "13", "瑞穂町", "MIZUHO",
        (_DemoStaff("小川 健太", "経営指導員", "ogawa.kenta"),),
    ),
    _DemoOrganisation(
        _K.SHOKO_KAIGISHO, "八王子商工会議所", "13", "八王子市", "HACHIOJI",
        (
            _DemoStaff("石井 直子", "経営指導員", "ishii.naoko"),
            _DemoStaff("森 拓也", "経営指導員", "mori.takuya"),
        ),
    ),
    _DemoOrganisation(
        _K.SHOKOKAI, "ニセコ町商工会", "01", "ニセコ町", "NISEKO",
        (_DemoStaff("藤田 亜希", "経営指導員", "fujita.aki"),),
    ),
    _DemoOrganisation(
        _K.SHOKO_KAIGISHO, "大阪商工会議所", "27", "大阪市", "OSAKACCI",
        (_DemoStaff("岡田 浩", "経営指導員", "okada.hiroshi"),),
    ),
    _DemoOrganisation(
        _K.BANK, "なにわ中央信用金庫", "27", "大阪市", "NANIWASHINKIN",
        (_DemoStaff("長谷川 学", "融資課 課長代理", "hasegawa.manabu"),),
    ),
    _DemoOrganisation(
        _K.CREDIT_GUARANTEE, "東京信用保証協会", "13", None, "TOKYOCGC",
        (_DemoStaff("村上 美穂", "経営支援部 担当", "murakami.miho"),),
    ),
    _DemoOrganisation(
        _K.SMRJ, "中小機構 近畿本部", "27", "大阪市", "SMRJKINKI",
        (_DemoStaff("清水 洋平", "ハンズオン支援 担当", "shimizu.yohei"),),
    ),
)  # fmt: skip


async def _seed_partners(session: AsyncSession) -> tuple[int, int]:
    organisations = {
        (org.kind, org.name): org
        for org in (await session.scalars(select(PartnerOrganisation))).all()
    }
    known_staff = set(
        (await session.execute(select(PartnerStaff.organisation_id, PartnerStaff.name))).tuples()
    )
    added_organisations = 0
    added_staff = 0
    for demo in _DEMO_ORGANISATIONS:
        team = "default"  # one workspace in the demo; see _demo_slack_ids
        organisation = organisations.get((demo.kind, demo.name))
        if organisation is None:
            organisation = PartnerOrganisation(
                kind=demo.kind,
                name=demo.name,
                prefecture_code=demo.prefecture_code,
                municipality=demo.municipality,
                slack_channel_id=f"C0{demo.slack_key}"[:11],
                slack_team_id=team,
            )
            session.add(organisation)
            await session.flush()
            added_organisations += 1
        for person in demo.staff:
            if (organisation.id, person.name) in known_staff:
                continue
            session.add(
                PartnerStaff(
                    organisation_id=organisation.id,
                    name=person.name,
                    title=person.title,
                    email=f"{person.romaji}@{demo.slack_key.lower()}.example",
                    slack_user_id="U0" + person.romaji.replace(".", "").upper()[:9],
                    slack_team_id=team,
                )
            )
            added_staff += 1
    await session.flush()
    return added_organisations, added_staff
