"""`yorozu serve` as README starts it: the API in one process, its background roles in a child.

The worker, dispatcher and scheduler run in `yorozu background`, a child of `serve`, so a
busy worker never holds the webhook's event loop (issue 14). This runs the real command on
a fresh SQLite file against the LINE stand-in and checks what an operator would: events are
handled and answered, one /metrics shows the child's counters with the API's, a child that
dies is started again, and a killed `serve` leaves no child behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integrations.standins import ServerThread, create_line_api, make_line_user_id
from integrations.standins.signing import line_headers

SECRET = "serve-test-line-secret"
TOKEN = "serve-test-line-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def line_api() -> Iterator[tuple[str, object]]:
    standin = create_line_api({TOKEN: "1234567890"})
    with ServerThread(standin.app) as server:
        yield server.base_url, standin


SCHED_IDLE = 5
"""Linux's policy number (os.SCHED_IDLE), as /proc/PID/task/TID/stat shows it."""


def policies(pid: int) -> dict[int, int]:
    """Each thread of `pid` and its scheduling policy (field 41 of its stat line)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(task.name)] = int(fields[41 - 3])
    return found


def children_of(pid: int) -> list[int]:
    """The `yorozu background` children of `pid` (not Python's own helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"background" in _cmdline(entry):
            found.append(int(entry.name))
    return found


def _cmdline(entry: Path) -> bytes:
    try:
        return (entry / "cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(check, what: str, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


def follow(base: str, user: str) -> None:
    event = {
        "type": "follow",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "replyToken": uuid.uuid4().hex,
        "follow": {"isUnblocked": False},
    }
    body = json.dumps({"destination": "Userve", "events": [event]}).encode()
    response = httpx.post(
        base + "/webhooks/line", content=body, headers=line_headers(SECRET, body), timeout=5
    )
    assert response.status_code == 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_serve_runs_its_roles_in_a_child_that_is_watched_and_dies_with_it(
    tmp_path: Path, line_api: tuple[str, object]
) -> None:
    line_url, standin = line_api
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINE_", "SLACK_", "EMULATOR_", "DATABASE_", "REDIS_", "YOROZU_"))
    }
    env.update(
        YOROZU_ENV="development",
        EMULATOR_ENABLED="false",
        DATABASE_URL=f"sqlite:///{tmp_path}/serve.db",
        LINE_CHANNEL_SECRET=SECRET,
        LINE_CHANNEL_ACCESS_TOKEN=TOKEN,
        LINE_API_BASE_URL=line_url,
        LINE_DATA_API_BASE_URL=line_url,
        LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "-m", "yorozu.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, "serve answering /healthz", 60)
        (child,) = wait_for(lambda: children_of(serve.pid), "the background child")
        assert "background" in Path(f"/proc/{child}/cmdline").read_text()

        # The child's worker handles the event and its dispatcher answers it.
        owner = make_line_user_id("serve-owner-1")
        follow(base, owner)
        wait_for(
            lambda: any(d.to == owner for d in standin.recorder.deliveries),  # type: ignore[attr-defined]
            "the greeting delivered",
        )
        metrics = wait_for(
            lambda: (
                "yorozu_events_handled_total" in (text := httpx.get(base + "/metrics").text)
                and text
            ),
            "the child's counters in /metrics",
        )
        assert "yorozu_inbox_pending" in metrics  # the API's own gauges are there too
        handled = [
            line for line in metrics.splitlines() if line.startswith("yorozu_events_handled_total")
        ]
        assert sum(float(line.rsplit(" ", 1)[1]) for line in handled) >= 1
        for role in ("worker", "dispatcher", "scheduler"):  # each role's beat, from the child
            assert f'yorozu_role_heartbeat_seconds{{role="{role}"}}' in metrics, role

        # Acknowledgements first: every thread of the child yields the CPU to the API's.
        assert set(policies(child).values()) == {SCHED_IDLE}, policies(child)
        assert SCHED_IDLE not in policies(serve.pid).values()

        # A child that dies is started again, and the next owner is answered.
        os.kill(child, signal.SIGKILL)
        (again,) = wait_for(
            lambda: [pid for pid in children_of(serve.pid) if pid != child and alive(pid)],
            "a new background child",
        )
        second = make_line_user_id("serve-owner-2")
        follow(base, second)
        wait_for(
            lambda: any(d.to == second for d in standin.recorder.deliveries),  # type: ignore[attr-defined]
            "the second greeting delivered",
        )

        # A killed serve takes its child with it: nothing keeps sending behind its back.
        serve.send_signal(signal.SIGKILL)
        serve.wait()
        wait_for(lambda: not alive(again), "the child gone with its parent", 15)
    finally:
        if serve.poll() is None:
            serve.terminate()
            serve.wait(timeout=15)
        log.close()
