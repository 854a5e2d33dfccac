"""The `yorozu` command as a person meets it: its version line and its help."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from core.db.migrate import head_revision
from yorozu.cli import app


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, sub in getattr(cmd, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_version_prints_package_version_and_migration_head() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    head = head_revision()
    assert head is not None
    assert result.output.strip() == (
        f"yorozu-front-door {version('yorozu-front-door')}, migration head {head}"
    )


@pytest.mark.parametrize("path", _commands(get_command(app)), ids=" ".join)
def test_help_shows_flags_as_flags(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    assert "<bool>" not in result.output


def test_a_flag_takes_no_value() -> None:
    # --verbose alone is accepted: the error is the bad language that follows it.
    result = CliRunner().invoke(app, ["demo", "--verbose", "--lang", "xx"])
    assert result.exit_code == 2
    assert "--lang" in result.output
    assert "unexpected extra argument" not in result.output
