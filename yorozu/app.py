"""The FastAPI application factory.

`create_app` builds the web app for a role: `api` only answers HTTP; `serve` (the embedded
default) also migrates, seeds and runs the background roles inside the same event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from core.clock import Clock
from core.inbox.pg_insert import CommittedInsert
from yorozu.bootstrap import Container, bootstrap, health, prepare_database
from yorozu.gauges import register_gauges
from yorozu.metrics import http_metrics
from yorozu.settings import Settings

BackgroundRole = Callable[[Container], Coroutine[Any, Any, None]]


def _postgres_ingest(container: Container, search_path: str | None) -> CommittedInsert | None:
    """PostgreSQL: the webhooks' inserts commit as single statements on an engine of their
    own, without the pool's ping (core/inbox/pg_insert.py); None elsewhere (the session)."""
    if container.engine.dialect.name != "postgresql":
        return None
    from core.db.session import create_engine

    engine = create_engine(
        container.settings.database_url,
        search_path=search_path,
        pre_ping=False,
        pool_size=CommittedInsert.connections,
    )
    container.on_close(engine.dispose)
    return CommittedInsert(engine)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    prepare: bool = False,
    background: list[BackgroundRole] | None = None,
    emulator: bool = False,
    background_process: bool = False,
    search_path: str | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """`emulator=True` (serve, with `Settings.emulator_on`) starts local LINE and Slack
    stand-ins, points the service at them, moves its clock on request and serves /emulator.
    `background_process=True` (serve without the emulator) runs the worker, dispatcher and
    scheduler in a child process once the database is prepared (yorozu/background.py).
    `search_path` puts a PostgreSQL app in one schema (the test suite's per-run schema).
    `freeze_heap=True` (the processes `yorozu` starts) keeps the garbage collector off what
    startup built once the app is ready (yorozu/heap.py); tests build many apps in one
    process and leave it off."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        active: Settings = settings
        active_clock: Clock | None = clock
        runtime: Any = None
        if emulator:
            from yorozu.emulator.runtime import EmulatorRuntime

            movable = clock if hasattr(clock, "advance") else None
            runtime = EmulatorRuntime(settings, movable)  # type: ignore[arg-type]
            active, active_clock = runtime.start(), runtime.clock
        try:
            async with _serving(app, active, active_clock, runtime):
                yield
        finally:
            if runtime is not None:
                runtime.stop()

    @asynccontextmanager
    async def _serving(
        app: FastAPI, settings: Settings, clock: Clock | None, runtime: Any
    ) -> AsyncIterator[None]:
        """The service itself, on the settings and clock it runs with (the emulator's when
        it is on: they point at the local stand-ins and can be moved forward)."""
        from bots.line.webhook import LineWebhook, SqlAlchemyHubChannels
        from core.inbox import InboxWriter
        from yorozu.arrivals import JOURNAL_WRITER, MARK_ENV, move_leftover_arrivals
        from yorozu.roles import BackgroundTasks
        from yorozu.worker import inbox_wake

        container = await bootstrap(settings, clock=clock, search_path=search_path)
        app.state.container = container
        container.metrics.registry.register(http_registry)
        tasks = BackgroundTasks()

        def observe(received: int, new: int) -> None:
            container.metrics.events_accepted.labels("line").inc(new)
            container.metrics.events_duplicate.labels("line").inc(received - new)

        # serve on SQLite: the webhooks commit to the arrivals journal, a file of their own,
        # and the child moves them into the inbox (core/inbox/journal.py).
        journal = mark = None
        sqlite_file = settings.sqlite_path()
        if background_process and sqlite_file is not None:
            from core.inbox.journal import JournalWriter, MoveMark, journal_path

            mark = MoveMark.create()
            journal = JournalWriter(journal_path(sqlite_file), mark)
            container.extras[JOURNAL_WRITER] = journal
        ingest = None if journal is not None else _postgres_ingest(container, search_path)
        batching = (
            {}
            if ingest is None
            else {"max_batch": ingest.batch, "max_in_flight": ingest.connections}
        )
        writer = InboxWriter(
            container.session_factory,
            container.clock,
            wake=inbox_wake(container),
            observe=None if journal is not None else observe,
            store=journal.add if journal is not None else ingest,
            **batching,
        )
        try:
            if prepare:
                await prepare_database(container, demo=settings.seed_demo or runtime is not None)
            if sqlite_file is not None:
                await move_leftover_arrivals(container, sqlite_file, mark)
            if runtime is not None:
                await runtime.attach(container)
                app.state.emulator = runtime
            await writer.start()
            app.state.line_webhook = LineWebhook(
                sink=writer,
                default_secret=settings.line_channel_secret.get_secret_value(),
                hub_channels=SqlAlchemyHubChannels(container.session_factory),
            )
            app.state.slack_app = await _slack_app(container, writer)
            app.state.console = _console_deps(container)
            register_gauges(container)
            for role in background or []:
                tasks.start(role(container), name=getattr(role, "__name__", "role"))
            child = None
            if background_process:
                from yorozu.background import BackgroundProcess

                child = BackgroundProcess(env={MARK_ENV: mark.name} if mark is not None else {})
                await child.start()
            app.state.background_process = child
            if freeze_heap:
                from yorozu.heap import freeze_startup_heap

                freeze_startup_heap()
            yield
        finally:
            if getattr(app.state, "background_process", None) is not None:
                await app.state.background_process.stop()
            await tasks.stop()
            await writer.aclose()
            if journal is not None:
                await journal.aclose()
            if mark is not None:
                mark.close()
            await container.aclose()

    # Metrics are Prometheus, /metrics; FastAPI's own OpenTelemetry hooks would cost a
    # provider lookup on every webhook for nothing. The HTTP metrics' registry outlives the
    # containers that lifespans build, since the middleware is added once, here.
    http_registry = CollectorRegistry()
    app = _App(
        title="Yorozu Front Door",
        version="0.1.0",
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    from starlette.middleware.sessions import SessionMiddleware

    # The console's session: a signed cookie, HttpOnly, SameSite=Lax, Secure in production.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_session_secret.get_secret_value(),
        session_cookie="yorozu_console",
        max_age=int(settings.console_session_hours * 3600),
        path="/console",
        same_site="lax",
        https_only=settings.yorozu_env.value == "production",
    )
    app.add_middleware(RequestIdMiddleware)
    from bots.line.webhook import WebhookFastPath, line_webhook_router

    webhook_router = line_webhook_router(lambda request: request.app.state.line_webhook)
    app.include_router(webhook_router)
    from bots.slack.app import slack_router

    app.include_router(slack_router(lambda request: getattr(request.app.state, "slack_app", None)))
    from bots.console.router import console_router

    app.include_router(console_router(lambda request: request.app.state.console))
    if emulator:
        from yorozu.emulator.router import emulator_router

        app.include_router(emulator_router())

    webhook_requests = http_metrics(app, http_registry)
    app.fast_path = lambda stack: WebhookFastPath(
        stack, router=webhook_router, observer=webhook_requests
    )

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        container: Container = request.app.state.container
        body = await container.metrics.render()
        child = getattr(request.app.state, "background_process", None)
        if child is not None:
            # serve's background roles count in their own process: one scrape shows both.
            from yorozu.background import merged_exposition

            theirs = await child.exposition()
            if theirs is not None:
                body = merged_exposition([body.decode(), theirs])
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        container: Container = request.app.state.container
        healthy, report = await health(container)
        degraded = bool((report.get("inbox") or {}).get("degraded"))
        status = "unavailable" if not healthy else "degraded" if degraded else "ok"
        body = {"status": status, **report}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app


async def _slack_app(container: Container, writer: Any) -> Any:
    """The Bolt app, sharing the inbox writer: Slack's durable work goes where LINE's does."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bots.slack import listeners  # noqa: F401  (every work handler registered)
    from bots.slack.app import SlackOAuthConfig, build_slack_app
    from bots.slack.deps import SlackDeps
    from core.i18n import Catalog
    from yorozu.slack_tokens import installation_store

    settings = container.settings
    token = settings.slack_bot_token.get_secret_value()
    api_base_url = str(settings.slack_api_base_url)
    oauth = None
    redirect = settings.slack_oauth_redirect_uri
    if settings.slack_client_id and settings.slack_client_secret:
        oauth = SlackOAuthConfig(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            engine=container.engine,
            redirect_uri=str(redirect) if redirect else None,
            installation_store=installation_store(
                settings, container.engine, container.session_factory, container.clock
            ),
        )
    deps = SlackDeps(
        session_factory=container.session_factory,
        clock=container.clock,
        catalog=Catalog.load(),
        submit=writer.submit,
        client=AsyncWebClient(token=token, base_url=api_base_url),
        console_url=str(settings.console_base_url) if settings.console_base_url else None,
    )
    return build_slack_app(
        deps,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        token=None if oauth else token,
        api_base_url=api_base_url,
        oauth=oauth,
    )


def _console_deps(container: Container) -> Any:
    """The console's dependencies; Sign in with Slack needs the Slack app's client id and
    secret (the console says so on its sign-in page when they are missing)."""
    from bots.console.router import ConsoleDeps
    from core.i18n import Catalog
    from yorozu.slack_users import slack_directory

    settings = container.settings
    slack = None
    client_id = settings.console_slack_client_id or settings.slack_client_id
    secret = settings.console_slack_client_secret or settings.slack_client_secret
    if client_id and secret:
        from authlib.integrations.starlette_client import OAuth

        oauth = OAuth()
        issuer = str(settings.slack_oidc_issuer).rstrip("/")
        slack = oauth.register(
            "slack",
            client_id=client_id,
            client_secret=secret.get_secret_value(),
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid profile email"},
        )
    return ConsoleDeps(
        session_factory=container.session_factory,
        clock=container.clock,
        catalog=Catalog.load(),
        slack=slack,
        directory=slack_directory(container),
        slack_erasure=settings.slack_erasure,
    )


class _App(FastAPI):
    """FastAPI with the LINE webhook's fast path outside its whole middleware stack
    (bots/line/webhook.py says why): FastAPI puts its own error, telemetry and body-limit
    middlewares around every one added with add_middleware."""

    fast_path: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.fast_path is None else self.fast_path(stack)


class RequestIdMiddleware:
    """Give every request an id (or keep the caller's X-Request-Id) for the JSON logs.

    A plain ASGI middleware rather than BaseHTTPMiddleware: it adds no task hop on the
    webhook's hot path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from yorozu.logs import request_id

        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming[:64] if incoming else uuid.uuid4().hex
        token = request_id.set(rid)
        try:
            await self.app(scope, receive, send)
        finally:
            request_id.reset(token)
