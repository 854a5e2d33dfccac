"""The App Home reads naturally: no 担当して0分, no 5時間0分, days written 6月3日(水)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from bots.slack.home import render_home, waiting_text
from core.coordinators.home import CaseLine, CoordinatorHome, FollowUpLine
from core.domain.enums import CaseStatus
from core.i18n import Catalog

NOW = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)  # Tuesday 10:00 in Tokyo


def test_waiting_times_drop_zero_parts_and_never_say_zero_minutes() -> None:
    catalog = Catalog.load()
    shown = {
        delta: waiting_text(delta, catalog, "ja")
        for delta in (
            timedelta(seconds=20),
            timedelta(minutes=20),
            timedelta(hours=5),
            timedelta(hours=5, minutes=3),
            timedelta(days=2),
            timedelta(days=2, hours=4),
        )
    }
    assert list(shown.values()) == ["1分未満", "20分", "5時間", "5時間3分", "2日", "2日4時間"]


def test_a_case_just_taken_and_a_follow_up_read_naturally() -> None:
    home = CoordinatorHome(
        co_id=1,
        co_name="田中 誠",
        hub_id=1,
        hub_name="東京都よろず支援拠点",
        today=date(2026, 6, 2),
        my_cases=(
            CaseLine(1, "13-2026-000001", "山田製作所", CaseStatus.CLAIMED, NOW, timedelta(0)),
            CaseLine(2, "13-2026-000002", "川口商店", CaseStatus.CLAIMED, NOW, timedelta(hours=3)),
        ),
        today_consultations=(),
        upcoming_consultations=(),
        queue=(),
        queue_total=0,
        follow_ups=(FollowUpLine(3, "13-2026-000003", "海野食堂", date(2026, 6, 3), False),),
        reviews=(),
    )
    shown = json.dumps(render_home(home, Catalog.load(), NOW)["blocks"], ensure_ascii=False)
    assert "担当して0分" not in shown
    assert "*13-2026-000001*｜山田製作所｜担当決定｜担当したばかり" in shown
    assert "*13-2026-000002*｜川口商店｜担当決定｜担当して3時間" in shown
    assert "*6月3日(水)*｜13-2026-000003｜海野食堂" in shown
