"""The worker and the dispatcher serve their own counters for Prometheus (--metrics-port)."""

from __future__ import annotations

import socket

import httpx
import pytest

from yorozu.metrics import Metrics, serve_metrics


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_background_role_serves_its_counters_until_stopped() -> None:
    metrics = Metrics()
    metrics.messages_sent.labels("line", "push").inc(3)
    port = free_port()
    stop = serve_metrics(metrics, port, host="127.0.0.1")
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'yorozu_messages_sent_total{kind="push",platform="line"} 3.0' in body
    finally:
        stop()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
