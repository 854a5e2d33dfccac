"""The story `yorozu demo` tells: one week and one month of the Tokyo hub, headless.

Each step is a small async function that makes people act through the service's real doors
(a LINE owner's signed webhook events, a Slack user's signed clicks and modal submissions,
the scheduler's jobs for the time the clock skips) and then checks what reached the LINE and
Slack stand-ins, or the database. A check that fails raises `StepFailed`: the demo stops
there and says what was missing, so a demo that prints ✓ shows what the product really did.

The people and what they type are story data (Japanese, as the hub's clients write); every
other word printed comes from the catalog (core/i18n/*/demo.toml). The owner's LINE language
follows `--lang`, so in English the service itself answers her in English.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO, TypeVar

from sqlalchemy import select

import core.db.models as m
from core.clock import ManualClock, fiscal_year, to_jst
from core.conversation import Command
from core.domain.enums import (
    BookingStatus,
    CaseSource,
    CaseStatus,
    ConsentNotice,
    Platform,
    SatisfactionLevel,
)
from core.figures import HubFigures, hub_figures
from core.followups.planning import ANSWER_ACTION as FOLLOWUP_ANSWER
from core.i18n import Catalog
from core.owners import postbacks
from core.owners.replies import CONVERSATION_ACTION
from core.reminders.bookings import CONFIRM_ACTION as REMINDER_CONFIRM
from core.surveys.aggregate import Satisfaction, satisfaction_by_hub
from core.surveys.planning import RATE_ACTION
from integrations.standins import make_line_user_id
from integrations.standins.slack_api import SlackMessage
from yorozu.demo.timeline import Entry, Timeline, clip, pad, width
from yorozu.demo.world import (
    NotSeen,
    Seen,
    StepFailed,
    World,
    find_button,
    find_postback,
    jst,
    running_world,
)
from yorozu.sandbox import SignedRequest
from yorozu.settings import (
    DEV_LINE_CHANNEL_ACCESS_TOKEN,
    DEV_LINE_CHANNEL_SECRET,
    DEV_SLACK_BOT_TOKEN,
    DEV_SLACK_SIGNING_SECRET,
    Settings,
)

T = TypeVar("T")

# -- the story's data ---------------------------------------------------------------------------

START: Final = jst(2026, 6, 1, 10, 0)
"""Monday 1 June 2026, 10:00 in Japan: the demo COs have free hours in the days after."""
HUB_CODE: Final = "13"

OWNER_NAME: Final = "山田 花子"
OWNER_LINE_ID: Final = make_line_user_id("yorozu-demo-owner-yamada-hanako")
BUSINESS: Final = "花やまベーカリー"
PREFECTURE: Final = "東京"
MUNICIPALITY: Final = "八王子市"
INDUSTRY: Final = "retail"
EMPLOYEES: Final = "3"
FOUNDED: Final = "2026年4月"
FOUNDED_ON: Final = date(2026, 4, 1)
"""Two months before the story starts: her 3-month follow-up comes on 1 July."""
TOPICS: Final = ("finance", "sales_channels")
DESCRIPTION: Final = (
    "4月に八王子でパン屋を開業しました。開業資金の返済計画と、売上を伸ばす方法を相談したいです。"
)
MODE: Final = "visit"
OWNER_SLOT: Final = jst(2026, 6, 3, 11, 0)
SURVEY_COMMENT: Final = "返済計画が立てられて安心しました。ありがとうございました。"

STAFF_NAME: Final = "石井 直子"  # 経営指導員, 八王子商工会議所 (demo seed)
CHAMBER: Final = "八王子商工会議所"
HANDOVER_BUSINESS: Final = "有限会社みなみ製麺"
HANDOVER_CONTACT: Final = "南 一郎"
HANDOVER_PHONE: Final = "042-987-6543"
HANDOVER_EMPLOYEES: Final = "12"
HANDOVER_DESCRIPTION: Final = (
    "主要取引先の倒産で売掛金が回収できず、来月の支払いが不安。社長の携帯は夜のみ可。"
)
HANDOVER_SLOT: Final = jst(2026, 6, 3, 14, 0)

OWNER_CO: Final = "佐藤 健一"  # the Tokyo hub's CCO: finance and sales channels
HANDOVER_CO: Final = "高橋 浩二"  # CO: finance, accounting, founding (Mon/Wed/Fri)
GUARANTEE_ORG: Final = "東京信用保証協会"


@dataclass(frozen=True)
class Outcome:
    """What a CO records after a consultation (the 相談結果を記録 modal)."""

    minutes: int
    issues: tuple[str, ...]
    """Chosen topics."""
    typed_issues: tuple[str, ...]
    """Issues the list does not name, one per line."""
    advice: str
    result_confirmed: bool
    referral_to: str | None = None
    referral_reason: str | None = None
    attending: str | None = None

    @property
    def issue_count(self) -> int:
        return len(self.issues) + len(self.typed_issues)


OWNER_OUTCOME: Final = Outcome(
    minutes=60,
    issues=("finance", "sales_channels"),
    typed_issues=(),
    advice="月次の資金繰り表で返済計画を作成。SNSと地元イベントでの販路づくりを提案。",
    result_confirmed=True,
)
HANDOVER_OUTCOME: Final = Outcome(
    minutes=90,
    issues=("finance",),
    typed_issues=("売掛金の回収", "資金繰り表の作成"),
    advice="資金繰り表を作成し、保証付き融資の相談へ。商工会議所と同席で対応。",
    result_confirmed=False,
    referral_to=GUARANTEE_ORG,
    referral_reason="保証付き融資（セーフティネット保証）の相談",
    attending=CHAMBER,
)


def expected_figures() -> HubFigures:
    """What the hub's eight figures must say after this story (DOMAIN.md's definitions)."""
    outcomes = (OWNER_OUTCOME, HANDOVER_OUTCOME)
    return HubFigures(
        businesses=2,
        consultations=len(outcomes),
        results_confirmed=sum(o.result_confirmed for o in outcomes),
        referrals=sum(o.referral_to is not None for o in outcomes),
        joint_consultations=sum(o.attending is not None for o in outcomes),
        issues_set=sum(o.issue_count > 0 for o in outcomes),
        issue_responses=sum(o.issue_count for o in outcomes),
        minutes=sum(o.minutes for o in outcomes),
    )


# -- the cast -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlackUser:
    user_id: str
    name: str


@dataclass
class Cast:
    """Who plays, as the seeded database knows them (nothing here is guessed)."""

    owner_id: str
    hub_id: int
    hub_name: str
    intake: str
    """The Tokyo hub's intake channel."""
    staff: SlackUser
    owner_co: SlackUser
    owner_co_id: int
    handover_co: SlackUser
    handover_co_id: int
    guarantee_channel: str


@dataclass
class Facts:
    """What the story learned on the way (case numbers, ids), for later steps to check."""

    owner_case_id: int = 0
    owner_case: str = ""
    handover_case_id: int = 0
    handover_case: str = ""
    owner_booking_id: int = 0
    followup_case: str = ""
    owner_messages: list[dict[str, Any]] = field(default_factory=list)
    """What the owner's phone showed last: the buttons she can tap now."""


# -- the story's machinery -----------------------------------------------------------------------


class Story:
    """The world, the cast and the timeline, with the verbs the steps are written in."""

    def __init__(self, world: World, cast: Cast, lang: str) -> None:
        self.world = world
        self.cast = cast
        self.lang = lang
        self.timeline: Timeline = world.timeline
        self.catalog: Catalog = world.timeline.catalog
        self.facts = Facts()
        self.step = ""
        self.pending: list[Entry] = []
        self.phone = world.line_owner(cast.owner_id)

    # -- words ---------------------------------------------------------------------------

    def t(self, key: str, **params: Any) -> str:
        return self.timeline.t(key, **params)

    def fail(self, key: str, **params: Any) -> NoReturn:
        raise StepFailed(self.step, self.t(f"missing.{key}", **params))

    def check(self, condition: object, key: str, **params: Any) -> None:
        if not condition:
            self.fail(key, **params)

    def need(self, value: T | None, key: str, **params: Any) -> T:
        """The value, or the step fails saying what was missing."""
        if value is None:
            self.fail(key, **params)
        return value

    def drain(self) -> list[Entry]:
        entries, self.pending = self.pending, []
        return entries

    # -- time ----------------------------------------------------------------------------

    async def at(self, moment: datetime) -> None:
        """Move to this moment (running the jobs due meanwhile) and record what they sent."""
        await self.world.advance_to(moment)
        self.arrived()

    def arrived(self) -> Seen:
        seen = self.world.look()
        self.pending += self.world.record(seen)
        return seen

    def acted(self, platform: str, who: str, what: str) -> None:
        self.pending.append(self.world.act(platform, who, what))

    def noted(self, text: str) -> None:
        self.pending.append(self.timeline.note(self.world.clock.now(), text))

    # -- the owner on LINE ---------------------------------------------------------------

    async def owner(
        self, what: str, request: SignedRequest, *, quiet: bool = False
    ) -> list[dict[str, Any]]:
        """The owner does something on LINE; answers what reached her phone because of it.
        Quiet: the question-and-answer of a form, summed up by the caller in one line."""
        if not quiet:
            self.acted("LINE", OWNER_NAME, what)
        await self.world.send(request)
        await self.world.settle()
        if quiet:
            seen = self.world.look()
            self.pending += self.world.record(Seen(slack=seen.slack, updates=seen.updates))
        else:
            seen = self.arrived()
        got = seen.line_to(self.cast.owner_id)
        self.check(got, "line_reply", who=OWNER_NAME)
        self.facts.owner_messages = got
        return got

    def button(self, action: str, **values: str | int) -> dict[str, Any]:
        """A button the owner's phone shows now (by what it does, not by its label)."""
        found = find_postback(self.facts.owner_messages, action, **values)
        if found is None:
            self.fail("line_button", who=OWNER_NAME, action=action)
        return found

    async def tap(
        self, button: dict[str, Any], *, params: dict[str, str] | None = None, quiet: bool = False
    ) -> list[dict[str, Any]]:
        what = self.t("do.tap", label=button.get("label", ""))
        return await self.owner(what, self.phone.postback(str(button["data"]), params), quiet=quiet)

    # -- people in Slack -----------------------------------------------------------------

    def card(self, number: str) -> SlackMessage:
        """The case's card in the hub's intake channel, as it reads now."""
        for message in self.world.platforms.slack.recorder.messages_in(self.cast.intake):
            if number and number in (message.text or ""):
                return message
        self.fail("card", number=number)

    def _press(self, who: SlackUser, number: str, action: str) -> SignedRequest:
        """The click on a card's button (found by what it does), put on the timeline."""
        card = self.card(number)
        button = find_button(card, action)
        if button is None:
            self.fail("card_button", number=number, action=action)
        label = str(button.get("text", {}).get("text", action))
        self.acted("Slack", who.name, self.t("do.click", label=label, number=number))
        person = self.world.slack_person(who.user_id)
        return person.click_in_message(card.channel, card.ts, button)

    async def click(self, who: SlackUser, number: str, action: str) -> None:
        """Click a button of a case's card; the work it stores is handled before returning."""
        await self.world.send_slack(self._press(who, number, action))
        self.arrived()

    async def modal_from_card(self, who: SlackUser, number: str, action: str) -> dict[str, Any]:
        """Click a card's button that opens a modal; answers the modal as Slack shows it."""
        view = await self.world.open_modal(who.user_id, self._press(who, number, action))
        self.opened(who, view)
        return view

    def opened(self, who: SlackUser, view: dict[str, Any]) -> None:
        title = str((view.get("title") or {}).get("text", ""))
        self.pending.append(
            Entry(
                self.world.clock.now(), "Slack", self.t("slack_modal", name=who.name, title=title)
            )
        )

    async def submit(
        self, who: SlackUser, view: dict[str, Any], values: dict[str, Any], summary: str
    ) -> None:
        label = str((view.get("submit") or {}).get("text", ""))
        self.acted("Slack", who.name, self.t("do.submit", label=label, summary=summary))
        errors = await self.world.submit(self.world.slack_person(who.user_id), view, values)
        self.check(not errors, "modal_refused", title=view.get("callback_id"), errors=errors[:200])
        self.arrived()

    def dms(self, who: SlackUser, seen_before: int = 0) -> list[str]:
        channel = self.world.platforms.slack.dm_channel_for(who.user_id)
        messages = self.world.platforms.slack.recorder.messages_in(channel)
        return [message.text or "" for message in messages[seen_before:]]

    def dm_count(self, who: SlackUser) -> int:
        return len(self.dms(who))


# -- the steps ------------------------------------------------------------------------------------

StepFn = Callable[[Story], Awaitable[list[Entry]]]


async def follow_and_consent(s: Story) -> list[Entry]:
    """山田 花子 adds the national account, reads the greeting and privacy notice, agrees."""
    got = await s.owner(s.t("do.follow"), s.phone.follow())
    url = str(s.world.settings.privacy_notice_url)
    s.check(url in str(got), "privacy", url=url)
    await s.tap(s.button(postbacks.CONSENT_AGREE))
    person = s.need(await owner_person(s), "consent", who=OWNER_NAME)
    consent = await s.world.one(
        m.ConsentRecord,
        m.ConsentRecord.person_id == person.id,
        m.ConsentRecord.notice == ConsentNotice.PRIVACY,
        m.ConsentRecord.given.is_(True),
    )
    s.check(consent, "consent", who=OWNER_NAME)
    return s.drain()


async def intake(s: Story) -> list[Entry]:
    """She tells the hub about her bakery, founded in April; the case reaches the queue."""
    await s.at(START + timedelta(minutes=2))
    label = s.catalog.text("owner.menu.book", s.lang)
    await s.owner(
        s.t("do.menu", label=label), s.phone.postback(postbacks.encode(postbacks.MENU_BOOK))
    )
    said: list[str] = []

    async def type_(text: str) -> None:
        said.append(text)
        await s.owner("", s.phone.text(text), quiet=True)

    async def choose(value: str) -> None:
        button = s.button(CONVERSATION_ACTION, v=value)
        said.append(str(button.get("label", value)))
        await s.tap(button, quiet=True)

    for text in (BUSINESS, OWNER_NAME, PREFECTURE, MUNICIPALITY):
        await type_(text)
    await choose(INDUSTRY)
    await type_(EMPLOYEES)
    await type_(FOUNDED)
    for topic in TOPICS:
        await choose(topic)
    await choose(Command.DONE.value)
    said.pop()  # 完了 says nothing about her business
    await type_(DESCRIPTION)
    said[-1] = clip(DESCRIPTION, 24)
    last = s.button(CONVERSATION_ACTION, v=MODE)
    s.acted("LINE", OWNER_NAME, s.t("do.answers", count=len(said), answers=" / ".join(said)))
    await s.tap(last)

    person = s.need(await owner_person(s), "case", who=OWNER_NAME)
    case = s.need(await s.world.one(m.Case, m.Case.person_id == person.id), "case", who=OWNER_NAME)
    s.check(case.status is CaseStatus.QUEUED, "case", who=OWNER_NAME)
    business = s.need(
        await s.world.one(m.Business, m.Business.id == case.business_id), "business", name=BUSINESS
    )
    s.check(
        business.name == BUSINESS
        and business.founding_date == FOUNDED_ON
        and not business.founding_planned,
        "business",
        name=BUSINESS,
    )
    s.facts.owner_case_id, s.facts.owner_case = case.id, case.number
    s.check(case.number in str(s.facts.owner_messages), "number_told", number=case.number)
    s.check(
        find_postback(s.facts.owner_messages, "booking.pick") is not None, "offers", who=OWNER_NAME
    )
    s.card(case.number)
    return s.drain()


async def hand_over(s: Story) -> list[Entry]:
    """石井 直子 of the chamber hands みなみ製麺 over with the owner's consent (つなぐ)."""
    await s.at(START + timedelta(minutes=30))
    staff = s.cast.staff
    dms_before = s.dm_count(staff)
    person = s.world.slack_person(staff.user_id)
    view = await s.world.open_modal(staff.user_id, person.shortcut("handover_global"))
    title = str((view.get("title") or {}).get("text", ""))
    s.acted("Slack", staff.name, s.t("do.shortcut", label=title))
    s.opened(staff, view)
    values = handover_values()
    summary = s.t(
        "handover_summary",
        business=HANDOVER_BUSINESS,
        municipality=MUNICIPALITY,
        employees=HANDOVER_EMPLOYEES,
    )
    await s.submit(staff, view, values, summary)
    case = s.need(
        await s.world.one(m.Case, m.Case.source == CaseSource.PARTNER), "case", who=staff.name
    )
    s.check(case.status is CaseStatus.QUEUED, "case", who=staff.name)
    s.facts.handover_case_id, s.facts.handover_case = case.id, case.number
    s.card(case.number)
    s.check(
        any(case.number in text for text in s.dms(staff, dms_before)),
        "dm",
        who=staff.name,
        about=case.number,
    )
    return s.drain()


async def claim(s: Story) -> list[Entry]:
    """The CCO takes the owner's case from its card, 高橋さん the hand-over; 石井さん hears."""
    await s.at(START + timedelta(hours=1))
    staff_dms = s.dm_count(s.cast.staff)
    taken = (
        (s.cast.owner_co, s.cast.owner_co_id, s.facts.owner_case, s.facts.owner_case_id),
        (
            s.cast.handover_co,
            s.cast.handover_co_id,
            s.facts.handover_case,
            s.facts.handover_case_id,
        ),
    )
    for who, co_id, number, case_id in taken:
        updates = len(s.world.platforms.slack.recorder.updates_in(s.cast.intake))
        await s.click(who, number, "case.claim")
        case = await s.world.one(m.Case, m.Case.id == case_id)
        s.check(
            case is not None and case.assigned_co_id == co_id and case.status is CaseStatus.CLAIMED,
            "claimed",
            number=number,
            who=who.name,
        )
        changed = s.world.platforms.slack.recorder.updates_in(s.cast.intake)[updates:]
        s.check(
            any(who.name in (update.text or "") for update in changed),
            "card_updated",
            number=number,
            who=who.name,
        )
    s.check(
        any(s.cast.handover_co.name in text for text in s.dms(s.cast.staff, staff_dms)),
        "dm",
        who=s.cast.staff.name,
        about=s.cast.handover_co.name,
    )
    return s.drain()


async def owner_books(s: Story) -> list[Entry]:
    """She comes back to the offers, picks Wednesday and 11:00; the confirmation card arrives."""
    await s.at(START + timedelta(hours=1, minutes=10))
    picker = s.button("booking.day")
    day = to_jst(OWNER_SLOT).date()
    what = s.t("do.pick_day", label=picker.get("label", ""), day=day)
    await s.owner(what, s.phone.postback(str(picker["data"]), {"date": day.isoformat()}))
    slot = s.button("booking.pick", co=s.cast.owner_co_id, t=int(OWNER_SLOT.timestamp()))
    got = await s.tap(slot)
    s.check(any(message.get("type") == "flex" for message in got), "flex", who=OWNER_NAME)
    booking = s.need(
        await s.world.one(
            m.Booking,
            m.Booking.case_id == s.facts.owner_case_id,
            m.Booking.status == BookingStatus.CONFIRMED,
        ),
        "booking",
        number=s.facts.owner_case,
    )
    s.check(
        booking.co_id == s.cast.owner_co_id and booking.starts_at == OWNER_SLOT,
        "booking",
        number=s.facts.owner_case,
    )
    s.facts.owner_booking_id = booking.id
    return s.drain()


async def co_books(s: Story) -> list[Entry]:
    """みなみ製麺's owner is not on LINE: 高橋さん books by phone, from the card (予約を入れる)."""
    await s.at(START + timedelta(hours=1, minutes=20))
    co, staff = s.cast.handover_co, s.cast.staff
    staff_dms, co_dms = s.dm_count(staff), s.dm_count(co)
    number = s.facts.handover_case
    view = await s.modal_from_card(co, number, "case.book")
    blocks = {block.get("block_id"): block for block in view.get("blocks", [])}
    options = (blocks.get("slot") or {}).get("element", {}).get("options", [])
    wanted = str(int(HANDOVER_SLOT.timestamp()))
    chosen = next((o for o in options if o.get("value") == wanted), None)
    if chosen is None:
        s.fail("slot", who=co.name)
    values = {
        "slot": {"type": "static_select", "selected_option": {"value": wanted}},
        "mode": {"type": "radio_buttons", "selected_option": {"value": "visit"}},
    }
    await s.submit(co, view, values, chosen["text"]["text"])
    booking = await s.world.one(
        m.Booking,
        m.Booking.case_id == s.facts.handover_case_id,
        m.Booking.status == BookingStatus.CONFIRMED,
    )
    s.check(
        booking is not None and booking.co_id == s.cast.handover_co_id,
        "booking",
        number=number,
    )
    s.check(any(number in text for text in s.dms(co, co_dms)), "dm", who=co.name, about=number)
    s.check(
        any(number in text for text in s.dms(staff, staff_dms)), "dm", who=staff.name, about=number
    )
    return s.drain()


async def reminders(s: Story) -> list[Entry]:
    """The day before at 10:00 and two hours before, she is reminded; the COs get their day."""
    booking = s.facts.owner_booking_id
    await s.at(jst(2026, 6, 2, 10, 0))  # the day before, 10:00
    await reminder_arrived(s, "day_before")
    await s.tap(s.button(REMINDER_CONFIRM, b=booking))
    confirmed = await s.world.one(m.AuditLog, m.AuditLog.action == "booking.reminder_confirmed")
    s.check(confirmed, "reminder_confirmed", who=OWNER_NAME)
    digests = {who: s.dm_count(who) for who in (s.cast.owner_co, s.cast.handover_co)}
    await s.at(jst(2026, 6, 3, 8, 30))
    for who, before in digests.items():
        s.check(s.dms(who, before), "dm", who=who.name, about="08:30")
    await s.at(OWNER_SLOT - timedelta(hours=2))
    await reminder_arrived(s, "soon")
    return s.drain()


async def reminder_arrived(s: Story, which: str) -> None:
    got = s.world.platforms.line.recorder.pushes_to(s.cast.owner_id)
    latest = got[-1].messages if got else []
    found = find_postback(latest, REMINDER_CONFIRM, b=s.facts.owner_booking_id)
    if found is None:
        s.fail("reminder", which=s.t(f"reminder.{which}"), who=OWNER_NAME)
    s.facts.owner_messages = latest


async def consultations(s: Story) -> list[Entry]:
    """Both consultations happen; each CO records it from the card (相談結果を記録)."""
    staff = s.cast.staff
    await s.at(OWNER_SLOT + timedelta(hours=1, minutes=5))
    await record_outcome(
        s, s.cast.owner_co, s.facts.owner_case, s.facts.owner_case_id, OWNER_OUTCOME
    )
    staff_dms = s.dm_count(staff)
    channel_before = len(s.world.platforms.slack.recorder.messages_in(s.cast.guarantee_channel))
    await s.at(HANDOVER_SLOT + timedelta(hours=1, minutes=5))
    await record_outcome(
        s, s.cast.handover_co, s.facts.handover_case, s.facts.handover_case_id, HANDOVER_OUTCOME
    )
    number = s.facts.handover_case
    told = s.dms(staff, staff_dms)
    s.check(
        len(told) >= 2 and all(number in text for text in told), "dm", who=staff.name, about=number
    )
    asked = s.world.platforms.slack.recorder.messages_in(s.cast.guarantee_channel)[channel_before:]
    s.check(
        any(number in (message.text or "") for message in asked),
        "referral",
        org=GUARANTEE_ORG,
        number=number,
    )
    return s.drain()


async def record_outcome(
    s: Story, co: SlackUser, number: str, case_id: int, outcome: Outcome
) -> None:
    before = s.dm_count(co)
    view = await s.modal_from_card(co, number, "case.outcome")
    held_on = to_jst(s.world.clock.now()).date().isoformat()
    options = organisation_options(view)
    values: dict[str, Any] = {
        "held_on": {"type": "datepicker", "selected_date": held_on},
        "minutes": {"type": "plain_text_input", "value": str(outcome.minutes)},
        "issues": {
            "type": "multi_static_select",
            "selected_options": [{"value": issue} for issue in outcome.issues],
        },
        "issues_text": {
            "type": "plain_text_input",
            "value": "\n".join(outcome.typed_issues) or None,
        },
        "advice": {"type": "plain_text_input", "value": outcome.advice},
        "result_confirmed": {
            "type": "checkboxes",
            "selected_options": [{"value": "yes"}] if outcome.result_confirmed else [],
        },
        "referral_org": organisation_choice(s, options, outcome.referral_to),
        "referral_reason": {"type": "plain_text_input", "value": outcome.referral_reason},
        "co_attending_org": organisation_choice(s, options, outcome.attending),
        "phase": {"type": "radio_buttons", "selected_option": {"value": "1"}},
        "next_step": {"type": "radio_buttons", "selected_option": {"value": "close"}},
        "follow_up_on": {"type": "datepicker", "selected_date": None},
    }
    parts = [s.t("outcome.minutes", minutes=outcome.minutes)]
    parts.append(s.t("outcome.issues", count=outcome.issue_count))
    if outcome.result_confirmed:
        parts.append(s.t("outcome.result_confirmed"))
    if outcome.referral_to:
        parts.append(s.t("outcome.referral", org=outcome.referral_to))
    if outcome.attending:
        parts.append(s.t("outcome.attending", org=outcome.attending))
    parts.append(s.t("outcome.close"))
    separator = s.catalog.text("common.list_separator", s.lang)
    await s.submit(co, view, values, s.t("outcome.summary", parts=separator.join(parts)))
    record = await s.world.one(m.ConsultationRecord, m.ConsultationRecord.case_id == case_id)
    s.check(
        record is not None and record.minutes == outcome.minutes,
        "record",
        number=number,
        who=co.name,
    )
    s.check(any(number in text for text in s.dms(co, before)), "dm", who=co.name, about=number)


def organisation_options(view: dict[str, Any]) -> dict[str, str]:
    """The partner organisations the outcome modal offers: name → the option's value."""
    for block in view.get("blocks", []):
        if block.get("block_id") == "referral_org":
            return {
                str(option["text"]["text"]): str(option["value"])
                for option in block.get("element", {}).get("options", [])
            }
    return {}


def organisation_choice(s: Story, options: dict[str, str], name: str | None) -> dict[str, Any]:
    if name is None:
        return {"type": "static_select", "selected_option": None}
    if name not in options:
        s.fail("organisation", org=name)
    return {"type": "static_select", "selected_option": {"value": options[name]}}


async def survey(s: Story) -> list[Entry]:
    """The next business day at 10:00 she rates the consultation, then the CO, on LINE."""
    await s.at(jst(2026, 6, 4, 10, 0))
    pushes = s.world.platforms.line.recorder.pushes_to(s.cast.owner_id)
    latest = pushes[-1].messages if pushes else []
    if find_postback(latest, RATE_ACTION) is None:
        s.fail("survey", who=OWNER_NAME)
    s.facts.owner_messages = latest
    await s.tap(s.button(RATE_ACTION, v=5))
    await s.owner(s.t("do.say", text=SURVEY_COMMENT), s.phone.text(SURVEY_COMMENT))
    await s.tap(s.button("survey.stars", v=5))
    await s.tap(s.button("survey.done"))
    answer = await s.world.one(
        m.SurveyAnswer,
        m.SurveyAnswer.question == "satisfaction",
    )
    s.check(
        answer is not None and answer.value == SatisfactionLevel.VERY_SATISFIED.value,
        "survey_answer",
        who=OWNER_NAME,
    )
    review = await s.world.one(m.CoReview, m.CoReview.co_id == s.cast.owner_co_id)
    s.check(review is not None and review.stars == 5, "review", co=s.cast.owner_co.name)
    return s.drain()


async def followup(s: Story) -> list[Entry]:
    """Three months after founding she is asked how it goes, asks for help: a new case opens."""
    co_dms = s.dm_count(s.cast.owner_co)
    await s.at(jst(2026, 7, 1, 10, 0))
    pushes = s.world.platforms.line.recorder.pushes_to(s.cast.owner_id)
    latest = pushes[-1].messages if pushes else []
    if find_postback(latest, FOLLOWUP_ANSWER, v="help") is None:
        s.fail("followup", who=OWNER_NAME)
    s.facts.owner_messages = latest
    await s.tap(s.button(FOLLOWUP_ANSWER, v="help"))
    case = s.need(
        await s.world.one(m.Case, m.Case.source == CaseSource.FOLLOWUP),
        "followup_case",
        who=OWNER_NAME,
    )
    s.check(case.status is CaseStatus.QUEUED, "followup_case", who=OWNER_NAME)
    s.facts.followup_case = case.number
    s.check(case.number in str(s.facts.owner_messages), "number_told", number=case.number)
    s.card(case.number)
    s.check(
        any(case.number in text for text in s.dms(s.cast.owner_co, co_dms)),
        "dm",
        who=s.cast.owner_co.name,
        about=case.number,
    )
    return s.drain()


def figure_label(s: Any, name: str) -> str:
    """The figure's name from the shared catalog (figures.toml; minutes are shown as hours)."""
    key = "hours" if name == "minutes" else name
    return str(s.timeline.catalog.text(f"figure.{key}", s.timeline.locale))


FIGURE_NAMES: Final = (
    "businesses",
    "consultations",
    "results_confirmed",
    "referrals",
    "joint_consultations",
    "issues_set",
    "issue_responses",
    "minutes",
)


async def figures(s: Story) -> list[Entry]:
    """The hub's eight figures for the fiscal year, and its satisfaction rate."""
    year = fiscal_year(OWNER_SLOT)
    async with s.world.factory() as session:
        found = await hub_figures(session, hub_id=s.cast.hub_id, fiscal_year=year)
        satisfaction = (
            await satisfaction_by_hub(session, fiscal_year=year, hub_id=s.cast.hub_id)
        ).get(s.cast.hub_id, Satisfaction())
    s.noted(s.t("figures.title", hub=s.cast.hub_name, year=year))
    names = [figure_label(s, name) for name in FIGURE_NAMES]
    column = max(width(name) for name in names)
    for number, (name, label) in enumerate(zip(FIGURE_NAMES, names, strict=True), start=1):
        value = getattr(found, name)
        shown = s.t("figures.hours", hours=f"{found.hours:g}") if name == "minutes" else str(value)
        s.noted(s.t("figures.row", number=number, name=pad(label, column), value=shown))
    rate = satisfaction.rate
    shown_rate = f"{rate:.0%}" if rate is not None else "-"
    s.noted(
        s.t(
            "figures.satisfaction",
            rate=shown_rate,
            satisfied=satisfaction.satisfied,
            answers=satisfaction.answers,
        )
    )
    expected = expected_figures()
    for name in FIGURE_NAMES:
        s.check(
            getattr(found, name) == getattr(expected, name),
            "figure",
            name=figure_label(s, name),
            expected=getattr(expected, name),
            found=getattr(found, name),
        )
    s.check(satisfaction.answers == 1 and rate == 1.0, "satisfaction", rate=shown_rate)
    return s.drain()


STEPS: Final[tuple[tuple[str, StepFn], ...]] = (
    ("follow", follow_and_consent),
    ("intake", intake),
    ("handover", hand_over),
    ("claim", claim),
    ("owner_books", owner_books),
    ("co_books", co_books),
    ("reminders", reminders),
    ("consultations", consultations),
    ("survey", survey),
    ("followup", followup),
    ("figures", figures),
)
"""The story in order: each step needs what the ones before it did."""


# -- helpers the steps share ---------------------------------------------------------------------


async def owner_person(s: Story) -> m.Person | None:
    identity = await s.world.one(
        m.ChannelIdentity,
        m.ChannelIdentity.platform == Platform.LINE,
        m.ChannelIdentity.external_user_id == s.cast.owner_id,
    )
    if identity is None:
        return None
    person: m.Person | None = await s.world.one(m.Person, m.Person.id == identity.person_id)
    return person


def handover_values() -> dict[str, Any]:
    """The hand-over modal as 石井さん fills it in (block id → element state)."""

    def text(value: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": value}

    def chosen(kind: str, value: str) -> dict[str, Any]:
        return {"type": kind, "selected_option": {"value": value}}

    def ticked(kind: str, *values: str) -> dict[str, Any]:
        return {"type": kind, "selected_options": [{"value": value} for value in values]}

    return {
        "business_name": text(HANDOVER_BUSINESS),
        "corporate_number": text(None),
        "prefecture": chosen("static_select", HUB_CODE),
        "municipality": text(MUNICIPALITY),
        "contact_name": text(HANDOVER_CONTACT),
        "phone": text(HANDOVER_PHONE),
        "email": text(None),
        "industry": chosen("static_select", "manufacturing"),
        "employees": {"type": "number_input", "value": HANDOVER_EMPLOYEES},
        "topics": ticked("multi_static_select", "finance"),
        "description": text(HANDOVER_DESCRIPTION),
        "urgency": chosen("radio_buttons", "normal"),
        "consent": ticked("checkboxes", "yes"),
        "sit_in": ticked("checkboxes", "yes"),
    }


async def cast_of(world: World, lang: str) -> Cast:
    """Find the people of the story in the seeded database, and teach the timeline names."""
    hub = await world.one(m.Hub, m.Hub.code == HUB_CODE)
    staff = await world.one(m.PartnerStaff, m.PartnerStaff.name == STAFF_NAME)
    owner_co = await world.one(m.Coordinator, m.Coordinator.name == OWNER_CO)
    handover_co = await world.one(m.Coordinator, m.Coordinator.name == HANDOVER_CO)
    guarantee = await world.one(m.PartnerOrganisation, m.PartnerOrganisation.name == GUARANTEE_ORG)
    if hub is None or staff is None or owner_co is None or handover_co is None or guarantee is None:
        raise NotSeen(f"the demo seed lacks {HUB_CODE}, {STAFF_NAME}, {OWNER_CO}, {HANDOVER_CO}")
    if not (
        hub.slack_intake_channel_id
        and guarantee.slack_channel_id
        and staff.slack_user_id
        and owner_co.slack_user_id
        and handover_co.slack_user_id
    ):
        raise NotSeen("the demo seed lacks a Slack id or channel of the story's people")
    owner_id = OWNER_LINE_ID
    timeline = world.timeline
    timeline.names[owner_id] = OWNER_NAME
    people = [
        SlackUser(staff.slack_user_id, staff.name),
        SlackUser(owner_co.slack_user_id, owner_co.name),
        SlackUser(handover_co.slack_user_id, handover_co.name),
    ]
    slack = world.platforms.slack
    async with world.factory() as session:
        everyone = [
            *(await session.execute(select(m.Coordinator.slack_user_id, m.Coordinator.name))),
            *(await session.execute(select(m.PartnerStaff.slack_user_id, m.PartnerStaff.name))),
        ]
        for user_id, name in everyone:
            if user_id:
                timeline.names[str(user_id)] = str(name)
                timeline.dms[slack.dm_channel_for(str(user_id))] = str(user_id)
                slack.add_user(str(user_id), str(name))
        for code, channel in await session.execute(
            select(m.Hub.code, m.Hub.slack_intake_channel_id).where(
                m.Hub.slack_intake_channel_id.is_not(None)
            )
        ):
            timeline.channels[str(channel)] = f"yorozu-{code}-intake"
        for name, channel in await session.execute(
            select(m.PartnerOrganisation.name, m.PartnerOrganisation.slack_channel_id).where(
                m.PartnerOrganisation.slack_channel_id.is_not(None)
            )
        ):
            timeline.channels[str(channel)] = str(name)
    world.platforms.line.set_profile(owner_id, OWNER_NAME, language=lang)
    return Cast(
        owner_id=owner_id,
        hub_id=hub.id,
        hub_name=hub.name_en if lang == "en" else hub.name_ja,
        intake=hub.slack_intake_channel_id,
        staff=people[0],
        owner_co=people[1],
        owner_co_id=owner_co.id,
        handover_co=people[2],
        handover_co_id=handover_co.id,
        guarantee_channel=guarantee.slack_channel_id,
    )


# -- running it ----------------------------------------------------------------------------------


BeforeStep = Callable[[str, World], None]
"""Called before each step with its id: where a test breaks the world through a stand-in's
own controls (the owner blocks the account) to see the demo notice what then never happens."""


def demo_overrides(database_path: Path) -> dict[str, object]:
    """Settings the demo always runs with, whatever the environment says: its own SQLite
    file, no Redis, one workspace, and the published development secrets (it signs its own
    requests and must never hold real ones)."""
    return {
        "yorozu_env": "development",
        "database_url": f"sqlite:///{database_path}",
        "redis_url": None,
        "line_channel_secret": DEV_LINE_CHANNEL_SECRET,
        "line_channel_access_token": DEV_LINE_CHANNEL_ACCESS_TOKEN,
        "slack_signing_secret": DEV_SLACK_SIGNING_SECRET,
        "slack_bot_token": DEV_SLACK_BOT_TOKEN,
        "slack_client_id": None,
        "slack_client_secret": None,
        "slack_oauth_redirect_uri": None,
        "line_monthly_push_budget": None,
        "emulator_enabled": False,
        "seed_demo": True,
    }


@contextlib.contextmanager
def database_file(keep: Path | None) -> Iterator[Path]:
    """A fresh SQLite file: in a temporary directory that goes away, or at `keep`."""
    if keep is not None:
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="yorozu-demo-") as folder:
        yield Path(folder) / "demo.db"


async def tell(
    settings: Settings,
    *,
    lang: str,
    out: TextIO,
    err: TextIO,
    before_step: BeforeStep | None = None,
    catalog: Catalog | None = None,
) -> int:
    """Run the whole story against `settings` (a fresh database); 0 when every step
    happened, 1 at the first one that did not."""
    catalog = catalog or Catalog.load()
    timeline = Timeline(catalog, lang)
    clock = ManualClock(START)
    print(timeline.t("title"), file=out)
    print("", file=out)
    try:
        async with running_world(settings, clock, timeline) as world:
            story = Story(world, await cast_of(world, lang), lang)
            for step_id, step in STEPS:
                label = timeline.t(f"step.{step_id}")
                story.step = label
                if before_step is not None:
                    before_step(step_id, world)
                try:
                    entries: Sequence[Entry] = await step(story)
                except (StepFailed, NotSeen) as exc:
                    _print(out, timeline.lines(story.drain()))
                    _failed(timeline, out, err, label, exc)
                    return 1
                _print(out, timeline.lines(entries))
                print(timeline.t("done", step=label), file=out)
                print("", file=out)
    except NotSeen as exc:  # the world did not start: the seed lacks someone of the story
        _failed(timeline, out, err, timeline.t("step.setup"), exc)
        return 1
    print(timeline.t("all_done", count=len(STEPS)), file=out)
    return 0


def _failed(timeline: Timeline, out: TextIO, err: TextIO, label: str, exc: Exception) -> None:
    if isinstance(exc, StepFailed):
        reason = exc.reason
    else:
        reason = timeline.t("missing.service", detail=str(exc))
    out.flush()
    print(timeline.t("failed", step=label, reason=reason), file=err)


def _print(out: TextIO, lines: Sequence[str]) -> None:
    for line in lines:
        print(line, file=out)
