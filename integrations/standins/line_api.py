"""A local stand-in for the LINE Messaging API (api.line.me and api-data.line.me).

It behaves like LINE where our code can tell the difference:

* ``Authorization: Bearer <channel access token>`` is required (401 ``{"message": ...}``).
* Every JSON body is validated against the packaged official ``messaging-api.yml``
  (message and action subtypes included); a failure answers 400
  ``{"message": "The request body has N error(s)", "details": [{"message", "property"}]}``.
* Reply tokens are issued by the stand-in (:meth:`LineApiStandin.issue_reply_token`), work
  once and expire after a minute of the injected clock (400 ``Invalid reply token``).
* ``X-Line-Retry-Key`` must be a UUID, is refused on reply, and a repeat of an accepted
  key within 24 hours answers 409 with ``x-line-accepted-request-id`` and delivers nothing.
* Pushes count against a monthly quota (429 ``You have reached your monthly limit.``);
  a per-channel token bucket per endpoint answers 429 without ``Retry-After``.
* Pushes to users who blocked the account answer 200 and deliver nothing.
* Faults can be scripted: :meth:`LineApiStandin.fail_next`, :meth:`LineApiStandin.delay`.

Everything accepted is in :attr:`LineApiStandin.recorder`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import secrets
import struct
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from integrations.standins._common import Clock, FaultScript, TokenBucket, checked_clock
from integrations.standins.openapi import ErrorDetail, OpenApiSpec, line_spec

__all__ = [
    "DEFAULT_LINE_RATE_LIMITS",
    "Delivery",
    "LineApiStandin",
    "LineRecorder",
    "RecordedRequest",
    "create_line_api",
    "make_line_user_id",
]

JST = ZoneInfo("Asia/Tokyo")
USER_ID_RE = re.compile(r"^U[0-9a-f]{32}$")
GROUP_OR_ROOM_RE = re.compile(r"^[CR][0-9a-f]{32}$")
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
MAX_BODY_BYTES = 2 * 1024 * 1024
RETRY_KEY_TTL = timedelta(hours=24)
RETRY_KEY_ENDPOINTS = frozenset(
    {
        "/v2/bot/message/push",
        "/v2/bot/message/multicast",
        "/v2/bot/message/narrowcast",
        "/v2/bot/message/broadcast",
    }
)

MSG_NO_AUTH = (
    "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
)
MSG_BAD_AUTH = (
    "Authentication failed. Confirm that the access token in the authorization header is valid."
)
MSG_RATE = "The API rate limit has been exceeded. Try again later."
MSG_QUOTA = "You have reached your monthly limit."
MSG_REPLY_TOKEN = "Invalid reply token"
MSG_RETRY_ACCEPTED = "The retry key is already accepted"
MSG_NOT_FOUND = "Not found"

# group -> (requests per second, burst). LINE's published per-channel limits.
DEFAULT_LINE_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "reply": (2000.0, 2000.0),
    "push": (2000.0, 2000.0),
    "multicast": (200.0, 200.0),
    "broadcast": (60.0 / 3600.0, 60.0),
    "loading": (100.0, 100.0),
    "richmenu_write": (100.0 / 3600.0, 100.0),
    "default": (2000.0, 2000.0),
}


def make_line_user_id(seed: str | None = None) -> str:
    """A well-formed LINE user id (``U`` + 32 hex); deterministic when ``seed`` is given."""
    if seed is None:
        return "U" + secrets.token_hex(16)
    return "U" + hashlib.md5(seed.encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class Delivery:
    """One message batch that reached one user (multicast gives one per recipient)."""

    endpoint: str  # "reply" | "push" | "multicast"
    to: str
    messages: list[dict[str, Any]]
    retry_key: str | None
    request_id: str
    at: datetime
    channel_id: str
    notification_disabled: bool = False

    @property
    def texts(self) -> list[str]:
        return [
            str(m.get("text", "")) for m in self.messages if m.get("type") in ("text", "textV2")
        ]


@dataclass(frozen=True)
class RecordedRequest:
    """Every request the stand-in saw, refused ones included."""

    method: str
    path: str
    status: int
    request_id: str
    channel_id: str | None
    body: Any
    retry_key: str | None
    at: datetime
    response: Any = None


@dataclass
class _ReplyToken:
    user_id: str
    channel_id: str | None
    issued_at: datetime
    used: bool = False


@dataclass
class _RichMenu:
    rich_menu_id: str
    channel_id: str
    body: dict[str, Any]
    image: bytes | None = None
    content_type: str | None = None


class LineRecorder:
    """Thread-safe record of deliveries and requests. Accessors return copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._undelivered: list[Delivery] = []
        self._requests: list[RecordedRequest] = []
        self._loading: list[tuple[str, int, datetime]] = []
        self._listeners: list[Callable[[Delivery], None]] = []

    def add_listener(self, listener: Callable[[Delivery], None]) -> None:
        """Call ``listener(delivery)`` for each delivery (from the server's thread)."""
        with self._lock:
            self._listeners.append(listener)

    # -- writers (used by the stand-in) ---------------------------------------------
    def _add_delivery(self, d: Delivery) -> None:
        with self._lock:
            self._deliveries.append(d)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(d)

    def _add_undelivered(self, d: Delivery) -> None:
        with self._lock:
            self._undelivered.append(d)

    def _add_request(self, r: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(r)

    def _add_loading(self, chat_id: str, seconds: int, at: datetime) -> None:
        with self._lock:
            self._loading.append((chat_id, seconds, at))

    # -- readers ----------------------------------------------------------------------
    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def undelivered(self) -> list[Delivery]:
        """Accepted pushes that reached nobody (the user had blocked the account)."""
        with self._lock:
            return list(self._undelivered)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def loading_animations(self) -> list[tuple[str, int, datetime]]:
        with self._lock:
            return list(self._loading)

    def deliveries_to(self, user_id: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.to == user_id]

    def pushes_to(self, user_id: str) -> list[Delivery]:
        """Push and multicast deliveries to ``user_id`` (not replies)."""
        return [d for d in self.deliveries_to(user_id) if d.endpoint != "reply"]

    def replies_to(self, user_id: str) -> list[Delivery]:
        return [d for d in self.deliveries_to(user_id) if d.endpoint == "reply"]

    def messages_to(self, user_id: str) -> list[dict[str, Any]]:
        return [m for d in self.deliveries_to(user_id) for m in d.messages]

    def texts_to(self, user_id: str) -> list[str]:
        """Texts of every text message delivered to ``user_id`` (replies and pushes), in order."""
        return [t for d in self.deliveries_to(user_id) for t in d.texts]

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == path and (method is None or r.method == method.upper())
        ]

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._undelivered.clear()
            self._requests.clear()
            self._loading.clear()


@dataclass
class _Ctx:
    request: Request
    method: str
    path: str
    params: dict[str, str]
    channel_id: str
    request_id: str
    now: datetime
    body: Any = None
    raw: bytes = b""
    retry_key: str | None = None


@dataclass
class _Answer:
    status: int
    body: Any = None  # JSON-able, or bytes
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


Handler = Callable[[_Ctx], Awaitable[_Answer]]


def _err(status: int, message: str, details: list[ErrorDetail] | None = None) -> _Answer:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = [d.as_dict() for d in details]
    return _Answer(status, body)


def _bad_body(details: list[ErrorDetail]) -> _Answer:
    return _err(400, f"The request body has {len(details)} error(s)", details)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG image, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            seg_len = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (
                0xC0,
                0xC1,
                0xC2,
                0xC3,
                0xC5,
                0xC6,
                0xC7,
                0xC9,
                0xCA,
                0xCB,
                0xCD,
                0xCE,
                0xCF,
            ):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(w), int(h)
            i += 2 + seg_len
    return None


class LineApiStandin:
    """The LINE stand-in: :attr:`app` (ASGI) plus controls and :attr:`recorder`."""

    def __init__(
        self,
        channels: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        *,
        monthly_limit: int | None = None,
        rate_limits: Mapping[str, tuple[float, float]] | None = None,
        blocked: Iterable[str] = (),
        reply_token_ttl: timedelta = timedelta(minutes=1),
        strict_ids: bool = True,
        spec: OpenApiSpec | None = None,
    ) -> None:
        self.channels: dict[str, str] | None = dict(channels) if channels is not None else None
        self.clock = checked_clock(clock)
        self.spec = spec or line_spec()
        self.recorder = LineRecorder()
        self.reply_token_ttl = reply_token_ttl
        self.strict_ids = strict_ids
        self._lock = threading.RLock()
        self._faults = FaultScript()
        self._monthly_limit: dict[str | None, int | None] = {None: monthly_limit}
        self._usage: dict[tuple[str, str], int] = {}
        self._rate_limits = dict(DEFAULT_LINE_RATE_LIMITS)
        self._rate_limits.update(rate_limits or {})
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._blocked: set[str] = set(blocked)
        self._contents: dict[str, tuple[bytes, str]] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self._reply_tokens: dict[str, _ReplyToken] = {}
        # (channel, retry key) -> (accepted at, request id, sentMessages)
        self._retry_keys: dict[tuple[str, str], tuple[datetime, str, list[dict[str, str]]]] = {}
        self._message_ids = itertools.count(500_000_000_000_000_001)
        self._rich_menus: dict[str, _RichMenu] = {}
        self._aliases: dict[tuple[str, str], str] = {}
        self._default_menu: dict[str, str] = {}
        self._user_menus: dict[tuple[str, str], str] = {}
        self._routes: list[tuple[str, re.Pattern[str], Handler, str]] = []
        self._install_routes()
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                )
            ]
        )

    # ------------------------------------------------------------------ controls
    def issue_reply_token(self, user_id: str, channel_id: str | None = None) -> str:
        """A fresh reply token for ``user_id`` (as if a webhook event had carried it)."""
        token = secrets.token_hex(16)
        with self._lock:
            self._reply_tokens[token] = _ReplyToken(user_id, channel_id, self.clock())
        return token

    def block(self, *user_ids: str) -> None:
        """These users have blocked the account: pushes answer 200 but deliver nothing."""
        with self._lock:
            self._blocked.update(user_ids)

    def add_content(self, message_id: str, data: bytes, content_type: str) -> None:
        """What a user sent (a photo, a file): LINE keeps the bytes and serves them from the
        data API (`GET /v2/bot/message/{messageId}/content`) to the channel's bot."""
        with self._lock:
            self._contents[message_id] = (data, content_type)

    def unblock(self, *user_ids: str) -> None:
        with self._lock:
            self._blocked.difference_update(user_ids)

    @property
    def blocked(self) -> set[str]:
        with self._lock:
            return set(self._blocked)

    def set_profile(
        self,
        user_id: str,
        display_name: str,
        *,
        language: str | None = "ja",
        picture_url: str | None = None,
        status_message: str | None = None,
    ) -> None:
        profile: dict[str, Any] = {"userId": user_id, "displayName": display_name}
        if language is not None:
            profile["language"] = language
        if picture_url is not None:
            profile["pictureUrl"] = picture_url
        if status_message is not None:
            profile["statusMessage"] = status_message
        with self._lock:
            self._profiles[user_id] = profile

    def set_monthly_limit(self, limit: int | None, channel_id: str | None = None) -> None:
        """Monthly push quota (None = unlimited) for one channel, or the default for all."""
        with self._lock:
            self._monthly_limit[channel_id] = limit

    def usage(self, channel_id: str) -> int:
        """Messages counted against ``channel_id``'s quota this (Japan) month."""
        with self._lock:
            return self._usage.get((channel_id, self._month_key()), 0)

    def set_usage(self, channel_id: str, used: int) -> None:
        with self._lock:
            self._usage[(channel_id, self._month_key())] = used

    def set_rate_limit(self, group: str, per_second: float, burst: float) -> None:
        """Token bucket for an endpoint group (see :data:`DEFAULT_LINE_RATE_LIMITS`)."""
        with self._lock:
            self._rate_limits[group] = (per_second, burst)
            for key in [k for k in self._buckets if k[1] == group]:
                del self._buckets[key]

    def fail_next(
        self,
        n: int,
        status: int,
        body: Any = None,
        *,
        path: str | None = None,
        deliver: bool = False,
    ) -> None:
        """The next ``n`` authenticated requests (to ``path`` if given) answer ``status``.

        ``body`` defaults to a LINE-style ``{"message": ...}``. With ``deliver=True`` the
        request takes effect first (delivered, retry key remembered) and only the answer is
        the failure, as when LINE answers 500 after accepting a message.
        """
        self._faults.add_fault(n, status, body, path, deliver=deliver)

    def delay(self, seconds: float, *, count: int | None = None, path: str | None = None) -> None:
        """Hold answers back by ``seconds`` (for ``count`` requests, or until ``delay(0)``).

        The request takes effect before the wait, so a client that times out has still
        sent its message, as with the real platform.
        """
        self._faults.set_delay(seconds, count, path)

    def clear_faults(self) -> None:
        self._faults.clear()

    def reset(self) -> None:
        """Forget everything (tokens, retry keys, usage, buckets, menus, faults, records).

        Configuration (channels, limits, blocked users, profiles) is kept.
        """
        self._faults.clear()
        self.recorder.clear()
        with self._lock:
            self._usage.clear()
            self._buckets.clear()
            self._reply_tokens.clear()
            self._retry_keys.clear()
            self._rich_menus.clear()
            self._aliases.clear()
            self._default_menu.clear()
            self._user_menus.clear()

    def channel_for(self, token: str) -> str | None:
        if self.channels is None:
            return "ch-" + hashlib.sha256(token.encode()).hexdigest()[:10] if token else None
        return self.channels.get(token)

    def rich_menu(self, rich_menu_id: str) -> dict[str, Any] | None:
        with self._lock:
            menu = self._rich_menus.get(rich_menu_id)
            return None if menu is None else {"richMenuId": menu.rich_menu_id, **menu.body}

    def rich_menu_image(self, rich_menu_id: str) -> bytes | None:
        with self._lock:
            menu = self._rich_menus.get(rich_menu_id)
            return None if menu is None else menu.image

    def rich_menu_ids(self) -> list[str]:
        with self._lock:
            return list(self._rich_menus)

    def rich_menu_for(self, user_id: str, channel_id: str | None = None) -> str | None:
        """The rich menu ``user_id`` sees: the per-user link, else the default."""
        with self._lock:
            for (ch, uid), menu_id in self._user_menus.items():
                if uid == user_id and (channel_id is None or ch == channel_id):
                    return menu_id
            if channel_id is not None:
                return self._default_menu.get(channel_id)
            return next(iter(self._default_menu.values()), None)

    # ------------------------------------------------------------------ internals
    def _month_key(self) -> str:
        return self.clock().astimezone(JST).strftime("%Y-%m")

    def _limit_for(self, channel_id: str) -> int | None:
        if channel_id in self._monthly_limit:
            return self._monthly_limit[channel_id]
        return self._monthly_limit[None]

    def _new_message_ids(self, n: int) -> list[dict[str, str]]:
        with self._lock:
            return [
                {"id": str(next(self._message_ids)), "quoteToken": secrets.token_urlsafe(24)}
                for _ in range(n)
            ]

    def _take_rate(self, channel_id: str, group: str, now: datetime) -> bool:
        with self._lock:
            rate, burst = self._rate_limits.get(group, self._rate_limits["default"])
            bucket = self._buckets.get((channel_id, group))
            if bucket is None:
                bucket = TokenBucket(rate, burst, now)
                self._buckets[(channel_id, group)] = bucket
            return bucket.take(now) == 0.0

    def _route(
        self, method: str, pattern: str, group: str = "default"
    ) -> Callable[[Handler], Handler]:
        rx = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")

        def deco(fn: Handler) -> Handler:
            self._routes.append((method, rx, fn, group))
            return fn

        return deco

    async def _dispatch(self, request: Request) -> Response:
        now = self.clock()
        method = request.method
        path = request.url.path
        request_id = uuid.uuid4().hex
        raw = await request.body()
        retry_key = request.headers.get("x-line-retry-key")
        channel_id: str | None = None
        body: Any = None
        answer: _Answer
        try:
            answer, channel_id, body = await self._handle(
                request, method, path, request_id, raw, retry_key, now
            )
        except Exception as exc:  # pragma: no cover - a stand-in bug should be visible
            answer = _err(500, f"stand-in error: {exc!r}")
        self.recorder._add_request(
            RecordedRequest(
                method=method,
                path=path,
                status=answer.status,
                request_id=request_id,
                channel_id=channel_id,
                body=body,
                retry_key=retry_key,
                at=now,
                response=answer.body if not isinstance(answer.body, bytes) else None,
            )
        )
        wait = self._faults.take_delay(path)
        if wait > 0:
            await asyncio.sleep(wait)
        headers = {"x-line-request-id": request_id, **answer.headers}
        if isinstance(answer.body, bytes):
            return Response(answer.body, answer.status, headers, media_type=answer.media_type)
        content = b"" if answer.body is None else json.dumps(answer.body).encode()
        return Response(content, answer.status, headers, media_type="application/json")

    async def _handle(
        self,
        request: Request,
        method: str,
        path: str,
        request_id: str,
        raw: bytes,
        retry_key: str | None,
        now: datetime,
    ) -> tuple[_Answer, str | None, Any]:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return _err(401, MSG_NO_AUTH), None, None
        channel_id = self.channel_for(auth[7:].strip())
        if channel_id is None:
            return _err(401, MSG_BAD_AUTH), None, None

        route: tuple[Handler, dict[str, str], str] | None = None
        for m, rx, fn, group in self._routes:
            match = rx.match(path)
            if match and m == method:
                route = (fn, match.groupdict(), group)
                break
        if route is None:
            return _err(404, MSG_NOT_FOUND), channel_id, None
        handler, params, group = route

        fault = self._faults.take_fault(path)
        if fault is not None and not fault.extra.get("deliver"):
            return self._fault_answer(fault.status, fault.body), channel_id, None

        if not self._take_rate(channel_id, group, now):
            return _err(429, MSG_RATE), channel_id, None

        ctx = _Ctx(request, method, path, params, channel_id, request_id, now, raw=raw)
        content_type = request.headers.get("content-type", "")
        op = self.spec.find_operation(method, path)
        if op is not None and op.body_schema_ref is not None:
            if len(raw) > MAX_BODY_BYTES:
                return _err(413, "Request Entity Too Large"), channel_id, None
            if "json" not in content_type:
                return _err(415, "Unsupported Media Type"), channel_id, None
            try:
                ctx.body = json.loads(raw) if raw else None
            except ValueError:
                return _err(400, "The request body could not be parsed as JSON"), channel_id, None
            if ctx.body is None and op.body_required:
                return _err(400, "The request body is required"), channel_id, None
            details = self.spec.validate_body(method, path, ctx.body)
            details += self._extra_checks(path, ctx.body) if not details else []
            if details:
                return _bad_body(details), channel_id, ctx.body

        if retry_key is not None:
            if path not in RETRY_KEY_ENDPOINTS:
                return (
                    _err(400, "X-Line-Retry-Key is not supported by this endpoint"),
                    channel_id,
                    ctx.body,
                )
            if not UUID_RE.match(retry_key):
                return _err(400, "The value of X-Line-Retry-Key is invalid"), channel_id, ctx.body
            ctx.retry_key = retry_key.lower()
            with self._lock:
                seen = self._retry_keys.get((channel_id, ctx.retry_key))
                if seen is not None and now - seen[0] > RETRY_KEY_TTL:
                    del self._retry_keys[(channel_id, ctx.retry_key)]
                    seen = None
            if seen is not None:
                body409: dict[str, Any] = {"message": MSG_RETRY_ACCEPTED}
                if seen[2]:
                    body409["sentMessages"] = seen[2]
                answer = _Answer(409, body409, {"x-line-accepted-request-id": seen[1]})
                return answer, channel_id, ctx.body

        answer = await handler(ctx)
        if fault is not None:
            answer = self._fault_answer(fault.status, fault.body)
        return answer, channel_id, ctx.body

    @staticmethod
    def _fault_answer(status: int, body: Any) -> _Answer:
        if body is None:
            body = {
                429: {"message": MSG_RATE},
                401: {"message": MSG_BAD_AUTH},
                404: {"message": MSG_NOT_FOUND},
            }.get(status, {"message": "Internal Server Error" if status >= 500 else "Error"})
        if isinstance(body, str | bytes):
            raw = body.encode() if isinstance(body, str) else body
            return _Answer(status, raw, media_type="text/plain")
        return _Answer(status, body)

    def _extra_checks(self, path: str, body: Any) -> list[ErrorDetail]:
        """Documented limits a schema cannot express."""
        details: list[ErrorDetail] = []
        messages = body.get("messages") if isinstance(body, dict) else None
        if isinstance(messages, list):
            for i, msg in enumerate(messages):
                if not isinstance(msg, dict):
                    continue
                if msg.get("type") == "flex":
                    contents = msg.get("contents", {})
                    size = len(json.dumps(contents, ensure_ascii=False).encode())
                    limit = 50_000 if contents.get("type") == "carousel" else 30_000
                    if size > limit:
                        details.append(
                            ErrorDetail(
                                f"must be at most {limit // 1000}KB", f"messages[{i}].contents"
                            )
                        )
                if "quickReply" in msg and i != len(messages) - 1:
                    # LINE accepts it but shows only the last message's quick reply; no error.
                    pass
        if path == "/v2/bot/richmenu" and isinstance(body, dict):
            size = body.get("size", {})
            w, h = size.get("width", 0), size.get("height", 0)
            if h and w / h < 1.45:
                details.append(
                    ErrorDetail("aspect ratio (width / height) must be at least 1.45", "size")
                )
            for i, area in enumerate(body.get("areas", [])):
                b = area.get("bounds", {})
                if b.get("x", 0) + b.get("width", 0) > w or b.get("y", 0) + b.get("height", 0) > h:
                    details.append(
                        ErrorDetail("must be inside the rich menu", f"areas[{i}].bounds")
                    )
        return details

    def _check_recipient(self, to: str, *, users_only: bool) -> bool:
        if not self.strict_ids:
            return bool(to)
        return bool(USER_ID_RE.match(to) or (not users_only and GROUP_OR_ROOM_RE.match(to)))

    def _charge(self, channel_id: str, count: int) -> bool:
        """Count ``count`` messages against the monthly quota; False when over it."""
        with self._lock:
            limit = self._limit_for(channel_id)
            key = (channel_id, self._month_key())
            used = self._usage.get(key, 0)
            if limit is not None and used + count > limit:
                return False
            self._usage[key] = used + count
            return True

    def _remember_retry_key(self, ctx: _Ctx, sent: list[dict[str, str]]) -> None:
        if ctx.retry_key is not None:
            with self._lock:
                self._retry_keys[(ctx.channel_id, ctx.retry_key)] = (ctx.now, ctx.request_id, sent)

    # ------------------------------------------------------------------ endpoints
    def _install_routes(self) -> None:
        r = self._route

        @r("POST", "/v2/bot/message/reply", "reply")
        async def reply(ctx: _Ctx) -> _Answer:
            body = ctx.body
            with self._lock:
                tok = self._reply_tokens.get(body["replyToken"])
                valid = (
                    tok is not None
                    and not tok.used
                    and ctx.now - tok.issued_at <= self.reply_token_ttl
                    and (tok.channel_id is None or tok.channel_id == ctx.channel_id)
                )
                if tok is not None and valid:
                    tok.used = True
            if tok is None or not valid:
                return _err(400, MSG_REPLY_TOKEN)
            sent = self._new_message_ids(len(body["messages"]))
            self.recorder._add_delivery(
                Delivery(
                    "reply",
                    tok.user_id,
                    list(body["messages"]),
                    None,
                    ctx.request_id,
                    ctx.now,
                    ctx.channel_id,
                    bool(body.get("notificationDisabled", False)),
                )
            )
            return _Answer(200, {"sentMessages": sent})

        @r("POST", "/v2/bot/message/push", "push")
        async def push(ctx: _Ctx) -> _Answer:
            body = ctx.body
            to = body["to"]
            if not self._check_recipient(to, users_only=False):
                return _err(
                    400, "The property, 'to', in the request body is invalid (line: -, column: -)"
                )
            messages = list(body["messages"])
            delivery = Delivery(
                "push",
                to,
                messages,
                ctx.retry_key,
                ctx.request_id,
                ctx.now,
                ctx.channel_id,
                bool(body.get("notificationDisabled", False)),
            )
            with self._lock:
                is_blocked = to in self._blocked
                if not is_blocked and not self._charge(ctx.channel_id, len(messages)):
                    return _err(429, MSG_QUOTA)
                sent = self._new_message_ids(len(messages))
                self._remember_retry_key(ctx, sent)
            if is_blocked:
                self.recorder._add_undelivered(delivery)
            else:
                self.recorder._add_delivery(delivery)
            return _Answer(200, {"sentMessages": sent})

        @r("POST", "/v2/bot/message/multicast", "multicast")
        async def multicast(ctx: _Ctx) -> _Answer:
            body = ctx.body
            recipients = list(body["to"])
            bad = [
                ErrorDetail("Invalid user ID", f"to[{i}]")
                for i, uid in enumerate(recipients)
                if not self._check_recipient(uid, users_only=True)
            ]
            if bad:
                return _bad_body(bad)
            messages = list(body["messages"])
            with self._lock:
                reachable = [u for u in recipients if u not in self._blocked]
                if not self._charge(ctx.channel_id, len(messages) * len(reachable)):
                    return _err(429, MSG_QUOTA)
                self._remember_retry_key(ctx, [])
            for uid in recipients:
                d = Delivery(
                    "multicast",
                    uid,
                    messages,
                    ctx.retry_key,
                    ctx.request_id,
                    ctx.now,
                    ctx.channel_id,
                    bool(body.get("notificationDisabled", False)),
                )
                if uid in reachable:
                    self.recorder._add_delivery(d)
                else:
                    self.recorder._add_undelivered(d)
            return _Answer(200, {})

        @r("POST", "/v2/bot/message/validate/{kind}")
        async def validate_message(ctx: _Ctx) -> _Answer:
            if ctx.params["kind"] not in ("reply", "push", "multicast", "narrowcast", "broadcast"):
                return _err(404, MSG_NOT_FOUND)
            return _Answer(200, {})  # the body was validated against the spec already

        @r("GET", "/v2/bot/message/quota")
        async def quota(ctx: _Ctx) -> _Answer:
            with self._lock:
                limit = self._limit_for(ctx.channel_id)
            if limit is None:
                return _Answer(200, {"type": "none"})
            return _Answer(200, {"type": "limited", "value": limit})

        @r("GET", "/v2/bot/message/quota/consumption")
        async def consumption(ctx: _Ctx) -> _Answer:
            return _Answer(200, {"totalUsage": self.usage(ctx.channel_id)})

        @r("GET", "/v2/bot/profile/{userId}")
        async def profile(ctx: _Ctx) -> _Answer:
            uid = ctx.params["userId"]
            with self._lock:
                if uid in self._blocked:
                    return _err(404, MSG_NOT_FOUND)
                found = self._profiles.get(uid)
            if found is None:
                if not USER_ID_RE.match(uid):
                    return _err(404, MSG_NOT_FOUND)
                found = {"userId": uid, "displayName": f"User {uid[1:7]}", "language": "ja"}
            return _Answer(200, found)

        @r("POST", "/v2/bot/chat/loading/start", "loading")
        async def loading(ctx: _Ctx) -> _Answer:
            chat_id = ctx.body["chatId"]
            if not self._check_recipient(chat_id, users_only=True):
                return _bad_body([ErrorDetail("Invalid user ID", "chatId")])
            self.recorder._add_loading(chat_id, int(ctx.body.get("loadingSeconds", 20)), ctx.now)
            return _Answer(202, {})

        # -- rich menus -------------------------------------------------------------
        def menu_of(ctx: _Ctx, menu_id: str) -> _RichMenu | None:
            with self._lock:
                menu = self._rich_menus.get(menu_id)
            if menu is None or menu.channel_id != ctx.channel_id:
                return None
            return menu

        @r("POST", "/v2/bot/richmenu", "richmenu_write")
        async def create_menu(ctx: _Ctx) -> _Answer:
            menu_id = "richmenu-" + secrets.token_hex(16)
            with self._lock:
                self._rich_menus[menu_id] = _RichMenu(menu_id, ctx.channel_id, dict(ctx.body))
            return _Answer(200, {"richMenuId": menu_id})

        @r("POST", "/v2/bot/richmenu/validate")
        async def validate_menu(ctx: _Ctx) -> _Answer:
            return _Answer(200, {})

        @r("GET", "/v2/bot/richmenu/list")
        async def list_menus(ctx: _Ctx) -> _Answer:
            with self._lock:
                menus = [
                    {"richMenuId": m.rich_menu_id, **m.body}
                    for m in self._rich_menus.values()
                    if m.channel_id == ctx.channel_id
                ]
            return _Answer(200, {"richmenus": menus})

        @r("GET", "/v2/bot/richmenu/alias/list")
        async def list_aliases(ctx: _Ctx) -> _Answer:
            with self._lock:
                aliases = [
                    {"richMenuAliasId": a, "richMenuId": m}
                    for (ch, a), m in self._aliases.items()
                    if ch == ctx.channel_id
                ]
            return _Answer(200, {"aliases": aliases})

        @r("POST", "/v2/bot/richmenu/alias")
        async def create_alias(ctx: _Ctx) -> _Answer:
            alias, menu_id = ctx.body["richMenuAliasId"], ctx.body["richMenuId"]
            if menu_of(ctx, menu_id) is None:
                return _err(400, "richmenu not found")
            with self._lock:
                if (ctx.channel_id, alias) in self._aliases:
                    return _err(400, "conflict richmenu alias id")
                self._aliases[(ctx.channel_id, alias)] = menu_id
            return _Answer(200, {})

        @r("GET", "/v2/bot/richmenu/alias/{aliasId}")
        async def get_alias(ctx: _Ctx) -> _Answer:
            with self._lock:
                menu_id = self._aliases.get((ctx.channel_id, ctx.params["aliasId"]))
            if menu_id is None:
                return _err(404, "richmenu alias not found")
            return _Answer(200, {"richMenuAliasId": ctx.params["aliasId"], "richMenuId": menu_id})

        @r("DELETE", "/v2/bot/richmenu/alias/{aliasId}")
        async def delete_alias(ctx: _Ctx) -> _Answer:
            with self._lock:
                if self._aliases.pop((ctx.channel_id, ctx.params["aliasId"]), None) is None:
                    return _err(404, "richmenu alias not found")
            return _Answer(200, {})

        @r("GET", "/v2/bot/richmenu/{richMenuId}")
        async def get_menu(ctx: _Ctx) -> _Answer:
            menu = menu_of(ctx, ctx.params["richMenuId"])
            if menu is None:
                return _err(404, MSG_NOT_FOUND)
            return _Answer(200, {"richMenuId": menu.rich_menu_id, **menu.body})

        @r("DELETE", "/v2/bot/richmenu/{richMenuId}", "richmenu_write")
        async def delete_menu(ctx: _Ctx) -> _Answer:
            menu_id = ctx.params["richMenuId"]
            if menu_of(ctx, menu_id) is None:
                return _err(404, MSG_NOT_FOUND)
            with self._lock:
                del self._rich_menus[menu_id]
                for k in [k for k, v in self._user_menus.items() if v == menu_id]:
                    del self._user_menus[k]
                for k2 in [k for k, v in self._aliases.items() if v == menu_id]:
                    del self._aliases[k2]
                if self._default_menu.get(ctx.channel_id) == menu_id:
                    del self._default_menu[ctx.channel_id]
            return _Answer(200, {})

        @r("POST", "/v2/bot/richmenu/{richMenuId}/content")
        async def upload_image(ctx: _Ctx) -> _Answer:
            menu = menu_of(ctx, ctx.params["richMenuId"])
            if menu is None:
                return _err(404, MSG_NOT_FOUND)
            ctype = ctx.request.headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype not in ("image/jpeg", "image/png"):
                return _err(415, "Unsupported Media Type")
            if len(ctx.raw) > 1024 * 1024:
                return _err(413, "Request Entity Too Large")
            if menu.image is not None:
                return _err(400, "An image has already been uploaded to the richmenu")
            dims = _image_size(ctx.raw)
            if dims is None:
                return _err(400, "Invalid image")
            size = menu.body.get("size", {})
            if dims != (size.get("width"), size.get("height")):
                return _err(400, "The rich menu image size doesn't match the rich menu size")
            with self._lock:
                menu.image, menu.content_type = ctx.raw, ctype
            return _Answer(200, {})

        @r("GET", "/v2/bot/message/{messageId}/content")
        async def message_content(ctx: _Ctx) -> _Answer:
            with self._lock:
                found = self._contents.get(ctx.params["messageId"])
            if found is None:
                return _err(404, MSG_NOT_FOUND)
            return _Answer(200, found[0], media_type=found[1])

        @r("GET", "/v2/bot/richmenu/{richMenuId}/content")
        async def download_image(ctx: _Ctx) -> _Answer:
            menu = menu_of(ctx, ctx.params["richMenuId"])
            if menu is None or menu.image is None:
                return _err(404, MSG_NOT_FOUND)
            return _Answer(200, menu.image, media_type=menu.content_type or "image/png")

        def linkable(ctx: _Ctx, menu_id: str) -> _Answer | None:
            menu = menu_of(ctx, menu_id)
            if menu is None:
                return _err(404, MSG_NOT_FOUND)
            if menu.image is None:
                return _err(400, "must upload richmenu image before applying it to user")
            return None

        @r("POST", "/v2/bot/user/all/richmenu/{richMenuId}")
        async def set_default(ctx: _Ctx) -> _Answer:
            refused = linkable(ctx, ctx.params["richMenuId"])
            if refused is not None:
                return refused
            with self._lock:
                self._default_menu[ctx.channel_id] = ctx.params["richMenuId"]
            return _Answer(200, {})

        @r("GET", "/v2/bot/user/all/richmenu")
        async def get_default(ctx: _Ctx) -> _Answer:
            with self._lock:
                menu_id = self._default_menu.get(ctx.channel_id)
            if menu_id is None:
                return _err(404, "no default richmenu")
            return _Answer(200, {"richMenuId": menu_id})

        @r("DELETE", "/v2/bot/user/all/richmenu")
        async def clear_default(ctx: _Ctx) -> _Answer:
            with self._lock:
                self._default_menu.pop(ctx.channel_id, None)
            return _Answer(200, {})

        @r("POST", "/v2/bot/richmenu/bulk/link")
        async def bulk_link(ctx: _Ctx) -> _Answer:
            refused = linkable(ctx, ctx.body["richMenuId"])
            if refused is not None:
                return refused
            with self._lock:
                for uid in ctx.body["userIds"]:
                    self._user_menus[(ctx.channel_id, uid)] = ctx.body["richMenuId"]
            return _Answer(202, {})

        @r("POST", "/v2/bot/richmenu/bulk/unlink")
        async def bulk_unlink(ctx: _Ctx) -> _Answer:
            with self._lock:
                for uid in ctx.body["userIds"]:
                    self._user_menus.pop((ctx.channel_id, uid), None)
            return _Answer(202, {})

        @r("POST", "/v2/bot/user/{userId}/richmenu/{richMenuId}")
        async def link_user(ctx: _Ctx) -> _Answer:
            uid = ctx.params["userId"]
            if not self._check_recipient(uid, users_only=True):
                return _err(400, "The value for the 'userId' parameter is invalid")
            refused = linkable(ctx, ctx.params["richMenuId"])
            if refused is not None:
                return refused
            with self._lock:
                self._user_menus[(ctx.channel_id, uid)] = ctx.params["richMenuId"]
            return _Answer(200, {})

        @r("GET", "/v2/bot/user/{userId}/richmenu")
        async def get_user_menu(ctx: _Ctx) -> _Answer:
            with self._lock:
                menu_id = self._user_menus.get((ctx.channel_id, ctx.params["userId"]))
            if menu_id is None:
                return _err(404, "the user has no richmenu")
            return _Answer(200, {"richMenuId": menu_id})

        @r("DELETE", "/v2/bot/user/{userId}/richmenu")
        async def unlink_user(ctx: _Ctx) -> _Answer:
            with self._lock:
                self._user_menus.pop((ctx.channel_id, ctx.params["userId"]), None)
            return _Answer(200, {})


def create_line_api(
    channels: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    **options: Any,
) -> LineApiStandin:
    """A LINE Messaging API stand-in.

    ``channels`` maps channel access tokens to channel ids (``None``: any bearer token is
    accepted, each token being its own channel). ``clock`` answers aware UTC ``datetime``
    (default: the real clock). ``options`` go to :class:`LineApiStandin` (``monthly_limit``,
    ``rate_limits``, ``blocked``, ``reply_token_ttl``, ``strict_ids``).
    """
    return LineApiStandin(channels, clock, **options)
