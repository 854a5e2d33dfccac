"""`yorozu admin`: the break-glass first HQ admin and the CO import, as a script runs them.

Plain (not async) tests: the commands run their own event loop, as they do in a shell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.db.models import AuditLog, Coordinator, Hub
from integrations.standins.server import ServerThread
from integrations.standins.slack_api import create_slack_api
from yorozu.bootstrap import bootstrap, prepare_database
from yorozu.cli import app
from yorozu.settings import DEV_SLACK_BOT_TOKEN, load_settings


async def _prepare(url: str) -> None:
    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    await prepare_database(container, demo=False)
    await container.aclose()


@pytest.fixture(scope="module")
def slack_api() -> Iterator[str]:
    """Slack as the commands ask it (users.info), strict: unknown ids are user_not_found."""
    standin = create_slack_api([DEV_SLACK_BOT_TOKEN], strict=True)
    for user in ("U0FIRST001", "U0AOKI0001", "U0ISHII001"):
        standin.add_user(user, user.lower())
    server = ServerThread(standin.app).start()
    yield server.url + "/api/"
    server.stop()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack_api: str) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/y.db"
    asyncio.run(_prepare(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SLACK_API_BASE_URL", slack_api)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return url


def _rows(url: str) -> tuple[list[Coordinator], list[str], list[str]]:
    return asyncio.run(_read(url))


async def _read(url: str) -> tuple[list[Coordinator], list[str], list[str]]:
    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    try:
        async with container.session_factory() as session:
            cos = list((await session.scalars(select(Coordinator).order_by(Coordinator.id))).all())
            actions = list((await session.scalars(select(AuditLog.action))).all())
            hubs = [
                str(await session.scalar(select(Hub.code).where(Hub.id == co.hub_id))) for co in cos
            ]
            return cos, actions, hubs
    finally:
        await container.aclose()


def test_create_hq_makes_the_first_admin_once(database: str) -> None:
    runner = CliRunner()
    first = runner.invoke(
        app, ["admin", "create-hq", "--slack-user", "U0FIRST001", "--team", "T01"]
    )
    assert first.exit_code == 0, first.output
    assert "HQ admin created" in first.output
    again = runner.invoke(
        app, ["admin", "create-hq", "--slack-user", "U0FIRST001", "--team", "T01"]
    )
    assert again.exit_code == 0
    assert "HQ admin kept" in again.output


def test_the_first_admin_is_an_hq_coordinator_routing_never_assigns(database: str) -> None:
    result = CliRunner().invoke(
        app, ["admin", "create-hq", "--slack-user", "U0FIRST001", "--team", "T01"]
    )
    assert result.exit_code == 0, result.output
    cos, actions, hubs = _rows(database)
    [admin] = cos
    assert (admin.console_admin, admin.capacity, admin.slack_team_id) == (True, 0, "T01")
    assert hubs == ["00"]
    assert actions == ["console.hq_admin_created"]


def test_import_cos_checks_with_dry_run_and_writes_only_a_clean_sheet(
    database: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "cos.csv"
    sheet.write_text(
        "氏名,役割,専門分野,SlackユーザーID,相談可能時間\n"
        "青木 一郎,コーディネーター,販路開拓,U0AOKI0001,月 09:00-12:00\n"
        "石井 二美,所長,創業,U0ISHII001,\n",
        encoding="utf-8-sig",
    )
    runner = CliRunner()
    broken = runner.invoke(app, ["admin", "import-cos", str(sheet), "--hub", "13", "--dry-run"])
    assert broken.exit_code == 1
    assert (
        "line 3\trole\t役割は「コーディネーター」か「チーフコーディネーター」です。"
        in broken.output
    )
    assert _rows(database)[0] == []

    sheet.write_text(sheet.read_text(encoding="utf-8-sig").replace("所長", "CCO"), "cp932")
    checked = runner.invoke(app, ["admin", "import-cos", str(sheet), "--hub", "13", "--dry-run"])
    assert checked.exit_code == 0, checked.output
    assert "would write 2 coordinator(s)" in checked.output
    assert _rows(database)[0] == []
    written = runner.invoke(app, ["admin", "import-cos", str(sheet), "--hub", "13"])
    assert written.exit_code == 0, written.output
    cos, actions, _hubs = _rows(database)
    assert [(co.name, co.role.value) for co in cos] == [("青木 一郎", "co"), ("石井 二美", "cco")]
    assert actions.count("coordinator.imported") == 2
    listed = runner.invoke(app, ["admin", "list", "--hub", "13"])
    assert "U0AOKI0001\t青木 一郎" in listed.output

    deactivated = runner.invoke(app, ["admin", "deactivate", str(cos[0].id)])
    assert deactivated.exit_code == 0, deactivated.output
    assert (
        f"coordinator {cos[0].id} deactivated; cases back in the queue: none" in deactivated.output
    )
    listed = runner.invoke(app, ["admin", "list", "--hub", "13"])
    assert f"{cos[0].id}\tco\tinactive" in listed.output
    again = runner.invoke(app, ["admin", "deactivate", str(cos[0].id)])
    assert "nothing changed" in again.output
    back = runner.invoke(app, ["admin", "deactivate", str(cos[0].id), "--reactivate"])
    assert "is active again" in back.output


async def _profiles(url: str) -> dict[str, tuple[str | None, str | None, dict[str, object]]]:
    from core.db.models import HubProfile

    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    try:
        async with container.session_factory() as session:
            rows = (
                await session.execute(
                    select(Hub.code, HubProfile.phone, HubProfile.address, HubProfile.opening_hours)
                    .join(HubProfile, HubProfile.hub_id == Hub.id)
                    .order_by(Hub.code)
                )
            ).all()
            return {code: (phone, address, hours) for code, phone, address, hours in rows}
    finally:
        await container.aclose()


def test_import_hub_info_checks_every_row_first_and_keeps_columns_not_in_the_sheet(
    database: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "hubs.csv"
    sheet.write_text(
        "拠点コード,住所,電話番号,月曜日\n"
        "13,東京都千代田区丸の内一丁目1-1,03-1234-5678,9:00-17:00\n"
        "27,大阪府大阪市中央区本町1-1,06-1234,9:00-17:00\n"
        "99,どこか,03-1234-5678,\n",
        encoding="utf-8-sig",
    )
    runner = CliRunner()
    wrong = runner.invoke(app, ["admin", "import-hub-info", str(sheet)])
    assert wrong.exit_code == 1
    assert "line 3\tinfo_phone\t電話番号として読めませんでした" in wrong.output
    assert "line 4\tcode\t拠点コード「99」の拠点はありません" in wrong.output
    assert "nothing written" in wrong.output
    assert asyncio.run(_profiles(database)) == {}

    sheet.write_text(
        "拠点コード,住所,電話番号,月曜日\n"
        "13,東京都千代田区丸の内一丁目1-1,03-1234-5678,9:00-17:00\n"
        "27,大阪府大阪市中央区本町1-1,06-6123-4567,\n",
        encoding="utf-8-sig",
    )
    dry = runner.invoke(app, ["admin", "import-hub-info", str(sheet), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert asyncio.run(_profiles(database)) == {}
    done = runner.invoke(app, ["admin", "import-hub-info", str(sheet)])
    assert done.exit_code == 0, done.output
    assert "wrote the information of 2 hub(s)" in done.output
    # A later sheet with only the phone column keeps the address and hours.
    sheet.write_text("code,phone\n13,03-9876-5432\n", encoding="utf-8")
    assert runner.invoke(app, ["admin", "import-hub-info", str(sheet)]).exit_code == 0
    profiles = asyncio.run(_profiles(database))
    assert profiles["13"] == (
        "+81398765432",
        "東京都千代田区丸の内一丁目1-1",
        {"0": [["09:00", "17:00"]]},
    )
    assert profiles["27"] == ("+81661234567", "大阪府大阪市中央区本町1-1", {})
    _cos, actions, _hubs = _rows(database)
    assert actions.count("hub.settings_changed") == 3


def test_a_slack_id_slack_does_not_know_is_refused_by_create_hq_and_import_cos(
    database: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    nobody = runner.invoke(
        app, ["admin", "create-hq", "--slack-user", "U0NOBODY01", "--team", "T01"]
    )
    assert nobody.exit_code == 1
    assert "SlackにユーザーID「U0NOBODY01」の方が見つかりませんでした" in nobody.output
    sheet = tmp_path / "cos.csv"
    sheet.write_text("氏名,SlackユーザーID\n青木 一郎,U0AOKI0001\n谷 未知,U0NOBODY02\n", "utf-8")
    checked = runner.invoke(app, ["admin", "import-cos", str(sheet), "--hub", "13", "--dry-run"])
    assert checked.exit_code == 1
    assert "line 3\tslack_user_id\tSlackにユーザーID「U0NOBODY02」の方が見つかりませんでした" in (
        checked.output
    )
    assert _rows(database)[0] == []


async def _add_staff(url: str) -> int:
    from core.db.models import PartnerOrganisation, PartnerStaff
    from core.domain.organisations import OrganisationKind

    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    try:
        async with container.session_factory() as session, session.begin():
            org = PartnerOrganisation(name="テスト町商工会", kind=OrganisationKind.SHOKOKAI)
            session.add(org)
            await session.flush()
            staff = PartnerStaff(organisation_id=org.id, name="森 一樹", slack_user_id="U0MORI0001")
            session.add(staff)
            await session.flush()
            return staff.id
    finally:
        await container.aclose()


async def _staff_known(url: str) -> bool:
    from core.staff import resolve_slack_user

    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    try:
        async with container.session_factory() as session:
            return await resolve_slack_user(session, "default", "U0MORI0001") is not None
    finally:
        await container.aclose()


def test_deactivate_staff_keeps_them_listed_and_slack_stops_knowing_them(database: str) -> None:
    staff_id = asyncio.run(_add_staff(database))
    assert asyncio.run(_staff_known(database))
    runner = CliRunner()
    done = runner.invoke(app, ["admin", "deactivate", str(staff_id), "--staff"])
    assert done.exit_code == 0, done.output
    assert f"staff member {staff_id} deactivated" in done.output
    assert not asyncio.run(_staff_known(database))
    listed = runner.invoke(app, ["admin", "list", "--organisation", "1"])
    assert f"{staff_id}\tstaff\tinactive\tU0MORI0001\t森 一樹" in listed.output
    assert (
        "nothing changed"
        in runner.invoke(app, ["admin", "deactivate", str(staff_id), "--staff"]).output
    )
    back = runner.invoke(app, ["admin", "deactivate", str(staff_id), "--staff", "--reactivate"])
    assert "active again" in back.output
    assert asyncio.run(_staff_known(database))
    _cos, actions, _hubs = _rows(database)
    assert actions.count("partner_staff.deactivated") == 1
