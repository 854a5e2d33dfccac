"""APPI requests handled by the operator (issue 18): find, export, correct, erase with a dry run.

The person is as rich as the product makes one: a partner handed their business over through
the Slack form (its contact: their name, phone and e-mail; its card and the staff's DM in
Slack), then they came on LINE themselves, consented, did the intake, booked a consultation
that is still to come, wrote to the hub (relayed to the card's thread), answered a survey with
a comment, and a CO wrote about them in a DM. The privacy officer finds them by phone, looks
at what an erasure would change, exports, then erases. Afterwards a scan of every table and
column and of everything the LINE and Slack stand-ins hold finds none of their identifiers,
the Slack messages were edited in place, the booking is cancelled with the CO told, and the
eight figures and satisfaction read as before. Both backends.
"""

# The world and its fixtures are test_erasure's, imported by name: pytest finds fixtures in
# the module's namespace, and every test here takes them as parameters of the same name.
# ruff: noqa: F811

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.slack.home import refresh_homes
from core.clock import ManualClock
from core.db.models import (
    AuditLog,
    Booking,
    Case,
    Coordinator,
    OutboxMessage,
    Person,
    PersonBusiness,
    Survey,
)
from core.db.session import unit_of_work
from core.domain.enums import (
    BookingStatus,
    CaseStatus,
    OutboxStatus,
    Platform,
    SurveyKind,
    SurveyStatus,
)
from core.i18n import Catalog, Text
from core.messages import OutgoingMessage
from core.outbox import store as outbox
from core.partners.handover import RawHandover, hand_over, validate_handover
from core.privacy import requests
from core.privacy.correct import Correction, correct_person
from core.privacy.export import render_html
from core.privacy.find import BadQuery, Query
from core.privacy.slack import SlackAction, SlackErasure
from integrations.standins import LineApiStandin, ServerThread, SlackApiStandin
from tests.integration.test_erasure import (  # noqa: F401  (fixtures)
    EMAIL,
    NAME,
    OWNER_TRACES,
    PHONE,
    Lives,
    aggregates,
    container,
    dispatcher,
    line_api,
    line_server,
    live,
    settle,
    slack_api,
    slack_server,
)
from tests.pii_scan import scan_database, scan_everything
from yorozu.bootstrap import Container
from yorozu.dispatcher import Dispatcher
from yorozu.settings import DEV_SLACK_BOT_TOKEN

PARTNER_NOTE = "鷲尾さんは来月から新店舗、連絡は携帯090-8765-4321へ"
TRACES = (*OWNER_TRACES, NAME, PHONE, EMAIL, "来月から新店舗")
OPERATOR = requests.Operator(via="test")


async def handed_over_then_on_line(
    container: Container, dispatcher: Dispatcher, line_api: LineApiStandin, clock: ManualClock
) -> tuple[Lives, int]:
    """A partner's hand-over of the business (case since closed), then the owner on LINE."""
    sessions = container.session_factory
    from core.db.models import PartnerStaff

    async with unit_of_work(sessions) as session:
        staff = await session.scalar(select(PartnerStaff).order_by(PartnerStaff.id).limit(1))
        assert staff is not None
        checked = validate_handover(
            RawHandover(
                business_name="さくら商店",
                prefecture="13",
                municipality="渋谷区",
                contact_name=NAME,
                phone="090-8765-4321",
                email=EMAIL,
                topics=("sales_channels",),
                description=PARTNER_NOTE,
                urgency="normal",
                owner_consented=True,
            )
        )
        assert checked.form is not None, checked.errors
        outcome = await hand_over(session, checked.form, staff_id=staff.id, now=clock.now())
    await settle(container, dispatcher)
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(Case)
            .where(Case.id == outcome.case_id)
            .values(status=CaseStatus.CLOSED, closed_at=clock.now())
        )
    clock.advance(timedelta(days=1))
    lives = await live(container, dispatcher, line_api, clock)
    return lives, outcome.case_id


@pytest.fixture
async def rich(
    container: Container, dispatcher: Dispatcher, line_api: LineApiStandin, clock: ManualClock
) -> tuple[Lives, int]:
    return await handed_over_then_on_line(container, dispatcher, line_api, clock)


async def test_the_operator_finds_exports_previews_and_erases_a_person_everywhere(
    container: Container,
    dispatcher: Dispatcher,
    rich: tuple[Lives, int],
    clock: ManualClock,
    line_api: LineApiStandin,
    slack_api: SlackApiStandin,
    engine: AsyncEngine,
) -> None:
    lives, partner_case = rich
    sessions = container.session_factory
    needles = (*TRACES, lives.owner.user_id)
    async with sessions() as session:
        contact = await session.scalar(select(Case.person_id).where(Case.id == partner_case))
        numbers = dict((await session.execute(select(Case.id, Case.number))).tuples().all())
    assert contact is not None
    assert contact != lives.person  # the hand-over's contact is a row of its own

    # A follow-up check-in planned for next month (core.followups), not sent yet.
    async with unit_of_work(sessions) as session:
        followup = Survey(
            case_id=lives.case,
            person_id=lives.person,
            kind=SurveyKind.FOLLOWUP,
            status=SurveyStatus.PLANNED,
            due_at=clock.now() + timedelta(days=30),
        )
        session.add(followup)
        await session.flush()
        followup_id = followup.id
        # And a note to the hub about them, held for tomorrow morning.
        co = await session.scalar(
            select(Coordinator)
            .join(Case, Case.assigned_co_id == Coordinator.id)
            .where(Case.id == lives.case)
        )
        assert co is not None
        assert co.slack_user_id
        await outbox.add_message(
            session,
            platform=Platform.SLACK,
            channel_id="default",
            recipient=co.slack_user_id,
            message=OutgoingMessage(texts=(Text("common.verbatim", value=f"明朝 {NAME}様に電話"),)),
            kind="slack_message",
            idempotency_key="test:dm-tomorrow",
            now=clock.now(),
            not_before=clock.now() + timedelta(hours=20),
            case_id=lives.case,
        )

    # The CO holding their case looked at their App Home (it lists the case).
    async with sessions() as session:
        co_id = await session.scalar(select(Case.assigned_co_id).where(Case.id == lives.case))
    assert co_id is not None
    async with unit_of_work(sessions) as session:
        assert await refresh_homes(session, [co_id], now=clock.now()) == 1
    await settle(container, dispatcher)

    # The scan sees them before: in our tables and in Slack (cards, DMs, the thread, Home).
    before = await scan_everything(engine, needles, slack=slack_api, line=line_api)
    assert {hit.needle for hit in before} >= {NAME, PHONE, EMAIL, lives.owner.user_id}
    assert any(hit.where.startswith("slack:") for hit in before)
    assert any(hit.where.startswith("slack-home:") for hit in before)
    figures_before = await aggregates(sessions, lives.hub, 2026)

    # find: by the phone as the person says it, by name and business, by case number.
    async with unit_of_work(sessions) as session:
        by_phone = await requests.find(
            session, Query(phone="090-8765-4321"), operator=OPERATOR, now=clock.now()
        )
        by_name = await requests.find(
            session,
            Query(name="鷲尾　澄香", business="さくら商店"),
            operator=OPERATOR,
            now=clock.now(),
        )
        by_case = await requests.find(
            session,
            Query(case_number=numbers[lives.case]),
            operator=OPERATOR,
            now=clock.now(),
        )
        by_line = await requests.find(
            session, Query(line_user_id=lives.owner.user_id), operator=OPERATOR, now=clock.now()
        )
        with pytest.raises(BadQuery):
            await requests.find(session, Query(name=NAME), operator=OPERATOR, now=clock.now())
    assert {m.person_id for m in by_phone} == {lives.person, contact}
    assert {m.person_id for m in by_name} == {lives.person, contact}
    assert [m.person_id for m in by_case] == [lives.person]
    assert [m.person_id for m in by_line] == [lives.person]
    assert numbers[partner_case] in next(m for m in by_phone if m.person_id == contact).case_numbers

    # export (開示): consents with their versions, cases, booking, messages, survey, review.
    async with unit_of_work(sessions) as session:
        exported = await requests.export(session, lives.person, operator=OPERATOR, now=clock.now())
    data = json.loads(exported.as_json())
    assert {c["notice"] for c in data["consents"]} == {"privacy"}
    assert all(c["version"] for c in data["consents"])
    assert data["cases"][0]["description"]
    assert data["bookings"][0]["status"] == "confirmed"
    assert any("駐車場はありますか" in (m["body"] or "") for m in data["messages"])
    assert any(a["value"] == "鷲尾です。また相談したい" for a in data["survey_answers"])
    assert data["reviews"][0]["stars"] == 5
    page = render_html(exported, Catalog.load(), "ja")
    assert "保有個人データの開示" in page
    assert "同意の記録" in page
    assert "駐車場はありますか" in page
    assert "<script" not in page

    # The dry run lists every row and every Slack message, and changes nothing but its audit.
    dump_before = await scan_database(engine, needles)
    plan = await requests.preview_erasure(
        sessions, [m.person_id for m in by_phone], operator=OPERATOR, now=clock.now()
    )
    assert set(plan.people) == {lives.person, contact}
    assert plan.rows["persons"] == sorted({lives.person, contact})
    assert plan.rows["cases"]
    assert plan.rows["case_messages"]
    assert plan.counts["bookings_cancelled"] == 1
    actions = {target.action for target in plan.slack}
    assert SlackAction.REFRESH in actions
    assert SlackAction.UPDATE in actions
    assert plan.slack_count >= 4
    assert await scan_database(engine, needles) == dump_before
    async with sessions() as session:
        booking = await session.scalar(select(Booking).where(Booking.case_id == lives.case))
        assert booking is not None
        assert booking.status is BookingStatus.CONFIRMED
        erased_people = await session.scalar(
            select(func.count()).select_from(Person).where(Person.erased_at.is_not(None))
        )
    assert erased_people == 0

    # 消去.
    clock.advance(timedelta(minutes=1))
    started = time.perf_counter()
    async with unit_of_work(sessions) as session:
        done = await requests.erase(
            session, [m.person_id for m in by_phone], operator=OPERATOR, now=clock.now()
        )
        # As the console and the command do: the COs' App Home, published again.
        assert done.coordinators == [co_id]
        await refresh_homes(session, done.coordinators, now=clock.now())
    edits_before = sum(m.edits for m in slack_api.recorder.messages)
    await settle(container, dispatcher)
    took = time.perf_counter() - started
    assert sorted(done.people) == sorted(plan.people)
    assert [t.outbox_id for t in done.slack] == [t.outbox_id for t in plan.slack]
    edited = sum(m.edits for m in slack_api.recorder.messages) - edits_before
    assert edited == done.slack_count
    # DMs were posted to a user id; Slack edits them by the DM's own channel id.
    updates = slack_api.recorder.calls("chat.update")
    assert updates
    assert all(not str(call.args.get("channel", "")).startswith("U") for call in updates)
    print(f"\nslack messages edited: {edited}; erase and dispatch took {took:.2f} s")

    clock.advance(timedelta(days=1))  # past the note's time: it never goes
    await settle(container, dispatcher)
    after = await scan_everything(
        engine, needles, slack=slack_api, line=line_api, own_chats=(lives.owner.user_id,)
    )
    assert after == set(), sorted(after)
    assert await aggregates(sessions, lives.hub, 2026) == figures_before

    async with sessions() as session:
        booking = await session.scalar(select(Booking).where(Booking.case_id == lives.case))
        assert booking is not None
        assert booking.status is BookingStatus.CANCELLED
        case = await session.get(Case, lives.case)
        assert case is not None
        assert case.status is CaseStatus.CLAIMED
        held_note = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "test:dm-tomorrow")
        )
        assert held_note is not None
        assert held_note.status is OutboxStatus.CANCELLED
        planned = await session.get(Survey, followup_id)
        assert planned is not None
        assert planned.status is SurveyStatus.CANCELLED
        partner = await session.get(Case, partner_case)
        assert partner is not None
        # The partner's case keeps the business and its facts; the person is gone from it.
        assert partner.business_id is not None
        assert partner.topics == ["sales_channels"]
        assert partner.description is None
        linked = await session.scalar(
            select(func.count())
            .select_from(PersonBusiness)
            .where(PersonBusiness.business_id == partner.business_id)
        )
        assert linked
        audits = list(
            await session.scalars(
                select(AuditLog).where(AuditLog.action.like("privacy.%")).order_by(AuditLog.id)
            )
        )
    assert [a.action for a in audits] == [
        "privacy.found",
        "privacy.found",
        "privacy.found",
        "privacy.found",
        "privacy.exported",
        "privacy.erase_previewed",
        "privacy.erased",
    ]
    assert audits[-1].details["slack_messages"] == done.slack_count
    # The CO of the cancelled booking was told in Slack (a DM with the case number).
    co_told = [m for m in slack_api.recorder.messages if "取り消されました" in (m.text or "")]
    assert len(co_told) == 1
    assert numbers[lives.case] in (co_told[0].text or "")


async def test_slack_messages_are_deleted_when_the_setting_says_so(
    container: Container,
    dispatcher: Dispatcher,
    rich: tuple[Lives, int],
    clock: ManualClock,
    line_api: LineApiStandin,
    slack_api: SlackApiStandin,
    slack_server: ServerThread,
    engine: AsyncEngine,
) -> None:
    lives, _partner_case = rich
    sessions = container.session_factory
    held = len(slack_api.recorder.messages)
    async with unit_of_work(sessions) as session:
        done = await requests.erase(
            session,
            [lives.person],
            operator=OPERATOR,
            now=clock.now(),
            slack=SlackErasure.DELETE,
        )
    deleted = [t for t in done.slack if t.action is SlackAction.DELETE]
    assert deleted
    # Someone in the channel deleted one of them first: gone is what erasure wants.
    gone = next(t for t in deleted if not t.channel.startswith("U"))
    async with httpx.AsyncClient() as web:
        answer = await web.post(
            slack_server.url + "/api/chat.delete",
            headers={"Authorization": f"Bearer {DEV_SLACK_BOT_TOKEN}"},
            json={"channel": gone.channel, "ts": gone.ts},
        )
    assert answer.json()["ok"]
    await settle(container, dispatcher)
    async with sessions() as session:
        statuses = set(
            await session.scalars(
                select(OutboxMessage.status).where(
                    OutboxMessage.idempotency_key.like("erase:slack:%")
                )
            )
        )
    assert statuses == {OutboxStatus.SENT}
    # DMs were posted to a user id; Slack deletes them by the DM's own channel id.
    assert all(
        not str(call.args.get("channel", "")).startswith("U")
        for call in slack_api.recorder.calls("chat.delete")
    )
    # The CO's note of the cancelled booking is new; the deleted ones are gone.
    assert len(slack_api.recorder.messages) == held - len(deleted) + 1
    needles = (*TRACES, lives.owner.user_id)
    after = await scan_everything(
        engine, needles, slack=slack_api, line=line_api, own_chats=(lives.owner.user_id,)
    )
    assert after == set(), sorted(after)


async def test_a_correction_is_checked_and_audited_without_the_values(
    container: Container, clock: ManualClock
) -> None:
    sessions = container.session_factory
    async with unit_of_work(sessions) as session:
        person = Person(display_name="山田 花子", phone="0312345678")
        session.add(person)
        await session.flush()
        bad = await correct_person(
            session,
            person.id,
            Correction(phone="12345", email="not-an-address"),
            operator=OPERATOR,
            now=clock.now(),
        )
        assert set(bad.errors) == {"phone", "email"}
        good = await correct_person(
            session,
            person.id,
            Correction(name="山田　花", phone="03-9876-5432", email="hana@example.jp"),
            operator=OPERATOR,
            now=clock.now(),
        )
        assert good.ok
        person_id = person.id
    async with sessions() as session:
        fixed = await session.get(Person, person_id)
        assert fixed is not None
        assert (fixed.display_name, fixed.family_name, fixed.given_name) == (
            "山田 花",
            "山田",
            "花",
        )
        assert (fixed.phone, fixed.email) == ("0398765432", "hana@example.jp")
        [audit] = list(
            await session.scalars(select(AuditLog).where(AuditLog.action == "privacy.corrected"))
        )
    assert audit.details["fields"] == ["name", "phone", "email"]
    assert "花" not in json.dumps(audit.details, ensure_ascii=False)
