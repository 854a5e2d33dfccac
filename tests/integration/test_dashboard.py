"""The hub dashboard: the eight figures month by month, each number the length of its list.

A year of records for the Tokyo hub (consultations over several months, with issues, joint
sessions, confirmed results, a referral, and a business merged into its twin), written as
the bots and the outcome modal write them. The dashboard's totals must equal core.figures,
which counts independently; every number, monthly and yearly, must equal the rows of the
list it links to; and another hub's CCO gets 403.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from core.dashboard import MONTHS, Figure
from core.db.models import (
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    Hub,
    PartnerOrganisation,
    Referral,
)
from core.domain.enums import CaseSource, CaseStatus, ReferralDirection
from core.figures import hub_figures
from tests.integration.test_console_access import Console, console, oidc, slack_api

__all__ = ["console", "oidc", "slack_api"]  # the console's fixtures, shared

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

YEAR = 2026


async def _a_year_of_records(console: Console) -> int:
    now = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
    async with console.sessions() as session, session.begin():
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        co = await session.scalar(select(Coordinator).where(Coordinator.hub_id == hub.id))
        org = await session.scalar(select(PartnerOrganisation).limit(1))
        assert co is not None
        assert org is not None
        businesses = [
            Business(
                name=f"テスト商店{i}", name_key=f"テスト商店{i}", created_at=now, updated_at=now
            )
            for i in range(4)
        ]
        session.add_all(businesses)
        await session.flush()
        businesses[3].merged_into_id = businesses[2].id  # 名寄せ: one business, twice written
        cases = []
        for i, business in enumerate(businesses):
            case = Case(
                number=f"13-2026-{900 + i:06d}",
                hub_id=hub.id,
                business_id=business.id,
                source=CaseSource.LINE,
                topics=["it_digital"],
                status=CaseStatus.IN_SUPPORT,
                assigned_co_id=co.id,
                created_at=now,
                updated_at=now,
            )
            session.add(case)
            cases.append(case)
        await session.flush()
        held = [
            # (case, day, minutes, issues, confirmed, joint)
            (0, date(2026, 4, 10), 60, ["販路"], True, False),
            (0, date(2026, 5, 12), 90, ["販路", "価格"], False, True),
            (1, date(2026, 5, 20), 45, [], False, False),
            (2, date(2026, 7, 1), 60, ["資金繰り", " "], True, False),
            (3, date(2026, 7, 3), 30, ["資金繰り"], False, False),
            (1, date(2027, 3, 31), 120, ["IT"], True, True),
            (1, date(2026, 3, 31), 60, ["前年度"], True, True),  # FY2025: not counted
        ]
        for index, day, minutes, issues, confirmed, joint in held:
            session.add(
                ConsultationRecord(
                    case_id=cases[index].id,
                    co_id=co.id,
                    hub_id=hub.id,
                    held_on=day,
                    minutes=minutes,
                    issues=issues,
                    result_confirmed=confirmed,
                    co_attending_org_id=org.id if joint else None,
                    created_at=now,
                )
            )
        session.add(
            Referral(
                case_id=cases[0].id,
                direction=ReferralDirection.TO_PARTNER,
                from_hub_id=hub.id,
                to_organisation_id=org.id,
                created_at=datetime(2026, 5, 13, 1, 0, tzinfo=UTC),
            )
        )
        return hub.id


def _number(cell: str) -> float:
    return float(re.sub(r"[^0-9.]", "", cell))


async def test_every_figure_equals_core_figures_and_the_rows_of_its_list(
    console: Console,
) -> None:
    hub_id = await _a_year_of_records(console)
    async with console.sessions() as session:
        expected = await hub_figures(session, hub_id=hub_id, fiscal_year=YEAR)
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        page = await client.get(f"/console/hubs/13/dashboard?fy={YEAR}")
        assert page.status_code == 200
        totals = dict(re.findall(r'data-figure="(\w+)"[^>]*>([\d.]+)<', page.text))
        want = {
            "businesses": expected.businesses,
            "consultations": expected.consultations,
            "results_confirmed": expected.results_confirmed,
            "referrals": expected.referrals,
            "joint_consultations": expected.joint_consultations,
            "issues_set": expected.issues_set,
            "issue_responses": expected.issue_responses,
            "hours": expected.hours,
        }
        assert {k: float(v) for k, v in totals.items()} == pytest.approx(want)
        assert want["businesses"] == 3  # four written, one merged into its twin
        assert want["consultations"] == 6
        checked = 0
        for figure in Figure:
            for month in (None, *MONTHS):
                suffix = f"&month={month}" if month else ""
                drill = await client.get(
                    f"/console/hubs/13/dashboard/{figure.value}?fy={YEAR}{suffix}"
                )
                assert drill.status_code == 200
                heading = re.search(r"<h1>[^<]*: ([\d.]+)</h1>", drill.text)
                assert heading is not None
                rows = drill.text.split('id="rows"')[1].count("<tr><td>")
                if figure is Figure.HOURS:
                    assert _number(heading.group(1)) == pytest.approx(
                        sum(_number(m) for m in re.findall(r"<td>(\d+)</td></tr>", drill.text))
                        / 60,
                        abs=0.05,
                    )
                else:
                    assert rows == int(heading.group(1)), (figure, month)
                if month is None and figure is not Figure.HOURS:
                    assert rows == want[figure.value], figure
                checked += 1
        assert checked == 8 * 13
        listed = await client.get(f"/console/hubs/13/dashboard/businesses?fy={YEAR}")
        assert "テスト商店2" in listed.text  # the survivor, named
        assert "テスト商店3" not in listed.text  # its merged twin is the same business


async def test_another_hubs_cco_and_a_partner_cannot_open_the_dashboard(
    console: Console,
) -> None:
    await _a_year_of_records(console)
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        assert (await client.get("/console/hubs/27/dashboard")).status_code == 403
        assert (await client.get("/console/hubs/27/dashboard/consultations")).status_code == 403
        assert (await client.get("/console/hubs/13/dashboard/nonsense")).status_code == 404
    async with console.client() as client:
        await console.sign_in(client, console.people["partner_admin"])
        assert (await client.get("/console/hubs/13/dashboard")).status_code == 403
    async with console.client() as client:
        assert (await client.get("/console/hubs/13/dashboard")).status_code == 303


async def test_hq_sees_all_47_hubs_side_by_side_ranked_by_any_figure(console: Console) -> None:
    hub_id = await _a_year_of_records(console)
    async with console.sessions() as session:
        expected = await hub_figures(session, hub_id=hub_id, fiscal_year=YEAR)
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        assert (await client.get("/console/national")).status_code == 403
    async with console.client() as client:
        await console.sign_in(client, console.people["hq"])
        page = await client.get(f"/console/national?fy={YEAR}&sort=issue_responses")
        assert page.status_code == 200
        body = page.text.split("<tbody>")[1].split("</tbody>")[0]
        rows = re.findall(r"<tr><th scope=\"row\">(.*?)</tr>", body, re.S)
        assert len(rows) == 47
        assert "東京都よろず支援拠点" in rows[0]  # ranked first: the only hub with records
        cells = [int(c) for c in re.findall(r"<td>(\d+)</td>", rows[0])[:7]]
        assert cells == [
            expected.businesses,
            expected.consultations,
            expected.results_confirmed,
            expected.referrals,
            expected.joint_consultations,
            expected.issues_set,
            expected.issue_responses,
        ]
        total = page.text.split("<tfoot>")[1]
        assert f"<strong>{expected.consultations}</strong>" in total


async def test_exports_open_in_excel_match_the_dashboard_and_are_audited(
    console: Console,
) -> None:
    import csv
    import io

    from openpyxl import load_workbook

    from core.db.models import AuditLog

    await _a_year_of_records(console)
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        utf8 = await client.get(f"/console/hubs/13/exports/consultations.csv?fy={YEAR}")
        assert utf8.status_code == 200
        assert utf8.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Japanese
        assert "attachment" in utf8.headers["content-disposition"]
        table = list(csv.reader(io.StringIO(utf8.content.decode("utf-8-sig"))))
        assert table[0][:3] == ["日付", "受付番号", "事業者名"]
        assert len(table) - 1 == 6  # the dashboard's 相談実績件数
        sjis = await client.get(
            f"/console/hubs/13/exports/consultations.csv?fy={YEAR}&encoding=sjis"
        )
        assert (
            sjis.content.decode("cp932").splitlines()[1:]
            == utf8.content.decode("utf-8-sig").splitlines()[1:]
        )
        book = await client.get(f"/console/hubs/13/exports/figures.xlsx?fy={YEAR}")
        assert book.status_code == 200
        sheet = load_workbook(io.BytesIO(book.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "指標"
        consultations = next(row for row in rows if row[0] == "相談実績件数")
        assert consultations[-1] == 6
        assert sum(consultations[1:-1]) == 6
        for name in ("cases", "referrals", "surveys"):
            assert (await client.get(f"/console/hubs/13/exports/{name}.csv")).status_code == 200
        assert (await client.get("/console/hubs/27/exports/cases.csv")).status_code == 403
    async with console.client() as client:
        await console.sign_in(client, console.people["co"])
        assert (await client.get("/console/hubs/13/exports/cases.csv")).status_code == 403
    async with console.sessions() as session:
        audited = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "export.downloaded"))
        ).all()
    assert len(audited) == 6
    assert {row.details["export"] for row in audited} >= {"consultations.csv", "figures.xlsx"}


async def test_yorozu_figures_in_slack_shows_the_cco_their_hub_and_refuses_a_co(
    console: Console, clock: object
) -> None:
    from bots.slack.deps import SlackDeps
    from bots.slack.figures import figures_answer
    from core.clock import ManualClock
    from core.i18n import Catalog
    from tests.integration.test_console_access import TEAM

    hub_id = await _a_year_of_records(console)
    later = ManualClock(datetime(2027, 3, 31, 1, 0, tzinfo=UTC))  # FY2026 so far: all of it

    async def submit(_events: object) -> None:
        raise AssertionError("figures are read, never written")

    deps = SlackDeps(
        session_factory=console.sessions,
        clock=later,
        catalog=Catalog.load(),
        submit=submit,  # type: ignore[arg-type]
        client=None,
        console_url="https://yorozu.example.jp",
    )
    async with console.sessions() as session:
        expected = await hub_figures(session, hub_id=hub_id, fiscal_year=YEAR)
    answer = await figures_answer(deps, TEAM, console.people["cco"], [])
    assert answer is not None
    text = answer["text"]
    assert "東京都よろず支援拠点 2026年度の実績（これまで）" in text
    assert f"2. 相談実績件数: {expected.consultations}" in text
    assert f"7. 相談対応件数: {expected.issue_responses}" in text
    assert "https://yorozu.example.jp/console/hubs/13/dashboard?fy=2026" in text
    refused = await figures_answer(deps, TEAM, console.people["co"], [])
    assert refused is not None
    assert "チーフコーディネーターと本部の方が見られます" in refused["text"]
    hq = await figures_answer(deps, TEAM, console.people["hq"], ["13"])
    assert hq is not None
    assert f"2. 相談実績件数: {expected.consultations}" in hq["text"]
    national = await figures_answer(deps, TEAM, console.people["hq"], [])
    assert national is not None
    assert "全国 2026年度" in national["text"]
    assert await figures_answer(deps, TEAM, "U0NOBODY001", []) is None


async def test_the_dashboard_shows_queue_claims_and_phases(console: Console) -> None:
    from datetime import timedelta

    await _a_year_of_records(console)
    now = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
    async with console.sessions() as session, session.begin():
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        business = await session.scalar(select(Business).limit(1))
        assert business is not None
        for i, (waited, claimed_after) in enumerate(((30, None), (5, 2), (10, 6), (3, 1))):
            created = now - timedelta(hours=waited)
            session.add(
                Case(
                    number=f"13-2026-{800 + i:06d}",
                    hub_id=hub.id,
                    business_id=business.id,
                    source=CaseSource.LINE,
                    topics=[],
                    status=CaseStatus.QUEUED if claimed_after is None else CaseStatus.CLAIMED,
                    claimed_at=created + timedelta(hours=claimed_after) if claimed_after else None,
                    created_at=created,
                    updated_at=now,
                )
            )
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        page = await client.get(f"/console/hubs/13/dashboard?fy={YEAR}")
    health = page.text.split('id="health"')[1]
    assert "いちばん長い案件は30時間待ち" in health
    assert "中央値 2.0時間、9割が 6.0時間以内（3件）" in health
    assert "フェーズ1 6件、フェーズ2 0件" in health


async def test_a_co_sees_their_own_year_and_a_colleague_does_not(console: Console) -> None:
    await _a_year_of_records(console)
    async with console.sessions() as session:
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        writer = await session.scalar(select(Coordinator).where(Coordinator.hub_id == hub.id))
        assert writer is not None
        me = await session.scalar(
            select(Coordinator).where(Coordinator.slack_user_id == console.people["co"])
        )
        assert me is not None
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        theirs = await client.get(f"/console/hubs/13/coordinators/{writer.id}/figures?fy={YEAR}")
        assert theirs.status_code == 200
        assert 'data-figure="consultations">6<' in theirs.text  # all six were theirs
    async with console.client() as client:
        await console.sign_in(client, console.people["co"])
        mine = await client.get(f"/console/hubs/13/coordinators/{me.id}/figures?fy={YEAR}")
        assert mine.status_code == 200
        assert me.id != writer.id
        assert 'data-figure="consultations">0<' in mine.text
        other = f"/console/hubs/13/coordinators/{writer.id}/figures"
        assert (await client.get(other)).status_code == 403


async def test_queue_health_and_partner_numbers_each_equal_the_rows_of_their_list(
    console: Console,
) -> None:
    """Escalations (written by the escalation job), bookings past their time without an
    outcome, and referrals in and out per partner: every number links to its list."""
    from datetime import timedelta

    from core.db.models import Booking, LineChannel
    from core.domain.enums import BookingMode, BookingStatus
    from core.escalation import escalate_unclaimed
    from core.outbox import count_push

    await _a_year_of_records(console)
    now = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Japan
    async with console.sessions() as session, session.begin():
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        co = await session.scalar(select(Coordinator).where(Coordinator.hub_id == hub.id))
        orgs = list((await session.scalars(select(PartnerOrganisation).limit(2))).all())
        case = await session.scalar(select(Case).where(Case.number == "13-2026-000900"))
        assert co is not None
        assert case is not None
        assert len(orgs) == 2
        waiting = Case(
            number="13-2026-000700",
            hub_id=hub.id,
            source=CaseSource.LINE,
            topics=[],
            status=CaseStatus.QUEUED,
            created_at=now - timedelta(days=7),
            updated_at=now - timedelta(days=7),
        )
        booked = Case(
            number="13-2026-000701",
            hub_id=hub.id,
            source=CaseSource.LINE,
            topics=[],
            status=CaseStatus.IN_SUPPORT,
            assigned_co_id=co.id,
            created_at=now - timedelta(days=20),
            updated_at=now - timedelta(days=20),
        )
        session.add_all([waiting, booked])
        await session.flush()
        for day, recorded in ((20, False), (21, True), (25, False)):
            starts = datetime(2026, 5, day, 1, 0, tzinfo=UTC)
            booking = Booking(
                case_id=booked.id,
                co_id=co.id,
                hub_id=hub.id,
                starts_at=starts,
                ends_at=starts + timedelta(hours=1),
                mode=BookingMode.ONLINE,
                status=BookingStatus.CONFIRMED,
                created_at=starts - timedelta(days=3),
            )
            session.add(booking)
            await session.flush()
            if recorded:
                session.add(
                    ConsultationRecord(
                        case_id=booked.id,
                        booking_id=booking.id,
                        co_id=co.id,
                        hub_id=hub.id,
                        held_on=date(2026, 5, day),
                        minutes=60,
                        issues=[],
                        created_at=starts + timedelta(hours=1),
                    )
                )
        session.add_all(
            [
                Referral(
                    case_id=case.id,
                    direction=ReferralDirection.FROM_PARTNER,
                    from_hub_id=hub.id,
                    to_organisation_id=orgs[1].id,
                    created_at=datetime(2026, 4, 20, 1, 0, tzinfo=UTC),
                ),
                Referral(
                    case_id=case.id,
                    direction=ReferralDirection.TO_PARTNER,
                    from_hub_id=hub.id,
                    to_organisation_id=None,
                    created_at=datetime(2026, 4, 21, 1, 0, tzinfo=UTC),
                ),
            ]
        )
        await session.flush()
        assert await escalate_unclaimed(session, now=now) >= 1  # the CCO, then HQ
        session.add(
            LineChannel(hub_id=hub.id, channel_id="1650000013", name="", monthly_push_budget=200)
        )
        for at, n in (
            (datetime(2026, 5, 31, 15, 30, tzinfo=UTC), 30),  # 1 June in Japan
            (datetime(2026, 5, 10, 1, 0, tzinfo=UTC), 20),
            (datetime(2026, 3, 10, 1, 0, tzinfo=UTC), 99),  # FY2025
        ):
            await count_push(session, "1650000013", now=at, n=n)
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        page = await client.get(f"/console/hubs/13/dashboard?fy={YEAR}")
        assert page.status_code == 200
        links = re.findall(r'data-list="(\w+)" href="([^"]+)">(\d+)<', page.text)
        numbers = {name: 0 for name, _href, _n in links}
        for name, href, shown in links:
            listed = await client.get(href.replace("&amp;", "&"))
            assert listed.status_code == 200
            rows = listed.text.split('id="rows"')[1].count("<tr><td>")
            assert rows == int(shown), (name, href)
            numbers[name] = max(numbers[name], int(shown))
        assert numbers["escalations"] == 2  # told the CCO, then HQ
        assert numbers["unrecorded_outcomes"] == 2  # 20 and 25 May; 21 May was recorded
        assert numbers["referrals_out"] == 2  # the year's figure 4, both partners' rows
        assert numbers["referrals_in"] == 1
        pushes = page.text.split('id="pushes"')[1].split("</table>")[0]
        assert '<th scope="row">5月</th><td>20</td><td>200</td><td>10%</td>' in pushes
        assert '<th scope="row">6月</th><td>30</td><td>200</td><td>15%</td>' in pushes
        assert "<strong>50</strong>" in pushes  # the year's: FY2025's March is not in it
        partners = page.text.split('id="partners"')[1].split("</table>")[0]
        assert "（支援機関の記録なし）" in partners
        assert (await client.get("/console/hubs/27/dashboard/lists/escalations")).status_code == 403
        assert (await client.get("/console/hubs/13/dashboard/lists/nonsense")).status_code == 404


async def test_hq_sets_a_hubs_budget_and_the_roll_up_shows_its_utilisation_audited(
    console: Console,
) -> None:
    from core.db.models import AuditLog
    from tests.integration.test_console_access import csrf_of

    hub_id = await _a_year_of_records(console)
    async with console.sessions() as session:
        expected = await hub_figures(session, hub_id=hub_id, fiscal_year=YEAR)
    async with console.client() as client:
        await console.sign_in(client, console.people["cco"])
        assert (await client.get(f"/console/national/budgets?fy={YEAR}")).status_code == 403
        refused = await client.post(f"/console/national/budgets?fy={YEAR}", data={"hub_13": "1"})
        assert refused.status_code == 403
    async with console.client() as client:
        await console.sign_in(client, console.people["hq"])
        form = await client.get(f"/console/national/budgets?fy={YEAR}")
        assert form.status_code == 200
        csrf = csrf_of(form.text)
        wrong = await client.post(
            f"/console/national/budgets?fy={YEAR}",
            data={"csrf": csrf, "hub_13": "10", "hub_27": "十"},
        )
        assert wrong.status_code == 422
        assert "何も保存していません" in wrong.text
        saved = await client.post(
            f"/console/national/budgets?fy={YEAR}", data={"csrf": csrf, "hub_13": "10"}
        )
        assert saved.status_code == 200
        assert "予算を保存しました。" in saved.text
        again = await client.post(
            f"/console/national/budgets?fy={YEAR}", data={"csrf": csrf, "hub_13": "10"}
        )
        assert "変更はありませんでした。" in again.text
        page = await client.get(f"/console/national?fy={YEAR}&sort=utilisation")
        rate = re.search(r'data-rate="13">(\d+)%', page.text)
        assert rate is not None
        assert int(rate.group(1)) == round(expected.hours / 10 * 100)
        body = page.text.split("<tbody>")[1]
        assert body.index("東京都よろず支援拠点") < body.index("大阪府よろず支援拠点")
        assert 'data-rate="27">-<' in page.text  # no budget, no rate
    async with console.sessions() as session:
        audited = (
            await session.scalars(select(AuditLog).where(AuditLog.action == "hub.budget_set"))
        ).all()
    assert [(row.hub_id, row.details) for row in audited] == [
        (hub_id, {"fiscal_year": YEAR, "before": None, "after": 10})
    ]


async def test_a_review_comment_shows_on_the_dashboard_only_once_its_co_agrees(
    console: Console,
) -> None:
    from core.db.models import AuditLog, CoReview
    from core.erasure import erase_cases
    from tests.integration.test_console_access import csrf_of

    await _a_year_of_records(console)
    async with console.sessions() as session, session.begin():
        me = await session.scalar(
            select(Coordinator).where(Coordinator.slack_user_id == console.people["co"])
        )
        case = await session.scalar(select(Case).where(Case.number == "13-2026-000901"))
        assert me is not None
        assert case is not None
        record = ConsultationRecord(
            case_id=case.id,
            co_id=me.id,
            hub_id=me.hub_id,
            held_on=date(2026, 8, 3),
            minutes=60,
            issues=[],
            created_at=datetime(2026, 8, 3, 3, 0, tzinfo=UTC),
        )
        session.add(record)
        await session.flush()
        review = CoReview(
            consultation_id=record.id,
            co_id=me.id,
            stars=5,
            comment="資金繰りの相談が分かりやすかったです",
            created_at=datetime(2026, 8, 4, 3, 0, tzinfo=UTC),
        )
        session.add(review)
        await session.flush()
        review_id, co_id, case_id = review.id, me.id, case.id
    comment = "資金繰りの相談が分かりやすかったです"
    toggle = f"/console/hubs/13/coordinators/{co_id}/reviews/{review_id}"
    async with console.client() as cco:
        await console.sign_in(cco, console.people["cco"])
        page = await cco.get(f"/console/hubs/13/dashboard?fy={YEAR}")
        assert comment not in page.text  # not agreed yet
        theirs = await cco.get(f"/console/hubs/13/coordinators/{co_id}/figures?fy={YEAR}")
        assert comment not in theirs.text
        csrf = csrf_of(page.text) if 'name="csrf"' in page.text else "x"
        assert (await cco.post(toggle, data={"csrf": csrf, "shown": "1"})).status_code == 403
        async with console.client() as co:
            await console.sign_in(co, console.people["co"])
            mine = await co.get(f"/console/hubs/13/coordinators/{co_id}/figures?fy={YEAR}")
            assert comment in mine.text  # the CO sees every comment on them
            shown = await co.post(toggle, data={"csrf": csrf_of(mine.text), "shown": "1"})
            assert shown.status_code == 303
        page = await cco.get(f"/console/hubs/13/dashboard?fy={YEAR}")
        assert comment in page.text.split('id="comments"')[1].split("</table>")[0]
        theirs = await cco.get(f"/console/hubs/13/coordinators/{co_id}/figures?fy={YEAR}")
        assert comment in theirs.text
        async with console.sessions() as session, session.begin():
            await erase_cases(session, [case_id])
        page = await cco.get(f"/console/hubs/13/dashboard?fy={YEAR}")
        assert comment not in page.text  # erased, shown or not
    async with console.sessions() as session:
        audited = (
            await session.scalars(select(AuditLog).where(AuditLog.action.like("review.%")))
        ).all()
    assert [(row.action, row.actor_id) for row in audited] == [("review.comment_shown", co_id)]
