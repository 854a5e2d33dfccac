"""The Slack app: one Bolt AsyncApp behind `POST /slack/events`, and the OAuth install flow.

Order of work on every request (Bolt's built-in middleware first, then ours):
1. signature: `X-Slack-Signature` over "v0:{timestamp}:{raw body}" with the signing secret,
   and a timestamp at most five minutes off (Bolt's RequestVerification): a forged or stale
   request is answered 401 before anything is parsed or stored;
2. authorization: one workspace with the bot token (default), or the installation of the
   request's team (OAuth); the bot's own ids come from auth.test, asked lazily and never
   waited on for long, so a slow or absent Slack API does not hold the acknowledgement;
3. our own bot's events are dropped (Bolt's IgnoringSelfEvents);
4. `_durable_events`: an Events API event whose kind has a durable work handler
   (`@work("slack.event.<type>")`, see bots/slack/deps.py) is stored in the inbox under
   Slack's event_id and answered 200 once committed. A retry (X-Slack-Retry-Num) of an event
   already stored is a duplicate the inbox drops; a retry of an event nobody stores is
   answered at once, because its first delivery was already acknowledged and handled;
5. listeners (bots/slack/commands.py, home.py, partners.py, chat.py, coordinators.py), run by Bolt
   after the ack (process_before_response=False). Interactions that change something store
   their durable work in the inbox with `interaction_event_id(body)` as the event id, so
   Slack's retry of an interaction is a duplicate too.

Events no listener wants are acknowledged (a catch-all registered last), so Slack never
retries them or disables the subscription.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.slack.deps import WORK, SlackDeps
from core.domain.enums import Platform
from core.inbox import NewInboxEvent

log = logging.getLogger(__name__)

BOT_SCOPES: Final = (
    "chat:write",
    "chat:write.public",
    "commands",
    "im:write",
    "users:read",
    "reactions:read",
    "files:write",
    "channels:history",
    "groups:history",
    "im:history",
)
"""Kept identical to slack-app-manifest.yml; tests/unit/test_slack_scopes.py checks both
against the Web API methods the code calls and the events it subscribes to."""

STORE_BUDGET: Final = 2.0
"""Seconds to wait for an event's inbox commit before answering 503 (Slack allows 3 s and
retries; the commit that finishes later makes the retry a duplicate)."""
AUTH_TEST_WAIT: Final = 0.5
AUTH_TEST_RETRY: Final = 60.0
EVENT_KIND_PREFIX: Final = "slack.event."


@dataclass(frozen=True)
class SlackOAuthConfig:
    """OAuth install flow (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET set): each partner
    organisation installs the app in its own workspace; tokens live in our database."""

    client_id: str
    client_secret: str
    engine: AsyncEngine
    """The service's database (the async stores take an AsyncEngine)."""
    scopes: tuple[str, ...] = BOT_SCOPES
    redirect_uri: str | None = None
    """https://YOUR-HOST/slack/oauth_redirect; None lets Slack use the app's configured one."""
    state_expiration_seconds: int = 600
    install_path: str = "/slack/install"
    redirect_uri_path: str = "/slack/oauth_redirect"
    installation_store: AsyncSQLAlchemyInstallationStore | None = None
    """The store to use (the composition root's, which reconnects a reinstalled workspace);
    None: slack_sdk's own over `engine`."""


def oauth_stores(
    config: SlackOAuthConfig,
) -> tuple[AsyncSQLAlchemyInstallationStore, AsyncSQLAlchemyOAuthStateStore]:
    """slack_sdk's installation and state stores over our database (their tables
    slack_installations, slack_bots, slack_oauth_states are created by migration 0007)."""
    return (
        config.installation_store
        or AsyncSQLAlchemyInstallationStore(client_id=config.client_id, engine=config.engine),
        AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=config.state_expiration_seconds, engine=config.engine
        ),
    )


@dataclass
class _LazyBotIdentity:
    """Single-workspace authorization without a blocking auth.test on the hot path.

    Bolt's own single-team authorization calls auth.test on the first request and fails the
    request when Slack cannot be reached; here the bot's ids are fetched in the background
    (waited for at most AUTH_TEST_WAIT) and retried after a failure, and the request goes on
    with the token either way. Until they are known, self-events are not recognised, which
    only costs a handler a lookup that finds nobody.
    """

    client: AsyncWebClient
    token: str
    bot_id: str | None = None
    bot_user_id: str | None = None
    team_id: str | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _retry_at: float = 0.0

    async def _fetch(self) -> None:
        try:
            result = await self.client.auth_test(token=self.token)
            self.bot_id = result.get("bot_id")
            self.bot_user_id = result.get("user_id")
            self.team_id = result.get("team_id")
        except Exception as exc:
            self._retry_at = time.monotonic() + AUTH_TEST_RETRY
            log.warning("auth.test failed; retrying later (%s)", type(exc).__name__)

    async def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        if self.bot_user_id is None and time.monotonic() >= self._retry_at:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._fetch(), name="slack-auth-test")
            await asyncio.wait({self._task}, timeout=AUTH_TEST_WAIT)
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or self.team_id,
            user_id=user_id,
            bot_token=self.token,
            bot_id=self.bot_id,
            bot_user_id=self.bot_user_id,
        )


def _authorize_function(identity: _LazyBotIdentity) -> Callable[..., Any]:
    """A plain function: Bolt passes arguments by the names the callable declares."""

    async def authorize(
        enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        return await identity.authorize(enterprise_id, team_id, user_id)

    return authorize


def build_slack_app(
    deps: SlackDeps,
    *,
    signing_secret: str,
    token: str | None,
    api_base_url: str,
    oauth: SlackOAuthConfig | None = None,
    durable_events: Collection[str] | None = None,
) -> AsyncApp:
    """The Bolt app with every listener module registered.

    `durable_events`: Events API types stored in the inbox instead of handled by a listener;
    by default those with a `@work("slack.event.<type>")` handler (looked up per request, so
    the order in which modules register does not matter).
    """
    base_url = api_base_url if api_base_url.endswith("/") else api_base_url + "/"
    client = (
        deps.client
        if isinstance(deps.client, AsyncWebClient)
        else AsyncWebClient(token=token, base_url=base_url)
    )
    if oauth is not None:
        installations, states = oauth_stores(oauth)
        app = AsyncApp(
            signing_secret=signing_secret,
            client=AsyncWebClient(base_url=base_url),
            process_before_response=False,
            oauth_settings=AsyncOAuthSettings(
                client_id=oauth.client_id,
                client_secret=oauth.client_secret,
                scopes=list(oauth.scopes),
                redirect_uri=oauth.redirect_uri,
                install_path=oauth.install_path,
                redirect_uri_path=oauth.redirect_uri_path,
                installation_store=installations,
                state_store=states,
            ),
        )
    else:
        if not token:
            raise ValueError("SLACK_BOT_TOKEN is needed unless the OAuth install flow is on")
        app = AsyncApp(
            signing_secret=signing_secret,
            client=client,
            authorize=_authorize_function(_LazyBotIdentity(client, token)),
            process_before_response=False,
        )

    def is_durable(event_type: str) -> bool:
        if durable_events is not None:
            return event_type in durable_events
        return EVENT_KIND_PREFIX + event_type in WORK

    @app.middleware
    async def _durable_events(
        req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Any]
    ) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "event_callback":
            return await next()  # type: ignore[no-any-return]
        event = body.get("event") or {}
        event_type = str(event.get("type") or "")
        retry = _retry_num(req.headers)
        if not is_durable(event_type):
            if retry:
                return BoltResponse(status=200, body="")
            return await next()  # type: ignore[no-any-return]
        row = event_inbox_event(body, deps.default_team_id, redelivery=retry > 0)
        if row is None:
            return BoltResponse(status=200, body="")
        try:
            await asyncio.wait_for(asyncio.shield(deps.submit([row])), STORE_BUDGET)
        except TimeoutError:
            log.warning("Slack event not committed within %ss; Slack will retry", STORE_BUDGET)
            return BoltResponse(status=503, body="")
        return BoltResponse(status=200, body="")

    for module in _listener_modules():
        module.register(app, deps)

    @app.event(re.compile(".*"))
    async def _unhandled_event() -> None:
        """Acknowledge events nobody listens to (Bolt would answer 404 and Slack retry)."""

    return app


def _listener_modules() -> list[Any]:
    """Listener modules in the order Bolt should try them: the first matching listener wins,
    so the specific modules come before the catch-alls."""
    modules = []
    for name in (
        "bots.slack.partners",
        "bots.slack.chat",
        "bots.slack.coordinators",
        "bots.slack.commands",
        "bots.slack.home",
    ):
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.info("Slack listener module %s is not installed", name)
    return modules


def _retry_num(headers: Mapping[str, Any]) -> int:
    values = headers.get("x-slack-retry-num") or []
    raw = values[0] if isinstance(values, list) and values else values
    try:
        return int(raw) if raw else 0
    except (TypeError, ValueError):
        return 0


def _team_of(body: Mapping[str, Any], default_team: str) -> str:
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    if not team:
        user = body.get("user") or {}
        team = user.get("team_id") if isinstance(user, Mapping) else None
    return str(team or default_team)


def event_inbox_event(
    body: Mapping[str, Any], default_team: str, *, redelivery: bool = False
) -> NewInboxEvent | None:
    """An Events API callback as an inbox row: event id Slack's own event_id, kind
    "slack.event.<type>", ordered per message (a reaction) or per channel or user."""
    event_id = body.get("event_id")
    event = body.get("event")
    if not event_id or not isinstance(event, Mapping):
        return None
    team = _team_of(body, default_team)
    item = event.get("item") if isinstance(event.get("item"), Mapping) else {}
    assert isinstance(item, Mapping)
    if item.get("channel") and item.get("ts"):
        subject = f"{item['channel']}:{item['ts']}"
    else:
        subject = str(event.get("channel") or event.get("user") or "-")
    occurred = None
    event_time = body.get("event_time")
    if isinstance(event_time, int) and not isinstance(event_time, bool):
        occurred = datetime.fromtimestamp(event_time, UTC)
    return NewInboxEvent(
        platform=Platform.SLACK,
        channel_id=team,
        event_id=str(event_id)[:128],
        ordering_key=f"slack:{team}:{subject}"[:200],
        kind=(EVENT_KIND_PREFIX + str(event.get("type") or "unknown"))[:64],
        payload={
            "team_id": team,
            "enterprise_id": body.get("enterprise_id"),
            "event_id": event_id,
            "event_time": event_time,
            "event": dict(event),
        },
        occurred_at=occurred,
        redelivery=redelivery,
    )


def interaction_event_id(body: Mapping[str, Any]) -> str:
    """A stable inbox event id for an interaction payload (Slack gives them none).

    Slack's retry of one interaction repeats the same payload, so a digest of the parts that
    identify it (type, team, user, trigger id, action ids and timestamps, view id and hash)
    makes the retry a duplicate, while two clicks of one button (different trigger ids and
    action_ts) stay two events.
    """
    view = body.get("view") if isinstance(body.get("view"), Mapping) else {}
    assert isinstance(view, Mapping)
    actions = body.get("actions") if isinstance(body.get("actions"), list) else []
    assert isinstance(actions, list)
    user = body.get("user") if isinstance(body.get("user"), Mapping) else {}
    assert isinstance(user, Mapping)
    parts = {
        "type": body.get("type"),
        "team": _team_of(body, ""),
        "user": user.get("id") or body.get("user_id"),
        "trigger": body.get("trigger_id"),
        "callback": body.get("callback_id"),
        "message_ts": (body.get("message") or {}).get("ts")
        if isinstance(body.get("message"), Mapping)
        else None,
        "actions": [
            [a.get("action_id"), a.get("block_id"), a.get("action_ts")]
            for a in actions
            if isinstance(a, Mapping)
        ],
        "view": [view.get("id"), view.get("hash"), view.get("callback_id")],
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"ia:{body.get('type') or 'x'}:{digest[:48]}"[:128]


AppGetter = Callable[[Request], AsyncApp | None]


def slack_router(app_getter: AppGetter) -> APIRouter:
    """`POST /slack/events` (events, interactivity, slash commands and options all arrive at
    this one URL), plus `GET /slack/install` and `GET /slack/oauth_redirect` for the OAuth
    install flow. `app_getter` returns the app built at start-up (None: Slack is off)."""
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

    router = APIRouter()

    async def handle(request: Request) -> Response:
        app = app_getter(request)
        if app is None:
            return Response(status_code=404)
        response: Response = await AsyncSlackRequestHandler(app).handle(request)
        return response

    router.add_api_route("/slack/events", handle, methods=["POST"], include_in_schema=False)
    router.add_api_route("/slack/install", handle, methods=["GET"], include_in_schema=False)
    router.add_api_route("/slack/oauth_redirect", handle, methods=["GET"], include_in_schema=False)
    return router
