"""A Slack user (partner staff, a CO, the CCO): the requests their clicks make, signed.

Payload shapes follow Slack's documentation of interactivity (block_actions,
view_submission, view_closed, shortcut, message_action), slash commands and the Events API.
Trigger ids come from the Slack stand-in, so the service's views.open gets one that is live
and single-use, as in production; messages and views are read back from the stand-in so a
click carries what Slack would attach to it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from integrations.standins import SlackApiStandin, slack_headers
from yorozu.sandbox.signed import SignedRequest

EVENTS_PATH = "/slack/events"
APP_ID = "A0YOROZUEMU"


@dataclass
class SlackPerson:
    user_id: str
    team_id: str
    signing_secret: str
    slack: SlackApiStandin
    # Slack signs with its own wall clock and the service refuses requests older than five
    # minutes, so signatures use real time even when the service's clock has been moved.
    wall_clock: Callable[[], float] = field(default=time.time)
    path: str = EVENTS_PATH
    slack_base_url: str | None = None
    """Where the stand-in serves response_urls; None gives Slack-shaped ones that lead nowhere."""

    # -- interactivity -----------------------------------------------------------------------

    def shortcut(self, callback_id: str) -> SignedRequest:
        return self._interaction(
            {
                "type": "shortcut",
                "callback_id": callback_id,
                "trigger_id": self._trigger(),
                "action_ts": self._action_ts(),
            }
        )

    def message_shortcut(self, callback_id: str, channel: str, ts: str) -> SignedRequest:
        message = self.slack.message(channel, ts)
        return self._interaction(
            {
                "type": "message_action",
                "callback_id": callback_id,
                "trigger_id": self._trigger(),
                "action_ts": self._action_ts(),
                "message_ts": ts,
                "channel": {"id": channel, "name": channel.lower()},
                "message": {
                    "type": "message",
                    "ts": ts,
                    "text": message.text if message else "",
                    "user": message.args.get("user", "U0STANDBOT") if message else "U0STANDBOT",
                },
                "response_url": self._response_url(channel),
            }
        )

    def click_in_message(self, channel: str, ts: str, action: dict[str, Any]) -> SignedRequest:
        """A button or select inside a message (a queue card, a DM)."""
        message = self.slack.message(channel, ts)
        return self._interaction(
            {
                "type": "block_actions",
                "trigger_id": self._trigger(),
                "container": {"type": "message", "channel_id": channel, "message_ts": ts},
                "channel": {"id": channel, "name": channel.lower()},
                "message": {
                    "type": "message",
                    "ts": ts,
                    "text": (message.text or "") if message else "",
                    "blocks": (message.blocks or []) if message else [],
                },
                "actions": [self._action(action)],
                "response_url": self._response_url(channel),
            }
        )

    def click_in_view(self, view_id: str, action: dict[str, Any]) -> SignedRequest:
        """A button or select inside a modal or the App Home."""
        view = self.slack.view(view_id) or {"id": view_id}
        container = {"type": "view", "view_id": view_id}
        return self._interaction(
            {
                "type": "block_actions",
                "trigger_id": self._trigger(),
                "container": container,
                "view": view,
                "actions": [self._action(action)],
            }
        )

    def submit(
        self,
        view_id: str,
        values: dict[str, dict[str, Any]],
        *,
        view: dict[str, Any] | None = None,
    ) -> SignedRequest:
        """Press a modal's submit button with its inputs' state (block → action → state).

        `view` is the modal as the client shows it, when that differs from Slack's record
        (a response_action update the client applied); by default Slack's record."""
        view = dict(view or self.slack.view(view_id) or {"id": view_id})
        view["state"] = {"values": values}
        return self._interaction(
            {"type": "view_submission", "trigger_id": self._trigger(), "view": view}
        )

    def close(self, view_id: str) -> SignedRequest:
        view = self.slack.view(view_id) or {"id": view_id}
        return self._interaction({"type": "view_closed", "view": view, "is_cleared": False})

    def command(self, command: str, text: str, channel: str | None = None) -> SignedRequest:
        channel_id = channel or self.slack.dm_channel_for(self.user_id)
        form = {
            "token": "legacy",
            "team_id": self.team_id,
            "team_domain": "yorozu",
            "channel_id": channel_id,
            "channel_name": channel_id.lower(),
            "user_id": self.user_id,
            "user_name": self.user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": self._response_url(channel_id),
            "trigger_id": self._trigger(),
        }
        return self._signed(urlencode(form).encode(), "application/x-www-form-urlencoded")

    # -- Events API ----------------------------------------------------------------------------

    def home_opened(self) -> SignedRequest:
        return self._event(
            {
                "type": "app_home_opened",
                "user": self.user_id,
                "channel": self.slack.dm_channel_for(self.user_id),
                "tab": "home",
                "event_ts": self._action_ts(),
            }
        )

    def react(self, reaction: str, channel: str, ts: str) -> SignedRequest:
        return self._event(
            {
                "type": "reaction_added",
                "user": self.user_id,
                "reaction": reaction,
                "item": {"type": "message", "channel": channel, "ts": ts},
                "item_user": "U0STANDBOT",
                "event_ts": self._action_ts(),
            }
        )

    def say(self, channel: str, text: str, *, thread_ts: str | None = None) -> SignedRequest:
        """Write in a channel or a card's thread: the message lands in the stand-in, and the
        request is the `message` event Slack sends the app about it (text escaped as Slack
        escapes &, < and >)."""
        posted = self.slack.post_as_user(channel, self.user_id, text, thread_ts=thread_ts)
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "channel_type": "channel",
            "user": self.user_id,
            "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            "ts": posted.ts,
            "event_ts": posted.ts,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self._event(event)

    # -- plumbing ------------------------------------------------------------------------------

    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id, "username": self.user_id.lower(), "team_id": self.team_id}

    def _response_url(self, channel: str) -> str:
        if self.slack_base_url is None:
            return f"https://hooks.slack.com/actions/{self.team_id}/1/emulator"
        return self.slack.response_url(self.slack_base_url, channel, self.user_id)

    def _trigger(self) -> str:
        return self.slack.issue_trigger_id(self.user_id)

    def _action_ts(self) -> str:
        return f"{self.wall_clock():.6f}"

    def _action(self, action: dict[str, Any]) -> dict[str, Any]:
        return {"block_id": "actions", **action, "action_ts": self._action_ts()}

    def _interaction(self, payload: dict[str, Any]) -> SignedRequest:
        full = {
            **payload,
            "token": "legacy",
            "api_app_id": APP_ID,
            "team": {"id": self.team_id, "domain": "yorozu"},
            "user": self._user(),
        }
        form = urlencode({"payload": json.dumps(full, ensure_ascii=False)}).encode()
        return self._signed(form, "application/x-www-form-urlencoded")

    def _event(self, event: dict[str, Any]) -> SignedRequest:
        envelope = {
            "token": "legacy",
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(self.wall_clock()),
            "authorizations": [{"team_id": self.team_id, "user_id": "U0STANDBOT", "is_bot": True}],
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return self._signed(body, "application/json")

    def _signed(self, body: bytes, content_type: str) -> SignedRequest:
        headers = {
            "content-type": content_type,
            **slack_headers(self.signing_secret, body, int(self.wall_clock())),
        }
        return SignedRequest(self.path, body, headers)
