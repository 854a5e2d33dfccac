"""`yorozu admin …`: the console's operations for scripts and for the very first sign-in.

`create-hq` is the break-glass way into a fresh install: it makes one Slack user HQ (本部),
who then signs in to /console and registers everyone else. `import-cos` reads the same CSV
as the console's import page, through the same core functions, with the same dry run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from core.console import co_import, hub_info_import
from core.console.deactivate import set_active
from core.console.people import NoHqHub, create_hq_admin
from core.db.models import Coordinator, Hub
from core.db.session import unit_of_work
from core.i18n import Catalog
from core.queues.sql import SqlAlchemyHubQueue
from yorozu.bootstrap import bootstrap
from yorozu.settings import settings_for_command

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
                if dry_run:
                    await co_import.check_against_hub(
                        session, report, hub_id=found.id, team_id=team
                    )
                else:
                    await co_import.apply_import(
                        session,
                        report,
                        hub_id=found.id,
                        team_id=team,
                        actor_id=None,
                        now=container.clock.now(),
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
    hub: Annotated[str, typer.Option("--hub", help="Hub code.")],
) -> None:
    """The hub's coordinators: id, role, active, Slack user, name."""
    settings = settings_for_command()

    async def main() -> list[str]:
        container = await bootstrap(settings)
        try:
            async with container.session_factory() as session:
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
    co_id: Annotated[int, typer.Argument(help="Coordinator id (yorozu admin list).")],
    reactivate: Annotated[
        bool, typer.Option("--reactivate", help="Bring a deactivated CO back.")
    ] = False,
) -> None:
    """A CO leaves: no new cases, their open cases back in the queue, the CCOs told."""
    settings = settings_for_command()

    async def main() -> str:
        container = await bootstrap(settings)
        try:
            async with unit_of_work(container.session_factory) as session:
                co = await session.get(Coordinator, co_id)
                if co is None:
                    raise typer.BadParameter(f"no coordinator {co_id}", param_hint="CO_ID")
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
                return f"coordinator {co_id} is active again"
            reopened = ", ".join(done.reopened) or "none"
            return f"coordinator {co_id} deactivated; cases back in the queue: {reopened}"
        finally:
            await container.aclose()

    typer.echo(asyncio.run(main()))
