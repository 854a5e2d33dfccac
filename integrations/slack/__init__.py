"""The Slack Web API client (messages, updates, App Home) behind neutral send outcomes."""

from integrations.slack.client import SlackSender

__all__ = ["SlackSender"]
