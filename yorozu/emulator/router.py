"""The emulator page and its JSON API (`/emulator`, `/emulator/api/...`).

The API never changes the service's data itself. It prepares requests (signed as LINE and
Slack sign them) that the page then sends to the service's real endpoints, reads back what the
service sent to the stand-ins, and moves the clock.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from core.clock import JST, OffsetClock, to_jst
from yorozu.emulator.runtime import OWNER_DISPLAY_NAME, EmulatorRuntime
from yorozu.sandbox import SignedRequest

STATIC = Path(__file__).parent / "static"


def _runtime(request: Request) -> EmulatorRuntime:
    runtime: EmulatorRuntime | None = getattr(request.app.state, "emulator", None)
    if runtime is None:
        raise HTTPException(503, "the emulator is starting")
    return runtime


def _clock_json(runtime: EmulatorRuntime) -> dict[str, Any]:
    now = runtime.clock.now()
    if isinstance(runtime.clock, OffsetClock):
        offset = runtime.clock.offset.total_seconds()
    else:
        offset = (now - datetime.now(UTC)).total_seconds()
    return {
        "now": now.isoformat(),
        "now_jst": to_jst(now).isoformat(timespec="seconds"),
        "offset_seconds": round(offset),
    }


class LineEvent(BaseModel):
    type: str = Field(pattern="^(follow|unfollow|message|postback|image)$")
    text: str | None = Field(default=None, max_length=5000)
    data: str | None = Field(default=None, max_length=300)
    params: dict[str, str] | None = None


class LinePrepare(BaseModel):
    user: str | None = None
    event: LineEvent


class SlackPrepare(BaseModel):
    user: str
    interaction: dict[str, Any]


class Advance(BaseModel):
    seconds: int | None = Field(default=None, gt=0)
    to_jst: str | None = None


def emulator_router() -> APIRouter:
    router = APIRouter(prefix="/emulator", include_in_schema=False)

    @router.get("")
    @router.get("/")
    async def page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    @router.get("/console")
    async def console(request: Request, user: str) -> Response:
        """Open the operations console signed in as a persona: the OIDC stand-in approves
        the next Sign in with Slack as them, and the console's own sign-in does the rest."""
        runtime = _runtime(request)
        personas = {p.user_id for p in await runtime.personas()}
        if user not in personas:
            raise HTTPException(404, "no such persona")
        runtime.platforms.oidc.approve_as = (user, runtime.platforms.team_id)
        return RedirectResponse("/console/login", status_code=303)

    @router.get("/api/config")
    async def config(request: Request) -> dict[str, Any]:
        runtime = _runtime(request)
        personas = await runtime.personas()
        channels = await runtime.channels()
        default = next((p for p in personas if p.role == "co" and "東京" in p.org), None)
        default = default or (personas[0] if personas else None)
        return {
            "owner": {"user_id": runtime.owner_id, "display_name": OWNER_DISPLAY_NAME},
            "line": {"account_name": "よろず支援拠点"},
            "slack": {
                "team_id": runtime.platforms.team_id,
                "personas": [p.as_json() for p in personas],
                "channels": [{"id": c.id, "name": c.name} for c in channels],
                "default_persona": default.user_id if default else None,
            },
        }

    @router.get("/api/clock")
    async def clock(request: Request) -> dict[str, Any]:
        return _clock_json(_runtime(request))

    @router.post("/api/clock/advance")
    async def advance(request: Request, body: Advance) -> dict[str, Any]:
        runtime = _runtime(request)
        if (body.seconds is None) == (body.to_jst is None):
            raise HTTPException(422, "give either seconds or to_jst")
        if body.seconds is not None:
            delta = timedelta(seconds=body.seconds)
        else:
            try:
                target = datetime.fromisoformat(str(body.to_jst))
            except ValueError:
                raise HTTPException(422, "to_jst: expected YYYY-MM-DDTHH:MM") from None
            if target.tzinfo is None:
                target = target.replace(tzinfo=JST)
            delta = target - runtime.clock.now()
            if delta <= timedelta(0):
                raise HTTPException(422, "to_jst: the clock only moves forward")
        try:
            runs = await runtime.advance(delta)
        except ValueError as exc:
            raise HTTPException(422, f"seconds: {exc}") from None
        return {
            "clock": _clock_json(runtime),
            "jobs": [{"id": run.id, "count": run.count} for run in runs],
        }

    @router.get("/api/line/state")
    async def line_state(request: Request, user: str | None = None) -> dict[str, Any]:
        runtime = _runtime(request)
        user_id = user or runtime.owner_id
        standin = runtime.platforms.line
        messages = []
        for delivery in standin.recorder.deliveries_to(user_id):
            for message in delivery.messages:
                messages.append(
                    {
                        "seq": len(messages) + 1,
                        "kind": delivery.endpoint,
                        "at": delivery.at.isoformat(),
                        "message": message,
                    }
                )
        return {
            "followed": user_id in runtime.followed,
            "messages": messages,
            "rich_menu": _rich_menu(runtime, user_id),
        }

    @router.get("/api/line/rich-menu-image")
    async def rich_menu_image(request: Request, id: str) -> Response:
        image = _runtime(request).platforms.line.rich_menu_image(id)
        if image is None:
            raise HTTPException(404, "no such rich menu image")
        return Response(image, media_type="image/png")

    @router.post("/api/line/prepare")
    async def line_prepare(request: Request, body: LinePrepare) -> dict[str, Any]:
        runtime = _runtime(request)
        owner = runtime.line_owner(body.user)
        event = body.event
        prepared: SignedRequest
        if event.type == "follow":
            prepared = owner.follow(unblocked=_ever_followed(runtime, owner.user_id))
            runtime.followed.add(owner.user_id)
        elif event.type == "unfollow":
            prepared = owner.unfollow()
            runtime.followed.discard(owner.user_id)
        elif event.type == "image":
            message_id = runtime.sample_photo()
            prepared = owner.image(message_id)
        elif event.type == "message":
            if not event.text:
                raise HTTPException(422, "text: a message needs some text")
            prepared = owner.text(event.text)
        else:
            if not event.data:
                raise HTTPException(422, "data: a postback needs its data")
            prepared = owner.postback(event.data, event.params)
        return prepared.as_json()

    @router.get("/api/slack/state")
    async def slack_state(request: Request, user: str) -> dict[str, Any]:
        runtime = _runtime(request)
        return _slack_state(runtime, user, await runtime.channels())

    @router.get("/api/slack/file/{file_id}")
    async def slack_file(request: Request, file_id: str) -> Response:
        """A file shared in Slack (an owner's photo), as a person in Slack would open it."""
        runtime = _runtime(request)
        data = runtime.platforms.slack.file_content(file_id)
        if data is None:
            raise HTTPException(404, "no such file")
        kind = mimetypes.guess_type(runtime.platforms.slack.file_name(file_id) or "")[0]
        return Response(data, media_type=kind or "application/octet-stream")

    @router.post("/api/slack/prepare")
    async def slack_prepare(request: Request, body: SlackPrepare) -> dict[str, Any]:
        runtime = _runtime(request)
        try:
            prepared = _slack_request(runtime, body.user, body.interaction)
        except (KeyError, TypeError, ValueError) as exc:
            raise HTTPException(422, f"interaction: {exc}") from None
        return prepared.as_json()

    return router


def _ever_followed(runtime: EmulatorRuntime, user_id: str) -> bool:
    """A follow after a block is LINE's "unblocked" follow."""
    return bool(runtime.platforms.line.recorder.deliveries_to(user_id))


def _rich_menu(runtime: EmulatorRuntime, user_id: str) -> dict[str, Any] | None:
    standin = runtime.platforms.line
    menu_id = standin.rich_menu_for(user_id)
    if menu_id is None:
        return None
    menu = standin.rich_menu(menu_id)
    if menu is None:
        return None
    has_image = standin.rich_menu_image(menu_id) is not None
    return {
        **menu,
        "richMenuId": menu_id,
        "image_url": f"/emulator/api/line/rich-menu-image?id={menu_id}" if has_image else None,
    }


def _message_json(message: Any) -> dict[str, Any]:
    return {
        "channel": message.channel,
        "ts": message.ts,
        "text": message.text,
        "blocks": message.blocks,
        "thread_ts": message.thread_ts,
        "at": message.at.isoformat(),
        "user": getattr(message, "user", None) or "bot",
        "edited": message.edits > 0,
        "files": [
            {**item, "url": f"/emulator/api/slack/file/{item['id']}"}
            for item in getattr(message, "files", None) or []
        ],
        "reactions": list(message.reactions),
    }


def _current(runtime: EmulatorRuntime, channel: str) -> list[dict[str, Any]]:
    slack = runtime.platforms.slack
    current = []
    for original in slack.recorder.messages_in(channel):
        latest = slack.message(channel, original.ts) or original
        current.append(_message_json(latest))
    return current


def _slack_state(runtime: EmulatorRuntime, user: str, channels: list[Any]) -> dict[str, Any]:
    slack = runtime.platforms.slack
    views: list[dict[str, Any]] = []
    home: dict[str, Any] | None = None
    seen: set[str] = set()
    for recorded in slack.recorder.views:
        if recorded.user_id != user:
            continue
        if recorded.method == "views.publish":
            home = slack.view(recorded.view_id) or recorded.view
        elif recorded.method in ("views.open", "views.push") and recorded.view_id not in seen:
            seen.add(recorded.view_id)
            current = slack.view(recorded.view_id) or recorded.view
            views.append({"view_id": recorded.view_id, "seq": len(views) + 1, "view": current})
    return {
        "channels": {channel.id: _current(runtime, channel.id) for channel in channels},
        "dm": _current(runtime, slack.dm_channel_for(user)),
        "dm_channel": slack.dm_channel_for(user),
        "ephemerals": [
            {
                "channel": e.channel,
                "text": e.text,
                "blocks": e.blocks,
                "at": e.at.isoformat(),
            }
            for e in slack.recorder.ephemerals_for(user)
        ],
        "views": views,
        "home": home,
    }


def _slack_request(
    runtime: EmulatorRuntime, user: str, interaction: dict[str, Any]
) -> SignedRequest:
    person = runtime.slack_person(user)
    kind = interaction.get("kind")
    if kind == "shortcut":
        return person.shortcut(str(interaction["callback_id"]))
    if kind == "message_shortcut":
        return person.message_shortcut(
            str(interaction["callback_id"]), str(interaction["channel"]), str(interaction["ts"])
        )
    if kind == "command":
        return person.command(
            str(interaction.get("command") or "/yorozu"),
            str(interaction.get("text") or ""),
            interaction.get("channel"),
        )
    if kind == "block_action":
        container = interaction["container"]
        action = dict(interaction["action"])
        if container.get("type") == "view":
            return person.click_in_view(str(container["view_id"]), action)
        if not container.get("ts"):
            raise ValueError("buttons on ephemeral messages are not supported by the emulator")
        return person.click_in_message(str(container["channel"]), str(container["ts"]), action)
    if kind == "view_submission":
        # The page's own copy of the view wins: after a response_action update or push only
        # the page knows what the modal shows.
        shown = interaction.get("view") if isinstance(interaction.get("view"), dict) else None
        return person.submit(
            str(interaction["view_id"]), dict(interaction.get("values") or {}), view=shown
        )
    if kind == "view_closed":
        return person.close(str(interaction["view_id"]))
    if kind == "app_home_opened":
        return person.home_opened()
    if kind == "reaction_added":
        return person.react(
            str(interaction.get("reaction") or "eyes"),
            str(interaction["channel"]),
            str(interaction["ts"]),
        )
    if kind == "message":
        text = str(interaction.get("text") or "")
        if not text.strip():
            raise ValueError("a message needs text")
        return person.say(
            str(interaction["channel"]),
            text,
            thread_ts=str(interaction["thread_ts"]) if interaction.get("thread_ts") else None,
        )
    raise ValueError(f"unknown kind {kind!r}")
