"""Partner staff who are not registered ask for access from the refusal; the CCO decides.

Same setup as the hand-over tests (signed requests through the real Bolt app, the Slack
stand-in on a local port, the dispatcher delivering the outbox to it), on both backends.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from core.clock import ManualClock
from core.db.models import (
    AccessRequest,
    AccessRequestStatus,
    AuditLog,
    Coordinator,
    Hub,
    PartnerOrganisation,
)
from core.staff import resolve_slack_user
from integrations.standins import SlackApiStandin
from tests.integration import test_slack_handover as handover
from tests.integration.test_slack_handover import (
    TEAM,
    Factory,
    deliver,
    outbox,
    post_payload,
    run_worker,
    shortcut,
    texts_of,
    wait_for_views,
)
from yorozu.dispatcher import Dispatcher

# The hand-over tests' fixtures: the Bolt app with the partners listeners (which register the
# access request's), the Slack stand-in, the seeded database and the dispatcher.
slack_api = handover.slack_api
slack_server = handover.slack_server
seeded = handover.seeded
slack = handover.slack
dispatcher = handover.dispatcher

STRANGER = "U0NEWSTAFF1"


def _user(user: str) -> dict[str, Any]:
    return {"id": user, "username": "someone", "team_id": TEAM}


def click(user: str, trigger: str, action_id: str, value: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "hachioji"},
        "user": _user(user),
        "api_app_id": "A0STANDIN1",
        "token": "legacy",
        "trigger_id": trigger,
        "container": {"type": "message", "message_ts": "1780000000.000300"},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
        **extra,
    }


def request_state(
    name: str | None = "新井 翔太",
    organisation: int | None = None,
    typed: str | None = None,
    prefecture: str | None = None,
) -> dict[str, Any]:
    def text(value: str | None) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    option = (
        {"text": {"type": "plain_text", "text": "o"}, "value": str(organisation)}
        if organisation
        else None
    )
    return {
        "name": text(name),
        "prefecture": {
            "value": {
                "type": "static_select",
                "selected_option": (
                    {"text": {"type": "plain_text", "text": "p"}, "value": prefecture}
                    if prefecture
                    else None
                ),
            }
        },
        "organisation": {"value": {"type": "static_select", "selected_option": option}},
        "organisation_name": text(typed),
        "note": text("経営指導員です。"),
    }


def submitted(user: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "hachioji"},
        "user": _user(user),
        "api_app_id": "A0STANDIN1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": "access.request_submit",
            "hash": f"h-{view_id}",
            "private_metadata": '{"l": "ja"}',
            "state": {"values": values},
        },
    }


async def _organisation(factory: Factory, name: str) -> int:
    async with factory() as session:
        found = await session.scalar(
            select(PartnerOrganisation.id).where(PartnerOrganisation.name == name)
        )
        assert found is not None
        return int(found)


async def _people(factory: Factory, role: str) -> str:
    async with factory() as session:
        hub = await session.scalar(select(Hub).where(Hub.code == "13"))
        assert hub is not None
        co = await session.scalar(
            select(Coordinator)
            .where(Coordinator.hub_id == hub.id, Coordinator.role == role)
            .order_by(Coordinator.id)
            .limit(1)
        )
        assert co is not None
        return str(co.slack_user_id)


async def _requests(factory: Factory) -> list[AccessRequest]:
    async with factory() as session:
        return list(await session.scalars(select(AccessRequest).order_by(AccessRequest.id)))


async def test_the_refusal_offers_a_request_the_cco_approves_and_the_person_can_hand_over(
    slack: httpx.AsyncClient,
    slack_api: SlackApiStandin,
    seeded: Factory,
    clock: ManualClock,
    dispatcher: Dispatcher,
) -> None:
    # The refusal of the hand-over shortcut offers the request button.
    opened = wait_for_views(slack_api, 1)
    await post_payload(slack, shortcut(slack_api.issue_trigger_id(STRANGER), user=STRANGER))
    assert await asyncio.to_thread(opened.wait, 5)
    [refusal] = slack_api.recorder.views_opened_for(STRANGER)
    [button] = refusal["blocks"][1]["elements"]
    assert button["text"]["text"] == "利用を申請する"

    # The button pushes the request modal over the refusal, with the organisations listed.
    pushed = wait_for_views(slack_api, 2)
    trigger = slack_api.issue_trigger_id(STRANGER)
    view = {"id": "V0REFUSAL", "type": "modal", "hash": "h"}
    response = await post_payload(
        slack, click(STRANGER, trigger, button["action_id"], "open", view=view)
    )
    assert response.status_code == 200
    assert await asyncio.to_thread(pushed.wait, 5)
    modal = slack_api.recorder.views_opened_for(STRANGER)[-1]
    assert modal["callback_id"] == "access.request_submit"
    blocks = {b.get("block_id"): b for b in modal["blocks"]}
    hachioji = await _organisation(seeded, "八王子商工会議所")
    options = blocks["organisation"]["element"]["options"]
    assert str(hachioji) in {o["value"] for o in options}

    # Nothing chosen and no name: both fields say so, nothing is stored.
    empty = await post_payload(
        slack, submitted(STRANGER, "V0EMPTY", request_state(name=None, organisation=None))
    )
    assert empty.json()["response_action"] == "errors"
    assert set(empty.json()["errors"]) == {"name", "organisation_name", "prefecture"}
    assert await run_worker(seeded, clock) == 0

    # Asked twice: one request, updated; the CCOs hear of it once.
    for view_id in ("V0FIRST", "V0AGAIN"):
        answer = await post_payload(
            slack, submitted(STRANGER, view_id, request_state(organisation=hachioji))
        )
        assert answer.json()["response_action"] == "update"
        await run_worker(seeded, clock)
    [asked] = await _requests(seeded)
    assert asked.status is AccessRequestStatus.PENDING
    cco = await _people(seeded, "cco")
    rows = await outbox(seeded)
    to_cco = [r for r in rows if r.recipient == cco and "access.cco.request" in texts_of(r)]
    assert len(to_cco) == 1
    assert "a=access.approve" in str(to_cco[0].payload)
    to_person = [key for r in rows if r.recipient == STRANGER for key in texts_of(r)]
    assert to_person == ["access.received", "access.updated"]

    # A CO of the hub may not decide; the CCO may.
    co = await _people(seeded, "co")
    await post_payload(
        slack,
        click(co, slack_api.issue_trigger_id(co), "choice:0", f"a=access.approve&r={asked.id}"),
    )
    await run_worker(seeded, clock)
    [still] = await _requests(seeded)
    assert still.status is AccessRequestStatus.PENDING
    await post_payload(
        slack,
        click(cco, slack_api.issue_trigger_id(cco), "choice:0", f"a=access.approve&r={asked.id}"),
    )
    await run_worker(seeded, clock)
    [approved] = await _requests(seeded)
    assert approved.status is AccessRequestStatus.APPROVED
    async with seeded() as session:
        identity = await resolve_slack_user(session, TEAM, STRANGER)
        audit = await session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "access.approved")
        )
    assert identity is not None
    assert identity.is_partner
    assert identity.organisation_id == hachioji
    assert audit == 1
    rows = await outbox(seeded)
    assert "access.approved" in [k for r in rows if r.recipient == STRANGER for k in texts_of(r)]
    assert "access.cco.not_allowed" in [k for r in rows if r.recipient == co for k in texts_of(r)]
    assert "access.cco.approved" in [k for r in rows if r.recipient == cco for k in texts_of(r)]

    # Everything reaches Slack, and the stand-in accepted every request.
    await deliver(dispatcher, seeded, clock)
    messages = slack_api.recorder.messages
    assert any("承認されました" in str(m) for m in messages)
    failed = [(r.kind, r.last_error) for r in await outbox(seeded) if r.status.value != "sent"]
    assert failed == []


async def test_a_denied_request_is_told_politely_and_a_second_press_changes_nothing(
    slack: httpx.AsyncClient, slack_api: SlackApiStandin, seeded: Factory, clock: ManualClock
) -> None:
    await post_payload(
        slack,
        submitted(STRANGER, "V0TYPED", request_state(typed="青梅市の金融機関", prefecture="13")),
    )
    await run_worker(seeded, clock)
    [asked] = await _requests(seeded)
    assert asked.organisation_name == "青梅市の金融機関"
    cco = await _people(seeded, "cco")
    rows = await outbox(seeded)
    [dm] = [r for r in rows if r.recipient == cco]
    # A typed organisation cannot be approved in Slack: the DM says so, with only 却下.
    assert "access.cco.choose_in_console" in texts_of(dm)
    assert "access.approve" not in str(dm.payload)
    for _press in range(2):
        await post_payload(
            slack,
            click(cco, slack_api.issue_trigger_id(cco), "choice:0", f"a=access.deny&r={asked.id}"),
        )
        await run_worker(seeded, clock)
    [denied] = await _requests(seeded)
    assert denied.status is AccessRequestStatus.DENIED
    rows = await outbox(seeded)
    assert [k for r in rows if r.recipient == STRANGER for k in texts_of(r)] == [
        "access.received",
        "access.denied",
    ]
    told = [k for r in rows if r.recipient == cco for k in texts_of(r)]
    assert "access.cco.denied" in told
    assert "access.cco.already" in told
