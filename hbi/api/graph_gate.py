"""How the API reads Neo4j: on a few threads of its own, behind a breaker that fails fast.

Routes that need the ToC graph (`/books/{id}/toc`, a search with `section=`) run here, so a slow
or stopped Neo4j can hold at most GRAPH_THREADS threads and never the pool that serves searches
without a section. While the breaker is open they are refused at once (503 with Retry-After).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from neo4j.exceptions import (
    ConnectionPoolError,
    DatabaseUnavailable,
    ServiceUnavailable,
    SessionExpired,
)

from hbi import config

GRAPH_THREADS = 4
# What a read raises when it could not reach the server; any other error means Neo4j answered.
UNREACHABLE = (
    ServiceUnavailable,
    SessionExpired,
    ConnectionPoolError,
    DatabaseUnavailable,
    OSError,
)

T = TypeVar("T")


class GraphUnavailableError(Exception):
    """Neo4j cannot be reached; `retry_after_s` says when the API will try it again."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("the ToC graph (Neo4j) is unavailable")
        self.retry_after_s = retry_after_s


class Breaker:
    """Opens after `failures` calls in a row could not reach the server; then refuses calls for
    `open_s` seconds, after which one trial call decides whether it closes or opens again.

    Written here because pybreaker holds its lock for the whole call, which would serialise
    every read of the graph.
    """

    def __init__(
        self,
        failures: int = config.NEO4J_BREAKER_FAILURES,
        open_s: float = config.NEO4J_BREAKER_OPEN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.open_s = open_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failed = 0
        self._opened_at: float | None = None
        self._trial_running = False

    def check(self) -> None:
        """Raise GraphUnavailableError while the breaker is open; otherwise return."""
        with self._lock:
            self._raise_if_open()

    def admit(self) -> None:
        """Like check, and once the breaker's wait is over, make this call its one trial.

        The caller must then report the call: succeeded, failed or released.
        """
        with self._lock:
            self._raise_if_open()
            if self._opened_at is not None:
                self._trial_running = True

    def _raise_if_open(self) -> None:
        if self._opened_at is None:
            return
        remaining = self._opened_at + self.open_s - self._clock()
        if remaining > 0 or self._trial_running:
            raise GraphUnavailableError(max(1, math.ceil(remaining)))

    def succeeded(self) -> None:
        """Record a call that reached the server: the breaker closes."""
        with self._lock:
            self._failed = 0
            self._opened_at = None
            self._trial_running = False

    def failed(self) -> None:
        """Record a call that could not reach the server."""
        with self._lock:
            self._failed += 1
            if self._trial_running or self._failed >= self.failures:
                self._opened_at = self._clock()
            self._trial_running = False

    def released(self) -> None:
        """Record a call that ended without saying whether the server answers (a trial ends)."""
        with self._lock:
            self._trial_running = False

    @property
    def retry_after_s(self) -> int:
        """Return the seconds a refused client should wait before it asks again."""
        return math.ceil(self.open_s)


class GraphGate:
    """Runs the API's Neo4j-bound calls on GRAPH_THREADS threads behind one Breaker."""

    def __init__(self, threads: int = GRAPH_THREADS, breaker: Breaker | None = None) -> None:
        self.breaker = breaker or Breaker()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="hbi-graph")

    async def call(self, function: Callable[..., T], *args: object) -> T:
        """Return function(*args), run on the graph's threads (GraphUnavailableError: Neo4j down).

        The breaker is asked before queueing and again on the thread, so requests queued behind
        failing ones are refused at once when it opens; only the thread's call can be its trial.
        """
        self.breaker.check()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._guarded, function, args)

    def _guarded(self, function: Callable[..., T], args: tuple) -> T:
        self.breaker.admit()
        try:
            result = function(*args)
        except UNREACHABLE as exc:
            self.breaker.failed()
            raise GraphUnavailableError(self.breaker.retry_after_s) from exc
        except BaseException:
            self.breaker.released()
            raise
        self.breaker.succeeded()
        return result

    def close(self) -> None:
        """Stop the threads; calls still queued are cancelled."""
        self._pool.shutdown(wait=False, cancel_futures=True)
