"""The LINE webhook: check the signature, store the events, answer 200. Nothing else.

Order of work on every request (invariants 1 and 3):
1. size: a body over 2 MB (LINE's own limit) is refused with 413 before it is read whole;
2. signature: the SDK's `SignatureValidator` (Base64(HMAC-SHA256(channel secret, body))
   against `x-line-signature`, in constant time) before anything is parsed; a missing or
   wrong one, or a body that is not UTF-8 (LINE sends UTF-8 JSON), is a 400 and nothing is
   stored;
3. parse: `orjson.loads` and a few dictionary reads per event (no SDK models on this hot
   path); a body that is not a webhook object, or not strict JSON (NaN, an infinity, a
   lone surrogate, which no database column could store), is a 400;
4. store: the events go to the inbox through the group-commit writer, and the request
   waits for that commit before it answers 200. If the commit does not come within
   `ack_timeout` the answer is 503, so LINE redelivers (and the inbox drops the copy).

Handling happens behind the acknowledgement, in the worker role.

`POST /webhooks/line` serves the default channel (LINE_CHANNEL_SECRET);
`POST /webhooks/line/{hub_code}` serves a hub's own official account, with the secret of
that hub's `line_channels` row.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from linebot.v3.webhook import SignatureValidator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from bots.burst_log import BurstLog
from core.db.models.hubs import Hub, LineChannel
from core.domain.enums import Platform
from core.inbox import NewInboxEvent

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
DEFAULT_CHANNEL = "default"
"""The channel id recorded for events that came through the default (settings) channel."""
_HUB_CODE_LENGTH = 2


class InboxSink(Protocol):
    """Where accepted events go: `core.inbox.InboxWriter` (returns once committed)."""

    async def submit(self, events: Sequence[NewInboxEvent], *, give_up_after: float) -> None:
        """Returns once `events` are stored; raises TimeoutError after `give_up_after`
        seconds (the writer keeps one timer for all its waiting requests)."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelSecret:
    channel_id: str
    """Recorded on each event: DEFAULT_CHANNEL, or the hub code of a hub's route."""
    secret: str


class HubChannels(Protocol):
    async def for_hub(self, hub_code: str) -> Sequence[ChannelSecret] | None:
        """The hub's LINE channels with a secret; None when there is no such hub."""
        ...


class SqlAlchemyHubChannels:
    """Hub LINE channel secrets from `line_channels`, cached briefly for the hot path.

    Events that came through a hub's route are recorded with the hub code as their
    channel id (what the handler and the senders look the hub up by).
    """

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, ttl: float = 60.0
    ) -> None:
        self._sessions = session_factory
        self._ttl = ttl
        self._cache: dict[str, tuple[float, tuple[ChannelSecret, ...] | None]] = {}

    async def for_hub(self, hub_code: str) -> Sequence[ChannelSecret] | None:
        cached = self._cache.get(hub_code)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with self._sessions() as session:
            hub_id = await session.scalar(select(Hub.id).where(Hub.code == hub_code))
            found: tuple[ChannelSecret, ...] | None = None
            if hub_id is not None:
                secrets = await session.scalars(
                    select(LineChannel.secret)
                    .where(LineChannel.hub_id == hub_id, LineChannel.secret.is_not(None))
                    .order_by(LineChannel.id)
                )
                found = tuple(ChannelSecret(hub_code, secret) for secret in secrets if secret)
        self._cache[hub_code] = (now + self._ttl, found)
        return found


@dataclass(frozen=True, slots=True)
class RefusalLogs:
    """What the webhook refuses or cannot store, each logged at most once every 10 s with
    how many times it happened since (`repeats`; bots/burst_log.py)."""

    signature_refused: BurstLog = field(
        default_factory=lambda: BurstLog(
            log, "line webhook signature refused", level=logging.WARNING
        )
    )
    too_slow: BurstLog = field(
        default_factory=lambda: BurstLog(log, "line webhook commit too slow")
    )
    store_failed: BurstLog = field(
        default_factory=lambda: BurstLog(log, "line webhook store failed")
    )


@dataclass(frozen=True, slots=True)
class LineWebhook:
    """What the webhook routes need; built once by the composition root."""

    sink: InboxSink
    default_secret: str
    hub_channels: HubChannels | None = None
    """None: the per-hub route answers 404 for every hub."""
    default_channel_id: str = DEFAULT_CHANNEL
    max_body_bytes: int = MAX_BODY_BYTES
    ack_timeout: float = 1.5
    """Seconds to wait for the commit before answering 503 (LINE allows 2 s)."""
    logs: RefusalLogs = field(default_factory=RefusalLogs)


class WebhookBodyError(ValueError):
    """The body is signed correctly but is not a LINE webhook object."""


class Answer(NamedTuple):
    """What the webhook answers: a status and a JSON body."""

    status: int
    body: bytes


def _problem(status: int, detail: str) -> Answer:
    return Answer(status, json.dumps({"detail": detail}).encode())


_OK = Answer(200, b"{}")
_INTERNAL_ERROR = _problem(500, "internal error; retry")


def _response(answer: Answer) -> Response:
    return Response(content=answer.body, status_code=answer.status, media_type="application/json")


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """`x-line-signature` check by the SDK's own validator, so the rule is LINE's code.

    The validator takes text and signs its UTF-8 bytes: a UTF-8 body is signed as the raw
    bytes it came as, and a body that is not UTF-8 cannot be LINE's, so it matches nothing.
    """
    if not signature:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(SignatureValidator(secret).validate(text, signature))


def _occurred_at(raw: dict[str, Any]) -> datetime | None:
    timestamp = raw.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _event_id(raw: dict[str, Any]) -> str:
    event_id = raw.get("webhookEventId")
    if isinstance(event_id, str) and event_id:
        return event_id[:128]
    # Older deliveries had no id: the content itself identifies a repeat of the same event.
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _who(raw: dict[str, Any]) -> str:
    source = raw.get("source")
    if isinstance(source, dict):
        for name in ("userId", "groupId", "roomId"):
            value = source.get(name)
            if isinstance(value, str) and value:
                return value
    return "_channel"


def translate_events(body: bytes, channel_id: str) -> list[NewInboxEvent]:
    """A signed webhook body → the inbox events it carries (possibly none: a verify call)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise WebhookBodyError("the body is not JSON") from error
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise WebhookBodyError("the body is not a LINE webhook object (no events list)")
    events: list[NewInboxEvent] = []
    for raw in document["events"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise WebhookBodyError("an event is not an object with a type")
        delivery = raw.get("deliveryContext")
        events.append(
            NewInboxEvent(
                platform=Platform.LINE,
                channel_id=channel_id,
                event_id=_event_id(raw),
                ordering_key=f"line:{channel_id}:{_who(raw)}"[:200],
                kind=raw["type"][:64],
                payload=raw,
                occurred_at=_occurred_at(raw),
                redelivery=isinstance(delivery, dict) and delivery.get("isRedelivery") is True,
                ignored=raw.get("mode") == "standby",
            )
        )
    return events


async def _receive_body(receive: Receive, declared: bytes | str | None, limit: int) -> bytes | None:
    """The body from the ASGI messages, or None when it is over `limit` (a declared
    Content-Length is checked before anything is read)."""
    if declared is not None:
        try:
            if int(declared) > limit:
                return None
        except ValueError:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _request_body(request: Request, limit: int) -> bytes | None:
    return await _receive_body(request.receive, request.headers.get("content-length"), limit)


def _default_secrets(webhook: LineWebhook) -> Sequence[ChannelSecret]:
    return (ChannelSecret(webhook.default_channel_id, webhook.default_secret),)


async def _hub_secrets(webhook: LineWebhook, hub_code: str) -> Sequence[ChannelSecret] | Answer:
    """The hub's channel secrets, or the 404 that says why there are none."""
    if len(hub_code) != _HUB_CODE_LENGTH or not hub_code.isdigit():
        return _problem(404, "unknown hub: a hub code is two digits, 00 to 47")
    found = None if webhook.hub_channels is None else await webhook.hub_channels.for_hub(hub_code)
    if found is None:
        return _problem(404, f"unknown hub {hub_code}")
    if not found:
        return _problem(404, f"hub {hub_code} has no LINE channel with a secret")
    return found


async def _accept(
    webhook: LineWebhook,
    body: bytes | None,
    signature: str | None,
    secrets: Sequence[ChannelSecret],
    path: str,
) -> Answer:
    """`body` is None when it was over the limit."""
    if body is None:
        return _problem(413, "the body is larger than 2 MB")
    if signature is None:
        return _problem(400, "missing x-line-signature")
    channel = next((c for c in secrets if signature_matches(c.secret, body, signature)), None)
    if channel is None:
        webhook.logs.signature_refused(path=path)
        return _problem(400, "invalid x-line-signature")
    try:
        events = translate_events(body, channel.channel_id)
    except WebhookBodyError as error:
        return _problem(400, str(error))
    if events:
        try:
            await webhook.sink.submit(events, give_up_after=webhook.ack_timeout)
        except TimeoutError:
            webhook.logs.too_slow(events=len(events))
            return _problem(503, "the events could not be stored in time; retry")
        except Exception as error:
            webhook.logs.store_failed(error_type=type(error).__name__)
            return _problem(503, "the events could not be stored; retry")
    return _OK


def line_webhook_router(
    webhook: LineWebhook | Callable[[Request], LineWebhook],
    *,
    prefix: str = "/webhooks/line",
) -> APIRouter:
    """Routes `POST {prefix}` (default channel) and `POST {prefix}/{hub_code}`.

    `webhook` is the built `LineWebhook`, or a function that finds it for a request (for
    example on `request.app.state`, when it is built in the app's lifespan).
    """
    resolve: Callable[[Request], LineWebhook] = (
        (lambda _request: webhook) if isinstance(webhook, LineWebhook) else webhook
    )
    router = APIRouter()

    async def default_channel(request: Request) -> Response:
        current = resolve(request)
        body = await _request_body(request, current.max_body_bytes)
        signature = request.headers.get("x-line-signature")
        secrets = _default_secrets(current)
        return _response(await _accept(current, body, signature, secrets, request.url.path))

    async def hub_channel(request: Request) -> Response:
        current = resolve(request)
        secrets = await _hub_secrets(current, request.path_params["hub_code"])
        if isinstance(secrets, Answer):
            return _response(secrets)
        body = await _request_body(request, current.max_body_bytes)
        signature = request.headers.get("x-line-signature")
        return _response(await _accept(current, body, signature, secrets, request.url.path))

    # Plain Starlette routes: no dependency solving or response model on the hot path.
    router.add_route(prefix, default_channel, methods=["POST"], name="line_webhook")
    router.add_route(prefix + "/{hub_code}", hub_channel, methods=["POST"], name="line_webhook_hub")
    router.line_webhook_resolve = resolve  # type: ignore[attr-defined]
    return router


class RequestObserver(Protocol):
    """Told of each webhook request the fast path answers: HTTP metrics, kept by the
    composition root (yorozu/metrics.py), as the framework's middleware would have."""

    def begin(self, handler: str) -> None: ...

    def end(self, handler: str, status: int, seconds: float) -> None: ...


_JSON_HEADERS: dict[int, list[tuple[bytes, bytes]]] = {}


def _json_headers(length: int) -> list[tuple[bytes, bytes]]:
    headers = _JSON_HEADERS.get(length)
    if headers is None:
        headers = [
            (b"content-length", str(length).encode()),
            (b"content-type", b"application/json"),
        ]
        if len(_JSON_HEADERS) < 64:  # the few answers there are: {} and the problems
            _JSON_HEADERS[length] = headers
    return headers


class WebhookFastPath:
    """The outermost ASGI layer: answers LINE webhooks before the framework sees them.

    The webhook is the hottest path in the service and must answer within LINE's two
    seconds under bursts; everything it needs is a signature check, a parse and a group
    commit. Under the framework it also went through the error, telemetry, body-limit and
    metrics middlewares, whose route look-up alone cost a tenth of a request (issue 14). So
    this wraps the framework's whole stack: it keeps what those gave the webhook itself
    (a 500 for an unexpected error, the 2 MB limit, and the HTTP metrics, through
    `observer`) and nothing else. It reads the body from the ASGI messages and answers with
    them too: Starlette's Request and Response objects were another tenth. The routes above
    stay, for the OpenAPI description and as the same code path when this layer is not
    installed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        router: APIRouter,
        prefix: str = "/webhooks/line",
        observer: RequestObserver | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.observer = observer
        self.resolve: Callable[[Request], LineWebhook] = router.line_webhook_resolve  # type: ignore[attr-defined]
        self.templates = (prefix, prefix + "/{hub_code}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not path.startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        rest = path[len(self.prefix) :]
        if rest in ("", "/"):
            hub_code, template = None, self.templates[0]
        elif rest.count("/") == 1 and len(rest) > 1:
            hub_code, template = rest[1:], self.templates[1]
        else:
            await self.app(scope, receive, send)
            return
        observer = self.observer
        started = time.perf_counter()
        if observer is not None:
            observer.begin(template)
        answer = _INTERNAL_ERROR
        try:
            try:
                answer = await self._answer(scope, receive, hub_code, path)
            except Exception:
                log.exception("line webhook failed", extra={"path": template})
            await send(
                {
                    "type": "http.response.start",
                    "status": answer.status,
                    "headers": _json_headers(len(answer.body)),
                }
            )
            await send({"type": "http.response.body", "body": answer.body})
        finally:
            if observer is not None:
                observer.end(template, answer.status, time.perf_counter() - started)

    async def _answer(
        self, scope: Scope, receive: Receive, hub_code: str | None, path: str
    ) -> Answer:
        webhook = self.resolve(Request(scope))
        if hub_code is None:
            secrets: Sequence[ChannelSecret] | Answer = _default_secrets(webhook)
        else:
            secrets = await _hub_secrets(webhook, hub_code)
            if isinstance(secrets, Answer):
                return secrets
        declared = signature = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers
            if name == b"content-length" and declared is None:
                declared = value
            elif name == b"x-line-signature" and signature is None:
                signature = value.decode("latin-1")
        body = await _receive_body(receive, declared, webhook.max_body_bytes)
        return await _accept(webhook, body, signature, secrets, path)


__all__ = [
    "DEFAULT_CHANNEL",
    "MAX_BODY_BYTES",
    "Answer",
    "ChannelSecret",
    "HubChannels",
    "InboxSink",
    "LineWebhook",
    "RefusalLogs",
    "RequestObserver",
    "SqlAlchemyHubChannels",
    "WebhookBodyError",
    "WebhookFastPath",
    "line_webhook_router",
    "signature_matches",
    "translate_events",
]
