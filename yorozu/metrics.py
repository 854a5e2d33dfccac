"""Prometheus metrics, one registry per container.

A registry per container (not the global default) lets tests and the demo build several
services in one process without "duplicated timeseries" errors. Gauges that describe the
database (queue depth, pending inbox) are computed when /metrics is scraped, from the
record, so every API replica reports the same truth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.events_accepted = Counter(
            "yorozu_events_accepted", "Inbound events stored by a webhook", ["platform"], registry=r
        )
        self.events_duplicate = Counter(
            "yorozu_events_duplicate",
            "Inbound events recognised as redeliveries or retries and dropped",
            ["platform"],
            registry=r,
        )
        self.events_handled = Counter(
            "yorozu_events_handled", "Inbound events handled", ["platform"], registry=r
        )
        self.events_failed = Counter(
            "yorozu_events_failed", "Handler failures (retried)", ["platform"], registry=r
        )
        self.events_dead = Counter(
            "yorozu_events_dead", "Inbound events parked as dead", ["platform"], registry=r
        )
        self.handler_seconds = Histogram(
            "yorozu_handler_seconds",
            "Time to handle one inbound event",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.messages_sent = Counter(
            "yorozu_messages_sent", "Outgoing messages delivered", ["platform", "kind"], registry=r
        )
        self.messages_retried = Counter(
            "yorozu_messages_retried",
            "Outgoing message attempts that will be retried",
            ["platform", "reason"],
            registry=r,
        )
        self.messages_failed = Counter(
            "yorozu_messages_failed",
            "Outgoing messages failed permanently",
            ["platform", "reason"],
            registry=r,
        )
        self.owner_pushes_undelivered = Counter(
            "yorozu_owner_pushes_undelivered",
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
            "yorozu_slack_history_checks",
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
            "yorozu_line_pushes",
            "LINE pushes sent (count against the plan)",
            ["channel"],
            registry=r,
        )
        self.line_replies = Counter(
            "yorozu_line_replies", "LINE replies sent (free)", ["channel"], registry=r
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
        self.line_quota = Gauge(
            "yorozu_line_push_quota",
            "LINE monthly push quota and consumption as last read from LINE",
            ["channel", "what"],
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
