"""Is this Slack user id a real person of the workspace? Asked before anyone is registered.

A mistyped Slack id (U0AOKI001 for U0AOKI0001) would register a CO nobody can reach: their
cards, DMs and sign-in all go to no one, and nothing says so until an owner waits. So every
place a Slack id is entered (the console's forms, its CSV imports, `yorozu admin`) asks
Slack's users.info first and marks the field when Slack does not know the person.

Core stays platform-free: it sees only `SlackUserDirectory`; integrations.slack.directory
asks the real Web API (or the local stand-in). When Slack cannot be asked (no app set up,
Slack down), the id is taken as typed: registering a hub must not wait on Slack, and the
format check has already run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from enum import StrEnum
from typing import Final, Protocol

from core.i18n import Text


class SlackUserStatus(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    """Slack answered `user_not_found`: no such user in that workspace."""
    DEACTIVATED = "deactivated"
    """The account exists but was deactivated in Slack (`deleted: true`)."""
    BOT = "bot"
    UNCHECKED = "unchecked"
    """Slack could not be asked; the id is taken as typed."""


class SlackUserDirectory(Protocol):
    async def user_status(self, team_id: str | None, user_id: str) -> SlackUserStatus: ...


class UncheckedDirectory:
    """No Slack app configured: every id is taken as typed."""

    async def user_status(self, team_id: str | None, user_id: str) -> SlackUserStatus:
        return SlackUserStatus.UNCHECKED


PROBLEMS: dict[SlackUserStatus, str] = {
    SlackUserStatus.NOT_FOUND: "console.slack_user.not_found",
    SlackUserStatus.DEACTIVATED: "console.slack_user.deactivated",
    SlackUserStatus.BOT: "console.slack_user.bot",
}


ASKED_AT_ONCE: Final = 4
"""users.info calls in flight for one sheet: a 500-row sheet is checked in seconds, well
under Slack's per-method rate limit (Tier 4)."""


async def unknown_users(
    directory: SlackUserDirectory, team_id: str | None, users: Iterable[str]
) -> dict[str, Text]:
    """The problem with each id Slack does not know as a person (each asked once)."""
    gate = asyncio.Semaphore(ASKED_AT_ONCE)

    async def ask(user: str) -> tuple[str, SlackUserStatus]:
        async with gate:
            return user, await directory.user_status(team_id, user)

    answers = await asyncio.gather(*(ask(user) for user in dict.fromkeys(users)))
    return {
        user: Text(PROBLEMS[status], value=user) for user, status in answers if status in PROBLEMS
    }
