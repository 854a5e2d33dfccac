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
    for name in ("api", "postgres", "redis"):
        assert "healthcheck" in services[name], name


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
