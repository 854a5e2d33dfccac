"""Settings: every accepted spelling works, every bad one stops start-up in one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from yorozu.settings import (
    DEV_PRIVACY_NOTICE_URL,
    PRODUCTION_SECRETS,
    Environment,
    describe_settings_error,
    load_settings,
    normalize_database_url,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sqlite:///var/y.db", "sqlite+aiosqlite:////work/x/var/y.db"),
        ("sqlite+aiosqlite:///var/y.db", "sqlite+aiosqlite:////work/x/var/y.db"),
        ("sqlite:////abs/y.db", "sqlite+aiosqlite:////abs/y.db"),
        ("postgresql://u:p@db:5432/y", "postgresql+asyncpg://u:p@db:5432/y"),
        ("postgres://u@db/y", "postgresql+asyncpg://u@db/y"),
        ("postgresql+asyncpg://u@db/y", "postgresql+asyncpg://u@db/y"),
    ],
)
def test_database_urls_are_normalised_to_async_drivers(raw: str, expected: str) -> None:
    assert normalize_database_url(raw, cwd=Path("/work/x")) == expected


def test_default_database_is_a_sqlite_file_under_var_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.sqlite_path() == (tmp_path / "var" / "yorozu.db").resolve()
    assert settings.is_embedded


def test_env_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDIS_URL", raising=False)
    (tmp_path / ".env").write_text("REDIS_URL=redis://127.0.0.1:6379/3\n")
    assert load_settings().redis_url == "redis://127.0.0.1:6379/3"


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"database_url": "mysql://x/y"}, "setting DATABASE_URL: expected a sqlite:// or"),
        ({"redis_url": "http://cache"}, "setting REDIS_URL: expected a redis:// or rediss://"),
        ({"line_api_base_url": "not a url"}, "setting LINE_API_BASE_URL:"),
        ({"log_level": "LOUD"}, "setting LOG_LEVEL: expected one of DEBUG"),
        ({"yorozu_env": "prod"}, "setting YOROZU_ENV:"),
    ],
)
def test_a_bad_setting_is_named_in_one_line(overrides: dict[str, str], line: str) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(**overrides)
    message = describe_settings_error(caught.value)
    assert message.startswith(line)
    assert "\n" not in message


def test_production_lists_everything_it_lacks_in_one_line_without_values() -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(yorozu_env=Environment.production)
    message = describe_settings_error(caught.value)
    assert message.startswith("settings: YOROZU_ENV=production needs: ")
    assert "\n" not in message
    for name in ("database_url", "privacy_notice_url", *PRODUCTION_SECRETS):
        assert name.upper() in message
    assert "dev-line-channel-secret" not in message
    assert DEV_PRIVACY_NOTICE_URL not in message


def test_the_development_privacy_notice_is_no_real_site() -> None:
    assert str(load_settings().privacy_notice_url).startswith("https://privacy-notice.invalid")


def test_secrets_never_appear_in_repr_or_errors() -> None:
    settings = load_settings(
        line_channel_secret="s3cr3t-line", slack_bot_token="xoxb-s3cr3t", redis_url=None
    )
    assert "s3cr3t" not in repr(settings)
    assert "s3cr3t" not in str(settings.model_dump())
    with pytest.raises(ValidationError) as caught:
        load_settings(slack_bot_token="xoxb-s3cr3t", database_url="oracle://s3cr3t@x")
    assert "s3cr3t" not in describe_settings_error(caught.value)


REAL = {
    "database_url": "postgresql://yorozu@db/yorozu",
    "privacy_notice_url": "https://hub.example.jp/privacy",
    "line_channel_secret": "a" * 32,
    "line_channel_access_token": "b" * 40,
    "slack_signing_secret": "c" * 32,
    "slack_bot_token": "xoxb-1-2-" + "d" * 24,
    "log_hash_salt": "e" * 32,
    "console_session_secret": "f" * 32,
}


def test_production_starts_with_everything_it_needs() -> None:
    assert load_settings(yorozu_env=Environment.production, **REAL).yorozu_env == "production"


@pytest.mark.parametrize(
    ("left_out", "named"),
    [
        ("database_url", "DATABASE_URL (unset means the development SQLite file)"),
        ("privacy_notice_url", "PRIVACY_NOTICE_URL (your privacy notice's page)"),
        ("slack_signing_secret", "SLACK_SIGNING_SECRET (real secrets"),
    ],
)
def test_production_names_the_one_thing_left_out(
    left_out: str, named: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(left_out.upper(), raising=False)
    given = {k: v for k, v in REAL.items() if k != left_out}
    with pytest.raises(ValidationError) as caught:
        load_settings(yorozu_env=Environment.production, **given)
    message = describe_settings_error(caught.value)
    assert message.startswith(f"settings: YOROZU_ENV=production needs: {named}")
    assert [name for name in REAL if name.upper() in message] == [left_out]


def test_production_refuses_placeholders_copied_from_env_example() -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(yorozu_env=Environment.production, **{**REAL, "slack_bot_token": "change-me"})
    assert describe_settings_error(caught.value) == (
        "settings: YOROZU_ENV=production needs: SLACK_BOT_TOKEN (real secrets, not the "
        "development values or change-me)"
    )


@pytest.mark.parametrize(
    ("overrides", "on"),
    [
        ({}, True),  # the embedded development default
        ({"redis_url": "redis://127.0.0.1:6379/0"}, False),
        ({"yorozu_env": Environment.test}, False),
        ({"line_channel_secret": "a-real-one"}, False),
        ({"redis_url": "redis://127.0.0.1:6379/0", "emulator_enabled": True}, True),
        ({"emulator_enabled": False}, False),
    ],
)
def test_the_emulator_is_on_only_for_the_embedded_development_default(
    overrides: dict[str, object], on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("EMULATOR_ENABLED", "REDIS_URL", "YOROZU_ENV", "LINE_CHANNEL_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(**overrides).emulator_on is on


@pytest.mark.parametrize(
    "overrides",
    [
        {"yorozu_env": Environment.production},
        {"line_channel_secret": "a-real-channel-secret"},
        {"slack_bot_token": "xoxb-a-real-token"},
    ],
)
def test_the_emulator_is_refused_in_production_and_with_real_secrets(
    overrides: dict[str, object],
) -> None:
    with pytest.raises(ValidationError) as caught:
        load_settings(emulator_enabled=True, **overrides)
    message = describe_settings_error(caught.value)
    assert message.startswith("setting EMULATOR_ENABLED: expected false in production")
    assert "a-real" not in message


@pytest.mark.parametrize("command", [["seed"], ["db", "current"], ["dispatcher"], ["demo"]])
def test_every_command_stops_on_a_bad_setting_with_one_line_and_exit_2(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from typer.testing import CliRunner

    from yorozu.cli import app

    monkeypatch.setenv("LOG_LEVEL", "s3cr3t")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    shown = capsys.readouterr().err + result.output
    assert "setting LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR" in shown
    assert "s3cr3t" not in shown
