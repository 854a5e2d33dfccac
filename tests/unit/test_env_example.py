""".env.example and README's Configuration table document every setting, and nothing else.

An operator deploys from these two files without reading settings.py (issue 8), so a setting
added to `Settings` without a line in both fails here, naming it. The example must also be a
working development setup when copied to .env as is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from yorozu.settings import PRODUCTION_SECRETS, Environment, Settings

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
README = ROOT / "README.md"

NOT_SETTINGS = frozenset({"POSTGRES_PASSWORD"})
"""Documented in .env.example for docker-compose.yml, not read by Settings."""

# `NAME=value` or a commented-out `# NAME=value`; prose comments never start with NAME=.
ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def example_lines() -> list[tuple[str, str, bool]]:
    """(name, value, commented) for each assignment line of .env.example."""
    found = []
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ASSIGNMENT.match(raw.strip())
        if match:
            found.append((match.group(1), match.group(2), raw.lstrip().startswith("#")))
    return found


def _configuration_section() -> str:
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Configuration\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert section, "README.md has no '## Configuration' section"
    return section.group(1)


def readme_configuration_names() -> set[str]:
    """The backticked names in the first column of README's Configuration table."""
    names: set[str] = set()
    for line in _configuration_section().splitlines():
        if not line.startswith("|"):
            continue
        first_column = line.split("|")[1]
        names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_column))
    return names


def readme_configuration_rows() -> list[tuple[list[str], str]]:
    """(names, default column) of each row of README's Configuration table."""
    rows = []
    for line in _configuration_section().splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 3:
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1]), cells[2].strip()))
    return rows


BY_BACKEND = frozenset({"WORKER_CONCURRENCY"})
"""Unset in Settings; README gives the value each database backend then gets."""


def _readme_value(written: str) -> object:
    """A default as README writes it: `literal`, a number, or unset; else None (prose)."""
    head = written.split(" (", 1)[0].strip()
    if head.startswith("`") and head.endswith("`"):
        return head.strip("`")
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", head):
        return float(head)
    return "unset" if head == "unset" else None


def _default_as_written(name: str) -> object:
    value = Settings.model_fields[name.lower()].default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return float(value)
    return str(getattr(value, "value", value)).rstrip("/")


def test_readme_defaults_are_the_settings_defaults() -> None:
    """Each default README's table states as a value (not prose such as "development
    values") is the one Settings has: an operator plans from that column."""
    checked = 0
    for names, column in readme_configuration_rows():
        parts = column.split(", ")
        written = [_readme_value(part) for part in (parts if len(names) > 1 else parts[:1])]
        for name, value in zip(names, written, strict=False):
            if value is None or name in NOT_SETTINGS | BY_BACKEND:
                continue
            expected = value.rstrip("/") if isinstance(value, str) else value
            assert _default_as_written(name) == expected, name
            checked += 1
    assert checked >= 30


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting from the process environment or a stray .env leaks into the check."""
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(env_file: Path) -> Settings:
    return Settings(_env_file=env_file)  # type: ignore[call-arg]


def test_every_setting_is_in_env_example() -> None:
    documented = {name for name, _, _ in example_lines()}
    missing = sorted(setting_names() - documented)
    assert not missing, f".env.example does not document: {', '.join(missing)}"


def test_env_example_names_only_real_settings() -> None:
    unknown = sorted({name for name, _, _ in example_lines()} - setting_names() - NOT_SETTINGS)
    assert not unknown, f".env.example names settings that do not exist: {', '.join(unknown)}"


def test_env_example_documents_the_compose_password() -> None:
    assert "POSTGRES_PASSWORD" in {name for name, _, _ in example_lines()}


def test_env_example_as_is_is_the_embedded_development_setup(clean_environment: Path) -> None:
    settings = load(ENV_EXAMPLE)
    assert settings.yorozu_env is Environment.development
    assert settings.is_embedded
    assert settings.database_backend == "sqlite"
    assert settings.sqlite_path() == (clean_environment / "var" / "yorozu.db").resolve()
    assert settings.uses_development_secrets
    assert settings.emulator_on


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, value, commented in example_lines() if commented],
)
def test_every_commented_example_is_a_value_settings_accepts(
    clean_environment: Path, name: str, value: str
) -> None:
    """Uncommenting any one line (secrets given, for production) still starts."""
    extra = [f"{name}={value}"]
    if name == "YOROZU_ENV" and value == "production":
        extra += [f"{secret.upper()}=not-a-real-secret" for secret in PRODUCTION_SECRETS]
        extra.append("PRIVACY_NOTICE_URL=https://hub.example.jp/privacy/")
    env_file = clean_environment / ".env"
    env_file.write_text(
        ENV_EXAMPLE.read_text(encoding="utf-8") + "\n" + "\n".join(extra) + "\n", encoding="utf-8"
    )
    load(env_file)


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    missing = sorted(setting_names() - readme_configuration_names())
    assert not missing, f"README.md's Configuration table does not list: {', '.join(missing)}"


def test_readme_configuration_table_names_only_real_settings() -> None:
    unknown = sorted(readme_configuration_names() - setting_names() - NOT_SETTINGS)
    assert not unknown, f"README.md's Configuration table lists unknown: {', '.join(unknown)}"
