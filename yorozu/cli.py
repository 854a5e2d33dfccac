"""The `yorozu` command: one sub-command per process role, plus database and seed tools.

Every command loads settings first, so a bad setting stops it with one line on stderr
(exit code 2) before anything connects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from yorozu.cli_dispatch import MetricsPort
from yorozu.cli_health import DEFAULT_MAX_AGE, Check, MaxAge, finish, role_check
from yorozu.settings import Settings, settings_for_command


class _FlagsShownAsFlags(TyperGroup):
    """The root command, which shows every flag of the tree as a flag: typer's help marks
    boolean flags `<bool>`, which reads as "takes a value" (and `--verbose true` is then
    refused with exit 2). A flag's help shows no value: --flag alone turns it on, --no-flag
    (where there is one) off. Typer ships its own copy of click, so options are matched by
    their `is_flag`, not by class; sub-commands are built before the root, so all are here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _unmark_flags(self)


def _unmark_flags(cmd: Any) -> None:
    help_option = cmd.get_help_option(cmd.context_class(cmd))
    for param in [*cmd.params, help_option]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    for sub in getattr(cmd, "commands", {}).values():
        _unmark_flags(sub)


app = typer.Typer(
    cls=_FlagsShownAsFlags,
    name="yorozu",
    help="Yorozu Front Door: the LINE and Slack front door of the Yorozu Support Centers.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema tools.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _settings() -> Settings:
    return settings_for_command()


def version_line() -> str:
    """The installed package's version and the newest migration it ships: what an operator
    compares with `yorozu db current` before and after an upgrade."""
    from importlib.metadata import version

    from core.db.migrate import head_revision

    return f"yorozu-front-door {version('yorozu-front-door')}, migration head {head_revision()}"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and the migration head, then exit.",
            callback=_show_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Yorozu Front Door: the LINE and Slack front door of the Yorozu Support Centers."""


def _run(main: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return asyncio.run(main())  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return None


Host = Annotated[str, typer.Option(help="Interface to listen on.")]
Port = Annotated[int, typer.Option(help="TCP port to listen on.", min=1, max=65535)]


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """API, worker, dispatcher and scheduler: the embedded default.

    Migrates and seeds an empty database on start, so a fresh ./var/ just works. The worker,
    dispatcher and scheduler run in a child process beside the API (the emulator keeps them
    in the API's own), so a busy worker never slows the webhook's acknowledgements.
    """
    from yorozu.server import run_http

    settings = _settings()
    run_http(settings, host=host, port=port, roles="all")


@app.command()
def api(host: Host = "0.0.0.0", port: Port = 8000, check: Check = False) -> None:
    """The HTTP API and webhooks only (production: run several behind a load balancer)."""
    from yorozu.server import run_http

    if check:
        from yorozu.heartbeat import check_api

        finish(check_api(port=port))

    settings = _settings()
    run_http(settings, host=host, port=port, roles="api")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from core.db.migrate import current_revision, upgrade
    from yorozu.bootstrap import bootstrap

    settings = _settings()

    async def main() -> str | None:
        container = await bootstrap(settings)
        try:
            await upgrade(container.engine, revision)
            return await current_revision(container.engine)
        finally:
            await container.aclose()

    typer.echo(f"database at revision {_run(main)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision and the newest one shipped."""
    from core.db.migrate import current_revision, head_revision
    from yorozu.bootstrap import bootstrap

    settings = _settings()

    async def main() -> str | None:
        container = await bootstrap(settings)
        try:
            return await current_revision(container.engine)
        finally:
            await container.aclose()

    typer.echo(f"current {_run(main)}, head {head_revision()}")


@app.command()
def seed(
    demo: Annotated[bool, typer.Option(help="Also add demo COs, partners and staff.")] = False,
) -> None:
    """Load the 47 hubs and HQ (idempotent); --demo adds COs and partner organisations."""
    from core.db.migrate import upgrade
    from core.db.session import unit_of_work
    from yorozu.bootstrap import bootstrap
    from yorozu.seed import seed as run_seed

    settings = _settings()

    async def main() -> Any:
        container = await bootstrap(settings)
        try:
            await upgrade(container.engine)
            async with unit_of_work(container.session_factory) as session:
                return await run_seed(session, demo=demo, clock=container.clock)
        finally:
            await container.aclose()

    typer.echo(str(_run(main)))


@app.command()
def scheduler(
    metrics_port: MetricsPort = None, check: Check = False, max_age: MaxAge = DEFAULT_MAX_AGE
) -> None:
    """Periodic jobs (production: one active instance; a standby waits for the lock)."""
    import signal

    from scheduler.runner import run_scheduler
    from yorozu.bootstrap import bootstrap
    from yorozu.heap import freeze_startup_heap
    from yorozu.heartbeat import keep_beating
    from yorozu.roles import scheduler_options

    if check:
        role_check("scheduler", metrics_port, max_age)
    settings = _settings()

    async def main() -> None:
        container = await bootstrap(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        stop_metrics = None
        if metrics_port:
            from yorozu.metrics import serve_metrics

            stop_metrics = serve_metrics(container.metrics, metrics_port)
        beating = asyncio.create_task(keep_beating(container, "scheduler", stop))
        freeze_startup_heap()
        try:
            await run_scheduler(
                container.engine,
                container.session_factory,
                container.clock,
                stop=stop,
                **scheduler_options(settings),
            )
        finally:
            stop.set()
            await beating
            if stop_metrics is not None:
                stop_metrics()
            await container.aclose()

    _run(main)


def _register_subcommands() -> None:
    from yorozu.cli_admin import admin_app
    from yorozu.cli_background import background_command
    from yorozu.cli_dispatch import dispatcher_command
    from yorozu.cli_inbox import inbox_app, worker_command
    from yorozu.cli_line import line_app
    from yorozu.cli_privacy import privacy_app
    from yorozu.demo.cli import demo_command

    app.add_typer(inbox_app, name="inbox", help="Inspect and replay stored inbound events.")
    app.add_typer(line_app, name="line", help="LINE account set-up: rich menus.")
    app.add_typer(admin_app, name="admin", help="Console administration: HQ, CO imports.")
    app.add_typer(privacy_app, name="privacy", help="APPI requests: find, export, correct, erase.")
    app.command("worker")(worker_command)
    app.command("dispatcher")(dispatcher_command)
    app.command("demo")(demo_command)
    app.command("background", hidden=True)(background_command)


_register_subcommands()


def command() -> Any:
    """The command tree, with flags shown as flags: typer's help marks every boolean flag
    `<bool>`, which reads as "takes a value" (and `--verbose true` is then refused with exit
    2). A flag's help shows no value: --flag alone turns it on, --no-flag (where there is
    one) off. (Typer ships its own copy of click, so the options are matched by their
    `is_flag`, not by class.)"""
    root = typer.main.get_command(app)

    def unmark(cmd: Any) -> None:
        help_option = cmd.get_help_option(cmd.context_class(cmd))
        for param in [*cmd.params, help_option]:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        for sub in getattr(cmd, "commands", {}).values():
            unmark(sub)

    unmark(root)
    return root


def main() -> None:
    app(prog_name="yorozu")


if __name__ == "__main__":
    main()
