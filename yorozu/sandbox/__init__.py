"""A local world for the service: LINE and Slack stand-ins, and the people who use them.

The emulator page, `yorozu demo` and the end-to-end tests all drive the real service the same
way: a business owner's LINE app and a Slack user each produce requests signed exactly as the
platform signs them, sent to the service's own webhooks; what the service sends back lands
in the stand-ins, where it is read. Nothing here calls the core directly.
"""

from yorozu.sandbox.line_owner import LineOwner, line_actions
from yorozu.sandbox.platforms import LocalPlatforms
from yorozu.sandbox.signed import SignedRequest
from yorozu.sandbox.slack_person import SlackPerson

__all__ = ["LineOwner", "LocalPlatforms", "SignedRequest", "SlackPerson", "line_actions"]
