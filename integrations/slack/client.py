"""Slack Web API sends over slack_sdk's AsyncWebClient, answering neutral outcomes.

slack_sdk raises SlackApiError both for HTTP 429 (with a Retry-After header) and for HTTP 200
with `"ok": false`; this wrapper turns either, and time-outs or refused connections, into a
`SendOutcome`. The SDK's own retry handlers are switched off: the outbox decides when to try
again (a silent SDK retry of chat.postMessage could post twice).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from core.outbox.policy import SendOutcome

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5
OUTBOX_EVENT_TYPE: Final = "yorozu_outbox"
"""`metadata.event_type` of every post: its `event_payload` names the outbox row."""
HISTORY_PAGE_SIZE: Final = 200
HISTORY_MAX_PAGES: Final = 5
"""A look-up reads at most this many pages (newest first) before giving its answer."""


def outbox_metadata(outbox_id: int) -> dict[str, Any]:
    """Slack message metadata naming the outbox row a post came from."""
    return {"event_type": OUTBOX_EVENT_TYPE, "event_payload": {"outbox_id": outbox_id}}


def outbox_id_of(message: Mapping[str, Any]) -> int | None:
    """The outbox id in a message's metadata (as conversations.history returns it), if any."""
    metadata = message.get("metadata")
    if not isinstance(metadata, Mapping) or metadata.get("event_type") != OUTBOX_EVENT_TYPE:
        return None
    payload = metadata.get("event_payload")
    value = payload.get("outbox_id") if isinstance(payload, Mapping) else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class HistoryLookup:
    """Where a post with a given outbox id was found, or why the look-up could not tell."""

    outcome: SendOutcome
    """The last call's outcome; not `succeeded`: the look-up failed and proves nothing."""
    ts: str | None = None
    """The found message's ts; None with a succeeded outcome: it is not there."""
    pages: int = 0


def slack_ts(moment: datetime) -> str:
    """A Slack timestamp ("1700000000.000100") for a moment."""
    return f"{moment.timestamp():.6f}"


class SlackSender:
    """chat.postMessage, chat.update, views.publish and conversations.open/history/replies.

    Every call takes the workspace's `token`; without one the sender's default token is used."""

    def __init__(
        self, base_url: str, token: str, *, timeout: int = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        if not base_url.endswith("/"):
            base_url += "/"
        # One connection pool for every call (without it slack_sdk opens a session per call);
        # build the sender inside the running event loop, close it with `aclose`.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            session=self._session,
            retry_handlers=[],
        )

    async def aclose(self) -> None:
        await self._session.close()

    async def post_message(
        self,
        channel: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        token: str | None = None,
    ) -> SendOutcome:
        """Post to a channel (or a user id: the app's DM with them); request_id is the ts.

        `metadata` (`outbox_metadata`) travels with the message, so a post whose answer was
        lost can be found again (`find_post`).
        """
        return await self._call(
            self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=list(blocks) if blocks else None,  # type: ignore[arg-type]
                thread_ts=thread_ts,
                metadata=dict(metadata) if metadata else None,
                **_auth(token),
            ),
            id_field="ts",
        )

    async def upload_file(
        self,
        channel: str,
        *,
        filename: str,
        content: bytes,
        title: str,
        initial_comment: str,
        thread_ts: str | None = None,
        token: str | None = None,
    ) -> SendOutcome:
        """Share a file in a channel or thread through Slack's external upload flow
        (files.getUploadURLExternal, the upload itself, files.completeUploadExternal: the SDK's
        files_upload_v2); request_id is the file's id. Files carry no message metadata, so a
        retry after a lost answer may share the file twice: a duplicate photo, not a lost one."""
        try:
            response = await self.client.files_upload_v2(
                channel=channel,
                filename=filename,
                content=content,
                title=title,
                initial_comment=initial_comment,
                thread_ts=thread_ts,
                request_file_info=False,
                **_auth(token),
            )
        except SlackApiError as exc:
            return _from_error(exc.response)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendOutcome(status=None, error=type(exc).__name__)
        except SlackClientError as exc:
            return SendOutcome(status=None, error=type(exc).__name__)
        data = response.data if isinstance(response.data, dict) else {}
        shared = data.get("file") if isinstance(data.get("file"), dict) else {}
        file_id = str(shared.get("id") or "") or None
        return SendOutcome(status=response.status_code, request_id=file_id, ok=True)

    async def user_locale(self, user: str, *, token: str | None = None) -> str | None:
        """The Slack user's client language ("ja-JP", "en-US"; users.info include_locale),
        or None when it cannot be read."""
        outcome, data = await self._read(
            self.client.users_info(user=user, include_locale=True, **_auth(token))
        )
        if not outcome.succeeded:
            return None
        found = data.get("user") if isinstance(data.get("user"), Mapping) else {}
        locale = found.get("locale") if isinstance(found, Mapping) else None
        return str(locale) if locale else None

    async def find_post(
        self,
        channel: str,
        outbox_id: int,
        *,
        oldest: datetime,
        thread_ts: str | None = None,
        max_pages: int = HISTORY_MAX_PAGES,
        token: str | None = None,
    ) -> HistoryLookup:
        """Look for the post carrying `outbox_id` in its metadata, posted since `oldest`.

        conversations.history (or, for a thread reply, conversations.replies) with
        include_all_metadata, newest first, at most `max_pages` pages. A user id (a DM) is
        first turned into the DM's channel id with conversations.open.
        """
        if channel[:1] in ("U", "W"):
            opened, dm = await self.open_dm(channel, token=token)
            if not opened.succeeded or not dm:
                return HistoryLookup(opened)
            channel = dm
        cursor: str | None = None
        outcome = SendOutcome(status=None, error="no_call")
        for page in range(1, max_pages + 1):
            common: dict[str, Any] = {
                "channel": channel,
                "oldest": slack_ts(oldest),
                "include_all_metadata": True,
                "limit": HISTORY_PAGE_SIZE,
                "cursor": cursor,
                **_auth(token),
            }
            call = (
                self.client.conversations_replies(ts=thread_ts, **common)
                if thread_ts
                else self.client.conversations_history(**common)
            )
            outcome, data = await self._read(call)
            if not outcome.succeeded:
                return HistoryLookup(outcome, pages=page)
            for item in data.get("messages") or []:
                if isinstance(item, Mapping) and outbox_id_of(item) == outbox_id:
                    return HistoryLookup(outcome, ts=str(item.get("ts")), pages=page)
            cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor or not data.get("has_more", bool(cursor)):
                return HistoryLookup(outcome, pages=page)
        return HistoryLookup(outcome, pages=max_pages)

    async def update(
        self,
        channel: str,
        ts: str,
        text: str,
        blocks: Sequence[Mapping[str, Any]] | None = None,
        *,
        token: str | None = None,
    ) -> SendOutcome:
        return await self._call(
            self.client.chat_update(
                channel=channel,
                ts=ts,
                text=text,
                blocks=list(blocks) if blocks else None,  # type: ignore[arg-type]
                **_auth(token),
            ),
            id_field="ts",
        )

    async def delete(self, channel: str, ts: str, *, token: str | None = None) -> SendOutcome:
        """chat.delete of a message the app posted (erasure, when SLACK_ERASURE=delete)."""
        return await self._call(
            self.client.chat_delete(channel=channel, ts=ts, **_auth(token)), id_field="ts"
        )

    async def delete_file(self, file_id: str, *, token: str | None = None) -> SendOutcome:
        """files.delete of a file the app shared (an owner's photo, on erasure)."""
        return await self._call(
            self.client.files_delete(file=file_id, **_auth(token)), id_field=None
        )

    async def publish_home(
        self, user_id: str, view: Mapping[str, Any], *, token: str | None = None
    ) -> SendOutcome:
        return await self._call(
            self.client.views_publish(user_id=user_id, view=dict(view), **_auth(token)),
            id_field=None,
        )

    async def open_dm(
        self, user: str, *, token: str | None = None
    ) -> tuple[SendOutcome, str | None]:
        """The DM channel id with `user` (conversations.open), with the call's outcome."""
        outcome = await self._call(
            self.client.conversations_open(users=user, **_auth(token)), id_field=None
        )
        return outcome, outcome.request_id

    async def _read(
        self, call: Awaitable[AsyncSlackResponse]
    ) -> tuple[SendOutcome, dict[str, Any]]:
        """One call's outcome and, when it succeeded, its answer's data."""
        try:
            response = await call
        except SlackApiError as exc:
            return _from_error(exc.response), {}
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return SendOutcome(status=None, error=type(exc).__name__), {}
        except SlackClientError as exc:
            return SendOutcome(status=None, error=type(exc).__name__), {}
        data = response.data if isinstance(response.data, dict) else {}
        return SendOutcome(status=response.status_code, ok=True), data

    async def _call(
        self, call: Awaitable[AsyncSlackResponse], *, id_field: str | None
    ) -> SendOutcome:
        outcome, data = await self._read(call)
        if not outcome.succeeded:
            return outcome
        response_status = outcome.status
        request_id: str | None = None
        if id_field is not None and data.get(id_field) is not None:
            request_id = str(data[id_field])
        elif isinstance(data.get("channel"), dict):
            request_id = str(data["channel"].get("id") or "") or None
        return SendOutcome(status=response_status, request_id=request_id, ok=True)


def _auth(token: str | None) -> dict[str, str]:
    """A per-call token (the workspace's) over the sender's default; nothing when None."""
    return {"token": token} if token else {}


def _from_error(response: Any) -> SendOutcome:
    status = int(getattr(response, "status_code", 0) or 0) or None
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    headers = getattr(response, "headers", None) or {}
    retry_after: float | None = None
    for key, value in dict(headers).items():
        if str(key).lower() == "retry-after":
            try:
                retry_after = float(value)
            except (TypeError, ValueError):
                retry_after = None
    return SendOutcome(
        status=status, error=str(error) if error else None, retry_after=retry_after, ok=False
    )
