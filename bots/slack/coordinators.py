"""The coordinators' Slack side: the queue card's buttons, 👀 on a card, and the modals to
assign, transfer, book the consultation, record an outcome, hand back to a partner and ask
another hub.

Slack's 3-second rule lives here and nothing else does: every listener acknowledges first,
then either opens a modal (the trigger id works once, within 3 s) or stores the durable work
in the inbox (`deps.submit`), whose event id is a digest of the click or the submission, so
Slack's retries of one click are dropped there. A 👀 reaction arrives as an Events API event
that bots/slack/app.py stores in the inbox itself (kind "slack.event.reaction_added"). The
work handlers below run in the worker, inside the inbox row's transaction, and only call
core.coordinators.actions.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from slack_bolt.async_app import AsyncApp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack.deps import SlackDeps, WorkContext, work
from core.clock import to_jst
from core.coordinators import actions
from core.coordinators import booking as co_booking
from core.coordinators.cards import SLACK_TEAM, case_for_card, parse_postback
from core.coordinators.outcome import OutcomeForm, validate_outcome
from core.coordinators.stale import stale_reason
from core.coordinators.suggest import hub_coordinators, suggest_coordinators
from core.db.models import Case, Hub, PartnerOrganisation
from core.domain.enums import BookingMode, NextStep, Platform
from core.domain.topics import Topic
from core.i18n import Catalog, Text
from core.inbox import NewInboxEvent
from core.messages import OutgoingMessage
from core.outbox.store import add_message
from core.staff import StaffIdentity, resolve_slack_user

log = logging.getLogger(__name__)

CHOICE_ACTION: Final = re.compile(r"^choice:\d+$")
"""bots/slack/render.py names a neutral message's buttons choice:<n>; the value is the data."""
QUEUED_WORK: Final = {
    "case.claim": "slack.case.claim",
    "handback.accept": "slack.handback.accept",
    "askhub.accept": "slack.askhub.accept",
}
"""Buttons that need no form: the click itself is the durable work."""
MODALS: Final = {
    "case.assign": "co.assign",
    "case.transfer": "co.transfer",
    "case.outcome": "co.outcome",
    "case.handback": "co.handback",
    "case.askhub": "co.askhub",
    "case.book": "co.book",
    "handback.done": "partner.handback_done",
}
"""Buttons that open a modal, by the modal's callback id."""
MODAL_BUDGET: Final = 1.5
"""Seconds of database reading allowed before views.open: the trigger id dies at 3 s."""
HQ_CODE: Final = "00"
HUB_CODES: Final = tuple(f"{n:02d}" for n in range(48))


# -- small translations --------------------------------------------------------------------


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _team(body: Mapping[str, Any], default: str) -> str:
    team = body.get("team")
    team_id = team.get("id") if isinstance(team, Mapping) else None
    return str(team_id or body.get("team_id") or default)


def _user(body: Mapping[str, Any]) -> str:
    user = body.get("user")
    if isinstance(user, Mapping):
        return str(user.get("id") or "")
    return str(body.get("user_id") or user or "")


def _event(
    kind: str, team: str, user: str, event_id: str, payload: dict[str, Any]
) -> NewInboxEvent:
    return NewInboxEvent(
        platform=Platform.SLACK,
        channel_id=team,
        event_id=event_id,
        # Per person, like every Slack event: racing claims by different COs stay concurrent
        # and the case's atomic claim decides between them.
        ordering_key=f"slack:{team}:{user}",
        kind=kind,
        payload={"team": team, "user": user, "eid": event_id, **payload},
    )


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    text = text or "-"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(text), "value": value}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label, 2000),
        "element": {"action_id": "value", **element},
        "optional": optional,
    }


def _hub_label(code: str, catalog: Catalog, locale: str) -> str:
    if code == HQ_CODE:
        return catalog.text("hub.hq", locale)
    return catalog.render(Text("hub.name", prefecture=Text(f"prefecture.{code}")), locale)


def _hub_options(catalog: Catalog, locale: str) -> list[dict[str, Any]]:
    return [_option(_hub_label(code, catalog, locale), code) for code in HUB_CODES]


def _modal(
    callback_id: str,
    title: str,
    blocks: list[dict[str, Any]],
    metadata: dict[str, Any],
    submit: str,
    close: str,
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, 24),
        "submit": _plain(submit, 24),
        "close": _plain(close, 24),
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "blocks": blocks,
    }


def _values(view: Mapping[str, Any]) -> dict[str, Any]:
    """{block_id: the chosen value(s)} from a submitted view's state."""
    out: dict[str, Any] = {}
    for block_id, actions_by_id in (view.get("state") or {}).get("values", {}).items():
        element: dict[str, Any] = actions_by_id.get("value") or next(
            iter(actions_by_id.values()), {}
        )
        kind = element.get("type")
        if kind in ("static_select", "radio_buttons", "external_select"):
            out[block_id] = (element.get("selected_option") or {}).get("value")
        elif kind in ("multi_static_select", "checkboxes"):
            out[block_id] = [o.get("value") for o in element.get("selected_options") or []]
        elif kind == "datepicker":
            out[block_id] = element.get("selected_date")
        else:
            out[block_id] = element.get("value")
    return out


def outcome_form(values: Mapping[str, Any]) -> OutcomeForm:
    """The outcome modal's state as the core's unchecked form."""
    return OutcomeForm(
        held_on=values.get("held_on"),
        minutes=values.get("minutes"),
        issues=tuple(values.get("issues") or ()),
        issues_text=values.get("issues_text"),
        advice=values.get("advice"),
        result_confirmed="yes" in (values.get("result_confirmed") or ()),
        referral_org=values.get("referral_org"),
        referral_reason=values.get("referral_reason"),
        co_attending_org=values.get("co_attending_org"),
        phase=values.get("phase"),
        next_step=values.get("next_step"),
        follow_up_on=values.get("follow_up_on"),
    )


# -- modal views -----------------------------------------------------------------------------


async def _organisations(session: AsyncSession, case: Case) -> list[PartnerOrganisation]:
    """Partner organisations, the case's prefecture first; at most 100 (a select's limit)."""
    hub = await session.get(Hub, case.hub_id)
    prefecture = hub.prefecture_code if hub else None
    rows = (await session.scalars(select(PartnerOrganisation))).all()
    return sorted(rows, key=lambda o: (o.prefecture_code != prefecture, o.name, o.id))[:100]


async def build_modal(
    deps: SlackDeps,
    session: AsyncSession,
    name: str,
    params: Mapping[str, str],
    identity: StaffIdentity,
) -> dict[str, Any] | None:
    """The view the button `name` opens, or None when the case or referral is gone."""
    t, locale = deps.catalog.text, identity.locale
    submit, close = t("coordinators.modal.submit", locale), t("coordinators.modal.close", locale)
    callback = MODALS[name]
    if name == "handback.done":
        referral_id = params.get("r", "")
        blocks = [
            _input(
                "outcome",
                t("coordinators.modal.partner_outcome", locale),
                {"type": "plain_text_input", "multiline": True, "max_length": 2000},
            )
        ]
        meta: dict[str, Any] = {"r": referral_id, "l": locale}
        return _modal(
            callback,
            t("coordinators.modal.handback_done_title", locale),
            blocks,
            meta,
            submit,
            close,
        )
    case = await session.get(Case, int(params.get("c") or 0))
    if case is None:
        return None
    meta = {"c": case.id, "l": locale}
    if name == "case.book":
        return await book_modal(deps, session, case, identity)
    if name == "case.assign":
        suggested = await suggest_coordinators(session, case)
        everyone = await hub_coordinators(session, case.hub_id)
        seen = {co.id for co in suggested}
        options = [
            _option(t("coordinators.modal.suggested_option", locale, name=co.name), str(co.id))
            for co in suggested
        ] + [_option(co.name, str(co.id)) for co in everyone if co.id not in seen]
        if not options:
            return None
        blocks = [
            _input(
                "co",
                t("coordinators.modal.assignee", locale),
                {"type": "static_select", "options": options[:100]},
            )
        ]
        return _modal(
            callback, t("coordinators.modal.assign_title", locale), blocks, meta, submit, close
        )
    if name in ("case.transfer", "case.askhub"):
        hubs = [o for o in _hub_options(deps.catalog, locale)]
        blocks = [
            _input(
                "hub",
                t("coordinators.modal.hub", locale),
                {"type": "static_select", "options": hubs},
            ),
            _input(
                "reason",
                t("coordinators.modal.reason", locale),
                {"type": "plain_text_input", "multiline": True, "max_length": 1000},
                optional=name == "case.transfer",
            ),
        ]
        title = (
            "coordinators.modal.transfer_title"
            if name == "case.transfer"
            else "coordinators.modal.askhub_title"
        )
        return _modal(callback, t(title, locale), blocks, meta, submit, close)
    orgs = await _organisations(session, case)
    org_options = [_option(org.name, str(org.id)) for org in orgs]
    if name == "case.handback":
        if not org_options:
            return None
        blocks = [
            _input(
                "org",
                t("coordinators.modal.organisation", locale),
                {"type": "static_select", "options": org_options},
            ),
            _input(
                "reason",
                t("coordinators.modal.handback_reason", locale),
                {"type": "plain_text_input", "multiline": True, "max_length": 1000},
            ),
        ]
        return _modal(
            callback, t("coordinators.modal.handback_title", locale), blocks, meta, submit, close
        )
    return _modal(
        callback,
        t("coordinators.modal.outcome_title", locale),
        outcome_blocks(deps.catalog, locale, org_options, today=to_jst(deps.clock.now()).date()),
        meta,
        submit,
        close,
    )


async def book_modal(
    deps: SlackDeps, session: AsyncSession, case: Case, identity: StaffIdentity
) -> dict[str, Any]:
    """予約を入れる: the CO's next free hours (Japan time) and how the owner will attend.

    When the case cannot be booked, or the CO has no free hour, the modal says so and has
    no submit button, rather than not opening at all.
    """
    t, locale = deps.catalog.text, identity.locale
    title, close = t("coordinators.modal.book_title", locale), t("coordinators.modal.close", locale)
    now = deps.clock.now()
    try:
        slots = await co_booking.free_slots(session, case.id, identity.id, now=now)
    except actions.CaseActionError as refusal:
        return _notice(title, deps.catalog.render(refusal.message, locale), close)
    if not slots:
        text = t(
            "coordinators.modal.no_slots", locale, number=case.number, days=co_booking.SEARCH_DAYS
        )
        return _notice(title, text, close)
    slot_options = [
        _option(
            deps.catalog.render(co_booking.when_text(slot.starts_at), locale),
            str(int(slot.starts_at.timestamp())),
        )
        for slot in slots
    ]
    modes = [
        _option(t(f"coordinators.mode.{mode.value}", locale), mode.value)
        for mode in co_booking.MODES
    ]
    blocks = [
        _input(
            "slot",
            t("coordinators.modal.slot", locale),
            {"type": "static_select", "options": slot_options},
        ),
        _input(
            "mode",
            t("coordinators.modal.mode", locale),
            {"type": "radio_buttons", "options": modes, "initial_option": modes[0]},
        ),
    ]
    return _modal(
        "co.book",
        title,
        blocks,
        {"c": case.id, "l": locale},
        t("coordinators.modal.book_submit", locale),
        close,
    )


def _notice(title: str, text: str, close: str) -> dict[str, Any]:
    """A modal that only tells why nothing can be done (no submit, so nothing to send)."""
    return {
        "type": "modal",
        "callback_id": "co.notice",
        "title": _plain(title, 24),
        "close": _plain(close, 24),
        "blocks": [{"type": "section", "text": _plain(text, 3000)}],
    }


def booking_choice(values: Mapping[str, Any]) -> tuple[datetime, BookingMode] | None:
    """(start, mode) from the booking modal's state, or None when either is missing."""
    try:
        starts_at = datetime.fromtimestamp(int(values.get("slot") or ""), tz=UTC)
        mode = BookingMode(str(values.get("mode") or ""))
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return starts_at, mode


def outcome_blocks(
    catalog: Catalog, locale: str, org_options: list[dict[str, Any]], *, today: date
) -> list[dict[str, Any]]:
    t = catalog.text
    topics = [_option(catalog.text(f"topic.{topic.value}", locale), topic.value) for topic in Topic]
    blocks = [
        _input(
            "held_on",
            t("coordinators.modal.held_on", locale),
            {"type": "datepicker", "initial_date": today.isoformat()},
        ),
        _input(
            "minutes",
            t("coordinators.modal.minutes", locale),
            {"type": "plain_text_input", "initial_value": "60", "max_length": 4},
        ),
        _input(
            "issues",
            t("coordinators.modal.issues", locale),
            {"type": "multi_static_select", "options": topics},
            optional=True,
        ),
        _input(
            "issues_text",
            t("coordinators.modal.issues_text", locale),
            {"type": "plain_text_input", "multiline": True, "max_length": 2000},
            optional=True,
        ),
        _input(
            "advice",
            t("coordinators.modal.advice", locale),
            {"type": "plain_text_input", "multiline": True, "max_length": 3000},
            optional=True,
        ),
        _input(
            "result_confirmed",
            t("coordinators.modal.result", locale),
            {
                "type": "checkboxes",
                "options": [_option(t("coordinators.modal.result_confirmed", locale), "yes")],
            },
            optional=True,
        ),
    ]
    if org_options:
        blocks += [
            _input(
                "referral_org",
                t("coordinators.modal.referral_org", locale),
                {"type": "static_select", "options": org_options},
                optional=True,
            ),
            _input(
                "referral_reason",
                t("coordinators.modal.referral_reason", locale),
                {"type": "plain_text_input", "max_length": 1000},
                optional=True,
            ),
            _input(
                "co_attending_org",
                t("coordinators.modal.co_attending", locale),
                {"type": "static_select", "options": org_options},
                optional=True,
            ),
        ]
    phases = [
        _option(t("coordinators.modal.phase_1", locale), "1"),
        _option(t("coordinators.modal.phase_2", locale), "2"),
    ]
    steps = [
        _option(t("coordinators.modal.next_follow_up", locale), NextStep.FOLLOW_UP.value),
        _option(t("coordinators.modal.next_close", locale), NextStep.CLOSE.value),
    ]
    blocks += [
        _input(
            "phase",
            t("coordinators.modal.phase", locale),
            {"type": "radio_buttons", "options": phases, "initial_option": phases[0]},
        ),
        _input(
            "next_step",
            t("coordinators.modal.next_step", locale),
            {"type": "radio_buttons", "options": steps, "initial_option": steps[0]},
        ),
        _input(
            "follow_up_on",
            t("coordinators.modal.follow_up_on", locale),
            {"type": "datepicker", "initial_date": (today + timedelta(days=30)).isoformat()},
            optional=True,
        ),
    ]
    return blocks


# -- listeners -------------------------------------------------------------------------------


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """The queue card's buttons, 👀 reactions and the coordinators' modals."""

    async def ours(action: dict[str, Any]) -> bool:
        name, _ = parse_postback(str(action.get("value") or ""))
        return name in QUEUED_WORK or name in MODALS

    @app.action({"type": "block_actions", "action_id": CHOICE_ACTION}, matchers=[ours])
    async def on_button(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        team, user = _team(body, deps.default_team_id), _user(body)
        value = str(action.get("value") or "")
        name, params = parse_postback(value)
        if await _answered_stale(deps, client, body, team, user, name, params):
            return
        if name in QUEUED_WORK:
            event_id = _digest(
                "action", user, action.get("action_ts") or body.get("trigger_id"), value
            )
            await deps.submit(
                [
                    _event(
                        QUEUED_WORK[name],
                        team,
                        user,
                        event_id,
                        {"c": params.get("c"), "r": params.get("r")},
                    )
                ]
            )
            return
        trigger_id = body.get("trigger_id")
        if not trigger_id:
            return
        try:
            view = await asyncio.wait_for(_load_modal(deps, team, user, name, params), MODAL_BUDGET)
        except TimeoutError:
            log.warning("modal data too slow; not opened", extra={"modal": MODALS[name]})
            return
        if view is not None:
            await client.views_open(trigger_id=trigger_id, view=view)

    def submission(
        callback_id: str, kind: str, check: Callable[[dict[str, Any], str], dict[str, str]]
    ) -> None:
        @app.view(callback_id)
        async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
            meta = json.loads(view.get("private_metadata") or "{}")
            locale = str(meta.get("l") or "ja")
            values = _values(view)
            errors = check(values, locale)
            if errors:
                await ack(response_action="errors", errors=errors)
                return
            await ack()
            team, user = _team(body, deps.default_team_id), _user(body)
            event_id = _digest("view", view.get("id"), callback_id, user)
            await deps.submit(
                [
                    _event(
                        kind,
                        team,
                        user,
                        event_id,
                        {"c": meta.get("c"), "r": meta.get("r"), "values": values},
                    )
                ]
            )

    def required(*fields: str) -> Callable[[dict[str, Any], str], dict[str, str]]:
        def check(values: dict[str, Any], locale: str) -> dict[str, str]:
            return {
                name: deps.catalog.text("coordinators.error.required", locale)
                for name in fields
                if not str(values.get(name) or "").strip()
            }

        return check

    def check_outcome(values: dict[str, Any], locale: str) -> dict[str, str]:
        result = validate_outcome(outcome_form(values), today=to_jst(deps.clock.now()).date())
        if not isinstance(result, dict):
            return {}
        present = set(values)
        return {
            (name if name in present else _fallback_block(name, present)): deps.catalog.render(
                text, locale
            )
            for name, text in result.items()
        }

    @app.view("co.book")
    async def on_book(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Answer a slot that is no longer free on the form itself when the database says so
        in time; the worker books it (and tells by DM what only it can know: a lost race)."""
        meta = json.loads(view.get("private_metadata") or "{}")
        locale = str(meta.get("l") or "ja")
        values = _values(view)
        errors = required("slot", "mode")(values, locale)
        choice = booking_choice(values)
        if not errors and choice is None:
            errors = {"slot": deps.catalog.text("coordinators.error.unknown_choice", locale)}
        team, user = _team(body, deps.default_team_id), _user(body)
        if not errors and choice is not None:
            try:
                refusal = await asyncio.wait_for(
                    _check_booking(deps, team, user, _int(meta.get("c")), choice[0]),
                    MODAL_BUDGET,
                )
            except TimeoutError:
                refusal = None  # the worker checks again and answers by DM
            if refusal is not None:
                errors = {"slot": deps.catalog.render(refusal, locale)}
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        event_id = _digest("view", view.get("id"), "co.book", user)
        await deps.submit(
            [
                _event(
                    "slack.case.book", team, user, event_id, {"c": meta.get("c"), "values": values}
                )
            ]
        )

    submission("co.assign", "slack.case.assign", required("co"))
    submission("co.transfer", "slack.case.transfer", required("hub"))
    submission("co.askhub", "slack.case.askhub", required("hub", "reason"))
    submission("co.handback", "slack.case.handback", required("org", "reason"))
    submission("co.outcome", "slack.case.outcome", check_outcome)
    submission("partner.handback_done", "slack.handback.done", required("outcome"))


def _fallback_block(name: str, present: set[str]) -> str:
    """An error for a field the modal did not show lands on a block it did (Slack refuses
    errors for unknown block ids)."""
    return "issues" if "issues" in present else sorted(present)[0]


def _channel(body: Mapping[str, Any]) -> str | None:
    """The channel the button was pressed in (none for a button in the App Home or a modal)."""
    channel = body.get("channel")
    channel_id = channel.get("id") if isinstance(channel, Mapping) else None
    return str(channel_id) if channel_id else None


async def _answered_stale(
    deps: SlackDeps,
    client: Any,
    body: Mapping[str, Any],
    team: str,
    user: str,
    name: str,
    params: Mapping[str, str],
) -> bool:
    """Tell whoever pressed a button that no longer applies why, where they pressed it.

    An ephemeral message (chat.postEphemeral): only they see it, beside the card, and
    nothing is stored or done. True when so answered. A check that is too slow, or a button
    outside a channel, lets the action run: the core refuses it then, by DM.
    """
    channel = _channel(body)
    if channel is None:
        return False
    try:
        found = await asyncio.wait_for(_stale(deps, team, user, name, params), MODAL_BUDGET)
    except TimeoutError:
        return False
    if found is None:
        return False
    reason, locale = found
    await client.chat_postEphemeral(
        channel=channel, user=user, text=deps.catalog.render(reason, locale)
    )
    return True


async def _stale(
    deps: SlackDeps, team: str, user: str, name: str, params: Mapping[str, str]
) -> tuple[Text, str] | None:
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team, user)
        if identity is None:
            return None  # the action answers people it does not know
        co_id = identity.id if identity.is_coordinator else None
        reason = await stale_reason(session, name, params, co_id=co_id)
        return None if reason is None else (reason, identity.locale)


async def _load_modal(
    deps: SlackDeps, team: str, user: str, name: str, params: Mapping[str, str]
) -> dict[str, Any] | None:
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team, user)
        if identity is None:
            return None
        if name == "handback.done" and not identity.is_partner:
            return None
        if name != "handback.done" and not identity.is_coordinator:
            return None
        return await build_modal(deps, session, name, params, identity)


async def _check_booking(
    deps: SlackDeps, team: str, user: str, case_id: int, starts_at: datetime
) -> Text | None:
    """Why the chosen slot cannot be booked, read now; None when it still can."""
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team, user)
        if identity is None or not identity.is_coordinator:
            return Text("coordinators.error.not_registered")
        try:
            await co_booking.check_slot(
                session, case_id, identity.id, starts_at=starts_at, now=deps.clock.now()
            )
        except actions.CaseActionError as refusal:
            return refusal.message
    return None


# -- durable work ----------------------------------------------------------------------------


async def _tell(
    session: AsyncSession, payload: Mapping[str, Any], text: Text, ctx: WorkContext
) -> None:
    """A direct message to whoever clicked: why nothing happened."""
    user = str(payload.get("user") or "")
    if not user:
        return
    await add_message(
        session,
        platform=Platform.SLACK,
        channel_id=str(payload.get("team") or SLACK_TEAM),
        recipient=user,
        message=OutgoingMessage(texts=(text,)),
        kind="slack_message",
        idempotency_key=f"slack:notice:{payload.get('eid')}",
        now=ctx.now,
    )


async def _as(
    session: AsyncSession, payload: Mapping[str, Any], ctx: WorkContext, kind: str
) -> StaffIdentity | None:
    identity = await resolve_slack_user(
        session, str(payload.get("team") or ""), str(payload.get("user") or "")
    )
    if identity is None or identity.kind != kind:
        await _tell(session, payload, Text("coordinators.error.not_registered"), ctx)
        return None
    return identity


Step = Callable[[AsyncSession, StaffIdentity, Mapping[str, Any], WorkContext], Awaitable[object]]


def _handler(kind: str, who: str, step: Step) -> None:
    """Register work that runs `step` as `who`; a refusal rolls its writes back and is told."""

    @work(kind)
    async def handle(session: AsyncSession, payload: dict[str, Any], ctx: WorkContext) -> None:
        identity = await _as(session, payload, ctx, who)
        if identity is None:
            return
        try:
            async with session.begin_nested():
                await step(session, identity, payload, ctx)
        except actions.CaseActionError as refusal:
            await _tell(session, payload, refusal.message, ctx)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _vals(payload: Mapping[str, Any]) -> dict[str, Any]:
    values = payload.get("values")
    return dict(values) if isinstance(values, Mapping) else {}


async def _claim(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    return await actions.claim_case(s, _int(p.get("c")), who.id, now=ctx.now, queue=ctx.queue)


@work("slack.event.reaction_added")
async def claim_by_reaction(
    session: AsyncSession, payload: dict[str, Any], ctx: WorkContext
) -> None:
    """👀 on a queue card claims the case, as people in Slack expect; any other reaction,
    or 👀 on any other message, is just a reaction. bots/slack/app.py stores the event in the
    inbox because this handler exists (kind "slack.event.reaction_added")."""
    event = payload.get("event") or {}
    item = event.get("item") or {}
    if event.get("reaction") != "eyes" or item.get("type") != "message":
        return
    case_id = await case_for_card(
        session, str(item.get("channel") or ""), str(item.get("ts") or "")
    )
    if case_id is None:
        return
    who = {
        "team": str(payload.get("team_id") or SLACK_TEAM),
        "user": str(event.get("user") or ""),
        "eid": str(payload.get("event_id") or ""),
    }
    identity = await _as(session, who, ctx, "coordinator")
    if identity is None:
        return
    try:
        async with session.begin_nested():
            await actions.claim_case(session, case_id, identity.id, now=ctx.now, queue=ctx.queue)
    except actions.CaseActionError as refusal:
        await _tell(session, who, refusal.message, ctx)


async def _assign(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    to = _int(_vals(p).get("co"))
    return await actions.assign_case(
        s, _int(p.get("c")), to, by_co_id=who.id, now=ctx.now, queue=ctx.queue
    )


async def _transfer(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    values = _vals(p)
    return await actions.transfer_case(
        s,
        _int(p.get("c")),
        str(values.get("hub") or ""),
        by_co_id=who.id,
        now=ctx.now,
        queue=ctx.queue,
        reason=values.get("reason"),
    )


async def _outcome(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    result = validate_outcome(outcome_form(_vals(p)), today=to_jst(ctx.now).date())
    if isinstance(result, dict):
        raise actions.CaseActionError(next(iter(result.values())))
    return await actions.record_outcome(
        s, _int(p.get("c")), who.id, result, now=ctx.now, queue=ctx.queue
    )


async def _book(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    choice = booking_choice(_vals(p))
    if choice is None:
        raise actions.CaseActionError(Text("coordinators.error.unknown_choice"))
    starts_at, mode = choice
    return await co_booking.book_consultation(
        s, _int(p.get("c")), who.id, starts_at=starts_at, mode=mode, now=ctx.now, queue=ctx.queue
    )


async def _handback(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    values = _vals(p)
    return await actions.hand_back(
        s, _int(p.get("c")), who.id, _int(values.get("org")), values.get("reason"), now=ctx.now
    )


async def _askhub(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    values = _vals(p)
    return await actions.ask_hub(
        s, _int(p.get("c")), who.id, str(values.get("hub") or ""), values.get("reason"), now=ctx.now
    )


async def _handback_accept(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    return await actions.accept_referral(s, _int(p.get("r")), who.id, now=ctx.now)


async def _handback_done(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    return await actions.complete_referral(
        s, _int(p.get("r")), who.id, _vals(p).get("outcome"), now=ctx.now
    )


async def _askhub_accept(
    s: AsyncSession, who: StaffIdentity, p: Mapping[str, Any], ctx: WorkContext
) -> object:
    return await actions.accept_hub_request(s, _int(p.get("r")), who.id, now=ctx.now)


_handler("slack.case.claim", "coordinator", _claim)
_handler("slack.case.assign", "coordinator", _assign)
_handler("slack.case.transfer", "coordinator", _transfer)
_handler("slack.case.book", "coordinator", _book)
_handler("slack.case.outcome", "coordinator", _outcome)
_handler("slack.case.handback", "coordinator", _handback)
_handler("slack.case.askhub", "coordinator", _askhub)
_handler("slack.handback.accept", "partner", _handback_accept)
_handler("slack.handback.done", "partner", _handback_done)
_handler("slack.askhub.accept", "coordinator", _askhub_accept)
