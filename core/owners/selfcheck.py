"""経営セルフチェック on LINE: ten quick questions, then an optional break-even calculator.

One conversation carries both parts so that "戻る", "やめる" and resuming after a pause work
the same everywhere (see selfcheck.md beside this file). The results are stored for the
coordinator as soon as each part is complete: a checklist the owner abandoned at the
calculator offer still reaches the CO. Both end with an invitation to book, because the
point of the self-check is to bring owners who would not otherwise come to a hub.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import conversation as engine
from core.conversation import (
    AnswerValue,
    Choice,
    ConversationState,
    Flow,
    Question,
    QuestionKind,
    Status,
    Validator,
)
from core.db.models import Case
from core.db.models.selfchecks import SelfCheckResult
from core.domain.enums import CaseStatus
from core.domain.topics import Topic
from core.i18n import Text
from core.messages import Action, Card, OutgoingMessage
from core.owners import postbacks
from core.owners.context import OwnerContext
from core.owners.replies import conversation_input, message_for
from core.selfcheck import (
    ANSWER_LABELS,
    CHECKLIST,
    Answer,
    BreakEven,
    ChecklistResult,
    SelfCheckKind,
    Verdict,
    calculate,
    round_to_man,
    score_checklist,
)
from core.text.normalize import parse_yen

FLOW_ID: Final = "selfcheck"
BOOK_ACTION: Final = "menu.book"
"""The rich menu's 相談を予約する: the router starts the booking flow on it."""

OFFER_KEY: Final = "calculate"
AMOUNT_KEYS: Final = ("sales", "variable_costs", "fixed_costs")
MAX_AMOUNT_YEN: Final = 10**13
"""¥10 trillion: far beyond any SME, so a larger figure is a typing slip worth re-asking."""

_CHECKLIST_KEYS: Final = frozenset(entry.key for entry in CHECKLIST)
_UNEXPECTED_INPUT: Final = "__unexpected__"
"""Fed to the engine when the event says nothing to the question (an unrelated button): the
engine answers such reserved input with a polite re-ask of the current question."""
_OPEN_CASE_EXCLUDED: Final = (CaseStatus.CLOSED, CaseStatus.CANCELLED)


def _amount_answer(*, minimum: int, too_small: Text) -> Validator:
    """Amounts as owners type them (1,200万円, 3億, 500千円), re-asked with an example."""

    def validate(raw: str) -> AnswerValue | Text:
        value = parse_yen(raw)
        if value is None:
            return Text("selfcheck.calc.error.amount")
        if value < minimum:
            return too_small
        if value > MAX_AMOUNT_YEN:
            return Text("selfcheck.calc.error.too_large")
        return value

    return validate


def _calculating(answers: Mapping[str, AnswerValue]) -> bool:
    return answers.get(OFFER_KEY) is True


_ANSWER_CHOICES: Final = tuple(Choice(answer.value, ANSWER_LABELS[answer]) for answer in Answer)

FLOW: Final = Flow(
    id=FLOW_ID,
    intro=Text("selfcheck.intro"),
    done_text=Text("selfcheck.done"),
    questions=(
        *(
            Question(entry.key, entry.question, QuestionKind.CHOICE, choices=_ANSWER_CHOICES)
            for entry in CHECKLIST
        ),
        Question(OFFER_KEY, Text("selfcheck.calc.offer"), QuestionKind.YES_NO),
        Question(
            "sales",
            Text("selfcheck.calc.sales"),
            QuestionKind.INTEGER,
            validator=_amount_answer(minimum=1, too_small=Text("selfcheck.calc.error.no_sales")),
            ask_if=_calculating,
        ),
        Question(
            "variable_costs",
            Text("selfcheck.calc.variable_costs"),
            QuestionKind.INTEGER,
            validator=_amount_answer(minimum=0, too_small=Text("selfcheck.calc.error.amount")),
            ask_if=_calculating,
        ),
        Question(
            "fixed_costs",
            Text("selfcheck.calc.fixed_costs"),
            QuestionKind.INTEGER,
            validator=_amount_answer(minimum=0, too_small=Text("selfcheck.calc.error.amount")),
            ask_if=_calculating,
        ),
    ),
)


# The conversation -------------------------------------------------------------------------


async def start(ctx: OwnerContext) -> None:
    """Begin (or begin again): a fresh run replaces any dialog the owner was in."""
    state, reply = engine.start(FLOW, ctx.conversation_key, ctx.now)
    await ctx.conversations.save(state)
    ctx.say(message_for(reply))


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    if state.finished:
        ctx.say(OutgoingMessage(texts=(Text("owner.menu_hint"),)))
        return
    given = engine_input(ctx)
    asked = state.step
    state, reply = engine.answer(FLOW, state, given, ctx.now)
    await ctx.conversations.save(state)
    person_id = ctx.owner.person.id

    lead: tuple[Text, ...] = ()
    if _checklist_completed(asked, state):
        checklist = score_checklist(checklist_answers(state.answers))
        await save_checklist(
            ctx.session,
            person_id=person_id,
            answers=checklist_answers(state.answers),
            result=checklist,
            run_started_at=state.started_at,
            now=ctx.now,
        )
        lead = checklist_summary(checklist)

    if state.status is Status.DONE:
        figures = breakeven_of(state.answers)
        if figures is not None:
            await save_breakeven(ctx.session, person_id=person_id, figures=figures, now=ctx.now)
        ctx.say(final_message(reply.texts, figures))
        return
    message = message_for(reply)
    ctx.say(dataclasses.replace(message, texts=(*lead, *message.texts)))


def engine_input(ctx: OwnerContext) -> str:
    given = conversation_input(ctx.event)
    return _UNEXPECTED_INPUT if given is None else given


def _checklist_completed(asked: str | None, state: ConversationState) -> bool:
    """The answer just given finished the checklist (the first time, or again after 戻る)."""
    return (
        asked in _CHECKLIST_KEYS
        and state.status is Status.ACTIVE
        and state.step == OFFER_KEY
        and set(state.answers) >= _CHECKLIST_KEYS
    )


def checklist_answers(answers: Mapping[str, AnswerValue]) -> dict[str, str]:
    return {key: str(value) for key, value in answers.items() if key in _CHECKLIST_KEYS}


def breakeven_of(answers: Mapping[str, AnswerValue]) -> BreakEven | None:
    """The calculation, when the owner took the calculator and gave all three amounts."""
    if not _calculating(answers):
        return None
    sales, variable, fixed = (answers.get(key) for key in AMOUNT_KEYS)
    if not (isinstance(sales, int) and isinstance(variable, int) and isinstance(fixed, int)):
        return None
    return calculate(sales, variable, fixed)


# What the owner reads ---------------------------------------------------------------------


def yen(amount: int) -> Text:
    # The sign goes before ¥ in English, so negative amounts have a text of their own.
    if amount < 0:
        return Text("selfcheck.amount_negative", yen=-amount)
    return Text("selfcheck.amount", yen=amount)


def about_yen(amount: int) -> Text:
    """Amounts in a sentence are rounded to 万円: nobody plans to the yen."""
    return yen(round_to_man(amount))


def percent(value: object) -> Text:
    return Text("selfcheck.percent", value=str(value))


def checklist_summary(result: ChecklistResult) -> tuple[Text, ...]:
    texts = [
        Text("selfcheck.checklist.score", score=result.score, max=result.max_score),
        Text(f"selfcheck.checklist.level.{result.level.value}"),
    ]
    if result.weak:
        texts.append(Text("selfcheck.checklist.weak", areas=result.weak_areas))
    return tuple(texts)


def verdict_texts(figures: BreakEven) -> tuple[Text, ...]:
    """Plain-language reading of the figures; the exact numbers are on the card."""
    if figures.verdict is Verdict.NO_MARGIN:
        if figures.sales == 0:
            return (Text("selfcheck.verdict.no_sales"),)
        key = "no_margin_zero" if figures.marginal_profit == 0 else "no_margin"
        return (Text(f"selfcheck.verdict.{key}"),)
    assert figures.break_even_sales is not None
    assert figures.sales_gap is not None
    break_even = about_yen(figures.break_even_sales)
    safety = percent(figures.safety_margin_ratio)
    if figures.verdict is Verdict.LOSS:
        return (
            Text(
                "selfcheck.verdict.loss",
                break_even=break_even,
                gap=about_yen(-figures.sales_gap),
                loss=about_yen(-figures.operating_profit),
            ),
        )
    if figures.sales_gap == 0:
        return (Text("selfcheck.verdict.even", break_even=break_even),)
    key = "healthy" if figures.verdict is Verdict.HEALTHY else "thin"
    return (
        Text(
            f"selfcheck.verdict.{key}",
            break_even=break_even,
            gap=about_yen(figures.sales_gap),
            safety=safety,
        ),
    )


def result_card(figures: BreakEven) -> Card:
    none = Text("selfcheck.result.not_applicable")

    def ratio(value: object) -> Text:
        return none if value is None else percent(value)

    rows = (
        (Text("selfcheck.result.sales"), yen(figures.sales)),
        (Text("selfcheck.result.variable_costs"), yen(figures.variable_costs)),
        (Text("selfcheck.result.fixed_costs"), yen(figures.fixed_costs)),
        (Text("selfcheck.result.marginal_profit"), yen(figures.marginal_profit)),
        (Text("selfcheck.result.marginal_profit_ratio"), ratio(figures.marginal_profit_ratio)),
        (
            Text("selfcheck.result.break_even_sales"),
            none if figures.break_even_sales is None else yen(figures.break_even_sales),
        ),
        (Text("selfcheck.result.safety_margin_ratio"), ratio(figures.safety_margin_ratio)),
    )
    return Card(
        title=Text("selfcheck.result.title"),
        rows=rows,
        alt_text=Text("selfcheck.result.title"),
    )


def book_choice() -> Action:
    return Action(Text("selfcheck.book"), postbacks.encode(BOOK_ACTION))


def final_message(done: tuple[Text, ...], figures: BreakEven | None) -> OutgoingMessage:
    """Thanks, the reading of the figures (if calculated), and the invitation to book."""
    if figures is None:
        return OutgoingMessage(
            texts=(*done, Text("selfcheck.invite")),
            choices=(book_choice(),),
        )
    return OutgoingMessage(
        texts=(
            *done,
            *verdict_texts(figures),
            Text("selfcheck.result.note"),
            Text("selfcheck.invite"),
        ),
        card=result_card(figures),
        choices=(book_choice(),),
    )


# Storage for the coordinator --------------------------------------------------------------


async def open_case_id(session: AsyncSession, person_id: int) -> int | None:
    """The owner's latest case still in progress: where a CO will look for the results."""
    case_id: int | None = await session.scalar(
        select(Case.id)
        .where(Case.person_id == person_id, Case.status.not_in(_OPEN_CASE_EXCLUDED))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return case_id


async def save_checklist(
    session: AsyncSession,
    *,
    person_id: int,
    answers: Mapping[str, str],
    result: ChecklistResult,
    run_started_at: datetime,
    now: datetime,
) -> SelfCheckResult:
    """Store the checklist; changed answers in the same run (after 戻る) update the row.

    One run, one row: a CO should not have to guess which of two near-identical results
    the owner meant.
    """
    row = await session.scalar(
        select(SelfCheckResult)
        .where(
            SelfCheckResult.person_id == person_id,
            SelfCheckResult.kind == SelfCheckKind.CHECKLIST,
            SelfCheckResult.created_at >= run_started_at,
        )
        .order_by(SelfCheckResult.id.desc())
        .limit(1)
    )
    if row is None:
        row = SelfCheckResult(
            person_id=person_id,
            case_id=await open_case_id(session, person_id),
            kind=SelfCheckKind.CHECKLIST,
            created_at=now,
        )
        session.add(row)
    row.answers = dict(answers)
    row.result = result.to_json()
    await session.flush()
    return row


async def save_breakeven(
    session: AsyncSession, *, person_id: int, figures: BreakEven, now: datetime
) -> SelfCheckResult:
    row = SelfCheckResult(
        person_id=person_id,
        case_id=await open_case_id(session, person_id),
        kind=SelfCheckKind.BREAKEVEN,
        answers={
            "sales": figures.sales,
            "variable_costs": figures.variable_costs,
            "fixed_costs": figures.fixed_costs,
        },
        result=figures.to_json(),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def attach_to_case(session: AsyncSession, *, person_id: int, case_id: int) -> int:
    """Link the person's results not yet tied to a case (call it when a case is opened)."""
    outcome = await session.execute(
        update(SelfCheckResult)
        .where(SelfCheckResult.person_id == person_id, SelfCheckResult.case_id.is_(None))
        .values(case_id=case_id)
    )
    return int(getattr(outcome, "rowcount", 0) or 0)


async def latest_weak_topics(session: AsyncSession, person_id: int) -> tuple[Topic, ...]:
    """Topics the owner's latest checklist found weak: the booking flow can pre-select them."""
    row = await session.scalar(
        select(SelfCheckResult)
        .where(
            SelfCheckResult.person_id == person_id,
            SelfCheckResult.kind == SelfCheckKind.CHECKLIST,
        )
        .order_by(SelfCheckResult.created_at.desc(), SelfCheckResult.id.desc())
        .limit(1)
    )
    if row is None:
        return ()
    known = {topic.value for topic in Topic}
    return tuple(Topic(value) for value in row.result.get("weak_topics", []) if value in known)
