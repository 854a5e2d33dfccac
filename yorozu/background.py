"""The embedded default's background roles in a process of their own, beside the API.

`yorozu serve` used to run the worker, the dispatcher and the scheduler as tasks in the API's
event loop. Under a burst (a broadcast answered by thousands) the worker's handling took the
loop and SQLite's one writer from the webhook, acknowledgements slowed past LINE's patience,
LINE redelivered, and the burst grew (issue 14). Now `serve` starts one child process,
`yorozu background`, that runs the three roles in its own loop, with its own connections and
its own core: the webhook keeps one process to itself, and only commits meet in the database.

* The child dies with its parent (PR_SET_PDEATHSIG on Linux), so a killed `serve` leaves no
  orphan that keeps sending; the parent restarts a child that stopped, with a growing pause,
  and logs it loudly, since an embedded deployment has no other supervisor.
* Without Redis the API cannot wake the child's worker; the child's worker looks for new
  events every `EMBEDDED_IDLE_WAIT` seconds instead (one indexed read on SQLite).
* The child serves its own counters on a loopback port, and the API's /metrics adds them to
  its own (`merged_exposition`), so operators scrape one URL as before.

The emulator keeps the roles in the API's loop: its clock is moved in memory, and the
background roles must see the same clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable
from typing import Any, Final

import aiohttp

log = logging.getLogger(__name__)

EMBEDDED_IDLE_WAIT: Final = 0.05
"""Seconds between the child worker's looks for new events when nothing wakes it."""
RESTART_PAUSES: Final = (1.0, 2.0, 5.0, 15.0, 30.0)
STOP_GRACE: Final = 10.0
METRICS_TIMEOUT: Final = 0.5
PR_SET_PDEATHSIG: Final = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send the child SIGTERM when its parent dies (a no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class BackgroundProcess:
    """Start, watch and stop the `yorozu background` child."""

    def __init__(self, *, argv: list[str] | None = None, env: dict[str, str] | None = None):
        self.metrics_port = free_port()
        self._argv = argv or [sys.executable, "-m", "yorozu.cli", "background"]
        self._env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _spawn(self) -> None:
        self._process = subprocess.Popen(
            [*self._argv, "--metrics-port", str(self.metrics_port)],
            env=self._env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        log.info("background roles started", extra={"pid": self._process.pid})

    async def start(self) -> None:
        self._spawn()
        self._watch = asyncio.create_task(self._supervise(), name="background-supervisor")

    async def _supervise(self) -> None:
        pauses = iter(RESTART_PAUSES)
        pause = RESTART_PAUSES[0]
        while not self._stopping:
            await asyncio.sleep(0.5)
            process = self._process
            if process is None or process.poll() is None:
                continue
            if self._stopping:
                return
            pause = next(pauses, pause)
            log.error(
                "background roles stopped; restarting",
                extra={"exit_code": process.returncode, "pause_seconds": pause},
            )
            await asyncio.sleep(pause)
            if not self._stopping:
                self.restarts += 1
                self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), STOP_GRACE)
        except TimeoutError:
            log.error("background roles did not stop in time; killed")
            process.kill()
            await asyncio.to_thread(process.wait)

    async def exposition(self) -> str | None:
        """The child's own counters (None when it cannot be read now)."""
        if not self.running:
            return None
        timeout = aiohttp.ClientTimeout(total=METRICS_TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as client,
                client.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as response,
            ):
                if response.status != 200:
                    return None
                return await response.text()
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None


def merged_exposition(texts: Iterable[str]) -> bytes:
    """Several processes' Prometheus text as one: samples with the same name and labels add
    up (each process counts its own share; the API's database gauges exist only in the API),
    and each family keeps its help and type once."""
    from prometheus_client.parser import text_string_to_metric_families

    families: dict[str, Any] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            families.setdefault(family.name, family)
            samples = values.setdefault(family.name, {})
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                if family.type == "gauge" and key in samples:
                    samples[key] = max(samples[key], sample.value)
                else:
                    samples[key] = samples.get(key, 0.0) + sample.value
    lines: list[str] = []
    for name, family in families.items():
        # The parser drops a counter's _total from the family name; the text format keeps it.
        shown = f"{name}_total" if family.type == "counter" else name
        lines.append(f"# HELP {shown} {_escape_help(family.documentation)}")
        lines.append(f"# TYPE {shown} {family.type}")
        for (sample_name, labels), value in values[name].items():
            rendered = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
            where = f"{{{rendered}}}" if labels else ""
            lines.append(f"{sample_name}{where} {_number(value)}")
    return ("\n".join(lines) + "\n").encode()


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
