"""The operations console: Sign in with Slack through the OIDC stand-in, and who sees what.

Every console route is asked by every role (HQ, a CCO, a CO, a partner organisation's admin,
nobody signed in) about its own hub or organisation and about another's; each cell of that
matrix has one expected answer: 200, 403, or a redirect to sign in. A page that answers 200
or 403 never carries the name of a coordinator of a hub the person may not see.

The sign-in is the real code path: authlib fetches the stand-in's discovery document, trades
the code for tokens over HTTP, checks the ID token's RS256 signature, issuer, audience and
nonce, and reads openid.connect.userInfo.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.console.people import create_hq_admin
from core.db.models import (
    AuditLog,
    Business,
    Case,
    Coordinator,
    Hub,
    PartnerOrganisation,
    PartnerStaff,
    Person,
    PersonBusiness,
)
from core.domain.enums import CaseSource, CaseStatus
from core.staff import resolve_slack_user
from core.text.normalize import normalize_phone
from integrations.standins.server import ServerThread
from integrations.standins.slack_api import SlackApiStandin, create_slack_api
from integrations.standins.slack_oidc import SlackOidcStandin, create_slack_oidc
from yorozu.app import create_app
from yorozu.seed import seed
from yorozu.settings import DEV_SLACK_BOT_TOKEN, load_settings

# Both databases: the app is given the run's PostgreSQL schema (create_app's search_path).

CLIENT_ID, CLIENT_SECRET = "1234.5678", "console-test-secret"
TEAM = "default"
HQ_USER = "U0HQADMIN01"


@pytest.fixture(scope="module")
def oidc() -> Iterator[tuple[SlackOidcStandin, str]]:
    standin = create_slack_oidc({CLIENT_ID: CLIENT_SECRET})
    server = ServerThread(standin.app).start()
    yield standin, server.url
    server.stop()


KNOWN_IN_SLACK = (
    "U0YAMADAH01",
    "U0AOKI0001",
    "U0ISHII001",
    "U0UEDA0001",
    "U0ETO00001",
    "U0OGAWA001",
    "U0MORI0001",
    "U0HAYASHI1",
    "U0NEWCO001",
    "U0NEWSTAFF1",
)
"""The people these tests register: the Slack stand-in (strict, as Slack is) knows them, and
answers user_not_found for anyone else."""


@pytest.fixture(scope="module")
def slack_api() -> Iterator[tuple[SlackApiStandin, str]]:
    standin = create_slack_api([DEV_SLACK_BOT_TOKEN], strict=True)
    server = ServerThread(standin.app).start()
    yield standin, server.url
    server.stop()


@dataclass
class Console:
    app: Any
    oidc: SlackOidcStandin
    sessions: async_sessionmaker[AsyncSession]
    people: dict[str, str]
    """role name -> Slack user id."""
    own_org: int
    other_org: int
    names: dict[str, set[str]]
    """hub code -> names of its coordinators."""
    a_co: dict[str, int]
    """hub code -> the id of one of its active coordinators."""
    a_staff: dict[int, int]
    """organisation id -> the id of one of its staff members."""
    staff_names: dict[int, set[str]]
    """organisation id -> names of its staff."""
    a_person: dict[str, int] = field(default_factory=dict)
    """hub code -> a person with a case there (for the privacy pages; `add_people`)."""

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async def sign_in(self, client: httpx.AsyncClient, user: str) -> httpx.Response:
        """What a browser does: to Slack's authorize page and back with a code."""
        start = await client.get("/console/login")
        assert start.status_code == 302, start.text
        authorize = f"{start.headers['location']}&user={user}&team={TEAM}"
        async with httpx.AsyncClient() as browser:
            approved = await browser.get(authorize)
        assert approved.status_code == 302, approved.text
        back = httpx.URL(approved.headers["location"])
        return await client.get(f"{back.path}?{back.query.decode()}")


@pytest.fixture
async def console(
    database_url: str,
    session_factory: async_sessionmaker[AsyncSession],
    oidc: tuple[SlackOidcStandin, str],
    slack_api: tuple[SlackApiStandin, str],
    clock: Any,
    backend: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Console]:
    standin, issuer = oidc
    slack, slack_url = slack_api
    async with session_factory() as session, session.begin():
        await seed(session, demo=True, clock=clock)
        await create_hq_admin(
            session, slack_user_id=HQ_USER, slack_team_id=TEAM, name="本部 管理者", now=clock.now()
        )
        hubs = {hub.code: hub for hub in (await session.scalars(select(Hub))).all()}
        cos = (await session.scalars(select(Coordinator))).all()
        cco = next(c for c in cos if c.hub_id == hubs["13"].id and c.role.value == "cco")
        co = next(c for c in cos if c.hub_id == hubs["13"].id and c.role.value == "co")
        orgs = (await session.scalars(select(PartnerOrganisation))).all()
        own_org = next(o for o in orgs if o.prefecture_code == "13")
        other_org = next(o for o in orgs if o.prefecture_code == "27")
        admin = await session.scalar(
            select(PartnerStaff).where(PartnerStaff.organisation_id == own_org.id).limit(1)
        )
        assert admin is not None
        admin.console_admin = True
        staff = (await session.scalars(select(PartnerStaff).order_by(PartnerStaff.id))).all()
        staff_names: dict[int, set[str]] = {}
        for person in staff:
            staff_names.setdefault(person.organisation_id, set()).add(person.name)
        a_staff = {
            org.id: next(p.id for p in staff if p.organisation_id == org.id)
            for org in (own_org, other_org)
        }
        names: dict[str, set[str]] = {}
        a_co: dict[str, int] = {}
        for c in cos:
            hub_code = next(code for code, hub in hubs.items() if hub.id == c.hub_id)
            names.setdefault(hub_code, set()).add(c.name)
            a_co.setdefault(hub_code, c.id)
        a_co["13"] = cco.id  # never the CO of the matrix, whose own page is theirs
        people = {
            "hq": HQ_USER,
            "cco": str(cco.slack_user_id),
            "co": str(co.slack_user_id),
            "partner_admin": str(admin.slack_user_id),
        }
    for role, user in people.items():
        standin.add_user(user, TEAM, role)
    for user in KNOWN_IN_SLACK:
        slack.add_user(user, user.lower())
    settings = load_settings(
        database_url=database_url,
        redis_url=None,
        console_slack_client_id=CLIENT_ID,
        console_slack_client_secret=CLIENT_SECRET,
        slack_oidc_issuer=issuer,
        slack_api_base_url=slack_url + "/api/",
        emulator_enabled=False,
    )
    schema = request.getfixturevalue("postgres_schema") if backend == "postgresql" else None
    app = create_app(settings, clock=clock, search_path=schema)
    async with app.router.lifespan_context(app):
        yield Console(
            app,
            standin,
            session_factory,
            people,
            own_org.id,
            other_org.id,
            names,
            a_co,
            a_staff,
            staff_names,
        )


async def add_people(console: Console, now: Any) -> None:
    """One owner with a case in each of the matrix's hubs, same phone in both (a request
    about one must not reach the other hub's)."""
    async with console.sessions() as session, session.begin():
        for code in ("13", "27"):
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            person = Person(display_name=f"請求 太郎{code}", phone="09011112222")
            business = Business(
                name=f"請求商店{code}", name_key=f"請求商店{code}", created_at=now, updated_at=now
            )
            session.add_all([person, business])
            await session.flush()
            session.add(PersonBusiness(person_id=person.id, business_id=business.id))
            session.add(
                Case(
                    number=f"{code}-2026-800001",
                    hub_id=hub.id,
                    business_id=business.id,
                    person_id=person.id,
                    source=CaseSource.LINE,
                    topics=["finance"],
                    description=f"請求のテスト{code}",
                    status=CaseStatus.QUEUED,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
            console.a_person[code] = person.id


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


# -- signing in ------------------------------------------------------------------------------


async def test_a_cco_signs_in_with_slack_lands_on_their_hub_and_signs_out(
    console: Console,
) -> None:
    async with console.client() as client:
        first = await client.get("/console")
        assert first.status_code == 200
        assert "Slackでサインイン" in first.text
        signed = await console.sign_in(client, console.people["cco"])
        assert signed.status_code == 303
        assert signed.headers["location"] == "/console"
        cookie = signed.headers["set-cookie"]
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        assert "max-age=28800" in cookie.lower()
        home = await client.get("/console")
        assert home.status_code == 303
        assert home.headers["location"] == "/console/hubs/13"
        hub = await client.get("/console/hubs/13")
        assert hub.status_code == 200
        assert "チーフコーディネーター）としてサインイン中" in hub.text
        # Signing out needs the form's token: a forged post leaves the session alone.
        forged = await client.post("/console/logout", data={"csrf": "guess"})
        assert forged.status_code == 303
        assert (await client.get("/console/hubs/13")).status_code == 200
        out = await client.post("/console/logout", data={"csrf": csrf_of(hub.text)})
        assert out.status_code == 303
        again = await client.get("/console/hubs/13")
        assert again.status_code == 303
        assert again.headers["location"] == "/console/login"


async def test_after_sign_in_the_person_returns_to_the_page_they_asked_for(
    console: Console,
) -> None:
    async with console.client() as client:
        asked = await client.get("/console/hubs/13/audit")
        assert asked.status_code == 303
        signed = await console.sign_in(client, console.people["cco"])
        assert signed.headers["location"] == "/console/hubs/13/audit"


async def test_someone_not_registered_is_told_politely_and_not_signed_in(
    console: Console,
) -> None:
    console.oidc.add_user("U0STRANGER1", TEAM, "stranger")
    async with console.client() as client:
        refused = await console.sign_in(client, "U0STRANGER1")
        assert refused.status_code == 403
        assert "登録されていません" in refused.text
        assert (await client.get("/console/hubs/13")).status_code == 303


async def test_a_deactivated_co_loses_access_at_the_next_click(console: Console) -> None:
    async with console.client() as client:
        await console.sign_in(client, console.people["co"])
        assert (await client.get("/console/hubs/13")).status_code == 200
        async with console.sessions() as session, session.begin():
            co = await session.scalar(
                select(Coordinator).where(Coordinator.slack_user_id == console.people["co"])
            )
            assert co is not None
            co.active = False
        assert (await client.get("/console/hubs/13")).status_code == 303


async def test_a_forged_callback_does_not_sign_anyone_in(console: Console) -> None:
    async with console.client() as client:
        forged = await client.get("/console/auth/callback?code=made-up&state=made-up")
        assert forged.status_code == 400
        assert "サインインできませんでした" in forged.text
        assert (await client.get("/console/hubs/13")).status_code == 303


# -- the isolation matrix ----------------------------------------------------------------------

ROLES = ("hq", "cco", "co", "partner_admin", "nobody")
OWN, OTHER = "own", "other"
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    # route: role -> (own hub or organisation, another's); 303 is "sign in first".
    "hub": {"hq": (200, 200), "cco": (200, 403), "co": (200, 403), "partner_admin": (403, 403)},
    "import_form": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "import_check": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "settings": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "settings_save": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    # Making an active CO active again changes nothing; allowed people are sent back to the
    # hub page (303 there, not to sign-in).
    "co_active": {
        "hq": (303, 303),
        "cco": (303, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "staff_import": {
        "hq": (200, 200),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (200, 403),
    },
    # The CCO's profile page: the CO of the matrix may not edit it (their own page is
    # tested on its own below).
    "profile": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "dashboard": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (200, 403),
        "partner_admin": (403, 403),
    },
    "drill": {"hq": (200, 200), "cco": (200, 403), "co": (200, 403), "partner_admin": (403, 403)},
    "lists": {"hq": (200, 200), "cco": (200, 403), "co": (200, 403), "partner_admin": (403, 403)},
    # Showing an owner's comment is the reviewed CO's own decision: nobody else's, not even
    # HQ's. The matrix's CO of hub 13 is the CCO, so they may, and review 1 is not theirs
    # (404); showing one's own is tested with the dashboard.
    "review_shown": {
        "hq": (403, 403),
        "cco": (404, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "audit": {"hq": (200, 200), "cco": (200, 403), "co": (403, 403), "partner_admin": (403, 403)},
    "access_requests": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "organisation": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (200, 403),
    },
    # One CO at a time: the form is the hub's managers'; a save with no name is refused on
    # the field (422) for them, and never reaches the form for anyone else.
    "co_new": {"hq": (200, 200), "cco": (200, 403), "co": (403, 403), "partner_admin": (403, 403)},
    "co_new_save": {
        "hq": (422, 422),
        "cco": (422, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "co_edit": {
        "hq": (200, 200),
        "cco": (200, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "co_edit_save": {
        "hq": (422, 422),
        "cco": (422, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    # One partner organisation at a time is HQ's, like their CSV import.
    "org_edit": {
        "hq": (200, 200),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    "org_edit_save": {
        "hq": (422, 422),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (403, 403),
    },
    # A partner organisation's staff: its admin's and HQ's.
    "staff_new": {
        "hq": (200, 200),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (200, 403),
    },
    "staff_new_save": {
        "hq": (422, 422),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (422, 403),
    },
    "staff_edit": {
        "hq": (200, 200),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (200, 403),
    },
    # Making an active staff member active again changes nothing: back to the organisation.
    "staff_active": {
        "hq": (303, 303),
        "cco": (403, 403),
        "co": (403, 403),
        "partner_admin": (303, 403),
    },
    # APPI requests: HQ and the hub's own CCO only.
    **{
        route: {
            "hq": (200, 200),
            "cco": (200, 403),
            "co": (403, 403),
            "partner_admin": (403, 403),
        }
        for route in (
            "privacy",
            "privacy_export",
            "privacy_export_json",
            "privacy_preview",
            "privacy_erase",
        )
    },
}
UNCHANGED = {
    code: {
        "slack_intake_channel_id": f"C0HUB{code}",
        "push_opens": "08:00",
        "push_closes": "21:00",
        "escalation_hours": "24",
        "followup_months": "1, 3, 6, 12, 24",
        # The demo seed's 年末年始 of the clock's fiscal year.
        "closed_days": "\n".join(f"2026-12-{d}" for d in (29, 30, 31))
        + "\n2027-01-01\n2027-01-02\n2027-01-03",
    }
    for code in ("13", "27")
}
SAMPLE = "氏名,SlackユーザーID\n山田 花子,U0YAMADAH01\n".encode()


async def _ask(
    console: Console, client: httpx.AsyncClient, route: str, target: str, csrf: str
) -> httpx.Response:
    hub = "13" if target == OWN else "27"
    org = console.own_org if target == OWN else console.other_org
    match route:
        case "hub":
            return await client.get(f"/console/hubs/{hub}")
        case "import_form":
            return await client.get(f"/console/hubs/{hub}/coordinators/import")
        case "import_check":
            return await client.post(
                f"/console/hubs/{hub}/coordinators/import",
                data={"csrf": csrf, "mode": "check"},
                files={"file": ("cos.csv", SAMPLE, "text/csv")},
            )
        case "settings":
            return await client.get(f"/console/hubs/{hub}/settings")
        case "settings_save":
            # An unchanged form: allowed people get "nothing changed", the rest 403.
            return await client.post(
                f"/console/hubs/{hub}/settings", data={**UNCHANGED[hub], "csrf": csrf}
            )
        case "co_active":
            return await client.post(
                f"/console/hubs/{hub}/coordinators/{console.a_co[hub]}/active",
                data={"csrf": csrf, "active": "1"},
            )
        case "staff_import":
            return await client.get(f"/console/organisations/{org}/staff/import")
        case "profile":
            return await client.get(f"/console/hubs/{hub}/coordinators/{console.a_co[hub]}")
        case "dashboard":
            return await client.get(f"/console/hubs/{hub}/dashboard")
        case "drill":
            return await client.get(f"/console/hubs/{hub}/dashboard/consultations?month=6")
        case "lists":
            return await client.get(f"/console/hubs/{hub}/dashboard/lists/referrals_out?org=0")
        case "review_shown":
            return await client.post(
                f"/console/hubs/{hub}/coordinators/{console.a_co[hub]}/reviews/1",
                data={"csrf": csrf, "shown": "1"},
            )
        case "audit":
            return await client.get(f"/console/hubs/{hub}/audit")
        case "access_requests":
            return await client.get(f"/console/hubs/{hub}/access-requests")
        case "organisation":
            return await client.get(f"/console/organisations/{org}")
        case "co_new":
            return await client.get(f"/console/hubs/{hub}/coordinators/new")
        case "co_new_save":
            return await client.post(
                f"/console/hubs/{hub}/coordinators/new",
                data={"csrf": csrf, "name": "", "slack_user_id": "U0NEWCO001"},
            )
        case "co_edit":
            return await client.get(f"/console/hubs/{hub}/coordinators/{console.a_co[hub]}/edit")
        case "co_edit_save":
            return await client.post(
                f"/console/hubs/{hub}/coordinators/{console.a_co[hub]}/edit",
                data={"csrf": csrf, "name": ""},
            )
        case "org_edit":
            return await client.get(f"/console/organisations/{org}/edit")
        case "org_edit_save":
            return await client.post(
                f"/console/organisations/{org}/edit", data={"csrf": csrf, "name": ""}
            )
        case "staff_new":
            return await client.get(f"/console/organisations/{org}/staff/new")
        case "staff_new_save":
            return await client.post(
                f"/console/organisations/{org}/staff/new", data={"csrf": csrf, "name": ""}
            )
        case "staff_edit":
            return await client.get(f"/console/organisations/{org}/staff/{console.a_staff[org]}")
        case "staff_active":
            return await client.post(
                f"/console/organisations/{org}/staff/{console.a_staff[org]}/active",
                data={"csrf": csrf, "active": "1"},
            )
        case "privacy":
            return await client.get(f"/console/hubs/{hub}/privacy?phone=090-1111-2222")
        case "privacy_export":
            return await client.get(
                f"/console/hubs/{hub}/privacy/people/{console.a_person[hub]}/export.html"
            )
        case "privacy_export_json":
            return await client.get(
                f"/console/hubs/{hub}/privacy/people/{console.a_person[hub]}/export.json"
            )
        case "privacy_preview":
            return await client.get(
                f"/console/hubs/{hub}/privacy/people/{console.a_person[hub]}/erase"
            )
        case "privacy_erase":
            # Erasing twice changes nothing the second time; allowed people see the result.
            return await client.post(
                f"/console/hubs/{hub}/privacy/people/{console.a_person[hub]}/erase",
                data={"csrf": csrf},
            )
    raise AssertionError(route)


async def test_every_route_answers_every_role_for_its_own_scope_only(
    console: Console, clock: Any
) -> None:
    await add_people(console, clock.now())
    cells = 0
    for role in ROLES:
        async with console.client() as client:
            csrf = "none"
            if role != "nobody":
                signed = await console.sign_in(client, console.people[role])
                assert signed.status_code == 303, (role, signed.text)
                landing = await client.get(signed.headers["location"], follow_redirects=True)
                csrf = csrf_of(landing.text)
            for route, expected in EXPECTED.items():
                for index, target in enumerate((OWN, OTHER)):
                    answer = await _ask(console, client, route, target, csrf)
                    want = 303 if role == "nobody" else expected[role][index]
                    assert answer.status_code == want, (role, route, target, answer.text[:300])
                    if role == "nobody":
                        assert answer.headers["location"] == "/console/login"
                    elif want == 303:
                        assert answer.headers["location"].startswith(
                            ("/console/hubs/", "/console/organisations/")
                        )
                    if route == "settings_save" and want == 200:
                        assert "変更はありませんでした。" in answer.text
                    # Never a name of a CO of a hub (or a staff member of an organisation)
                    # this person may not see.
                    hidden = set()
                    if role != "hq":
                        hidden = console.names["27"] | console.staff_names[console.other_org]
                    assert not {name for name in hidden if name in answer.text}, (role, route)
                    cells += 1
    assert cells == len(ROLES) * len(EXPECTED) * 2 == 300


# -- onboarding from a spreadsheet ---------------------------------------------------------------

FIVE = "".join(
    ",".join(cells) + "\n"
    for cells in (
        ("氏名", "ふりがな", "役割", "専門分野", "資格", "SlackユーザーID", "メールアドレス",
         "担当上限", "相談可能時間"),
        ("青木 一郎", "あおき いちろう", "コーディネーター", "販路開拓、IT・デジタル",
         "中小企業診断士", "U0AOKI0001", "aoki@hub13.example", "10",
         "月 09:00-12:00 来所; 水 13:00-17:00 オンライン"),
        ("石井 二美", "いしい ふたみ", "コーディネーター", "財務・資金調達", "税理士",
         "U0ISHII001", "", "12", "火 10:00-16:00"),
        ("上田 三郎", "うえだ さぶろう", "コーディネーター", "創業", "", "U0UEDA0001", "", "",
         ""),
        ("江藤 四季", "えとう しき", "コーディネーター", "デザイン", "", "U0ETO00001", "", "",
         "木 09:00-12:00; 木 11:00-13:00"),
        ("小川 五郎", "おがわ ごろう", "チーフコーディネーター", "事業承継", "中小企業診断士",
         "U0OGAWA001", "", "8", "金 13:00-17:00 訪問"),
    )
)  # fmt: skip


async def test_a_cco_imports_five_cos_sees_the_error_first_fixes_it_and_they_can_work(
    console: Console,
) -> None:
    async def count_cos() -> int:
        async with console.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Coordinator)) or 0)

    before = await count_cos()
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        form = await client.get("/console/hubs/13/coordinators/import")
        csrf = csrf_of(form.text)
        checked = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": csrf, "mode": "check"},
            files={"file": ("cos.csv", FIVE.encode(), "text/csv")},
        )
        assert checked.status_code == 422
        assert "1件の問題があります。何も登録していません。" in checked.text
        assert "「木 11:00-13:00」が同じ曜日の別の時間と重なっています。" in checked.text
        # Trying to apply the broken sheet anyway writes nothing either.
        forced = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": csrf, "mode": "apply", "csv_text": FIVE},
        )
        assert forced.status_code == 422
        assert await count_cos() == before
        # What they sent is on the page to fix, not lost.
        assert "江藤 四季" in checked.text
        assert 'name="csv_text"' in checked.text

        fixed = FIVE.replace("木 11:00-13:00", "木 13:00-15:00")
        ok = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": csrf, "mode": "check", "csv_text": fixed},
        )
        assert ok.status_code == 200
        assert "5行とも問題ありません" in ok.text
        assert await count_cos() == before
        done = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": csrf, "mode": "apply", "csv_text": fixed},
        )
        assert done.status_code == 200
        assert "5人のコーディネーターを登録・更新しました。" in done.text
        hub = await client.get("/console/hubs/13")
        assert "小川 五郎" in hub.text
        assert "事業承継" in hub.text
        audit = await client.get("/console/hubs/13/audit")
        assert audit.text.count("コーディネーターを登録") >= 5

    assert await count_cos() == before + 5
    async with console.sessions() as session:
        # Known in Slack from now on: their claims and DMs work like any CO's.
        aoki = await resolve_slack_user(session, TEAM, "U0AOKI0001")
        assert aoki is not None
        assert aoki.is_coordinator
        ogawa = await session.scalar(select(Coordinator).where(Coordinator.name == "小川 五郎"))
        assert ogawa is not None
        assert (ogawa.role.value, ogawa.capacity, ogawa.specialties) == ("cco", 8, ["succession"])
        audits = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "coordinator.imported")
        )
        assert audits == 5


async def test_an_import_without_the_form_token_is_refused_and_keeps_the_sheet(
    console: Console,
) -> None:
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        refused = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": "stale", "mode": "apply", "csv_text": FIVE},
        )
        assert refused.status_code == 400
        assert "フォームの有効期限が切れました" in refused.text
        assert "青木 一郎" in refused.text


async def test_a_ten_megabyte_upload_gets_a_clear_answer(console: Console) -> None:
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        form = await client.get("/console/hubs/13/coordinators/import")
        big = b"a," * (5 * 1024 * 1024)
        answer = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": csrf_of(form.text), "mode": "check"},
            files={"file": ("big.csv", big, "text/csv")},
        )
        assert answer.status_code in (413, 422)
        assert "ファイルが大きすぎます" in answer.text


# -- hub settings ------------------------------------------------------------------------------


async def test_a_cco_changes_the_hubs_settings_with_errors_shown_on_the_fields_and_audited(
    console: Console,
) -> None:
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        form = await client.get("/console/hubs/13/settings")
        assert form.status_code == 200
        assert 'value="08:00"' in form.text
        assert 'value="C0HUB13"' in form.text
        typed = {
            "csrf": csrf_of(form.text),
            "slack_intake_channel_id": "c0newqueue1",
            "push_opens": "09:00",
            "push_closes": "8:00",
            "escalation_hours": "16",
            "followup_months": "1、3、6",
            "closed_days": "2026-08-13\n2026-08-14\n8月15日",
            "line_channel_id": "2001234567",
            "line_name": "東京都よろず支援拠点",
            "line_monthly_push_budget": "5000",
            "line_plan": "light",
            "line_secret": "0123456789abcdef0123456789abcdef",
            "line_access_token": "",
        }
        wrong = await client.post("/console/hubs/13/settings", data=typed)
        assert wrong.status_code == 422
        assert "直していただきたい項目があります。入力内容はそのまま残っています。" in wrong.text
        assert "終える時刻は、始める時刻より後にしてください。" in wrong.text
        assert "「8月15日」を日付として読めませんでした。" in wrong.text
        # Everything typed is still there, apart from the secret, which is never echoed.
        assert 'value="c0newqueue1"' in wrong.text
        assert "2026-08-14" in wrong.text
        assert "0123456789abcdef" not in wrong.text

        fixed = {**typed, "push_closes": "20:00", "closed_days": "2026-08-13\n2026-08-14"}
        saved = await client.post("/console/hubs/13/settings", data=fixed)
        assert saved.status_code == 200, saved.text
        assert "保存しました。" in saved.text
        assert "0123456789abcdef" not in saved.text
        assert "設定済み" in saved.text
        audit = await client.get("/console/hubs/13/audit")
        assert "拠点の設定を変更" in audit.text
        assert "0123456789abcdef" not in audit.text

    async with console.sessions() as session:
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        assert hub.slack_intake_channel_id == "C0NEWQUEUE1"
        assert (hub.quiet_end.hour, hub.quiet_start.hour) == (9, 20)
        assert (hub.escalation_hours, hub.followup_months) == (16, [1, 3, 6])
        row = await session.scalar(
            select(AuditLog).where(AuditLog.action == "hub.settings_changed")
        )
        assert row is not None
        changes = row.details["changes"]
        assert changes["push_closes"] == ["21:00", "20:00"]
        assert changes["escalation_hours"] == ["24", "16"]
        assert changes["line_secret"] == ["changed"]
        assert "0123456789abcdef" not in str(row.details)


# -- a CO leaves -------------------------------------------------------------------------------


async def test_deactivating_a_co_offers_their_cases_to_the_hub_and_ends_their_access(
    console: Console, clock: Any
) -> None:
    from core.db.models import Business, Case, OutboxMessage
    from core.domain.enums import CaseSource, CaseStatus
    from core.queues.port import QueueEntry
    from core.queues.sql import SqlAlchemyHubQueue

    now = clock.now()
    async with console.sessions() as session, session.begin():
        co = await session.scalar(
            select(Coordinator).where(Coordinator.slack_user_id == console.people["co"])
        )
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert co is not None
        assert hub is not None
        business = Business(
            name="さくら商店", name_key="さくら商店", created_at=now, updated_at=now
        )
        session.add(business)
        await session.flush()
        case = Case(
            number="13-2026-000900",
            hub_id=hub.id,
            business_id=business.id,
            source=CaseSource.LINE,
            topics=["it_digital"],
            status=CaseStatus.CLAIMED,
            assigned_co_id=co.id,
            claimed_at=now,
            created_at=now,
            updated_at=now,
        )
        session.add(case)
        await session.flush()
        queue = SqlAlchemyHubQueue.in_transaction(session)
        await queue.enqueue(QueueEntry(case.id, "13", 50, now))
        await queue.claim(case.id, co.id, now=now)
        co_id, case_id, co_name = co.id, case.id, co.name

    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        page = await client.get("/console/hubs/13")
        assert f"{co_name}: 無効にする" in page.text
        done = await client.post(
            f"/console/hubs/13/coordinators/{co_id}/active",
            data={"csrf": csrf_of(page.text), "active": "0"},
        )
        assert done.status_code == 303
        after = await client.get("/console/hubs/13")
        assert f"{co_name}さんを無効にしました。受付キューに戻した案件：1件。" in after.text
        # The CO of another hub cannot be reached through this hub's address.
        other = next(iter(console.names["27"]))
        async with console.sessions() as session:
            stranger = await session.scalar(select(Coordinator).where(Coordinator.name == other))
        assert stranger is not None
        refused = await client.post(
            f"/console/hubs/13/coordinators/{stranger.id}/active",
            data={"csrf": csrf_of(after.text), "active": "0"},
        )
        assert refused.status_code == 404

    async with console.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        assert (case.status, case.assigned_co_id) == (CaseStatus.QUEUED, None)
        held = await SqlAlchemyHubQueue(session=session).holder(case_id)
        assert held is None
        assert await resolve_slack_user(session, TEAM, console.people["co"]) is None
        notes = (
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.idempotency_key.like(f"co:{co_id}:%"))
            )
        ).all()
        assert notes, "the hub's CCOs are told which cases need a new CO"
        assert "13-2026-000900" in str(notes[0].payload)
        history = await session.scalar(
            select(func.count())
            .select_from(Coordinator)
            .where(Coordinator.id == co_id, Coordinator.active.is_(False))
        )
        assert history == 1  # kept, not deleted

    async with console.client() as client:
        refused_sign_in = await console.sign_in(client, console.people["co"])
        assert refused_sign_in.status_code == 403


# -- a partner organisation's staff ----------------------------------------------------------


async def test_a_partner_admin_registers_their_staff_who_can_then_hand_over_in_slack(
    console: Console,
) -> None:
    sheet = (
        "氏名,役職,電話番号,SlackユーザーID,管理者\n"
        "森 一樹,経営指導員,０３−１２３４−５６７８,U0MORI0001,\n"
        "林 さくら,経営指導員,12,U0HAYASHI1,はい\n"
    )
    async with console.client() as client:
        await console.sign_in(client, console.people["partner_admin"])
        landing = await client.get("/console", follow_redirects=True)
        assert "職員をCSVで登録" in landing.text
        action = f"/console/organisations/{console.own_org}/staff/import"
        csrf = csrf_of(landing.text)
        wrong = await client.post(action, data={"csrf": csrf, "mode": "check", "csv_text": sheet})
        assert wrong.status_code == 422
        assert "電話番号として読めませんでした" in wrong.text
        fixed = sheet.replace(",12,", ",03-9876-5432,")
        done = await client.post(action, data={"csrf": csrf, "mode": "apply", "csv_text": fixed})
        assert done.status_code == 200, done.text
        assert "2人の職員を登録・更新しました。" in done.text
        page = await client.get(f"/console/organisations/{console.own_org}")
        assert "森 一樹" in page.text
        # Another organisation's staff list is not theirs to change.
        other = f"/console/organisations/{console.other_org}/staff/import"
        refused = await client.post(other, data={"csrf": csrf, "mode": "apply", "csv_text": fixed})
        assert refused.status_code == 403

    async with console.sessions() as session:
        mori = await resolve_slack_user(session, TEAM, "U0MORI0001")
        assert mori is not None
        assert mori.is_partner
        assert mori.organisation_id == console.own_org
        staff = await session.scalar(
            select(PartnerStaff).where(PartnerStaff.slack_user_id == "U0MORI0001")
        )
        assert staff is not None
        assert staff.phone == normalize_phone("03-1234-5678")  # the one canonical form
        hayashi = await session.scalar(
            select(PartnerStaff).where(PartnerStaff.slack_user_id == "U0HAYASHI1")
        )
        assert hayashi is not None
        assert hayashi.console_admin


# -- a CO's own hours ------------------------------------------------------------------------


async def test_a_co_keeps_their_own_hours_and_leave_but_not_anyone_elses(
    console: Console, clock: Any
) -> None:
    from core.db.models import CoAvailabilityException, CoWeeklyAvailability

    async with console.sessions() as session:
        me = await session.scalar(
            select(Coordinator).where(Coordinator.slack_user_id == console.people["co"])
        )
        assert me is not None
        colleague = await session.scalar(
            select(Coordinator).where(Coordinator.hub_id == me.hub_id, Coordinator.id != me.id)
        )
        assert colleague is not None
        capacity = me.capacity
    mine = f"/console/hubs/13/coordinators/{me.id}"
    async with console.client() as client:
        await console.sign_in(client, console.people["co"])
        form = await client.get(mine)
        assert form.status_code == 200
        assert "担当上限はチーフコーディネーターが決めます。" in form.text
        csrf = csrf_of(form.text)
        typed = {
            "csrf": csrf,
            "name_kana": "てすと",
            "specialties": ["it", "design"],
            "qualifications": "中小企業診断士、ITコーディネータ",
            "self_introduction": "ECサイトの立ち上げが得意です。",
            "capacity": "99",
            "weekly": "月 09:00-12:00 来所\n月 11:00-13:00 オンライン",
            "exceptions": "2026-06-10 休み 研修\n2026-06-12 13:00-16:00",
        }
        wrong = await client.post(mine, data=typed)
        assert wrong.status_code == 422
        assert "「月 11:00-13:00 オンライン」が同じ曜日の別の時間と重なっています。" in wrong.text
        assert "ECサイトの立ち上げが得意です。" in wrong.text  # nothing typed is lost
        fixed = {**typed, "weekly": "月 09:00-12:00 来所\n水 13:00-17:00 オンライン"}
        saved = await client.post(mine, data=fixed)
        assert saved.status_code == 200, saved.text
        assert "保存しました。" in saved.text
        assert "2026-06-10 休み 研修" in saved.text
        # A colleague's page is not theirs.
        assert (
            await client.get(f"/console/hubs/13/coordinators/{colleague.id}")
        ).status_code == 403
        past = await client.post(mine, data={**fixed, "exceptions": "2026-05-01 休み"})
        assert "「2026-05-01 休み」は過ぎた日です。" in past.text

    async with console.sessions() as session:
        again = await session.get(Coordinator, me.id)
        assert again is not None
        assert again.capacity == capacity  # a CO cannot raise their own case limit
        assert again.specialties == ["it", "design"]
        weekly = (
            await session.scalars(
                select(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id == me.id)
            )
        ).all()
        assert sorted((w.weekday, w.start_time.hour, w.mode.value) for w in weekly) == [
            (0, 9, "visit"),
            (2, 13, "online"),
        ]
        leave = (
            await session.scalars(
                select(CoAvailabilityException).where(CoAvailabilityException.co_id == me.id)
            )
        ).all()
        assert sorted((e.day.isoformat(), e.available) for e in leave) == [
            ("2026-06-10", False),
            ("2026-06-12", True),
        ]


# -- HQ's partner organisations ----------------------------------------------------------------

NATIONAL_ROUTES = (
    "/console/organisations",
    "/console/organisations/new",
    "/console/organisations/import",
    "/console/national",
    "/console/national/budgets",
)


async def test_only_hq_sees_and_registers_partner_organisations(console: Console) -> None:
    sheet = (
        "名称,種別,都道府県,市区町村,SlackチャンネルID\n"
        "テスト町商工会,商工会,東京都,奥多摩町、檜原村,C0TESTSHO1\n"
        "テスト信用金庫,信用金庫,27,,\n"
        "テスト協会,協会,大阪府,,\n"
    )
    cells = 0
    for role in ("cco", "co", "partner_admin"):
        async with console.client() as client:
            await console.sign_in(client, console.people[role])
            for route in NATIONAL_ROUTES:
                assert (await client.get(route)).status_code == 403, (role, route)
                cells += 1
            # Adding an organisation by form is HQ's too, whatever the form says.
            page = await client.get("/console", follow_redirects=True)
            posted = await client.post(
                "/console/organisations/new",
                data={"csrf": csrf_of(page.text), "name": "勝手な商工会", "kind": "shokokai"},
            )
            assert posted.status_code == 403, role
    async with console.client() as client:
        for route in NATIONAL_ROUTES:
            assert (await client.get(route)).status_code == 303
            cells += 1
        await console.sign_in(client, console.people["hq"])
        for route in NATIONAL_ROUTES:
            assert (await client.get(route)).status_code == 200
            cells += 1
        form = await client.get("/console/organisations/import")
        csrf = csrf_of(form.text)
        wrong = await client.post(
            "/console/organisations/import", data={"csrf": csrf, "mode": "check", "csv_text": sheet}
        )
        assert wrong.status_code == 422
        assert (
            "種別は 商工会・商工会議所・中小機構・銀行・信用保証協会・その他 のどれかです。"
            in wrong.text
        )
        fixed = sheet.replace(",協会,", ",その他,")
        done = await client.post(
            "/console/organisations/import", data={"csrf": csrf, "mode": "apply", "csv_text": fixed}
        )
        assert done.status_code == 200, done.text
        assert "3件の支援機関を登録・更新しました。" in done.text
        listing = await client.get("/console/organisations")
        assert "テスト町商工会" in listing.text
        assert "奥多摩町、檜原村" in listing.text
    assert cells == 4 * len(NATIONAL_ROUTES) + len(NATIONAL_ROUTES)
    async with console.sessions() as session:
        bank = await session.scalar(
            select(PartnerOrganisation).where(PartnerOrganisation.name == "テスト信用金庫")
        )
        assert bank is not None
        assert (bank.kind.value, bank.prefecture_code) == ("bank", "27")


# -- 拠点のご案内 in the hub settings ------------------------------------------------------------


async def test_a_cco_enters_the_hub_information_mistakes_are_shown_and_nothing_typed_is_lost(
    console: Console,
) -> None:
    from core.db.models import HubProfile

    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        form = await client.get("/console/hubs/13/settings")
        assert "拠点のご案内（LINEで事業者さまに表示）" in form.text
        assert (
            'name="info_phone" type="tel" value=""' in form.text
        )  # nothing shipped, nothing guessed
        typed = {
            **UNCHANGED["13"],
            "csrf": csrf_of(form.text),
            "info_name": "東京都よろず支援拠点",
            "info_postal_code": "1000005",
            "info_address": "東京都千代田区丸の内一丁目1-1",
            "info_latitude": "135.5",
            "info_longitude": "139.767125",
            "info_phone": "03-1234",
            "info_website": "http://example.org/yorozu13",
            "info_hours_0": "9時から17時",
            "info_hours_5": "休",
            "info_access": "東京駅から徒歩5分\n地下通路直結",
        }
        wrong = await client.post("/console/hubs/13/settings", data=typed)
        assert wrong.status_code == 422
        for message in (
            "緯度は -90 から 90 までの数字で入れてください",
            "電話番号として読めませんでした",
            "「https://」で始まるホームページのアドレスを入れてください",
            "「9:00-17:00」の形で入れてください",
        ):
            assert message in wrong.text, message
        for kept in ('value="135.5"', 'value="03-1234"', 'value="9時から17時"', "地下通路直結"):
            assert kept in wrong.text, kept
        async with console.sessions() as session:
            hub = await session.scalar(select(Hub).where(Hub.code == "13"))
            assert hub is not None
            assert await session.get(HubProfile, hub.id) is None

        fixed = {
            **typed,
            "info_latitude": "35.681236",
            "info_phone": "０３（１２３４）５６７８",
            "info_website": "https://example.org/yorozu13",
            "info_hours_0": "9:00-17:00",
        }
        saved = await client.post("/console/hubs/13/settings", data=fixed)
        assert saved.status_code == 200, saved.text
        assert "保存しました。" in saved.text
        assert 'value="03-1234-5678"' in saved.text
        assert 'value="100-0005"' in saved.text
        audit = await client.get("/console/hubs/13/audit")
        assert "拠点の設定を変更" in audit.text

    async with console.sessions() as session:
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        profile = await session.get(HubProfile, hub.id)
        assert profile is not None
        assert (profile.phone, profile.postal_code) == ("+81312345678", "100-0005")
        assert profile.opening_hours == {"0": [["09:00", "17:00"]], "5": []}
        assert profile.access == "東京駅から徒歩5分\n地下通路直結"
        row = await session.scalar(
            select(AuditLog)
            .where(AuditLog.action == "hub.settings_changed")
            .order_by(AuditLog.id.desc())
        )
        assert row is not None
        assert row.details["changes"]["info_phone"] == ["", "03-1234-5678"]
        assert row.details["changes"]["info_hours_5"] == ["", "休"]


# -- access requests from partner staff ----------------------------------------------------------


async def test_a_cco_approves_an_access_request_in_the_console_and_a_co_may_not(
    console: Console, clock: Any
) -> None:
    from core.access_requests import RequestForm, submit_request
    from core.db.models import AccessRequest, AccessRequestStatus

    async with console.sessions() as session, session.begin():
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        asked = await submit_request(
            session,
            RequestForm(
                name="新井 翔太",
                hub_id=hub.id,
                organisation_id=None,
                organisation_name="一覧にない商工会",
                note="経営指導員です",
            ),
            team_id=TEAM,
            user_id="U0ARAI0001",
            locale="ja",
            now=clock.now(),
            event_key="e1",
        )
        request_id = asked.request.id

    async with console.client() as client:
        await console.sign_in(client, console.people["co"])
        refused = await client.get("/console/hubs/13/access-requests")
        assert refused.status_code == 403

    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        hub_page = await client.get("/console/hubs/13")
        assert "利用申請（1件）" in hub_page.text
        page = await client.get("/console/hubs/13/access-requests")
        assert page.status_code == 200
        assert "新井 翔太" in page.text
        assert "一覧にない商工会（一覧にない組織として入力）" in page.text
        action = f"/console/hubs/13/access-requests/{request_id}"
        forged = await client.post(action, data={"csrf": "wrong", "decision": "approve"})
        assert forged.status_code == 400
        csrf = csrf_of(page.text)
        unchosen = await client.post(action, data={"csrf": csrf, "decision": "approve"})
        assert unchosen.status_code == 422
        assert "登録する組織を選んでください" in unchosen.text
        # An organisation of another prefecture is not this hub's to register staff with.
        elsewhere = await client.post(
            action,
            data={"csrf": csrf, "decision": "approve", "organisation_id": str(console.other_org)},
        )
        assert elsewhere.status_code == 422
        done = await client.post(
            action,
            data={"csrf": csrf, "decision": "approve", "organisation_id": str(console.own_org)},
        )
        assert done.status_code == 200, done.text
        assert "新井 翔太さんを担当者として登録しました。" in done.text
        assert "対応待ちの利用申請はありません。" in done.text
        again = await client.post(action, data={"csrf": csrf, "decision": "deny"})
        assert again.status_code == 409
        audit = await client.get("/console/hubs/13/audit")
        assert "利用申請を承認" in audit.text

    async with console.sessions() as session:
        row = await session.get(AccessRequest, request_id)
        assert row is not None
        assert row.status is AccessRequestStatus.APPROVED
        staff = await resolve_slack_user(session, TEAM, "U0ARAI0001")
        assert staff is not None
        assert staff.is_partner
        assert staff.organisation_id == console.own_org


# -- one person at a time ----------------------------------------------------------------------


async def test_a_cco_adds_one_co_by_form_sees_each_mistake_on_its_field_and_loses_nothing(
    console: Console, clock: Any
) -> None:
    from core.db.models import CoAvailabilityException, CoWeeklyAvailability

    async with console.sessions() as session:
        colleague = await session.get(Coordinator, console.a_co["13"])
        assert colleague is not None
        colleague_user, colleague_name = colleague.slack_user_id, colleague.name
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        hub = await client.get("/console/hubs/13")
        assert "コーディネーターを追加" in hub.text
        form = await client.get("/console/hubs/13/coordinators/new")
        assert form.status_code == 200
        typed = {
            "csrf": csrf_of(form.text),
            "name": "新田 六花",
            "name_kana": "にった りっか",
            "role": "co",
            "specialties": ["sales_channels", "it"],
            "qualifications": "中小企業診断士、ITコーディネータ",
            "self_introduction": "小売店のネット販売を一緒に考えます。",
            "slack_user_id": "U0NOBODY01",
            "email": "nitta@hub13.example",
            "capacity": "12",
            "weekly": "月 09:00-12:00 来所\n月 11:00-13:00 オンライン",
            "exceptions": "2026-06-10 休み 研修",
            "active": "1",
        }
        stale = await client.post(
            "/console/hubs/13/coordinators/new", data={**typed, "csrf": "stale"}
        )
        assert stale.status_code == 400
        assert "フォームの有効期限が切れました" in stale.text
        assert "小売店のネット販売を一緒に考えます。" in stale.text  # kept for the retry
        unknown = await client.post("/console/hubs/13/coordinators/new", data=typed)
        assert unknown.status_code == 422
        assert "直していただきたい項目があります。入力内容はそのまま残っています。" in unknown.text
        assert "SlackにユーザーID「U0NOBODY01」の方が見つかりませんでした" in unknown.text
        assert "「月 11:00-13:00 オンライン」が同じ曜日の別の時間と重なっています。" in unknown.text
        for kept in (
            'value="新田 六花"',
            "小売店のネット販売を一緒に考えます。",
            "2026-06-10 休み 研修",
        ):
            assert kept in unknown.text, kept
        assert 'aria-invalid="true" aria-describedby="slack_user_id-error"' in unknown.text

        # A colleague's Slack id is a duplicate person, named, not an overwrite.
        twice = await client.post(
            "/console/hubs/13/coordinators/new",
            data={**typed, "slack_user_id": str(colleague_user), "weekly": "月 09:00-12:00"},
        )
        assert twice.status_code == 422
        assert f"「{colleague_name}」としてすでに登録されています" in twice.text

        fixed = {
            **typed,
            "slack_user_id": "u0newco001",
            "weekly": "月 09:00-12:00 来所\n水 13:00-17:00 オンライン",
        }
        added = await client.post("/console/hubs/13/coordinators/new", data=fixed)
        assert added.status_code == 303, added.text
        hub = await client.get("/console/hubs/13")
        assert "新田 六花さんの登録内容を保存しました。" in hub.text

    async with console.sessions() as session:
        co = await session.scalar(select(Coordinator).where(Coordinator.name == "新田 六花"))
        assert co is not None
        assert (co.slack_user_id, co.capacity, co.specialties) == (
            "U0NEWCO001",
            12,
            ["sales_channels", "it"],
        )
        assert co.qualifications == ["中小企業診断士", "ITコーディネータ"]
        weekly = (
            await session.scalars(
                select(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id == co.id)
            )
        ).all()
        assert sorted((w.weekday, w.start_time.hour) for w in weekly) == [(0, 9), (2, 13)]
        leave = await session.scalar(
            select(CoAvailabilityException).where(CoAvailabilityException.co_id == co.id)
        )
        assert leave is not None
        assert (leave.day.isoformat(), leave.available, leave.note) == ("2026-06-10", False, "研修")
        created = await session.scalar(
            select(AuditLog).where(AuditLog.action == "coordinator.created")
        )
        assert created is not None
        assert created.details["changes"]["capacity"] == [None, 12]
        assert created.details["changes"]["slack_user_id"] == [None, "U0NEWCO001"]
        co_id = co.id
        # Known in Slack from now on, like an imported CO.
        assert await resolve_slack_user(session, TEAM, "U0NEWCO001") is not None

    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        page = f"/console/hubs/13/coordinators/{co_id}/edit"
        form = await client.get(page)
        assert 'value="新田 六花"' in form.text
        assert "水 13:00-17:00 オンライン" in form.text
        edited = {**fixed, "csrf": csrf_of(form.text), "capacity": "8", "role": "cco"}
        edited.pop("active")  # the box cleared: they leave
        saved = await client.post(page, data=edited)
        assert saved.status_code == 200, saved.text
        assert "新田 六花さんの登録内容を保存しました。" in saved.text
        audit = await client.get("/console/hubs/13/audit")
        assert "コーディネーターの登録内容を変更" in audit.text
        assert "コーディネーターを無効化" in audit.text
        # The page as saved, sent again, changes nothing and writes no audit row.
        shown = await client.get(page)
        same: dict[str, Any] = {
            name: value
            for name, value in re.findall(
                r'<input id="([a-z_]+)" name="[a-z_]+" type="[a-z]+" value="([^"]*)"', shown.text
            )
        }
        same |= dict(re.findall(r'<textarea id="([a-z_]+)"[^>]*>([^<]*)</textarea>', shown.text))
        same["role"] = "cco"
        same["specialties"] = ["sales_channels", "it"]
        again = await client.post(page, data={**same, "csrf": csrf_of(shown.text)})
        assert again.status_code == 200, again.text
        assert "変更はありませんでした。" in again.text

    async with console.sessions() as session:
        co = await session.get(Coordinator, co_id)
        assert co is not None
        assert (co.capacity, co.role.value, co.active) == (8, "cco", False)
        changed = await session.scalar(
            select(AuditLog).where(AuditLog.action == "coordinator.changed")
        )
        assert changed is not None
        assert changed.details["changes"]["capacity"] == [12, 8]
        assert changed.details["changes"]["role"] == ["co", "cco"]
        assert await resolve_slack_user(session, TEAM, "U0NEWCO001") is None


async def test_a_sheet_row_with_a_slack_id_slack_does_not_know_is_marked_before_anything_is_written(
    console: Console,
) -> None:
    sheet = "氏名,SlackユーザーID\n山田 花子,U0YAMADAH01\n谷 未知,U0UNKNOWN99\n"
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        form = await client.get("/console/hubs/13/coordinators/import")
        checked = await client.post(
            "/console/hubs/13/coordinators/import",
            data={"csrf": csrf_of(form.text), "mode": "apply", "csv_text": sheet},
        )
        assert checked.status_code == 422
        assert "SlackにユーザーID「U0UNKNOWN99」の方が見つかりませんでした" in checked.text
    async with console.sessions() as session:
        assert (
            await session.scalar(select(Coordinator).where(Coordinator.name == "山田 花子")) is None
        )


async def test_a_partner_admin_adds_a_staff_member_by_form_then_deactivates_them(
    console: Console,
) -> None:
    base = f"/console/organisations/{console.own_org}"
    async with console.client() as client:
        await console.sign_in(client, console.people["partner_admin"])
        landing = await client.get(base)
        assert "職員を追加" in landing.text
        form = await client.get(f"{base}/staff/new")
        typed = {
            "csrf": csrf_of(form.text),
            "name": "松本 七海",
            "title": "経営指導員",
            "phone": "12",
            "slack_user_id": "U0NOBODY02",
            "active": "1",
        }
        wrong = await client.post(f"{base}/staff/new", data=typed)
        assert wrong.status_code == 422
        assert "電話番号として読めませんでした" in wrong.text
        assert "SlackにユーザーID「U0NOBODY02」の方が見つかりませんでした" in wrong.text
        assert 'value="松本 七海"' in wrong.text
        fixed = {**typed, "phone": "03-9876-5432", "slack_user_id": "U0NEWSTAFF1"}
        added = await client.post(f"{base}/staff/new", data=fixed)
        assert added.status_code == 303, added.text
        page = await client.get(base)
        assert "松本 七海さんの登録内容を保存しました。" in page.text
        async with console.sessions() as session:
            staff = await session.scalar(
                select(PartnerStaff).where(PartnerStaff.slack_user_id == "U0NEWSTAFF1")
            )
            assert staff is not None
            staff_id = staff.id
            assert await resolve_slack_user(session, TEAM, "U0NEWSTAFF1") is not None
        again = await client.post(f"{base}/staff/new", data=fixed)
        assert again.status_code == 422
        assert "「松本 七海」としてすでに登録されています" in again.text

        gone = await client.post(
            f"{base}/staff/{staff_id}/active", data={"csrf": csrf_of(page.text), "active": "0"}
        )
        assert gone.status_code == 303
        page = await client.get(base)
        assert "松本 七海さんを無効にしました。" in page.text
        assert "松本 七海" in page.text  # history kept: still listed, inactive

    async with console.sessions() as session:
        # Slack no longer knows them as partner staff: a hand-over is refused with the
        # catalog's polite answer for someone not registered.
        assert await resolve_slack_user(session, TEAM, "U0NEWSTAFF1") is None
        actions = (
            await session.scalars(
                select(AuditLog.action).where(AuditLog.action.like("partner_staff.%"))
            )
        ).all()
        assert {"partner_staff.created", "partner_staff.deactivated"} <= set(actions)
        kept = await session.get(PartnerStaff, staff_id)
        assert kept is not None
        assert kept.active is False


async def test_hq_adds_and_edits_one_partner_organisation_by_form(console: Console) -> None:
    async with console.client() as client:
        await console.sign_in(client, console.people["hq"])
        form = await client.get("/console/organisations/new")
        assert form.status_code == 200
        typed = {
            "csrf": csrf_of(form.text),
            "name": "テスト村商工会",
            "kind": "",
            "prefecture": "13",
            "municipality": "檜原村",
            "slack_channel_id": "x",
        }
        wrong = await client.post("/console/organisations/new", data=typed)
        assert wrong.status_code == 422
        assert "種別は" in wrong.text
        assert 'value="檜原村"' in wrong.text
        fixed = {**typed, "kind": "shokokai", "slack_channel_id": "C0TESTVIL1"}
        added = await client.post("/console/organisations/new", data=fixed)
        assert added.status_code == 303, added.text
        target = added.headers["location"]
        again = await client.post("/console/organisations/new", data=fixed)
        assert again.status_code == 422
        assert "同じ都道府県に同じ名称の支援機関がすでに登録されています" in again.text
        edit = await client.get(f"{target}/edit")
        saved = await client.post(
            f"{target}/edit",
            data={**fixed, "csrf": csrf_of(edit.text), "municipality": "檜原村、奥多摩町"},
        )
        assert saved.status_code == 200, saved.text
        assert "保存しました" in saved.text
    async with console.sessions() as session:
        row = await session.scalar(
            select(AuditLog).where(AuditLog.action == "organisation.changed")
        )
        assert row is not None
        assert row.details["changes"]["municipality"] == ["檜原村", "檜原村、奥多摩町"]


async def test_a_cco_sets_the_cco_channel_business_hours_escalation_and_survey_timing(
    console: Console, clock: Any
) -> None:
    from datetime import time

    from core.db.models import OutboxMessage
    from core.hub_calendar import hub_calendar
    from core.i18n import Text
    from core.messages import OutgoingMessage
    from core.notify import notify_cco

    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        form = await client.get("/console/hubs/13/settings")
        assert "チーフ向けのチャンネルID" in form.text
        typed = {
            **UNCHANGED["13"],
            "csrf": csrf_of(form.text),
            "slack_cco_channel_id": "C0CHIEFS13",
            "business_opens": "10:00",
            "business_closes": "9:30",
            "escalation_hq_hours": "300",
            "survey_send_at": "25:00",
        }
        wrong = await client.post("/console/hubs/13/settings", data=typed)
        assert wrong.status_code == 422
        assert "終える時刻は、始める時刻より後にしてください。" in wrong.text
        assert 'aria-describedby="escalation_hq_hours-error"' in wrong.text
        assert 'aria-describedby="survey_send_at-error"' in wrong.text
        assert 'value="C0CHIEFS13"' in wrong.text  # kept as typed
        fixed = {
            **typed,
            "business_closes": "18:00",
            "escalation_hq_hours": "8",
            "survey_send_at": "11:30",
        }
        saved = await client.post("/console/hubs/13/settings", data=fixed)
        assert saved.status_code == 200, saved.text
        assert "保存しました。" in saved.text
        assert 'value="11:30"' in saved.text

    async with console.sessions() as session, session.begin():
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        assert (hub.escalation_hq_hours, hub.survey_send_at) == (8, time(11, 30))
        calendar = await hub_calendar(session, hub.id, today=clock.now().date())
        assert (calendar.day_start, calendar.day_end) == (time(10, 0), time(18, 0))
        row = await session.scalar(
            select(AuditLog)
            .where(AuditLog.action == "hub.settings_changed")
            .order_by(AuditLog.id.desc())
        )
        assert row is not None
        assert row.details["changes"]["slack_cco_channel_id"] == ["", "C0CHIEFS13"]
        assert row.details["changes"]["business_opens"] == ["", "10:00"]
        assert row.details["changes"]["survey_send_at"] == ["", "11:30"]
        # The CCOs' notices now go to their channel, not to each CCO's DMs.
        told = await notify_cco(
            session,
            hub,
            OutgoingMessage(texts=(Text("common.verbatim", value="test"),)),
            key="settings-test",
            now=clock.now(),
        )
        assert told == 1
        sent = (
            await session.scalars(
                select(OutboxMessage.recipient).where(
                    OutboxMessage.idempotency_key.like("settings-test%")
                )
            )
        ).all()
        assert sent == ["C0CHIEFS13"]


async def test_a_cco_answers_a_privacy_request_for_their_own_hub_only(
    console: Console, clock: Any
) -> None:
    await add_people(console, clock.now())
    own, other = console.a_person["13"], console.a_person["27"]
    async with console.client() as client:
        signed = await console.sign_in(client, console.people["cco"])
        landing = await client.get(signed.headers["location"], follow_redirects=True)
        assert "個人情報の請求" in landing.text
        csrf = csrf_of(landing.text)
        found = await client.get("/console/hubs/13/privacy?phone=090-1111-2222")
        assert found.status_code == 200
        # The same phone at another hub: that person is not this CCO's to see.
        assert "請求 太郎13" in found.text
        assert "請求 太郎27" not in found.text
        alone = await client.get("/console/hubs/13/privacy?name=請求太郎13")
        assert alone.status_code == 422
        assert "事業者名も指定" in alone.text
        page = await client.get(f"/console/hubs/13/privacy/people/{own}/export.html")
        assert page.status_code == 200
        assert "保有個人データの開示" in page.text
        assert "請求のテスト13" in page.text
        assert page.headers["cache-control"] == "no-store"
        saved = await client.get(f"/console/hubs/13/privacy/people/{own}/export.html?download=1")
        assert saved.headers["content-disposition"].startswith("attachment")
        data = await client.get(f"/console/hubs/13/privacy/people/{own}/export.json")
        assert data.json()["cases"][0]["number"] == "13-2026-800001"
        elsewhere = await client.get(f"/console/hubs/13/privacy/people/{other}/export.json")
        assert elsewhere.status_code == 404
        preview = await client.get(f"/console/hubs/13/privacy/people/{own}/erase")
        assert preview.status_code == 200
        assert "消去の確認" in preview.text
        assert "cases" in preview.text
        forged = await client.post(
            f"/console/hubs/13/privacy/people/{own}/erase", data={"csrf": "forged"}
        )
        assert forged.status_code == 400
        erased = await client.post(
            f"/console/hubs/13/privacy/people/{own}/erase", data={"csrf": csrf}
        )
        assert erased.status_code == 200
        assert "消去しました" in erased.text
    async with console.sessions() as session:
        person = await session.get(Person, own)
        untouched = await session.get(Person, other)
        rows = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action.like("privacy.%")).order_by(AuditLog.id)
            )
        )
    assert person is not None
    assert untouched is not None
    assert (person.display_name, person.phone, person.erased_at is not None) == (None, None, True)
    assert untouched.display_name == "請求 太郎27"
    assert [r.action for r in rows] == [
        "privacy.found",
        "privacy.exported",
        "privacy.exported",
        "privacy.exported",
        "privacy.erase_previewed",
        "privacy.erased",
    ]
    hub13 = {r.hub_id for r in rows}
    assert len(hub13) == 1
    assert None not in hub13
    assert all(r.actor_id is not None for r in rows)
