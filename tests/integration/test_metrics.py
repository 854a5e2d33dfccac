"""What /metrics serves: HTTP metrics per route template, counters named `_total`, no
`_created` series, and exactly the names README promises."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from yorozu.app import create_app
from yorozu.settings import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/y.db", redis_url=None)
    app = create_app(settings, prepare=True)
    async with app.router.lifespan_context(app):
        yield app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def _families(exposition: str) -> dict[str, str]:
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.MULTILINE))


def _sample(exposition: str, line_start: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {line_start}")


async def test_readme_names_exactly_the_metrics_served(app: FastAPI) -> None:
    async with _client(app) as client:
        served = _families((await client.get("/metrics")).text)
    promised = set(re.findall(r"\byorozu_[a-z_]+[a-z]", README.read_text(encoding="utf-8")))
    assert promised == set(served)


async def test_counters_end_in_total_and_no_created_series(app: FastAPI) -> None:
    async with _client(app) as client:
        await client.get("/healthz")
        text = (await client.get("/metrics")).text
    families = _families(text)
    assert all(name.endswith("_total") for name, kind in families.items() if kind == "counter")
    assert "_created" not in text


async def test_http_metrics_per_route_template(app: FastAPI) -> None:
    async with _client(app) as client:
        for hub in ("13", "27"):
            await client.post(f"/webhooks/line/{hub}", content=b"{}")  # unsigned: 400
        await client.get("/no/such/page")
        text = (await client.get("/metrics")).text
    template = 'handler="/webhooks/line/{hub_code}",method="POST",status="4xx"'
    assert _sample(text, f"yorozu_http_requests_total{{{template}}}") == 2
    assert _sample(text, f"yorozu_http_request_duration_seconds_count{{{template}}}") == 2
    assert _sample(text, 'yorozu_http_requests_total{handler="none"') == 1
    assert 'handler="/webhooks/line/13"' not in text
    assert 'handler="/metrics"' not in text


async def test_in_flight_gauge_counts_a_request_being_answered(app: FastAPI) -> None:
    gate = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"{"
        await gate.wait()
        yield b"}"

    gauge = 'yorozu_http_requests_inprogress{handler="/webhooks/line",method="POST"}'
    async with _client(app) as client:
        pending = asyncio.create_task(
            client.post(
                "/webhooks/line", content=slow_body(), headers={"X-Line-Signature": "forged"}
            )
        )
        for _ in range(100):  # let the request reach the app (no clock involved: a yield)
            await asyncio.sleep(0)
        during = _sample((await client.get("/metrics")).text, gauge)
        gate.set()
        await pending
        after = _sample((await client.get("/metrics")).text, gauge)
    assert (during, after) == (1, 0)


class _DatabaseAway:
    """A hub-channel look-up whose database has gone away mid-request."""

    async def for_hub(self, hub_code: str) -> None:
        raise ConnectionResetError("connection to the database was lost")


async def test_the_webhooks_own_failure_is_a_500_with_a_reason_and_counted(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    """The webhook's fast path sits outside the framework's error middleware, so it answers
    an unexpected error itself: a 500 LINE will redeliver, a log line, the HTTP metrics."""
    app.state.line_webhook = dataclasses.replace(
        app.state.line_webhook, hub_channels=_DatabaseAway()
    )
    async with _client(app) as client:
        answer = await client.post("/webhooks/line/13", content=b"{}")
        text = (await client.get("/metrics")).text
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; retry"}
    assert "line webhook failed" in caplog.text
    template = 'handler="/webhooks/line/{hub_code}",method="POST",status="5xx"'
    assert _sample(text, f"yorozu_http_requests_total{{{template}}}") == 1
    gauge = 'yorozu_http_requests_inprogress{handler="/webhooks/line/{hub_code}",method="POST"}'
    assert _sample(text, gauge) == 0
