"""The `/yorozu` slash command: handover, status, help.

Slack waits three seconds for the command's answer. The answer needs the database (who is
asking, what they handed over), so each command gets `ANSWER_BUDGET` seconds to be answered
in the acknowledgement itself; when the database is slower than that the command is
acknowledged with a short "checking" note and the real answer follows through the command's
response_url. `handover` opens a modal, which needs the trigger id within its own three
seconds, so it is acknowledged at once and the modal opened right after.

The hand-over modal and the status list belong to bots/slack/partners.py
(`open_handover`, `status_for`); this module only dispatches to them.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any, Final

from slack_bolt.async_app import AsyncApp

from bots.slack.deps import SlackDeps
from core.staff import StaffIdentity, resolve_slack_user

log = logging.getLogger(__name__)

COMMAND: Final = "/yorozu"
ANSWER_BUDGET: Final = 1.5
"""Seconds of database work allowed before the acknowledgement; leaves room in Slack's 3 s
for the network both ways and Bolt's own work."""

Answer = dict[str, Any]
"""Keyword arguments for ack()/respond(): text, blocks, response_type."""


def _partners() -> ModuleType | None:
    """bots.slack.partners when it is installed (it owns the hand-over and the status)."""
    try:
        return importlib.import_module("bots.slack.partners")
    except ModuleNotFoundError as exc:
        if exc.name != "bots.slack.partners":
            raise
        return None


def _ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> Answer:
    answer: Answer = {"response_type": "ephemeral", "text": text}
    if blocks is not None:
        answer["blocks"] = blocks
    return answer


def help_answer(deps: SlackDeps, locale: str = "ja", unknown: str | None = None) -> Answer:
    t = deps.catalog.text
    lines = []
    if unknown:
        lines.append(t("slack.help.unknown", locale, command=unknown[:50]))
    lines += [
        f"*{t('slack.help.title', locale)}*",
        t("slack.help.handover", locale),
        t("slack.help.status", locale),
        t("slack.help.figures", locale),
        t("slack.help.help", locale),
        t("slack.help.home", locale),
    ]
    text = "\n".join(lines)
    return _ephemeral(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def unregistered_answer(deps: SlackDeps, user_id: str) -> Answer:
    """The polite refusal, with a button to ask the hub for access (bots.slack.access)."""
    from bots.slack.access import request_blocks

    text = deps.catalog.text("slack.unregistered", "ja", user=user_id)
    return _ephemeral(text, request_blocks(deps.catalog, "ja", text))


async def _identity(deps: SlackDeps, team_id: str, user_id: str) -> StaffIdentity | None:
    async with deps.session_factory() as session:
        return await resolve_slack_user(session, team_id, user_id)


async def _answer_help(deps: SlackDeps, team_id: str, user_id: str, unknown: str | None) -> Answer:
    identity = await _identity(deps, team_id, user_id)
    if identity is None:
        return unregistered_answer(deps, user_id)
    return help_answer(deps, identity.locale, unknown)


async def _answer_status(deps: SlackDeps, team_id: str, user_id: str) -> Answer:
    identity = await _identity(deps, team_id, user_id)
    if identity is None:
        return unregistered_answer(deps, user_id)
    partners = _partners()
    status_for = getattr(partners, "status_for", None)
    if status_for is None:
        return _ephemeral(deps.catalog.text("slack.unavailable", identity.locale))
    blocks: list[dict[str, Any]] = list(await status_for(deps, team_id, user_id))
    if not blocks:
        return _ephemeral(deps.catalog.text("slack.status_empty", identity.locale))
    fallback = deps.catalog.text("slack.help.status", identity.locale)
    return _ephemeral(fallback, blocks[:50])


async def _answer_figures(deps: SlackDeps, team_id: str, user_id: str, args: list[str]) -> Answer:
    from bots.slack.figures import figures_answer

    answer = await figures_answer(deps, team_id, user_id, args)
    return answer if answer is not None else unregistered_answer(deps, user_id)


async def answer_within(
    budget: float,
    work: Awaitable[Answer],
    ack: Callable[..., Awaitable[Any]],
    respond: Callable[..., Awaitable[Any]],
    working: Answer,
) -> None:
    """Acknowledge with `work`'s answer if it is ready within `budget` seconds; otherwise
    acknowledge with `working` and send the answer through response_url when it is ready."""
    task = asyncio.ensure_future(work)
    done, _pending = await asyncio.wait({task}, timeout=budget)
    if task in done:
        await ack(**task.result())
        return
    await ack(**working)
    answer = await task
    await respond(**answer)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """The /yorozu command."""

    @app.command(COMMAND)
    async def on_yorozu(
        ack: Any, command: dict[str, Any], client: Any, respond: Any, context: Any
    ) -> None:
        words = str(command.get("text") or "").split()
        sub = words[0].lower() if words else "help"
        user_id = str(command.get("user_id") or "")
        team_id = str(command.get("team_id") or context.get("team_id") or deps.default_team_id)
        working = _ephemeral(deps.catalog.text("slack.working", "ja"))
        if sub == "handover":
            await ack()
            try:
                await _open_handover(deps, client, respond, command, team_id, user_id, words[1:])
            except Exception:
                # Already acknowledged: an error here must not turn into Slack's retry.
                log.exception("opening the hand-over modal failed")
            return
        if sub == "status":
            work = _answer_status(deps, team_id, user_id)
        elif sub == "figures":
            work = _answer_figures(deps, team_id, user_id, words[1:])
        else:
            unknown = None if sub == "help" else words[0]
            work = _answer_help(deps, team_id, user_id, unknown)
        await answer_within(ANSWER_BUDGET, work, ack, respond, working)


async def _open_handover(
    deps: SlackDeps,
    client: Any,
    respond: Callable[..., Awaitable[Any]],
    command: dict[str, Any],
    team_id: str,
    user_id: str,
    rest: list[str],
) -> None:
    """After the ack: check who is asking and let the partners module open its modal."""
    identity = await _identity(deps, team_id, user_id)
    if identity is None:
        await respond(**unregistered_answer(deps, user_id))
        return
    open_handover = getattr(_partners(), "open_handover", None)
    if open_handover is None:
        await respond(**_ephemeral(deps.catalog.text("slack.unavailable", identity.locale)))
        return
    prefill = " ".join(rest) or None
    await open_handover(
        client, str(command.get("trigger_id") or ""), user_id, team_id, deps, prefill=prefill
    )
