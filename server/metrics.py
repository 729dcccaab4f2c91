"""Prometheus metrics: what an operator graphs and alerts on, and nothing about people.

Labels are route templates (`/api/v1/warnings/{warning_id:int}`), methods, statuses and
verdicts: never a raw path, an id, a login or a resident. Each app has a registry of its
own (tests build many apps in one process). A request costs a few dictionary lookups and
two increments (RequestContextMiddleware calls `observe_request`); the figures that need
the store (the escalation backlog) are read once per scrape, never per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from server.logs import get_logger
from sync.protocol import MutationResult

# Litestar adds "; charset=utf-8" to a text/ type itself.
CONTENT_TYPE = "text/plain; version=0.0.4"
UNMATCHED = "unmatched"  # a path no route matched: one label value, whatever was asked
log = get_logger("beatsync.metrics")
# The `_created` series double every counter's lines for a time Prometheus knows anyway.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "beatsync_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "beatsync_http_request_duration_seconds",
            "Seconds from a request's arrival to the end of its answer, by method and"
            " route template (event streams are counted in requests, not timed here).",
            ["method", "route"],
            registry=r,
        )
        self.streams = Gauge(
            "beatsync_event_streams_open",
            "Server-sent event streams open now, by route template.",
            ["route"],
            registry=r,
        )
        self.pushes = Counter("beatsync_sync_pushes", "Sync pushes answered.", registry=r)
        self.mutations = Counter(
            "beatsync_sync_mutations",
            "Pushed mutations, by verdict (applied, conflict, rejected).",
            ["verdict"],
            registry=r,
        )
        self.pulls = Counter("beatsync_sync_pulls", "Sync pull pages answered.", registry=r)
        self.pull_changes = Counter(
            "beatsync_sync_pull_changes", "Changes sent in pull pages.", registry=r
        )
        self.upload_bytes = Counter(
            "beatsync_upload_bytes_received",
            "Photo bytes received in upload PATCH bodies (tus).",
            registry=r,
        )
        self.webhook = Counter(
            "beatsync_webhook_deliveries",
            "Outcome deliveries to BEATSYNC_WEBHOOK_URL, by result (delivered, failed).",
            ["result"],
            registry=r,
        )
        for verdict in ("applied", "conflict", "rejected"):
            self.mutations.labels(verdict)
        for result in ("delivered", "failed"):
            self.webhook.labels(result)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        # (method, route, status) -> the counter's and the histogram's children: the
        # label lookups of prometheus_client take a lock; a dict hit does not.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._children_lock = threading.Lock()

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            with self._children_lock:
                children = self._children.setdefault(
                    key,
                    (
                        self.requests.labels(method, route, str(status)),
                        self.latency.labels(method, route),
                    ),
                )
        children[0].inc()
        if seconds >= 0:
            children[1].observe(seconds)

    def pushed(self, results: Sequence[MutationResult]) -> None:
        self.pushes.inc()
        applied = conflict = rejected = 0
        for result in results:
            if result.status == "applied":
                applied += 1
            elif result.status == "conflict":
                conflict += 1
            else:
                rejected += 1
        for verdict, count in (
            ("applied", applied),
            ("conflict", conflict),
            ("rejected", rejected),
        ):
            if count:
                self.mutations.labels(verdict).inc(count)

    def pulled(self, changes: int) -> None:
        self.pulls.inc()
        if changes:
            self.pull_changes.inc(changes)

    def webhook_result(self, delivered: bool) -> None:
        self.webhook.labels("delivered" if delivered else "failed").inc()

    def add_gauges(self, read: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        """Gauges read at scrape time: `read()` yields (name, help, value) each scrape."""
        self.registry.register(_ScrapeTime(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ScrapeTime(Collector):
    def __init__(self, read: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        self._read = read

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: read() may touch the store

    def collect(self) -> Iterable[Metric]:
        try:
            values = list(self._read())
        except Exception:  # a scrape answers what it can; /readyz says what is wrong
            log.exception("metrics_read_failed")
            return []
        return [GaugeMetricFamily(name, text, value=value) for name, text, value in values]
