"""`/yorozu figures`: the hub's eight figures so far this fiscal year, for its CCO and HQ.

The same numbers as the console's dashboard (core.figure_months, the pre-counted hub-months
the dashboard reads, held equal to core.figures' count from the records by tests), written
as a short Slack message with a link to the dashboard when the service knows its own
address (CONSOLE_BASE_URL). A CO or partner asking is told politely who may see them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.slack.deps import SlackDeps
from core.clock import fiscal_year
from core.console.access import ConsoleRole
from core.console.people import principal_for
from core.dashboard import Figure
from core.db.models import Hub
from core.figure_months import figures_by_hub
from core.figures import EMPTY, sum_figures
from core.surveys.aggregate import Satisfaction, overall, satisfaction_by_hub

Answer = dict[str, Any]


async def figures_answer(
    deps: SlackDeps, team_id: str, user_id: str, args: list[str]
) -> Answer | None:
    """The answer, or None when the person is not one of ours (the caller says so)."""
    now = deps.clock.now()
    year = fiscal_year(now)
    t = deps.catalog.text
    async with deps.session_factory() as session:
        principal = await principal_for(session, team_id, user_id)
        if principal is None:
            return None
        locale = principal.locale
        if principal.role not in (ConsoleRole.CCO, ConsoleRole.HQ):
            return _ephemeral(t("slack.figures.not_allowed", locale))
        hub: Hub | None = None
        if principal.role is ConsoleRole.HQ and args:
            hub = await session.scalar(select(Hub).where(Hub.code == args[0].zfill(2)))
            if hub is None:
                return _ephemeral(t("slack.figures.unknown_hub", locale, code=args[0][:5]))
        elif principal.role is ConsoleRole.CCO:
            hub = await session.get(Hub, principal.hub_id)
        if hub is not None:
            figures = (await figures_by_hub(session, fiscal_year=year, hub_ids=[hub.id])).get(
                hub.id, EMPTY
            )
            satisfaction = (
                await satisfaction_by_hub(session, fiscal_year=year, hub_id=hub.id)
            ).get(hub.id, Satisfaction())
            where = hub.name_ja if locale == "ja" else hub.name_en
            path = f"/console/hubs/{hub.code}/dashboard?fy={year}"
        else:
            figures = sum_figures((await figures_by_hub(session, fiscal_year=year)).values())
            satisfaction = overall(await satisfaction_by_hub(session, fiscal_year=year))
            where = t("slack.figures.national", locale)
            path = f"/console/national?fy={year}"
    lines = [f"*{t('slack.figures.title', locale, where=where, year=year)}*"]
    for number, figure in enumerate(Figure, start=1):
        value = (
            f"{figures.hours:.1f}"
            if figure is Figure.HOURS
            else str(getattr(figures, figure.value))
        )
        lines.append(f"{number}. {t(f'figure.{figure.value}', locale)}: {value}")
    if satisfaction.rate is None:
        lines.append(t("slack.figures.no_satisfaction", locale))
    else:
        lines.append(
            t(
                "slack.figures.satisfaction",
                locale,
                percent=f"{satisfaction.rate * 100:.0f}",
                answers=satisfaction.answers,
            )
        )
    if deps.console_url:
        lines.append(t("slack.figures.link", locale, url=deps.console_url.rstrip("/") + path))
    text = "\n".join(lines)
    return _ephemeral(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def _ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> Answer:
    answer: Answer = {"response_type": "ephemeral", "text": text}
    if blocks is not None:
        answer["blocks"] = blocks
    return answer
