"""Request counts and latencies per route, in Prometheus text format, with no client library."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Prometheus' default latency buckets, in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RequestMetrics:
    """Counts requests per path and status, and observes their latency per path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        with self._lock:
            self._requests[(path, str(status))] += 1
            buckets = self._buckets.setdefault(path, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            self._sums[path] += seconds
            self._counts[path] += 1

    def render(self) -> str:
        """Return every metric in the Prometheus text exposition format (version 0.0.4)."""
        lines = [
            "# HELP hbi_http_requests_total HTTP requests answered, by route and status.",
            "# TYPE hbi_http_requests_total counter",
        ]
        with self._lock:
            for (path, status), count in sorted(self._requests.items()):
                lines.append(
                    f'hbi_http_requests_total{{path="{_label(path)}",status="{status}"}} {count}'
                )
            lines += [
                "# HELP hbi_http_request_duration_seconds HTTP request latency, by route.",
                "# TYPE hbi_http_request_duration_seconds histogram",
            ]
            for path in sorted(self._buckets):
                name = "hbi_http_request_duration_seconds"
                label = f'path="{_label(path)}"'
                for bound, count in zip(BUCKETS, self._buckets[path], strict=True):
                    lines.append(f'{name}_bucket{{{label},le="{bound}"}} {count}')
                lines.append(f'{name}_bucket{{{label},le="+Inf"}} {self._counts[path]}')
                lines.append(f"{name}_sum{{{label}}} {self._sums[path]:.6f}")
                lines.append(f"{name}_count{{{label}}} {self._counts[path]}")
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """ASGI middleware that records each HTTP request under its route template."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Resolved before the call so requests refused by inner middleware (401) keep their route.
        path = route_template(scope)
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


def route_template(scope: Scope) -> str:
    """Return the template of the route a request matches (`/books/{book_id}`), not its URL.

    Raw URLs would give every book id its own time series; unknown paths share one label.
    """
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path", UNMATCHED)
    return UNMATCHED
