"""Role heartbeats and `yorozu ROLE --check`: a stale or missing beat is unhealthy.

The roles' metrics are served as in production (a thread on a local port); time is a
ManualClock, moved instead of waited for.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.clock import ManualClock
from yorozu.bootstrap import Container, bootstrap
from yorozu.cli import app
from yorozu.heartbeat import beat, check_api, check_role, keep_beating
from yorozu.metrics import Metrics, serve_metrics
from yorozu.settings import load_settings

T0 = datetime(2026, 6, 2, 1, 0, tzinfo=UTC)


class _Roles:
    """Just what `beat` uses of a container."""

    def __init__(self, clock: ManualClock) -> None:
        self.metrics = Metrics()
        self.clock = clock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def roles() -> _Roles:
    return _Roles(ManualClock(T0))


@pytest.fixture
def port(roles: _Roles) -> Iterator[int]:
    port = _free_port()
    stop = serve_metrics(roles.metrics, port, host="127.0.0.1")
    yield port
    stop()


def test_a_fresh_beat_is_healthy_and_a_stale_one_is_not(roles: _Roles, port: int) -> None:
    beat(roles, "dispatcher")
    roles.clock.advance(timedelta(seconds=59))
    assert check_role("dispatcher", port=port, clock=roles.clock, max_age=60).healthy
    roles.clock.advance(timedelta(seconds=2))
    stale = check_role("dispatcher", port=port, clock=roles.clock, max_age=60)
    assert not stale.healthy
    assert stale.detail == "dispatcher: last heartbeat 61 s ago (over 60 s)"
    beat(roles, "dispatcher")  # the loop turned again
    assert check_role("dispatcher", port=port, clock=roles.clock, max_age=60).healthy


def test_each_role_is_judged_by_its_own_beat(roles: _Roles, port: int) -> None:
    beat(roles, "worker")
    missing = check_role("scheduler", port=port, clock=roles.clock)
    assert (missing.healthy, missing.detail) == (False, "scheduler: no heartbeat recorded yet")


def test_nothing_listening_is_unhealthy(roles: _Roles) -> None:
    result = check_role("worker", port=_free_port(), clock=roles.clock)
    assert not result.healthy
    assert result.detail.startswith("worker: no metrics at 127.0.0.1:")
    assert not check_api(port=_free_port()).healthy


async def test_keep_beating_beats_until_stopped(roles: _Roles) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(keep_beating(roles, "scheduler", stop, every=3600))
    await asyncio.sleep(0)  # one turn of the loop, no time passes
    assert (
        roles.metrics.registry.get_sample_value(
            "yorozu_role_heartbeat_seconds", {"role": "scheduler"}
        )
        == T0.timestamp()
    )
    stop.set()
    await task


async def test_the_worker_beats_as_its_loop_turns(tmp_path: Path) -> None:
    from yorozu.worker import run_worker

    clock = ManualClock(T0)
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/y.db", redis_url=None)
    container: Container = await bootstrap(settings, clock=clock)
    try:
        from core.db.migrate import upgrade

        await upgrade(container.engine)
        stop = asyncio.Event()

        async def handler(*args: object) -> None:
            raise AssertionError("no event to handle")

        task = asyncio.create_task(run_worker(container, handler, stop=stop))  # type: ignore[arg-type]
        for _ in range(100):
            await asyncio.sleep(0)
        stop.set()
        await task
    finally:
        await container.aclose()
    assert (
        container.metrics.registry.get_sample_value(
            "yorozu_role_heartbeat_seconds", {"role": "worker"}
        )
        == T0.timestamp()
    )


class _HangingLine:
    """A LINE API that takes a request and answers only when told: a send that hangs."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.arrived.set()
        await self.release.wait()
        body = b'{"message":"Internal Server Error"}'
        writer.write(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    async def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def _turns_until(done: Callable[[], bool], limit: float = 10.0) -> None:
    """Let the event loop (and the database's thread) run until `done`; no clock moves.

    Nothing signals a beat, so the gauge is read once per turn of the loop."""

    async def spin() -> None:
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0)

    await asyncio.wait_for(spin(), limit)


async def test_a_dispatcher_stuck_in_its_cycle_fails_its_check(tmp_path: Path) -> None:
    """A send that hangs: the event loop still turns and the metrics still answer, but the
    cycle does not come back, so its beat ages and `--check` fails; once the send returns,
    the next cycle beats and the check passes again."""
    from core.db.migrate import upgrade
    from core.db.session import unit_of_work
    from core.domain.enums import Platform
    from core.i18n import Text
    from core.messages import OutgoingMessage
    from core.outbox import store
    from integrations.standins import make_line_user_id
    from yorozu.channels import DEFAULT_CHANNEL
    from yorozu.dispatcher import run_dispatcher

    line = _HangingLine()
    clock = ManualClock(T0)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/y.db",
        redis_url=None,
        line_api_base_url=await line.start(),
        send_timeout_seconds=60,
    )
    container: Container = await bootstrap(settings, clock=clock)
    port = _free_port()
    stop_metrics = serve_metrics(container.metrics, port, host="127.0.0.1")
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await upgrade(container.engine)
        async with unit_of_work(container.session_factory) as session:
            await store.add_message(
                session,
                platform=Platform.LINE,
                channel_id=DEFAULT_CHANNEL,
                recipient=make_line_user_id("stuck"),
                message=OutgoingMessage(texts=(Text("common.verbatim", value="hello"),)),
                kind="push",
                idempotency_key="test:stuck",
                now=clock.now(),
            )
        task = asyncio.create_task(run_dispatcher(container, stop=stop))
        await asyncio.wait_for(line.arrived.wait(), 10)  # the cycle waits on LINE now
        assert check_role("dispatcher", port=port, clock=clock).healthy

        clock.advance(timedelta(seconds=61))
        stuck = check_role("dispatcher", port=port, clock=clock, max_age=60)
        assert (stuck.healthy, stuck.detail) == (
            False,
            "dispatcher: last heartbeat 61 s ago (over 60 s)",
        )

        line.release.set()  # LINE answers (500: tried again later); the next cycle beats
        await _turns_until(
            lambda: (
                container.metrics.registry.get_sample_value(
                    "yorozu_role_heartbeat_seconds", {"role": "dispatcher"}
                )
                == clock.now().timestamp()
            )
        )
        assert check_role("dispatcher", port=port, clock=clock, max_age=60).healthy
    finally:
        stop.set()
        await line.stop()
        if task is not None:
            await asyncio.wait_for(task, 10)
        stop_metrics()
        await container.aclose()


@pytest.mark.parametrize(("age", "code"), [(5, 0), (120, 1)])
def test_the_check_command_exits_by_the_beats_age(age: int, code: int) -> None:
    metrics = Metrics()
    now = datetime.now(UTC).timestamp()
    metrics.role_heartbeat.labels("worker").set(now - age)
    port = _free_port()
    stop = serve_metrics(metrics, port, host="127.0.0.1")
    try:
        result = CliRunner().invoke(
            app, ["worker", "--check", "--metrics-port", str(port), "--max-age", "60"]
        )
    finally:
        stop()
    assert result.exit_code == code, result.output
