"""The inbox: accepted platform events, stored before the acknowledgement, handled once.

`store` holds the table operations (add, claim and handle, retry, dead letters, replay,
stats); `writer` groups the webhooks' inserts into shared transactions (group commit).
"""

from __future__ import annotations

from core.inbox.store import (
    DEFAULT_POLICY,
    DeadEvent,
    Handler,
    InboxStats,
    KeyHasher,
    NewInboxEvent,
    RetryPolicy,
    add_events,
    describe_error,
    handle_batch,
    handle_next,
    list_dead,
    replay,
    stats,
)
from core.inbox.writer import InboxWriter, InboxWriterClosed, Wake

__all__ = [
    "DEFAULT_POLICY",
    "DeadEvent",
    "Handler",
    "InboxStats",
    "InboxWriter",
    "InboxWriterClosed",
    "KeyHasher",
    "NewInboxEvent",
    "RetryPolicy",
    "Wake",
    "add_events",
    "describe_error",
    "handle_batch",
    "handle_next",
    "list_dead",
    "replay",
    "stats",
]
