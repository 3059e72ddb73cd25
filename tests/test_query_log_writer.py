"""The API's background query log writer (hbi/api/query_log_writer.py), on a real DuckDB file."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from hbi.api.query_log_writer import QueryLogWriter
from hbi.search.query_log import QueryLog, QueryLogEntry


def _entry(query: str) -> QueryLogEntry:
    return QueryLogEntry(datetime.now(UTC), query, "hybrid", {}, 10, 0, 1.0, 1, "b", 1, "api")


class _BlockedLog:
    """A query log whose appends wait for `release`, then fail as a busy DuckDB file does."""

    path = Path("blocked.duckdb")

    def __init__(self) -> None:
        self.release = threading.Event()

    def append_many(self, entries: list[QueryLogEntry]) -> bool:
        self.release.wait()
        raise duckdb.IOException("file is locked")


def test_submitted_entries_are_written_in_order(tmp_path: Path) -> None:
    query_log = QueryLog(tmp_path / "queries.duckdb")
    writer = QueryLogWriter(query_log)
    for query in ("first", "second", "third"):
        assert writer.submit(_entry(query))
    writer.close()
    assert [e["query"] for e in reversed(query_log.entries())] == ["first", "second", "third"]
    assert writer.dropped == 0


def test_a_full_queue_drops_and_counts_instead_of_waiting() -> None:
    blocked = _BlockedLog()
    writer = QueryLogWriter(blocked, capacity=1)
    submitted = [writer.submit(_entry(str(i))) for i in range(5)]
    assert submitted.count(False) >= 3 and writer.dropped == submitted.count(False)
    blocked.release.set()
    writer.close()


def test_a_failed_append_is_counted_and_the_writer_keeps_going() -> None:
    blocked = _BlockedLog()
    blocked.release.set()
    writer = QueryLogWriter(blocked)
    writer.submit(_entry("a"))
    writer.submit(_entry("b"))
    writer.close()
    assert writer.dropped == 2


class _CountingLog(QueryLog):
    """A real query log that counts its connections."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes = 0

    def append_many(self, entries: list[QueryLogEntry]) -> bool:
        self.writes += 1
        return super().append_many(entries)


def test_entries_arriving_together_are_written_in_one_connection(tmp_path: Path) -> None:
    query_log = _CountingLog(tmp_path / "queries.duckdb")
    writer = QueryLogWriter(query_log)
    for i in range(200):
        writer.submit(_entry(f"q{i}"))
    writer.close()
    assert len(query_log.entries()) == 200
    assert query_log.writes <= 2
