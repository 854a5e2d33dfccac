"""Partner staff not yet registered ask for access from Slack; the hub's CCO decides there.

* The refusal an unregistered person gets (`/yorozu …`, the hand-over shortcut) carries a
  「利用を申請する」 button (`request_blocks`); it opens the request modal (views.open, or
  views.push over the refusal modal), with the hub's partner organisations to choose from.
* The submission is checked at once (field errors under the inputs), then stored in the inbox
  as durable work; the worker writes the request (core.access_requests), DMs the hub's CCOs
  with 承認 / 却下, and tells the person it was received.
* A CCO's 承認 / 却下 is durable work too: the worker checks with core.console.access that
  they may manage the hub, decides, and tells them and the person asking.

bots.slack.partners registers these listeners (the refusal lives there) and imports this
module, which also registers the work handlers for the worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from slack_bolt.async_app import AsyncApp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack.deps import SlackDeps, WorkContext, work
from bots.slack.render import escape
from core import access_requests as requests
from core.access_requests import RequestField
from core.console.access import Decision, Permission, authorize
from core.console.people import principal_for
from core.db.models import AccessRequest, Hub
from core.domain.enums import Platform
from core.i18n import Catalog
from core.inbox import NewInboxEvent
from core.owners import postbacks
from core.routing.prefectures import PREFECTURES

log = logging.getLogger(__name__)

OPEN_ACTION: Final = "access.request_open"
VIEW_CALLBACK: Final = "access.request_submit"
SUBMIT_KIND: Final = "slack.access.submit"
DECIDE_KIND: Final = "slack.access.decide"
CHOICE_ACTION: Final = re.compile(r"^choice:\d+$")
ACTION_ID: Final = "value"
MAX_OPTIONS: Final = 100
"""Slack's static_select takes at most 100 options."""
BUDGET: Final = 2.0
"""Seconds of database work allowed inside Slack's 3-second windows."""


def request_blocks(catalog: Catalog, locale: str, text: str) -> list[dict[str, Any]]:
    """A refusal with the button that opens the request modal."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(text)[:3000]}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": OPEN_ACTION,
                    "style": "primary",
                    "text": _plain(catalog.text("access.button", locale)),
                    "value": "open",
                }
            ],
        },
    ]


def register(app: AsyncApp, deps: SlackDeps) -> None:
    @app.action(OPEN_ACTION)
    async def open_request(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        trigger_id = body.get("trigger_id")
        if not trigger_id:
            return
        team, user = _team(body, deps), _user(body)
        try:
            view = await asyncio.wait_for(request_view(deps, team, user), BUDGET)
        except TimeoutError:
            log.warning("access request modal data too slow; not opened")
            return
        if (body.get("view") or {}).get("type") == "modal":
            # Over the refusal modal (the hand-over shortcut); from a message or App Home
            # the request opens a modal of its own.
            await client.views_push(trigger_id=trigger_id, view=view)
        else:
            await client.views_open(trigger_id=trigger_id, view=view)

    @app.view(VIEW_CALLBACK)
    async def submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        locale = str(_metadata(view).get("l") or "ja")
        typed = parse_state(view.get("state", {}).get("values", {}))
        async with deps.session_factory() as session:
            form, errors = await requests.read_request(session, dict(typed))
        if form is None:
            await ack(
                response_action="errors",
                errors={f.value: deps.catalog.render(t, locale) for f, t in errors.items()},
            )
            return
        team, user = _team(body, deps), _user(body)
        event_id = "access:" + _digest(view.get("id"), view.get("hash"))
        event = NewInboxEvent(
            platform=Platform.SLACK,
            channel_id=team,
            event_id=event_id,
            ordering_key=f"slack:{team}:{user}",
            kind=SUBMIT_KIND,
            payload={
                "typed": dict(typed),
                "team": team,
                "user": user,
                "locale": locale,
                "eid": event_id,
            },
        )
        try:
            await asyncio.wait_for(deps.submit([event]), BUDGET)
        except Exception:
            log.exception("access request could not be stored")
            message = deps.catalog.text("partners.error.unavailable", locale)
            await ack(response_action="errors", errors={RequestField.NOTE.value: message})
            return
        await ack(
            response_action="update",
            view=_notice(deps.catalog, locale, deps.catalog.text("access.thanks", locale)),
        )

    async def decision_button(action: dict[str, Any]) -> bool:
        name, _ = postbacks.decode(str(action.get("value") or ""))
        return name in (requests.APPROVE, requests.DENY)

    @app.action({"type": "block_actions", "action_id": CHOICE_ACTION}, matchers=[decision_button])
    async def on_decision(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        team, user = _team(body, deps), _user(body)
        name, values = postbacks.decode(str(action.get("value") or ""))
        event_id = "access:" + _digest(user, action.get("action_ts"), body.get("trigger_id"))
        await deps.submit(
            [
                NewInboxEvent(
                    platform=Platform.SLACK,
                    channel_id=team,
                    event_id=event_id,
                    ordering_key=f"slack:{team}:{user}",
                    kind=DECIDE_KIND,
                    payload={
                        "team": team,
                        "user": user,
                        "r": values.get("r"),
                        "approve": name == requests.APPROVE,
                        "eid": event_id,
                    },
                )
            ]
        )


async def request_view(deps: SlackDeps, team: str, user: str) -> dict[str, Any]:
    """The request modal; the workspace's hub (when it has exactly one) is preselected."""
    catalog = deps.catalog
    locale = "ja"
    async with deps.session_factory() as session:
        hubs = (await session.scalars(select(Hub).where(Hub.slack_team_id == team))).all()
        hub = hubs[0] if len(hubs) == 1 else None
        organisations = await requests.organisations_of(session, hub) if hub is not None else []
        if hub is None:
            from core.db.models import PartnerOrganisation

            organisations = list(
                await session.scalars(
                    select(PartnerOrganisation)
                    .order_by(PartnerOrganisation.prefecture_code, PartnerOrganisation.name)
                    .limit(MAX_OPTIONS)
                )
            )

    def t(key: str) -> str:
        return catalog.text(f"access.modal.{key}", locale)

    prefectures = [
        {"text": _plain(catalog.text(f"prefecture.{p.code}", locale)), "value": p.code}
        for p in PREFECTURES
    ]
    prefecture: dict[str, Any] = {
        "type": "static_select",
        "action_id": ACTION_ID,
        "placeholder": _plain(t("prefecture_placeholder")),
        "options": prefectures,
    }
    chosen = next((o for o in prefectures if hub and o["value"] == hub.prefecture_code), None)
    if chosen is not None:
        prefecture["initial_option"] = chosen
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(t("intro"))}},
        _input(RequestField.NAME, t("name"), _text(100)),
        _input(RequestField.PREFECTURE, t("prefecture"), prefecture, optional=True),
    ]
    if organisations:
        options = [
            {"text": _plain(o.name), "value": str(o.id)} for o in organisations[:MAX_OPTIONS]
        ]
        blocks.append(
            _input(
                RequestField.ORGANISATION,
                t("organisation"),
                {
                    "type": "static_select",
                    "action_id": ACTION_ID,
                    "placeholder": _plain(t("organisation_placeholder")),
                    "options": options,
                },
                optional=True,
            )
        )
    blocks.append(
        _input(
            RequestField.ORGANISATION_NAME,
            t("organisation_name"),
            _text(requests.MAX_ORGANISATION),
            optional=True,
            hint=t("organisation_name_hint"),
        )
    )
    note = {**_text(requests.MAX_NOTE), "multiline": True}
    blocks.append(_input(RequestField.NOTE, t("note"), note, optional=True, hint=t("note_hint")))
    return {
        "type": "modal",
        "callback_id": VIEW_CALLBACK,
        "title": _plain(t("title"), 24),
        "submit": _plain(t("submit"), 24),
        "close": _plain(t("close"), 24),
        "private_metadata": json.dumps({"l": locale}),
        "blocks": blocks,
    }


def parse_state(values: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    typed: dict[str, str | None] = {}
    for field in RequestField:
        state = (values.get(field.value) or {}).get(ACTION_ID) or {}
        if "selected_option" in state:
            selected = state.get("selected_option") or {}
            typed[field.value] = selected.get("value")
        else:
            typed[field.value] = state.get("value")
    return typed


# -- the durable work ------------------------------------------------------------------------


@work(SUBMIT_KIND)
async def store_request(session: AsyncSession, payload: dict[str, Any], ctx: WorkContext) -> None:
    form, errors = await requests.read_request(session, payload["typed"])
    if form is None:
        # Checked when submitted; an organisation removed since is the only way here.
        log.warning("access request no longer valid: %s", sorted(f.value for f in errors))
        return
    await requests.submit_request(
        session,
        form,
        team_id=str(payload["team"]),
        user_id=str(payload["user"]),
        locale=str(payload.get("locale") or "ja"),
        now=ctx.now,
        event_key=str(payload.get("eid") or ""),
    )


@work(DECIDE_KIND)
async def decide_request(session: AsyncSession, payload: dict[str, Any], ctx: WorkContext) -> None:
    team, user = str(payload["team"]), str(payload["user"])
    raw = str(payload.get("r") or "")
    request = await session.get(AccessRequest, int(raw)) if raw.isdigit() else None
    if request is None:
        return
    principal = await principal_for(session, team, user)
    key = f"access:{request.id}:decider:{payload.get('eid')}"
    if authorize(principal, Permission.MANAGE_HUB, hub_id=request.hub_id) is not Decision.ALLOW:
        outcome = requests.Outcome.NOT_ALLOWED
    else:
        outcome = await requests.decide(
            session,
            request,
            approve=bool(payload.get("approve")),
            decided_by=principal.coordinator_id if principal else None,
            now=ctx.now,
        )
    await requests.tell_decider(
        session, request, outcome, team_id=team, user_id=user, key=key, now=ctx.now
    )


# -- helpers ---------------------------------------------------------------------------------


def _notice(catalog: Catalog, locale: str, text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": _plain(catalog.text("access.modal.title", locale), 24),
        "close": _plain(catalog.text("access.modal.close", locale), 24),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": escape(text)}}],
    }


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def _team(body: Mapping[str, Any], deps: SlackDeps) -> str:
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    return str(team or deps.default_team_id)


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    text = text or "-"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _text(max_length: int) -> dict[str, Any]:
    return {"type": "plain_text_input", "action_id": ACTION_ID, "max_length": max_length}


def _input(
    field: RequestField,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": field.value,
        "label": _plain(label, 2000),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 2000)
    return block
