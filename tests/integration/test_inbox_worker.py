"""The inbox worker: exactly-once effect, retries with backoff, dead letters, order per person.

Real databases (SQLite and PostgreSQL). Time moves only through the ManualClock; tests wait
on events the handlers signal, never on wall-clock sleeps.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models import InboxEvent, PushUsage
from core.db.session import unit_of_work
from core.domain.enums import InboxStatus, Platform
from core.inbox import (
    InboxWriter,
    NewInboxEvent,
    RetryPolicy,
    add_events,
    handle_batch,
    handle_next,
    list_dead,
    replay,
    stats,
)
from yorozu.bootstrap import Container
from yorozu.cli_inbox import dead_events, format_dead, replay_events
from yorozu.settings import load_settings
from yorozu.worker import inbox_wake, run_worker, worker_concurrency

Factory = async_sessionmaker[AsyncSession]
NO_JITTER = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), jitter=0.0)


def new_event(n: int, user: str = "U1", *, ignored: bool = False) -> NewInboxEvent:
    return NewInboxEvent(
        platform=Platform.LINE,
        channel_id="default",
        event_id=f"01J{n:023d}",
        ordering_key=f"line:default:{user}",
        kind="message",
        payload={"type": "message", "n": n, "message": {"text": "個人的な相談"}},
        ignored=ignored,
    )


async def store(factory: Factory, clock: ManualClock, events: Iterable[NewInboxEvent]) -> int:
    async with unit_of_work(factory) as session:
        return await add_events(session, list(events), now=clock.now())


async def rows(factory: Factory) -> list[InboxEvent]:
    async with factory() as session:
        return list(await session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


async def usage_marks(factory: Factory) -> list[str]:
    async with factory() as session:
        return list(await session.scalars(select(PushUsage.channel_id).order_by(PushUsage.id)))


async def write_a_row(session: AsyncSession, event: InboxEvent) -> None:
    """A handler with an effect: one row, keyed by the event."""
    session.add(PushUsage(channel_id=f"ev{event.payload['n']}", month="2026-06", pushes=1))
    await session.flush()


def container_for(engine: AsyncEngine, factory: Factory, clock: ManualClock) -> Container:
    settings = load_settings(database_url=str(engine.url), redis_url=None)
    return Container(settings=settings, clock=clock, engine=engine, session_factory=factory)


async def test_duplicates_are_dropped_at_insert(
    session_factory: Factory, clock: ManualClock
) -> None:
    assert await store(session_factory, clock, [new_event(1), new_event(2), new_event(1)]) == 2
    assert await store(session_factory, clock, [new_event(2), new_event(3)]) == 1
    assert [row.payload["n"] for row in await rows(session_factory)] == [1, 2, 3]


async def test_the_handlers_writes_and_the_done_mark_commit_together(
    session_factory: Factory, clock: ManualClock
) -> None:
    await store(session_factory, clock, [new_event(1), new_event(2, ignored=True)])
    assert await handle_next(session_factory, write_a_row, clock.now(), "w1") is True
    assert await handle_next(session_factory, write_a_row, clock.now(), "w1") is False
    [done, ignored] = await rows(session_factory)
    assert (done.status, done.handled_at, done.attempts) == (InboxStatus.DONE, clock.now(), 0)
    assert ignored.status is InboxStatus.IGNORED
    assert await usage_marks(session_factory) == ["ev1"]


async def test_a_failing_handler_is_retried_with_backoff_then_dead_then_replayed(
    session_factory: Factory, clock: ManualClock
) -> None:
    calls: list[int] = []

    async def fails_after_writing(session: AsyncSession, event: InboxEvent) -> None:
        calls.append(event.payload["n"])
        await write_a_row(session, event)
        raise RuntimeError("handler broke")

    await store(
        session_factory, clock, [new_event(1, "U1"), new_event(2, "U1"), new_event(3, "U2")]
    )

    # First try fails: attempts 1, due again 10 s later, its writes rolled back.
    assert await handle_next(
        session_factory, fails_after_writing, clock.now(), "w", policy=NO_JITTER
    )
    head = (await rows(session_factory))[0]
    assert (head.status, head.attempts) == (InboxStatus.PENDING, 1)
    assert head.next_attempt_at == clock.now() + timedelta(seconds=10)
    assert head.last_error == "RuntimeError: handler broke"
    assert await usage_marks(session_factory) == []

    # While U1's head waits, U1's next event waits behind it; U2 goes on.
    assert await handle_next(session_factory, write_a_row, clock.now(), "w", policy=NO_JITTER)
    assert (
        await handle_next(session_factory, write_a_row, clock.now(), "w", policy=NO_JITTER) is False
    )
    assert await usage_marks(session_factory) == ["ev3"]

    # Not yet due one second early; due exactly at the backoff.
    clock.advance(timedelta(seconds=9))
    assert not await handle_next(
        session_factory, fails_after_writing, clock.now(), "w", policy=NO_JITTER
    )
    clock.advance(timedelta(seconds=1))
    assert await handle_next(
        session_factory, fails_after_writing, clock.now(), "w", policy=NO_JITTER
    )
    head = (await rows(session_factory))[0]
    assert head.attempts == 2
    assert head.next_attempt_at == clock.now() + timedelta(seconds=20)  # exponential

    clock.advance(timedelta(seconds=20))
    assert await handle_next(
        session_factory, fails_after_writing, clock.now(), "w", policy=NO_JITTER
    )
    head = (await rows(session_factory))[0]
    assert (head.status, head.attempts) == (InboxStatus.DEAD, 3)
    assert calls == [1, 1, 1]

    # Dead: visible to operators, and no longer holding U1's later event back.
    async with session_factory() as session:
        [dead] = await list_dead(session)
        counts = (await stats(session, now=clock.now())).counts
    assert (dead.id, dead.kind, dead.attempts, dead.platform) == (
        head.id,
        "message",
        3,
        Platform.LINE,
    )
    assert dead.last_error == "RuntimeError: handler broke"
    assert "個人的" not in " ".join(format_dead([dead]))
    assert counts[InboxStatus.DEAD] == 1
    assert counts[InboxStatus.DONE] == 1
    assert counts[InboxStatus.PENDING] == 1

    # Replay: pending again with attempts reset; handled first, before U1's later event.
    async with unit_of_work(session_factory) as session:
        assert await replay(session, [head.id, 9999], now=clock.now()) == 1
    head = (await rows(session_factory))[0]
    assert (head.status, head.attempts, head.next_attempt_at) == (
        InboxStatus.PENDING,
        0,
        clock.now(),
    )
    assert await handle_next(session_factory, write_a_row, clock.now(), "w")
    assert await handle_next(session_factory, write_a_row, clock.now(), "w")
    assert await usage_marks(session_factory) == ["ev3", "ev1", "ev2"]
    assert {row.status for row in await rows(session_factory)} == {InboxStatus.DONE}


async def test_backoff_is_capped_and_jittered() -> None:
    import random

    policy = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(minutes=30), jitter=0.5)
    rng = random.Random(7)
    delays = [policy.delay(n, rng) for n in range(1, 20)]
    assert all(timedelta(0) < d <= timedelta(minutes=30) for d in delays)
    assert timedelta(seconds=1) <= delays[0] <= timedelta(seconds=2)
    assert delays[-1] >= timedelta(minutes=15)
    assert RetryPolicy(jitter=0).delay(3) == timedelta(seconds=8)


async def test_cli_lists_and_replays_dead_events(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock
) -> None:
    async def boom(session: AsyncSession, event: InboxEvent) -> None:
        raise ValueError("no such hub")

    once = RetryPolicy(max_attempts=1)
    await store(session_factory, clock, [new_event(1, "U1"), new_event(2, "U2")])
    assert await handle_next(session_factory, boom, clock.now(), "w", policy=once)
    assert await handle_next(session_factory, boom, clock.now(), "w", policy=once)
    container = container_for(engine, session_factory, clock)
    dead = await dead_events(container)
    assert [event.attempts for event in dead] == [1, 1]
    lines = format_dead(dead)
    assert lines[1].endswith("2026-06-02 10:00:00\tValueError: no such hub")  # Japan time
    assert await replay_events(container, [], all_dead=True) == 2
    assert await dead_events(container) == []
    async with session_factory() as session:
        snapshot = await stats(session, now=clock.now() + timedelta(minutes=5))
    assert snapshot.counts[InboxStatus.PENDING] == 2
    assert snapshot.oldest_pending_age == timedelta(minutes=5)


async def test_a_worker_killed_mid_handler_leaves_the_event_pending_and_no_writes(
    session_factory: Factory, clock: ManualClock
) -> None:
    inside = asyncio.Event()

    async def hangs_after_writing(session: AsyncSession, event: InboxEvent) -> None:
        await write_a_row(session, event)
        inside.set()
        await asyncio.Event().wait()  # the process dies here

    await store(session_factory, clock, [new_event(1)])
    worker = asyncio.create_task(
        handle_next(session_factory, hangs_after_writing, clock.now(), "w")
    )
    await asyncio.wait_for(inside.wait(), 10)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    [row] = await rows(session_factory)
    assert (row.status, row.attempts, row.last_error) == (InboxStatus.PENDING, 0, None)
    assert await usage_marks(session_factory) == []
    # Nothing is left locked: the next worker handles it, once.
    assert await handle_next(session_factory, write_a_row, clock.now(), "w2")
    assert await usage_marks(session_factory) == ["ev1"]
    assert (await rows(session_factory))[0].status is InboxStatus.DONE


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_concurrent_loops_keep_each_persons_order_and_interleave_people(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock
) -> None:
    people, per_person = 6, 8
    events = [new_event(n, f"U{n % people}") for n in range(people * per_person)]
    await store(session_factory, clock, events)
    expected = {
        f"line:default:U{p}": [n for n in range(len(events)) if n % people == p]
        for p in range(people)
    }

    handled: dict[str, list[int]] = defaultdict(list)
    active: set[str] = set()
    overlaps: list[int] = []
    all_done = asyncio.Event()

    async def records_order(session: AsyncSession, event: InboxEvent) -> None:
        key = event.ordering_key
        assert key not in active, "two events of one person at once"
        active.add(key)
        overlaps.append(len(active))
        try:
            await write_a_row(session, event)
            await session.execute(select(func.pg_sleep(0.005)))  # real work takes a while
            handled[key].append(event.payload["n"])
        finally:
            active.discard(key)
        if sum(map(len, handled.values())) == len(events):
            all_done.set()

    container = container_for(engine, session_factory, clock)
    assert worker_concurrency(container, 4) == 4
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(container, records_order, concurrency=4, stop=stop, idle_wait=0.05)
    )
    await asyncio.wait_for(all_done.wait(), 60)
    stop.set()
    await asyncio.wait_for(worker, 10)

    assert dict(handled) == expected
    assert max(overlaps) > 1  # different people were handled at the same time
    assert {row.status for row in await rows(session_factory)} == {InboxStatus.DONE}
    assert len(await usage_marks(session_factory)) == len(events)


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_runs_one_loop_and_the_writer_wakes_it_in_process(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock
) -> None:
    container = container_for(engine, session_factory, clock)
    assert worker_concurrency(container, 8) == 1
    done = asyncio.Event()

    async def handler(session: AsyncSession, event: InboxEvent) -> None:
        await write_a_row(session, event)
        done.set()

    writer = InboxWriter(session_factory, clock, wake=inbox_wake(container))
    stop = asyncio.Event()
    # The poll interval is far longer than the test may take: only the wake-up can do it.
    worker = asyncio.create_task(run_worker(container, handler, stop=stop, idle_wait=60))
    try:
        await asyncio.sleep(0)  # let the loop go idle first
        await writer.submit([new_event(1)])
        await asyncio.wait_for(done.wait(), 10)
    finally:
        stop.set()
        await writer.aclose()
        await asyncio.wait_for(worker, 10)  # a clean stop lets the handler's commit finish
    assert await usage_marks(session_factory) == ["ev1"]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_redis_wakes_the_worker_without_fast_polling(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    container = container_for(engine, session_factory, clock)
    container.redis = aioredis.from_url(redis_url)
    done = asyncio.Event()

    async def handler(session: AsyncSession, event: InboxEvent) -> None:
        await write_a_row(session, event)
        done.set()

    writer = InboxWriter(session_factory, clock, wake=inbox_wake(container))
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(container, handler, concurrency=2, stop=stop, idle_wait=30)
    )
    try:
        await asyncio.sleep(0)
        await writer.submit([new_event(1)])
        await asyncio.wait_for(done.wait(), 10)
    finally:
        stop.set()
        await writer.aclose()
        await asyncio.wait_for(worker, 10)
        await container.redis.aclose()
    assert await usage_marks(session_factory) == ["ev1"]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_events_committed_out_of_id_order_still_never_run_at_once(
    session_factory: Factory, clock: ManualClock
) -> None:
    # Two API processes: the one holding the lower id commits last.
    async with session_factory() as slow, slow.begin():
        await add_events(slow, [new_event(1, "U1")], now=clock.now())
        await store(session_factory, clock, [new_event(2, "U1")])
        inside, release = asyncio.Event(), asyncio.Event()

        async def holds(session: AsyncSession, event: InboxEvent) -> None:
            inside.set()
            await release.wait()

        first = asyncio.create_task(handle_next(session_factory, holds, clock.now(), "w1"))
        await asyncio.wait_for(inside.wait(), 10)
    # Event 1 is now committed and is U1's lowest pending event, but U1 is busy.
    assert await handle_next(session_factory, write_a_row, clock.now(), "w2") is False
    release.set()
    assert await asyncio.wait_for(first, 10) is True
    assert await handle_next(session_factory, write_a_row, clock.now(), "w2") is True
    assert await usage_marks(session_factory) == ["ev1"]


async def test_the_worker_counts_what_it_handled_failed_and_parked_for_metrics(
    session_factory: Factory, clock: ManualClock
) -> None:
    from yorozu.metrics import Metrics
    from yorozu.worker import observer

    metrics = Metrics()
    container = SimpleNamespace(metrics=metrics)
    observe = observer(container)  # type: ignore[arg-type]

    async def broken(session: AsyncSession, event: InboxEvent) -> None:
        raise RuntimeError("handler broke")

    await store(session_factory, clock, [new_event(1, "U1"), new_event(2, "U2")])
    once = RetryPolicy(max_attempts=2, base=timedelta(seconds=1), jitter=0.0)
    assert await handle_next(
        session_factory, broken, clock.now(), "w", policy=once, observe=observe
    )
    assert await handle_next(
        session_factory, write_a_row, clock.now(), "w", policy=once, observe=observe
    )
    clock.advance(timedelta(seconds=1))
    assert await handle_next(
        session_factory, broken, clock.now(), "w", policy=once, observe=observe
    )

    exposed = (await metrics.render()).decode()
    assert 'yorozu_events_handled_total{platform="line"} 1.0' in exposed
    assert 'yorozu_events_failed_total{platform="line"} 2.0' in exposed
    assert 'yorozu_events_dead_total{platform="line"} 1.0' in exposed
    assert 'yorozu_handler_seconds_count{platform="line"} 1.0' in exposed


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_batch_handles_the_oldest_events_in_order_in_one_transaction(
    session_factory: Factory, clock: ManualClock
) -> None:
    """SQLite's worker takes many events per transaction (issue 14): in id order, each once."""
    seen: list[int] = []

    async def handler(session: AsyncSession, event: InboxEvent) -> None:
        seen.append(event.payload["n"])
        await write_a_row(session, event)

    await store(
        session_factory,
        clock,
        [new_event(n, f"U{n % 3}") for n in range(1, 11)] + [new_event(11, ignored=True)],
    )
    assert await handle_batch(session_factory, handler, clock.now(), "w", limit=4) == 4
    assert await handle_batch(session_factory, handler, clock.now(), "w", limit=100) == 6
    assert await handle_batch(session_factory, handler, clock.now(), "w") == 0
    assert seen == list(range(1, 11))
    assert await usage_marks(session_factory) == [f"ev{n}" for n in range(1, 11)]
    statuses = [(row.status, row.handled_at) for row in await rows(session_factory)]
    assert statuses[:10] == [(InboxStatus.DONE, clock.now())] * 10
    assert statuses[10][0] is InboxStatus.IGNORED


async def test_a_failing_event_in_a_batch_costs_only_its_own_attempt(
    session_factory: Factory, clock: ManualClock
) -> None:
    """The batch rolls back and runs one by one: the failure is counted on its own event,
    its person's later events wait behind it, and everybody else's are handled once."""
    calls: list[int] = []

    async def breaks_on_three(session: AsyncSession, event: InboxEvent) -> None:
        calls.append(event.payload["n"])
        await write_a_row(session, event)
        if event.payload["n"] == 3:
            raise RuntimeError("handler broke")

    await store(
        session_factory,
        clock,
        [new_event(n, user) for n, user in enumerate(["U1", "U2", "U3", "U3", "U1"], start=1)],
    )
    handled = 0
    while taken := await handle_batch(
        session_factory, breaks_on_three, clock.now(), "w", policy=NO_JITTER
    ):
        handled += taken
    assert handled == 4  # 1, 2, 5 handled and 3 failed; 4 waits behind 3
    assert await usage_marks(session_factory) == ["ev1", "ev2", "ev5"]
    by_n = {row.payload["n"]: row for row in await rows(session_factory)}
    assert (by_n[3].status, by_n[3].attempts) == (InboxStatus.PENDING, 1)
    assert by_n[3].last_error == "RuntimeError: handler broke"
    assert (by_n[4].status, by_n[4].attempts) == (InboxStatus.PENDING, 0)
    assert all(by_n[n].attempts == 0 for n in (1, 2, 5))

    # While 3 waits for its backoff, the batch passes over U3 and takes nobody's place.
    assert await handle_batch(session_factory, breaks_on_three, clock.now(), "w") == 0
    clock.advance(timedelta(seconds=10))
    calls.clear()

    async def fixed(session: AsyncSession, event: InboxEvent) -> None:
        calls.append(event.payload["n"])
        await write_a_row(session, event)

    while await handle_batch(session_factory, fixed, clock.now(), "w"):
        pass
    assert calls == [3, 4]
    assert {row.status for row in await rows(session_factory)} == {InboxStatus.DONE}


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_postgresql_batch_takes_one_head_per_person_and_leaves_the_rest_to_others(
    session_factory: Factory, clock: ManualClock
) -> None:
    """Many loops and workers share the people: a batch takes each person's first event only
    (row-locked), and at most half the people it sees waiting, so per-person order holds
    across batches and another loop finds people left to take."""
    batches: list[list[int]] = []

    async def handler(session: AsyncSession, event: InboxEvent) -> None:
        batches[-1].append(event.payload["n"])
        await write_a_row(session, event)

    await store(session_factory, clock, [new_event(n, f"U{n % 6}") for n in range(12)])
    while True:
        batches.append([])
        if not await handle_batch(session_factory, handler, clock.now(), "w"):
            break
    taken = [batch for batch in batches if batch]
    assert taken == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10], [11]]
    assert await usage_marks(session_factory) == [f"ev{n}" for n in range(12)]


async def test_a_batch_stops_at_its_time_budget_and_leaves_the_rest_pending(
    session_factory: Factory, clock: ManualClock
) -> None:
    await store(session_factory, clock, [new_event(n, f"U{n}") for n in range(1, 6)])
    # A budget of zero: the first event is handled, then the batch commits.
    assert await handle_batch(session_factory, write_a_row, clock.now(), "w", budget=0.0) == 1
    pending = [row for row in await rows(session_factory) if row.status is InboxStatus.PENDING]
    assert [row.payload["n"] for row in pending] == [2, 3, 4, 5]
    assert {row.attempts for row in pending} == {0}
