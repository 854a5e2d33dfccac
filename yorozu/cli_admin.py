"""`yorozu admin …`: the console's operations for scripts and for the very first sign-in.

`create-hq` is the break-glass way into a fresh install: it makes one Slack user HQ (本部),
who then signs in to /console and registers everyone else. `import-cos` reads the same CSV
as the console's import page, through the same core functions, with the same dry run.
Every Slack id given here is asked of Slack's users.info first, as the console asks it.
`deactivate` lets a CO or (with --staff) a partner organisation's staff member go.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from core.console import co_import, hub_info_import
from core.console.deactivate import set_active, set_staff_active
from core.console.people import NoHqHub, create_hq_admin
from core.console.slack_users import unknown_users
from core.db.models import Coordinator, Hub, PartnerStaff
from core.db.session import unit_of_work
from core.domain.enums import ActorKind
from core.i18n import Catalog
from core.queues.sql import SqlAlchemyHubQueue
from yorozu.bootstrap import bootstrap
from yorozu.settings import settings_for_command
from yorozu.slack_users import slack_directory

admin_app = typer.Typer(help="Console administration for scripts.", no_args_is_help=True)


@admin_app.command("create-hq")
def create_hq(
    slack_user: Annotated[str, typer.Option("--slack-user", help="Slack user id (U…).")],
    team: Annotated[str, typer.Option("--team", help="Slack team id (T…).")],
    name: Annotated[str, typer.Option(help="Name shown in the console.")] = "本部 管理者",
) -> None:
    """Make a Slack user HQ (本部) in the operations console; safe to run twice."""
    settings = settings_for_command()

    async def main() -> str:
        container = await bootstrap(settings)
        try:
            problems = await unknown_users(slack_directory(container), team, [slack_user])
            if slack_user in problems:
                raise ValueError(Catalog.load().render(problems[slack_user]))
            async with unit_of_work(container.session_factory) as session:
                made = await create_hq_admin(
                    session,
                    slack_user_id=slack_user,
                    slack_team_id=team,
                    name=name,
                    now=container.clock.now(),
                )
            verb = "created" if made.created else "kept"
            return f"HQ admin {verb} (coordinator {made.coordinator_id})"
        finally:
            await container.aclose()

    try:
        typer.echo(asyncio.run(main()))
    except (NoHqHub, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc


@admin_app.command("import-cos")
def import_cos(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file.")],
    hub: Annotated[str, typer.Option("--hub", help="Hub code, for example 13.")],
    team: Annotated[str | None, typer.Option("--team", help="Slack team id of the COs.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; write nothing.")] = False,
) -> None:
    """Register or update a hub's COs from a CSV file (the console's import, for scripts)."""
    settings = settings_for_command()
    catalog = Catalog.load()
    report = co_import.read_sheet(path.read_bytes(), catalog)

    async def main() -> None:
        container = await bootstrap(settings)
        try:
            async with unit_of_work(container.session_factory) as session:
                found = await session.scalar(select(Hub).where(Hub.code == hub))
                if found is None:
                    raise typer.BadParameter(f"no hub with code {hub}", param_hint="--hub")
                directory = slack_directory(container)
                if dry_run:
                    await co_import.check_against_hub(
                        session, report, hub_id=found.id, team_id=team, directory=directory
                    )
                else:
                    await co_import.apply_import(
                        session,
                        report,
                        hub_id=found.id,
                        team_id=team,
                        actor_id=None,
                        now=container.clock.now(),
                        directory=directory,
                    )
        finally:
            await container.aclose()

    asyncio.run(main())
    for problem in report.file_errors:
        typer.echo(catalog.render(problem), err=True)
    for row in report.rows:
        for field, problem in row.errors:
            typer.echo(f"line {row.line}\t{field}\t{catalog.render(problem)}", err=True)
    if not report.ok:
        typer.echo(f"{report.error_count} problem(s); nothing written", err=True)
        raise typer.Exit(code=1)
    verb = "would write" if dry_run else "wrote"
    typer.echo(f"{verb} {len(report.rows)} coordinator(s)")


@admin_app.command("import-hub-info")
def import_hub_info(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; write nothing.")] = False,
) -> None:
    """Fill in 拠点のご案内 (address, phone, hours, ...) of many hubs from a CSV file, checked as
    the console's hub settings check them; yorozu/data/README.md describes the columns."""
    settings = settings_for_command()
    catalog = Catalog.load()
    data = path.read_bytes()

    async def main() -> hub_info_import.ImportReport:
        container = await bootstrap(settings)
        try:
            async with unit_of_work(container.session_factory) as session:
                if dry_run:
                    return await hub_info_import.check_sheet(session, data)
                return await hub_info_import.apply_sheet(
                    session, data, actor_id=None, now=container.clock.now()
                )
        finally:
            await container.aclose()

    report = asyncio.run(main())
    for problem in report.file_errors:
        typer.echo(catalog.render(problem), err=True)
    for row in report.rows:
        for field, problem in row.errors:
            typer.echo(f"line {row.line}\t{field}\t{catalog.render(problem)}", err=True)
    if not report.ok:
        typer.echo(f"{report.error_count} problem(s); nothing written", err=True)
        raise typer.Exit(code=1)
    verb = "would write" if dry_run else "wrote"
    typer.echo(f"{verb} the information of {len(report.rows)} hub(s)")


@admin_app.command("list")
def list_people(
    hub: Annotated[str | None, typer.Option("--hub", help="Hub code.")] = None,
    organisation: Annotated[
        int | None, typer.Option("--organisation", help="Partner organisation id.")
    ] = None,
) -> None:
    """A hub's coordinators, or a partner organisation's staff: id, role, active, Slack user,
    name."""
    if (hub is None) == (organisation is None):
        raise typer.BadParameter("give --hub or --organisation")
    settings = settings_for_command()

    async def main() -> list[str]:
        container = await bootstrap(settings)
        try:
            async with container.session_factory() as session:
                if organisation is not None:
                    staff = (
                        await session.scalars(
                            select(PartnerStaff)
                            .where(PartnerStaff.organisation_id == organisation)
                            .order_by(PartnerStaff.id)
                        )
                    ).all()
                    return [
                        f"{person.id}\t{'admin' if person.console_admin else 'staff'}"
                        f"\t{'active' if person.active else 'inactive'}"
                        f"\t{person.slack_user_id or ''}\t{person.name}"
                        for person in staff
                    ]
                rows = (
                    await session.scalars(
                        select(Coordinator)
                        .join(Hub, Hub.id == Coordinator.hub_id)
                        .where(Hub.code == hub)
                        .order_by(Coordinator.id)
                    )
                ).all()
                return [
                    f"{co.id}\t{co.role.value}\t{'active' if co.active else 'inactive'}"
                    f"\t{co.slack_user_id or ''}\t{co.name}"
                    for co in rows
                ]
        finally:
            await container.aclose()

    for line in ["id\trole\tactive\tslack_user\tname", *asyncio.run(main())]:
        typer.echo(line)


@admin_app.command("deactivate")
def deactivate(
    person_id: Annotated[int, typer.Argument(help="Coordinator id, or staff id with --staff.")],
    reactivate: Annotated[
        bool, typer.Option("--reactivate", help="Bring a deactivated person back.")
    ] = False,
    staff: Annotated[
        bool, typer.Option("--staff", help="The id is a partner organisation's staff member.")
    ] = False,
) -> None:
    """A CO leaves: no new cases, their open cases back in the queue, the CCOs told. With
    --staff, a partner's staff member leaves: history kept, no new hand-overs from Slack."""
    settings = settings_for_command()

    async def main() -> str:
        container = await bootstrap(settings)
        try:
            async with unit_of_work(container.session_factory) as session:
                if staff:
                    person = await session.get(PartnerStaff, person_id)
                    if person is None:
                        raise typer.BadParameter(f"no staff member {person_id}", param_hint="ID")
                    changed = await set_staff_active(
                        session,
                        person,
                        reactivate,
                        actor_kind=ActorKind.SYSTEM,
                        actor_id=None,
                        now=container.clock.now(),
                    )
                    if not changed:
                        return "nothing changed"
                    state = "active again" if reactivate else "deactivated"
                    return f"staff member {person_id} {state}"
                co = await session.get(Coordinator, person_id)
                if co is None:
                    raise typer.BadParameter(f"no coordinator {person_id}", param_hint="ID")
                done = await set_active(
                    session,
                    co,
                    reactivate,
                    actor_id=None,
                    now=container.clock.now(),
                    queue=SqlAlchemyHubQueue.in_transaction(session),
                )
            if not done.changed:
                return "nothing changed"
            if reactivate:
                return f"coordinator {person_id} is active again"
            reopened = ", ".join(done.reopened) or "none"
            return f"coordinator {person_id} deactivated; cases back in the queue: {reopened}"
        finally:
            await container.aclose()

    typer.echo(asyncio.run(main()))
