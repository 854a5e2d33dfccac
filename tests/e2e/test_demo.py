"""`yorozu demo`: the whole story runs, its timeline says what happened, and a step that did
not happen makes it fail.

The demo drives the real service (webhooks, worker, dispatcher, scheduler jobs, LINE and Slack
stand-ins on local ports); these tests read only its printed timeline and its exit code, as a
person running the command would.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from core.i18n import Catalog
from yorozu.cli import app
from yorozu.demo.story import OWNER_LINE_ID, STEPS, BeforeStep, demo_overrides, tell
from yorozu.demo.world import World
from yorozu.settings import load_settings

CATALOG = Catalog.load()


def label(step: str, lang: str = "ja") -> str:
    return CATALOG.text(f"demo.step.{step}", lang)


async def run(
    tmp_path: Path, lang: str, before_step: BeforeStep | None = None
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    settings = load_settings(**demo_overrides(tmp_path / "demo.db"))
    code = await tell(settings, lang=lang, out=out, err=err, before_step=before_step)
    return code, out.getvalue(), err.getvalue()


def section(timeline: str, step: str, lang: str = "ja") -> str:
    """The lines a step printed: after the previous ✓ line, up to its own."""
    end = timeline.index(f"✓ {label(step, lang)}")
    previous = timeline.rfind("✓ ", 0, end)
    start = timeline.index("\n", previous) + 1 if previous >= 0 else 0
    return timeline[start:end]


async def test_the_whole_story_in_japanese(tmp_path: Path) -> None:
    code, timeline, errors = await run(tmp_path, "ja")

    assert code == 0, errors + timeline
    assert errors == ""
    done = [line for line in timeline.splitlines() if line.startswith("✓ ")]
    assert done == [f"✓ {label(step)}" for step, _ in STEPS]
    assert timeline.rstrip().endswith(f"すべてのステップ（{len(STEPS)}件）が実行されました。")

    # Times are Japan time, starting Monday 1 June 2026 at 10:00.
    assert timeline.splitlines()[2].startswith("6月1日(月) 10:00")
    follow = section(timeline, "follow")
    assert "山田 花子 → 友だち追加" in follow
    assert "友だち追加ありがとうございます" in follow
    assert "「同意する」をタップ" in follow

    intake = section(timeline, "intake")
    assert "受付番号は「13-2026-000001」です" in intake
    assert "#yorozu-13-intake「新規相談 13-2026-000001" in intake

    handover = section(timeline, "handover")
    assert "石井 直子 → ショートカット「よろずに引き継ぐ」" in handover
    assert (
        "#yorozu-13-intake「新規相談 13-2026-000002 / 状況: 担当者を待っています / 事業者: 有限会社"
        in handover
    )
    assert "DM → 石井 直子「「有限会社みなみ製麺」の引き継ぎを受け付けました" in handover

    claim = section(timeline, "claim")
    assert "佐藤 健一 → 案件 13-2026-000001 のカードで「担当する」をクリック" in claim
    assert "高橋 浩二 → 案件 13-2026-000002 のカードで「担当する」をクリック" in claim
    assert "DM → 石井 直子「案件 13-2026-000002（有限会社みなみ製麺）の担当が 高橋 浩二" in claim

    booked = section(timeline, "owner_books")
    assert "ご予約を承りました" in booked
    assert "ご予約内容：6月3日(水) 11:00〜12:00" in booked  # the flex card's alt text
    # The card in Slack, updated in place (the timeline clips it; the full card is checked in
    # tests/integration/test_card_states.py).
    assert (
        "（更新）「新規相談 13-2026-000001 / 状況: 相談の予約が入っています / 相談日時: 6" in booked
    )

    assert "状況: 相談の予約が入っています / 相談日時: 6" in section(timeline, "co_books")

    reminders = section(timeline, "reminders")
    assert (
        "6月2日(火) 10:00    LINE   よろず支援拠点 → 山田 花子「明日はご相談のご予約日です"
        in reminders
    )
    assert (
        "6月3日(水) 09:00    LINE   よろず支援拠点 → 山田 花子「本日 11:00 からご相談のご予約です"
        in reminders
    )
    assert "「予約を確認」をタップ" in reminders

    held = section(timeline, "consultations")
    assert "60分、課題2件、成果確認あり、終了" in held
    assert "90分、課題3件、東京信用保証協会へ紹介、八王子商工会議所が同席、終了" in held
    assert "#東京信用保証協会「よろず支援拠点からのご依頼 13-2026-000002" in held

    survey = section(timeline, "survey")
    assert survey.strip().startswith("6月4日(木) 10:00")
    assert "［大変満足 | 満足 | 普通 | 不満 | 大変不満］" in survey
    assert "山田 花子 → 「大変満足」をタップ" in survey
    assert "担当した佐藤 健一コーディネーターの対応はいかがでしたか" in survey
    assert "山田 花子 → 「★★★★★」をタップ" in survey

    followup = section(timeline, "followup")
    assert "7月1日(水) 10:00" in followup
    assert "創業から3か月が経ちました" in followup
    assert "山田 花子 → 「相談したい」をタップ" in followup
    assert (
        "#yorozu-13-intake「新規相談 13-2026-000003 / 状況: 担当者を待っています / 事業者: 花やま"
        in followup
    )
    assert "DM → 佐藤 健一「【フォローアップ】" in followup

    figures = section(timeline, "figures")
    assert "東京都よろず支援拠点　2026年度の8指標" in figures
    rows = dict(re.findall(r"\d\. (\S+)\s+(\S+)\n", figures))
    assert rows == {
        "名寄せ後の事業者数": "2",
        "相談実績件数": "2",
        "成果確認件数": "1",
        "他の支援機関へ紹介した件数": "1",
        "連携・同席して支援した件数": "1",
        "課題設定件数": "2",
        "相談対応件数": "5",
        "相談対応時間": "2.5時間",
    }
    assert "満足度  100%" in figures


def test_the_command_in_english_leaves_nothing_behind(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": "sqlite:///var/not-this-one.db", "LOG_LEVEL": "INFO"}
    result = subprocess.run(
        [sys.executable, "-m", "yorozu.cli", "demo", "--lang", "en"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 0, result.stderr + result.stdout
    timeline = result.stdout
    done = [line for line in timeline.splitlines() if line.startswith("✓ ")]
    assert done == [f"✓ {label(step, 'en')}" for step, _ in STEPS]
    assert timeline.splitlines()[2].startswith("Mon 1 Jun 10:00")
    # The owner reads English on LINE; coordinators and partner staff stay in Japanese.
    assert "Your case number is 13-2026-000001." in timeline
    assert "山田 花子 → taps “Very satisfied”" in timeline
    assert "It has been 3 months since you started your business." in timeline
    assert "  2. Consultations held" in timeline
    assert "Satisfaction  100%" in timeline
    assert timeline.rstrip().endswith(f"All {len(STEPS)} steps happened.")
    assert "INFO" not in result.stderr  # the service's logs stay quiet
    assert list(tmp_path.iterdir()) == []  # no ./var, no database, no .env read or written


async def test_a_step_that_does_not_happen_fails_the_demo(tmp_path: Path) -> None:
    def block_before_the_survey(step: str, world: World) -> None:
        # The owner blocks the account on her phone: LINE accepts the survey push but
        # delivers nothing, exactly as the real API does.
        if step == "survey":
            world.platforms.line.block(OWNER_LINE_ID)

    code, timeline, errors = await run(tmp_path, "ja", block_before_the_survey)

    assert code == 1
    assert f"✗ {label('survey')}: 満足度アンケートが 山田 花子 に届きませんでした" in errors
    done = [line for line in timeline.splitlines() if line.startswith("✓ ")]
    ids = [step for step, _ in STEPS]
    assert done == [f"✓ {label(step)}" for step in ids[: ids.index("survey")]]
    assert label("figures") not in timeline


def test_bad_options_exit_with_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["demo", "--lang", "fr"]).exit_code == 2
    taken = tmp_path / "taken.db"
    taken.write_bytes(b"")
    result = runner.invoke(app, ["demo", "--keep", str(taken)])
    assert result.exit_code == 2
    assert taken.read_bytes() == b""
