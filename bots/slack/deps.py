"""What every Slack listener module gets, and the registry of durable Slack work.

Listeners run inside Slack's 3-second ack window, so they only validate, open views (which
need the trigger id now) and hand durable work to the inbox. The worker later runs the
work handler registered under the inbox row's kind, inside the row's transaction, so a
claim, a hand-over or an outcome takes effect exactly once (invariants 2 and 3).

Modules plug in with `register(app, deps)` for listeners and `@work("kind")` for handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.i18n import Catalog
from core.inbox import NewInboxEvent
from core.queues.port import HubQueue

Submit = Callable[[Sequence[NewInboxEvent]], Awaitable[None]]


@dataclass
class SlackDeps:
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    catalog: Catalog
    submit: Submit
    """Store durable work in the inbox (returns once committed)."""
    client: Any
    """slack_sdk AsyncWebClient for calls that cannot wait for the outbox (views.open)."""
    default_team_id: str = "default"
    console_url: str | None = None
    """Where people open the operations console (CONSOLE_BASE_URL), for links in Slack."""


@dataclass
class WorkContext:
    """What a durable Slack work handler gets beside its session and payload."""

    now: datetime
    queue: HubQueue | None = None
    catalog: Catalog = field(default_factory=Catalog.load)


WorkHandler = Callable[[AsyncSession, dict[str, Any], WorkContext], Awaitable[None]]
WORK: dict[str, WorkHandler] = {}


def work(kind: str) -> Callable[[WorkHandler], WorkHandler]:
    """Register the durable handler for inbox rows of `kind` (e.g. "slack.handover.submit")."""

    def register(handler: WorkHandler) -> WorkHandler:
        if kind in WORK:
            raise ValueError(f"two handlers for Slack work {kind!r}")
        WORK[kind] = handler
        return handler

    return register
