"""Hub queues: cases waiting for a coordinator, one queue per hub and one for HQ.

The port lives here; `core.queues.sql` is the embedded (database) backend and
`integrations.redis_hub_queue` the production one. docs/queues.md tells the whole story.
"""

from core.queues.port import (
    HQ_HUB_CODE,
    MAX_PRIORITY,
    MIN_PRIORITY,
    AlreadyQueued,
    ClaimResult,
    ConcurrentUpdate,
    HubQueue,
    InvalidTransfer,
    NotHolder,
    QueueEntry,
    QueueError,
    QueueStats,
    Reassignment,
    Transfer,
    UnknownCase,
    check_hub_code,
    check_priority,
    is_hub_code,
    to_queue_time,
)

__all__ = [
    "HQ_HUB_CODE",
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "AlreadyQueued",
    "ClaimResult",
    "ConcurrentUpdate",
    "HubQueue",
    "InvalidTransfer",
    "NotHolder",
    "QueueEntry",
    "QueueError",
    "QueueStats",
    "Reassignment",
    "Transfer",
    "UnknownCase",
    "check_hub_code",
    "check_priority",
    "is_hub_code",
    "to_queue_time",
]
