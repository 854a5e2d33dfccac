"""Load generators: wrk for the peak rate, an open-loop client for latency at a fixed rate.

The open-loop client schedules each request at a fixed time and measures from that time,
so a slow answer cannot hide the requests it delayed (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
local sigs, bodies, n, i = {}, {}, 0, 0
init = function(args)
  for line in io.lines(args[1]) do
    local s, b = line:match("^([^\t]+)\t(.*)$")
    n = n + 1; sigs[n] = s; bodies[n] = b
  end
end
request = function()
  i = i + 1
  local k = ((i - 1) % n) + 1
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json",
    ["x-line-signature"] = sigs[k]}, bodies[k])
end
"""


@dataclass(frozen=True)
class Peak:
    rate: float
    p50_ms: float
    p99_ms: float
    refused: int = 0
    """Answers other than 2xx (503: the events could not be stored in time)."""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_peak(
    url: str,
    requests: list[tuple[str, bytes]],
    *,
    seconds: int,
    connections: int,
    allow_refused: bool = False,
) -> Peak:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the peak rate: apt-get install wrk")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder, "requests.tsv")
        data.write_bytes(b"".join(sig.encode() + b"\t" + body + b"\n" for sig, body in requests))
        script = Path(folder, "post.lua")
        script.write_text(LUA)
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
                "--",
                str(data),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    refused = int(non2xx.group(1)) if non2xx else 0
    if refused and not allow_refused:
        raise SystemExit(f"{refused} requests were refused during the peak run:\n{out}")
    return Peak(rate, _ms(*p50.groups()), _ms(*p99.groups()), refused)  # type: ignore[union-attr]


async def _open_loop(
    host: str,
    port: int,
    path: str,
    requests: list[tuple[str, bytes]],
    rate: float,
    seconds: float,
    connections: int,
) -> list[float]:
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    refused: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(total):
        queue.put_nowait(index)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    index = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                due = start + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                signature, body = requests[index % len(requests)]
                writer.write(
                    f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"x-line-signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                # A refusal (503 after the store timed out) counts at its full latency.
                latencies.append((time.perf_counter() - due) * 1000)
                if status != 200:
                    refused.append(status)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))
    if refused:
        print(f"    ({len(refused)} of {len(latencies)} requests refused: {sorted(set(refused))})")
    return latencies


def open_loop(
    url: str,
    requests: list[tuple[str, bytes]],
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
) -> tuple[float, float]:
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match, url
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    latencies = asyncio.run(_open_loop(host, port, path, requests, rate, seconds, connections))
    latencies.sort()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
