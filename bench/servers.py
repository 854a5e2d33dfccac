"""Servers the benchmarks start in their own processes, so load and service never share a GIL.

python -m bench.servers bare PORT
python -m bench.servers app PORT DATABASE_URL [REDIS_URL]
python -m bench.servers line PORT
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

import uvicorn

UVICORN = {"log_level": "warning", "access_log": False, "http": "httptools", "lifespan": "on"}


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The baseline: an ASGI endpoint that reads the body and answers 200, nothing else."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


def line_standin() -> Any:
    """The LINE stand-in with a stats route: deliveries and duplicates by retry key."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    from integrations.standins import create_line_api

    standin = create_line_api(None, strict_ids=False, rate_limits={})

    async def stats(_request: Any) -> JSONResponse:
        deliveries = standin.recorder.deliveries
        keys = Counter(d.retry_key for d in deliveries if d.retry_key)
        contents = Counter((d.to, json.dumps(d.messages, sort_keys=True)) for d in deliveries)
        endpoints = Counter(d.endpoint for d in deliveries)
        return JSONResponse(
            {
                "deliveries": len(deliveries),
                "replies": endpoints["reply"],
                "pushes": endpoints["push"],
                "duplicate_retry_keys": sum(n - 1 for n in keys.values() if n > 1),
                "duplicate_contents": sum(n - 1 for n in contents.values() if n > 1),
            }
        )

    async def reply_tokens(request: Any) -> JSONResponse:
        """Reply tokens for these users, issued now, as LINE issues one with each event it
        sends: the bench asks just before it sends them, so a token lives (about a minute)
        from when its event went out, and a reply comes too late only after a backlog."""
        users = (await request.json())["users"]
        return JSONResponse({"tokens": [standin.issue_reply_token(user) for user in users]})

    return Starlette(
        routes=[
            Route("/__bench/stats", stats),
            Route("/__bench/reply-tokens", reply_tokens, methods=["POST"]),
            Mount("/", app=standin.app),
        ]
    )


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "bare":
        uvicorn.run(bare, host="127.0.0.1", port=port, **UVICORN)  # type: ignore[arg-type]
    elif kind == "app":
        from yorozu.app import create_app
        from yorozu.settings import load_settings

        settings = load_settings(
            database_url=sys.argv[3],
            redis_url=sys.argv[4] if len(sys.argv) > 4 else None,
            line_channel_secret="bench-secret",
            log_level="WARNING",
        )
        uvicorn.run(
            create_app(settings, prepare=True, freeze_heap=True),
            host="127.0.0.1",
            port=port,
            **UVICORN,
        )
    elif kind == "app-nostore":
        # Diagnostic: the same app with the inbox write replaced by a no-op, to show how much
        # of the gap to the bare endpoint is the framework and how much the durable write.
        import dataclasses

        from yorozu.app import create_app
        from yorozu.settings import load_settings

        settings = load_settings(
            database_url=sys.argv[3], line_channel_secret="bench-secret", log_level="WARNING"
        )
        app = create_app(settings, prepare=True, freeze_heap=True)

        class NullSink:
            async def submit(self, events: Any, *, give_up_after: float) -> None:
                return None

        async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "lifespan":
                await app(scope, receive, send)
                return

            async def send_and_swap(message: dict[str, Any]) -> None:
                if message["type"] == "lifespan.startup.complete":
                    real = app.state.line_webhook
                    app.state.line_webhook = dataclasses.replace(real, sink=NullSink())
                await send(message)

            await app(scope, receive, send_and_swap)

        uvicorn.run(wrapped, host="127.0.0.1", port=port, **UVICORN)  # type: ignore[arg-type]
    elif kind == "line":
        uvicorn.run(line_standin(), host="127.0.0.1", port=port, **UVICORN)
    else:
        raise SystemExit(f"unknown server {kind!r}")


if __name__ == "__main__":
    main()
