"""The owner's answer to a post-founding follow-up: 順調です / 少し不安 / 相談したい.

Postback actions:
    followup.answer  f, v   f: the follow-up survey's id; v: fine | unsure | help

* fine (順調です): thanks.
* unsure (少し不安): thanks, and the self-check (a=menu.selfcheck) or a consultation.
* help (相談したい): a case in the hub's queue (source followup; the owner's open case when
  there is one), and a Slack DM to the CO who helped before.

The first answer counts; a second is thanked and changes nothing (no second case). A
follow-up past its expiry is answered politely and not counted.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select

from core.conversation import ConversationState
from core.db.models import (
    AuditLog,
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    Hub,
    Survey,
)
from core.domain.enums import (
    OPEN_CASE_STATUSES,
    ActorKind,
    CaseSource,
    CaseStatus,
    Platform,
    SurveyKind,
    SurveyStatus,
)
from core.followups.planning import ANSWER_ACTION, ANSWERS, QUESTION
from core.i18n import Text
from core.messages import Action, OutgoingMessage
from core.outbox import store as outbox
from core.owners import booking, postbacks
from core.owners.cases import open_queued_case
from core.owners.context import OwnerContext
from core.surveys.store import record_answer

FLOW_ID: Final = "followup"
SLACK_TEAM: Final = "default"


async def start(ctx: OwnerContext) -> None:
    """Follow-ups start from the scheduler's push, never from the menu."""
    ctx.say(OutgoingMessage(texts=(Text("owner.menu_hint"),)))


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    """Follow-ups keep no conversation; should one exist, drop it."""
    await ctx.conversations.delete(state.key)
    ctx.say(OutgoingMessage(texts=(Text("owner.menu_hint"),)))


async def on_postback(ctx: OwnerContext, action: str, values: dict[str, str]) -> bool:
    if action != ANSWER_ACTION:
        return False
    survey = await _owned_survey(ctx, values.get("f"))
    answer = values.get("v", "")
    if survey is None or answer not in ANSWERS:
        ctx.say(OutgoingMessage(texts=(Text("followup.not_found"),)))
        return True
    if survey.status is SurveyStatus.ANSWERED:
        ctx.say(OutgoingMessage(texts=(Text("followup.already_answered"),)))
        return True
    if survey.status in (SurveyStatus.EXPIRED, SurveyStatus.CANCELLED) or (
        survey.expires_at is not None and survey.expires_at <= ctx.now
    ):
        ctx.say(OutgoingMessage(texts=(Text("followup.expired"),)))
        return True
    if not await record_answer(ctx.session, survey.id, QUESTION, answer, now=ctx.now):
        ctx.say(OutgoingMessage(texts=(Text("followup.already_answered"),)))
        return True
    survey.status = SurveyStatus.ANSWERED
    survey.answered_at = ctx.now
    if answer == "fine":
        ctx.say(OutgoingMessage(texts=(Text("followup.fine"),)))
    elif answer == "unsure":
        ctx.say(
            OutgoingMessage(
                texts=(Text("followup.unsure"),),
                choices=(
                    Action(Text("followup.selfcheck"), postbacks.encode(postbacks.MENU_SELFCHECK)),
                    Action(Text("followup.book"), postbacks.encode(postbacks.MENU_BOOK)),
                ),
            )
        )
    else:
        case = await open_followup_case(ctx, survey)
        ctx.say(
            OutgoingMessage(
                texts=(Text("followup.help", number=case.number),),
                choices=(
                    Action(Text("followup.book"), postbacks.encode(booking.START, c=case.id)),
                ),
            )
        )
    return True


async def open_followup_case(ctx: OwnerContext, survey: Survey) -> Case:
    """The owner wants to consult again: their open case, or a new one in the hub's queue;
    either way the CO who helped before hears it on Slack."""
    previous = await ctx.session.get(Case, survey.case_id)
    if previous is None:
        raise LookupError(f"case {survey.case_id} of survey {survey.id} does not exist")
    case = await _open_case(ctx, previous)
    created = case is None
    if case is None:
        case = await _new_case(ctx, previous, survey.id)
    co = await _previous_co(ctx, previous)
    if co is not None and co.slack_user_id:
        business = (
            await ctx.session.get(Business, previous.business_id) if previous.business_id else None
        )
        await outbox.add_message(
            ctx.session,
            platform=Platform.SLACK,
            channel_id=co.slack_team_id or SLACK_TEAM,
            recipient=co.slack_user_id,
            kind="slack_message",
            message=OutgoingMessage(
                texts=(
                    Text(
                        "followup.co_dm",
                        case=case.number,
                        previous=previous.number,
                        business=business.name if business is not None else "-",
                    ),
                )
            ),
            idempotency_key=f"followup:{survey.id}:co",
            now=ctx.now,
            case_id=case.id,
            hub_id=case.hub_id,
        )
    ctx.session.add(
        AuditLog(
            at=ctx.now,
            actor_kind=ActorKind.PERSON,
            actor_id=ctx.owner.person.id,
            action="followup.help",
            case_id=case.id,
            hub_id=case.hub_id,
            details={"survey_id": survey.id, "previous_case_id": previous.id, "new": created},
        )
    )
    return case


async def _open_case(ctx: OwnerContext, previous: Case) -> Case | None:
    conditions = [Case.person_id == ctx.owner.person.id]
    if previous.business_id is not None:
        conditions.append(Case.business_id == previous.business_id)
    found: Case | None = await ctx.session.scalar(
        select(Case)
        .where(*conditions, Case.status.in_(tuple(OPEN_CASE_STATUSES)))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return found


async def _new_case(ctx: OwnerContext, previous: Case, survey_id: int) -> Case:
    hub = await ctx.session.get(Hub, previous.hub_id)
    if hub is None:
        raise LookupError(f"hub {previous.hub_id} does not exist")
    now = ctx.now
    person_id = ctx.owner.person.id
    return await open_queued_case(
        ctx.session,
        hub,
        lambda number: Case(
            number=number,
            hub_id=hub.id,
            business_id=previous.business_id,
            person_id=person_id,
            source=CaseSource.FOLLOWUP,
            topics=list(previous.topics),
            preferred_mode=previous.preferred_mode,
            status=CaseStatus.QUEUED,
            created_at=now,
            updated_at=now,
        ),
        actor_id=person_id,
        now=now,
        queue=ctx.queue,
        details={
            "source": CaseSource.FOLLOWUP.value,
            "previous_case_id": previous.id,
            "business_id": previous.business_id,
        },
        note=f"follow-up survey {survey_id}",
    )


async def _previous_co(ctx: OwnerContext, previous: Case) -> Coordinator | None:
    """Who consulted the business last (or, without a record, who held the case)."""
    query = select(ConsultationRecord.co_id).join(Case, Case.id == ConsultationRecord.case_id)
    if previous.business_id is not None:
        query = query.where(Case.business_id == previous.business_id)
    else:
        query = query.where(Case.id == previous.id)
    co_id: int | None = await ctx.session.scalar(
        query.order_by(ConsultationRecord.held_on.desc(), ConsultationRecord.id.desc()).limit(1)
    )
    if co_id is None:
        co_id = previous.assigned_co_id
    if co_id is None:
        return None
    co = await ctx.session.get(Coordinator, co_id)
    return co if co is not None and co.active else None


async def _owned_survey(ctx: OwnerContext, raw_id: str | None) -> Survey | None:
    try:
        survey_id = int(raw_id) if raw_id else None
    except ValueError:
        return None
    if survey_id is None:
        return None
    survey = await ctx.session.get(Survey, survey_id)
    if survey is None or survey.person_id != ctx.owner.person.id:
        return None
    return survey if survey.kind is SurveyKind.FOLLOWUP else None
