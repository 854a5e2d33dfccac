"""A queue card follows its case through every state, and a button that no longer applies
is answered, only to whoever pressed it, beside the card (chat.postEphemeral).

Through the real Bolt app, worker and dispatcher against the Slack stand-in (the harness
of test_slack_queue.py); some steps go through the core's own commands (a booking, an
outcome) as the modals would. Every assertion is on what the stand-in holds: the card's
text and buttons as a CO sees them, and the ephemerals.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from core.coordinators.actions import hand_back, record_outcome, transfer_case
from core.coordinators.booking import book_consultation
from core.coordinators.outcome import Outcome
from core.db.models import Coordinator, CoWeeklyAvailability, InboxEvent
from core.db.session import unit_of_work
from core.domain.enums import BookingMode, NextStep
from tests.integration.test_slack_queue import (
    HQ_CHANNEL,
    HUB_CHANNEL,
    PARTNER_USER,
    Harness,
    co_user,
    container,
    harness,
    slack_api,
    slack_server,
    world,
)

__all__ = ["container", "harness", "slack_api", "slack_server", "world"]  # shared fixtures

THURSDAY_14_JST = datetime(2026, 6, 4, 5, 0, tzinfo=UTC)


def shown(harness: Harness) -> tuple[dict[str, str], list[str]]:
    """The hub card as it is now in Slack: {label: value} of its fields, and its buttons."""
    (card,) = harness.slack.recorder.messages_in(HUB_CHANNEL)
    current = harness.slack.message(HUB_CHANNEL, card.ts)
    assert current is not None
    fields: dict[str, str] = {}
    buttons: list[str] = []
    for block in current.blocks or []:
        for field in block.get("fields", []):
            label, _, value = field["text"].partition("\n")
            fields[label.strip("*")] = value
        if block["type"] == "actions":
            buttons += [e["text"]["text"] for e in block["elements"]]
    return fields, buttons


def button_value(harness: Harness, label: str) -> str:
    (card,) = harness.slack.recorder.messages_in(HUB_CHANNEL)
    current = harness.slack.message(HUB_CHANNEL, card.ts)
    assert current is not None
    return next(
        e["value"]
        for b in current.blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
        if e["text"]["text"] == label
    )


async def inbox_rows(harness: Harness) -> int:
    async with harness.factory() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


async def step(harness: Harness) -> None:
    await harness.work()
    await harness.deliver()


def outcome(next_step: NextStep, follow_up_on: date | None = None) -> Outcome:
    return Outcome(
        held_on=date(2026, 6, 4),
        minutes=60,
        issues=("finance",),
        advice_summary=None,
        result_confirmed=False,
        referral_org_id=None,
        referral_reason=None,
        co_attending_org_id=None,
        phase=1,
        next_step=next_step,
        follow_up_on=follow_up_on,
    )


async def test_the_card_follows_one_case_through_every_state(
    harness: Harness, world: dict[str, int]
) -> None:
    case_id = world["case"]
    fields, buttons = shown(harness)
    assert fields["状況"] == "担当者を待っています"
    assert fields["受付日時"] == "6月2日(火) 10:00"
    assert buttons == ["担当する", "割り当て", "他拠点・本部へ"]

    # Claimed: by whom and since when (Japan time), and what the CO does next.
    await harness.click(co_user(1), f"case.claim&c={case_id}")
    await harness.until(lambda: len(harness.submitted) == 1, "claim stored")
    await step(harness)
    fields, buttons = shown(harness)
    assert fields["状況"] == "担当者が決まりました（相談日は未定）"
    assert fields["担当"] == "担当01（6月2日(火) 10:00から担当）"
    assert fields["次の対応"].startswith("担当01さん：相談者の方と日程を決めて「予約を入れる」")
    assert buttons == [
        "予約を入れる",
        "相談結果を記録",
        "支援機関へ橋渡し",
        "他拠点に相談",
        "割り当て",
    ]

    # Booked: the date and the CO; nothing more to book.
    async with unit_of_work(harness.factory) as session:
        co = await session.scalar(select(Coordinator).where(Coordinator.name == "担当01"))
        assert co is not None
        session.add_all(
            CoWeeklyAvailability(
                co_id=co.id,
                weekday=d,
                start_time=time(10),
                end_time=time(16),
                mode=BookingMode.VISIT,
            )
            for d in range(5)
        )
    async with unit_of_work(harness.factory) as session:
        await book_consultation(
            session,
            case_id,
            co.id,
            starts_at=THURSDAY_14_JST,
            mode=BookingMode.VISIT,
            now=harness.clock.now(),
        )
    await harness.deliver()
    fields, buttons = shown(harness)
    assert fields["状況"] == "相談の予約が入っています"
    assert fields["相談日時"] == "6月4日(木) 14:00〜15:00（来所）"
    assert fields["次の対応"].startswith("担当01さん：相談のあと「相談結果を記録」")
    assert buttons == ["相談結果を記録", "支援機関へ橋渡し", "他拠点に相談", "割り当て"]

    # Consulted: the outcome is on the card; the next consultation can be booked.
    harness.clock.advance(timedelta(days=2, hours=6))
    async with unit_of_work(harness.factory) as session:
        await record_outcome(
            session,
            case_id,
            co.id,
            outcome(NextStep.FOLLOW_UP, date(2026, 7, 2)),
            now=harness.clock.now(),
        )
    await harness.deliver()
    fields, buttons = shown(harness)
    assert fields["状況"] == "相談済み・支援を続けています"
    assert (
        fields["相談結果"] == "6月4日(木)に相談（結果を記録済み）、7月2日(木)にフォローアップ予定"
    )
    assert "相談日時" not in fields
    assert buttons[0] == "予約を入れる"

    # Handed back: the partner, then whether they accepted.
    async with unit_of_work(harness.factory) as session:
        await hand_back(session, case_id, co.id, world["org"], "記帳指導", now=harness.clock.now())
    await harness.deliver()
    fields, _ = shown(harness)
    assert fields["状況"] == "支援機関へ橋渡ししました"
    assert fields["橋渡し"] == "八王子商工会（受け入れ待ち）"
    (request,) = harness.slack.recorder.messages_in("C0SHOKOKAI")
    accept = next(
        e["value"] for b in request.blocks or [] if b["type"] == "actions" for e in b["elements"]
    )
    await harness.click(PARTNER_USER, accept)
    await harness.until(lambda: len(harness.submitted) == 2, "acceptance stored")
    await step(harness)
    fields, _ = shown(harness)
    assert fields["橋渡し"] == "八王子商工会が受け入れました"

    # Closed: the day it closed, and no buttons left.
    async with unit_of_work(harness.factory) as session:
        await record_outcome(
            session, case_id, co.id, outcome(NextStep.CLOSE), now=harness.clock.now()
        )
    await harness.deliver()
    fields, buttons = shown(harness)
    assert fields["状況"] == "6月4日(木)に完了しました"
    assert fields["相談結果"] == "6月4日(木)に相談（結果を記録済み）、完了"
    assert fields["担当"] == "担当01（6月2日(火) 10:00から担当）"
    assert "次の対応" not in fields
    assert buttons == []
    updates = harness.slack.recorder.updates_in(HUB_CHANNEL)
    assert len(updates) == 6  # claimed, booked, consulted, handed back, accepted, closed


async def test_a_button_that_no_longer_applies_is_explained_to_who_pressed_it(
    harness: Harness, world: dict[str, int]
) -> None:
    case_id = world["case"]
    claim = f"case.claim&c={case_id}"
    await harness.click(co_user(1), claim)
    await harness.until(lambda: len(harness.submitted) == 1, "claim stored")
    await step(harness)

    # Another CO's screen still shows 担当する: they are told, beside the card, by whom.
    rows = await inbox_rows(harness)
    await harness.click(co_user(2), claim)
    await harness.until(
        lambda: harness.slack.recorder.ephemerals_for(co_user(2)), "ephemeral answer"
    )
    (told,) = harness.slack.recorder.ephemerals_for(co_user(2))
    assert told.channel == HUB_CHANNEL
    assert told.text == "受付番号 13-2026-000001 は、すでに担当01さんが担当しています。"
    assert await inbox_rows(harness) == rows  # nothing to do, nothing stored
    await harness.deliver()
    assert harness.dms(co_user(2)) == []  # no DM far from the card
    assert harness.slack.recorder.ephemerals_for(co_user(1)) == []

    # Another CO presses 相談結果を記録 on a case that is not theirs: no modal, a reason.
    await harness.click(co_user(3), button_value(harness, "相談結果を記録"))
    await harness.until(
        lambda: harness.slack.recorder.ephemerals_for(co_user(3)), "ephemeral answer"
    )
    assert harness.slack.recorder.views_opened_for(co_user(3)) == []
    assert [e.text for e in harness.slack.recorder.ephemerals_for(co_user(3))] == [
        "受付番号 13-2026-000001 は、すでに担当01さんが担当しています。"
    ]

    # Once the case is closed, its holder's old buttons say so.
    stale_outcome = button_value(harness, "相談結果を記録")
    async with unit_of_work(harness.factory) as session:
        co = await session.scalar(select(Coordinator).where(Coordinator.name == "担当01"))
        assert co is not None
        await record_outcome(
            session, case_id, co.id, outcome(NextStep.CLOSE), now=harness.clock.now()
        )
    await harness.deliver()
    await harness.click(co_user(1), stale_outcome)
    await harness.until(
        lambda: harness.slack.recorder.ephemerals_for(co_user(1)), "ephemeral answer"
    )
    assert [e.text for e in harness.slack.recorder.ephemerals_for(co_user(1))] == [
        "受付番号 13-2026-000001 はすでに完了しているため、この操作はできません。"
    ]
    assert harness.slack.recorder.views_opened_for(co_user(1)) == []


async def test_a_transferred_case_leaves_a_card_that_says_where_it_went(
    harness: Harness, world: dict[str, int]
) -> None:
    async with unit_of_work(harness.factory) as session:
        co = await session.scalar(select(Coordinator).where(Coordinator.name == "担当04"))
        assert co is not None
        await transfer_case(session, world["case"], "00", by_co_id=co.id, now=harness.clock.now())
    await harness.deliver()
    fields, buttons = shown(harness)
    assert fields["状況"] == "6月2日(火) 10:00によろず支援拠点全国本部へ移管しました"
    assert buttons == []
    (hq_card,) = harness.slack.recorder.messages_in(HQ_CHANNEL)
    assert "状況: 担当者を待っています" in (hq_card.text or "")

    # The old card's claim button, pressed from a stale screen in hub 13.
    await harness.click(co_user(5), f"case.claim&c={world['case']}")
    await harness.until(
        lambda: harness.slack.recorder.ephemerals_for(co_user(5)), "ephemeral answer"
    )
    assert [e.text for e in harness.slack.recorder.ephemerals_for(co_user(5))] == [
        "受付番号 13-2026-000001 はほかの拠点へ移管されたため、この操作はできません。"
    ]
