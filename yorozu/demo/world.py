"""The running service for `yorozu demo`: the app, its workers, the stand-ins and the people.

Everything goes through the service's real doors: signed webhooks in, the worker and the
dispatcher as production runs them, the LINE and Slack stand-ins on local ports out, and the
scheduler's jobs run for the stretch of time the manual clock skips. The demo then reads only
what reached the stand-ins (and the database), the way a person would see it, so a step that
did not happen cannot be printed as if it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import core.db.models as m
from core.clock import JST, ManualClock
from core.domain.enums import InboxStatus, OutboxStatus
from core.inbox import handle_next
from core.owners import postbacks
from integrations.standins.line_api import Delivery
from integrations.standins.slack_api import SlackMessage, SlackUpdate
from scheduler.catchup import JobRun, run_due_between
from scheduler.runner import JobSpec, job_specs
from yorozu.app import create_app
from yorozu.bootstrap import Container, prepare_database
from yorozu.demo.timeline import Entry, Timeline
from yorozu.dispatcher import Dispatcher
from yorozu.handlers import Handler, build_handler
from yorozu.roles import scheduler_options
from yorozu.sandbox import LineOwner, LocalPlatforms, SignedRequest, SlackPerson, line_actions
from yorozu.settings import Settings

log = logging.getLogger(__name__)

Factory = async_sessionmaker[AsyncSession]
T = TypeVar("T")

WORKER_NAME = "demo"
SLACK_PACE = timedelta(seconds=2)
"""How far the clock moves between dispatcher rounds: Slack's per-channel pace needs it."""
DISPATCH_ROUNDS = 120
"""Rounds of the dispatcher one settle may take before the outbox counts as stuck."""
SETTLE_HORIZON = timedelta(minutes=1)
"""Rows due within this are still being sent; later ones are planned pushes that wait."""
POLL_ROUNDS = 500
POLL_SECONDS = 0.01
"""Bolt's work after the ack gets up to five seconds of the event loop."""


class StepFailed(Exception):
    """A step of the story did not happen: `reason` says what was missing."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


class NotSeen(Exception):
    """The service did not do what the world's helpers waited for (a webhook refused, an
    event not handled, a modal never opened, the outbox not draining).

    Raised by helpers that do not know the step; the demo reports it as that step's failure.
    """


@dataclass(frozen=True)
class Seen:
    """What reached the stand-ins since the last look: LINE deliveries, Slack posts and edits."""

    line: list[Delivery] = field(default_factory=list)
    slack: list[SlackMessage] = field(default_factory=list)
    updates: list[SlackUpdate] = field(default_factory=list)

    def line_to(self, user_id: str) -> list[dict[str, Any]]:
        return [message for d in self.line if d.to == user_id for message in d.messages]


# -- reading what arrived ---------------------------------------------------------------------


def find_postback(
    messages: Sequence[dict[str, Any]], action: str, **values: str | int
) -> dict[str, Any] | None:
    """The button whose postback is `action` (with these values): found by what it does,
    not by its label, so the same story runs whatever language the owner reads."""
    wanted = {name: str(value) for name, value in values.items()}
    for candidate in line_actions(messages):
        name, params = postbacks.decode(str(candidate.get("data", "")))
        if name == action and all(params.get(k) == v for k, v in wanted.items()):
            return candidate
    return None


def slack_buttons(blocks: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        element
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
        if element.get("type") == "button"
    ]


def find_button(message: SlackMessage, action: str) -> dict[str, Any] | None:
    """The card's button whose value starts with the postback name `action` ("case.claim")."""
    for button in slack_buttons(message.blocks):
        if str(button.get("value", "")).partition("&")[0] == action:
            return button
    return None


# -- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    """The service and its stand-ins, with the helpers the story acts through."""

    settings: Settings
    clock: ManualClock
    platforms: LocalPlatforms
    container: Container
    http: httpx.AsyncClient
    dispatcher: Dispatcher
    specs: list[JobSpec]
    timeline: Timeline
    handler: Handler
    _line_seen: int = 0
    _slack_seen: int = 0
    _updates_seen: int = 0

    @property
    def factory(self) -> Factory:
        return self.container.session_factory

    # -- people --------------------------------------------------------------------------

    def line_owner(self, user_id: str) -> LineOwner:
        return self.platforms.line_owner(self.settings, self.clock, user_id)

    def slack_person(self, user_id: str) -> SlackPerson:
        return self.platforms.slack_person(self.settings, user_id)

    # -- acting --------------------------------------------------------------------------

    async def send(self, request: SignedRequest) -> httpx.Response:
        """Deliver a signed request to the service's webhook; a refusal ends the demo."""
        response = await request.send(self.http)
        if response.status_code != 200:
            raise NotSeen(f"{request.path} answered {response.status_code}: {response.text[:200]}")
        return response

    async def send_slack(self, request: SignedRequest) -> httpx.Response:
        """A Slack interaction: Bolt acknowledges first and stores the work right after, so
        wait for the stored inbox row (or the opened modal) before settling."""
        before = await self.inbox_rows()
        views_before = len(self.platforms.slack.recorder.views)
        response = await self.send(request)

        async def something() -> bool:
            return (
                await self.inbox_rows() > before
                or len(self.platforms.slack.recorder.views) > views_before
            )

        await self.until(something, f"Slack request to {request.path} taken up")
        await self.settle()
        return response

    async def open_modal(self, user_id: str, request: SignedRequest) -> dict[str, Any]:
        """Click something that opens a modal; answers the view as Slack now shows it."""
        recorder = self.platforms.slack.recorder
        before = len(recorder.views_opened_for(user_id))
        await self.send(request)

        async def opened() -> bool:
            return len(recorder.views_opened_for(user_id)) > before

        await self.until(opened, f"a modal opened for {user_id}")
        ids = [v.view_id for v in recorder.views if v.user_id == user_id]
        view = self.platforms.slack.view(ids[-1])
        if view is None:
            raise NotSeen(f"the modal opened for {user_id} is gone")
        return view

    async def submit(
        self, person: SlackPerson, view: dict[str, Any], values: dict[str, Any]
    ) -> str:
        """Press a modal's submit with these inputs (block id → element state); answers
        the response body (empty when the modal closed, field errors otherwise)."""
        state = {block: {"value": element} for block, element in values.items()}
        before = await self.inbox_rows()
        response = await self.send(person.submit(str(view["id"]), state))
        body = response.text.strip()
        if body not in ("", "{}"):
            return body

        async def stored() -> bool:
            return await self.inbox_rows() > before

        await self.until(stored, f"the submission of {view.get('callback_id')} stored")
        await self.settle()
        return ""

    async def until(self, condition: Callable[[], Awaitable[bool]], what: str) -> None:
        """Wait for what Bolt does after its ack: a poll of the event loop, not of time."""
        for _ in range(POLL_ROUNDS):
            if await condition():
                return
            await asyncio.sleep(POLL_SECONDS)
        raise NotSeen(f"never happened: {what}")

    async def inbox_rows(self) -> int:
        async with self.factory() as session:
            return int(await session.scalar(select(func.count()).select_from(m.InboxEvent)) or 0)

    async def settle(self) -> None:
        """The worker handles every stored event, then the dispatcher sends what is due;
        between rounds the clock moves a little so Slack's per-channel pace allows the next."""
        while await handle_next(self.factory, self.handler, self.clock.now(), WORKER_NAME):
            pass
        async with self.factory() as session:
            failed = await session.scalar(
                select(func.count())
                .select_from(m.InboxEvent)
                .where(m.InboxEvent.status != InboxStatus.DONE)
            )
        if failed:
            raise NotSeen(f"{failed} inbound event(s) were not handled")
        for _ in range(DISPATCH_ROUNDS):
            await self.dispatcher.run_once()
            if not await self._due_outbox(self.clock.now() + SETTLE_HORIZON):
                return
            self.clock.advance(SLACK_PACE)
        raise NotSeen("the outbox did not drain")

    async def _due_outbox(self, by: datetime) -> int:
        """Outbox rows due by then: answers given back for a platform's pace come due within
        seconds; planned pushes (tomorrow's reminder, a push held for the night) wait."""
        async with self.factory() as session:
            due = await session.scalars(
                select(m.OutboxMessage.not_before).where(
                    m.OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))
                )
            )
            return sum(1 for moment in due if moment is None or moment <= by)

    async def advance_to(self, moment: datetime) -> list[JobRun]:
        """Move the service's time to `moment`, run every scheduler job whose trigger fell in
        the skipped stretch (once each, as after downtime), then let everything settle."""
        start = self.clock.now()
        if moment > start:
            self.clock.advance(moment - start)
        runs = await run_due_between(self.specs, start, self.clock.now())
        await self.settle()
        return runs

    # -- looking -------------------------------------------------------------------------

    def look(self) -> Seen:
        """What reached the stand-ins since the last look (each thing is seen once)."""
        line = self.platforms.line.recorder.deliveries
        slack = self.platforms.slack.recorder.messages
        updates = self.platforms.slack.recorder.updates
        seen = Seen(
            line=line[self._line_seen :],
            slack=slack[self._slack_seen :],
            updates=updates[self._updates_seen :],
        )
        self._line_seen, self._slack_seen, self._updates_seen = (
            len(line),
            len(slack),
            len(updates),
        )
        return seen

    def record(self, seen: Seen) -> list[Entry]:
        """Put what arrived on the timeline, in the order it arrived."""
        return self.timeline.arrived(seen)

    def act(self, platform: str, who: str, what: str) -> Entry:
        return self.timeline.acted(self.clock.now(), platform, who, what)

    async def one(self, model: type[T], *where: Any) -> T | None:
        """The first row of `model` matching `where` (by id), read in a session of its own."""
        by_id = model.id  # type: ignore[attr-defined]
        async with self.factory() as session:
            rows = await session.scalars(select(model).where(*where).order_by(by_id).limit(1))
            return rows.first()


def jst(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Japan-time wall clock moment, as the UTC instant the service stores (invariant 10)."""
    return datetime(year, month, day, hour, minute, tzinfo=JST).astimezone(UTC)


@contextlib.asynccontextmanager
async def running_world(
    settings: Settings, clock: ManualClock, timeline: Timeline
) -> AsyncIterator[World]:
    """Stand-ins on local ports, the app in process on a migrated and seeded database."""
    platforms = LocalPlatforms(settings, clock)
    with platforms as active:
        app = create_app(active, clock=clock)
        async with app.router.lifespan_context(app):
            container: Container = app.state.container
            await prepare_database(container, demo=True)
            await _rich_menus(container)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://yorozu") as http:
                dispatcher = Dispatcher(container)
                try:
                    config = scheduler_options(active)["config"]
                    world = World(
                        settings=active,
                        clock=clock,
                        platforms=platforms,
                        container=container,
                        http=http,
                        dispatcher=dispatcher,
                        specs=job_specs(container.session_factory, clock, config),
                        timeline=timeline,
                        handler=build_handler(container),
                    )
                    yield world
                finally:
                    await dispatcher.aclose()


async def _rich_menus(container: Container) -> None:
    """Deploy the LINE rich menus, as `yorozu line rich-menu deploy` does before going live:
    the owner's menu then switches as in production. The story taps the menu's postbacks
    either way, so a machine that cannot draw them (no font) still runs the demo."""
    from yorozu.cli_line import deploy_rich_menus

    try:
        await deploy_rich_menus(container)
    except Exception:
        log.warning("demo: rich menus not deployed", exc_info=True)
