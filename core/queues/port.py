"""The hub queue port: what every hub queue backend promises.

Each hub ("01".."47", HQ "00") has a queue of cases waiting for a coordinator (CO). A case
waits until a CO claims it; while claimed it is out of the waiting order but still known
to the queue (its holder can release it, a CCO can reassign or transfer it) until the case
is closed and removed.

The contract, shared by every backend (tests/integration/test_hub_queue_contract.py):

- Order: `priority` ascending (lower is more urgent), then `enqueued_at` ascending (longest
  waiting first), then `case_id` ascending as a deterministic tie-break.
- Times are aware UTC datetimes kept to the millisecond (finer parts are truncated when a
  `QueueEntry` is built), so every backend stores and orders them identically. Nothing in
  a queue reads the wall clock: operations that record a moment take `now`.
- `claim` is atomic: of any number of concurrent claims of one waiting case exactly one
  wins; the others get `won=False` and the winner's CO id. A claim by the CO that already
  holds the case answers `won=True` again (a redelivered button press is harmless).
- `release` puts the case back where it was: its `enqueued_at` is untouched.
- `transfer` moves the case to another hub's queue (or HQ's), unclaimed, keeping its
  original `enqueued_at`: the owner has been waiting since then, and escalation must not be
  reset by handing a case around. Its priority is kept unless a new one is given.
- `unclaimed_older_than(hub, threshold, now)` is the escalation query: the waiting cases
  with `now - enqueued_at > threshold`, oldest first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

HQ_HUB_CODE = "00"
"""HQ's queue: cases escalated or transferred to the national office."""

MIN_PRIORITY = 0
MAX_PRIORITY = 99
"""Priorities are small integers; the bound keeps Redis scores exact (see RedisHubQueue)."""

_HUB_CODE = re.compile(r"\A(0[0-9]|[1-3][0-9]|4[0-7])\Z")


def is_hub_code(value: str) -> bool:
    """True for "00" (HQ) and "01".."47" (the prefectures' hubs)."""
    return bool(_HUB_CODE.match(value))


def check_hub_code(value: str) -> str:
    """`value` if it is a hub code, else ValueError."""
    if not is_hub_code(value):
        raise ValueError(f"not a hub code: {value!r} (expected '00'..'47')")
    return value


def check_priority(value: int) -> int:
    """`value` if it is a queue priority, else ValueError."""
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValueError(f"priority {value} outside {MIN_PRIORITY}..{MAX_PRIORITY}")
    return value


def to_queue_time(moment: datetime) -> datetime:
    """An aware datetime as the queues keep it: UTC, truncated to the millisecond."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetimes are refused: queue times are aware UTC")
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A case waiting (or held) in a hub's queue."""

    case_id: int
    hub_code: str
    priority: int
    enqueued_at: datetime
    """When the case first joined a queue; kept through release and transfer."""

    def __post_init__(self) -> None:
        if self.case_id <= 0:
            raise ValueError(f"case ids are positive, got {self.case_id}")
        check_hub_code(self.hub_code)
        check_priority(self.priority)
        normalised = to_queue_time(self.enqueued_at)
        if normalised.year < 1970:
            raise ValueError("enqueued_at before 1970 cannot be queued")
        object.__setattr__(self, "enqueued_at", normalised)

    def waited(self, now: datetime) -> timedelta:
        """How long the case has waited at `now`."""
        return to_queue_time(now) - self.enqueued_at


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """The answer to a claim: who holds the case now, and the case itself."""

    won: bool
    holder_co_id: int | None
    """The holder after the claim: the claimant when won, otherwise the CO who has it."""
    entry: QueueEntry


@dataclass(frozen=True, slots=True)
class Reassignment:
    """A holder change, shaped for the audit log."""

    case_id: int
    from_co_id: int
    to_co_id: int
    at: datetime
    entry: QueueEntry


@dataclass(frozen=True, slots=True)
class Transfer:
    """A move between hubs, shaped for the audit log."""

    case_id: int
    from_hub_code: str
    to_hub_code: str
    released_co_id: int | None
    """The CO who held the case before the transfer, if anyone did."""
    entry: QueueEntry
    """The case as it now waits in the target hub's queue."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    """A hub's waiting cases at a glance (claimed cases are not waiting)."""

    hub_code: str
    depth: int
    oldest_enqueued_at: datetime | None
    """None when nothing waits."""

    def oldest_wait(self, now: datetime) -> timedelta | None:
        if self.oldest_enqueued_at is None:
            return None
        return to_queue_time(now) - self.oldest_enqueued_at


class QueueError(Exception):
    """Base of the hub queue errors."""


class UnknownCase(QueueError, LookupError):
    """The case is not in any hub queue (never enqueued, or already removed)."""

    def __init__(self, case_id: int) -> None:
        super().__init__(f"case {case_id} is not in any hub queue")
        self.case_id = case_id


class AlreadyQueued(QueueError):
    """The case is already in a hub queue; a case is queued at most once."""

    def __init__(self, case_id: int) -> None:
        super().__init__(f"case {case_id} is already queued")
        self.case_id = case_id


class NotHolder(QueueError):
    """The case is not held by the CO the caller expected (holder None: nobody holds it)."""

    def __init__(self, case_id: int, holder_co_id: int | None) -> None:
        who = "nobody" if holder_co_id is None else f"CO {holder_co_id}"
        super().__init__(f"case {case_id} is held by {who}")
        self.case_id = case_id
        self.holder_co_id = holder_co_id


class InvalidTransfer(QueueError, ValueError):
    """A transfer that cannot happen (to the hub the case is already in)."""


class ConcurrentUpdate(QueueError):
    """The case kept changing under a compare-and-set; the caller may retry."""


@runtime_checkable
class HubQueue(Protocol):
    """The hub queues. Implementations: SqlAlchemyHubQueue, integrations RedisHubQueue."""

    async def enqueue(self, entry: QueueEntry) -> None:
        """Add a waiting case. Raises AlreadyQueued if the case is in any queue."""
        ...

    async def claim(self, case_id: int, co_id: int, *, now: datetime) -> ClaimResult:
        """Take a waiting case for `co_id`, atomically. Raises UnknownCase."""
        ...

    async def release(self, case_id: int, co_id: int | None = None) -> QueueEntry:
        """Put a held case back in its place. With `co_id`, only if that CO holds it.

        Raises UnknownCase, or NotHolder when the case is not held (by `co_id`).
        """
        ...

    async def reassign(
        self,
        case_id: int,
        to_co_id: int,
        *,
        now: datetime,
        expected_holder: int | None = None,
    ) -> Reassignment:
        """Hand a held case to another CO. With `expected_holder`, only from that CO.

        Raises UnknownCase, or NotHolder when nobody (or not `expected_holder`) holds it.
        A waiting case is given to a CO with `claim` instead.
        """
        ...

    async def transfer(
        self, case_id: int, to_hub_code: str, *, priority: int | None = None
    ) -> Transfer:
        """Move a case to another hub's (or HQ's) queue, unclaimed, keeping enqueued_at.

        Raises UnknownCase, or InvalidTransfer when it is already in that hub.
        """
        ...

    async def remove(self, case_id: int) -> bool:
        """Forget a closed case. False if it was not queued (removing twice is harmless)."""
        ...

    async def list_waiting(self, hub_code: str, limit: int = 50) -> Sequence[QueueEntry]:
        """The hub's unclaimed cases in queue order, at most `limit`."""
        ...

    async def unclaimed_older_than(
        self, hub_code: str, threshold: timedelta, now: datetime
    ) -> Sequence[QueueEntry]:
        """Unclaimed cases with `now - enqueued_at > threshold`, oldest first."""
        ...

    async def stats(self, hub_code: str) -> QueueStats:
        """Depth (unclaimed cases) and the oldest unclaimed enqueued_at."""
        ...

    async def holder(self, case_id: int) -> int | None:
        """The CO holding the case, None while it waits. Raises UnknownCase."""
        ...
