"""The production hub queue: Redis sorted sets, with Lua scripts for every state change.

Key layout (`root` is `{prefix}:hubq`, `member` is the case id zero-padded to 20 digits so
that Redis' lexicographic tie-break equals the numeric one):

- `{root}:case:{case_id}`: a hash, fields `hub`, `priority`, `enqueued_ms` and, while a CO
  holds the case, `holder` and `claimed_ms`. It exists exactly while the case is queued.
- `{root}:hub:{hub}:waiting`: a sorted set of the hub's unclaimed cases, score
  `priority * 10**13 + enqueued_ms`. Milliseconds since 1970 stay below 10**13 until the
  year 2286 and priorities are at most 99, so every score is below 10**15 < 2**53: a
  double holds it exactly and the order is priority, then waiting time, then case id.
- `{root}:hub:{hub}:age`: the same members scored by `enqueued_ms` alone, for escalation
  and stats (oldest first whatever the priority).

Claimed cases leave both sorted sets and keep their hash; release puts them back with the
same score, so they return to their place. Every change reads the hash and updates the
sets inside one Lua script, so a change is atomic and 50 concurrent claims have exactly
one winner. The scripts derive the hub keys from the hash, which is fine on a single Redis
(the deployment here) but not on Redis Cluster, which would need the keys declared.

Recovery: the database is the system of record; Redis is a fast copy of it. With AOF
`everysec` a crash can lose the last second of writes, and a restart without persistence
loses everything. After any Redis restart (or when in doubt), stop the processes that
change the queues, read the queued cases and their holders from the database, and call
`rebuild(entries, holders)`, which replaces every key under `{root}` in one MULTI/EXEC
transaction; then start the writers again. See docs/queues.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from core.queues.port import (
    AlreadyQueued,
    ClaimResult,
    InvalidTransfer,
    NotHolder,
    QueueEntry,
    QueueStats,
    Reassignment,
    Transfer,
    UnknownCase,
    check_hub_code,
    check_priority,
    to_queue_time,
)

PRIORITY_FACTOR = 10**13
"""Score = priority * PRIORITY_FACTOR + enqueued_ms; enqueued_ms must stay below it."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Shared Lua helpers. Scores are built as strings ("<priority><13-digit ms>"), never as Lua
# numbers: Redis turns a Lua number into text with 14 significant digits, which would round
# a 15-digit score.
_PRELUDE = """
local root = ARGV[1]
local function score(priority, ms)
  return priority .. string.rep('0', 13 - #ms) .. ms
end
local function unqueue(hub, member)
  redis.call('ZREM', root .. ':hub:' .. hub .. ':waiting', member)
  redis.call('ZREM', root .. ':hub:' .. hub .. ':age', member)
end
local function queue(hub, priority, ms, member)
  redis.call('ZADD', root .. ':hub:' .. hub .. ':waiting', score(priority, ms), member)
  redis.call('ZADD', root .. ':hub:' .. hub .. ':age', ms, member)
end
local s = redis.call('HMGET', KEYS[1], 'hub', 'priority', 'enqueued_ms', 'holder')
local hub, priority, ms, holder = s[1], s[2], s[3], s[4]
"""
# Every script answers {status, hub, priority, enqueued_ms, holder or ''}.
# Status: 1 done, 0 refused (see the holder), -1 unknown case, -2 already in that hub.

# ARGV: root, member, hub, priority, enqueued_ms
_ENQUEUE = (
    _PRELUDE
    + """
if hub then return {0, hub, priority, ms, holder or ''} end
redis.call('HSET', KEYS[1], 'hub', ARGV[3], 'priority', ARGV[4], 'enqueued_ms', ARGV[5])
queue(ARGV[3], ARGV[4], ARGV[5], ARGV[2])
return {1, ARGV[3], ARGV[4], ARGV[5], ''}
"""
)

# ARGV: root, member, co_id, now_ms
_CLAIM = (
    _PRELUDE
    + """
if not hub then return {-1} end
if holder then return {0, hub, priority, ms, holder} end
redis.call('HSET', KEYS[1], 'holder', ARGV[3], 'claimed_ms', ARGV[4])
unqueue(hub, ARGV[2])
return {1, hub, priority, ms, ARGV[3]}
"""
)

# ARGV: root, member, co_id ('' for whoever holds it)
_RELEASE = (
    _PRELUDE
    + """
if not hub then return {-1} end
if not holder or (ARGV[3] ~= '' and holder ~= ARGV[3]) then
  return {0, hub, priority, ms, holder or ''}
end
redis.call('HDEL', KEYS[1], 'holder', 'claimed_ms')
queue(hub, priority, ms, ARGV[2])
return {1, hub, priority, ms, ''}
"""
)

# ARGV: root, member, to_co_id, now_ms, expected holder ('' for any); answers the old holder
_REASSIGN = (
    _PRELUDE
    + """
if not hub then return {-1} end
if not holder or (ARGV[5] ~= '' and holder ~= ARGV[5]) then
  return {0, hub, priority, ms, holder or ''}
end
redis.call('HSET', KEYS[1], 'holder', ARGV[3], 'claimed_ms', ARGV[4])
return {1, hub, priority, ms, holder}
"""
)

# ARGV: root, member, to_hub, new priority ('' keeps it)
# Answers the hub it came from, the new priority, and the holder it had.
_TRANSFER = (
    _PRELUDE
    + """
if not hub then return {-1} end
if hub == ARGV[3] then return {-2, hub, priority, ms, holder or ''} end
local new_priority = priority
if ARGV[4] ~= '' then new_priority = ARGV[4] end
unqueue(hub, ARGV[2])
redis.call('HDEL', KEYS[1], 'holder', 'claimed_ms')
redis.call('HSET', KEYS[1], 'hub', ARGV[3], 'priority', new_priority)
queue(ARGV[3], new_priority, ms, ARGV[2])
return {1, hub, new_priority, ms, holder or ''}
"""
)

# ARGV: root, member
_REMOVE = (
    _PRELUDE
    + """
if not hub then return {-1} end
unqueue(hub, ARGV[2])
redis.call('DEL', KEYS[1])
return {1, hub, priority, ms, holder or ''}
"""
)

# KEYS: age set, waiting set; ARGV: cutoff_ms (exclusive). Answers member, score pairs.
_OLDER_THAN = """
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local out = {}
for _, member in ipairs(members) do
  local sc = redis.call('ZSCORE', KEYS[2], member)
  if sc then
    table.insert(out, member)
    table.insert(out, sc)
  end
end
return out
"""


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since 1970 of an aware datetime (truncated like every queue time)."""
    ms = (to_queue_time(moment) - _EPOCH) // timedelta(milliseconds=1)
    if not 0 <= ms < PRIORITY_FACTOR:
        raise ValueError(f"{moment} is outside the Redis queue's range (1970..2286)")
    return ms


def from_epoch_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def queue_score(priority: int, enqueued_at: datetime) -> int:
    """The waiting-set score: priority first, then waiting time (exact below 2**53)."""
    return check_priority(priority) * PRIORITY_FACTOR + epoch_ms(enqueued_at)


def _member(case_id: int) -> str:
    return f"{case_id:020d}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisHubQueue:
    """`HubQueue` on Redis; the database stays the record (see `rebuild`)."""

    def __init__(self, redis: Redis, prefix: str = "yorozu") -> None:
        self._redis = redis
        self._root = f"{prefix}:hubq"
        self._enqueue = redis.register_script(_ENQUEUE)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._reassign = redis.register_script(_REASSIGN)
        self._transfer = redis.register_script(_TRANSFER)
        self._remove = redis.register_script(_REMOVE)
        self._older_than = redis.register_script(_OLDER_THAN)

    # keys

    def _case_key(self, case_id: int) -> str:
        return f"{self._root}:case:{case_id}"

    def _waiting_key(self, hub_code: str) -> str:
        return f"{self._root}:hub:{check_hub_code(hub_code)}:waiting"

    def _age_key(self, hub_code: str) -> str:
        return f"{self._root}:hub:{check_hub_code(hub_code)}:age"

    async def _run(
        self, script: Any, case_id: int, *args: str | int
    ) -> tuple[int, QueueEntry, int | None]:
        """Run a case script; answers (status, the case as the script left it, holder)."""
        reply = await script(
            keys=[self._case_key(case_id)], args=[self._root, _member(case_id), *args]
        )
        status = int(reply[0])
        if status == -1:
            raise UnknownCase(case_id)
        hub, priority, ms, holder = (_text(value) for value in reply[1:5])
        entry = QueueEntry(
            case_id=case_id,
            hub_code=hub,
            priority=int(priority),
            enqueued_at=from_epoch_ms(int(ms)),
        )
        return status, entry, int(holder) if holder else None

    # HubQueue

    async def enqueue(self, entry: QueueEntry) -> None:
        status, _, _ = await self._run(
            self._enqueue,
            entry.case_id,
            entry.hub_code,
            entry.priority,
            epoch_ms(entry.enqueued_at),
        )
        if status != 1:
            raise AlreadyQueued(entry.case_id)

    async def claim(self, case_id: int, co_id: int, *, now: datetime) -> ClaimResult:
        status, entry, holder = await self._run(self._claim, case_id, co_id, epoch_ms(now))
        # A claim by the CO who already holds the case is answered as won: retries are safe.
        return ClaimResult(won=status == 1 or holder == co_id, holder_co_id=holder, entry=entry)

    async def release(self, case_id: int, co_id: int | None = None) -> QueueEntry:
        expected = "" if co_id is None else str(co_id)
        status, entry, holder = await self._run(self._release, case_id, expected)
        if status != 1:
            raise NotHolder(case_id, holder)
        return entry

    async def reassign(
        self,
        case_id: int,
        to_co_id: int,
        *,
        now: datetime,
        expected_holder: int | None = None,
    ) -> Reassignment:
        expected = "" if expected_holder is None else str(expected_holder)
        at = to_queue_time(now)
        status, entry, holder = await self._run(
            self._reassign, case_id, to_co_id, epoch_ms(at), expected
        )
        if status != 1 or holder is None:
            raise NotHolder(case_id, holder)
        return Reassignment(
            case_id=case_id, from_co_id=holder, to_co_id=to_co_id, at=at, entry=entry
        )

    async def transfer(
        self, case_id: int, to_hub_code: str, *, priority: int | None = None
    ) -> Transfer:
        check_hub_code(to_hub_code)
        new_priority = "" if priority is None else str(check_priority(priority))
        status, entry, holder = await self._run(self._transfer, case_id, to_hub_code, new_priority)
        if status == -2:
            raise InvalidTransfer(f"case {case_id} is already in hub {to_hub_code}")
        return Transfer(
            case_id=case_id,
            from_hub_code=entry.hub_code,
            to_hub_code=to_hub_code,
            released_co_id=holder,
            entry=QueueEntry(
                case_id=case_id,
                hub_code=to_hub_code,
                priority=entry.priority,
                enqueued_at=entry.enqueued_at,
            ),
        )

    async def remove(self, case_id: int) -> bool:
        try:
            await self._run(self._remove, case_id)
        except UnknownCase:
            return False
        return True

    async def list_waiting(self, hub_code: str, limit: int = 50) -> Sequence[QueueEntry]:
        if limit <= 0:
            check_hub_code(hub_code)
            return []
        pairs: Any = await self._redis.zrange(
            self._waiting_key(hub_code), 0, limit - 1, withscores=True
        )
        return [_from_score(hub_code, member, float(score)) for member, score in pairs]

    async def unclaimed_older_than(
        self, hub_code: str, threshold: timedelta, now: datetime
    ) -> Sequence[QueueEntry]:
        cutoff = (to_queue_time(now) - threshold - _EPOCH) // timedelta(milliseconds=1)
        if cutoff <= 0:
            check_hub_code(hub_code)
            return []
        reply = await self._older_than(
            keys=[self._age_key(hub_code), self._waiting_key(hub_code)], args=[cutoff]
        )
        return [
            _from_score(hub_code, reply[i], float(_text(reply[i + 1])))
            for i in range(0, len(reply), 2)
        ]

    async def stats(self, hub_code: str) -> QueueStats:
        key = self._age_key(hub_code)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            depth, oldest = await pipe.execute()
        return QueueStats(
            hub_code=hub_code,
            depth=int(depth),
            oldest_enqueued_at=from_epoch_ms(int(oldest[0][1])) if oldest else None,
        )

    async def holder(self, case_id: int) -> int | None:
        hub, holder = await self._redis.hmget(self._case_key(case_id), ["hub", "holder"])
        if hub is None:
            raise UnknownCase(case_id)
        return None if holder is None else int(_text(holder))

    # recovery

    async def rebuild(self, entries: Iterable[QueueEntry], holders: Mapping[int, int]) -> int:
        """Replace all queue state in Redis with the database's record; answers the count.

        The recovery path after a Redis restart or data loss (AOF `everysec` may drop the
        last second; a restart without persistence drops everything): the database is the
        system of record, so with the queue writers paused, read every queued case and its
        holder (case_id -> CO id) from it and call this. Every key under `{prefix}:hubq` is
        deleted and rewritten in one MULTI/EXEC transaction, so readers see either the old
        state or the new one; writes made between the key scan and the transaction would
        be overwritten or left stale, hence the pause. Claimed times are not restored (they
        are not part of the queue contract); holders are.
        """
        cases = list(entries)
        ids = [entry.case_id for entry in cases]
        if len(set(ids)) != len(ids):
            raise ValueError("rebuild: a case appears twice in the entries")
        strays = set(holders) - set(ids)
        if strays:
            raise ValueError(f"rebuild: holders for cases not in the entries: {sorted(strays)}")
        old_keys = [key async for key in self._redis.scan_iter(match=f"{self._root}:*", count=1000)]
        async with self._redis.pipeline(transaction=True) as pipe:
            for start in range(0, len(old_keys), 500):
                pipe.delete(*old_keys[start : start + 500])
            for entry in cases:
                ms = epoch_ms(entry.enqueued_at)
                fields: dict[FieldT, EncodableT] = {
                    "hub": entry.hub_code,
                    "priority": entry.priority,
                    "enqueued_ms": ms,
                }
                holder = holders.get(entry.case_id)
                if holder is not None:
                    fields["holder"] = holder
                pipe.hset(self._case_key(entry.case_id), mapping=fields)
                if holder is None:
                    member = _member(entry.case_id)
                    score = queue_score(entry.priority, entry.enqueued_at)
                    pipe.zadd(self._waiting_key(entry.hub_code), {member: score})
                    pipe.zadd(self._age_key(entry.hub_code), {member: ms})
            await pipe.execute()
        return len(cases)


def _from_score(hub_code: str, member: Any, score: float) -> QueueEntry:
    priority, ms = divmod(int(score), PRIORITY_FACTOR)
    return QueueEntry(
        case_id=int(_text(member)),
        hub_code=hub_code,
        priority=priority,
        enqueued_at=from_epoch_ms(ms),
    )
