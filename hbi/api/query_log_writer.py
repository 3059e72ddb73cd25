"""The API's query log: each search's entry is appended by one background thread, in order.

Appending to the DuckDB log opens the file each time (tens of milliseconds: a third of an idle
search's latency when done in the request), and DuckDB refuses a second connection to the same
file from another thread of the process while one is open (`ResourceInUseException`), which
failed concurrent searches with HTTP 500. So request threads never touch the file: they put
the entry on a bounded queue that one thread drains into `QueryLog`, in batches: it waits up to
`BATCH_WINDOW_S` after an entry for more and writes them all in one connection. One connection
per entry cost half a core under 20 searches a second. When the queue is full —
the log slower than the searches for minutes — entries are dropped and counted, as `QueryLog`
drops one when the file stays busy: a search never fails or waits because of its log.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import duckdb

from hbi.search.query_log import QueryLog, QueryLogEntry

DEFAULT_CAPACITY = 10_000
BATCH_WINDOW_S = 1.0
BATCH_MAX = 1_000

log = logging.getLogger(__name__)


class QueryLogWriter:
    """Appends submitted entries to a QueryLog from one daemon thread; never blocks a caller."""

    def __init__(self, query_log: QueryLog, capacity: int = DEFAULT_CAPACITY) -> None:
        self.query_log = query_log
        self._queue: queue.Queue[QueryLogEntry | None] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self._dropped = 0
        self._thread = threading.Thread(target=self._drain, name="hbi-query-log", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Return how many entries were not written (queue full, or the file stayed busy)."""
        with self._lock:
            return self._dropped

    def submit(self, entry: QueryLogEntry) -> bool:
        """Queue entry for the log; return False (and count it dropped) if the queue is full."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._count_dropped()
            return False
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (waiting at most timeout_s), then stop the thread."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def _drain(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + BATCH_WINDOW_S
            while len(batch) < BATCH_MAX:
                try:
                    entry = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if entry is None:
                    stopping = True
                    break
                batch.append(entry)
            self._write(batch)

    def _write(self, batch: list[QueryLogEntry]) -> None:
        try:
            written = self.query_log.append_many(batch)
        except duckdb.Error as exc:  # the thread must outlive any one bad write
            log.warning(
                "query log %s: %d entries not written: %s", self.query_log.path, len(batch), exc
            )
            written = False
        if not written:
            self._count_dropped(len(batch))

    def _count_dropped(self, count: int = 1) -> None:
        with self._lock:
            self._dropped += count
