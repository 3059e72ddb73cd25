"""Per-client rate limiting of the API: a token bucket per client, set by HBI_API_RATE_LIMIT.

`20/s burst 40` lets a client send 40 requests at once and then 20 a second; `600/m` is 10 a
second with bursts of 600. Unset, empty or `off`: no limit, since the right rate depends on how
many searches the machine answers and on whether clients share an address (behind a proxy or
Docker's port publishing, every client has the proxy's); the operator sets it.

What is limited: every route that reads the library (search, books, reader, /mcp, the OpenAPI
schema). Never limited: /health (load balancers poll it), /metrics (a refused scrape would read
as the API being down) and the web app's pages and static files (no library data, and a page
loads several at once).

A refused request gets 429 with Retry-After (whole seconds until the client's next token) and
the API's JSON error shape. Buckets live in memory, one per client, at most MAX_CLIENTS: a bucket
idle long enough to be full again is dropped (it would allow what a new one allows), and past
the cap the least recently used goes first.
"""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from hbi.api.page import is_web_request

RATE_LIMIT_ENV = "HBI_API_RATE_LIMIT"
EXEMPT_PATHS = frozenset({"/health", "/metrics"})
# About 200 bytes a bucket: the cap holds the limiter under a few MB whatever clients do.
MAX_CLIENTS = 10_000
_SYNTAX = re.compile(r"(?P<count>\d+)\s*/\s*(?P<unit>s|m)(?:\s+burst\s+(?P<burst>\d+))?", re.I)
_UNIT_SECONDS = {"s": 1, "m": 60}


class RateLimitConfigError(ValueError):
    """HBI_API_RATE_LIMIT is not a rate limit HBI understands."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket's shape: tokens added per second and how many it holds (the burst)."""

    per_second: float
    burst: int
    text: str

    @classmethod
    def parse(cls, text: str) -> RateLimit | None:
        """Return the limit `<n>/s` or `<n>/m`, optionally `burst <b>`, says; None for off.

        The burst defaults to n: `60/m` allows 60 requests at once, then one a second.
        """
        stripped = text.strip()
        if stripped.lower() in ("", "off"):
            return None
        match = _SYNTAX.fullmatch(stripped)
        count = int(match["count"]) if match else 0
        burst = int(match["burst"]) if match and match["burst"] else count
        if not match or count < 1 or burst < 1:
            raise RateLimitConfigError(
                f"{RATE_LIMIT_ENV}={text!r} is not a rate limit: expected '<requests>/s' or "
                "'<requests>/m', each at least 1, optionally followed by 'burst <requests>' "
                "(e.g. '20/s burst 40'), or 'off'"
            )
        return cls(count / _UNIT_SECONDS[match["unit"].lower()], burst, stripped)

    @classmethod
    def from_env(cls, environ: dict[str, str]) -> RateLimit | None:
        """Return the limit HBI_API_RATE_LIMIT sets, None when it is unset or off."""
        return cls.parse(environ.get(RATE_LIMIT_ENV, ""))


class TokenBuckets:
    """One token bucket per client, in least-recently-used order, at most max_clients of them."""

    def __init__(
        self,
        limit: RateLimit,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.max_clients = max_clients
        self._clock = clock
        # client -> (tokens, when they were counted)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._refill_s = limit.burst / limit.per_second

    def take(self, client: str) -> float:
        """Take a token from client's bucket: 0 if it had one, else the seconds until it will."""
        now = self._clock()
        tokens, counted = self._buckets.pop(client, (self.limit.burst, now))
        tokens = min(self.limit.burst, tokens + (now - counted) * self.limit.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.limit.per_second
        self._buckets[client] = (tokens, now)
        self._forget_idle(now)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            oldest, (_, counted) = next(iter(self._buckets.items()))
            if now - counted < self._refill_s and len(self._buckets) <= self.max_clients:
                return
            del self._buckets[oldest]


class RateLimitMiddleware:
    """Refuses (429) a client's requests beyond its limit; client_of names a request's client."""

    def __init__(
        self,
        app: ASGIApp,
        limit: RateLimit,
        client_of: Callable[[Scope], str],
        buckets: TokenBuckets | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self._client_of = client_of
        self.buckets = buckets or TokenBuckets(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _exempt(scope):
            wait = self.buckets.take(self._client_of(scope))
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                response = JSONResponse(
                    {"detail": f"rate limit {self.limit.text} exceeded; retry in {retry_after} s"},
                    status_code=429,
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _exempt(scope: Scope) -> bool:
    return scope["path"] in EXEMPT_PATHS or is_web_request(scope)


def client_address(scope: Scope) -> str:
    """Return the address a request comes from (uvicorn's, after trusted X-Forwarded-For)."""
    client = scope.get("client")
    return client[0] if client else "unknown"
