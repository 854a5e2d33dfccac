"""The satisfaction survey and the CO review, as the owner answers them on LINE.

```mermaid
stateDiagram-v2
    [*] --> rate: push (scheduler)
    rate --> comment: survey.rate (stored once)
    comment --> stars: text (stored) / survey.skip
    stars --> review_comment: survey.stars (CoReview stored once)
    review_comment --> [*]: text (stored) / survey.done
```

Postback actions:
    survey.rate   s, v   the five-point answer (v 5 = 大変満足 .. 1 = 大変不満)
    survey.skip   s      no comment: on to the CO review
    survey.stars  s, v   1..5 stars for the CO who consulted
    survey.done   s      no comment on the CO: finished

The rating counts once: a second tap is thanked and not counted; a survey past its expiry is
answered politely and not counted. The two comments are typed: a conversation (flow
"survey") waits for them, unless the owner is in the middle of another dialog, which is never
overwritten (the comment is then skipped).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from core.conversation import ConversationState, Status
from core.db.models import ConsultationRecord, Coordinator, Survey
from core.domain.enums import SurveyKind, SurveyStatus
from core.i18n import Text
from core.messages import Action, OutgoingMessage
from core.owners import postbacks
from core.owners.context import OwnerContext
from core.owners.events import OwnerEventKind
from core.surveys.planning import COMMENT_QUESTION, RATE_ACTION, SATISFACTION_QUESTION, SCALE
from core.surveys.store import record_answer, record_review, review_for_survey

FLOW_ID: Final = "survey"
SKIP_ACTION: Final = "survey.skip"
STARS_ACTION: Final = "survey.stars"
DONE_ACTION: Final = "survey.done"

COMMENT_STEP: Final = "comment"
REVIEW_COMMENT_STEP: Final = "review_comment"
COMMENT_WINDOW: Final = timedelta(days=1)
"""How long a typed comment is waited for."""
MAX_COMMENT: Final = 1000


async def start(ctx: OwnerContext) -> None:
    """Surveys start from the scheduler's push, never from the menu."""
    ctx.say(OutgoingMessage(texts=(Text("owner.menu_hint"),)))


async def on_postback(ctx: OwnerContext, action: str, values: dict[str, str]) -> bool:
    if action not in (RATE_ACTION, SKIP_ACTION, STARS_ACTION, DONE_ACTION):
        return False
    survey = await _owned_survey(ctx, values.get("s"))
    if survey is None:
        ctx.say(OutgoingMessage(texts=(Text("survey.not_found"),)))
        return True
    if action == RATE_ACTION:
        await _rate(ctx, survey, _int(values.get("v")))
    elif action == SKIP_ACTION:
        await _end_conversation(ctx, survey)
        await _ask_stars(ctx, survey, lead=())
    elif action == STARS_ACTION:
        await _stars(ctx, survey, _int(values.get("v")))
    else:
        await _end_conversation(ctx, survey)
        ctx.say(OutgoingMessage(texts=(Text("survey.finished"),)))
    return True


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    """A typed comment (or anything else while one is awaited)."""
    survey = await _owned_survey(ctx, str(state.answers.get("s", "")))
    if survey is None or state.expires_at <= ctx.now or state.status is not Status.ACTIVE:
        # Typed after the window: still their comment, and a person reads it (core.chat).
        await ctx.conversations.delete(state.key)
        from core.chat import owner_side

        late = survey.case_id if survey is not None else None
        await owner_side.relay(ctx, late_comment_on=late)
        return
    text = (ctx.event.text or "").strip() if ctx.event.kind is OwnerEventKind.TEXT else ""
    if not text:
        # A sticker, an unrelated button: ask again what we are waiting for.
        if state.step == COMMENT_STEP:
            ctx.say(_comment_prompt(survey, lead=()))
        else:
            ctx.say(_review_comment_prompt(survey))
        return
    await ctx.conversations.delete(state.key)
    if state.step == COMMENT_STEP:
        await record_answer(
            ctx.session, survey.id, COMMENT_QUESTION, text[:MAX_COMMENT], now=ctx.now
        )
        await _ask_stars(ctx, survey, lead=(Text("survey.comment_thanks"),))
        return
    review = await review_for_survey(ctx.session, survey.id)
    if review is not None and review.comment is None:
        review.comment = text[:MAX_COMMENT]
    ctx.say(OutgoingMessage(texts=(Text("survey.finished"),)))


# -- steps -----------------------------------------------------------------------------------


async def _rate(ctx: OwnerContext, survey: Survey, value: int | None) -> None:
    level = SCALE.get(value) if value is not None else None
    if level is None:
        ctx.say(OutgoingMessage(texts=(Text("survey.not_found"),)))
        return
    if survey.status is SurveyStatus.ANSWERED:
        ctx.say(OutgoingMessage(texts=(Text("survey.already_answered"),)))
        return
    if _expired(ctx, survey):
        ctx.say(OutgoingMessage(texts=(Text("survey.expired"),)))
        return
    if not await record_answer(
        ctx.session, survey.id, SATISFACTION_QUESTION, level.value, now=ctx.now
    ):
        ctx.say(OutgoingMessage(texts=(Text("survey.already_answered"),)))
        return
    survey.status = SurveyStatus.ANSWERED
    survey.answered_at = ctx.now
    lead = (Text("survey.thanks"),)
    if await _wait_for_text(ctx, survey, COMMENT_STEP):
        ctx.say(_comment_prompt(survey, lead=lead))
    else:
        await _ask_stars(ctx, survey, lead=lead)


async def _ask_stars(ctx: OwnerContext, survey: Survey, *, lead: tuple[Text, ...]) -> None:
    co = await _consultation_co(ctx, survey)
    if co is None or await review_for_survey(ctx.session, survey.id) is not None:
        ctx.say(OutgoingMessage(texts=(*lead, Text("survey.finished"))))
        return
    ctx.say(
        OutgoingMessage(
            texts=(*lead, Text("survey.review.question", co=co.name)),
            choices=tuple(
                Action(
                    Text(f"survey.review.stars_{n}"),
                    postbacks.encode(STARS_ACTION, s=survey.id, v=n),
                )
                for n in (5, 4, 3, 2, 1)
            ),
        )
    )


async def _stars(ctx: OwnerContext, survey: Survey, value: int | None) -> None:
    if survey.status is not SurveyStatus.ANSWERED:
        # Stars come after the rating; an expired or unanswered survey takes none.
        text = "survey.expired" if _expired(ctx, survey) else "survey.not_found"
        ctx.say(OutgoingMessage(texts=(Text(text),)))
        return
    co = await _consultation_co(ctx, survey)
    if co is None or value is None or not 1 <= value <= 5 or survey.consultation_id is None:
        ctx.say(OutgoingMessage(texts=(Text("survey.finished"),)))
        return
    stored = await record_review(
        ctx.session,
        consultation_id=survey.consultation_id,
        co_id=co.id,
        survey_id=survey.id,
        stars=value,
        now=ctx.now,
    )
    if not stored:
        ctx.say(OutgoingMessage(texts=(Text("survey.review.already"),)))
        return
    if await _wait_for_text(ctx, survey, REVIEW_COMMENT_STEP):
        ctx.say(_review_comment_prompt(survey, lead=(Text("survey.review.thanks"),)))
    else:
        ctx.say(OutgoingMessage(texts=(Text("survey.review.thanks"), Text("survey.finished"))))


# -- helpers ---------------------------------------------------------------------------------


def _comment_prompt(survey: Survey, *, lead: tuple[Text, ...]) -> OutgoingMessage:
    return OutgoingMessage(
        texts=(*lead, Text("survey.comment_prompt")),
        choices=(Action(Text("survey.skip"), postbacks.encode(SKIP_ACTION, s=survey.id)),),
    )


def _review_comment_prompt(survey: Survey, *, lead: tuple[Text, ...] = ()) -> OutgoingMessage:
    return OutgoingMessage(
        texts=(*lead, Text("survey.review.comment_prompt")),
        choices=(
            Action(Text("survey.review.no_comment"), postbacks.encode(DONE_ACTION, s=survey.id)),
        ),
    )


def _expired(ctx: OwnerContext, survey: Survey) -> bool:
    if survey.status in (SurveyStatus.EXPIRED, SurveyStatus.CANCELLED):
        return True
    return survey.expires_at is not None and survey.expires_at <= ctx.now


async def _wait_for_text(ctx: OwnerContext, survey: Survey, step: str) -> bool:
    """Open (or move) the survey conversation to wait for a typed comment.

    False when the owner is in another dialog: that one is never overwritten.
    """
    current = await ctx.conversations.load(ctx.conversation_key)
    if (
        current is not None
        and current.flow_id != FLOW_ID
        and current.status is Status.ACTIVE
        and current.expires_at > ctx.now
    ):
        return False
    await ctx.conversations.save(
        ConversationState(
            key=ctx.conversation_key,
            flow_id=FLOW_ID,
            status=Status.ACTIVE,
            step=step,
            answers={"s": str(survey.id)},
            started_at=ctx.now,
            updated_at=ctx.now,
            expires_at=ctx.now + COMMENT_WINDOW,
        )
    )
    return True


async def _end_conversation(ctx: OwnerContext, survey: Survey) -> None:
    current = await ctx.conversations.load(ctx.conversation_key)
    if current is not None and current.flow_id == FLOW_ID:
        await ctx.conversations.delete(current.key)


async def _consultation_co(ctx: OwnerContext, survey: Survey) -> Coordinator | None:
    if survey.consultation_id is None:
        return None
    record = await ctx.session.get(ConsultationRecord, survey.consultation_id)
    if record is None:
        return None
    return await ctx.session.get(Coordinator, record.co_id)


async def _owned_survey(ctx: OwnerContext, raw_id: str | None) -> Survey | None:
    survey_id = _int(raw_id)
    if survey_id is None:
        return None
    survey = await ctx.session.get(Survey, survey_id)
    if survey is None or survey.person_id != ctx.owner.person.id:
        return None
    if survey.kind is not SurveyKind.SATISFACTION:
        return None
    return survey


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None
