"""Shared test constants and helpers (importable, unlike conftest fixtures)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get(
    "YOROZU_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("YOROZU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(what: str, why: Exception) -> None:
    message = f"{what} is not reachable ({type(why).__name__}: {why})"
    if IN_CI:
        pytest.fail(f"{message}; CI needs it, see README 'Tests'", pytrace=False)
    pytest.skip(message)


class Role:
    """A `yorozu <role>` process that a test can start, SIGKILL and start again."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.env, self.log = name, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "yorozu.cli", self.name],
                env=self.env,
                stdout=out,
                stderr=out,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def outbox_row(factory: Any, row_id: int) -> Any:
    """An outbox row as it is in the database now."""
    from core.db.models.outbox import OutboxMessage

    async with factory() as session:
        found = await session.get(OutboxMessage, row_id)
        assert found is not None
        return found


async def drain_outbox(
    dispatcher: Any, factory: Any, clock: Any, *, step: timedelta, rounds: int = 50
) -> None:
    """Run the dispatcher until nothing is pending or sending, moving the clock by `step`."""
    from core.outbox import store

    for _ in range(rounds):
        await dispatcher.run_once()
        async with factory() as session:
            counts = await store.stats(session)
        if counts["pending"] == 0 and counts["sending"] == 0:
            return
        clock.advance(step)
    raise AssertionError("outbox not drained")
