"""The API's Prometheus metrics: the process, requests counted and timed by route template, and
searches timed by mode."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED = "unmatched"
# Searches take milliseconds to seconds (a cold semantic search loads the model); the alert on
# p95 needs buckets around its threshold (deploy/monitoring/rules/hbi.rules.yml).
SEARCH_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class ApiMetrics:
    """One app's Prometheus registry: process, platform and GC metrics, and its HTTP requests."""

    def __init__(self) -> None:
        # Not the library's global registry: two apps in one process (tests) would register the
        # same names twice, and each app should count only its own requests.
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._requests = Counter(
            "hbi_http_requests_total",
            "HTTP requests answered, by route and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "hbi_http_request_duration_seconds",
            "HTTP request latency, by route.",
            ["path"],
            registry=self.registry,
        )
        self._search_latency = Histogram(
            "hbi_search_duration_seconds",
            "Time to answer a search in the API, by mode (hybrid, lexical, semantic).",
            ["mode"],
            buckets=SEARCH_BUCKETS_S,
            registry=self.registry,
        )

    def observe_search(self, mode: str, seconds: float) -> None:
        """Record how long one search took to answer."""
        self._search_latency.labels(mode=mode).observe(seconds)

    def register(self, collector: Collector) -> None:
        """Expose the metrics of another collector (the library's figures) too."""
        self.registry.register(collector)

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self._requests.labels(path=path, status=str(status)).inc()
        self._latency.labels(path=path).observe(seconds)

    def count_from(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Expose a counter kept elsewhere, read afresh at every scrape."""
        self.registry.register(_ReadCounter(name, documentation, read))

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """Return every metric and its content type, in the format the Accept header asks for."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class _ReadCounter(Collector):
    """A counter whose value another object owns (the query log's dropped searches)."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name = name
        self._documentation = documentation
        self._read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(self._name, self._documentation, value=self._read())


class MetricsMiddleware:
    """ASGI middleware that records each HTTP request under its route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Resolved before the call so requests refused by inner middleware (401) keep their route.
        path, _ = matched_route(scope)
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.observe(path, status, time.perf_counter() - started)


def matched_route(scope: Scope) -> tuple[str, dict]:
    """Return the template of the route a request matches (`/books/{book_id}`), not its URL,
    and the path parameters it matched.

    Raw URLs would give every book id its own time series; unknown paths share one label.
    """
    for route in scope["app"].router.routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", UNMATCHED), child.get("path_params", {})
    return UNMATCHED, {}
