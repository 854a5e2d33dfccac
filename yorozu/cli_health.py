"""`--check` for the role commands: what docker-compose.yml and the Dockerfile run."""

from __future__ import annotations

from typing import Annotated

import typer

from yorozu.heartbeat import DEFAULT_MAX_AGE, CheckResult

__all__ = ["DEFAULT_MAX_AGE", "Check", "MaxAge", "finish", "role_check"]

Check = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Health check: exit 1 if this role's heartbeat at --metrics-port (api: "
        "/healthz at --port) is stale or unreadable; starts nothing.",
    ),
]
MaxAge = Annotated[
    float,
    typer.Option(help="With --check: seconds after which a heartbeat is stale.", min=1),
]


def role_check(role: str, metrics_port: int | None, max_age: float) -> None:
    """Check a background role's heartbeat and exit with the verdict."""
    from core.clock import SystemClock
    from yorozu.heartbeat import check_role

    if metrics_port is None:
        typer.echo(f"{role} --check reads the heartbeat at --metrics-port: give it", err=True)
        raise typer.Exit(2)
    finish(check_role(role, port=metrics_port, clock=SystemClock(), max_age=max_age))


def finish(result: CheckResult) -> None:
    typer.echo(result.detail, err=not result.healthy)
    raise typer.Exit(0 if result.healthy else 1)
