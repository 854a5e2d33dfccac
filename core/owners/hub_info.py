"""拠点のご案内: the hub's real information for an owner, from what its CCO entered.

One answer: a card with the hub's name, address, phone, today's hours (or 本日は休業日),
the week's hours, how to get there and the next free consultation slot, with a call button
(tel:), a web page button and a button to book; then a map pin (LINE location message) when
the hub's position is known. Every row and button appears only when its value is set: a
hub whose CCO has entered nothing gets its name, today's closed-day status when the calendar
knows it, the next slot, and a sentence saying more will follow, never an invented address.

The owner of the national account is told about the hub of their latest case; before they
have one there is no hub to describe yet, and they are told how it is chosen.
"""

from __future__ import annotations

from sqlalchemy import select

from core import hub_profile
from core.booking.repository import upcoming_for_case
from core.booking.slots import Slot
from core.clock import to_jst
from core.db.models import Case, Hub, HubProfile
from core.hub_calendar import hub_calendar
from core.i18n import Text
from core.messages import Action, Card, Link, Location, OutgoingMessage
from core.owners import booking, postbacks
from core.owners.context import OwnerContext
from core.text import format_phone

TextRow = tuple[Text, Text]


async def answer(ctx: OwnerContext) -> None:
    hub_id = ctx.channel.hub_id or await _latest_case_hub(ctx)
    hub = await ctx.session.get(Hub, hub_id) if hub_id is not None else None
    if hub is None:
        ctx.say(
            OutgoingMessage(
                texts=(Text("hub_info.national"),),
                choices=(Action(Text("hub_info.book"), postbacks.encode(postbacks.MENU_BOOK)),),
            )
        )
        return
    profile = await ctx.session.get(HubProfile, hub.id)
    rows, links = _profile_rows(profile)
    today = to_jst(ctx.now).date()
    calendar = await hub_calendar(ctx.session, hub.id, today=today)
    hours = hub_profile.hours_from_json(profile.opening_hours if profile else None)
    status = hub_profile.today_status(hours, today, calendar.closed_days)
    if status.kind is hub_profile.TodayKind.OPEN:
        shown = hub_profile.display_ranges(status.ranges)
        rows.append((Text("hub_info.row.today"), Text("hub_info.open_today", hours=shown)))
    elif status.kind is hub_profile.TodayKind.CLOSED:
        rows.append((Text("hub_info.row.today"), Text("hub_info.closed_today")))
    week = _week(hours)
    if week is not None:
        rows.append((Text("hub_info.row.hours"), week))
    if profile is not None and profile.access:
        rows.append((Text("hub_info.row.access"), _verbatim(profile.access)))
    slot_row, book = await _next_slot(ctx, hub)
    rows.append(slot_row)
    name = _hub_name(hub, profile, ctx)
    texts: tuple[Text, ...] = ()
    if profile is None or not _has_contact(profile):
        texts = (Text("hub_info.not_yet", hub=name),)
    ctx.say(
        OutgoingMessage(
            texts=texts,
            card=Card(
                title=name,
                rows=tuple(rows),
                actions=(book,),
                links=tuple(links),
                alt_text=Text("hub_info.alt", hub=name),
            ),
            location=_location(profile, name),
        )
    )


async def _latest_case_hub(ctx: OwnerContext) -> int | None:
    found: int | None = await ctx.session.scalar(
        select(Case.hub_id)
        .where(Case.person_id == ctx.owner.person.id)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return found


def _hub_name(hub: Hub, profile: HubProfile | None, ctx: OwnerContext) -> Text:
    if profile is not None and profile.official_name:
        return _verbatim(profile.official_name)
    if ctx.channel.hub_id == hub.id:
        return ctx.channel.hub_name
    return Text("hub.name", prefecture=Text(f"prefecture.{hub.prefecture_code or hub.code}"))


def _verbatim(value: str) -> Text:
    return Text("common.verbatim", value=value)


def _has_contact(profile: HubProfile) -> bool:
    return bool(profile.address or profile.phone or profile.website_url)


def _profile_rows(profile: HubProfile | None) -> tuple[list[TextRow], list[Link]]:
    rows: list[TextRow] = []
    links: list[Link] = []
    if profile is None:
        return rows, links
    if profile.address or profile.postal_code:
        address = " ".join(
            part
            for part in (
                f"〒{profile.postal_code}" if profile.postal_code else "",
                profile.address or "",
            )
            if part
        )
        rows.append((Text("hub_info.row.address"), _verbatim(address)))
    if profile.phone:
        shown = format_phone(profile.phone)
        rows.append((Text("hub_info.row.phone"), _verbatim(shown)))
        links.append(Link(Text("hub_info.call", phone=shown), hub_profile.phone_uri(profile.phone)))
    if profile.website_url:
        links.append(Link(Text("hub_info.website"), profile.website_url))
    return rows, links


def _week(hours: dict[int, hub_profile.Ranges]) -> Text | None:
    groups = hub_profile.weekly_groups(hours)
    if not groups:
        return None
    lines = []
    for days, ranges in groups:
        first, last = Text(f"booking.weekday.{days[0]}"), Text(f"booking.weekday.{days[-1]}")
        label = (
            Text("hub_info.days_one", day=first)
            if len(days) == 1
            else Text("hub_info.days_run", first=first, last=last)
        )
        shown = (
            _verbatim(hub_profile.display_ranges(ranges))
            if ranges
            else Text("hub_info.closed_weekday")
        )
        lines.append(Text("hub_info.week_line", days=label, hours=shown))
    week = lines[-1]
    for line in reversed(lines[:-1]):
        week = Text("hub_info.lines", first=line, rest=week)
    return week


async def _next_slot(ctx: OwnerContext, hub: Hub) -> tuple[TextRow, Action]:
    """The next free slot and the button for it.

    An owner with a case that can be booked gets the exact slot (the booking flow's own
    postback, re-checked when tapped); one with an upcoming booking is pointed to it; anyone
    else starts with the intake, which ends by offering the slots.
    """
    case = await booking.bookable_case(ctx)
    if case is not None and case.hub_id == hub.id:
        existing = await upcoming_for_case(ctx.session, case.id, ctx.now)
        if existing is not None:
            when = booking.when_text(existing.starts_at, existing.ends_at)
            return (
                (Text("hub_info.row.booked"), when),
                Action(Text("hub_info.see_booking"), postbacks.encode(postbacks.MENU_BOOKINGS)),
            )
        slot = await booking.next_free_slot(ctx.session, hub.id, ctx.now, case)
        if slot is not None:
            return (
                (Text("hub_info.row.next_slot"), _slot_text(slot)),
                Action(Text("hub_info.book_slot"), booking.pick_postback(case, slot)),
            )
    else:
        slot = await booking.next_free_slot(ctx.session, hub.id, ctx.now)
        if slot is not None:
            return (
                (Text("hub_info.row.next_slot"), _slot_text(slot)),
                Action(Text("hub_info.book"), postbacks.encode(postbacks.MENU_BOOK)),
            )
    return (
        (Text("hub_info.row.next_slot"), Text("hub_info.no_slot", days=booking.SEARCH_DAYS)),
        Action(Text("hub_info.book"), postbacks.encode(postbacks.MENU_BOOK)),
    )


def _slot_text(slot: Slot) -> Text:
    return Text(
        "hub_info.slot",
        when=booking.when_text(slot.starts_at, slot.ends_at),
        mode=Text(f"booking.mode_short.{slot.mode.value}"),
    )


def _location(profile: HubProfile | None, name: Text) -> Location | None:
    if profile is None or profile.latitude is None or profile.longitude is None:
        return None
    return Location(
        title=name,
        address=(
            _verbatim(profile.address) if profile.address else Text("hub_info.map_no_address")
        ),
        latitude=profile.latitude,
        longitude=profile.longitude,
    )
