"""`yorozu privacy …`: APPI requests (個人情報保護法) on the operator's side, for scripts.

`find` says which person rows a request is about, `export` writes 開示 as JSON and as a
Japanese HTML page, `correct` puts right a name, phone or e-mail (訂正), `erase` erases (消去),
with `--dry-run` listing every row and every Slack message that would change. The same core
functions as the console's privacy page (core.privacy.requests); each writes an audit row with
ids and counts only. What they print is for the operator's terminal: it is never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from bots.slack.home import refresh_homes
from core.db.session import unit_of_work
from core.i18n import Catalog, Text
from core.privacy import requests
from core.privacy.correct import Correction, correct_person
from core.privacy.export import render_html
from core.privacy.find import BadQuery, Query
from core.privacy.requests import ErasurePlan, Operator
from yorozu.bootstrap import bootstrap
from yorozu.settings import settings_for_command

privacy_app = typer.Typer(
    help="APPI requests: find, export (開示), correct (訂正), erase (消去).", no_args_is_help=True
)
CLI = Operator(via="cli")

T = TypeVar("T")


def _in_transaction(work: Callable[[AsyncSession, datetime], Awaitable[T]]) -> T:
    """Run `work` in one transaction of the configured database, at the service's now."""
    settings = settings_for_command()

    async def main() -> T:
        container = await bootstrap(settings)
        try:
            async with unit_of_work(container.session_factory) as session:
                return await work(session, container.clock.now())
        finally:
            await container.aclose()

    return asyncio.run(main())


PersonIds = Annotated[list[int], typer.Argument(help="Person ids (from `yorozu privacy find`).")]


@privacy_app.command("find")
def find(
    line_user: Annotated[str | None, typer.Option("--line-user", help="LINE user id.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number, written any way.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    name: Annotated[str | None, typer.Option(help="Name (with --business).")] = None,
    business: Annotated[str | None, typer.Option(help="Business name (with --name).")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Case number.")] = None,
) -> None:
    """The person rows a request is about, and what matched each."""
    catalog = Catalog.load()
    query = Query(
        line_user_id=line_user,
        phone=phone,
        email=email,
        name=name,
        business=business,
        case_number=case,
    )
    try:
        matches = _in_transaction(
            lambda session, now: requests.find(session, query, operator=CLI, now=now)
        )
    except BadQuery as exc:
        typer.echo(catalog.render(Text(f"privacy.find.error.{exc.code}")), err=True)
        raise typer.Exit(code=2) from exc
    if not matches:
        typer.echo("nobody found")
        raise typer.Exit(code=1)
    typer.echo("person\terased\tmatched by\tname\tcases\tbusinesses")
    for match in matches:
        typer.echo(
            "\t".join(
                (
                    str(match.person_id),
                    "yes" if match.erased else "no",
                    ",".join(sorted(match.matched_by)),
                    match.display_name or "-",
                    ",".join(match.case_numbers) or "-",
                    ",".join(match.businesses) or "-",
                )
            )
        )


@privacy_app.command("export")
def export(
    person: Annotated[int, typer.Argument(help="Person id.")],
    out: Annotated[Path, typer.Option(help="Folder for the JSON and HTML files.")] = Path("."),
    lang: Annotated[str, typer.Option(help="Language of the page: ja or en.")] = "ja",
) -> None:
    """開示: everything held about the person, as person-ID.json and person-ID.html."""
    catalog = Catalog.load()
    try:
        result = _in_transaction(
            lambda session, now: requests.export(session, person, operator=CLI, now=now)
        )
    except LookupError as exc:
        typer.echo(f"no person {person}", err=True)
        raise typer.Exit(code=1) from exc
    out.mkdir(parents=True, exist_ok=True)
    data, page = out / f"person-{person}.json", out / f"person-{person}.html"
    data.write_text(result.as_json() + "\n", encoding="utf-8")
    page.write_text(render_html(result, catalog, lang), encoding="utf-8")
    rows = sum(result.counts.values())
    typer.echo(f"wrote {data} and {page} ({rows} rows)")


@privacy_app.command("correct")
def correct(
    person: Annotated[int, typer.Argument(help="Person id.")],
    name: Annotated[str | None, typer.Option(help="The right name (family given).")] = None,
    phone: Annotated[str | None, typer.Option(help="The right phone number.")] = None,
    email: Annotated[str | None, typer.Option(help="The right e-mail address.")] = None,
) -> None:
    """訂正: put right the person's name, phone or e-mail (checked; nothing written if wrong)."""
    catalog = Catalog.load()

    async def work(session: AsyncSession, now: datetime) -> list[str] | dict[str, Text]:
        result = await correct_person(
            session,
            person,
            Correction(name=name, phone=phone, email=email),
            operator=CLI,
            now=now,
        )
        return result.changed if result.ok else dict(result.errors)

    try:
        outcome = _in_transaction(work)
    except LookupError as exc:
        typer.echo(f"no person {person}", err=True)
        raise typer.Exit(code=1) from exc
    if isinstance(outcome, dict):
        for field, problem in outcome.items():
            typer.echo(f"{field}\t{catalog.render(problem)}", err=True)
        raise typer.Exit(code=1)
    typer.echo(f"corrected: {', '.join(outcome) or 'nothing (already so)'}")


def _report(plan: ErasurePlan, slack_mode: str) -> None:
    verb = "would change" if plan.dry_run else "changed"
    typer.echo(f"people: {', '.join(map(str, plan.people)) or '-'}")
    for table, ids in sorted(plan.rows.items()):
        typer.echo(f"{verb}\t{table}\t{len(ids)} row(s)\t{','.join(map(str, ids))}")
    for kind, count in sorted(plan.counts.items()):
        if count:
            typer.echo(f"erased\t{kind}\t{count}")
    for target in plan.slack:
        typer.echo(
            f"slack\t{target.action.value}\t{target.channel}\t{target.ts}\t"
            f"{target.case_number or '-'}"
        )
    if plan.dry_run:
        typer.echo(f"{plan.slack_count} Slack message(s) would be changed ({slack_mode})")
    else:
        typer.echo(
            f"{plan.slack_count} Slack message(s) queued to be changed ({slack_mode}); "
            "the dispatcher sends them"
        )


@privacy_app.command("erase")
def erase(
    people: PersonIds,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would change; write only the audit row.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """消去: erase the people (and the same human's other rows) everywhere, Slack included."""
    settings = settings_for_command()
    mode = settings.slack_erasure
    if not dry_run and not yes:
        typer.confirm(
            f"Erase person {', '.join(map(str, people))}? This cannot be undone", abort=True
        )

    async def main() -> ErasurePlan:
        container = await bootstrap(settings)
        try:
            now = container.clock.now()
            if dry_run:
                return await requests.preview_erasure(
                    container.session_factory, people, operator=CLI, now=now, slack=mode
                )
            async with unit_of_work(container.session_factory) as session:
                plan = await requests.erase(session, people, operator=CLI, now=now, slack=mode)
                await refresh_homes(session, plan.coordinators, now=now)
                return plan
        finally:
            await container.aclose()

    try:
        plan = asyncio.run(main())
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    _report(plan, mode.value)
