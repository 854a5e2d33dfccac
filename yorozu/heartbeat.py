"""Role heartbeats, and the `--check` that container health checks run.

Each background role records, in its own process, when it last showed it was alive: the
gauge `yorozu_role_heartbeat_seconds{role}` (Unix time), served with the role's other
metrics on `--metrics-port`. The worker beats on every turn of its loops and the dispatcher
on every cycle (claim, send, record), so a turn or a cycle that never ends (a send or a
database call that hangs) stops their beat even while the event loop still runs. Rate limits
hand rows back rather than wait long, so a cycle lasts as long as its sends: one in which every
call times out takes about `SEND_TIMEOUT_SECONDS` × `DISPATCH_BATCH` / `DISPATCH_CONCURRENCY`
per call a message makes (16 s with the defaults; a Slack post may first look up history and
the reader's language, and a shared photo is fetched from LINE, then uploaded to Slack), so
raise `--max-age` with either setting. The scheduler
beats from a task in its event loop (its jobs are APScheduler's), so a blocked loop stops it.
`yorozu <role> --check` reads that gauge over HTTP, from inside the container, and exits 1
when it is older than `--max-age` (or cannot be read): Docker then marks the container
unhealthy. The metrics server is a thread, so it still answers while the loop is stuck:
the age, not the answer, tells.

The api role has no heartbeat of its own: `yorozu api --check` asks its `/healthz`, which is
answered by the same event loop as the webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from core.clock import Clock

HEARTBEAT = "yorozu_role_heartbeat_seconds"
BEAT_EVERY = 5.0
"""Seconds between beats of the roles that beat from a task."""
DEFAULT_MAX_AGE = 60.0
"""A heartbeat older than this is a stuck role: twelve missed beats of the scheduler, and
longer than any wait of a healthy loop (the worker's idle wait, the dispatcher's poll, the
scheduler's lock retry)."""


def beat(container: Any, role: str) -> None:
    container.metrics.role_heartbeat.labels(role).set(container.clock.now().timestamp())


async def keep_beating(
    container: Any, role: str, stop: asyncio.Event, every: float = BEAT_EVERY
) -> None:
    """Beat every `every` seconds until `stop` is set: proof that the role's event loop
    turns, for roles whose own loop records no beat."""
    while not stop.is_set():
        beat(container, role)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


@dataclass(frozen=True)
class CheckResult:
    healthy: bool
    detail: str


def heartbeat_age(exposition: str, role: str, now: datetime) -> float | None:
    """Seconds since `role`'s last beat in a /metrics text, or None if it never beat."""
    for family in text_string_to_metric_families(exposition):
        if family.name != HEARTBEAT:
            continue
        for sample in family.samples:
            if sample.labels.get("role") == role and sample.value > 0:
                return now.timestamp() - sample.value
    return None


def _get(url: str, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return int(answer.status), answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return int(error.code), ""
    except (urllib.error.URLError, OSError) as error:
        return 0, str(getattr(error, "reason", error))


def check_role(
    role: str,
    *,
    port: int,
    clock: Clock,
    max_age: float = DEFAULT_MAX_AGE,
    host: str = "127.0.0.1",
    timeout: float = 3.0,
) -> CheckResult:
    status, body = _get(f"http://{host}:{port}/metrics", timeout)
    if status != 200:
        return CheckResult(False, f"{role}: no metrics at {host}:{port} ({status or body})")
    age = heartbeat_age(body, role, clock.now())
    if age is None:
        return CheckResult(False, f"{role}: no heartbeat recorded yet")
    if age > max_age:
        return CheckResult(False, f"{role}: last heartbeat {age:.0f} s ago (over {max_age:g} s)")
    return CheckResult(True, f"{role}: heartbeat {max(age, 0.0):.0f} s ago")


def check_api(*, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> CheckResult:
    status, _ = _get(f"http://{host}:{port}/healthz", timeout)
    if status != 200:
        return CheckResult(False, f"api: /healthz answered {status or 'nothing'}")
    return CheckResult(True, "api: /healthz 200")
