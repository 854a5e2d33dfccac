"""Import every Slack module that registers durable work, so the worker finds its handlers.

The worker imports this module before it looks a Slack inbox row's kind up in WORK.
"""

from bots.slack import chat, coordinators, partners, workspaces

__all__ = ["chat", "coordinators", "partners", "workspaces"]
