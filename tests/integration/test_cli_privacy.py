"""`yorozu privacy`: find, export, correct and erase as the privacy officer runs them in a shell.

Plain (not async) tests: the commands run their own event loop, as they do in a shell.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.db.models import (
    AuditLog,
    Business,
    Case,
    ChannelIdentity,
    ConsentRecord,
    Hub,
    Person,
    PersonBusiness,
)
from core.db.session import unit_of_work
from core.domain.enums import CaseSource, CaseStatus, ConsentNotice, Platform
from yorozu.bootstrap import bootstrap, prepare_database
from yorozu.cli import app
from yorozu.settings import load_settings

NOW = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)
USER = "U" + "a1" * 16


async def _prepare(url: str) -> None:
    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    await prepare_database(container, demo=False)
    async with unit_of_work(container.session_factory) as session:
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        person = Person(display_name="鷲尾 澄香", family_name="鷲尾", given_name="澄香")
        person.phone, person.email = "09087654321", "sumika.washio@example.jp"
        business = Business(
            name="さくら商店", name_key="さくら商店", created_at=NOW, updated_at=NOW
        )
        session.add_all([person, business])
        await session.flush()
        session.add_all(
            [
                PersonBusiness(person_id=person.id, business_id=business.id),
                ChannelIdentity(
                    person_id=person.id,
                    platform=Platform.LINE,
                    channel_id="default",
                    external_user_id=USER,
                    created_at=NOW,
                ),
                ConsentRecord(
                    person_id=person.id,
                    notice=ConsentNotice.PRIVACY,
                    version="2026-04",
                    channel="line",
                    given_at=NOW,
                ),
                Case(
                    number="13-2026-000001",
                    hub_id=hub.id,
                    business_id=business.id,
                    person_id=person.id,
                    source=CaseSource.LINE,
                    topics=["finance"],
                    description="販路を広げたい",
                    status=CaseStatus.QUEUED,
                    created_at=NOW,
                    updated_at=NOW,
                ),
            ]
        )
    await container.aclose()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/y.db"
    asyncio.run(_prepare(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return url


async def _read(url: str) -> tuple[Person, list[str], Case]:
    container = await bootstrap(load_settings(database_url=url, redis_url=None))
    try:
        async with container.session_factory() as session:
            person = await session.scalar(select(Person))
            case = await session.scalar(select(Case))
            assert person is not None
            assert case is not None
            actions = list(await session.scalars(select(AuditLog.action).order_by(AuditLog.id)))
            return person, actions, case
    finally:
        await container.aclose()


def test_the_privacy_officer_finds_exports_corrects_and_erases(
    database: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    found = runner.invoke(app, ["privacy", "find", "--phone", "090-8765-4321"])
    assert found.exit_code == 0, found.output
    assert "鷲尾 澄香" in found.output
    assert "13-2026-000001" in found.output
    assert "phone" in found.output
    by_name = runner.invoke(
        app, ["privacy", "find", "--name", "鷲尾澄香", "--business", "㈱さくら商店"]
    )
    assert "name_business" in by_name.output, by_name.output
    alone = runner.invoke(app, ["privacy", "find", "--name", "鷲尾 澄香"])
    assert alone.exit_code == 2
    assert "事業者名" in alone.output

    out = tmp_path / "export"
    exported = runner.invoke(app, ["privacy", "export", "1", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    data = json.loads((out / "person-1.json").read_text(encoding="utf-8"))
    assert data["consents"][0]["version"] == "2026-04"
    assert data["cases"][0]["description"] == "販路を広げたい"
    page = (out / "person-1.html").read_text(encoding="utf-8")
    assert "保有個人データの開示" in page
    assert "販路を広げたい" in page

    wrong = runner.invoke(app, ["privacy", "correct", "1", "--phone", "12"])
    assert wrong.exit_code == 1
    assert "電話番号" in wrong.output
    right = runner.invoke(app, ["privacy", "correct", "1", "--email", "s.washio@example.jp"])
    assert right.exit_code == 0, right.output
    assert "email" in right.output

    dry = runner.invoke(app, ["privacy", "erase", "1", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would change\tpersons\t1 row(s)\t1" in dry.output
    assert "would change\tcases\t1 row(s)" in dry.output
    person, _actions, case = asyncio.run(_read(database))
    assert person.erased_at is None
    assert case.description == "販路を広げたい"

    refused = runner.invoke(app, ["privacy", "erase", "1"], input="n\n")
    assert refused.exit_code != 0
    erased = runner.invoke(app, ["privacy", "erase", "1", "--yes"])
    assert erased.exit_code == 0, erased.output
    assert "Slack message(s) queued" in erased.output
    person, actions, case = asyncio.run(_read(database))
    assert person.erased_at is not None
    assert (person.display_name, person.phone, person.email) == (None, None, None)
    assert case.description is None
    assert actions == [
        "privacy.found",
        "privacy.found",
        "privacy.exported",
        "privacy.corrected",
        "privacy.erase_previewed",
        "person.erased",
        "privacy.erased",
    ]
