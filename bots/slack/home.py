"""The coordinator's App Home in Slack, and the case modal its buttons open.

The data comes from core.coordinators.home; this module only turns it into Block Kit.

How the home reaches Slack (one rule for everyone):
- Listeners (after their ack) call `publish_home(deps, team_id, user_id)`: it reads the
  database and calls views.publish at once. The home is a projection of the database that is
  rebuilt whole every time, so a lost publish costs nothing (the next open heals it) and there
  is no reason to make a person wait for the worker and the dispatcher.
- Durable work handlers (inside the inbox row's transaction) must not call Slack; they call
  `queue_home_refresh(session, co_id=..., now=..., catalog=...)`, which renders the home from
  the transaction's own view of the data and adds a "slack_home" outbox row that the
  dispatcher publishes after the commit.

Slack allows 100 blocks in a home view; each list is capped and says how many it left out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack.deps import SlackDeps
from bots.slack.render import escape
from core.clock import to_jst
from core.coordinators.home import (
    CaseDetails,
    CaseLine,
    ConsultationLine,
    CoordinatorHome,
    FollowUpLine,
    load_case_details,
    load_home,
)
from core.db.models import Coordinator
from core.domain.enums import Platform
from core.i18n import Catalog, Text
from core.i18n.dates import jst_day
from core.outbox.store import add_raw
from core.staff import DEFAULT_TEAM, StaffIdentity, resolve_slack_user

log = logging.getLogger(__name__)

Block = dict[str, Any]

MAX_BLOCKS: Final = 100
OPEN_CASE_ACTION: Final = "case.open"
"""Button action id; the button's value is the case id."""
CASE_MODAL_CALLBACK: Final = "case.details"

SECTION_LIMITS: Final = {"my": 15, "today": 10, "upcoming": 10, "queue": 15, "follow": 10}
"""Lines per list before "N more": together they stay well under Slack's 100 blocks."""


# ----------------------------------------------------------------------------- rendering


def waiting_text(waiting: timedelta, catalog: Catalog, locale: str) -> str:
    """ "45分", "3時間10分", "2日4時間": the precision a CO needs to pick the oldest."""
    minutes = int(waiting.total_seconds() // 60)
    if minutes < 1:
        return catalog.text("home.waiting.under_minute", locale)
    if minutes < 60:
        return catalog.text("home.waiting.minutes", locale, minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes == 0:
            return catalog.text("home.waiting.hours_only", locale, hours=hours)
        return catalog.text("home.waiting.hours", locale, hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    if hours == 0:
        return catalog.text("home.waiting.days_only", locale, days=days)
    return catalog.text("home.waiting.days", locale, days=days, hours=hours)


def _button(case_id: int, catalog: Catalog, locale: str) -> Block:
    return {
        "type": "button",
        "action_id": OPEN_CASE_ACTION,
        "text": {"type": "plain_text", "text": catalog.text("home.open", locale)},
        "value": str(case_id),
    }


def _line(text: str, case_id: int | None, catalog: Catalog, locale: str) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    if case_id is not None:
        block["accessory"] = _button(case_id, catalog, locale)
    return block


def _heading(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _note(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _business(name: str | None, catalog: Catalog, locale: str) -> str:
    return escape(name) if name else catalog.text("home.no_name", locale)


def _hhmm(moment: datetime) -> str:
    return to_jst(moment).strftime("%H:%M")


def _mdate(moment: date | datetime, catalog: Catalog, locale: str) -> str:
    """6月3日(水), the Japan day (one way of writing a day everywhere: core.i18n.dates)."""
    return catalog.render(jst_day(moment), locale)


def _section(
    title: str,
    empty: str,
    lines: Sequence[Block],
    limit: int,
    catalog: Catalog,
    locale: str,
    hidden_beyond: int = 0,
) -> list[Block]:
    """A heading, up to `limit` lines, and a "N more" note for what did not fit."""
    blocks: list[Block] = [{"type": "divider"}, _heading(title)]
    if not lines:
        blocks.append(_note(empty))
        return blocks
    blocks += lines[:limit]
    hidden = max(len(lines) - limit, 0) + hidden_beyond
    if hidden:
        blocks.append(_note(catalog.text("home.more", locale, count=hidden)))
    return blocks


def render_home(
    home: CoordinatorHome, catalog: Catalog, now: datetime, locale: str = "ja"
) -> Block:
    """The home tab view for one CO (type "home", at most 100 blocks)."""
    t = catalog.text
    local_now = to_jst(now)
    blocks: list[Block] = [
        _heading(t("home.title", locale, name=home.co_name)),
        _note(
            t(
                "home.updated",
                locale,
                hub=escape(home.hub_name),
                date=catalog.render(Text("common.date", value=local_now.date()), locale),
                time=local_now.strftime("%H:%M"),
            )
        ),
    ]
    blocks += _section(
        t("home.my_cases", locale, count=len(home.my_cases)),
        t("home.my_cases_empty", locale),
        [_case_line(line, catalog, locale) for line in home.my_cases],
        SECTION_LIMITS["my"],
        catalog,
        locale,
    )
    blocks += _section(
        t("home.today", locale, count=len(home.today_consultations)),
        t("home.today_empty", locale),
        [_consultation(line, catalog, locale, today=True) for line in home.today_consultations],
        SECTION_LIMITS["today"],
        catalog,
        locale,
    )
    blocks += _section(
        t("home.upcoming", locale, count=len(home.upcoming_consultations)),
        t("home.upcoming_empty", locale),
        [_consultation(line, catalog, locale, today=False) for line in home.upcoming_consultations],
        SECTION_LIMITS["upcoming"],
        catalog,
        locale,
    )
    blocks += _section(
        t("home.queue", locale, count=home.queue_total),
        t("home.queue_empty", locale),
        [_queue_line(line, catalog, locale) for line in home.queue],
        SECTION_LIMITS["queue"],
        catalog,
        locale,
        hidden_beyond=max(home.queue_total - len(home.queue), 0),
    )
    blocks += _section(
        t("home.follow_ups", locale, count=len(home.follow_ups)),
        t("home.follow_ups_empty", locale),
        [_follow_up(line, catalog, locale) for line in home.follow_ups],
        SECTION_LIMITS["follow"],
        catalog,
        locale,
    )
    blocks += [{"type": "divider"}, _heading(t("home.reviews", locale))]
    if home.reviews:
        texts = []
        for review in home.reviews:
            stars = "★" * review.stars + "☆" * (5 - review.stars)
            day = _mdate(review.at, catalog, locale)
            if review.comment:
                comment = escape(review.comment[:200])
                texts.append(t("home.review_line", locale, stars=stars, comment=comment, date=day))
            else:
                texts.append(t("home.review_no_comment", locale, stars=stars, date=day))
        blocks.append(_note("\n".join(texts)))
    else:
        blocks.append(_note(t("home.reviews_empty", locale)))
    return {"type": "home", "blocks": _fit(blocks, catalog, locale)}


def _fit(blocks: list[Block], catalog: Catalog, locale: str) -> list[Block]:
    """Never more than Slack's 100 blocks: cut the tail and say so."""
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    hidden = sum(1 for block in blocks[MAX_BLOCKS - 1 :] if "accessory" in block)
    return [*kept, _note(catalog.text("home.more", locale, count=hidden))]


def _case_line(line: CaseLine, catalog: Catalog, locale: str) -> Block:
    text = catalog.text(
        "home.case_line",
        locale,
        number=escape(line.number),
        business=_business(line.business, catalog, locale),
        status=catalog.text(f"home.status.{line.status.value}", locale),
        held=_held_for(line.waiting, catalog, locale),
    )
    return _line(text, line.case_id, catalog, locale)


def _held_for(held: timedelta, catalog: Catalog, locale: str) -> str:
    """担当して3時間; under a minute 担当したばかり, never 担当して0分."""
    if held < timedelta(minutes=1):
        return catalog.text("home.held_just_now", locale)
    return catalog.text("home.held_for", locale, waiting=waiting_text(held, catalog, locale))


def _queue_line(line: CaseLine, catalog: Catalog, locale: str) -> Block:
    text = catalog.text(
        "home.queue_line",
        locale,
        number=escape(line.number),
        business=_business(line.business, catalog, locale),
        waiting=waiting_text(line.waiting, catalog, locale),
    )
    return _line(text, line.case_id, catalog, locale)


def _consultation(line: ConsultationLine, catalog: Catalog, locale: str, *, today: bool) -> Block:
    mode_key = f"booking.mode_short.{line.mode}"
    mode = catalog.text(mode_key, locale) if catalog.has(mode_key) else line.mode
    params: dict[str, Any] = {
        "time": _hhmm(line.starts_at),
        "number": escape(line.number),
        "business": _business(line.business, catalog, locale),
        "mode": mode,
    }
    if today:
        text = catalog.text("home.consultation_line", locale, **params)
    else:
        text = catalog.text(
            "home.upcoming_line", locale, date=_mdate(line.starts_at, catalog, locale), **params
        )
    return _line(text, line.case_id, catalog, locale)


def _follow_up(line: FollowUpLine, catalog: Catalog, locale: str) -> Block:
    key = "home.follow_up_overdue" if line.overdue else "home.follow_up_line"
    text = catalog.text(
        key,
        locale,
        date=_mdate(line.due_on, catalog, locale),
        number=escape(line.number),
        business=_business(line.business, catalog, locale),
    )
    return _line(text, line.case_id, catalog, locale)


def render_message_home(text: str) -> Block:
    """A home that only explains (someone who is not a CO opened the tab)."""
    return {"type": "home", "blocks": [_line(escape(text), None, Catalog.load(), "ja")]}


def render_case_modal(details: CaseDetails | None, catalog: Catalog, locale: str = "ja") -> Block:
    """The read-only case modal a home button opens."""
    t = catalog.text
    view: Block = {
        "type": "modal",
        "callback_id": CASE_MODAL_CALLBACK,
        "title": {"type": "plain_text", "text": t("home.case.title", locale)[:24]},
        "close": {"type": "plain_text", "text": t("home.case.close", locale)[:24]},
    }
    if details is None:
        view["blocks"] = [_line(t("home.case.not_found", locale), None, catalog, locale)]
        return view
    none = t("home.case.none", locale)
    area_parts = []
    if details.prefecture_code and catalog.has(f"prefecture.{details.prefecture_code}"):
        area_parts.append(t(f"prefecture.{details.prefecture_code}", locale))
    if details.municipality:
        area_parts.append(details.municipality)
    industry = none
    if details.industry:
        key = f"industry.{details.industry}"
        industry = t(key, locale) if catalog.has(key) else details.industry
    topics = [
        t(f"topic.{topic}", locale) if catalog.has(f"topic.{topic}") else topic
        for topic in details.topics
    ]
    date_text = catalog.render(Text("common.date", value=details.created_at.date()), locale)
    rows: list[tuple[str, str]] = [
        ("home.case.number", details.number),
        ("home.case.status", t(f"home.status.{details.status.value}", locale)),
        ("home.case.business", details.business or t("home.no_name", locale)),
        ("home.case.area", " ".join(area_parts) or none),
        ("home.case.industry", industry),
        (
            "home.case.employees",
            t("home.case.employees_value", locale, count=details.employees)
            if details.employees is not None
            else none,
        ),
        ("home.case.topics", t("common.list_separator", locale).join(topics) or none),
        ("home.case.co", details.assigned_co or none),
        (
            "home.case.sit_in",
            t("common.yes" if details.sit_in_requested else "common.no", locale),
        ),
        ("home.case.created", f"{date_text} {details.created_at.strftime('%H:%M')}"),
        (
            "home.case.next_booking",
            (
                catalog.render(Text("common.date", value=details.next_booking.date()), locale)
                + " "
                + details.next_booking.strftime("%H:%M")
            )
            if details.next_booking is not None
            else none,
        ),
        (
            "home.case.consultations",
            t("home.case.consultations_value", locale, count=details.consultations),
        ),
    ]
    fields = [
        {"type": "mrkdwn", "text": f"*{escape(t(label, locale))}*\n{escape(value)}"[:2000]}
        for label, value in rows
    ]
    blocks: list[Block] = [
        {"type": "section", "fields": fields[start : start + 10]}
        for start in range(0, len(fields), 10)
    ]
    if details.description:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        f"*{escape(t('home.case.description', locale))}*\n"
                        f"{escape(details.description)}"
                    )[:3000],
                },
            }
        )
    if details.conversation:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _conversation_text(details, catalog, locale)[:3000],
                },
            }
        )
    view["blocks"] = blocks
    return view


def _conversation_text(details: CaseDetails, catalog: Catalog, locale: str) -> str:
    """The newest messages with the owner, one line each: who, when, what."""
    lines = [f"*{escape(catalog.text('chat.home.title', locale))}*"]
    for line in details.conversation:
        who = (
            catalog.text("chat.home.owner", locale)
            if line.from_owner
            else line.author or catalog.text("chat.home.co", locale)
        )
        if line.body is not None:
            what = line.body.replace("\n", " ")
            what = what if len(what) <= 120 else what[:119] + "…"
        elif line.content_type == "text":
            what = catalog.text("chat.home.erased", locale)
        else:
            key = f"chat.slack.kind.{line.content_type}"
            what = catalog.text(key if catalog.has(key) else "chat.slack.kind.unsupported", locale)
        refused = f" {catalog.text('chat.home.refused', locale)}" if line.refused else ""
        lines.append(f"{line.at.strftime('%m/%d %H:%M')} *{escape(who)}*: {escape(what)}{refused}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- publishing


async def build_home_view(
    session: AsyncSession, identity: StaffIdentity | None, catalog: Catalog, now: datetime
) -> Block:
    """The view for whoever opened the tab: a CO's home, or a polite explanation."""
    if identity is None:
        # Partner staff not registered yet may ask for access from here too.
        from bots.slack.access import request_blocks

        text = catalog.text("home.unregistered", "ja")
        return {"type": "home", "blocks": request_blocks(catalog, "ja", text)}
    if not identity.is_coordinator:
        return render_message_home(catalog.text("home.not_coordinator", identity.locale))
    home = await load_home(session, identity.id, now)
    if home is None:
        return render_message_home(catalog.text("home.unregistered", identity.locale))
    return render_home(home, catalog, now, identity.locale)


async def publish_home(
    deps: SlackDeps, team_id: str | None, user_id: str, *, client: Any | None = None
) -> bool:
    """Rebuild and publish one person's App Home now; False when Slack refused.

    Safe to call from any listener after its ack; never raises for a Slack error (the next
    open of the tab publishes again). `client` is the team's client under OAuth installs.
    """
    now = deps.clock.now()
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team_id, user_id)
        view = await build_home_view(session, identity, deps.catalog, now)
    try:
        await (client or deps.client).views_publish(user_id=user_id, view=view)
    except Exception:
        log.warning("views.publish failed for a home tab", exc_info=True)
        return False
    return True


async def queue_home_refresh(
    session: AsyncSession, *, co_id: int, now: datetime, catalog: Catalog | None = None
) -> bool:
    """From inside a durable work handler: publish the CO's home after the commit.

    Renders with the transaction's view of the data and adds a "slack_home" outbox row for
    the dispatcher; False when the CO has no Slack account.
    """
    catalog = catalog or Catalog.load()
    co = await session.get(Coordinator, co_id)
    if co is None or not co.slack_user_id:
        return False
    home = await load_home(session, co_id, now)
    if home is None:
        return False
    view = render_home(home, catalog, now)
    team = co.slack_team_id or DEFAULT_TEAM
    await add_raw(
        session,
        platform=Platform.SLACK,
        channel_id=team,
        recipient=co.slack_user_id,
        payload={"view": view},
        kind="slack_home",
        idempotency_key=f"slack_home:{co.id}:{now.isoformat()}",
        now=now,
        ordering_key=f"slack:home:{team}:{co.slack_user_id}",
    )
    return True


async def refresh_homes(session: AsyncSession, co_ids: Sequence[int], *, now: datetime) -> int:
    """Publish these COs' homes again (after an erasure: the old view lists the person's
    case with its description); answers how many were queued."""
    queued = 0
    for co_id in co_ids:
        queued += await queue_home_refresh(session, co_id=co_id, now=now)
    return queued


# ----------------------------------------------------------------------------- listeners


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """The home tab and its "open case" buttons."""

    @app.event("app_home_opened")
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        # Bolt acks events before this runs (process_before_response=False).
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        team_id = body.get("team_id") or deps.default_team_id
        await publish_home(deps, team_id, str(event["user"]), client=client)

    @app.action(OPEN_CASE_ACTION)
    async def on_open_case(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        try:
            await _open_case(deps, body, action, client)
        except Exception:
            # Already acknowledged: an error here must not turn into Slack's retry.
            log.exception("opening a case from the home failed")


async def _open_case(
    deps: SlackDeps, body: dict[str, Any], action: dict[str, Any], client: Any
) -> None:
    user_id = str((body.get("user") or {}).get("id") or "")
    team_id = (body.get("team") or {}).get("id") or body.get("team_id") or deps.default_team_id
    trigger_id = body.get("trigger_id")
    if not trigger_id:
        return
    try:
        case_id = int(action.get("value") or "")
    except ValueError:
        case_id = 0
    async with deps.session_factory() as session:
        identity = await resolve_slack_user(session, team_id, user_id)
        details = None
        if identity is not None and identity.is_coordinator and case_id:
            details = await load_case_details(
                session, case_id, viewer_hub_id=identity.hub_id, viewer_co_id=identity.id
            )
    locale = identity.locale if identity is not None else "ja"
    view = render_case_modal(details, deps.catalog, locale)
    await client.views_open(trigger_id=trigger_id, view=view)
