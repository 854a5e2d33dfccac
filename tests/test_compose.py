"""docker-compose.yml is validated here (no Docker engine): its roles exist in the CLI."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.main import get_command

from yorozu.cli import app

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict[str, object]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_production_shape_has_every_service() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    assert {"api", "worker", "dispatcher", "scheduler", "postgres", "redis"} <= set(services)
    for name in ("api", "worker", "dispatcher", "scheduler", "postgres", "redis"):
        assert "healthcheck" in services[name], name


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_each_role_checks_itself_where_it_serves() -> None:
    """`yorozu ROLE --check` of the same role, on the port that role listens on; a valid
    command line of the CLI."""
    services = compose()["services"]
    assert isinstance(services, dict)
    cli = get_command(app)
    for role in ("api", "worker", "dispatcher", "scheduler"):
        command = services[role]["command"]
        test = services[role]["healthcheck"]["test"]
        assert test[:4] == ["CMD", "yorozu", role, "--check"], role
        port = "--port" if role == "api" else "--metrics-port"
        assert _option(test, port) == _option(command, port) is not None, role
        cli.commands[role].make_context(role, list(test[3:]))  # type: ignore[attr-defined]


def test_the_image_has_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["yorozu", "api", "--check", "--port", "8000"]' in dockerfile
    assert "HEALTHCHECK " in dockerfile


def test_every_service_command_is_a_cli_command() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    cli = get_command(app)
    commands = set(cli.commands)  # type: ignore[attr-defined]
    for name, service in services.items():
        command = service.get("command")
        if not command or command[0] != "yorozu":
            continue
        assert command[1] in commands, f"{name}: yorozu {command[1]} is not a CLI command"
        # Its options too: parsing fails on an option the command does not have.
        sub = cli.commands[command[1]]  # type: ignore[attr-defined]
        sub.make_context(command[1], list(command[2:]))


def test_app_services_migrate_before_they_start() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    for name in ("api", "worker", "dispatcher", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql")
        assert env["REDIS_URL"].startswith("redis://")
