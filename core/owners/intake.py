"""The consultation intake: what an owner tells the hub before a CO calls or a slot is booked.

Declared as data for the conversation engine (see intake.md for the diagram), so that the
owner can go back, stop and come back a day later without losing a word. A returning owner
is asked only what we do not know yet; the national account also asks the prefecture,
because it decides which of the 47 hubs takes the case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.conversation import (
    AnswerValue,
    Choice,
    Command,
    ConversationState,
    Flow,
    Question,
    QuestionKind,
    Reply,
    Status,
    answer,
    decode_answers,
    integer_answer,
    parsed_answer,
    text_answer,
)
from core.conversation import start as start_conversation
from core.db.models import Person
from core.domain.enums import BookingMode, DatePrecision
from core.domain.industries import Industry
from core.domain.topics import Topic
from core.i18n import Text
from core.messages import OutgoingMessage
from core.owners import cases
from core.owners.context import OwnerContext
from core.owners.onboarding import ChannelContext
from core.owners.replies import conversation_input, message_for
from core.routing.prefectures import BY_CODE, prefecture_code
from core.text.normalize import normalize_text, parse_date, parse_int

FLOW_ID: Final = "intake"

EXPIRY: Final = timedelta(hours=24)
"""Idle this long and the next message asks whether to continue or start over."""
MAX_EMPLOYEES: Final = 100_000
MAX_DESCRIPTION: Final = 1000
EARLIEST_FOUNDING: Final = date(1800, 1, 1)

PLANNED: Final = "創業予定"
"""What a founder-to-be answers to the founding question (also stored as the answer)."""
PLANNED_WORDS: Final = frozenset(
    {PLANNED, "開業予定", "創業前", "開業前", "これから", "まだ", "予定", "planned", "not yet"}
)

# Founding is not a button: a founder-to-be says so through the founding question, and the
# twelve others plus "done" fill LINE's thirteen quick replies.
OFFERED_TOPICS: Final = tuple(topic for topic in Topic if topic is not Topic.FOUNDING)

_UNEXPECTED_INPUT: Final = "__unexpected__"
"""Fed to the engine for an event that answers nothing: it re-asks without storing it."""


# Answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Founding:
    planned: bool
    value: date | None
    precision: DatePrecision | None


def parse_founding(raw: str, *, today: date | None = None) -> Founding | None:
    """創業予定, or a founding date as people type it (2015年4月, 令和5年4月, 2015/4/1).

    A date after `today` is a planned founding with its date.
    """
    text = normalize_text(raw)
    if text.casefold() in PLANNED_WORDS:
        return Founding(planned=True, value=None, precision=None)
    parsed = parse_date(text)
    if parsed is None or parsed.value < EARLIEST_FOUNDING:
        return None
    planned = today is not None and parsed.value > today
    return Founding(planned, parsed.value, DatePrecision(parsed.precision.value))


def _founding_answer(raw: str) -> AnswerValue | Text:
    # The owner's own words are kept (and shown again if they go back); the date is read
    # from them when the case is created.
    if parse_founding(raw) is None:
        return Text("intake.error.founding")
    return normalize_text(raw)


def _prefecture_name(raw: str) -> str | None:
    # Stored as the full name rather than the code, so "前回のご回答" shows 東京都, not 13.
    code = prefecture_code(raw)
    return BY_CODE[code].name_ja if code is not None else None


def founding_text(planned: bool, value: date | None, precision: DatePrecision | None) -> str:
    """A stored founding as an answer parse_founding reads back (for a returning owner)."""
    if value is None:
        return PLANNED
    if precision is DatePrecision.YEAR:
        return f"{value.year:04d}年"
    if precision is DatePrecision.MONTH:
        return f"{value.year:04d}/{value.month}"
    return value.isoformat()


def intake_answers(answers: Mapping[str, AnswerValue], *, today: date) -> cases.IntakeAnswers:
    """The finished conversation's answers as the case needs them."""
    founding = None
    raw_founding = answers.get("founding")
    if isinstance(raw_founding, str):
        founding = parse_founding(raw_founding, today=today)
    topics = answers.get("topics")
    industry = answers.get("industry")
    mode = answers.get("mode")
    employees = answers.get("employees")
    return cases.IntakeAnswers(
        business_name=str(answers["business_name"]),
        owner_name=_str(answers.get("owner_name")),
        prefecture=_str(answers.get("prefecture")),
        municipality=_str(answers.get("municipality")),
        industry=Industry(industry) if isinstance(industry, str) else None,
        employees=employees if isinstance(employees, int) else None,
        founding_date=founding.value if founding else None,
        founding_precision=founding.precision if founding else None,
        founding_planned=founding.planned if founding else False,
        topics=tuple(Topic(t) for t in topics) if isinstance(topics, list) else (),
        description=_str(answers.get("description")),
        mode=BookingMode(mode) if isinstance(mode, str) else None,
    )


def _str(value: AnswerValue | None) -> str | None:
    return value if isinstance(value, str) else None


# The flow -----------------------------------------------------------------------------------


def _ask_prefecture(national: bool) -> Callable[[Mapping[str, AnswerValue]], bool]:
    def applies(_answers: Mapping[str, AnswerValue]) -> bool:
        return national

    return applies


@cache
def build_flow(*, national: bool) -> Flow:
    """The intake as a form; a hub's own account knows the prefecture and does not ask it."""
    q = "intake.question."
    return Flow(
        id=FLOW_ID,
        expiry=EXPIRY,
        intro=Text("intake.intro"),
        done_text=Text("intake.done"),
        questions=(
            Question(
                "business_name", Text(q + "business_name"), validator=text_answer(max_length=200)
            ),
            Question("owner_name", Text(q + "owner_name"), validator=text_answer(max_length=100)),
            Question(
                "prefecture",
                Text(q + "prefecture"),
                validator=parsed_answer(_prefecture_name, Text("intake.error.prefecture")),
                ask_if=_ask_prefecture(national),
            ),
            Question(
                "municipality", Text(q + "municipality"), validator=text_answer(max_length=100)
            ),
            Question(
                "industry",
                Text(q + "industry"),
                kind=QuestionKind.CHOICE,
                choices=tuple(Choice(i.value, Text(f"industry.{i.value}")) for i in Industry),
            ),
            Question(
                "employees",
                Text(q + "employees"),
                kind=QuestionKind.INTEGER,
                validator=integer_answer(parse=parse_int, min_value=0, max_value=MAX_EMPLOYEES),
            ),
            Question("founding", Text(q + "founding"), validator=_founding_answer),
            Question(
                "topics",
                Text(q + "topics"),
                kind=QuestionKind.MULTI_CHOICE,
                choices=tuple(Choice(t.value, Text(f"topic.{t.value}")) for t in OFFERED_TOPICS),
            ),
            Question(
                "description",
                Text(q + "description"),
                validator=text_answer(max_length=MAX_DESCRIPTION, normalize=_keep_lines),
            ),
            Question(
                "mode",
                Text(q + "mode"),
                kind=QuestionKind.CHOICE,
                choices=tuple(
                    Choice(m.value, Text(f"intake.mode.{m.value}"))
                    for m in (BookingMode.VISIT, BookingMode.ONLINE)
                ),
            ),
        ),
    )


def _keep_lines(raw: str) -> str:
    # A description is written in paragraphs; only the ends are trimmed.
    return raw.strip()


def flow_for(channel: ChannelContext) -> Flow:
    return build_flow(national=channel.national or channel.hub_id is None)


async def known_answers(session: AsyncSession, person: Person) -> dict[str, AnswerValue]:
    """What a returning owner told us before, so they are not asked it again."""
    known: dict[str, AnswerValue] = {}
    if person.family_name and person.given_name:
        known["owner_name"] = f"{person.family_name} {person.given_name}"
    elif person.display_name:
        known["owner_name"] = person.display_name
    business = await cases.owner_business(session, person.id)
    if business is None:
        return known
    known["business_name"] = business.name
    prefecture = BY_CODE.get(business.prefecture_code or "")
    if prefecture is not None:
        known["prefecture"] = prefecture.name_ja
    if business.municipality:
        known["municipality"] = business.municipality
    if business.industry in {i.value for i in Industry}:
        known["industry"] = business.industry
    if business.employees is not None:
        known["employees"] = business.employees
    if business.founding_date is not None or business.founding_planned:
        known["founding"] = founding_text(
            business.founding_planned, business.founding_date, business.founding_precision
        )
    return known


# Entry points for the owner router --------------------------------------------------------


async def start(ctx: OwnerContext) -> None:
    """Begin the intake, or pick up the one the owner left (stopped or idle) where it was."""
    flow = flow_for(ctx.channel)
    previous = await ctx.conversations.load(ctx.conversation_key)
    if previous is not None and previous.flow_id == FLOW_ID and previous.status is not Status.DONE:
        state, reply = _resume(flow, previous, ctx)
    else:
        known = await known_answers(ctx.session, ctx.owner.person)
        state, reply = start_conversation(flow, ctx.conversation_key, ctx.now, known=known)
    await ctx.conversations.save(state)
    if state.status is Status.DONE:
        await _complete(ctx, flow, state, reply)
    else:
        ctx.say(message_for(reply))


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    """The owner answered (typed or tapped) while the intake is open."""
    if state.finished:
        await start(ctx)
        return
    flow = flow_for(ctx.channel)
    raw = conversation_input(ctx.event)
    state, reply = answer(flow, state, _UNEXPECTED_INPUT if raw is None else raw, ctx.now)
    await ctx.conversations.save(state)
    if state.status is Status.DONE:
        await _complete(ctx, flow, state, reply)
    elif state.status is Status.CANCELLED:
        ctx.say(OutgoingMessage(texts=(*reply.texts, Text("intake.resume_from_menu"))))
    else:
        ctx.say(message_for(reply))


def _resume(
    flow: Flow, previous: ConversationState, ctx: OwnerContext
) -> tuple[ConversationState, Reply]:
    state = ConversationState.from_json(previous.to_json(), flow)
    if state.status is Status.EXPIRED or ctx.now >= state.expires_at:
        # Idle past the expiry: ask whether to continue or start over, as the engine does.
        state.status = Status.ACTIVE
        state.expires_at = ctx.now
        return answer(flow, state, "", ctx.now)
    # Stopped with やめる, or the menu tapped mid-way: straight back to the open question.
    state.status = Status.EXPIRED
    return answer(flow, state, Command.CONTINUE.value, ctx.now)


async def _complete(ctx: OwnerContext, flow: Flow, state: ConversationState, reply: Reply) -> None:
    answers = intake_answers(decode_answers(flow, state.answers), today=to_jst(ctx.now).date())
    created = await cases.create_case_from_intake(
        ctx.session,
        person=ctx.owner.person,
        answers=answers,
        channel_hub_id=ctx.channel.hub_id,
        now=ctx.now,
        queue=ctx.queue,
    )
    received = (*reply.texts, Text("intake.received", number=created.case.number))
    ctx.say(OutgoingMessage(texts=received))
    from core.owners import booking  # booking links back to the intake for owners with no case

    await booking.start(ctx, case_id=created.case.id)
