"""A local stand-in for the Slack Web API (``https://slack.com/api/<method>``).

Point ``slack_sdk.web.async_client.AsyncWebClient(token=..., base_url=url + "/api/")`` at it.

It answers like Slack: HTTP 200 with ``{"ok": false, "error": "..."}`` for errors
(``not_authed``, ``invalid_auth``, ``channel_not_found``, ``invalid_blocks``,
``invalid_arguments``, ``expired_trigger_id``...), HTTP 429 with ``Retry-After`` seconds when
a method's rate limit is exceeded (``chat.postMessage``: about one per second per channel with
a small burst), and ``ts`` values like ``"1700000000.000100"``. Trigger ids are issued by the
stand-in (:meth:`SlackApiStandin.issue_trigger_id`), work once and expire after 3 seconds.

Messages keep the ``metadata`` they were posted with (``event_type`` and ``event_payload``);
``conversations.history`` and ``conversations.replies`` return them with
``include_all_metadata``, newest first (replies: the parent, then oldest first), bounded by
``oldest``/``latest``, paged by ``limit`` and ``cursor``, under Tier 3 rate limits.

Faults can be scripted with :meth:`SlackApiStandin.fail_next` and
:meth:`SlackApiStandin.delay`, and :meth:`SlackApiStandin.lose_answers` makes a share of
``chat.postMessage`` calls post the message and then lose the answer (the connection drops,
or the answer hangs past any client time-out); everything is in
:attr:`SlackApiStandin.recorder`.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import random
import re
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations.standins._common import Clock, FaultScript, TokenBucket, checked_clock

__all__ = [
    "DEFAULT_SLACK_RATE_LIMITS",
    "SlackApiStandin",
    "SlackMessage",
    "SlackRecorder",
    "SlackRequest",
    "SlackView",
    "create_slack_api",
    "make_slack_id",
]

CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{6,}$")
USER_RE = re.compile(r"^[UW][A-Z0-9]{6,}$")
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_VIEW_STACK = 3
MAX_TEXT = 40_000
MAX_HISTORY_LIMIT = 999
DEFAULT_HISTORY_LIMIT = 100
LOSE_MODES = ("drop", "timeout")
KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)

# method -> (requests per second, burst). chat.postMessage is per channel, the rest per
# workspace (Slack's tiers: 2 = 20+/min, 3 = 50+/min, 4 = 100+/min).
DEFAULT_SLACK_RATE_LIMITS: dict[str, tuple[float, float]] = {
    "chat.postMessage": (1.0, 3.0),
    "chat.update": (50 / 60, 50.0),
    "chat.delete": (50 / 60, 50.0),
    "files.delete": (50 / 60, 50.0),
    "chat.postEphemeral": (100 / 60, 100.0),
    "chat.getPermalink": (100 / 60, 100.0),
    "views.open": (100 / 60, 100.0),
    "views.update": (100 / 60, 100.0),
    "views.push": (100 / 60, 100.0),
    "views.publish": (100 / 60, 100.0),
    "conversations.open": (50 / 60, 50.0),
    "users.info": (100 / 60, 100.0),
    "reactions.add": (50 / 60, 50.0),
    "auth.test": (100 / 60, 100.0),
    "conversations.history": (50 / 60, 50.0),
    "conversations.replies": (50 / 60, 50.0),
}
PER_CHANNEL_METHODS = frozenset({"chat.postMessage"})
NO_TOKEN_METHODS = frozenset({"oauth.v2.access"})
"""Authenticated by the app's client id and secret, not by a token."""


def make_slack_id(prefix: str, seed: str | None = None, length: int = 10) -> str:
    """A Slack-looking id (``U0ABC...``, ``C0...``); deterministic when ``seed`` is given."""
    raw = hashlib.sha256(seed.encode()).hexdigest() if seed is not None else secrets.token_hex(16)
    return prefix + raw.upper()[:length]


class _Answered(Exception):
    """A method that answered without a token (oauth.v2.access)."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("answered")
        self.body = body


class SlackError(Exception):
    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


@dataclass
class SlackMessage:
    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    at: datetime
    args: dict[str, Any]
    edits: int = 0
    reactions: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    """Files shared with the message (files.completeUploadExternal): id, name, title,
    mimetype, size."""
    user: str | None = None
    """A person who wrote it in Slack (post_as_user); None for the bot's own messages."""


@dataclass
class _LoseAnswers:
    rate: float
    mode: str
    hang: float
    rng: random.Random


@dataclass(frozen=True)
class SlackEphemeral:
    channel: str
    user: str
    message_ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    at: datetime


@dataclass(frozen=True)
class SlackUpdate:
    channel: str
    ts: str
    text: str | None
    blocks: list[dict[str, Any]] | None
    at: datetime


@dataclass(frozen=True)
class SlackView:
    method: str  # views.open | views.push | views.update | views.publish
    view_id: str
    user_id: str | None
    view: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class SlackRequest:
    method: str
    args: dict[str, Any]
    status: int
    ok: bool
    error: str | None
    at: datetime
    token: str | None


class SlackRecorder:
    """Thread-safe record of what the app did. Accessors return copies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[SlackMessage] = []
        self._updates: list[SlackUpdate] = []
        self._ephemerals: list[SlackEphemeral] = []
        self._views: list[SlackView] = []
        self._requests: list[SlackRequest] = []
        self._listeners: list[Callable[[str, Any], None]] = []

    def add_listener(self, listener: Callable[[str, Any], None]) -> None:
        """Call ``listener(kind, item)`` for each record ("messages", "updates", "ephemerals",
        "views"), from the server's thread."""
        with self._lock:
            self._listeners.append(listener)

    def _add(self, kind: str, item: Any) -> None:
        with self._lock:
            getattr(self, "_" + kind).append(item)
            listeners = list(self._listeners) if kind != "requests" else []
        for listener in listeners:
            listener(kind, item)

    @property
    def messages(self) -> list[SlackMessage]:
        """Posted messages (current content: updates applied)."""
        with self._lock:
            return [dataclasses.replace(m, reactions=list(m.reactions)) for m in self._messages]

    @property
    def updates(self) -> list[SlackUpdate]:
        with self._lock:
            return list(self._updates)

    @property
    def ephemerals(self) -> list[SlackEphemeral]:
        with self._lock:
            return list(self._ephemerals)

    @property
    def views(self) -> list[SlackView]:
        with self._lock:
            return list(self._views)

    @property
    def requests(self) -> list[SlackRequest]:
        with self._lock:
            return list(self._requests)

    def _remove(self, doomed: Callable[[SlackMessage], bool]) -> int:
        """Forget messages Slack no longer holds (chat.delete, files.delete)."""
        with self._lock:
            kept = [m for m in self._messages if not doomed(m)]
            removed = len(self._messages) - len(kept)
            self._messages[:] = kept
        return removed

    def messages_in(self, channel: str) -> list[SlackMessage]:
        return [m for m in self.messages if m.channel == channel]

    def thread(self, channel: str, thread_ts: str) -> list[SlackMessage]:
        return [m for m in self.messages_in(channel) if m.thread_ts == thread_ts]

    def updates_in(self, channel: str) -> list[SlackUpdate]:
        return [u for u in self.updates if u.channel == channel]

    def ephemerals_for(self, user: str) -> list[SlackEphemeral]:
        return [e for e in self.ephemerals if e.user == user]

    def views_published_for(self, user: str) -> list[dict[str, Any]]:
        """Home tabs published for ``user``, oldest first."""
        return [v.view for v in self.views if v.method == "views.publish" and v.user_id == user]

    def views_opened_for(self, user: str) -> list[dict[str, Any]]:
        """Modals opened or pushed for ``user``, oldest first."""
        return [
            v.view
            for v in self.views
            if v.method in ("views.open", "views.push") and v.user_id == user
        ]

    def calls(self, method: str) -> list[SlackRequest]:
        return [r for r in self.requests if r.method == method]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._updates.clear()
            self._ephemerals.clear()
            self._views.clear()
            self._requests.clear()


@dataclass
class _Trigger:
    user_id: str
    issued_at: datetime
    used: bool = False


@dataclass
class _ViewState:
    view_id: str
    user_id: str | None
    root_view_id: str
    previous_view_id: str | None
    view: dict[str, Any]
    hash: str
    external_id: str | None


Method = Callable[[dict[str, Any], datetime], Awaitable[dict[str, Any]]]


def _problem(message: str, pointer: str) -> str:
    """Slack's wording of a Block Kit problem."""
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _is_plain_text(obj: Any) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(obj, dict)
        and obj.get("type") == "plain_text"
        and isinstance(obj.get("text"), str)
    )


class SlackApiStandin:
    """The Slack stand-in: :attr:`app` (ASGI) plus controls and :attr:`recorder`."""

    def __init__(
        self,
        tokens: Iterable[str],
        clock: Clock | None = None,
        *,
        channels: Mapping[str, str] | Iterable[str] | None = None,
        strict: bool = False,
        rate_limits: Mapping[str, tuple[float, float]] | None = None,
        trigger_ttl: timedelta = timedelta(seconds=3),
        team_id: str = "T0STANDIN1",
        bot_user_id: str = "U0STANDBOT",
        bot_id: str = "B0STANDBOT",
    ) -> None:
        self.tokens: set[str] = set(tokens)
        self.clock = checked_clock(clock)
        self.recorder = SlackRecorder()
        self.strict = strict
        self.trigger_ttl = trigger_ttl
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self._lock = threading.RLock()
        self._faults = FaultScript()
        self._revoked: set[str] = set()
        self._channels: dict[str, str] = {}  # id -> name
        if isinstance(channels, Mapping):
            self._channels.update(channels)
        elif channels is not None:
            for ch in channels:
                self._channels[ch] = ch.lower()
        self._users: dict[str, dict[str, Any]] = {}
        self._rate_limits = dict(DEFAULT_SLACK_RATE_LIMITS)
        self._rate_limits.update(rate_limits or {})
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._last_ts = 0
        self._messages: dict[tuple[str, str], SlackMessage] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._views: dict[str, _ViewState] = {}
        self._view_ids = itertools.count(1)
        self._lose: _LoseAnswers | None = None
        self._lost = 0
        self._token_teams: dict[str, str] = {}
        self._refresh: dict[str, tuple[str, str]] = {}  # refresh token -> (client id, team)
        self._clients: dict[str, str] = {}  # OAuth client id -> secret
        self.token_lifetime = 43_200
        self._methods: dict[str, Method] = {
            "oauth.v2.access": self._oauth_v2_access,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "files.delete": self._files_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "reactions.add": self._reactions_add,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        self._locales: dict[str, str] = {}  # user id -> their Slack client's locale
        self._uploads: dict[str, dict[str, Any]] = {}  # file id -> what getUploadURL promised
        self._file_bytes: dict[str, bytes] = {}
        self._base_url = "http://127.0.0.1"
        self.app = Starlette(
            routes=[
                Route("/api/{method}", self._dispatch, methods=["GET", "POST"]),
                Route("/respond/{channel}/{user}/{nonce}", self._respond, methods=["POST"]),
                Route("/upload/v1/{file_id}", self._upload, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------ controls
    def add_channel(self, channel_id: str, name: str | None = None) -> None:
        with self._lock:
            self._channels[channel_id] = name or channel_id.lower()

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "Asia/Tokyo",
        is_bot: bool = False,
        deleted: bool = False,
        locale: str = "ja-JP",
    ) -> None:
        with self._lock:
            self._users[user_id] = self._user_object(
                user_id, name, real_name or name, email, tz, is_bot, deleted
            )
            self._locales[user_id] = locale

    def add_workspace_token(self, token: str, team_id: str) -> None:
        """Accept ``token`` as the bot token of workspace ``team_id`` (auth.test says so)."""
        with self._lock:
            self.tokens.add(token)
            self._token_teams[token] = team_id

    def add_oauth_client(self, client_id: str, client_secret: str) -> None:
        """An app's OAuth credentials, for oauth.v2.access."""
        with self._lock:
            self._clients[client_id] = client_secret

    def add_refresh_token(self, refresh_token: str, client_id: str, team_id: str) -> None:
        """A refresh token (token rotation on) that oauth.v2.access exchanges once."""
        with self._lock:
            self._refresh[refresh_token] = (client_id, team_id)

    def revoke(self, token: str) -> None:
        """Calls with ``token`` now answer ``token_revoked``."""
        with self._lock:
            self._revoked.add(token)

    def issue_trigger_id(self, user_id: str) -> str:
        """A trigger id as an interaction payload would carry it (single use, 3 s)."""
        now = self.clock()
        head = f"{int(now.timestamp())}{secrets.randbelow(10**6):06d}"
        trigger = f"{head}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger] = _Trigger(user_id, now)
        return trigger

    def set_rate_limit(self, method: str, per_second: float, burst: float) -> None:
        with self._lock:
            self._rate_limits[method] = (per_second, burst)
            for key in [k for k in self._buckets if k[0] == method]:
                del self._buckets[key]

    def fail_next(
        self,
        n: int,
        status: int,
        retry_after: int | None = None,
        *,
        error: str | None = None,
        method: str | None = None,
    ) -> None:
        """The next ``n`` calls (of ``method`` if given) fail.

        429 answers ``ratelimited`` with ``Retry-After: retry_after`` (default 1); 200 answers
        ``{"ok": false, "error": error or "internal_error"}``; other statuses answer that
        status with ``{"ok": false, "error": error or "fatal_error"}``.
        """
        self._faults.add_fault(
            n, status, error, None if method is None else "/api/" + method, retry_after=retry_after
        )

    def delay(self, seconds: float, *, count: int | None = None, method: str | None = None) -> None:
        """Hold answers back by ``seconds`` (the call takes effect first)."""
        self._faults.set_delay(seconds, count, None if method is None else "/api/" + method)

    def lose_answers(
        self, rate: float, mode: str = "drop", *, hang: float = 30.0, seed: int = 0
    ) -> None:
        """A share ``rate`` of chat.postMessage calls post the message, then lose the answer.

        ``mode`` "drop": the connection is closed before the answer is complete (the client
        sees a reset); "timeout": the answer is held ``hang`` seconds, past the client's
        time-out. Either way the message is in the channel. ``rate`` 0 turns it off.
        """
        if mode not in LOSE_MODES:
            raise ValueError(f"mode must be one of {LOSE_MODES}")
        _quiet_dropped_answers()
        with self._lock:
            self._lose = _LoseAnswers(rate, mode, hang, random.Random(seed)) if rate > 0 else None

    @property
    def lost_answers(self) -> int:
        """How many chat.postMessage answers were lost so far (the posts were made)."""
        with self._lock:
            return self._lost

    def _lose_this_answer(self) -> _LoseAnswers | None:
        with self._lock:
            lose = self._lose
            if lose is None or lose.rng.random() >= lose.rate:
                return None
            self._lost += 1
            return lose

    def clear_faults(self) -> None:
        self._faults.clear()
        with self._lock:
            self._lose = None

    def reset(self) -> None:
        """Forget messages, views, triggers, buckets, faults and records (config is kept)."""
        self._faults.clear()
        self.recorder.clear()
        with self._lock:
            self._buckets.clear()
            self._messages.clear()
            self._triggers.clear()
            self._views.clear()

    def response_url(self, base_url: str, channel: str, user_id: str) -> str:
        """A response_url for an interaction or slash command by ``user_id`` in ``channel``,
        served by this stand-in at ``base_url`` (Slack's own are on hooks.slack.com)."""
        return f"{base_url.rstrip('/')}/respond/{channel}/{user_id}/{secrets.token_hex(8)}"

    async def _respond(self, request: Request) -> Response:
        """A post to a response_url: an ephemeral answer (the default) or one in the channel."""
        now = self.clock()
        channel = request.path_params["channel"]
        user = request.path_params["user"]
        try:
            args = json.loads(await request.body())
        except ValueError:
            return JSONResponse({"ok": False, "error": "invalid_json"}, status_code=400)
        try:
            text, blocks = self._message_content(args)
        except SlackError as exc:
            return JSONResponse({"ok": False, "error": exc.error}, status_code=400)
        ts = self._next_ts(now)
        if args.get("response_type") == "in_channel":
            message = SlackMessage(channel, ts, text, blocks, None, now, dict(args))
            with self._lock:
                self._messages[(channel, ts)] = message
            self.recorder._add("messages", message)
        else:
            self.recorder._add("ephemerals", SlackEphemeral(channel, user, ts, text, blocks, now))
        return JSONResponse({"ok": True})

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        with self._lock:
            m = self._messages.get((channel, ts))
            return None if m is None else dataclasses.replace(m, reactions=list(m.reactions))

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self._lock:
            state = self._views.get(view_id)
            return None if state is None else self._view_object(state)

    def post_as_user(
        self, channel: str, user_id: str, text: str, *, thread_ts: str | None = None
    ) -> SlackMessage:
        """A person writes in a channel (or a thread), as in the Slack client: the message is
        in the channel's history; the Events API callback is theirs to send (SlackPerson.say)."""
        now = self.clock()
        ts = self._next_ts(now)
        msg = SlackMessage(channel, ts, text, None, thread_ts, now, {"text": text}, user=user_id)
        with self._lock:
            self._messages[(channel, ts)] = msg
        self.recorder._add("messages", msg)
        return msg

    def file_name(self, file_id: str) -> str | None:
        with self._lock:
            promised = self._uploads.get(file_id)
            return None if promised is None else str(promised["filename"])

    def file_content(self, file_id: str) -> bytes | None:
        """The bytes uploaded for a shared file (what a person would download)."""
        with self._lock:
            return self._file_bytes.get(file_id)

    async def _files_get_upload_url(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Step 1 of the external upload: a file id and a one-time URL for the bytes."""
        filename = str(args.get("filename") or "").strip()
        if not filename:
            raise SlackError("invalid_arguments")
        try:
            length = int(args.get("length") or 0)
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_arguments") from exc
        if length <= 0:
            raise SlackError("invalid_arguments")
        file_id = make_slack_id("F")
        with self._lock:
            self._uploads[file_id] = {"filename": filename, "length": length, "done": False}
        return {"upload_url": f"{self._base_url}/upload/v1/{file_id}", "file_id": file_id}

    async def _upload(self, request: Request) -> Response:
        """Step 2: the bytes, POSTed to the URL step 1 gave; their length must match."""
        file_id = request.path_params["file_id"]
        data = await request.body()
        with self._lock:
            promised = self._uploads.get(file_id)
            if promised is None or promised.get("received"):
                return PlainTextResponse("upload url not found", 404)
            if len(data) != promised["length"]:
                return PlainTextResponse("length mismatch", 400)
            promised["received"] = True
            self._file_bytes[file_id] = data
        return PlainTextResponse(f"OK - {len(data)}")

    async def _files_complete_upload(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Step 3: share the uploaded files in a channel (or a thread), as one message."""
        raw = self._json_arg(args, "files")
        if not isinstance(raw, list) or not raw:
            raise SlackError("invalid_arguments")
        shared: list[dict[str, Any]] = []
        with self._lock:
            for item in raw:
                file_id = str(item.get("id") or "") if isinstance(item, dict) else ""
                promised = self._uploads.get(file_id)
                if promised is None or not promised.get("received"):
                    raise SlackError("file_not_found")
                if promised["done"]:
                    raise SlackError("file_already_completed")
                promised["done"] = True
                shared.append(
                    {
                        "id": file_id,
                        "name": promised["filename"],
                        "title": str(item.get("title") or promised["filename"]),
                        "size": promised["length"],
                        "mimetype": _mimetype(promised["filename"]),
                    }
                )
        channel_arg = args.get("channel_id")
        if channel_arg:
            channel = self._resolve_channel(channel_arg)
            ts = self._next_ts(now)
            thread_ts = args.get("thread_ts") or None
            comment = str(args.get("initial_comment") or "")
            msg = SlackMessage(channel, ts, comment, None, thread_ts, now, dict(args), files=shared)
            with self._lock:
                self._messages[(channel, ts)] = msg
            self.recorder._add("messages", msg)
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}

    def dm_channel_for(self, user_id: str) -> str:
        """The id conversations.open answers for a DM with ``user_id``."""
        return make_slack_id("D", "dm:" + user_id)

    # ------------------------------------------------------------------ plumbing
    async def _dispatch(self, request: Request) -> Response:
        now = self.clock()
        method = request.path_params["method"]
        self._base_url = str(request.base_url).rstrip("/")
        args: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        ctype = request.headers.get("content-type", "")
        token: str | None = None
        status = 200
        headers: dict[str, str] = {}
        try:
            if raw:
                if "json" in ctype:
                    try:
                        parsed = json.loads(raw)
                    except ValueError as exc:
                        raise SlackError("invalid_json") from exc
                    if not isinstance(parsed, dict):
                        raise SlackError("invalid_json")
                    parsed.pop("token", None)  # JSON bodies must authenticate by header
                    args.update(parsed)
                else:
                    args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            auth = request.headers.get("authorization", "")
            if auth.startswith("Bearer ") and auth[7:].strip():
                token = auth[7:].strip()
            else:
                tok_arg = args.pop("token", None)
                token = str(tok_arg) if tok_arg else None
            args.pop("token", None)
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method", 404)
            if method in NO_TOKEN_METHODS:
                body = {"ok": True, **await handler(self._client_auth(request, args), now)}
                raise _Answered(body)
            if token is None:
                raise SlackError("not_authed")
            with self._lock:
                if token in self._revoked:
                    raise SlackError("token_revoked")
                if token not in self.tokens:
                    raise SlackError("invalid_auth")
            fault = self._faults.take_fault("/api/" + method)
            if fault is not None:
                if fault.status == 429:
                    retry = fault.extra.get("retry_after") or 1
                    raise SlackError("ratelimited", 429, retry_after=int(retry))
                raise SlackError(
                    fault.body or ("internal_error" if fault.status == 200 else "fatal_error"),
                    fault.status,
                )
            self._check_rate(method, args, now)
            body = await handler({**args, "_token": token} if method == "auth.test" else args, now)
            body = {"ok": True, **body}
        except _Answered as answered:
            body = answered.body
        except SlackError as err:
            status = err.status
            body = {"ok": False, "error": err.error}
            retry_after = err.extra.pop("retry_after", None)
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            body.update(err.extra)
        self.recorder._add(
            "requests",
            SlackRequest(method, args, status, bool(body.get("ok")), body.get("error"), now, token),
        )
        wait = self._faults.take_delay("/api/" + method)
        if wait > 0:
            await asyncio.sleep(wait)
        if method == "chat.postMessage" and body.get("ok"):
            lose = self._lose_this_answer()
            if lose is not None and lose.mode == "timeout":
                await asyncio.sleep(lose.hang)
            elif lose is not None:
                return _DroppedAnswer(body, status, headers)
        return JSONResponse(body, status, headers)

    def _check_rate(self, method: str, args: dict[str, Any], now: datetime) -> None:
        scope = str(args.get("channel", "")) if method in PER_CHANNEL_METHODS else ""
        with self._lock:
            limit = self._rate_limits.get(method)
            if limit is None:
                return
            bucket = self._buckets.get((method, scope))
            if bucket is None:
                bucket = TokenBucket(limit[0], limit[1], now)
                self._buckets[(method, scope)] = bucket
            wait = bucket.take(now)
        if wait > 0:
            retry = 60 if math.isinf(wait) else max(1, math.ceil(wait))
            raise SlackError("ratelimited", 429, retry_after=retry)

    def _next_ts(self, now: datetime) -> str:
        with self._lock:
            micros = int(now.timestamp()) * 1_000_000 + 100
            if micros <= self._last_ts:
                micros = self._last_ts + 100
            self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _resolve_channel(self, channel: Any) -> str:
        ch = str(channel or "").strip()
        if not ch:
            raise SlackError("channel_not_found")
        with self._lock:
            if ch in self._channels:
                return ch
            name = ch.lstrip("#").lower()
            for cid, cname in self._channels.items():
                if cname == name:
                    return cid
            known_users = set(self._users)
        if USER_RE.match(ch) and (not self.strict or ch in known_users):
            return self.dm_channel_for(ch)
        if CHANNEL_RE.match(ch) and (not self.strict or ch.startswith("D")):
            return ch
        raise SlackError("channel_not_found")

    def _user_object(
        self,
        user_id: str,
        name: str,
        real_name: str,
        email: str | None,
        tz: str,
        is_bot: bool,
        deleted: bool,
    ) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real_name,
            "tz": tz,
            "tz_label": "Japan Standard Time" if tz == "Asia/Tokyo" else tz,
            "tz_offset": 32400 if tz == "Asia/Tokyo" else 0,
            "profile": profile,
            "is_admin": False,
            "is_owner": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }

    @staticmethod
    def _json_arg(args: dict[str, Any], key: str) -> Any:
        value = args.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise SlackError(
                    "invalid_arguments" if key == "view" else "invalid_blocks"
                ) from exc
        return value

    def _check_blocks(self, blocks: Any, limit: int, pointer: str) -> list[str]:
        """Problems with a Block Kit ``blocks`` array, as Slack words them."""
        if not isinstance(blocks, list):
            return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
        problems: list[str] = []
        if len(blocks) > limit:
            problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
        seen_ids: set[str] = set()
        for i, block in enumerate(blocks):
            at = f"{pointer}/{i}"
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                problems.append(f"[ERROR] missing required field: type [json-pointer:{at}]")
                continue
            btype = block["type"]
            if btype not in KNOWN_BLOCK_TYPES:
                problems.append(f"[ERROR] unsupported type: {btype} [json-pointer:{at}/type]")
            block_id = block.get("block_id")
            if block_id is not None:
                if not isinstance(block_id, str) or len(block_id) > 255:
                    problems.append(
                        f"[ERROR] must be less than 256 characters [json-pointer:{at}/block_id]"
                    )
                elif block_id in seen_ids:
                    problems.append(f"[ERROR] duplicate block_id [json-pointer:{at}/block_id]")
                else:
                    seen_ids.add(block_id)
            text = block.get("text")
            if btype == "section":
                if text is None and not block.get("fields"):
                    problems.append(
                        f"[ERROR] must provide either text or fields [json-pointer:{at}]"
                    )
                if isinstance(text, dict) and len(str(text.get("text", ""))) > 3000:
                    problems.append(
                        f"[ERROR] must be less than 3001 characters [json-pointer:{at}/text/text]"
                    )
                if len(block.get("fields") or []) > 10:
                    problems.append(
                        f"[ERROR] no more than 10 items allowed [json-pointer:{at}/fields]"
                    )
            elif btype == "header":
                if not _is_plain_text(text):
                    problems.append(f"[ERROR] must be a plain_text object [json-pointer:{at}/text]")
                elif len(text["text"]) > 150:
                    problems.append(
                        f"[ERROR] must be less than 151 characters [json-pointer:{at}/text/text]"
                    )
            elif btype == "actions":
                elements = block.get("elements")
                if not isinstance(elements, list) or not elements:
                    problems.append(f"[ERROR] missing required field: elements [json-pointer:{at}]")
                elif len(elements) > 25:
                    problems.append(
                        f"[ERROR] no more than 25 items allowed [json-pointer:{at}/elements]"
                    )
            elif btype == "input":
                if not _is_plain_text(block.get("label")):
                    problems.append(f"[ERROR] missing required field: label [json-pointer:{at}]")
                if not isinstance(block.get("element"), dict):
                    problems.append(f"[ERROR] missing required field: element [json-pointer:{at}]")
        return problems

    def _message_content(
        self, args: dict[str, Any], *, required: bool = True
    ) -> tuple[str | None, list[dict[str, Any]] | None]:
        text = args.get("text")
        blocks = self._json_arg(args, "blocks")
        attachments = args.get("attachments")
        if blocks is not None and blocks != []:
            problems = self._check_blocks(blocks, MAX_MESSAGE_BLOCKS, "/blocks")
            if problems:
                raise SlackError(
                    "invalid_blocks", errors=problems, response_metadata={"messages": problems}
                )
        elif required and not text and not attachments:
            raise SlackError("no_text")
        if text is not None and len(str(text)) > MAX_TEXT:
            raise SlackError("msg_too_long")
        return (None if text is None else str(text)), (blocks or None)

    def _check_view(self, view: Any, *, expect: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(view, dict):
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view"]},
            )
        problems: list[str] = []
        vtype = view.get("type")
        if vtype not in expect:
            problems.append(f"[ERROR] must be one of {list(expect)} [json-pointer:/view/type]")
        problems += self._check_blocks(view.get("blocks"), MAX_VIEW_BLOCKS, "/view/blocks")
        if vtype == "modal":
            title = view.get("title")
            if not _is_plain_text(title):
                problems.append(_problem("missing required field: title", "/view/title"))
            elif len(title["text"]) > MAX_TITLE:
                problems.append(
                    _problem(f"must be less than {MAX_TITLE + 1} characters", "/view/title/text")
                )
            for button in ("submit", "close"):
                value = view.get(button)
                if value is not None and (
                    not _is_plain_text(value) or len(value["text"]) > MAX_TITLE
                ):
                    problems.append(
                        _problem(
                            f"must be a plain_text object of less than {MAX_TITLE + 1} characters",
                            f"/view/{button}",
                        )
                    )
            has_input = any(
                isinstance(b, dict) and b.get("type") == "input" for b in view.get("blocks") or []
            )
            if has_input and view.get("submit") is None:
                problems.append(
                    _problem("must provide submit when input blocks are present", "/view/submit")
                )
        meta = view.get("private_metadata")
        if meta is not None and len(str(meta)) > MAX_PRIVATE_METADATA:
            problems.append(
                _problem(
                    f"must be less than {MAX_PRIVATE_METADATA + 1} characters",
                    "/view/private_metadata",
                )
            )
        callback_id = view.get("callback_id")
        if callback_id is not None and len(str(callback_id)) > 255:
            problems.append(_problem("must be less than 256 characters", "/view/callback_id"))
        if problems:
            raise SlackError("invalid_arguments", response_metadata={"messages": problems})
        return view

    def _take_trigger(self, args: dict[str, Any], now: datetime) -> _Trigger:
        trigger_id = str(args.get("trigger_id") or "")
        if not trigger_id:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: trigger_id"]},
            )
        with self._lock:
            trig = self._triggers.get(trigger_id)
            if trig is None:
                raise SlackError("invalid_trigger_id")
            if trig.used:
                raise SlackError("exchanged_trigger_id")
            if now - trig.issued_at > self.trigger_ttl:
                raise SlackError("expired_trigger_id")
            trig.used = True
            return trig

    def _new_view(
        self,
        view: dict[str, Any],
        user_id: str | None,
        root: str | None,
        previous: str | None,
    ) -> _ViewState:
        view_id = make_slack_id("V", f"view:{next(self._view_ids)}:{secrets.token_hex(4)}")
        external_id = view.get("external_id")
        with self._lock:
            if external_id and any(v.external_id == external_id for v in self._views.values()):
                raise SlackError("duplicate_external_id")
            state = _ViewState(
                view_id,
                user_id,
                root or view_id,
                previous,
                dict(view),
                secrets.token_hex(8),
                external_id,
            )
            self._views[view_id] = state
        return state

    def _view_object(self, state: _ViewState) -> dict[str, Any]:
        return {
            "id": state.view_id,
            "team_id": self.team_id,
            "app_id": "A0STANDIN1",
            "bot_id": self.bot_id,
            "state": {"values": {}},
            "hash": state.hash,
            "root_view_id": state.root_view_id,
            "previous_view_id": state.previous_view_id,
            "private_metadata": "",
            "callback_id": "",
            "external_id": state.external_id or "",
            **state.view,
        }

    # ------------------------------------------------------------------ methods
    @staticmethod
    def _client_auth(request: Request, args: dict[str, Any]) -> dict[str, Any]:
        """oauth.v2.access arguments with the client credentials of Basic auth folded in."""
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError as exc:
                raise SlackError("invalid_client_id") from exc
            args = {**args, "client_id": client_id, "client_secret": secret}
        return args

    async def _oauth_v2_access(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Token rotation: a refresh token buys a new bot token (and a new refresh token)."""
        client_id = str(args.get("client_id") or "")
        with self._lock:
            if self._clients.get(client_id) != args.get("client_secret"):
                raise SlackError("invalid_client_id")
            if args.get("grant_type") != "refresh_token":
                raise SlackError("unsupported_grant_type")
            found = self._refresh.pop(str(args.get("refresh_token") or ""), None)
            if found is None or found[0] != client_id:
                raise SlackError("invalid_refresh_token")
            team = found[1]
            access = f"xoxe.xoxb-{team}-{secrets.token_hex(8)}"
            refresh = f"xoxe-1-{secrets.token_hex(12)}"
            self.tokens.add(access)
            self._token_teams[access] = team
            self._refresh[refresh] = (client_id, team)
        return {
            "access_token": access,
            "expires_in": self.token_lifetime,
            "refresh_token": refresh,
            "token_type": "bot",
            "scope": "chat:write",
            "bot_user_id": self.bot_user_id,
            "app_id": "A0STANDIN1",
            "team": {"id": team, "name": team},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    async def _auth_test(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        with self._lock:
            team = self._token_teams.get(str(args.get("_token") or ""), self.team_id)
        return {
            "url": "https://standin.slack.com/",
            "team": "Stand-in Workspace",
            "user": "yorozu-front-door",
            "team_id": team,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    async def _chat_post_message(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        text, blocks = self._message_content(args)
        metadata = self._metadata(args)
        ts = self._next_ts(now)
        thread_ts = args.get("thread_ts") or None
        msg = SlackMessage(channel, ts, text, blocks, thread_ts, now, dict(args), metadata=metadata)
        with self._lock:
            self._messages[(channel, ts)] = msg
        self.recorder._add("messages", msg)
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": text or "",
            "ts": ts,
            "team": self.team_id,
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = thread_ts
        if metadata:
            message["metadata"] = metadata
        return {"channel": channel, "ts": ts, "message": message}

    def _metadata(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """Message metadata as Slack checks it: an event_type and an event_payload object."""
        raw = args.get("metadata")
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise SlackError("invalid_metadata_format") from exc
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("event_type"), str)
            or not isinstance(raw.get("event_payload"), dict)
        ):
            raise SlackError("invalid_metadata_schema")
        return {"event_type": raw["event_type"], "event_payload": dict(raw["event_payload"])}

    def _history_item(self, msg: SlackMessage, with_metadata: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": "message",
            "user": msg.user or self.bot_user_id,
            "text": msg.text or "",
            "ts": msg.ts,
            "team": self.team_id,
        }
        if msg.user is None:
            item["bot_id"] = self.bot_id
        if msg.blocks:
            item["blocks"] = msg.blocks
        if msg.thread_ts:
            item["thread_ts"] = msg.thread_ts
        if with_metadata and msg.metadata:
            item["metadata"] = msg.metadata
        if msg.files:
            item["files"] = [dict(f) for f in msg.files]
        return item

    @staticmethod
    def _page(
        items: list[SlackMessage], args: dict[str, Any]
    ) -> tuple[list[SlackMessage], str | None]:
        """One page of `items` by `limit` and `cursor` (an opaque offset, as Slack's is)."""
        try:
            limit = int(args.get("limit") or DEFAULT_HISTORY_LIMIT)
        except ValueError as exc:
            raise SlackError("invalid_limit") from exc
        limit = max(1, min(limit, MAX_HISTORY_LIMIT))
        cursor = str(args.get("cursor") or "")
        start = 0
        if cursor:
            try:
                start = int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":", 1)[1])
            except (ValueError, IndexError) as exc:
                raise SlackError("invalid_cursor") from exc
        page = items[start : start + limit]
        more = start + limit < len(items)
        next_cursor = (
            base64.urlsafe_b64encode(f"offset:{start + limit}".encode()).decode() if more else None
        )
        return page, next_cursor

    @staticmethod
    def _in_range(ts: str, args: dict[str, Any]) -> bool:
        inclusive = str(args.get("inclusive") or "").lower() in ("1", "true")
        value = float(ts)
        oldest = args.get("oldest")
        latest = args.get("latest")
        try:
            if oldest not in (None, "") and (
                value < float(oldest) or (value == float(oldest) and not inclusive)
            ):
                return False
            if latest not in (None, "") and (
                value > float(latest) or (value == float(latest) and not inclusive)
            ):
                return False
        except ValueError as exc:
            raise SlackError("invalid_ts_oldest") from exc
        return True

    def _history_answer(self, items: list[SlackMessage], args: dict[str, Any]) -> dict[str, Any]:
        with_metadata = str(args.get("include_all_metadata") or "").lower() in ("1", "true")
        page, next_cursor = self._page(items, args)
        answer: dict[str, Any] = {
            "messages": [self._history_item(m, with_metadata) for m in page],
            "has_more": next_cursor is not None,
            "pin_count": 0,
        }
        if next_cursor:
            answer["response_metadata"] = {"next_cursor": next_cursor}
        return answer

    async def _conversations_history(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Top-level messages (thread replies stay in their thread), newest first."""
        channel = self._resolve_channel(args.get("channel"))
        with self._lock:
            items = [
                m
                for (ch, _), m in self._messages.items()
                if ch == channel
                and (m.thread_ts is None or m.thread_ts == m.ts)
                and self._in_range(m.ts, args)
            ]
        items.sort(key=lambda m: float(m.ts), reverse=True)
        return self._history_answer(items, args)

    async def _conversations_replies(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A thread: its parent first, then the replies oldest first."""
        channel = self._resolve_channel(args.get("channel"))
        ts = str(args.get("ts") or "")
        with self._lock:
            parent = self._messages.get((channel, ts))
            if parent is None:
                raise SlackError("thread_not_found")
            replies = [
                m
                for (ch, _), m in self._messages.items()
                if ch == channel and m.thread_ts == ts and m.ts != ts and self._in_range(m.ts, args)
            ]
        replies.sort(key=lambda m: float(m.ts))
        return self._history_answer([parent, *replies], args)

    async def _chat_update(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        ts = str(args.get("ts") or "")
        text, blocks = self._message_content(args, required=False)
        with self._lock:
            msg = self._messages.get((channel, ts))
            if msg is None:
                raise SlackError("message_not_found")
            if "text" in args:
                msg.text = text
                msg.args["text"] = args["text"]
            if "blocks" in args:
                msg.blocks = blocks
                msg.args["blocks"] = args["blocks"]
            msg.edits += 1
            current = {"text": msg.text or "", "blocks": msg.blocks}
        self.recorder._add("updates", SlackUpdate(channel, ts, text, blocks, now))
        return {"channel": channel, "ts": ts, "text": current["text"], "message": current}

    async def _chat_delete(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The message is gone, as in Slack: neither history nor replies show it."""
        channel = self._resolve_channel(args.get("channel"))
        ts = str(args.get("ts") or "")
        with self._lock:
            msg = self._messages.pop((channel, ts), None)
        if msg is None:
            raise SlackError("message_not_found")
        self.recorder._remove(lambda m: m is msg)
        return {"channel": channel, "ts": ts}

    async def _files_delete(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The file is gone, and with it the message that shared it (Slack shows "This file
        was deleted." in its place)."""
        file_id = str(args.get("file") or "")
        with self._lock:
            known = self._uploads.pop(file_id, None)
            self._file_bytes.pop(file_id, None)
            doomed = {
                key: msg
                for key, msg in self._messages.items()
                if any(f.get("id") == file_id for f in msg.files)
            }
            for key in doomed:
                del self._messages[key]
        if known is None and not doomed:
            raise SlackError("file_not_found")
        gone = set(map(id, doomed.values()))
        self.recorder._remove(lambda m: id(m) in gone)
        return {}

    async def _chat_post_ephemeral(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        user = str(args.get("user") or "")
        if not USER_RE.match(user):
            raise SlackError("user_not_found")
        text, blocks = self._message_content(args)
        ts = self._next_ts(now)
        self.recorder._add("ephemerals", SlackEphemeral(channel, user, ts, text, blocks, now))
        return {"message_ts": ts}

    async def _chat_get_permalink(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        ts = str(args.get("message_ts") or "")
        with self._lock:
            if (channel, ts) not in self._messages:
                raise SlackError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"https://standin.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    async def _views_open(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        view = self._check_view(self._json_arg(args, "view"), expect=("modal",))
        trig = self._take_trigger(args, now)
        state = self._new_view(view, trig.user_id, None, None)
        self.recorder._add("views", SlackView("views.open", state.view_id, trig.user_id, view, now))
        return {"view": self._view_object(state)}

    async def _views_push(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        view = self._check_view(self._json_arg(args, "view"), expect=("modal",))
        trig = self._take_trigger(args, now)
        with self._lock:
            stack = [
                v
                for v in self._views.values()
                if v.user_id == trig.user_id and v.view.get("type") == "modal"
            ]
            top = stack[-1] if stack else None
            depth = 0
            cursor = top
            while cursor is not None:
                depth += 1
                cursor = self._views.get(cursor.previous_view_id or "")
        if top is None:
            raise SlackError("not_found")
        if depth >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
        state = self._new_view(view, trig.user_id, top.root_view_id, top.view_id)
        self.recorder._add("views", SlackView("views.push", state.view_id, trig.user_id, view, now))
        return {"view": self._view_object(state)}

    async def _views_update(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        if not view_id and not external_id:
            raise SlackError(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] view_id or external_id required"]},
            )
        with self._lock:
            state = (
                self._views.get(str(view_id))
                if view_id
                else next((v for v in self._views.values() if v.external_id == external_id), None)
            )
        if state is None:
            raise SlackError("not_found")
        view = self._check_view(
            self._json_arg(args, "view"), expect=(str(state.view.get("type", "modal")),)
        )
        with self._lock:
            if args.get("hash") and args["hash"] != state.hash:
                raise SlackError("hash_conflict")
            state.view = dict(view)
            state.hash = secrets.token_hex(8)
        self.recorder._add(
            "views", SlackView("views.update", state.view_id, state.user_id, view, now)
        )
        return {"view": self._view_object(state)}

    async def _views_publish(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        user_id = str(args.get("user_id") or "")
        if not USER_RE.match(user_id) or (self.strict and user_id not in self._users):
            raise SlackError("user_not_found")
        view = self._check_view(self._json_arg(args, "view"), expect=("home",))
        with self._lock:
            state = next(
                (
                    v
                    for v in self._views.values()
                    if v.user_id == user_id and v.view.get("type") == "home"
                ),
                None,
            )
            if state is not None and args.get("hash") and args["hash"] != state.hash:
                raise SlackError("hash_conflict")
        if state is None:
            state = self._new_view(view, user_id, None, None)
        else:
            with self._lock:
                state.view = dict(view)
                state.hash = secrets.token_hex(8)
        self.recorder._add("views", SlackView("views.publish", state.view_id, user_id, view, now))
        return {"view": self._view_object(state)}

    async def _conversations_open(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        if args.get("channel"):
            return {"channel": {"id": self._resolve_channel(args["channel"])}}
        users_arg = args.get("users")
        users = (
            [str(u).strip() for u in users_arg]
            if isinstance(users_arg, list)
            else [u.strip() for u in str(users_arg or "").split(",") if u.strip()]
        )
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 8:
            raise SlackError("too_many_users")
        for user in users:
            if not USER_RE.match(user) or (self.strict and user not in self._users):
                raise SlackError("user_not_found")
        if len(users) == 1:
            channel_id = self.dm_channel_for(users[0])
        else:
            channel_id = make_slack_id("G", "mpim:" + ",".join(sorted(users)))
        return {"no_op": False, "already_open": False, "channel": {"id": channel_id}}

    async def _users_info(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        user_id = str(args.get("user") or "")
        with self._lock:
            found = self._users.get(user_id)
        if found is None:
            if self.strict or not USER_RE.match(user_id):
                raise SlackError("user_not_found")
            name = "user-" + user_id[1:7].lower()
            found = self._user_object(user_id, name, name, None, "Asia/Tokyo", False, False)
        if str(args.get("include_locale") or "").lower() in ("true", "1"):
            # Slack adds the locale only when asked for it (include_locale=true).
            with self._lock:
                found = {**found, "locale": self._locales.get(user_id, "ja-JP")}
        return {"user": found}

    async def _reactions_add(self, args: dict[str, Any], now: datetime) -> dict[str, Any]:
        channel = self._resolve_channel(args.get("channel"))
        ts = str(args.get("timestamp") or "")
        name = str(args.get("name") or "").strip(":")
        if not name:
            raise SlackError("invalid_name")
        with self._lock:
            msg = self._messages.get((channel, ts))
            if msg is None:
                raise SlackError("message_not_found")
            if name in msg.reactions:
                raise SlackError("already_reacted")
            msg.reactions.append(name)
        return {}


DROPPED_ANSWER_LOG = "ASGI callable returned without completing response."


def _mimetype(filename: str) -> str:
    import mimetypes

    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


class _NotDroppedAnswers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != DROPPED_ANSWER_LOG


def _quiet_dropped_answers() -> None:
    """uvicorn logs each answer we drop on purpose as an error; those lines say nothing."""
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _NotDroppedAnswers) for f in server_log.filters):
        server_log.addFilter(_NotDroppedAnswers())


class _DroppedAnswer(JSONResponse):
    """An answer whose connection is dropped halfway: the client sees no complete answer."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send({"type": "http.response.body", "body": self.body[:1], "more_body": True})
        # Returning without finishing the body makes the server close the connection.


def create_slack_api(
    tokens: Iterable[str],
    clock: Clock | None = None,
    **options: Any,
) -> SlackApiStandin:
    """A Slack Web API stand-in accepting the bot/user ``tokens``.

    ``clock`` answers aware UTC ``datetime`` (default: the real clock). ``options`` go to
    :class:`SlackApiStandin` (``channels``, ``strict``, ``rate_limits``, ``trigger_ttl``,
    ``team_id``, ``bot_user_id``, ``bot_id``).
    """
    return SlackApiStandin(tokens, clock, **options)
