"""Settings from the environment and a .env file, checked once at start-up.

A bad setting stops start-up with one line that names it and says what is expected, and never
echoes a secret's value: operators read these lines in shared logs.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from core.privacy.slack import SlackErasure

DEFAULT_DATABASE_URL = "sqlite:///var/yorozu.db"
# Development-only secrets let `make run` and the emulator work on a fresh machine; production
# refuses them (and any unset secret), so a forgotten setting cannot go live.
DEV_LINE_CHANNEL_SECRET = "dev-line-channel-secret"
DEV_LINE_CHANNEL_ACCESS_TOKEN = "dev-line-channel-access-token"
DEV_SLACK_SIGNING_SECRET = "dev-slack-signing-secret"
DEV_SLACK_BOT_TOKEN = "xoxb-dev-slack-bot-token"
DEV_PRIVACY_NOTICE_URL = "https://privacy-notice.invalid/"
"""Development only: `.invalid` can never be a real site, so nobody mistakes it for the
programme's notice; production refuses it."""
_DEV_SECRETS = {
    DEV_LINE_CHANNEL_SECRET,
    DEV_LINE_CHANNEL_ACCESS_TOKEN,
    DEV_SLACK_SIGNING_SECRET,
    DEV_SLACK_BOT_TOKEN,
}


PRODUCTION_SECRETS = (
    "line_channel_secret",
    "line_channel_access_token",
    "slack_signing_secret",
    "slack_bot_token",
    "log_hash_salt",
    "console_session_secret",
)
"""Settings production refuses while unset, a development value or a placeholder."""


def _is_placeholder(value: str) -> bool:
    """`change-me` and friends, as copied from .env.example without being replaced."""
    folded = value.lower().replace("-", "").replace("_", "")
    return "changeme" in folded or folded in {"secret", "token", "xxx", "todo"}


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


def normalize_database_url(raw: str, *, cwd: Path | None = None) -> str:
    """Turn any accepted spelling into the async driver URL the service runs on.

    People paste `postgresql://` from their hosting console and `sqlite:///var/x.db` from the
    README; the service needs asyncpg and aiosqlite. Relative SQLite paths are taken against
    the working directory, once, so every role and the migrations see the same file.
    """
    try:
        url: URL = make_url(raw)
    except ArgumentError as exc:
        raise ValueError("a SQLAlchemy URL such as sqlite:///var/yorozu.db") from exc
    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        url = url.set(drivername="postgresql+asyncpg")
    elif backend == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if not path.is_absolute():
                path = (cwd or Path.cwd()) / path
            url = url.set(database=str(path.resolve()))
    else:
        raise ValueError("a sqlite:// or postgresql:// URL")
    return url.render_as_string(hide_password=False)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    yorozu_env: Environment = Environment.development
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None

    line_channel_secret: SecretStr = SecretStr(DEV_LINE_CHANNEL_SECRET)
    line_channel_access_token: SecretStr = SecretStr(DEV_LINE_CHANNEL_ACCESS_TOKEN)
    line_api_base_url: AnyHttpUrl = AnyHttpUrl("https://api.line.me")
    line_data_api_base_url: AnyHttpUrl = AnyHttpUrl("https://api-data.line.me")
    slack_signing_secret: SecretStr = SecretStr(DEV_SLACK_SIGNING_SECRET)
    slack_bot_token: SecretStr = SecretStr(DEV_SLACK_BOT_TOKEN)
    slack_api_base_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")
    # Set both to let each partner organisation install the app in its own workspace (OAuth).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_oauth_redirect_uri: AnyHttpUrl | None = None
    # The operations console (/console) signs people in with Sign in with Slack, through the
    # same Slack app (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET); Slack's discovery document
    # lives under the issuer.
    slack_oidc_issuer: AnyHttpUrl = AnyHttpUrl("https://slack.com")
    console_slack_client_id: str | None = None
    """Unset: SLACK_CLIENT_ID (which also turns on OAuth installs for Bolt)."""
    console_slack_client_secret: SecretStr | None = None
    console_session_secret: SecretStr = SecretStr("yorozu-dev-console-session")
    """Signs the console's session cookie; production needs its own."""
    console_session_hours: Annotated[float, Field(gt=0, le=24 * 7)] = 8.0
    console_base_url: AnyHttpUrl | None = None
    """Where people open the console (https://your-host.example.jp), for links in Slack."""

    # Dispatch: per-destination rate caps (LINE's and Slack's published limits by default).
    line_rate_per_second: Annotated[float, Field(gt=0)] = 2000.0
    slack_rate_per_second: Annotated[float, Field(gt=0)] = 1.0
    slack_method_rate_per_minute: Annotated[float, Field(gt=0)] = 50.0
    """Other Slack methods (chat.update, views.publish) per workspace: Tier 3, 50+/min."""
    slack_history_rate_per_minute: Annotated[float, Field(gt=0)] = 50.0
    """Our pace of conversations.history/replies look-ups (before retrying a post that may
    have gone out), per workspace. Tier 3 for internal and Marketplace apps; Slack allows
    only 1/min to other distributed apps since 2025."""
    dispatch_concurrency: Annotated[int, Field(ge=1, le=1000)] = 64
    dispatch_batch: Annotated[int, Field(ge=1, le=5000)] = 200
    dispatch_lease_seconds: Annotated[float, Field(gt=0)] = 30.0
    dispatch_poll_seconds: Annotated[float, Field(gt=0)] = 0.5
    inbox_backlog_degraded_seconds: Annotated[float, Field(gt=0)] = 120.0
    """/healthz says degraded when the oldest unhandled inbound event is older than this."""
    send_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 5.0
    line_quota_refresh_seconds: Annotated[float, Field(ge=0)] = 300.0
    # Push budget and timing of owner pushes (issue 7, invariant 7).
    line_monthly_push_budget: Annotated[int | None, Field(ge=0)] = None
    """The default channel's monthly push budget; None: unlimited (hub channels: line_channels)."""
    push_budget_warn_fraction: Annotated[float, Field(gt=0, le=1)] = 0.8
    """Tell the CCO once a month when this share of a channel's budget is spent."""
    push_grace_hours: Annotated[float, Field(gt=0)] = 24.0
    """After downtime an owner push this late is recorded as missed instead of sent."""
    # Scheduler jobs.
    escalation_hours: Annotated[int, Field(ge=1)] = 24
    """Business hours a case may wait unclaimed before the CCO is told (a hub's own
    escalation_hours wins when set)."""
    escalation_hq_extra_hours: Annotated[int, Field(ge=1)] = 16
    """Further business hours after which HQ is told too (M = N + this)."""
    retention_days: Annotated[int, Field(ge=30)] = 1827
    """Personal data of cases closed this long (5 years) is erased nightly (invariant 8)."""
    slack_erasure: SlackErasure = SlackErasure.UPDATE
    """What erasing a person does to the Slack messages about them: update (edited in place
    to the erased notice) or delete (chat.delete). The current card is refreshed either way."""
    worker_concurrency: Annotated[int | None, Field(ge=1, le=256)] = None
    rich_menu_font: str | None = None

    privacy_notice_url: AnyHttpUrl = AnyHttpUrl(DEV_PRIVACY_NOTICE_URL)

    log_level: str = "INFO"
    log_json: bool = True
    # Salt for hashing platform user ids in logs (invariant 9).
    log_hash_salt: SecretStr = SecretStr("yorozu-dev-log-salt")
    seed_demo: Annotated[bool, Field(description="serve seeds demo COs and partners")] = False
    emulator_enabled: bool | None = None
    """The emulator page at /emulator (local LINE and Slack stand-ins, a movable clock).
    Unset: on for the embedded development default with the development secrets, else off.
    Refused in production and with real secrets: it signs requests with the configured ones."""

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("a redis:// or rediss:// URL, or unset for the embedded setup")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("one of DEBUG, INFO, WARNING, ERROR")
        return upper

    @model_validator(mode="after")
    def _emulator_only_with_development_secrets(self) -> Settings:
        if self.emulator_enabled and (
            self.yorozu_env is Environment.production or not self.uses_development_secrets
        ):
            raise SettingError(
                "EMULATOR_ENABLED",
                "false in production or with real LINE/Slack secrets (it signs requests with them)",
            )
        return self

    @model_validator(mode="after")
    def _production_needs_its_settings(self) -> Settings:
        """Everything production needs, checked together: one line lists all that are
        missing, so an operator fixes them in one go rather than one start-up at a time."""
        if self.yorozu_env is not Environment.production:
            return self
        missing: list[tuple[str, str]] = []
        if "database_url" not in self.model_fields_set:
            missing.append(("DATABASE_URL", "unset means the development SQLite file"))
        if str(self.privacy_notice_url) == DEV_PRIVACY_NOTICE_URL:
            missing.append(("PRIVACY_NOTICE_URL", "your privacy notice's page"))
        for name in PRODUCTION_SECRETS:
            secret: SecretStr = getattr(self, name)
            value = secret.get_secret_value()
            if (
                not value
                or value in _DEV_SECRETS
                or value in ("yorozu-dev-log-salt", "yorozu-dev-console-session")
                or _is_placeholder(value)
            ):
                missing.append((name.upper(), SECRET_NEEDED))
        if missing:
            raise ProductionSettingsMissing(missing)
        return self

    @property
    def uses_development_secrets(self) -> bool:
        """All four platform secrets are the published development values."""
        return {
            self.line_channel_secret.get_secret_value(),
            self.line_channel_access_token.get_secret_value(),
            self.slack_signing_secret.get_secret_value(),
            self.slack_bot_token.get_secret_value(),
        } <= _DEV_SECRETS

    @property
    def emulator_on(self) -> bool:
        """Whether `serve` mounts the emulator (see `emulator_enabled`)."""
        if self.emulator_enabled is not None:
            return self.emulator_enabled
        return (
            self.yorozu_env is Environment.development
            and self.is_embedded
            and self.uses_development_secrets
        )

    @property
    def is_embedded(self) -> bool:
        """No Redis: queues, de-duplication and rate limits live in the database or process."""
        return self.redis_url is None

    @property
    def database_backend(self) -> str:
        return make_url(self.database_url).get_backend_name()

    def sqlite_path(self) -> Path | None:
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)


class SettingError(ValueError):
    """One bad setting, described in one line without its value."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(f"{name}: expected {expected}")
        self.name = name
        self.expected = expected


SECRET_NEEDED = "real secrets, not the development values or change-me"


class ProductionSettingsMissing(SettingError):
    """All the settings production lacks, in one line without their values."""

    def __init__(self, missing: list[tuple[str, str]]) -> None:
        by_need: dict[str, list[str]] = {}
        for name, need in missing:
            by_need.setdefault(need, []).append(name)
        parts = [f"{', '.join(names)} ({need})" for need, names in by_need.items()]
        super().__init__(", ".join(name for name, _ in missing), "; ".join(parts))
        self.missing = missing
        self.args = (f"YOROZU_ENV=production needs: {self.expected}",)


def describe_settings_error(exc: ValidationError) -> str:
    """One line naming the first bad setting and what it expects; never the value."""
    for error in exc.errors(include_input=False, include_url=False):
        location = error.get("loc") or ()
        name = str(location[0]).upper() if location else "SETTINGS"
        context = error.get("ctx") or {}
        inner = context.get("error")
        if isinstance(inner, ProductionSettingsMissing):
            return f"settings: {inner}"
        if isinstance(inner, SettingError):
            return f"setting {inner.name}: expected {inner.expected}"
        if inner is not None:
            return f"setting {name}: expected {inner}"
        return f"setting {name}: {error.get('msg', 'invalid value')}"
    return "settings: invalid"


def load_settings(**overrides: object) -> Settings:
    """Build Settings once; tests pass overrides instead of touching os.environ."""
    return Settings(**overrides)  # type: ignore[arg-type]


def settings_for_command(**overrides: object) -> Settings:
    """Settings for a CLI command: a bad one prints one line on stderr and exits with 2,
    before anything connects (the same for every command). Good ones also set up logging,
    so every role and command writes the same lines."""
    import sys

    from yorozu.logs import configure_logging

    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        print(describe_settings_error(exc), file=sys.stderr)
    except ValueError as exc:
        print(f"settings: {exc}", file=sys.stderr)
    else:
        configure_logging(settings)
        return settings
    raise SystemExit(2)


def env_file_present() -> bool:
    return Path(os.getcwd(), ".env").exists()
