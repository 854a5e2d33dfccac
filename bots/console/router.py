"""The operations console's web pages (/console): server-rendered, forms that work without JS.

A browser is one more channel into the core: this module turns requests into calls of
core.console and renders what comes back with the message catalog, Japanese first. Every
route asks `core.console.access.authorize` before it reads anything, naming the hub or
organisation it is about; nothing here or in the templates decides access on its own.

Sign-in is Sign in with Slack (OpenID Connect) through authlib: it fetches Slack's discovery
document, checks the ID token's signature, issuer, audience and nonce, and keeps its state in
the session. The session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure in
production, eight hours); it holds only the Slack ids and a CSRF token, and who the person
is (role, hub, still active) is read from the database on every request.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.slack.home import refresh_homes
from core import access_requests, dashboard, exports, figure_months, hub_lists
from core.clock import Clock, fiscal_year, to_jst
from core.console import (
    budgets,
    co_import,
    co_profile,
    hub_settings,
    organisation_import,
    person_forms,
    reviews,
    staff_import,
)
from core.console.access import ConsoleRole, Decision, Permission, Principal, authorize
from core.console.deactivate import set_active, set_staff_active
from core.console.people import principal_for
from core.console.slack_users import SlackUserDirectory, UncheckedDirectory
from core.db.models import (
    AccessRequest,
    AuditLog,
    Case,
    ConsultationRecord,
    Coordinator,
    Hub,
    PartnerOrganisation,
    PartnerStaff,
    Person,
)
from core.db.session import unit_of_work
from core.domain.enums import ActorKind, HubKind
from core.domain.organisations import OrganisationKind
from core.domain.topics import Specialty
from core.figures import EMPTY as EMPTY_FIGURES
from core.figures import HubFigures, sum_figures
from core.i18n import Catalog, Text
from core.privacy import requests as privacy
from core.privacy.export import render_html
from core.privacy.find import BadQuery, Query
from core.privacy.slack import SlackErasure
from core.queues.sql import SqlAlchemyHubQueue
from core.surveys.aggregate import (
    Satisfaction,
    co_reviews,
    satisfaction_by_co,
    satisfaction_by_hub,
)

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
USER_CLAIM = "https://slack.com/user_id"
TEAM_CLAIM = "https://slack.com/team_id"
AUDIT_PAGE = 100


@dataclass
class ConsoleDeps:
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    catalog: Catalog
    slack: Any | None
    """authlib's registered Slack client, or None when no Slack app is configured."""
    directory: SlackUserDirectory = field(default_factory=UncheckedDirectory)
    """Slack's users.info, asked about every Slack id typed in (core.console.slack_users)."""
    slack_erasure: SlackErasure = SlackErasure.UPDATE
    """What an erasure does to the Slack messages about the person (SLACK_ERASURE)."""


DepsOf = Callable[[Request], ConsoleDeps]


@dataclass(frozen=True)
class SheetPage:
    """What differs between the console's CSV import pages."""

    title: str
    intro: str
    written: str
    action: str
    back: str


def _co_sheet(code: str) -> SheetPage:
    return SheetPage(
        "console.import_cos",
        "console.import.intro",
        "console.import.written",
        f"/console/hubs/{code}/coordinators/import",
        f"/console/hubs/{code}",
    )


ORGANISATIONS_SHEET = SheetPage(
    "console.import.import_organisations",
    "console.import.organisations_intro",
    "console.import.organisations_written",
    "/console/organisations/import",
    "/console/organisations",
)


def _staff_sheet(organisation_id: int) -> SheetPage:
    return SheetPage(
        "console.import.import_staff",
        "console.import.staff_intro",
        "console.import.staff_written",
        f"/console/organisations/{organisation_id}/staff/import",
        f"/console/organisations/{organisation_id}",
    )


class Denied(Exception):
    def __init__(self, decision: Decision) -> None:
        self.decision = decision


def console_router(deps_of: DepsOf) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)

    # -- rendering ---------------------------------------------------------------------------

    def render(
        request: Request,
        template: str,
        principal: Principal | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        deps = deps_of(request)
        locale = _locale(request, principal)

        def t(key: str, **params: Any) -> str:
            return deps.catalog.text(key, locale, **params)

        def tx(text: Text) -> str:
            return deps.catalog.render(text, locale)

        return TEMPLATES.TemplateResponse(
            request,
            template,
            {
                "t": t,
                "tx": tx,
                "locale": locale,
                "me": principal,
                "csrf": _csrf_token(request),
                "jst": _jst,
                **context,
            },
            status_code=status_code,
        )

    def deny(request: Request, principal: Principal | None, decision: Decision) -> Response:
        if decision is Decision.SIGN_IN:
            request.session["next"] = request.url.path
            return RedirectResponse("/console/login", status_code=303)
        return render(request, "message.html", principal, 403, message="console.forbidden")

    async def signed_in(request: Request, session: AsyncSession) -> Principal | None:
        who = request.session.get("who")
        if not isinstance(who, dict):
            return None
        return await principal_for(session, str(who.get("team", "")), str(who.get("user", "")))

    async def guarded(
        request: Request,
        permission: Permission,
        page: Callable[[AsyncSession, Principal], Awaitable[Response]],
        *,
        hub_code: str | None = None,
        organisation_id: int | None = None,
        coordinator_id: int | None = None,
    ) -> Response:
        """Look up the principal and the target, authorize, then serve `page`."""
        deps = deps_of(request)
        async with unit_of_work(deps.session_factory) as session:
            principal = await signed_in(request, session)
            hub_id = None
            org_hubs: frozenset[int] = frozenset()
            if hub_code is not None:
                hub = await session.scalar(select(Hub).where(Hub.code == hub_code))
                if hub is None:
                    if principal is None:
                        return deny(request, None, Decision.SIGN_IN)
                    return render(
                        request, "message.html", principal, 404, message="console.not_found"
                    )
                hub_id = hub.id
            if organisation_id is not None:
                organisation = await session.get(PartnerOrganisation, organisation_id)
                if organisation is None:
                    if principal is None:
                        return deny(request, None, Decision.SIGN_IN)
                    return render(
                        request, "message.html", principal, 404, message="console.not_found"
                    )
                org_hubs = await _hubs_of(session, organisation)
            decision = authorize(
                principal,
                permission,
                hub_id=hub_id,
                organisation_id=organisation_id,
                organisation_hub_ids=org_hubs,
                coordinator_id=coordinator_id,
            )
            if decision is not Decision.ALLOW or principal is None:
                return deny(request, principal, decision)
            return await page(session, principal)

    def csrf_ok(request: Request, form: Any) -> bool:
        expected = request.session.get("csrf")
        given = form.get("csrf")
        return (
            isinstance(expected, str)
            and isinstance(given, str)
            and secrets.compare_digest(expected, given)
        )

    async def upload_of(
        request: Request, form: Any, principal: Principal, sheet: SheetPage
    ) -> tuple[bytes, str, Response | None]:
        """The sheet sent (a file, or the text fixed in the page), or the page refusing it."""
        upload = form.get("file")
        data = b""
        if upload is not None and not isinstance(upload, str):
            data = await upload.read(co_import.MAX_BYTES + 1)
        if not data:
            data = str(form.get("csv_text", "")).encode("utf-8")
        csv_text = co_import.decoded(data) or ""
        if len(data) > co_import.MAX_BYTES:
            csv_text = ""
        refusal = None
        if not csrf_ok(request, form):
            refusal = "console.csrf"
        elif not data.strip():
            refusal = "console.import.no_file"
        if refusal is None:
            return data, csv_text, None
        page = render(
            request,
            "import.html",
            principal,
            400,
            sheet=sheet,
            report=None,
            csv_text=csv_text,
            error=refusal,
        )
        return data, csv_text, page

    async def sheet_post(
        request: Request,
        permission: Permission,
        sheet: SheetPage,
        run: Callable[[AsyncSession, Principal, bytes, bool], Awaitable[Any]],
        **target: Any,
    ) -> Response:
        """A CSV import posted: check it (mode=check) or write it all (mode=apply)."""
        form = await request.form(max_part_size=co_import.MAX_BYTES * 2)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            data, csv_text, refused = await upload_of(request, form, principal, sheet)
            if refused is not None:
                return refused
            report = await run(session, principal, data, form.get("mode") == "apply")
            return render(
                request,
                "import.html",
                principal,
                200 if report.ok else 422,
                sheet=sheet,
                report=report,
                csv_text=csv_text,
            )

        try:
            return await guarded(request, permission, page, **target)
        finally:
            await form.close()

    # -- signing in and out ------------------------------------------------------------------

    @router.get("", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        deps = deps_of(request)
        async with deps.session_factory() as session:
            principal = await signed_in(request, session)
            if principal is None:
                return render(request, "sign_in.html", None, available=deps.slack is not None)
            if principal.role is ConsoleRole.HQ:
                hubs = (await session.scalars(select(Hub).order_by(Hub.code))).all()
                return render(request, "hubs.html", principal, hubs=hubs)
            if principal.role is ConsoleRole.PARTNER_ADMIN:
                return RedirectResponse(
                    f"/console/organisations/{principal.organisation_id}", status_code=303
                )
            hub = await session.get(Hub, principal.hub_id)
            assert hub is not None
            return RedirectResponse(f"/console/hubs/{hub.code}", status_code=303)

    @router.get("/login")
    async def login(request: Request) -> Response:
        deps = deps_of(request)
        if deps.slack is None:
            return render(request, "sign_in.html", None, 503, available=False)
        redirect_uri = str(request.url_for("console_callback"))
        response: Response = await deps.slack.authorize_redirect(request, redirect_uri)
        return response

    @router.get("/auth/callback", name="console_callback")
    async def callback(request: Request) -> Response:
        deps = deps_of(request)
        if deps.slack is None:
            return render(request, "sign_in.html", None, 503, available=False)
        from authlib.integrations.base_client import OAuthError

        try:
            token = await deps.slack.authorize_access_token(request)
            claims = dict(token.get("userinfo") or {})
            info = await deps.slack.userinfo(token=token)
            claims.update(info)
        except (OAuthError, KeyError, ValueError):
            return render(request, "message.html", None, 400, message="console.sign_in_failed")
        user, team = str(claims.get(USER_CLAIM, "")), str(claims.get(TEAM_CLAIM, ""))
        async with deps.session_factory() as session:
            principal = await principal_for(session, team, user) if user else None
        if principal is None:
            return render(request, "message.html", None, 403, message="console.not_registered")
        target = request.session.pop("next", None)
        request.session.clear()
        request.session["who"] = {"user": user, "team": team}
        request.session["csrf"] = secrets.token_urlsafe(24)
        if not isinstance(target, str) or not target.startswith("/console"):
            target = "/console"
        return RedirectResponse(target, status_code=303)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        form = await request.form()
        if csrf_ok(request, form):
            request.session.clear()
        return RedirectResponse("/console", status_code=303)

    # -- a hub -------------------------------------------------------------------------------

    @router.get("/hubs/{code}", response_class=HTMLResponse)
    async def hub_page(request: Request, code: str) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            cos = (
                await session.scalars(
                    select(Coordinator)
                    .where(Coordinator.hub_id == hub.id)  # type: ignore[union-attr]
                    .order_by(Coordinator.active.desc(), Coordinator.name_kana, Coordinator.id)
                )
            ).all()
            manage = authorize(principal, Permission.MANAGE_HUB, hub_id=hub.id)  # type: ignore[union-attr]
            waiting = (
                len(await access_requests.pending_for_hub(session, hub.id))  # type: ignore[union-attr]
                if manage is Decision.ALLOW
                else 0
            )
            return render(
                request,
                "hub.html",
                principal,
                hub=hub,
                coordinators=cos,
                can_manage=manage is Decision.ALLOW,
                access_waiting=waiting,
                flash=request.session.pop("flash", None),
            )

        return await guarded(request, Permission.VIEW_HUB, page, hub_code=code)

    @router.get("/hubs/{code}/coordinators/import", response_class=HTMLResponse)
    async def import_form(request: Request, code: str) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            return render(
                request,
                "import.html",
                principal,
                sheet=_co_sheet(code),
                hub=hub,
                report=None,
                csv_text="",
            )

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    @router.post("/hubs/{code}/coordinators/import", response_class=HTMLResponse)
    async def import_post(request: Request, code: str) -> Response:
        deps = deps_of(request)

        async def run(session: AsyncSession, principal: Principal, data: bytes, apply: bool) -> Any:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            report = co_import.read_sheet(data, deps.catalog)
            team = request.session.get("who", {}).get("team")
            if apply and report.ok:
                return await co_import.apply_import(
                    session,
                    report,
                    hub_id=hub.id,
                    team_id=team,
                    actor_id=principal.coordinator_id,
                    now=deps.clock.now(),
                    directory=deps.directory,
                )
            await co_import.check_against_hub(
                session, report, hub_id=hub.id, team_id=team, directory=deps.directory
            )
            return report

        return await sheet_post(request, Permission.MANAGE_HUB, _co_sheet(code), run, hub_code=code)

    # -- one CO at a time ---------------------------------------------------------------------

    async def form_of(request: Request) -> tuple[dict[str, Any], bool]:
        """A posted form's fields as typed (lists for the checkboxes) and its CSRF verdict."""
        async with request.form() as raw:
            typed: dict[str, Any] = {
                key: str(value) for key, value in raw.items() if isinstance(value, str)
            }
            typed.pop("csrf", None)
            typed["specialties"] = [str(v) for v in raw.getlist("specialties")]
            return typed, csrf_ok(request, raw)

    def saved_notice(request: Request, principal: Principal, changed: bool, name: str) -> str:
        key = "console.person.saved" if changed else "console.settings.nothing_changed"
        return deps_of(request).catalog.text(key, _locale(request, principal), name=name)

    async def coordinator_record(
        request: Request,
        code: str,
        co_id: int | None,
        posted: tuple[dict[str, Any], bool] | None,
    ) -> Response:
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            co = await session.get(Coordinator, co_id) if co_id is not None else None
            if hub is None or (co_id is not None and (co is None or co.hub_id != hub.id)):
                return render(request, "message.html", principal, 404, message="console.not_found")
            today = to_jst(deps.clock.now()).date()
            action = f"/console/hubs/{code}/coordinators/" + (f"{co_id}/edit" if co else "new")
            context: dict[str, Any] = {
                "hub": hub,
                "co": co,
                "action": action,
                "specialties": [s.value for s in Specialty],
                "errors": {},
            }
            if posted is None:
                typed = (
                    await person_forms.current_coordinator(session, co, today)
                    if co is not None
                    else person_forms.blank_coordinator()
                )
                return render(request, "coordinator.html", principal, typed=typed, **context)
            typed, token_ok = posted
            if not token_ok:
                return render(
                    request,
                    "coordinator.html",
                    principal,
                    400,
                    typed=typed,
                    error="console.csrf",
                    **context,
                )
            team = request.session.get("who", {}).get("team")
            if co is not None:
                team = co.slack_team_id
            form, row = person_forms.read_coordinator(typed, deps.catalog, today=today)
            await person_forms.check_coordinator(
                session,
                form,
                row,
                hub_id=hub.id,
                team_id=team,
                editing=co,
                directory=deps.directory,
            )
            if not form.ok:
                context["errors"] = form.errors
                return render(
                    request,
                    "coordinator.html",
                    principal,
                    422,
                    typed=typed,
                    error="console.settings.has_errors",
                    **context,
                )
            saved, changed, _switched = await person_forms.save_coordinator(
                session,
                form,
                row,
                hub_id=hub.id,
                team_id=team,
                co=co,
                actor_id=principal.coordinator_id,
                today=today,
                now=deps.clock.now(),
                queue=SqlAlchemyHubQueue.in_transaction(session),
            )
            if co is None:
                request.session["flash"] = saved_notice(request, principal, True, saved.name)
                return RedirectResponse(f"/console/hubs/{code}", status_code=303)
            context["co"] = saved
            return render(
                request,
                "coordinator.html",
                principal,
                typed=await person_forms.current_coordinator(session, saved, today),
                notice=saved_notice(request, principal, bool(changed), saved.name),
                **context,
            )

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    @router.get("/hubs/{code}/coordinators/new", response_class=HTMLResponse)
    async def coordinator_new_form(request: Request, code: str) -> Response:
        return await coordinator_record(request, code, None, None)

    @router.post("/hubs/{code}/coordinators/new", response_class=HTMLResponse)
    async def coordinator_new_post(request: Request, code: str) -> Response:
        return await coordinator_record(request, code, None, await form_of(request))

    @router.get("/hubs/{code}/coordinators/{co_id}/edit", response_class=HTMLResponse)
    async def coordinator_edit_form(request: Request, code: str, co_id: int) -> Response:
        return await coordinator_record(request, code, co_id, None)

    @router.post("/hubs/{code}/coordinators/{co_id}/edit", response_class=HTMLResponse)
    async def coordinator_edit_post(request: Request, code: str, co_id: int) -> Response:
        return await coordinator_record(request, code, co_id, await form_of(request))

    @router.post("/hubs/{code}/coordinators/{co_id}/active", response_class=HTMLResponse)
    async def coordinator_active(request: Request, code: str, co_id: int) -> Response:
        deps = deps_of(request)
        async with request.form() as form:
            token_ok = csrf_ok(request, form)
            wanted = form.get("active") == "1"

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            co = await session.get(Coordinator, co_id)
            if hub is None or co is None or co.hub_id != hub.id:
                return render(request, "message.html", principal, 404, message="console.not_found")
            if not token_ok:
                return render(request, "message.html", principal, 400, message="console.csrf")
            done = await set_active(
                session,
                co,
                wanted,
                actor_id=principal.coordinator_id,
                now=deps.clock.now(),
                queue=SqlAlchemyHubQueue.in_transaction(session),
            )
            request.session["flash"] = deps.catalog.text(
                "console.deactivated.done_on" if wanted else "console.deactivated.done_off",
                _locale(request, principal),
                name=co.name,
                count=len(done.reopened),
            )
            return RedirectResponse(f"/console/hubs/{code}", status_code=303)

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    @router.get("/hubs/{code}/coordinators/{co_id}", response_class=HTMLResponse)
    async def profile_form(request: Request, code: str, co_id: int) -> Response:
        return await profile(request, code, co_id, None)

    @router.post("/hubs/{code}/coordinators/{co_id}", response_class=HTMLResponse)
    async def profile_post(request: Request, code: str, co_id: int) -> Response:
        async with request.form() as raw:
            typed: dict[str, Any] = {
                key: str(value) for key, value in raw.items() if isinstance(value, str)
            }
            typed["specialties"] = [str(v) for v in raw.getlist("specialties")]
            typed["_csrf_ok"] = csrf_ok(request, raw)
        return await profile(request, code, co_id, typed)

    async def profile(
        request: Request, code: str, co_id: int, typed: dict[str, Any] | None
    ) -> Response:
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            co = await session.get(Coordinator, co_id)
            if hub is None or co is None or co.hub_id != hub.id:
                return render(request, "message.html", principal, 404, message="console.not_found")
            today = to_jst(deps.clock.now()).date()
            managing = authorize(principal, Permission.MANAGE_HUB, hub_id=hub.id)
            context: dict[str, Any] = {
                "hub": hub,
                "co": co,
                "specialties": [s.value for s in Specialty],
                "may_set_capacity": managing is Decision.ALLOW,
                "errors": {},
            }
            if typed is None:
                context["typed"] = await co_profile.current_profile(session, co, today)
                return render(request, "profile.html", principal, **context)
            if not typed.pop("_csrf_ok"):
                return render(
                    request,
                    "profile.html",
                    principal,
                    400,
                    typed=typed,
                    error="console.csrf",
                    **context,
                )
            if not context["may_set_capacity"]:
                typed["capacity"] = str(co.capacity)
            form = co_profile.read_profile(typed, today=today)
            if not form.ok:
                return render(
                    request,
                    "profile.html",
                    principal,
                    422,
                    typed=typed,
                    error="console.settings.has_errors",
                    **{**context, "errors": form.errors},
                )
            changed = await co_profile.apply_profile(
                session,
                co,
                form,
                actor_id=principal.coordinator_id,
                may_set_capacity=context["may_set_capacity"],
                today=today,
                now=deps.clock.now(),
            )
            context["typed"] = await co_profile.current_profile(session, co, today)
            notice = "console.profile.saved" if changed else "console.profile.nothing_changed"
            return render(request, "profile.html", principal, notice=notice, **context)

        return await guarded(
            request, Permission.EDIT_COORDINATOR, page, hub_code=code, coordinator_id=co_id
        )

    # -- the dashboard -----------------------------------------------------------------------

    def year_of(request: Request) -> int:
        asked = request.query_params.get("fy", "")
        current = fiscal_year(deps_of(request).clock.now())
        return int(asked) if asked.isdigit() and 2000 <= int(asked) <= current + 1 else current

    @router.get("/hubs/{code}/dashboard", response_class=HTMLResponse)
    async def dashboard_page(request: Request, code: str) -> Response:
        year = year_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            # The pre-counted hub-months, not the records: the page must answer in 300 ms at
            # national scale; each number still links to the records it counts.
            found = await figure_months.hub_months(session, hub_id=hub.id, fiscal_year=year)
            satisfaction = (
                await satisfaction_by_hub(session, fiscal_year=year, hub_id=hub.id)
            ).get(hub.id, Satisfaction())
            monthly = [found.value(dashboard.Figure.CONSULTATIONS, m) for m in dashboard.MONTHS]
            now = deps_of(request).clock.now()
            health = await dashboard.hub_health(session, hub_id=hub.id, fiscal_year=year, now=now)
            lists = {
                which.value: len(
                    await hub_lists.listing(
                        session, which, hub_id=hub.id, fiscal_year=year, now=now
                    )
                )
                for which in (hub_lists.Listing.ESCALATIONS, hub_lists.Listing.UNRECORDED_OUTCOMES)
            }
            partners = await hub_lists.referrals_by_partner(
                session, hub_id=hub.id, fiscal_year=year, now=now
            )
            pushes = await hub_lists.push_months(session, hub_id=hub.id, fiscal_year=year)
            shown = await reviews.comments(
                session, fiscal_year=year, hub_id=hub.id, shown_only=True
            )
            return render(
                request,
                "dashboard.html",
                principal,
                hub=hub,
                year=year,
                found=found,
                figures=list(dashboard.Figure),
                months=dashboard.MONTHS,
                satisfaction=satisfaction,
                health=health,
                lists=lists,
                partners=partners,
                pushes=pushes,
                comments=shown,
                no_organisation=hub_lists.NO_ORGANISATION,
                chart=_bars(monthly),
            )

        return await guarded(request, Permission.VIEW_HUB, page, hub_code=code)

    @router.get("/hubs/{code}/exports/{name}")
    async def export_file(request: Request, code: str, name: str) -> Response:
        """A CSV (UTF-8 with BOM for Excel, or Shift_JIS) or the figures' XLSX workbook."""
        deps = deps_of(request)
        year = year_of(request)
        stem, _, suffix = name.partition(".")

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            locale = _locale(request, principal)
            if name == "figures.xlsx":
                found = await dashboard.hub_year(session, hub_id=hub.id, fiscal_year=year)
                table = exports.figures_by_month(found)
                table = exports.Table(
                    table.header,
                    [
                        (deps.catalog.text(f"figure.{row[0]}", locale), *row[1:])
                        for row in table.rows
                    ],
                )
                body = _xlsx(table, deps.catalog, locale)
                media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            elif suffix == "csv" and stem in {e.value for e in exports.Export}:
                table = await exports.export_table(
                    session, exports.Export(stem), hub_id=hub.id, fiscal_year=year
                )
                body = _csv(table, deps.catalog, locale, request.query_params.get("encoding"))
                media = "text/csv; charset=" + (
                    "shift_jis" if request.query_params.get("encoding") == "sjis" else "utf-8"
                )
            else:
                return render(request, "message.html", principal, 404, message="console.not_found")
            by_partner = principal.partner_staff_id is not None
            exports.audit_export(
                session,
                name,
                hub_id=hub.id,
                fiscal_year=year,
                rows=len(table.rows),
                actor_kind=ActorKind.PARTNER_STAFF if by_partner else ActorKind.COORDINATOR,
                actor_id=principal.partner_staff_id or principal.coordinator_id,
                now=deps.clock.now(),
            )
            filename = f"yorozu-{code}-FY{year}-{name}"
            return Response(
                body,
                media_type=media,
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    @router.get("/hubs/{code}/coordinators/{co_id}/figures", response_class=HTMLResponse)
    async def co_figures_page(request: Request, code: str, co_id: int) -> Response:
        """A CO's own year: their figures, reviews, satisfaction and follow-ups to come."""
        year = year_of(request)
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            co = await session.get(Coordinator, co_id)
            if hub is None or co is None or co.hub_id != hub.id:
                return render(request, "message.html", principal, 404, message="console.not_found")
            found = (await dashboard.hub_year(session, hub_id=hub.id, fiscal_year=year)).of_co(
                co.id
            )
            summary = (await co_reviews(session, fiscal_year=year, co_id=co.id)).get(co.id)
            mine = principal.coordinator_id == co.id
            said = await reviews.comments(
                session, fiscal_year=year, co_id=co.id, shown_only=not mine
            )
            satisfied = (await satisfaction_by_co(session, fiscal_year=year, hub_id=hub.id)).get(
                co.id, Satisfaction()
            )
            today = to_jst(deps.clock.now()).date()
            followups = (
                (
                    await session.execute(
                        select(ConsultationRecord.follow_up_on, Case.number)
                        .join(Case, Case.id == ConsultationRecord.case_id)
                        .where(
                            ConsultationRecord.co_id == co.id,
                            ConsultationRecord.follow_up_on >= today,
                        )
                        .order_by(ConsultationRecord.follow_up_on)
                        .limit(50)
                    )
                )
                .tuples()
                .all()
            )
            return render(
                request,
                "co_figures.html",
                principal,
                hub=hub,
                co=co,
                year=year,
                found=found,
                figures=list(dashboard.Figure),
                reviews=summary,
                comments=said,
                mine=mine,
                satisfaction=satisfied,
                followups=followups,
                notice=request.query_params.get("saved") and "console.reviews.saved",
            )

        return await guarded(
            request, Permission.EDIT_COORDINATOR, page, hub_code=code, coordinator_id=co_id
        )

    @router.post("/hubs/{code}/coordinators/{co_id}/reviews/{review_id}")
    async def review_shown_post(
        request: Request, code: str, co_id: int, review_id: int
    ) -> Response:
        """The CO shows or hides an owner's comment on the hub's dashboard: theirs alone."""
        deps = deps_of(request)
        async with request.form() as raw:
            wanted = raw.get("shown") == "1"
            token_ok = csrf_ok(request, raw)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            if principal.coordinator_id != co_id:
                return render(request, "message.html", principal, 403, message="console.forbidden")
            if not token_ok:
                return render(request, "message.html", principal, 400, message="console.csrf")
            done = await reviews.set_shown(
                session, review_id=review_id, co_id=co_id, shown=wanted, now=deps.clock.now()
            )
            if done is None:
                return render(request, "message.html", principal, 404, message="console.not_found")
            return RedirectResponse(
                f"/console/hubs/{code}/coordinators/{co_id}/figures?saved=1", status_code=303
            )

        return await guarded(
            request, Permission.EDIT_COORDINATOR, page, hub_code=code, coordinator_id=co_id
        )

    @router.get("/national", response_class=HTMLResponse)
    async def national_page(request: Request) -> Response:
        year = year_of(request)
        order = request.query_params.get("sort", "code")
        columns = [f.value for f in dashboard.Figure]

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hubs = (
                await session.scalars(select(Hub).where(Hub.kind == HubKind.HUB).order_by(Hub.code))
            ).all()
            found = await figure_months.figures_by_hub(session, fiscal_year=year)
            budgeted = await budgets.budgets_of(session, fiscal_year=year)
            rows = [(hub, found.get(hub.id, EMPTY_FIGURES)) for hub in hubs]
            rates = {
                hub.id: budgets.utilisation(figures.minutes, budgeted.get(hub.id))
                for hub, figures in rows
            }
            if order in columns:
                rows.sort(key=lambda item: (-_figure(item[1], order), item[0].code))
            elif order == "utilisation":
                rows.sort(key=lambda item: (-(rates[item[0].id] or -1.0), item[0].code))
            total = sum_figures(figures for _hub, figures in rows)
            budget_total = sum(budgeted.get(hub.id, 0) for hub, _figures in rows)
            satisfaction = await satisfaction_by_hub(session, fiscal_year=year)
            return render(
                request,
                "national.html",
                principal,
                year=year,
                rows=rows,
                total=total,
                columns=columns,
                order=order,
                satisfaction=satisfaction,
                value=_figure,
                budgets=budgeted,
                rates=rates,
                total_rate=budgets.utilisation(
                    sum(f.minutes for h, f in rows if h.id in budgeted), budget_total
                ),
            )

        return await guarded(request, Permission.MANAGE_NATIONAL, page)

    async def budgets_page(
        request: Request,
        session: AsyncSession,
        principal: Principal,
        year: int,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        hubs = (
            await session.scalars(select(Hub).where(Hub.kind == HubKind.HUB).order_by(Hub.code))
        ).all()
        stored = await budgets.budgets_of(session, fiscal_year=year)
        typed = context.pop("typed", None) or {
            budgets.field_name(hub): str(stored[hub.id]) if hub.id in stored else "" for hub in hubs
        }
        return render(
            request,
            "budgets.html",
            principal,
            status_code,
            year=year,
            hubs=hubs,
            typed=typed,
            field_name=budgets.field_name,
            errors=context.pop("errors", {}),
            **context,
        )

    @router.get("/national/budgets", response_class=HTMLResponse)
    async def budgets_form(request: Request) -> Response:
        """HQ sets each hub's budgeted consultation hours for a fiscal year (稼働率)."""
        year = year_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            return await budgets_page(request, session, principal, year)

        return await guarded(request, Permission.MANAGE_NATIONAL, page)

    @router.post("/national/budgets", response_class=HTMLResponse)
    async def budgets_post(request: Request) -> Response:
        deps = deps_of(request)
        year = year_of(request)
        async with request.form() as raw:
            typed = {key: str(value) for key, value in raw.items() if isinstance(value, str)}
            token_ok = csrf_ok(request, raw)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            if not token_ok:
                return await budgets_page(
                    request, session, principal, year, 400, typed=typed, error="console.csrf"
                )
            hubs = (await session.scalars(select(Hub).where(Hub.kind == HubKind.HUB))).all()
            form = budgets.read_budgets(typed, hubs)
            if not form.ok:
                return await budgets_page(
                    request,
                    session,
                    principal,
                    year,
                    422,
                    typed=typed,
                    errors=form.errors,
                    error="console.budgets.has_errors",
                )
            changed = await budgets.apply_budgets(
                session,
                form,
                fiscal_year=year,
                actor_id=principal.coordinator_id,
                now=deps.clock.now(),
            )
            await session.flush()
            notice = "console.budgets.saved" if changed else "console.settings.nothing_changed"
            return await budgets_page(request, session, principal, year, notice=notice)

        return await guarded(request, Permission.MANAGE_NATIONAL, page)

    @router.get("/hubs/{code}/dashboard/{figure}", response_class=HTMLResponse)
    async def drill_page(request: Request, code: str, figure: str) -> Response:
        year = year_of(request)
        month_text = request.query_params.get("month", "")
        month = int(month_text) if month_text.isdigit() and 1 <= int(month_text) <= 12 else None

        async def page(session: AsyncSession, principal: Principal) -> Response:
            if figure not in {f.value for f in dashboard.Figure}:
                return render(request, "message.html", principal, 404, message="console.not_found")
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            found = await dashboard.hub_year(session, hub_id=hub.id, fiscal_year=year)
            chosen = dashboard.Figure(figure)
            if chosen is dashboard.Figure.BUSINESSES:
                await dashboard.with_business_names(session, found)
            return render(
                request,
                "drill.html",
                principal,
                hub=hub,
                year=year,
                month=month,
                figure=chosen,
                rows=found.rows(chosen, month),
                value=found.value(chosen, month),
            )

        return await guarded(request, Permission.VIEW_HUB, page, hub_code=code)

    @router.get("/hubs/{code}/dashboard/lists/{name}", response_class=HTMLResponse)
    async def list_page(request: Request, code: str, name: str) -> Response:
        """The records behind a queue-health or partner number of the dashboard."""
        year = year_of(request)
        org_text = request.query_params.get("org", "")
        organisation = int(org_text) if org_text.isdigit() else None

        async def page(session: AsyncSession, principal: Principal) -> Response:
            if name not in {listing.value for listing in hub_lists.Listing}:
                return render(request, "message.html", principal, 404, message="console.not_found")
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            chosen = hub_lists.Listing(name)
            rows = await hub_lists.listing(
                session,
                chosen,
                hub_id=hub.id,
                fiscal_year=year,
                now=deps_of(request).clock.now(),
                organisation_id=organisation
                if chosen in (hub_lists.Listing.REFERRALS_OUT, hub_lists.Listing.REFERRALS_IN)
                else None,
            )
            org_name = None
            if organisation:
                found = await session.get(PartnerOrganisation, organisation)
                org_name = found.name if found is not None else None
            return render(
                request,
                "listing.html",
                principal,
                hub=hub,
                year=year,
                listing=chosen,
                rows=rows,
                organisation=organisation,
                organisation_name=org_name,
            )

        return await guarded(request, Permission.VIEW_HUB, page, hub_code=code)

    # -- hub settings ------------------------------------------------------------------------

    @router.get("/hubs/{code}/settings", response_class=HTMLResponse)
    async def settings_form(request: Request, code: str) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            typed = await hub_settings.current_settings(session, hub)
            return render(request, "settings.html", principal, hub=hub, typed=typed, errors={})

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    @router.post("/hubs/{code}/settings", response_class=HTMLResponse)
    async def settings_post(request: Request, code: str) -> Response:
        deps = deps_of(request)
        async with request.form() as raw:
            typed = {key: str(value) for key, value in raw.items() if isinstance(value, str)}
            token_ok = csrf_ok(request, raw)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            stored = await hub_settings.current_settings(session, hub)
            shown = {**typed, "line_secret_set": stored["line_secret_set"]}
            for secret in hub_settings.SECRET_FIELDS:
                shown[secret] = ""  # never echoed back, even when typed
            if not token_ok:
                return render(
                    request,
                    "settings.html",
                    principal,
                    400,
                    hub=hub,
                    typed=shown,
                    errors={},
                    error="console.csrf",
                )
            form = hub_settings.read_settings(typed)
            if not form.ok:
                return render(
                    request,
                    "settings.html",
                    principal,
                    422,
                    hub=hub,
                    typed=shown,
                    errors=form.errors,
                    error="console.settings.has_errors",
                )
            changes = await hub_settings.apply_settings(
                session, hub, form, actor_id=principal.coordinator_id, now=deps.clock.now()
            )
            fresh = await hub_settings.current_settings(session, hub)
            notice = "console.settings.saved" if changes else "console.settings.nothing_changed"
            return render(
                request, "settings.html", principal, hub=hub, typed=fresh, errors={}, notice=notice
            )

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    # -- access requests from partner staff --------------------------------------------------

    async def access_page(
        request: Request,
        session: AsyncSession,
        principal: Principal,
        hub: Hub,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        pending = await access_requests.pending_for_hub(session, hub.id)
        organisations = await access_requests.organisations_of(session, hub)
        items = [
            {
                "request": item,
                "organisation": await access_requests.organisation_text(session, item),
                "chosen": item.organisation_id,
            }
            for item in pending
        ]
        return render(
            request,
            "access_requests.html",
            principal,
            status_code,
            hub=hub,
            items=items,
            organisations=organisations,
            **context,
        )

    @router.get("/hubs/{code}/access-requests", response_class=HTMLResponse)
    async def access_list(request: Request, code: str) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            return await access_page(request, session, principal, hub)

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    @router.post("/hubs/{code}/access-requests/{request_id}", response_class=HTMLResponse)
    async def access_decide(request: Request, code: str, request_id: int) -> Response:
        deps = deps_of(request)
        async with request.form() as raw:
            token_ok = csrf_ok(request, raw)
            decision = str(raw.get("decision") or "")
            chosen = str(raw.get("organisation_id") or "")

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            asked = await session.get(AccessRequest, request_id)
            if hub is None or asked is None or asked.hub_id != hub.id:
                return render(request, "message.html", principal, 404, message="console.not_found")
            if not token_ok:
                return await access_page(
                    request, session, principal, hub, 400, error="console.csrf"
                )
            if decision not in ("approve", "deny"):
                return await access_page(request, session, principal, hub, 400)
            outcome = await access_requests.decide(
                session,
                asked,
                approve=decision == "approve",
                decided_by=principal.coordinator_id,
                now=deps.clock.now(),
                organisation_id=int(chosen) if chosen.isdigit() else None,
            )
            if outcome is access_requests.Outcome.NEEDS_ORGANISATION:
                return await access_page(
                    request,
                    session,
                    principal,
                    hub,
                    422,
                    error="access.console.needs_organisation",
                )
            if outcome is access_requests.Outcome.ALREADY:
                return await access_page(
                    request, session, principal, hub, 409, error="access.console.already"
                )
            key = (
                "access.console.done_approved"
                if outcome is access_requests.Outcome.APPROVED
                else "access.console.done_denied"
            )
            notice = deps.catalog.text(key, _locale(request, principal), name=asked.name)
            return await access_page(request, session, principal, hub, notice=notice)

        return await guarded(request, Permission.MANAGE_HUB, page, hub_code=code)

    # -- the audit log -----------------------------------------------------------------------

    @router.get("/hubs/{code}/audit", response_class=HTMLResponse)
    async def audit_page(request: Request, code: str) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            query = select(AuditLog).where(AuditLog.hub_id == hub.id)
            params = request.query_params
            case = params.get("case", "").strip()
            if case.isdigit():
                query = query.where(AuditLog.case_id == int(case))
            actor = params.get("actor", "").strip()
            if actor.isdigit():
                query = query.where(AuditLog.actor_id == int(actor))
            since, until = _day(params.get("from")), _day(params.get("to"))
            if since is not None:
                query = query.where(AuditLog.at >= _jst_midnight(since))
            if until is not None:
                query = query.where(AuditLog.at < _jst_midnight(until + timedelta(days=1)))
            rows = (
                await session.scalars(
                    query.order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(AUDIT_PAGE)
                )
            ).all()
            return render(
                request,
                "audit.html",
                principal,
                hub=hub,
                rows=rows,
                filters={
                    "case": case,
                    "actor": actor,
                    "from": params.get("from", ""),
                    "to": params.get("to", ""),
                },
                label=lambda action: _action_label(
                    deps_of(request).catalog, action, _locale(request, principal)
                ),
            )

        return await guarded(request, Permission.VIEW_AUDIT, page, hub_code=code)

    # -- APPI requests (個人情報の請求): HQ and the hub's CCO ------------------------------------

    def operator_of(principal: Principal, hub: Hub) -> privacy.Operator:
        return privacy.Operator(
            kind=ActorKind.COORDINATOR, id=principal.coordinator_id, via="console", hub_id=hub.id
        )

    @router.get("/hubs/{code}/privacy", response_class=HTMLResponse)
    async def privacy_page(request: Request, code: str) -> Response:
        deps = deps_of(request)
        names = ("line_user", "phone", "email", "name", "business", "case")
        typed = {name: request.query_params.get(name, "").strip() for name in names}

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            if not any(typed.values()):
                return render(
                    request, "privacy.html", principal, hub=hub, typed=typed, matches=None
                )
            query = Query(
                line_user_id=typed["line_user"] or None,
                phone=typed["phone"] or None,
                email=typed["email"] or None,
                name=typed["name"] or None,
                business=typed["business"] or None,
                case_number=typed["case"] or None,
            )
            try:
                found = await privacy.find(
                    session, query, operator=operator_of(principal, hub), now=deps.clock.now()
                )
            except BadQuery as problem:
                error = deps.catalog.text(
                    f"privacy.find.error.{problem.code}", _locale(request, principal)
                )
                return render(
                    request,
                    "privacy.html",
                    principal,
                    422,
                    hub=hub,
                    typed=typed,
                    matches=None,
                    error=error,
                )
            mine = await _people_of_hub(session, hub, [m.person_id for m in found])
            matches = [m for m in found if m.person_id in mine]
            return render(request, "privacy.html", principal, hub=hub, typed=typed, matches=matches)

        return await guarded(request, Permission.HANDLE_PRIVACY, page, hub_code=code)

    @router.get("/hubs/{code}/privacy/people/{person_id}/export.{fmt}")
    async def privacy_export(request: Request, code: str, person_id: int, fmt: str) -> Response:
        """開示 as the person reads it (HTML, shown or saved) or as data (JSON)."""
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            if fmt not in ("html", "json") or person_id not in await _people_of_hub(
                session, hub, [person_id]
            ):
                return render(request, "message.html", principal, 404, message="console.not_found")
            found = await privacy.export(
                session, person_id, operator=operator_of(principal, hub), now=deps.clock.now()
            )
            filename = f"yorozu-person-{person_id}.{fmt}"
            if fmt == "json":
                return Response(
                    found.as_json(),
                    media_type="application/json; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'},
                )
            saved = request.query_params.get("download") == "1"
            return Response(
                render_html(found, deps.catalog, _locale(request, principal)),
                media_type="text/html; charset=utf-8",
                headers={
                    "Content-Disposition": f"{'attachment' if saved else 'inline'}; "
                    f'filename="{filename}"',
                    # The page is the person's data: not kept by shared caches or proxies.
                    "Cache-Control": "no-store",
                },
            )

        return await guarded(request, Permission.HANDLE_PRIVACY, page, hub_code=code)

    @router.get("/hubs/{code}/privacy/people/{person_id}/erase", response_class=HTMLResponse)
    async def privacy_erase_preview(request: Request, code: str, person_id: int) -> Response:
        """The dry run: every row and Slack message that would change, then a confirm form."""
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            if person_id not in await _people_of_hub(session, hub, [person_id]):
                return render(request, "message.html", principal, 404, message="console.not_found")
            plan = await privacy.preview_erasure(
                deps.session_factory,
                [person_id],
                operator=operator_of(principal, hub),
                now=deps.clock.now(),
                slack=deps.slack_erasure,
            )
            return render(
                request, "privacy_erase.html", principal, hub=hub, person_id=person_id, plan=plan
            )

        return await guarded(request, Permission.HANDLE_PRIVACY, page, hub_code=code)

    @router.post("/hubs/{code}/privacy/people/{person_id}/erase", response_class=HTMLResponse)
    async def privacy_erase(request: Request, code: str, person_id: int) -> Response:
        deps = deps_of(request)
        async with request.form() as raw:
            token_ok = csrf_ok(request, raw)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            hub = await session.scalar(select(Hub).where(Hub.code == code))
            assert hub is not None
            if person_id not in await _people_of_hub(session, hub, [person_id]):
                return render(request, "message.html", principal, 404, message="console.not_found")
            if not token_ok:
                return render(request, "message.html", principal, 400, message="console.csrf")
            plan = await privacy.erase(
                session,
                [person_id],
                operator=operator_of(principal, hub),
                now=deps.clock.now(),
                slack=deps.slack_erasure,
            )
            await refresh_homes(session, plan.coordinators, now=deps.clock.now())
            return render(
                request, "privacy_erase.html", principal, hub=hub, person_id=person_id, plan=plan
            )

        return await guarded(request, Permission.HANDLE_PRIVACY, page, hub_code=code)

    # -- a partner organisation --------------------------------------------------------------

    @router.get("/organisations", response_class=HTMLResponse)
    async def organisations_page(request: Request) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            organisations = (
                await session.scalars(
                    select(PartnerOrganisation).order_by(
                        PartnerOrganisation.prefecture_code, PartnerOrganisation.name
                    )
                )
            ).all()
            return render(request, "organisations.html", principal, organisations=organisations)

        return await guarded(request, Permission.MANAGE_NATIONAL, page)

    @router.get("/organisations/import", response_class=HTMLResponse)
    async def organisations_import_form(request: Request) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            return render(
                request,
                "import.html",
                principal,
                sheet=ORGANISATIONS_SHEET,
                report=None,
                csv_text="",
            )

        return await guarded(request, Permission.MANAGE_NATIONAL, page)

    @router.post("/organisations/import", response_class=HTMLResponse)
    async def organisations_import_post(request: Request) -> Response:
        deps = deps_of(request)

        async def run(session: AsyncSession, principal: Principal, data: bytes, apply: bool) -> Any:
            report = organisation_import.read_organisations(data, deps.catalog)
            if apply and report.ok:
                return await organisation_import.apply_organisations(
                    session, report, actor_id=principal.coordinator_id, now=deps.clock.now()
                )
            await organisation_import.check_existing(session, report)
            return report

        return await sheet_post(request, Permission.MANAGE_NATIONAL, ORGANISATIONS_SHEET, run)

    # -- one partner organisation at a time (HQ) ----------------------------------------------

    async def organisation_record(
        request: Request,
        organisation_id: int | None,
        posted: tuple[dict[str, Any], bool] | None,
    ) -> Response:
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            org = (
                await session.get(PartnerOrganisation, organisation_id)
                if organisation_id is not None
                else None
            )
            if organisation_id is not None and org is None:
                return render(request, "message.html", principal, 404, message="console.not_found")
            locale = _locale(request, principal)
            context: dict[str, Any] = {
                "organisation": org,
                "action": f"/console/organisations/{organisation_id}/edit"
                if org
                else "/console/organisations/new",
                "back": f"/console/organisations/{organisation_id}"
                if org
                else "/console/organisations",
                "kinds": [
                    (kind.value, deps.catalog.text(f"console.kind.{kind.value}", locale))
                    for kind in OrganisationKind
                ],
                "prefectures": [
                    (f"{n:02d}", deps.catalog.text(f"prefecture.{n:02d}", locale))
                    for n in range(1, 48)
                ],
                "errors": {},
            }
            if posted is None:
                typed = (
                    person_forms.current_organisation(org)
                    if org is not None
                    else person_forms.blank_organisation()
                )
                return render(request, "organisation_form.html", principal, typed=typed, **context)
            typed, token_ok = posted
            if not token_ok:
                return render(
                    request,
                    "organisation_form.html",
                    principal,
                    400,
                    typed=typed,
                    error="console.csrf",
                    **context,
                )
            form, row = person_forms.read_organisation(typed, deps.catalog)
            await person_forms.check_organisation(session, form, row, editing=org)
            if not form.ok:
                context["errors"] = form.errors
                return render(
                    request,
                    "organisation_form.html",
                    principal,
                    422,
                    typed=typed,
                    error="console.settings.has_errors",
                    **context,
                )
            saved, changed = await person_forms.save_organisation(
                session, form, row, org=org, actor_id=principal.coordinator_id, now=deps.clock.now()
            )
            if org is None:
                request.session["flash"] = saved_notice(request, principal, True, saved.name)
                return RedirectResponse(f"/console/organisations/{saved.id}", status_code=303)
            context["organisation"] = saved
            return render(
                request,
                "organisation_form.html",
                principal,
                typed=person_forms.current_organisation(saved),
                notice=saved_notice(request, principal, bool(changed), saved.name),
                **context,
            )

        return await guarded(request, Permission.MANAGE_NATIONAL, page)

    @router.get("/organisations/new", response_class=HTMLResponse)
    async def organisation_new_form(request: Request) -> Response:
        return await organisation_record(request, None, None)

    @router.post("/organisations/new", response_class=HTMLResponse)
    async def organisation_new_post(request: Request) -> Response:
        return await organisation_record(request, None, await form_of(request))

    @router.get("/organisations/{organisation_id}/edit", response_class=HTMLResponse)
    async def organisation_edit_form(request: Request, organisation_id: int) -> Response:
        return await organisation_record(request, organisation_id, None)

    @router.post("/organisations/{organisation_id}/edit", response_class=HTMLResponse)
    async def organisation_edit_post(request: Request, organisation_id: int) -> Response:
        return await organisation_record(request, organisation_id, await form_of(request))

    @router.get("/organisations/{organisation_id}", response_class=HTMLResponse)
    async def organisation_page(request: Request, organisation_id: int) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            organisation = await session.get(PartnerOrganisation, organisation_id)
            staff = (
                await session.scalars(
                    select(PartnerStaff)
                    .where(PartnerStaff.organisation_id == organisation_id)
                    .order_by(PartnerStaff.active.desc(), PartnerStaff.id)
                )
            ).all()
            manage = authorize(
                principal, Permission.MANAGE_ORGANISATION, organisation_id=organisation_id
            )
            return render(
                request,
                "organisation.html",
                principal,
                organisation=organisation,
                staff=staff,
                can_manage=manage is Decision.ALLOW,
                flash=request.session.pop("flash", None),
            )

        return await guarded(
            request, Permission.VIEW_ORGANISATION, page, organisation_id=organisation_id
        )

    @router.get("/organisations/{organisation_id}/staff/import", response_class=HTMLResponse)
    async def staff_import_form(request: Request, organisation_id: int) -> Response:
        async def page(session: AsyncSession, principal: Principal) -> Response:
            sheet = _staff_sheet(organisation_id)
            return render(request, "import.html", principal, sheet=sheet, report=None, csv_text="")

        return await guarded(
            request, Permission.MANAGE_ORGANISATION, page, organisation_id=organisation_id
        )

    @router.post("/organisations/{organisation_id}/staff/import", response_class=HTMLResponse)
    async def staff_import_post(request: Request, organisation_id: int) -> Response:
        deps = deps_of(request)

        async def run(session: AsyncSession, principal: Principal, data: bytes, apply: bool) -> Any:
            organisation = await session.get(PartnerOrganisation, organisation_id)
            assert organisation is not None
            report = staff_import.read_staff(data)
            if apply and report.ok:
                by_partner = principal.partner_staff_id is not None
                return await staff_import.apply_staff(
                    session,
                    report,
                    organisation,
                    actor_kind=ActorKind.PARTNER_STAFF if by_partner else ActorKind.COORDINATOR,
                    actor_id=principal.partner_staff_id or principal.coordinator_id,
                    now=deps.clock.now(),
                    directory=deps.directory,
                )
            await staff_import.check_against_organisation(
                session, report, organisation, directory=deps.directory
            )
            return report

        return await sheet_post(
            request,
            Permission.MANAGE_ORGANISATION,
            _staff_sheet(organisation_id),
            run,
            organisation_id=organisation_id,
        )

    # -- one staff member of a partner organisation at a time ---------------------------------

    def actor_of(principal: Principal) -> tuple[ActorKind, int | None]:
        if principal.partner_staff_id is not None:
            return ActorKind.PARTNER_STAFF, principal.partner_staff_id
        return ActorKind.COORDINATOR, principal.coordinator_id

    async def staff_record(
        request: Request,
        organisation_id: int,
        staff_id: int | None,
        posted: tuple[dict[str, Any], bool] | None,
    ) -> Response:
        deps = deps_of(request)

        async def page(session: AsyncSession, principal: Principal) -> Response:
            org = await session.get(PartnerOrganisation, organisation_id)
            staff = await session.get(PartnerStaff, staff_id) if staff_id is not None else None
            if org is None or (
                staff_id is not None and (staff is None or staff.organisation_id != org.id)
            ):
                return render(request, "message.html", principal, 404, message="console.not_found")
            base = f"/console/organisations/{organisation_id}/staff/"
            context: dict[str, Any] = {
                "organisation": org,
                "staff": staff,
                "action": base + (str(staff_id) if staff else "new"),
                "errors": {},
            }
            if posted is None:
                typed = (
                    person_forms.current_staff(staff)
                    if staff is not None
                    else person_forms.blank_staff()
                )
                return render(request, "staff.html", principal, typed=typed, **context)
            typed, token_ok = posted
            if not token_ok:
                return render(
                    request,
                    "staff.html",
                    principal,
                    400,
                    typed=typed,
                    error="console.csrf",
                    **context,
                )
            form, row = person_forms.read_staff(typed)
            await person_forms.check_staff(
                session, form, row, organisation=org, editing=staff, directory=deps.directory
            )
            if not form.ok:
                context["errors"] = form.errors
                return render(
                    request,
                    "staff.html",
                    principal,
                    422,
                    typed=typed,
                    error="console.settings.has_errors",
                    **context,
                )
            kind, actor = actor_of(principal)
            saved, changed = await person_forms.save_staff(
                session,
                form,
                row,
                organisation=org,
                staff=staff,
                actor_kind=kind,
                actor_id=actor,
                now=deps.clock.now(),
            )
            if staff is None:
                request.session["flash"] = saved_notice(request, principal, True, saved.name)
                return RedirectResponse(
                    f"/console/organisations/{organisation_id}", status_code=303
                )
            context["staff"] = saved
            return render(
                request,
                "staff.html",
                principal,
                typed=person_forms.current_staff(saved),
                notice=saved_notice(request, principal, bool(changed), saved.name),
                **context,
            )

        return await guarded(
            request, Permission.MANAGE_ORGANISATION, page, organisation_id=organisation_id
        )

    @router.get("/organisations/{organisation_id}/staff/new", response_class=HTMLResponse)
    async def staff_new_form(request: Request, organisation_id: int) -> Response:
        return await staff_record(request, organisation_id, None, None)

    @router.post("/organisations/{organisation_id}/staff/new", response_class=HTMLResponse)
    async def staff_new_post(request: Request, organisation_id: int) -> Response:
        return await staff_record(request, organisation_id, None, await form_of(request))

    @router.get("/organisations/{organisation_id}/staff/{staff_id}", response_class=HTMLResponse)
    async def staff_edit_form(request: Request, organisation_id: int, staff_id: int) -> Response:
        return await staff_record(request, organisation_id, staff_id, None)

    @router.post("/organisations/{organisation_id}/staff/{staff_id}", response_class=HTMLResponse)
    async def staff_edit_post(request: Request, organisation_id: int, staff_id: int) -> Response:
        return await staff_record(request, organisation_id, staff_id, await form_of(request))

    @router.post(
        "/organisations/{organisation_id}/staff/{staff_id}/active", response_class=HTMLResponse
    )
    async def staff_active(request: Request, organisation_id: int, staff_id: int) -> Response:
        """A staff member leaves (or returns): history kept, Slack refuses them politely."""
        deps = deps_of(request)
        async with request.form() as raw:
            token_ok = csrf_ok(request, raw)
            wanted = raw.get("active") == "1"

        async def page(session: AsyncSession, principal: Principal) -> Response:
            staff = await session.get(PartnerStaff, staff_id)
            if staff is None or staff.organisation_id != organisation_id:
                return render(request, "message.html", principal, 404, message="console.not_found")
            if not token_ok:
                return render(request, "message.html", principal, 400, message="console.csrf")
            kind, actor = actor_of(principal)
            await set_staff_active(
                session, staff, wanted, actor_kind=kind, actor_id=actor, now=deps.clock.now()
            )
            request.session["flash"] = deps.catalog.text(
                "console.person.staff_on" if wanted else "console.person.staff_off",
                _locale(request, principal),
                name=staff.name,
            )
            return RedirectResponse(f"/console/organisations/{organisation_id}", status_code=303)

        return await guarded(
            request, Permission.MANAGE_ORGANISATION, page, organisation_id=organisation_id
        )

    return router


# -- helpers ------------------------------------------------------------------------------------


def _locale(request: Request, principal: Principal | None) -> str:
    asked = request.query_params.get("lang")
    if asked in ("ja", "en"):
        request.session["lang"] = asked
    chosen = request.session.get("lang")
    if chosen in ("ja", "en"):
        return str(chosen)
    return principal.locale if principal is not None else "ja"


def _csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def _jst(moment: datetime) -> str:
    return to_jst(moment).strftime("%Y-%m-%d %H:%M")


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _jst_midnight(day: date) -> datetime:
    from core.calendar import jst_at

    return jst_at(day, datetime.min.time()).astimezone(UTC)


async def _people_of_hub(session: AsyncSession, hub: Hub, person_ids: list[int]) -> set[int]:
    """Those of the people with a case at this hub: a CCO handles the requests of their own
    hub's people. HQ's own page (the HQ hub) reaches everyone."""
    if not person_ids:
        return set()
    if hub.kind is HubKind.HQ:
        return set(await session.scalars(select(Person.id).where(Person.id.in_(person_ids))))
    return {
        pid
        for pid in await session.scalars(
            select(Case.person_id).where(Case.hub_id == hub.id, Case.person_id.in_(person_ids))
        )
        if pid is not None
    }


def _action_label(catalog: Catalog, action: str, locale: str) -> str:
    key = f"console.audit_action.{action}"
    return catalog.text(key, locale) if catalog.has(key) else action


def _csv(table: exports.Table, catalog: Catalog, locale: str, encoding: str | None) -> bytes:
    """UTF-8 with a BOM, so Excel opens Japanese correctly; or Shift_JIS (cp932) on asking,
    where a character cp932 lacks becomes 〓 rather than failing the whole file."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([catalog.render(text, locale) for text in table.header])
    writer.writerows(table.rows)
    if encoding == "sjis":
        return "".join(_cp932_or_geta(c) for c in out.getvalue()).encode("cp932")
    return out.getvalue().encode("utf-8-sig")


def _cp932_or_geta(char: str) -> str:
    try:
        char.encode("cp932")
    except UnicodeEncodeError:
        return "〓"
    return char


def _xlsx(table: exports.Table, catalog: Catalog, locale: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = catalog.text("export.figures", locale)[:31]
    sheet.append([catalog.render(text, locale) for text in table.header])
    for row in table.rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _figure(figures: HubFigures, name: str) -> float:
    """A figure by its dashboard name (hours from minutes)."""
    return figures.hours if name == "hours" else float(getattr(figures, name))


def _bars(values: list[float], width: int = 600, height: int = 160) -> list[dict[str, float]]:
    """Bars for a server-drawn SVG chart: x, y, w, h per value (no script, no library)."""
    top = max(values, default=0) or 1
    step = width / max(len(values), 1)
    bars = []
    for index, value in enumerate(values):
        bar = (value / top) * (height - 20)
        bars.append(
            {"x": index * step + 4, "y": height - bar, "w": step - 8, "h": bar, "value": value}
        )
    return bars


async def _hubs_of(session: AsyncSession, organisation: PartnerOrganisation) -> frozenset[int]:
    """The hubs a partner organisation works with: its prefecture's (HQ's for national ones)."""
    if organisation.prefecture_code is None:
        query = select(Hub.id).where(Hub.kind == HubKind.HQ)
    else:
        query = select(Hub.id).where(Hub.prefecture_code == organisation.prefecture_code)
    return frozenset((await session.scalars(query)).all())
