"""The CO's side of a case's conversation in Slack: answering the owner from the thread.

Two ways reach the owner, and the thread says so under the owner's first message:
* a reply in the card's thread that starts with 「返信:」 (Events API `message`, stored in the
  inbox by bots/slack/app.py because `slack.event.message` has a work handler here);
* the 返信する button under each of the owner's messages, which opens a modal.
Anything else written in the thread stays a note for the hub (core.chat.replies).

Both end in core.chat.replies.send_reply inside the worker's transaction; the thread then
shows what was sent, that quiet hours hold it, or why it could not go.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from typing import Any, Final

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack.coordinators import (
    CHOICE_ACTION,
    MODAL_BUDGET,
    _digest,
    _event,
    _input,
    _modal,
    _team,
    _user,
    _values,
)
from bots.slack.deps import SlackDeps, WorkContext, work
from core.chat.owner_side import REPLY_ACTION
from core.chat.replies import (
    MAX_REPLY_LENGTH,
    ReplyRefused,
    held_text,
    reply_text,
    send_reply,
)
from core.chat.threads import post_in_thread
from core.coordinators.cards import case_for_card, parse_postback
from core.db.models import Case, Coordinator, Hub
from core.i18n import Text
from core.messages import OutgoingMessage
from core.owners.cases import hub_display_name
from core.staff import resolve_slack_user

log = logging.getLogger(__name__)

MODAL_CALLBACK: Final = "chat.reply"
SUBMIT_KIND: Final = "slack.chat.reply"
IGNORED_SUBTYPES: Final = frozenset(
    {"bot_message", "message_changed", "message_deleted", "channel_join", "channel_leave"}
)
"""Edits and deletions after sending are not mirrored to LINE: the owner keeps what they got."""


def slack_text(raw: str) -> str:
    """Slack escapes &, < and > in message text; the owner reads the characters themselves."""
    return html.unescape(raw)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def is_reply_button(action: dict[str, Any]) -> bool:
        name, _ = parse_postback(str(action.get("value") or ""))
        return name == REPLY_ACTION

    @app.action({"type": "block_actions", "action_id": CHOICE_ACTION}, matchers=[is_reply_button])
    async def on_reply_button(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        _, params = parse_postback(str(action.get("value") or ""))
        trigger_id = body.get("trigger_id")
        if not trigger_id:
            return
        team, user = _team(body, deps.default_team_id), _user(body)
        try:
            view = await asyncio.wait_for(
                _reply_modal(deps, team, user, _case_id(params.get("c"))), MODAL_BUDGET
            )
        except TimeoutError:
            log.warning("reply modal data too slow; not opened")
            return
        if view is not None:
            await client.views_open(trigger_id=trigger_id, view=view)

    @app.view(MODAL_CALLBACK)
    async def on_submit(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = json.loads(view.get("private_metadata") or "{}")
        locale = str(meta.get("l") or "ja")
        text = str(_values(view).get("text") or "").strip()
        if not text:
            await ack(
                response_action="errors",
                errors={"text": deps.catalog.text("chat.modal.required", locale)},
            )
            return
        if len(text) > MAX_REPLY_LENGTH:
            await ack(
                response_action="errors",
                errors={
                    "text": deps.catalog.render(
                        Text("chat.modal.too_long", max=MAX_REPLY_LENGTH), locale
                    )
                },
            )
            return
        await ack()
        team, user = _team(body, deps.default_team_id), _user(body)
        event_id = _digest("view", view.get("id"), MODAL_CALLBACK, user)
        await deps.submit(
            [_event(SUBMIT_KIND, team, user, event_id, {"c": meta.get("c"), "text": text})]
        )


async def _reply_modal(
    deps: SlackDeps, team: str, user: str, case_id: int
) -> dict[str, Any] | None:
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team, user)
        if identity is None or not identity.is_coordinator:
            return None
        case = await session.get(Case, case_id)
        if case is None:
            return None
        hub = await session.get(Hub, case.hub_id)
        locale = identity.locale
        catalog = deps.catalog
        hint = catalog.render(
            Text(
                "chat.modal.hint",
                hub=hub_display_name(hub) if hub is not None else Text("hub.national"),
                co=identity.display_name,
            ),
            locale,
        )
        blocks = [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]},
            _input(
                "text",
                catalog.text("chat.modal.label", locale),
                {"type": "plain_text_input", "multiline": True, "max_length": MAX_REPLY_LENGTH},
            ),
        ]
        return _modal(
            MODAL_CALLBACK,
            catalog.text("chat.modal.title", locale),
            blocks,
            {"c": case.id, "l": locale},
            catalog.text("chat.modal.submit", locale),
            catalog.text("chat.modal.close", locale),
        )


def _case_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# -- durable work ----------------------------------------------------------------------------


@work("slack.event.message")
async def on_thread_message(
    session: AsyncSession, payload: dict[str, Any], ctx: WorkContext
) -> None:
    """A message in a channel the bot is in: a marked reply under a queue card goes to the
    owner; every other message (a note, a message elsewhere) is left alone."""
    event = payload.get("event") or {}
    if event.get("subtype") in IGNORED_SUBTYPES or event.get("bot_id"):
        return
    thread_ts, ts = event.get("thread_ts"), event.get("ts")
    if not thread_ts or thread_ts == ts:
        return
    answer = reply_text(slack_text(str(event.get("text") or "")))
    if answer is None:
        return
    case_id = await case_for_card(session, str(event.get("channel") or ""), str(thread_ts))
    if case_id is None:
        return
    team = str(payload.get("team_id") or "")
    user = str(event.get("user") or "")
    key = f"event:{payload.get('event_id') or ts}"
    await _answer(session, team, user, case_id, answer, key, ctx)


@work(SUBMIT_KIND)
async def on_reply_submitted(
    session: AsyncSession, payload: dict[str, Any], ctx: WorkContext
) -> None:
    key = f"view:{payload.get('eid')}"
    await _answer(
        session,
        str(payload.get("team") or ""),
        str(payload.get("user") or ""),
        _case_id(payload.get("c")),
        str(payload.get("text") or ""),
        key,
        ctx,
    )


async def _answer(
    session: AsyncSession,
    team: str,
    user: str,
    case_id: int,
    text: str,
    key: str,
    ctx: WorkContext,
) -> None:
    case = await session.get(Case, case_id)
    if case is None:
        return
    identity = await resolve_slack_user(session, team, user)
    if identity is None or not identity.is_coordinator:
        await _say_in_thread(
            session, case, Text("coordinators.error.not_registered"), f"{key}:who", ctx
        )
        return
    co = await session.get(Coordinator, identity.id)
    name = co.name if co is not None else identity.display_name
    accepted = await send_reply(
        session, case_id=case.id, co_id=identity.id, text=text, key=key, now=ctx.now
    )
    if isinstance(accepted, ReplyRefused):
        log.info("CO reply refused", extra={"case_id": case.id, "reason": accepted.reason})
        await _say_in_thread(
            session,
            case,
            Text("chat.slack.refused", reason=accepted.message),
            f"{key}:refused",
            ctx,
        )
        return
    if accepted.held_until is not None:
        note = held_text(name, accepted.held_until)
    else:
        note = Text(
            "chat.slack.sent",
            co=name,
            text=Text("common.verbatim", value=_quote(accepted.record.body or "")),
        )
    await _say_in_thread(session, case, note, f"{key}:sent", ctx)


def _quote(text: str) -> str:
    """Every line of the sent text as a Slack quote (the catalog quotes the first)."""
    return text.replace("\n", "\n> ")


async def _say_in_thread(
    session: AsyncSession, case: Case, text: Text, key: str, ctx: WorkContext
) -> None:
    await post_in_thread(
        session, case, OutgoingMessage(texts=(text,)), key=f"chat:{key}:note", now=ctx.now
    )
