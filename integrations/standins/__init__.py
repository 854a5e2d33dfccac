"""Local stand-ins for the LINE Messaging API and the Slack Web API.

LINE and Slack cannot be reached from the development machines, so tests, benchmarks and
the local emulator talk to these instead. Each factory returns an object with an ASGI
``app``, controls (fault injection, quotas, tokens) and a thread-safe ``recorder``;
:class:`~integrations.standins.server.ServerThread` serves an app on a real local port.

    from integrations.standins import ServerThread, create_line_api

    line = create_line_api({"token": "1234567890"})
    with ServerThread(line.app) as server:
        ...  # Configuration(host=server.url, access_token="token")
"""

from integrations.standins.line_api import (
    Delivery,
    LineApiStandin,
    LineRecorder,
    create_line_api,
    make_line_user_id,
)
from integrations.standins.server import ServerThread, serve
from integrations.standins.signing import (
    line_headers,
    line_webhook_body,
    sign_line_body,
    sign_slack_body,
    slack_headers,
)
from integrations.standins.slack_api import (
    SlackApiStandin,
    SlackRecorder,
    create_slack_api,
    make_slack_id,
)

__all__ = [
    "Delivery",
    "LineApiStandin",
    "LineRecorder",
    "ServerThread",
    "SlackApiStandin",
    "SlackRecorder",
    "create_line_api",
    "create_slack_api",
    "line_headers",
    "line_webhook_body",
    "make_line_user_id",
    "make_slack_id",
    "serve",
    "sign_line_body",
    "sign_slack_body",
    "slack_headers",
]
