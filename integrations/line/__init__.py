"""The LINE Messaging API client (sends, quota) behind neutral send outcomes."""

from integrations.line.client import LineSender

__all__ = ["LineSender"]
