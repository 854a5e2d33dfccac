"""Prometheus metrics, one registry per container.

A registry per container (not the global default) lets tests and the demo build several
services in one process without "duplicated timeseries" errors. Gauges that describe the
database (queue depth, pending inbox) are computed when /metrics is scraped, from the
record, so every API replica reports the same truth.

Counters are named with their `_total` as served; the `_created` series prometheus_client
adds to each counter and histogram are switched off (they double the series and no
dashboard of ours reads them). HTTP request metrics are prometheus-fastapi-instrumentator's
(`http_metrics`), kept in a registry of the app's own, which `/metrics` serves with these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_accepted = Counter(
            "yorozu_events_accepted_total",
            "Inbound events stored by a webhook",
            ["platform"],
            registry=r,
        )
        self.events_duplicate = Counter(
            "yorozu_events_duplicate_total",
            "Inbound events recognised as redeliveries or retries and dropped",
            ["platform"],
            registry=r,
        )
        self.events_handled = Counter(
            "yorozu_events_handled_total", "Inbound events handled", ["platform"], registry=r
        )
        self.events_failed = Counter(
            "yorozu_events_failed_total", "Handler failures (retried)", ["platform"], registry=r
        )
        self.events_dead = Counter(
            "yorozu_events_dead_total", "Inbound events parked as dead", ["platform"], registry=r
        )
        self.handler_seconds = Histogram(
            "yorozu_handler_seconds",
            "Time to handle one inbound event",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.messages_sent = Counter(
            "yorozu_messages_sent_total",
            "Outgoing messages delivered",
            ["platform", "kind"],
            registry=r,
        )
        self.messages_retried = Counter(
            "yorozu_messages_retried_total",
            "Outgoing message attempts that will be retried",
            ["platform", "reason"],
            registry=r,
        )
        self.messages_failed = Counter(
            "yorozu_messages_failed_total",
            "Outgoing messages failed permanently",
            ["platform", "reason"],
            registry=r,
        )
        self.owner_pushes_undelivered = Counter(
            "yorozu_owner_pushes_undelivered_total",
            "Planned owner pushes (reminders, surveys, follow-ups) recorded as stale or missed",
            ["kind", "reason"],
            registry=r,
        )
        self.send_seconds = Histogram(
            "yorozu_send_seconds",
            "Time for one platform API call",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.slack_history_checks = Counter(
            "yorozu_slack_history_checks_total",
            "Look-ups of a Slack post that may have gone out, before retrying it",
            ["found"],
            registry=r,
        )
        self.slack_history_seconds = Histogram(
            "yorozu_slack_history_seconds",
            "Time for one look-up of a Slack post in the channel's history",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.line_pushes = Counter(
            "yorozu_line_pushes_total",
            "LINE pushes sent (count against the plan)",
            ["channel"],
            registry=r,
        )
        self.line_replies = Counter(
            "yorozu_line_replies_total", "LINE replies sent (free)", ["channel"], registry=r
        )
        self.queue_depth = Gauge(
            "yorozu_queue_depth", "Cases waiting for a CO", ["hub"], registry=r
        )
        self.queue_oldest_wait = Gauge(
            "yorozu_queue_oldest_wait_seconds",
            "How long the oldest unclaimed case has waited",
            ["hub"],
            registry=r,
        )
        self.inbox_pending = Gauge(
            "yorozu_inbox_pending", "Inbound events waiting to be handled", registry=r
        )
        self.inbox_oldest_pending = Gauge(
            "yorozu_inbox_oldest_pending_seconds",
            "Age of the oldest inbound event waiting to be handled (0 when none waits)",
            registry=r,
        )
        self.inbox_dead = Gauge("yorozu_inbox_dead", "Inbound events parked as dead", registry=r)
        self.outbox_pending = Gauge(
            "yorozu_outbox_pending", "Outgoing messages waiting to be sent", ["status"], registry=r
        )
        self.line_push_quota = Gauge(
            "yorozu_line_push_quota",
            "LINE monthly push quota of the channel's plan, as last read from LINE",
            ["channel"],
            registry=r,
        )
        self.line_push_consumption = Gauge(
            "yorozu_line_push_consumption",
            "LINE pushes counted against this month's quota, as last read from LINE",
            ["channel"],
            registry=r,
        )
        self.role_heartbeat = Gauge(
            "yorozu_role_heartbeat_seconds",
            "When the role last showed its loop turning (Unix time); yorozu ROLE --check reads it",
            ["role"],
            registry=r,
        )
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Register a coroutine that updates gauges from the database before each scrape."""
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        for refresh in self._refreshers:
            await refresh()
        return generate_latest(self.registry)


HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10)
"""Up to LINE's two and Slack's three seconds, and past them."""


class HttpRequests:
    """Request count and latency per route template, method and status class, and the
    requests being answered: one set of series for every route.

    The framework's routes reach them through prometheus-fastapi-instrumentator's
    middleware (`instrumentation`, called with its `Info`); the webhook's fast path, which
    answers before the framework (bots/line/webhook.py), calls `begin` and `end`. The
    metrics are made here rather than by the library's `metrics.requests()` and
    `metrics.latency()` (same names, labels and buckets) so that the fast path can keep each
    series' child: three `labels()` look-ups and an `Info` per webhook were a tenth of its
    CPU (issue 14).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("handler", "method", "status")
        self.total = Counter(
            "yorozu_http_requests_total",
            "Total number of requests by method, status and handler.",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "yorozu_http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            labels,
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.inprogress = Gauge(
            "yorozu_http_requests_inprogress",
            "HTTP requests being answered",
            ("method", "handler"),
            registry=registry,
        )
        self._answered: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._in_flight: dict[str, Any] = {}

    def instrumentation(self, info: Any) -> None:
        """The middleware's: `info` is the library's `metrics.Info` of one request."""
        values = (info.modified_handler, info.method, info.modified_status)
        self.total.labels(*values).inc()
        self.latency.labels(*values).observe(info.modified_duration)

    def begin(self, handler: str) -> None:
        gauge = self._in_flight.get(handler)
        if gauge is None:
            gauge = self._in_flight[handler] = self.inprogress.labels("POST", handler)
        gauge.inc()

    def end(self, handler: str, status: int, seconds: float) -> None:
        self._in_flight[handler].dec()
        children = self._answered.get((handler, status))
        if children is None:
            values = (handler, "POST", f"{status // 100}xx")
            children = (self.total.labels(*values), self.latency.labels(*values))
            self._answered[(handler, status)] = children
        children[0].inc()
        children[1].observe(seconds)


def http_metrics(app: Any, registry: CollectorRegistry) -> HttpRequests:
    """Request count, latency and in-flight requests per route template (`/webhooks/line/
    {hub_code}`, not each hub), method and status class; requests matching no route are
    counted under `none`. /metrics itself is not counted. Returns what the webhook's fast
    path records its requests with."""
    from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware

    requests = HttpRequests(registry)

    class Middleware(PrometheusInstrumentatorMiddleware):
        """The library's in-flight gauge goes to the global registry whatever registry is
        given (trallnag/prometheus-fastapi-instrumentator#317, fix #336 not released), which
        breaks a second app in one process: the same gauge is made in ours."""

        def __init__(self, app: Any, **options: Any) -> None:
            super().__init__(app, **options)
            self.should_instrument_requests_inprogress = True
            self.inprogress_labels = True
            self.inprogress = requests.inprogress

    app.add_middleware(
        Middleware,
        should_group_status_codes=True,
        should_group_untemplated=True,
        excluded_handlers=["/metrics"],
        instrumentations=[requests.instrumentation],
        registry=registry,
    )
    return requests


def serve_metrics(metrics: Metrics, port: int, host: str = "0.0.0.0") -> Callable[[], None]:
    """Expose a background role's own counters at http://host:port/metrics.

    The worker and the dispatcher count what only they see (events handled, messages sent,
    LINE quota) but serve no HTTP, so in production each gets this small endpoint for
    Prometheus to scrape. A thread, not the role's event loop: scraping never delays work.
    Returns the function that stops it.
    """
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=metrics.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
