"""LINE and Slack stand-ins on local ports, and the settings that point the service at them."""

from __future__ import annotations

from types import TracebackType

from pydantic import AnyHttpUrl, SecretStr

from core.clock import Clock
from integrations.standins import (
    LineApiStandin,
    ServerThread,
    SlackApiStandin,
    create_line_api,
    create_slack_api,
)
from integrations.standins.slack_oidc import SlackOidcStandin, create_slack_oidc
from yorozu.sandbox.line_owner import LineOwner
from yorozu.sandbox.slack_person import SlackPerson
from yorozu.settings import Settings

DEFAULT_LINE_CHANNEL_ID = "2000000001"
TEAM_ID = "T0YOROZUDEMO"
CONSOLE_CLIENT_ID = "0000000000.0000000001"
CONSOLE_CLIENT_SECRET = "emulator-console-client-secret"
"""The console's Sign in with Slack app on the local OIDC stand-in (development only)."""


class LocalPlatforms:
    """Both stand-ins, each served by uvicorn on its own thread and port.

    They run on real ports (not in-process transports) so the service's own HTTP clients,
    retries, timeouts and rate limits are exercised exactly as against LINE and Slack.
    Their clock is the service's, so reply tokens and trigger ids age as the service sees it.
    """

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        token = settings.line_channel_access_token.get_secret_value()
        self.line: LineApiStandin = create_line_api(
            {token: DEFAULT_LINE_CHANNEL_ID}, clock=clock.now
        )
        self.slack: SlackApiStandin = create_slack_api(
            [settings.slack_bot_token.get_secret_value()], clock=clock.now, team_id=TEAM_ID
        )
        self.oidc: SlackOidcStandin = create_slack_oidc({CONSOLE_CLIENT_ID: CONSOLE_CLIENT_SECRET})
        self._servers: list[ServerThread] = []
        self.line_url: str | None = None
        self.slack_url: str | None = None

    @property
    def team_id(self) -> str:
        return self.slack.team_id

    def start(self) -> Settings:
        """Serve both stand-ins; the settings to run the service with while they serve."""
        line = ServerThread(self.line.app).start()
        self._servers.append(line)
        slack = ServerThread(self.slack.app).start()
        self._servers.append(slack)
        oidc = ServerThread(self.oidc.app).start()
        self._servers.append(oidc)
        self.line_url, self.slack_url = line.url, slack.url
        return self.settings.model_copy(
            update={
                "line_api_base_url": AnyHttpUrl(line.url),
                "line_data_api_base_url": AnyHttpUrl(line.url),
                "slack_api_base_url": AnyHttpUrl(slack.url + "/api/"),
                "slack_oidc_issuer": AnyHttpUrl(oidc.url),
                "console_slack_client_id": CONSOLE_CLIENT_ID,
                "console_slack_client_secret": SecretStr(CONSOLE_CLIENT_SECRET),
            }
        )

    def line_owner(self, settings: Settings, clock: Clock, user_id: str) -> LineOwner:
        """A LINE user whose events are signed with `settings`' channel secret."""
        return LineOwner(
            user_id=user_id,
            channel_secret=settings.line_channel_secret.get_secret_value(),
            clock=clock,
            reply_token=self.line.issue_reply_token,
        )

    def slack_person(self, settings: Settings, user_id: str) -> SlackPerson:
        """A Slack user of this workspace, signing with `settings`' signing secret."""
        return SlackPerson(
            user_id=user_id,
            team_id=self.team_id,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            slack=self.slack,
            slack_base_url=self.slack_url,
        )

    def stop(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Settings:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
