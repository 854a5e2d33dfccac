"""A hub's settings as its CCO (or HQ) changes them: checked, applied, and audited old → new.

The fields are the ones the rest of the product already reads: the queue channel and the
CCO channel in Slack (core.notify), the owners' push window, business hours (what escalation
counts), escalation thresholds (to the CCO, then to HQ), follow-up months, survey timing,
closed days, and the hub's own LINE account (budget, plan and its secrets). The optional
ones left blank keep the product's default, which the form's hint names. A form arrives as
the strings the person typed; `read_settings` turns them into values or field errors without
touching anything, so a page with one wrong field shows it next to the field and keeps
everything else as typed.

The hub's public information (拠点のご案内: official name, address, map position, phone, web
page, opening hours per weekday, access) is part of the same form and the same audit row;
core.hub_profile checks each value, and a field left blank stays unknown (never guessed).

Secrets (the LINE channel secret and access token) are write-only: a blank field keeps the
stored one, and the audit row says only that it changed, never the value.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import hub_profile
from core.console import sheets
from core.db.models import AuditLog, Hub, HubClosedDay, HubProfile, LineChannel
from core.domain.enums import ActorKind
from core.i18n import Text
from core.text.normalize import format_phone, normalize_text

SECRET_FIELDS: Final = frozenset({"line_secret", "line_access_token"})
_CHANNEL = re.compile(r"^[CG][A-Z0-9]{6,}$")
_LINE_CHANNEL_ID = re.compile(r"^\d{6,20}$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
PROFILE_TEXT_FIELDS: Final = {"info_name": 100, "info_address": 200}
HOURS_FIELDS: Final = tuple(f"info_hours_{day}" for day in hub_profile.WEEKDAYS)
MAX_ACCESS: Final = 1000


SettingsForm = sheets.FieldForm


async def current_settings(session: AsyncSession, hub: Hub) -> dict[str, str]:
    """The form's initial values, as text; secrets are never put back into a page."""
    channel = await _hub_channel(session, hub)
    closed = (
        await session.scalars(
            select(HubClosedDay.day).where(HubClosedDay.hub_id == hub.id).order_by(HubClosedDay.day)
        )
    ).all()
    return {
        "slack_intake_channel_id": hub.slack_intake_channel_id or "",
        "slack_cco_channel_id": hub.slack_cco_channel_id or "",
        "business_opens": _typed_time(hub.business_day_start),
        "business_closes": _typed_time(hub.business_day_end),
        "escalation_hq_hours": str(hub.escalation_hq_hours or ""),
        "survey_send_at": _typed_time(hub.survey_send_at),
        "push_opens": hub.quiet_end.strftime("%H:%M"),
        "push_closes": hub.quiet_start.strftime("%H:%M"),
        "escalation_hours": str(hub.escalation_hours),
        "followup_months": ", ".join(str(month) for month in hub.followup_months),
        "closed_days": "\n".join(day.isoformat() for day in closed),
        "line_channel_id": channel.channel_id if channel else "",
        "line_name": channel.name if channel else "",
        "line_monthly_push_budget": (
            str(channel.monthly_push_budget)
            if channel and channel.monthly_push_budget is not None
            else ""
        ),
        "line_plan": (channel.plan or "") if channel else "",
        "line_secret": "",
        "line_access_token": "",
        "line_secret_set": "yes" if channel and channel.secret else "",
        **await current_profile(session, hub),
    }


async def current_profile(session: AsyncSession, hub: Hub) -> dict[str, str]:
    profile = await session.get(HubProfile, hub.id)
    hours = hub_profile.hours_from_json(profile.opening_hours if profile else None)
    fields = {
        "info_name": (profile.official_name if profile else None) or "",
        "info_postal_code": (profile.postal_code if profile else None) or "",
        "info_address": (profile.address if profile else None) or "",
        "info_latitude": _coordinate(profile.latitude if profile else None),
        "info_longitude": _coordinate(profile.longitude if profile else None),
        "info_phone": format_phone(profile.phone) if profile and profile.phone else "",
        "info_website": (profile.website_url if profile else None) or "",
        "info_access": (profile.access if profile else None) or "",
    }
    for day, name in zip(hub_profile.WEEKDAYS, HOURS_FIELDS, strict=True):
        fields[name] = hub_profile.typed_hours(hours.get(day))
    return fields


def _typed_time(value: time | None) -> str:
    return value.strftime("%H:%M") if value is not None else ""


def _coordinate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")


def read_profile(typed: dict[str, str], form: SettingsForm | None = None) -> SettingsForm:
    """The 拠点のご案内 fields: each checked on its own, so one mistake marks one field."""
    form = form if form is not None else SettingsForm(typed=dict(typed))
    for name, limit in PROFILE_TEXT_FIELDS.items():
        value = normalize_text(typed.get(name, ""))
        if len(value) > limit:
            form.errors[name] = Text("hub_info.console.error.too_long", limit=limit)
        form.values[name] = value or None
    checks = {
        "info_postal_code": hub_profile.parse_postal_code,
        "info_phone": hub_profile.parse_phone,
        "info_website": hub_profile.parse_url,
    }
    for name, check in checks.items():
        try:
            form.values[name] = check(typed.get(name, ""))
        except hub_profile.Problem as problem:
            form.errors[name] = Text(f"hub_info.console.error.{problem.kind.value}")
    try:
        lat, lon = hub_profile.parse_coordinates(
            typed.get("info_latitude", ""), typed.get("info_longitude", "")
        )
        form.values["info_latitude"], form.values["info_longitude"] = lat, lon
    except hub_profile.Problem as problem:
        field = "info_longitude" if problem.kind.value == "longitude" else "info_latitude"
        form.errors[field] = Text(f"hub_info.console.error.{problem.kind.value}")
    hours: dict[int, hub_profile.Ranges] = {}
    for day, name in zip(hub_profile.WEEKDAYS, HOURS_FIELDS, strict=True):
        try:
            ranges = hub_profile.parse_hours(typed.get(name, ""))
        except hub_profile.Problem:
            form.errors[name] = Text("hub_info.console.error.hours")
            continue
        if ranges is not None:
            hours[day] = ranges
    form.values["info_hours"] = hours
    lines = [normalize_text(line) for line in typed.get("info_access", "").splitlines()]
    access = "\n".join(line for line in lines if line)
    if len(access) > MAX_ACCESS:
        form.errors["info_access"] = Text("hub_info.console.error.too_long", limit=MAX_ACCESS)
    form.values["info_access"] = access or None
    return form


async def apply_profile(
    session: AsyncSession, hub: Hub, values: dict[str, Any], now: datetime
) -> None:
    """Store checked 拠点のご案内 values (the caller audits; no row is made for nothing)."""
    profile = await session.get(HubProfile, hub.id)
    wanted = {
        "official_name": values["info_name"],
        "postal_code": values["info_postal_code"],
        "address": values["info_address"],
        "latitude": values["info_latitude"],
        "longitude": values["info_longitude"],
        "phone": values["info_phone"],
        "website_url": values["info_website"],
        "opening_hours": hub_profile.hours_to_json(values["info_hours"]),
        "access": values["info_access"],
    }
    if profile is None:
        if not any(wanted.values()):
            return
        profile = HubProfile(hub_id=hub.id)
        session.add(profile)
    changed = False
    for name, value in wanted.items():
        if getattr(profile, name) != value:
            setattr(profile, name, value)
            changed = True
    if changed:
        profile.updated_at = now


def read_settings(typed: dict[str, str]) -> SettingsForm:
    form = SettingsForm(typed=dict(typed))
    text = {key: normalize_text(value) for key, value in typed.items()}

    channel = text.get("slack_intake_channel_id", "").upper()
    if channel and not _CHANNEL.match(channel):
        form.errors["slack_intake_channel_id"] = Text("console.settings.error.channel")
    form.values["slack_intake_channel_id"] = channel or None

    cco_channel = text.get("slack_cco_channel_id", "").upper()
    if cco_channel and not _CHANNEL.match(cco_channel):
        form.errors["slack_cco_channel_id"] = Text("console.settings.error.channel")
    form.values["slack_cco_channel_id"] = cco_channel or None

    _optional_times(form, text, "business_opens", "business_closes")
    survey = text.get("survey_send_at", "")
    form.values["survey_send_at"] = _time(survey) if survey else None
    if survey and form.values["survey_send_at"] is None:
        form.errors["survey_send_at"] = Text("console.settings.error.time")
    hq_hours = text.get("escalation_hq_hours", "")
    if hq_hours and (not hq_hours.isdigit() or not 1 <= int(hq_hours) <= 240):
        form.errors["escalation_hq_hours"] = Text("console.settings.error.escalation")
    form.values["escalation_hq_hours"] = int(hq_hours) if hq_hours.isdigit() else None

    opens, closes = _time(text.get("push_opens", "")), _time(text.get("push_closes", ""))
    if opens is None:
        form.errors["push_opens"] = Text("console.settings.error.time")
    if closes is None:
        form.errors["push_closes"] = Text("console.settings.error.time")
    if opens is not None and closes is not None:
        if opens >= closes:
            form.errors["push_closes"] = Text("console.settings.error.window")
        form.values["quiet_end"], form.values["quiet_start"] = opens, closes

    hours = text.get("escalation_hours", "")
    if not hours.isdigit() or not 1 <= int(hours) <= 240:
        form.errors["escalation_hours"] = Text("console.settings.error.escalation")
    else:
        form.values["escalation_hours"] = int(hours)

    months = [item.strip() for item in re.split(r"[,、\s]+", text.get("followup_months", ""))]
    months = [item for item in months if item]
    if not months or not all(m.isdigit() and 1 <= int(m) <= 120 for m in months):
        form.errors["followup_months"] = Text("console.settings.error.months")
    else:
        form.values["followup_months"] = sorted({int(m) for m in months})

    days: set[date] = set()
    for item in re.split(r"[\s,、]+", text.get("closed_days", "")):
        if not item:
            continue
        try:
            days.add(date.fromisoformat(item.replace("/", "-")))
        except ValueError:
            form.errors["closed_days"] = Text("console.settings.error.day", value=item)
    form.values["closed_days"] = sorted(days)

    line_id = text.get("line_channel_id", "")
    form.values["line_channel_id"] = line_id or None
    if line_id and not _LINE_CHANNEL_ID.match(line_id):
        form.errors["line_channel_id"] = Text("console.settings.error.line_channel")
    form.values["line_name"] = text.get("line_name", "") or None
    budget = text.get("line_monthly_push_budget", "")
    if budget and not budget.isdigit():
        form.errors["line_monthly_push_budget"] = Text("console.settings.error.budget")
    form.values["line_monthly_push_budget"] = int(budget) if budget.isdigit() else None
    form.values["line_plan"] = text.get("line_plan", "") or None
    for secret in SECRET_FIELDS:
        # Secrets are taken as typed (no normalising), blank meaning "keep the stored one".
        form.values[secret] = typed.get(secret, "").strip() or None
    if not line_id and any(form.values[name] for name in ("line_secret", "line_access_token")):
        form.errors["line_channel_id"] = Text("console.settings.error.line_channel_needed")
    read_profile(typed, form)
    return form


def _optional_times(form: SettingsForm, text: dict[str, str], first: str, last: str) -> None:
    """Business hours: both blank (the default, 09:00-17:00) or both times, start first."""
    typed = text.get(first, ""), text.get(last, "")
    form.values[first] = form.values[last] = None
    if not any(typed):
        return
    opens, closes = _time(typed[0]), _time(typed[1])
    for name, value in ((first, opens), (last, closes)):
        if value is None:
            form.errors[name] = Text("console.settings.error.time")
    if opens is not None and closes is not None:
        if opens >= closes:
            form.errors[last] = Text("console.settings.error.window")
        form.values[first], form.values[last] = opens, closes


def _time(value: str) -> time | None:
    match = _TIME.match(value)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


async def _hub_channel(session: AsyncSession, hub: Hub) -> LineChannel | None:
    found: LineChannel | None = await session.scalar(
        select(LineChannel).where(LineChannel.hub_id == hub.id).order_by(LineChannel.id).limit(1)
    )
    return found


async def apply_settings(
    session: AsyncSession,
    hub: Hub,
    form: SettingsForm,
    *,
    actor_id: int | None,
    now: datetime,
) -> dict[str, list[Any]]:
    """Apply a checked form; the changes as {field: [old, new]} (secrets: "changed")."""
    if not form.ok:
        raise ValueError("apply_settings needs a form without errors")
    before = await current_settings(session, hub)
    values = form.values
    hub.slack_intake_channel_id = values["slack_intake_channel_id"]
    hub.slack_cco_channel_id = values["slack_cco_channel_id"]
    hub.business_day_start = values["business_opens"]
    hub.business_day_end = values["business_closes"]
    hub.escalation_hq_hours = values["escalation_hq_hours"]
    hub.survey_send_at = values["survey_send_at"]
    hub.quiet_start, hub.quiet_end = values["quiet_start"], values["quiet_end"]
    hub.escalation_hours = values["escalation_hours"]
    hub.followup_months = values["followup_months"]

    await session.execute(
        delete(HubClosedDay).where(
            HubClosedDay.hub_id == hub.id, HubClosedDay.day.not_in(values["closed_days"])
        )
    )
    known = set(
        (await session.scalars(select(HubClosedDay.day).where(HubClosedDay.hub_id == hub.id))).all()
    )
    session.add_all(
        HubClosedDay(hub_id=hub.id, day=day) for day in values["closed_days"] if day not in known
    )

    secrets_changed: list[str] = []
    channel = await _hub_channel(session, hub)
    if values["line_channel_id"]:
        if channel is None:
            channel = LineChannel(hub_id=hub.id, channel_id=values["line_channel_id"], name="")
            session.add(channel)
        channel.channel_id = values["line_channel_id"]
        channel.name = values["line_name"] or hub.name_ja
        channel.monthly_push_budget = values["line_monthly_push_budget"]
        channel.plan = values["line_plan"]
        if values["line_secret"] and values["line_secret"] != channel.secret:
            channel.secret = values["line_secret"]
            secrets_changed.append("line_secret")
        if values["line_access_token"] and values["line_access_token"] != channel.access_token:
            channel.access_token = values["line_access_token"]
            secrets_changed.append("line_access_token")
    await apply_profile(session, hub, values, now)
    await session.flush()

    after = await current_settings(session, hub)
    changes: dict[str, list[Any]] = {
        key: [before[key], after[key]]
        for key in after
        if key not in SECRET_FIELDS and key != "line_secret_set" and before[key] != after[key]
    }
    for name in secrets_changed:
        changes[name] = ["changed"]
    if changes:
        session.add(
            AuditLog(
                at=now,
                actor_kind=ActorKind.COORDINATOR if actor_id else ActorKind.SYSTEM,
                actor_id=actor_id,
                action="hub.settings_changed",
                hub_id=hub.id,
                details={"changes": changes},
            )
        )
    return changes
