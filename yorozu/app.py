"""The FastAPI application factory.

`create_app` builds the web app for a role: `api` only answers HTTP; `serve` (the embedded
default) also migrates, seeds and runs the background roles inside the same event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from core.clock import Clock
from yorozu.bootstrap import Container, bootstrap, health, prepare_database
from yorozu.settings import Settings

BackgroundRole = Callable[[Container], Coroutine[Any, Any, None]]


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    prepare: bool = False,
    background: list[BackgroundRole] | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from yorozu.roles import BackgroundTasks

        container = await bootstrap(settings, clock=clock)
        app.state.container = container
        tasks = BackgroundTasks()
        try:
            if prepare:
                await prepare_database(container, demo=settings.seed_demo)
            for role in background or []:
                tasks.start(role(container), name=getattr(role, "__name__", "role"))
            yield
        finally:
            await tasks.stop()
            await container.aclose()

    app = FastAPI(title="Yorozu Front Door", version="0.1.0", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        container: Container = request.app.state.container
        healthy, report = await health(container)
        body = {"status": "ok" if healthy else "unavailable", **report}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return app
