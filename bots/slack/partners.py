"""Partner staff in Slack: the hand-over modal (つなぐ) and `/yorozu status`.

Slack's rules live here, the business rules in core.partners: the shortcut is acknowledged at
once and the modal opened with its trigger id (single use, 3 seconds); a submission is
validated synchronously, so problems come back as field errors under the right input
(`response_action="errors"`), and a valid one is stored in the inbox as durable work, which
the worker turns into a case (`@work(SUBMIT_KIND)`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack import access
from bots.slack.deps import SlackDeps, WorkContext, work
from bots.slack.render import escape
from core.clock import to_jst
from core.domain.enums import Platform
from core.domain.industries import Industry
from core.domain.topics import Topic
from core.i18n import Catalog, Text
from core.inbox import NewInboxEvent
from core.partners.handover import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_SHORT,
    HandoverField,
    HandoverForm,
    RawHandover,
    Urgency,
    hand_over,
    validate_handover,
)
from core.partners.status import open_handovers, when_text
from core.routing.prefectures import PREFECTURES
from core.staff import StaffIdentity, resolve_slack_user

log = logging.getLogger(__name__)

GLOBAL_SHORTCUT: Final = "handover_global"
MESSAGE_SHORTCUT: Final = "handover_message"
VIEW_CALLBACK: Final = "handover_submit"
SUBMIT_KIND: Final = "slack.handover.submit"
ACTION_ID: Final = "value"
"""Every input's element has this action id; the block id (a HandoverField) names the field."""

SUBMIT_BUDGET: Final = 2.0
"""Seconds the submission waits for the inbox commit before it acknowledges anyway: Slack
closes the modal with an error after 3 s, and a slow database must not cost the form."""
MAX_LIST_ITEMS: Final = 45
"""A message holds at most 50 blocks: a title, the items and a little headroom."""
MAX_TITLE: Final = 24

_F = HandoverField
_pending: set[asyncio.Future[None]] = set()
"""Inbox writes still running after the ack; kept so they are not garbage collected."""


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Listen for the two shortcuts and the modal's submission, and (bots.slack.access) for
    the access request that the refusal of an unregistered person offers."""
    access.register(app, deps)

    @app.shortcut(GLOBAL_SHORTCUT)
    async def handover_shortcut(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        await open_handover(client, body["trigger_id"], _user(body), _team(body, deps), deps)

    @app.shortcut(MESSAGE_SHORTCUT)
    async def handover_from_message(ack: Any, body: dict[str, Any], client: Any) -> None:
        await ack()
        text = (body.get("message") or {}).get("text")
        await open_handover(
            client, body["trigger_id"], _user(body), _team(body, deps), deps, prefill=text
        )

    @app.view(VIEW_CALLBACK)
    async def handover_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        metadata = _metadata(view)
        locale = str(metadata.get("locale") or "ja")
        validation = validate_handover(parse_state(view.get("state", {}).get("values", {})))
        if validation.form is None:
            await ack(response_action="errors", errors=_errors(deps.catalog, validation, locale))
            return
        team = _team(body, deps)
        user = _user(body)
        event = NewInboxEvent(
            platform=Platform.SLACK,
            channel_id=team,
            event_id=_view_event_id(view),
            ordering_key=f"slack:{team}:{user}",
            kind=SUBMIT_KIND,
            payload={
                "form": validation.form.to_payload(),
                "team_id": team,
                "user_id": user,
                "staff_id": metadata.get("staff_id"),
                "locale": locale,
            },
        )
        stored = asyncio.ensure_future(deps.submit([event]))
        try:
            await asyncio.wait_for(asyncio.shield(stored), timeout=SUBMIT_BUDGET)
        except TimeoutError:
            # Still writing: acknowledge now and let the write finish behind the ack.
            _pending.add(stored)
            stored.add_done_callback(_finished)
        except Exception:
            log.exception("hand-over submission could not be stored")
            message = deps.catalog.text("partners.error.unavailable", locale)
            await ack(response_action="errors", errors={_F.DESCRIPTION.value: message})
            return
        await ack()


async def open_handover(
    client: Any,
    trigger_id: str,
    user_id: str,
    team_id: str,
    deps: SlackDeps,
    prefill: str | None = None,
) -> None:
    """Open the hand-over modal for partner staff, or a polite note for anyone else.

    Called after the ack (shortcuts, and `/yorozu handover`); the trigger id is only good for
    3 seconds, so the one lookup before views.open is the staff member's identity.
    """
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team_id, user_id)
        prefecture = await _organisation_prefecture(session, identity)
    if identity is None:
        # Not one of our people: they may ask the hub to register them.
        view = notice_view(deps.catalog, "ja", Text("partners.not_partner"))
        text = deps.catalog.text("partners.not_partner", "ja")
        view["blocks"] = access.request_blocks(deps.catalog, "ja", text)
    elif not identity.is_partner:
        view = notice_view(deps.catalog, identity.locale, Text("partners.not_partner"))
    else:
        view = handover_view(
            deps.catalog,
            identity.locale,
            prefill=prefill,
            prefecture=prefecture,
            metadata={"staff_id": identity.id, "locale": identity.locale},
        )
    await client.views_open(trigger_id=trigger_id, view=view)


async def status_for(deps: SlackDeps, team_id: str, user_id: str) -> list[dict[str, Any]]:
    """Blocks listing the staff member's open hand-overs and their current step."""
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team_id, user_id)
        if identity is None or not identity.is_partner:
            locale = identity.locale if identity else "ja"
            return [_section(deps.catalog.text("partners.not_partner", locale))]
        items = await open_handovers(session, identity.id)
    catalog, locale = deps.catalog, identity.locale
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(catalog.text("partners.list.title", locale), 150)}
    ]
    if not items:
        blocks.append(_section(catalog.text("partners.list.empty", locale)))
        return blocks
    for item in items[:MAX_LIST_ITEMS]:
        lines = [
            catalog.text(
                "partners.list.item",
                locale,
                number=escape(item.number),
                business=escape(item.business_name),
                status=item.status_text,
            )
        ]
        if item.co_name:
            lines.append(catalog.text("partners.list.co", locale, co=escape(item.co_name)))
        if item.next_booking_at is not None:
            when = when_text(item.next_booking_at)
            lines.append(catalog.text("partners.list.next_booking", locale, when=when))
        since = to_jst(item.created_at).date()
        lines.append(catalog.text("partners.list.since", locale, value=since))
        blocks.append(_section("\n".join(lines), mrkdwn=True))
    return blocks


# -- the durable work ------------------------------------------------------------------------


@work(SUBMIT_KIND)
async def create_handover(session: AsyncSession, payload: dict[str, Any], ctx: WorkContext) -> None:
    """The worker's half: a case (or the open one that exists), inside the inbox row's
    transaction. The identity is looked up again: the modal was opened minutes ago, and the
    staff member may have left the organisation since."""
    identity = await resolve_slack_user(session, payload.get("team_id"), str(payload["user_id"]))
    if identity is None or not identity.is_partner:
        log.warning("hand-over from someone who is not partner staff; dropped")
        return
    form = HandoverForm.from_payload(payload["form"])
    await hand_over(session, form, staff_id=identity.id, now=ctx.now, queue=ctx.queue)


# -- views -----------------------------------------------------------------------------------


def handover_view(
    catalog: Catalog,
    locale: str,
    *,
    prefill: str | None = None,
    prefecture: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The modal. Block ids are the form's field names so field errors land where they belong.

    Phone and e-mail are each optional (either will do: the server checks). The consent box
    is required: Slack will not submit without it, and the server refuses it too.
    """

    def t(key: str, **params: Any) -> str:
        return catalog.text(f"partners.modal.{key}", locale, **params)

    def option(text: str, value: str) -> dict[str, Any]:
        return {"text": _plain(text, 75), "value": value}

    prefectures = [
        option(catalog.text(f"prefecture.{p.code}", locale), p.code) for p in PREFECTURES
    ]
    industries = [option(catalog.text(f"industry.{i.value}", locale), i.value) for i in Industry]
    topics = [option(catalog.text(f"topic.{topic.value}", locale), topic.value) for topic in Topic]
    urgencies = [
        option(catalog.text(f"partners.urgency.{u.value}", locale), u.value) for u in Urgency
    ]
    prefecture_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": ACTION_ID,
        "placeholder": _plain(t("prefecture_placeholder"), 150),
        "options": prefectures,
    }
    chosen = next((o for o in prefectures if o["value"] == prefecture), None)
    if chosen is not None:
        prefecture_select["initial_option"] = chosen
    description: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION_ID,
        "multiline": True,
        "max_length": MAX_DESCRIPTION,
        "placeholder": _plain(t("description_placeholder"), 150),
    }
    if prefill and prefill.strip():
        description["initial_value"] = prefill.strip()[:MAX_DESCRIPTION]
    blocks = [
        _section(t("intro")),
        _input(
            _F.BUSINESS_NAME,
            t("business_name"),
            _text_input(t("business_name_placeholder"), MAX_NAME),
        ),
        _input(
            _F.CORPORATE_NUMBER,
            t("corporate_number"),
            _text_input(None, 20),
            optional=True,
            hint=t("corporate_number_hint"),
        ),
        _input(_F.PREFECTURE, t("prefecture"), prefecture_select),
        _input(
            _F.MUNICIPALITY,
            t("municipality"),
            _text_input(t("municipality_placeholder"), MAX_SHORT),
            optional=True,
        ),
        _input(
            _F.CONTACT_NAME,
            t("contact_name"),
            _text_input(t("contact_name_placeholder"), MAX_SHORT),
        ),
        _input(
            _F.PHONE,
            t("phone"),
            _text_input(t("phone_placeholder"), 32),
            optional=True,
            hint=t("contact_hint"),
        ),
        _input(_F.EMAIL, t("email"), _text_input(t("email_placeholder"), 254), optional=True),
        _input(
            _F.INDUSTRY,
            t("industry"),
            {
                "type": "static_select",
                "action_id": ACTION_ID,
                "placeholder": _plain(t("industry_placeholder"), 150),
                "options": industries,
            },
            optional=True,
        ),
        _input(
            _F.EMPLOYEES,
            t("employees"),
            {
                "type": "number_input",
                "action_id": ACTION_ID,
                "is_decimal_allowed": False,
                "min_value": "0",
            },
            optional=True,
        ),
        _input(
            _F.TOPICS,
            t("topics"),
            {
                "type": "multi_static_select",
                "action_id": ACTION_ID,
                "placeholder": _plain(t("topics_placeholder"), 150),
                "options": topics,
            },
        ),
        _input(_F.DESCRIPTION, t("description"), description, optional=True),
        _input(
            _F.URGENCY,
            t("urgency"),
            {
                "type": "radio_buttons",
                "action_id": ACTION_ID,
                "options": urgencies,
                "initial_option": urgencies[0],
            },
        ),
        _input(
            _F.CONSENT,
            t("consent"),
            {
                "type": "checkboxes",
                "action_id": ACTION_ID,
                "options": [option(t("consent_option"), "yes")],
            },
        ),
        _input(
            _F.SIT_IN,
            t("sit_in"),
            {
                "type": "checkboxes",
                "action_id": ACTION_ID,
                "options": [option(t("sit_in_option"), "yes")],
            },
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": VIEW_CALLBACK,
        "title": _plain(t("title"), MAX_TITLE),
        "submit": _plain(t("submit"), MAX_TITLE),
        "close": _plain(t("close"), MAX_TITLE),
        "private_metadata": json.dumps(dict(metadata or {}), separators=(",", ":"))[:3000],
        "blocks": blocks,
    }


def notice_view(catalog: Catalog, locale: str, text: Text) -> dict[str, Any]:
    """A modal that only explains (for someone who cannot hand cases over)."""
    return {
        "type": "modal",
        "title": _plain(catalog.text("partners.modal.title", locale), MAX_TITLE),
        "close": _plain(catalog.text("partners.modal.close", locale), MAX_TITLE),
        "blocks": [_section(catalog.render(text, locale))],
    }


def parse_state(values: Mapping[str, Mapping[str, Any]]) -> RawHandover:
    """The modal's state values as the neutral, unchecked form."""

    def element(field: HandoverField) -> Mapping[str, Any]:
        block = values.get(field.value) or {}
        found = block.get(ACTION_ID)
        if found is None and block:
            found = next(iter(block.values()))
        return found or {}

    def single(field: HandoverField) -> str | None:
        state = element(field)
        if "selected_option" in state:
            selected = state.get("selected_option") or {}
            return str(selected["value"]) if selected.get("value") is not None else None
        value = state.get("value")
        return str(value) if value is not None else None

    def many(field: HandoverField) -> tuple[str, ...]:
        selected: Sequence[Mapping[str, Any]] = element(field).get("selected_options") or []
        return tuple(str(item["value"]) for item in selected if "value" in item)

    return RawHandover(
        business_name=single(_F.BUSINESS_NAME),
        corporate_number=single(_F.CORPORATE_NUMBER),
        prefecture=single(_F.PREFECTURE),
        municipality=single(_F.MUNICIPALITY),
        contact_name=single(_F.CONTACT_NAME),
        phone=single(_F.PHONE),
        email=single(_F.EMAIL),
        industry=single(_F.INDUSTRY),
        employees=single(_F.EMPLOYEES),
        topics=many(_F.TOPICS),
        description=single(_F.DESCRIPTION),
        urgency=single(_F.URGENCY),
        owner_consented="yes" in many(_F.CONSENT),
        sit_in="yes" in many(_F.SIT_IN),
    )


# -- helpers ---------------------------------------------------------------------------------


def _errors(catalog: Catalog, validation: Any, locale: str) -> dict[str, str]:
    return {str(field): catalog.render(text, locale) for field, text in validation.errors.items()}


def _view_event_id(view: Mapping[str, Any]) -> str:
    """One inbox row per submitted view: Slack's retry of the same request carries the same
    view id and hash, so it is recognised and stored once."""
    raw = f"{view.get('id', '')}:{view.get('hash', '')}"
    return "view_submission:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _user(body: Mapping[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


def _team(body: Mapping[str, Any], deps: SlackDeps) -> str:
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    return str(team or deps.default_team_id)


async def _organisation_prefecture(
    session: AsyncSession, identity: StaffIdentity | None
) -> str | None:
    """The partner organisation's prefecture: most hand-overs are local, so it is preselected."""
    if identity is None or identity.organisation_id is None:
        return None
    from core.db.models import PartnerOrganisation

    organisation = await session.get(PartnerOrganisation, identity.organisation_id)
    return organisation.prefecture_code if organisation else None


def _finished(future: asyncio.Future[None]) -> None:
    _pending.discard(future)
    if not future.cancelled() and future.exception() is not None:
        log.error(
            "hand-over submission was acknowledged but not stored", exc_info=future.exception()
        )


def _plain(text: str, limit: int) -> dict[str, Any]:
    text = text or "-"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…"}


def _section(text: str, *, mrkdwn: bool = False) -> dict[str, Any]:
    body = text if mrkdwn else escape(text)
    return {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}}


def _text_input(placeholder: str | None, max_length: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION_ID,
        "max_length": max_length,
    }
    if placeholder:
        element["placeholder"] = _plain(placeholder, 150)
    return element


def _input(
    field: HandoverField,
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
